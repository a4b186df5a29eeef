"""Cluster settings of the sandbox: `GET|PUT /_cluster/settings` with OpenSearch's shapes,
and typed reads for the ML handlers (`ctx.settings.get(key)`).

The server creates one `ClusterSettings` per sandbox from the profile's defaults (§9, §3.1)
and registers the routes with `register(router)`. Values are kept as OpenSearch keeps them,
as strings (lists of strings), so clients see `"true"` rather than `true` just as on a real
cluster; `get()` converts back to the default's type. Only `plugins.ml_commons.*` keys are
checked against the profile; other keys are stored without validation.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.sandbox.http import ApiError, Context, Request, Response, Router

ML_PREFIX = "plugins.ml_commons."
_TRUSTED = ML_PREFIX + "trusted_connector_endpoints_regex"
_FINAL = frozenset({ML_PREFIX + "connector.restricted_ip_patterns"})
"""§9: Final settings may only be set in opensearch.yml."""
_STATIC = frozenset({ML_PREFIX + "multi_tenancy_enabled"})
"""§9: static (node-scope, not dynamic) settings."""
_SCOPES = ("persistent", "transient")
_MAX_REGEX = 256
# A group that itself carries a quantifier and contains one, e.g. `(a+)+` or `(.*)*`, or a
# backreference: what the 3.7 validator calls ReDoS-prone (§3.1).
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[*+}](?:[^()\\]|\\.)*\)[*+{]")
_BACKREFERENCE = re.compile(r"\\[1-9]|\\k<")


class ClusterSettings:
    """Persistent and transient settings over the profile's defaults; thread-safe."""

    def __init__(
        self,
        defaults: Mapping[str, Any],
        *,
        validate_endpoint_regex: bool = False,
    ) -> None:
        self._defaults = {key: to_setting(value) for key, value in defaults.items()}
        self._typed_defaults = dict(defaults)
        self._validate_regex = validate_endpoint_regex
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
        if not key.startswith(ML_PREFIX) or (value is None and key.endswith("*")):
            return
        if key not in self._defaults and key not in _FINAL:
            raise _illegal(f"{scope} setting [{key}], not recognized")
        if key in _FINAL:
            raise _illegal(f"final {scope} setting [{key}], not updateable")
        if key in _STATIC:
            raise _illegal(f"{scope} setting [{key}], not dynamically updateable")
        if value is not None:
            _check_type(key, value, self._typed_defaults[key])
            if key == _TRUSTED and self._validate_regex:
                for pattern in value:
                    check_endpoint_regex(str(pattern))


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
    if isinstance(default, bool):
        return stored == "true"
    if isinstance(default, int):
        return int(stored)
    if isinstance(default, float):
        return float(stored)
    return stored


def _check_type(key: str, value: Any, default: Any) -> None:
    if isinstance(default, list):
        if not isinstance(value, list):
            raise _illegal(f"Failed to parse value [{value}] for setting [{key}]: expected a list")
    elif isinstance(default, bool):
        text = to_setting(value)
        if text not in ("true", "false"):
            raise _illegal(f"Failed to parse value [{text}] as only [true] or [false] are allowed.")
    elif isinstance(default, int | float):
        try:
            (float if isinstance(default, float) else int)(to_setting(value))
        except ValueError:
            raise _illegal(f"Failed to parse value [{value}] for setting [{key}]") from None


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
    applied = ctx.settings.put(body)
    flat = request.flag("flat_settings")
    answer = {scope: _shape(applied[scope], flat=flat) for scope in _SCOPES}
    return Response(200, {"acknowledged": True, **answer})
