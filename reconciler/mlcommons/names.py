"""The 3.1+ safe-text rule for names and descriptions, with the server's own messages.

Reference §2.5, §5.2, §6.2: from 3.1 the server refuses names and descriptions outside
`^[\\p{L}\\p{N}\\s.,!?():@\\-_/'"]*$`. Python's `re` has no `\\p{L}`, so letters and numbers
are told by Unicode category, and `\\s` is Java's default ASCII whitespace (no
UNICODE_CHARACTER_CLASS flag). Used by the manifest checks; pure, no I/O.
"""

from __future__ import annotations

import re
import unicodedata

ALLOWED_PUNCTUATION = frozenset(".,!?():@-_/'\"")
JAVA_WHITESPACE = frozenset(" \t\n\x0b\f\r")
"""Java's `\\s` without UNICODE_CHARACTER_CLASS: space, tab, newline, VT, form feed, CR."""

PUNCTUATION_HINT = "(.,!?():@-_'/\")"
"""How the server's message lists the allowed punctuation (its order, not ours)."""

CONNECTOR_NAME = "Model connector name"
CONNECTOR_DESCRIPTION = "Model connector description"
CONNECTOR_PROVISIONED_BY = "Model connector provisioned_by field"
MODEL_GROUP_NAME = "Model group name"
MODEL_GROUP_DESCRIPTION = "Model group description"
MODEL_NAME = "Model name"
MODEL_DESCRIPTION = "Model description"
MODEL_PROVISIONED_BY = "Model provisioned_by field"
"""Labels the server puts in front of its messages (§2.5, §5.2, §6.2)."""

_SAFE_ASCII = re.compile(r"[A-Za-z0-9 \t\n\x0b\f\r.,!?():@\-_/'\"]*")
"""The pattern over ASCII alone, where letters and numbers are A-Z, a-z and 0-9: the
common case, answered without a look at each character's category."""


def is_safe_char(char: str) -> bool:
    """Whether one character is allowed: a letter, a number, whitespace or the punctuation."""
    if char in ALLOWED_PUNCTUATION or char in JAVA_WHITESPACE:
        return True
    # \p{L} and \p{N} are the Unicode general categories L* and N*.
    return unicodedata.category(char)[0] in ("L", "N")


def is_safe_text(text: str) -> bool:
    """Whether the whole of `text` passes the 3.1+ pattern."""
    if _SAFE_ASCII.fullmatch(text):
        return True
    return all(is_safe_char(char) for char in text)


def unsafe_characters(text: str) -> tuple[str, ...]:
    """The distinct characters of `text` the server refuses, in order of appearance."""
    return tuple(dict.fromkeys(char for char in text if not is_safe_char(char)))


def required_message(label: str) -> str:
    """The server's text for a missing or blank name."""
    return f"{label} is required and cannot be null or blank"


def unsafe_message(label: str) -> str:
    """The server's text for a name or description with a refused character."""
    return (
        f"{label} can only contain letters, numbers, spaces, and basic punctuation "
        f"{PUNCTUATION_HINT}"
    )


def name_error(text: str | None, *, label: str) -> str | None:
    """The server's refusal of a name (required, safe text), or None if it passes."""
    if text is None or not text.strip():
        return required_message(label)
    return None if is_safe_text(text) else unsafe_message(label)


def description_error(text: str | None, *, label: str) -> str | None:
    """The server's refusal of a description (optional; checked when not blank)."""
    if text is None or not text.strip() or is_safe_text(text):
        return None
    return unsafe_message(label)
