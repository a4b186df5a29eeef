"""The Secret type: a string that refuses to be printed.

Used from the moment a secret reference is resolved to the moment a request body is
built. Every way Python turns an object into text (str, repr, format, f-strings, pickle,
JSON through pydantic) yields the redaction marker instead of the value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from typing import Any, NoReturn

REDACTED = "(sensitive)"
_MIN_SCRUB_LENGTH = 4
"""Shorter values are not scrubbed from text: they would mangle ordinary words."""

_known: set[str] = set()
_known_lock = threading.Lock()


class Secret:
    """A secret value; `reveal()` is the only way to read it."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, *, source: str = "") -> None:
        self._value = value
        self._source = source
        _remember(value)

    def reveal(self) -> str:
        """The plain value, for building a request body and nothing else."""
        return self._value

    @property
    def source(self) -> str:
        """Where the value came from (`env OPENAI_API_KEY`), safe to print."""
        return self._source

    def fingerprint(self, key: bytes) -> str:
        """HMAC-SHA256 of the value under `key`, hex; comparable, not reversible."""
        digest = hmac.new(key, self._value.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest}"

    def __str__(self) -> str:
        return REDACTED

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(("Secret", hashlib.sha256(self._value.encode("utf-8")).digest()))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __getstate__(self) -> Any:
        raise TypeError("a Secret cannot be serialized")


def _remember(value: str) -> None:
    """Teach `scrub` the value and the forms a server may echo it in.

    A credential travels inside a JSON request body, so an error that quotes the body
    quotes it JSON-escaped: `a"b` arrives as `a\\"b`, and non-ASCII may arrive as `\\u00fc`.
    """
    if len(value) < _MIN_SCRUB_LENGTH:
        return
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    with _known_lock:
        _known.update(forms)


def scrub(text: str) -> str:
    """Replace every secret value this process has seen with the redaction marker.

    The last line of defence for text osml did not build itself, such as a server error
    body that echoes a request. Longest values first, so a value containing another is
    replaced whole.
    """
    with _known_lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text
