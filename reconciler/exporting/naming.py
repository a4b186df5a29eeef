"""Manifest names and variable names for exported resources: valid, unique, stable.

A live resource's `metadata.name` is the name osml's state records it under when it is
already managed; otherwise it is derived from its server name (accents dropped, lower-cased,
every run of characters outside the manifest name rules replaced by `-`, cut to 128
characters; a name with no usable character becomes the kind's fallback) and
made unique per kind with `-2`, `-3`, ... in a fixed order: records first, then by
creation time, then by ID. The same cluster therefore always yields the same names.
Credential variables are `KIND_NAME_KEY` in upper case, unique across the export.

Called by the kind exporters; pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from reconciler.cluster.snapshots import LiveObject, StateRecord
from reconciler.resources import Kind

MAX_NAME = 128
"""The longest `metadata.name` (docs/manifests.md, "The envelope")."""

FALLBACK = {
    Kind.CONNECTOR: "connector",
    Kind.MODEL_GROUP: "model-group",
    Kind.MODEL: "model",
    Kind.AGENT: "agent",
}
"""The base name of a resource whose server name has no usable character."""

_INVALID = re.compile(r"[^a-z0-9._-]+")
_EDGES = re.compile(r"^[^a-z0-9]+|[^a-z0-9]+$")
_NOT_VARIABLE = re.compile(r"[^A-Z0-9]+")
_LETTERS = str.maketrans({
    "ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
    "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH",
})  # fmt: skip
"""Latin letters that Unicode does not decompose into a base letter and an accent."""


def base_name(server_name: str | None, *, kind: Kind) -> str:
    """A valid `metadata.name` close to `server_name`, not yet made unique."""
    text = _INVALID.sub("-", ascii_text(server_name or "").lower())
    text = _EDGES.sub("", text[:MAX_NAME])
    return _EDGES.sub("", text) or FALLBACK[kind]


def ascii_text(text: str) -> str:
    """`text` with accents dropped (`Modèle` -> `Modele`, `Straße` -> `Strasse`) and other
    non-ASCII removed."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def creation_order(obj: LiveObject) -> tuple[int, str]:
    """Sort key: creation time (milliseconds, 0 when unknown), then ID."""
    created = obj.source.get("created_time")
    if isinstance(created, bool) or not isinstance(created, int | float):
        created = 0
    return int(created), obj.id


def manifest_names(
    objects: Iterable[LiveObject], *, kind: Kind, records: Mapping[str, StateRecord]
) -> dict[str, str]:
    """Live ID -> `metadata.name` for every object of one kind.

    `records` maps live IDs to the state records that manage them: those keep their
    recorded names, so a plan pairs them through the state.
    """
    names: dict[str, str] = {}
    taken: set[str] = set()
    ordered = sorted(objects, key=creation_order)
    for obj in ordered:
        record = records.get(obj.id)
        if record is not None and record.key.kind is kind:
            names[obj.id] = record.key.name
            taken.add(record.key.name)
    for obj in ordered:
        if obj.id not in names:
            names[obj.id] = unique(base_name(obj.name, kind=kind), taken)
    return names


def unique(base: str, taken: set[str]) -> str:
    """`base`, or `base-N` with the smallest free N from 2; added to `taken`."""
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        suffix = f"-{number}"
        candidate = base[: MAX_NAME - len(suffix)].rstrip("._-") + suffix
    taken.add(candidate)
    return candidate


def variable_name(*parts: str, taken: set[str]) -> str:
    """An environment variable name of `parts`, upper case, unique within `taken`."""
    cleaned = (_NOT_VARIABLE.sub("_", ascii_text(part).upper()).strip("_") for part in parts)
    joined = "_".join(filter(None, cleaned))
    base = joined if not joined[:1].isdigit() else "_" + joined
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}_{number}"
    taken.add(candidate)
    return candidate
