"""Connector templates: parameter stringification, `${parameters.*}` and `${credential.*}`.

Connector handlers call `stringify_parameters` when storing parameters (reference §2.2/§2.7);
predicting calls `merge_parameters`, `render` and `leftover_placeholders` to build the outbound
request (§8.2), and url checks call `render` with connector parameters only (§3.1). Pure
functions over strings and dicts: no store, no network, no error envelopes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\$\{parameters\.([^}]+?)\}")
_QUOTED_NULL = re.compile(r'"\$\{parameters\.([^}:]+?):-null\}"')
_CREDENTIAL = re.compile(r"\$\{credential\.([^}]+?)\}")


def stringify(value: Any) -> str:
    """A parameter value as the server stores it: strings verbatim, the rest compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def stringify_parameters(parameters: Mapping[str, Any] | None) -> dict[str, str]:
    """Every parameter value stringified (§2.2, 2.10+ `StringUtils.getParameterMap`)."""
    return {key: stringify(value) for key, value in (parameters or {}).items()}


def _is_json_container(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


def escape(text: str) -> str:
    """`text` escaped for insertion inside a JSON string literal (quotes, backslashes, controls)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def request_parameters(parameters: Mapping[str, Any] | None) -> dict[str, str]:
    """Predict-request parameters: stringified, plain strings JSON-escaped unless listed in
    `no_escape_params` (§8.2 rule 1); JSON objects and arrays are inserted raw."""
    params = dict(parameters or {})
    no_escape = {name.strip() for name in stringify(params.get("no_escape_params", "")).split(",")}
    result: dict[str, str] = {}
    for key, value in params.items():
        text = stringify(value)
        needs_escape = isinstance(value, str) and not _is_json_container(value)
        result[key] = escape(text) if needs_escape and key not in no_escape else text
    return result


def merge_parameters(connector: Mapping[str, str], request: Mapping[str, str]) -> dict[str, str]:
    """Connector parameters overlaid by request parameters (the request wins)."""
    return {**connector, **request}


_MAX_NESTING = 10
"""Passes of substitution: a value may itself hold placeholders (Apache `StringSubstitutor`
substitutes recursively, e.g. the Comprehend blueprint's `api` parameter)."""


def render(template: str, parameters: Mapping[str, str]) -> str:
    """`template` with `${parameters.x}`, `${parameters.x:-default}`, `"${parameters.x:-null}"`
    and `${parameters.x.toString()}` substituted, recursively through values that hold
    placeholders themselves; unknown placeholders are left as they are."""
    rendered = _render_once(template, parameters)
    for _ in range(_MAX_NESTING):
        again = _render_once(rendered, parameters)
        if again == rendered:
            break
        rendered = again
    return rendered


def _render_once(template: str, parameters: Mapping[str, str]) -> str:
    template = _QUOTED_NULL.sub(
        lambda m: f'"{parameters[m.group(1)]}"' if m.group(1) in parameters else "null",
        template,
    )
    return _PLACEHOLDER.sub(lambda m: _substitute(m, parameters), template)


def _substitute(match: re.Match[str], parameters: Mapping[str, str]) -> str:
    expression = match.group(1)
    name, has_default, default = expression.partition(":-")
    if name.endswith(".toString()"):
        base = name.removesuffix(".toString()")
        if base in parameters:
            return escape(parameters[base])
    if name in parameters:
        return parameters[name]
    return default if has_default else match.group(0)


def leftover_placeholders(text: str) -> list[str]:
    """Names of `${parameters.*}` placeholders still present after rendering, in order."""
    seen: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(text):
        seen.setdefault(match.group(1), None)
    return list(seen)


def render_headers(headers: Mapping[str, str], *, credential: Mapping[str, str]) -> dict[str, str]:
    """Action headers with `${credential.*}` filled from the decrypted credential (§8.2 rule 5).
    Unknown credential names stay literal, as the Java substitutor leaves them."""
    return {
        name: _CREDENTIAL.sub(lambda m: credential.get(m.group(1), m.group(0)), str(value))
        for name, value in headers.items()
    }


def is_json_payload(text: str) -> bool:
    """Whether `text` is JSON or NDJSON (every non-empty line JSON), §8.2 rule 7."""
    try:
        json.loads(text)
    except ValueError:
        lines = [line for line in text.splitlines() if line.strip()]
        return bool(lines) and all(_is_json(line) for line in lines)
    return True


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
