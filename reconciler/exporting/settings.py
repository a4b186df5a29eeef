"""Export the cluster-settings kinds: TrustedEndpoints and AccessControl (§3.1, §9).

Only what was set and differs from the version's defaults is exported. Trusted endpoints:
a list that keeps every default pattern becomes `mode: merge` with the extra patterns;
one that dropped a default becomes `mode: exact` with the whole list (commented).
AccessControl: every explicitly set `plugins.ml_commons.*` setting whose value differs
from the version's default, typed as the manifest writes it. Static or final settings,
and keys this version does not register, cannot be managed and are listed as notes.

Called through the registry in `exporting`; pure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reconciler.exporting.documents import Context, Exported, commented, envelope
from reconciler.mlcommons.endpoints import SETTING_KEY, default_trusted_endpoints
from reconciler.mlcommons.settings import (
    PREFIX,
    Scope,
    Setting,
    SettingType,
    at_version,
    default_for,
    lookup,
)
from reconciler.resources import Kind, ResourceKey

FOLDER = "settings"
TRUSTED_NAME = "trusted-endpoints"
ACCESS_NAME = "ml-commons"
FLAGS = ("connector_access_control_enabled", "model_access_control_enabled")


class TrustedEndpointsExporter:
    """The trusted-endpoint list, when it was set to something else than the default."""

    kind = Kind.TRUSTED_ENDPOINTS

    def export(self, ctx: Context) -> list[Exported]:
        """Zero or one TrustedEndpoints document."""
        value = ctx.snapshot.explicit_settings.get(SETTING_KEY)
        if value is None:
            return []
        current = _as_list(value)
        defaults = list(default_trusted_endpoints(ctx.version))
        if current == defaults:
            return []
        extra = [p for p in current if p not in defaults]
        if all(p in current for p in defaults) and extra:
            spec = commented(
                {"mode": "merge", "patterns": extra},
                {"mode": f"the list also holds the defaults of {ctx.version.short}"},
            )
        else:
            spec = commented(
                {"mode": "exact", "patterns": current},
                {"mode": "inferred: the live list does not keep every default of the version"},
            )
        document = envelope(Kind.TRUSTED_ENDPOINTS, TRUSTED_NAME)
        document["spec"] = spec
        key = ResourceKey(Kind.TRUSTED_ENDPOINTS, TRUSTED_NAME)
        return [Exported(key, document, f"{SETTING_KEY}", FOLDER)]


class AccessControlExporter:
    """The `plugins.ml_commons.*` settings set to something else than their default."""

    kind = Kind.ACCESS_CONTROL

    def export(self, ctx: Context) -> list[Exported]:
        """Zero or one AccessControl document."""
        flags: dict[str, Any] = {}
        others: dict[str, Any] = {}
        for full_key, raw in sorted(ctx.snapshot.explicit_settings.items()):
            if not full_key.startswith(PREFIX) or full_key == SETTING_KEY:
                continue
            setting = self._manageable(full_key, ctx)
            if setting is None:
                continue
            value = typed(setting, raw)
            if _same(value, default_for(setting, version=ctx.version)):
                continue
            (flags if setting.key in FLAGS else others)[setting.key] = value
        if not flags and not others:
            return []
        spec: dict[str, Any] = {flag: flags[flag] for flag in FLAGS if flag in flags}
        if others:
            spec["settings"] = others
        document = envelope(Kind.ACCESS_CONTROL, ACCESS_NAME)
        document["spec"] = commented(spec, {})
        key = ResourceKey(Kind.ACCESS_CONTROL, ACCESS_NAME)
        return [Exported(key, document, "plugins.ml_commons.* settings that differ from "
                         f"the defaults of {ctx.version.short}", FOLDER)]  # fmt: skip

    def _manageable(self, key: str, ctx: Context) -> Setting | None:
        setting = lookup(key)
        if setting is None or not setting.exists_in(ctx.version):
            ctx.notes.append(f"{key}: not a setting {ctx.version.short} registers; not exported")
            return None
        if setting.scope is not Scope.DYNAMIC:
            ctx.notes.append(f"{key}: {setting.scope.value}, set in opensearch.yml; not exported")
            return None
        return at_version(setting, version=ctx.version)


def typed(setting: Setting, raw: Any) -> Any:
    """A cluster-settings value (often a string) in the setting's own type."""
    text = raw if isinstance(raw, str) else None
    try:
        if setting.type is SettingType.BOOL and text is not None:
            return text.lower() == "true"
        if setting.type is SettingType.INT and text is not None:
            return int(text)
        if setting.type is SettingType.FLOAT and text is not None:
            return float(text)
    except ValueError:
        return raw
    if setting.type is SettingType.LIST:
        return _as_list(raw)
    return raw


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.startswith("[") else [value]
        except ValueError:
            value = [value]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [str(item) for item in value]
    return [str(value)]


def _same(value: Any, default: Any) -> bool:
    return bool(_comparable(value) == _comparable(default))


def _comparable(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_comparable(item) for item in value]
    return None if value is None else str(value).lower()
