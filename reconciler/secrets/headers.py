"""Credential-like connector headers: which names carry a credential, and finding them.

ML Commons stores a connector's `headers` in clear and returns them to anyone who can read
the connector; only `credential` is encrypted (reference §2.7). A header such as
`Authorization: "Bearer ${credential.openAI_key}"` is safe, because the server fills the
credential in at predict time; `Authorization: "Bearer sk-..."` is a literal credential.
The checks warn of such literals, the resolver turns them into Secrets, the reconcile
cycle puts secret markers in their place in a plan, and every view hides them.
This module decides and walks; it resolves, prints and stores nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-amz-security-token",
        "x-goog-api-key",
        "ocp-apim-subscription-key",
        "private-token",
    }
)
"""Header names (lower case) that carry a credential by convention."""
_CREDENTIAL_WORDS = (
    "authorization", "token", "secret", "password", "passwd", "api-key", "api_key", "apikey",
)  # fmt: skip
"""Words that make any other header name credential-like (`x-service-token`)."""
_PLACEHOLDER = re.compile(r"\$\{")
_HEADER_PATH = re.compile(r"(?:^|\.)headers\.([^.\[\]]+)$")

Replace = Callable[[str, str, str], Any]
"""(path, header name, literal value) -> what to put in its place."""


def is_credential_header(name: str) -> bool:
    """Whether a header of this name carries a credential (case-insensitive)."""
    lowered = name.strip().lower()
    return lowered in CREDENTIAL_HEADERS or any(word in lowered for word in _CREDENTIAL_WORDS)


def is_literal_credential(name: str, value: Any) -> bool:
    """A credential-like header whose value is written out, not a `${credential.*}` (or
    any other) placeholder the server fills in."""
    return (
        isinstance(value, str)
        and bool(value.strip())
        and is_credential_header(name)
        and _PLACEHOLDER.search(value) is None
    )


def replace_literal_headers(value: Any, replace: Replace, *, path: str = "") -> Any:
    """A copy of `value` with every literal credential header value replaced.

    A header is a string under a mapping reached through a key `headers` (a connector
    action's, an MCP connector's, an inline connector's, at any depth). `path` is where
    `value` sits, in the form the plan's bodies use (`actions[0].headers.Authorization`),
    so a value that is itself one header (a field change of that path) is found too.
    """
    return _walk(value, path, header=_header_of(path), replace=replace)


def has_literal_headers(value: Any, *, path: str = "") -> bool:
    """Whether `replace_literal_headers(value, ..., path=path)` would replace anything:
    the same walk without building paths or copies (most bodies have no header at all)."""
    header = _header_of(path)
    if header is not None:
        return is_literal_credential(header, value) or _has_literal(value)
    return _has_literal(value, in_headers=path == "headers" or path.endswith(".headers"))


def _has_literal(value: Any, *, in_headers: bool = False) -> bool:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if in_headers and is_literal_credential(str(key), item):
                return True
            if isinstance(item, (Mapping, list)) and _has_literal(
                item, in_headers=key == "headers"
            ):
                return True
        return False
    if isinstance(value, list):
        return any(isinstance(item, (Mapping, list)) and _has_literal(item) for item in value)
    return False


def _walk(value: Any, path: str, *, header: str | None, replace: Replace) -> Any:
    if header is not None and is_literal_credential(header, value):
        return replace(path, header, value)
    if isinstance(value, Mapping):
        in_headers = path == "headers" or path.endswith(".headers")
        return {
            key: _walk(
                item,
                f"{path}.{key}" if path else str(key),
                header=str(key) if in_headers else None,
                replace=replace,
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            _walk(item, f"{path}[{index}]", header=None, replace=replace)
            for index, item in enumerate(value)
        ]
    return value


def _header_of(path: str) -> str | None:
    match = _HEADER_PATH.search(path)
    return match.group(1) if match else None
