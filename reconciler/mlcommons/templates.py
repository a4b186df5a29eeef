"""Placeholder syntax of connector templates and the server's substitution (§8.2, §3.1).

Connector URLs, headers, request bodies and function strings hold `${parameters.x}`,
`${parameters.x:-default}`, `${parameters.x.toString()}` and (headers only) `${credential.x}`.
The manifest checks find them; the URL check substitutes connector parameters the way the
server does at create time, leaving unresolved placeholders literal (§3.1). Pure: no I/O,
never sees a credential value.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

# Apache StringSubstitutor: the variable runs to the first `}`; `:-` starts a default.
_PLACEHOLDER = re.compile(r"\$\{(parameters|credential)\.([^}]*)\}")
_TO_STRING = ".toString()"
_GSON_HTML_SAFE = str.maketrans({char: f"\\u{ord(char):04x}" for char in "<>&='\u2028\u2029"})


class Namespace(enum.StrEnum):
    """What a placeholder draws from."""

    PARAMETERS = "parameters"
    """Connector parameters overlaid by predict parameters (§8.2 rule 1)."""
    CREDENTIAL = "credential"
    """Decrypted credentials, substituted in action headers only (§8.2 rule 5)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Placeholder:
    """One `${...}` occurrence in a template."""

    namespace: Namespace
    variable: str
    """What the server looks up, e.g. `messages.toString()` (defaults stripped)."""
    default: str | None
    """The text after `:-`, when the placeholder has one."""
    start: int
    end: int
    """Span of the whole `${...}` in the template."""

    @property
    def name(self) -> str:
        """The parameter or credential key, without `.toString()`."""
        return self.variable.removesuffix(_TO_STRING)

    @property
    def to_string(self) -> bool:
        """Whether it asks for the escaped string form (`${parameters.x.toString()}`)."""
        return self.variable.endswith(_TO_STRING)

    @property
    def text(self) -> str:
        """The placeholder as written, for messages."""
        return f"${{{self.namespace.value}.{self.name}}}"


def find_placeholders(template: str) -> list[Placeholder]:
    """Every placeholder of `template`, in order."""
    found = []
    for match in _PLACEHOLDER.finditer(template):
        variable, sep, default = match.group(2).partition(":-")
        found.append(
            Placeholder(
                namespace=Namespace(match.group(1)),
                variable=variable,
                default=default if sep else None,
                start=match.start(),
                end=match.end(),
            )
        )
    return found


def stringify(value: Any) -> str:
    """A parameter value as the server stores it (2.10+): strings verbatim, others JSON.

    Compact JSON as a default `new Gson()` writes it (`StringUtils.getParameterMap`):
    `100` -> `"100"`, `true` -> `"true"`, objects without spaces, non-ASCII kept, and
    Gson's HTML-safe escapes for `<`, `>`, `&`, `=`, `'` (§2.2, §2.7). Those characters
    are never JSON syntax, so escaping them throughout the text only touches strings.
    """
    if isinstance(value, str):
        return value
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.translate(_GSON_HTML_SAFE)


def stringify_parameters(parameters: Mapping[str, Any]) -> dict[str, str]:
    """Every connector parameter as the server stores it (§2.7)."""
    return {key: stringify(value) for key, value in parameters.items()}


def substitute(template: str, parameters: Mapping[str, str]) -> str:
    """`template` with `${parameters.*}` filled from `parameters`, as the server does.

    A variable is looked up verbatim (so `x.toString()` only resolves if that key exists);
    a missing one takes its `:-` default, else stays literal (§3.1). Credential
    placeholders are left untouched: they are never filled outside headers (§8.2).
    """

    def fill(placeholder: Placeholder) -> str | None:
        if placeholder.namespace is not Namespace.PARAMETERS:
            return None
        if placeholder.variable in parameters:
            return parameters[placeholder.variable]
        return placeholder.default

    return replace_placeholders(template, fill)


def replace_placeholders(template: str, fill: Callable[[Placeholder], str | None]) -> str:
    """`template` with each placeholder replaced by `fill(placeholder)`, kept where None."""
    pieces: list[str] = []
    position = 0
    for placeholder in find_placeholders(template):
        replacement = fill(placeholder)
        if replacement is None:
            continue
        pieces.append(template[position : placeholder.start])
        pieces.append(replacement)
        position = placeholder.end
    pieces.append(template[position:])
    return "".join(pieces)


def unresolved(template: str) -> list[Placeholder]:
    """The parameter placeholders still present in an already substituted template."""
    return [p for p in find_placeholders(template) if p.namespace is Namespace.PARAMETERS]


def inside_json_string(template: str, position: int) -> bool:
    """Whether `position` of a JSON template lies inside a string literal.

    Decides how a sample value is rendered: quoted placeholders take text, bare ones take
    a number, list or object (§8.2 rule 3).
    """
    inside = False
    escaped = False
    for char in template[:position]:
        if escaped:
            escaped = False
        elif char == "\\" and inside:
            escaped = True
        elif char == '"':
            inside = not inside
    return inside
