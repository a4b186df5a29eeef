"""One outbound call as the emulators see it, and the answer they give.

`Call` is what the sandbox's predict path would have put on the wire (method, URL, headers,
body bytes, after signing); `Reply` is what the provider would have answered. The provider
modules parse the body with `Call.json()` and build answers with `reply()`; nothing here
knows any provider. Data and small helpers only: no network, no store.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any


class MalformedError(ValueError):
    """The request body is not the JSON the provider expects; the text says why."""


@dataclasses.dataclass(frozen=True)
class Call:
    """One request to a provider."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def host(self) -> str:
        return (urllib.parse.urlsplit(self.url).hostname or "").lower()

    @property
    def port(self) -> int | None:
        return urllib.parse.urlsplit(self.url).port

    @property
    def path(self) -> str:
        return urllib.parse.unquote(urllib.parse.urlsplit(self.url).path) or "/"

    @property
    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.url).query))

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def bearer(self) -> str | None:
        """The token of `Authorization: Bearer <token>`, when one is given and non-empty."""
        value = (self.header("authorization") or "").strip()
        scheme, _, token = value.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; MalformedError when it is not one."""
        try:
            data = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedError(str(exc)) from None
        if not isinstance(data, dict):
            raise MalformedError(f"expected a JSON object, got {type(data).__name__}")
        return data

    def any_json(self) -> Any:
        """The body as any JSON value; MalformedError when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedError(str(exc)) from None


@dataclasses.dataclass(frozen=True)
class Reply:
    """A provider's answer."""

    status: int
    body: bytes
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed (tests read answers this way)."""
        return json.loads(self.body)


def reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON answer."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    return Reply(status, data, {"Content-Type": "application/json", **(headers or {})})


def texts(value: Any, *, field: str) -> list[str]:
    """A string or a list of strings from a request field; MalformedError otherwise."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise MalformedError(f"'{field}' must be a string or a non-empty array of strings")


def require(body: Mapping[str, Any], field: str) -> Any:
    """A field that must be present."""
    if field not in body or body[field] is None:
        raise MalformedError(f"missing required field '{field}'")
    return body[field]
