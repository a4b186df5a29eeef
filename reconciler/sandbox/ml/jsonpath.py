"""JSONPath as ML Commons reads `response_filter` and the built-in functions' paths (§4.1).

`processing.py` calls `read(document, path)`, which behaves as Jayway's `JsonPath.read` with
its default configuration: a definite path (names and single indices only) yields one value
and fails with `PathNotFound` when a step is missing; an indefinite path (`[*]`, `..`,
`[a,b]`, slices) yields the list of every match and skips the missing ones. Supported steps:
`$`, `.name`, `['name']`, `["name"]`, `.*`, `[*]`, `..name`, `[n]`, `[-n]`, `[a,b]`,
`[start:end]`. Filters and functions raise `InvalidPath` naming them. Pure.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

_NAME = re.compile(r"[A-Za-z0-9_$@\-]+")


class PathNotFoundError(Exception):
    """Jayway's `PathNotFoundException`."""


class InvalidPathError(Exception):
    """Jayway's `InvalidPathException`: the path cannot be read."""


@dataclasses.dataclass(frozen=True)
class _Step:
    kind: str
    """`name`, `names`, `index`, `indices`, `slice`, `wildcard` or `deep`."""
    values: tuple[Any, ...] = ()

    @property
    def definite(self) -> bool:
        return self.kind in ("name", "index")

    def shown(self) -> str:
        if self.kind == "name":
            return f"['{self.values[0]}']"
        if self.kind == "index":
            return f"[{self.values[0]}]"
        if self.kind == "deep":
            return f"..['{self.values[0]}']"
        return "[*]"


def read(document: Any, path: str) -> Any:
    """The value(s) `path` selects in `document`."""
    steps = _compile(path)
    if all(step.definite for step in steps):
        return _definite(document, steps)
    matches = [document]
    for step in steps:
        matches = [found for value in matches for found in _apply(value, step)]
    return matches


def _definite(document: Any, steps: list[_Step]) -> Any:
    value = document
    for number, step in enumerate(steps):
        shown = "$" + "".join(s.shown() for s in steps[: number + 1])
        if step.kind == "name":
            if not isinstance(value, dict):
                raise PathNotFoundError(
                    f"Expected to find an object with property {step.shown()} in path "
                    f"{shown[: -len(step.shown())]} but found '{_class(value)}'. This is not a "
                    "json object according to the JsonProvider: "
                    "'com.jayway.jsonpath.spi.json.JsonSmartJsonProvider'."
                )
            if step.values[0] not in value:
                last = number == len(steps) - 1
                raise PathNotFoundError(
                    f"No results for path: {shown}" if last else f"Missing property in path {shown}"
                )
            value = value[step.values[0]]
        else:
            items = value if isinstance(value, list) else None
            index = step.values[0]
            if items is None or not -len(items) <= index < len(items):
                raise PathNotFoundError(f"Index out of bounds when evaluating path {shown}")
            value = items[index]
    return value


def _class(value: Any) -> str:
    if isinstance(value, list):
        return "net.minidev.json.JSONArray"
    if value is None:
        return "null"
    return {str: "java.lang.String", bool: "java.lang.Boolean", float: "java.lang.Double"}.get(
        type(value), "java.lang.Integer"
    )


def _apply(value: Any, step: _Step) -> list[Any]:
    kind = step.kind
    if kind in ("name", "names"):
        if not isinstance(value, dict):
            return []
        return [value[name] for name in step.values if name in value]
    if kind == "wildcard":
        if isinstance(value, dict):
            return list(value.values())
        return list(value) if isinstance(value, list) else []
    if kind == "deep":
        return _deep(value, step.values[0])
    if not isinstance(value, list):
        return []
    if kind == "slice":
        start, stop = step.values
        return value[start:stop]
    return [value[i] for i in step.values if -len(value) <= i < len(value)]


def _deep(value: Any, name: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(value, dict):
        if name == "*":
            found.extend(value.values())
        elif name in value:
            found.append(value[name])
        for child in value.values():
            found.extend(_deep(child, name))
    elif isinstance(value, list):
        if name == "*":
            found.extend(value)
        for child in value:
            found.extend(_deep(child, name))
    return found


def _compile(path: str) -> list[_Step]:
    text = path.strip()
    if not text.startswith("$"):
        raise InvalidPathError(f"Path must start with '$' or '@': {path}")
    steps: list[_Step] = []
    index = 1
    while index < len(text):
        step, index = _step(text, index, path)
        steps.append(step)
    return steps


def _step(text: str, index: int, path: str) -> tuple[_Step, int]:
    if text.startswith("..", index):
        name, end = _dotted_name(text, index + 2, path)
        return _Step("deep", (name,)), end
    if text[index] == ".":
        name, end = _dotted_name(text, index + 1, path)
        if name == "*":
            return _Step("wildcard"), end
        if text.startswith("(", end):
            raise InvalidPathError(f"JSONPath functions such as [{name}()] are not supported")
        return _Step("name", (name,)), end
    if text[index] == "[":
        end = text.find("]", index)
        if end < 0:
            raise InvalidPathError(f"Could not parse token starting at position {index}: {path}")
        return _bracket(text[index + 1 : end].strip(), path), end + 1
    raise InvalidPathError(f"Could not parse token starting at position {index}: {path}")


def _dotted_name(text: str, index: int, path: str) -> tuple[str, int]:
    if text.startswith("*", index):
        return "*", index + 1
    match = _NAME.match(text, index)
    if not match:
        raise InvalidPathError(f"Path must not end with a '.' or '..': {path}")
    return match.group(0), match.end()


def _bracket(inner: str, path: str) -> _Step:
    if inner == "*":
        return _Step("wildcard")
    if inner.startswith("?"):
        raise InvalidPathError(f"JSONPath filter expressions such as [{inner}] are not supported")
    if inner[:1] in ("'", '"'):
        names = tuple(part.strip()[1:-1] for part in inner.split(","))
        return _Step("name", names) if len(names) == 1 else _Step("names", names)
    try:
        if ":" in inner:
            start, _, stop = inner.partition(":")
            return _Step("slice", (int(start) if start else None, int(stop) if stop else None))
        numbers = tuple(int(part) for part in inner.split(","))
    except ValueError:
        raise InvalidPathError(f"Could not parse token [{inner}] in path {path}") from None
    return _Step("index", numbers) if len(numbers) == 1 else _Step("indices", numbers)
