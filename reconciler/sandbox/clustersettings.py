"""Cluster settings of the sandbox: `GET|PUT /_cluster/settings` with OpenSearch's shapes,
and typed reads for the ML handlers (`ctx.settings.get(key)`).

The server creates one `ClusterSettings` per sandbox from the settings the profile's release
registers (§9, §3.1; the table in `ml/settings.py`) and registers the routes with
`register(router)`. Values are kept as OpenSearch keeps them, as strings (lists of strings),
so clients see `"true"` rather than `true` just as on a real cluster; `get()` converts back to
the setting's type. A PUT is checked whole before anything is applied, with the texts of
OpenSearch core (`AbstractScopedSettings.updateSettings` for unknown, final and static keys,
`Setting` for values and ranges). Only `plugins.ml_commons.*` keys are checked; other keys
are stored without validation. This module knows OpenSearch's settings machinery, not any ML
rule: it must not import `ml/`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from reconciler.sandbox import managed
from reconciler.sandbox.http import ApiError, Context, Request, Response, Router

ML_PREFIX = "plugins.ml_commons."
_SCOPES = ("persistent", "transient")
_BYTE_SIZE = re.compile(r"-?\d+(?:\.\d+)?\s*(?:b|k|kb|m|mb|g|gb|t|tb|p|pb)", re.IGNORECASE)
_MAX_REGEX = 256
# A group that itself carries a quantifier and contains one, e.g. `(a+)+` or `(.*)*`, or a
# backreference: what the 3.7 validator calls ReDoS-prone (§3.1).
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[*+}](?:[^()\\]|\\.)*\)[*+{]")
_BACKREFERENCE = re.compile(r"\\[1-9]|\\k<")


class RegisteredSetting(Protocol):
    """What OpenSearch knows of one registered setting (`ml/settings.py` rows fit)."""

    @property
    def kind(self) -> str:
        """`boolean`, `integer`, `long`, `float`, `string`, `list` or `byte_size`."""

    @property
    def default(self) -> Any: ...

    @property
    def minimum(self) -> float | None: ...

    @property
    def maximum(self) -> float | None: ...

    @property
    def scope(self) -> str:
        """`dynamic`, `static` or `final`."""

    @property
    def regex_checked(self) -> bool:
        """Whether each pattern of the list goes through the 3.7 regex validator (§3.1)."""


class ClusterSettings:
    """Persistent and transient settings over the registered defaults; thread-safe."""

    def __init__(self, registered: Mapping[str, RegisteredSetting]) -> None:
        self._registered = dict(registered)
        self._defaults = {key: to_setting(row.default) for key, row in registered.items()}
        self._typed_defaults = {key: row.default for key, row in registered.items()}
        self._scopes: dict[str, dict[str, Any]] = {scope: {} for scope in _SCOPES}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every change (the server uses it to schedule a save)."""
        self._listeners.append(listener)

    def get(self, flat_key: str) -> Any:
        """The effective value (transient > persistent > default), typed like the default."""
        with self._lock:
            for scope in ("transient", "persistent"):
                if flat_key in self._scopes[scope]:
                    return _typed(self._scopes[scope][flat_key], self._typed_defaults.get(flat_key))
        return self._typed_defaults.get(flat_key)

    def explicit(self, scope: str) -> dict[str, Any]:
        """The explicitly set values of one scope, flat, as OpenSearch stores them."""
        with self._lock:
            return dict(self._scopes[scope])

    def put(self, body: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Apply a PUT body atomically; returns the flat changes per scope, or ApiError 400."""
        changes = {scope: _flatten(body.get(scope) or {}) for scope in _SCOPES}
        for scope, values in changes.items():
            for key, value in values.items():
                self._validate(scope, key, value)
        with self._lock:
            applied = {scope: self._apply(scope, values) for scope, values in changes.items()}
        for listener in self._listeners:
            listener()
        return applied

    def render(self, *, flat: bool, include_defaults: bool) -> dict[str, Any]:
        """The `GET /_cluster/settings` body."""
        with self._lock:
            body = {scope: _shape(self._scopes[scope], flat=flat) for scope in _SCOPES}
            if include_defaults:
                body["defaults"] = _shape(self._defaults, flat=flat)
        return body

    def dump(self) -> dict[str, Any]:
        """What survives a restart: only persistent settings, as on a real cluster."""
        return {"persistent": self.explicit("persistent")}

    def load(self, data: Mapping[str, Any]) -> None:
        with self._lock:
            self._scopes["persistent"] = dict(data.get("persistent", {}))

    def _apply(self, scope: str, values: Mapping[str, Any]) -> dict[str, Any]:
        target = self._scopes[scope]
        applied: dict[str, Any] = {}
        for key, value in values.items():
            if value is None:
                for existing in [k for k in target if _covers(key, k)]:
                    del target[existing]
                continue
            target[key] = applied[key] = to_setting(value)
        return applied

    def _validate(self, scope: str, key: str, value: Any) -> None:
        # The order of AbstractScopedSettings.updateSettings: unknown, then final, then not
        # dynamic (a `null` reset of a final or static key is refused the same way).
        if not key.startswith(ML_PREFIX) or (value is None and key.endswith("*")):
            return
        row = self._registered.get(key)
        if row is None:
            raise _illegal(f"{scope} setting [{key}], not recognized")
        if row.scope == "final":
            raise _illegal(f"final {scope} setting [{key}], not updateable")
        if row.scope != "dynamic":
            raise _illegal(f"{scope} setting [{key}], not dynamically updateable")
        if value is not None:
            check_value(key, value, row)


def check_endpoint_regex(pattern: str) -> None:
    """The 3.7+ validator of `trusted_connector_endpoints_regex` (§3.1)."""
    if _NESTED_QUANTIFIER.search(pattern) or _BACKREFERENCE.search(pattern):
        raise _illegal(
            "Regex pattern contains nested quantifiers or backreferences that may cause ReDoS: "
            + pattern
        )
    if len(pattern) > _MAX_REGEX:
        raise _illegal(f"Regex pattern too long (max {_MAX_REGEX} chars): {pattern}")
    try:
        re.compile(pattern)
    except re.error:
        raise _illegal(f"Invalid regex pattern: {pattern}") from None


def to_setting(value: Any) -> Any:
    """A value as OpenSearch stores settings: strings, or lists of strings."""
    if isinstance(value, list | tuple):
        return [to_setting(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _typed(stored: Any, default: Any) -> Any:
    if isinstance(stored, list) or default is None:
        return stored
    if isinstance(default, bool):
        return stored == "true"
    if isinstance(default, int):
        return int(stored)
    if isinstance(default, float):
        return float(stored)
    return stored


def check_value(key: str, value: Any, row: RegisteredSetting) -> None:
    """`Setting.get` on the new value: its type, its range, its validator (400 when wrong)."""
    if row.kind == "list":
        if not isinstance(value, list):
            raise _illegal(f"Failed to parse value [{value}] for setting [{key}]: expected a list")
        if row.regex_checked:
            for pattern in value:
                check_endpoint_regex(str(pattern))
        return
    text = to_setting(value)
    if row.kind == "boolean" and text not in ("true", "false"):
        # Booleans.parseBoolean
        raise _illegal(f"Failed to parse value [{text}] as only [true] or [false] are allowed.")
    if row.kind in ("integer", "long", "float"):
        _check_number(key, text, row)
    if row.kind == "byte_size" and not _BYTE_SIZE.fullmatch(text.strip()):
        # ByteSizeValue.parseBytesSizeValue, whose parse exception Setting.get rethrows.
        raise _illegal(
            f"failed to parse setting [{key}] with value [{text}] as a size in bytes: "
            "unit is missing or unrecognized"
        )


def _check_number(key: str, text: str, row: RegisteredSetting) -> None:
    # Setting.parseInt / parseLong / parseFloat: a NumberFormatException becomes "Failed to
    # parse value [v] for setting [k]", a value out of range names the bound (Java prints a
    # float bound as `1.0`).
    try:
        number: float = float(text) if row.kind == "float" else int(text)
    except ValueError:
        raise _illegal(f"Failed to parse value [{text}] for setting [{key}]") from None
    low, high = row.minimum, row.maximum
    if low is not None and number < low:
        raise _out_of_range(key, text, f">= {_bound(low, row.kind)}")
    if high is not None and number > high:
        raise _out_of_range(key, text, f"<= {_bound(high, row.kind)}")


def _bound(value: float, kind: str) -> str:
    return str(float(value)) if kind == "float" else str(int(value))


def _out_of_range(key: str, text: str, rule: str) -> ApiError:
    return _illegal(f"Failed to parse value [{text}] for setting [{key}] must be {rule}")


def _covers(pattern: str, key: str) -> bool:
    # `null` on `plugins.ml_commons.*` resets every key under the prefix, as OpenSearch allows.
    return key == pattern or (pattern.endswith("*") and key.startswith(pattern[:-1]))


def _illegal(reason: str) -> ApiError:
    return ApiError(400, reason, error_type="illegal_argument_exception")


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _shape(values: Mapping[str, Any], *, flat: bool) -> dict[str, Any]:
    if flat:
        return dict(sorted(values.items()))
    nested: dict[str, Any] = {}
    for key, value in sorted(values.items()):
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            # A key that is both a value and a prefix (rare) keeps the value under "".
            node = child if isinstance(child, dict) else node.setdefault(part + ".", {})
        node[leaf] = value
    return nested


def register(router: Router) -> None:
    """Add `GET|PUT /_cluster/settings`."""
    router.add("GET", "/_cluster/settings", _get)
    router.add("PUT", "/_cluster/settings", _put)


def _get(ctx: Context, request: Request) -> Response:
    flat = request.flag("flat_settings")
    return Response(
        200, ctx.settings.render(flat=flat, include_defaults=request.flag("include_defaults"))
    )


def _put(ctx: Context, request: Request) -> Response:
    body = request.body
    if not isinstance(body, Mapping) or not any(body.get(s) for s in _SCOPES):
        raise ApiError(
            400,
            "Validation Failed: 1: no settings to update;",
            error_type="action_request_validation_exception",
        )
    if ctx.config.flavor == managed.AWS_MANAGED and managed.refused_keys(body):
        # A managed domain's request filter refuses the whole payload, before OpenSearch.
        return Response(managed.REFUSAL_STATUS, managed.refusal())
    applied = ctx.settings.put(body)
    flat = request.flag("flat_settings")
    answer = {scope: _shape(applied[scope], flat=flat) for scope in _SCOPES}
    return Response(200, {"acknowledged": True, **answer})
