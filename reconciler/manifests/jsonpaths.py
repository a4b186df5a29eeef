"""The small JSONPath subset a probe's `expect.exists` is written in: parse and match.

`$` then any of `.name`, `['name']`, `[0]` (negative counts from the end) and `[*]` / `.*`.
That is the part of JSONPath (RFC 9535) needed to say "this field of the predict answer
exists"; filters and slices are refused at load with the position of the problem. The
manifest model validates with `parse`; the probe check in `applying` matches with `find`.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Step = str | int | None
"""A member name, an array index, or None for a wildcard (`*`)."""

_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z_][A-Za-z0-9_-]*)
      | \.\*(?P<dot_star>)
      | \[\s*(?P<index>-?\d+)\s*\]
      | \[\s*\*\s*\](?P<star>)
      | \[\s*'(?P<single>(?:[^'\\]|\\.)*)'\s*\]
      | \[\s*"(?P<double>(?:[^"\\]|\\.)*)"\s*\]""",
    re.VERBOSE,
)


def parse(text: str) -> tuple[Step, ...]:
    """The steps of a path; ValueError naming the position that is not understood."""
    if not text.startswith("$"):
        raise ValueError(f"JSONPath {text!r} must start with $")
    steps: list[Step] = []
    position = 1
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(
                f"JSONPath {text!r}: cannot read from position {position} "
                f"({text[position : position + 10]!r}); use .name, ['name'], [0] or [*]"
            )
        steps.append(_step(match))
        position = match.end()
    return tuple(steps)


def _step(match: re.Match[str]) -> Step:
    groups = match.groupdict()
    if groups["name"] is not None:
        return groups["name"]
    if groups["index"] is not None:
        return int(groups["index"])
    quoted = groups["single"] if groups["single"] is not None else groups["double"]
    if quoted is not None:
        return re.sub(r"\\(.)", r"\1", quoted)
    return None


def find(document: Any, path: str) -> list[Any]:
    """Every value the path selects in `document` (empty when nothing matches)."""
    return list(_walk(document, parse(path)))


def _walk(value: Any, steps: tuple[Step, ...]) -> Iterator[Any]:
    if not steps:
        yield value
        return
    step, rest = steps[0], steps[1:]
    for child in _children(value, step):
        yield from _walk(child, rest)


def _children(value: Any, step: Step) -> list[Any]:
    if step is None:
        if isinstance(value, dict):
            return list(value.values())
        return list(value) if isinstance(value, list) else []
    if isinstance(step, int):
        if isinstance(value, list) and -len(value) <= step < len(value):
            return [value[step]]
        return []
    if isinstance(value, dict) and step in value:
        return [value[step]]
    return []
