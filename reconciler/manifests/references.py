"""References by name inside a consumer's `spec`: a value `{ref: Model/NAME}` (also
`Connector/NAME`, `Agent/NAME`) stands for that resource's live ID.

`find_references` walks a spec and returns every reference with its path, for
`consumer_checking` (dangling names, wrong kinds) and for the planner, which resolves them;
`replace_references` returns the body the server gets once each key has an ID. Pure data
functions: no I/O, no knowledge of what any processor means.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.resources import Kind, ResourceKey

REF = "ref"
"""The one key of a reference mapping."""

REFERABLE = (Kind.MODEL, Kind.CONNECTOR, Kind.AGENT)
"""What a reference may name: the resources whose IDs the server takes in a consumer."""

Path = tuple[str | int, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Reference:
    """One `{ref: Kind/NAME}` value found in a spec."""

    path: Path
    """Where it stands below `spec`, e.g. `("processors", 0, "text_embedding", "model_id")`."""
    key: ResourceKey | None
    """What it names; None when the text is not a valid `Kind/NAME`."""
    text: str
    """The reference as written."""
    problem: str | None = None
    """Why it is not a valid reference, when it is not."""


def find_references(spec: Any, path: Path = ()) -> list[Reference]:
    """Every reference in `spec`, depth first, in document order."""
    if isinstance(spec, Mapping):
        if REF in spec:
            return [_reference(spec, path)]
        found: list[Reference] = []
        for key, value in spec.items():
            found += find_references(value, (*path, str(key)))
        return found
    if isinstance(spec, list):
        return [
            ref for index, item in enumerate(spec) for ref in find_references(item, (*path, index))
        ]
    return []


def _reference(value: Mapping[str, Any], path: Path) -> Reference:
    text = value[REF]
    if not isinstance(text, str):
        return Reference(path, None, repr(text), "a reference is written {ref: Kind/NAME}")
    if len(value) != 1:
        extra = ", ".join(sorted(str(k) for k in value if k != REF))
        return Reference(
            path, None, text, f"a reference has the single key `ref`, not also {extra}"
        )
    try:
        key = ResourceKey.parse(text)
    except ValueError as exc:
        return Reference(path, None, text, str(exc))
    if key.kind not in REFERABLE:
        return Reference(
            path,
            None,
            text,
            f"a reference names a Model, Connector or Agent, not a {key.kind.value}",
        )
    return Reference(path, key, text)


def replace_references(spec: Any, live_id: Callable[[ResourceKey], Any]) -> Any:
    """`spec` with every valid reference replaced by `live_id(key)`; a copy."""
    if isinstance(spec, Mapping):
        if REF in spec:
            ref = _reference(spec, ())
            if ref.key is None:
                raise ValueError(f"{ref.text}: {ref.problem}")
            return live_id(ref.key)
        return {key: replace_references(value, live_id) for key, value in spec.items()}
    if isinstance(spec, list):
        return [replace_references(item, live_id) for item in spec]
    return spec
