"""Blueprint placeholders a user forgot to fill in, found in a document before its schema.

The ML Commons blueprints mark what the reader must supply in several ways: `<YOUR API KEY>`,
`<PLEASE ADD YOUR AWS REGION HERE>`, `<ENTER_MODEL_NAME_HERE>`, `<MODEL_ID>`, choice lists
such as `<NONE|START|END>` or `<png|jpeg>`, `{{access_key}}`, `{region}` and written-out hints
such as `your_iam_role_arn_from_step_2a` (every form the corpus of tests/data/blueprints/
shows). `find(data)` walks every string of a raw document and names each such value with its
path, so the loader reports it at its line before any other rule judges that field.

Called by `manifests.loading`; pure: no files, no printing. Templates are left alone:
`${parameters.x}` and `${credential.x}` are ML Commons syntax, not placeholders, and angle
brackets in prompts (`<<SYS>>`, `</s>`, `a < b`) do not match.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

PathPart = str | int

_ANGLE = re.compile(r"(?<![<\w])<([A-Za-z][A-Za-z0-9_ .|/-]*)>(?!>)")
"""`<...>` holding a hint: letters, digits, spaces and `_.|/-`, not part of `<<...>>`."""
_MUSTACHE = re.compile(r"(?<!\$)\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
"""`{{name}}`, as the SageMaker batch blueprints write their inputs."""
_SPACE = re.compile(r"\s")
"""Any character `str.isspace` calls white space (the same Unicode test)."""
_BRACE = re.compile(r"(?<![$\w{])\{([a-z][a-z0-9_-]{3,})\}(?!\})")
"""`{region}`, `{your-endpoint-name}`: one lower-case word in single braces, in a value
with no spaces (a host, a model name), where JSON or Painless would not have it."""
_WRITTEN = re.compile(r"your[_-][a-z0-9_-]+", re.IGNORECASE)
"""A whole value such as `your_iam_role_arn_from_step_2a`."""
_CANDIDATE = re.compile(r"[<{]|your[_-]", re.IGNORECASE)
"""What every placeholder form holds (`<`, a brace, `your_`): a value without it is
passed over in one search."""
_HINT_WORDS = re.compile(r"^(your|please|enter|add|insert|replace)\b|_here$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, slots=True)
class Placeholder:
    """One unfilled placeholder."""

    path: tuple[PathPart, ...]
    """Where the value sits in the document (`spec`, `credential`, `roleArn`)."""
    text: str
    """The placeholder as written (`<PLEASE ADD YOUR AWS ROLE ARN HERE>`)."""

    @property
    def message(self) -> str:
        """What the loader says about it."""
        return (
            f"{self.text} is a blueprint placeholder left unfilled; replace it with your "
            "value (a secret goes in credential as {fromEnv: VAR}, {fromFile: path} or "
            "{encrypted: ...})"
        )


def find(data: Any, path: tuple[PathPart, ...] = ()) -> Iterator[Placeholder]:
    """Every unfilled placeholder in `data`, first one per value, in document order."""
    found: list[Placeholder] = []
    _find(data, list(path), found)
    return iter(found)


def _find(data: Any, path: list[PathPart], found: list[Placeholder]) -> None:
    # One path list, grown and shrunk in place: a tuple is made only for a placeholder
    # (this runs over every value of every document).
    if isinstance(data, dict):
        items: Any = ((str(key), value) for key, value in data.items())
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        _found_in(data, path, found)
        return
    for part, value in items:
        path.append(part)
        if isinstance(value, dict | list):
            _find(value, path, found)
        else:
            _found_in(value, path, found)
        path.pop()


def _found_in(value: Any, path: list[PathPart], found: list[Placeholder]) -> None:
    if isinstance(value, str) and _CANDIDATE.search(value) is not None:
        text = placeholder_in(value)
        if text is not None:
            found.append(Placeholder(tuple(path), text))


def placeholder_in(value: str) -> str | None:
    """The first blueprint placeholder in `value`, or None."""
    for match in _ANGLE.finditer(value):
        if _is_hint(match.group(1)):
            return match.group(0)
    mustache = _MUSTACHE.search(value)
    if mustache is not None:
        return mustache.group(0)
    brace = None if _SPACE.search(value) else _BRACE.search(value)
    if brace is not None:
        return brace.group(0)
    if _WRITTEN.fullmatch(value.strip()):
        return value.strip()
    return None


def _is_hint(inner: str) -> bool:
    """Whether the inside of `<...>` is a hint to the reader rather than markup."""
    if "|" in inner or _HINT_WORDS.search(inner):
        return True
    # `<MODEL_ID>`, `<API-KEY>`, `<folder_ID>`: written in capitals, or ending in an ID.
    letters = [c for c in inner if c.isalpha()]
    upper = len(letters) >= 3 and all(c.isupper() for c in letters)
    return upper or inner.endswith("_ID")
