"""Field-level differences between a live document and the desired body.

Compares the fields the manifest declares plus the fields osml last applied
(`StateRecord.applied`), so a field removed from a manifest shows as a change while fields
the server adds on its own never do. Credentials are compared by fingerprint only and come
out as sensitive FieldChanges without values. Besides the changes, a Diff says which of
them an update cannot perform: a key removed from a merged map (§1.5) or a field cleared.

Called by `deciding`; pure: no I/O, no decisions about actions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from deepdiff import DeepDiff

from reconciler.mlcommons.fields import UNREMOVABLE_MAPS
from reconciler.planning.normalizing import CREDENTIAL, INLINE_CREDENTIAL
from reconciler.plans import FieldChange
from reconciler.resources import Kind

_MISSING = object()

NOT_COMPARED: dict[Kind, frozenset[str]] = {
    Kind.CONNECTOR: frozenset({CREDENTIAL, "add_all_backend_roles", "dry_run"}),
    Kind.MODEL_GROUP: frozenset({"add_all_backend_roles"}),
    # Register-only fields: the group fields are used only when the server creates a group
    # for the model, and the version of a remote model is the group's counter (§6.2).
    Kind.MODEL: frozenset(
        {"function_name", "version", "access_mode", "backend_roles", "add_all_backend_roles"}
    ),
}
"""Fields never compared: write-only, sent but not stored, or register-only (§6.2, §10)."""

_EXTRA_MAPS: dict[Kind, frozenset[str]] = {Kind.CONNECTOR: frozenset({"headers"})}
"""Merged maps besides those of `fields.UNREMOVABLE_MAPS`: MCP connector headers (§2.9)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Diff:
    """How a live document differs from the desired body."""

    fields: tuple[FieldChange, ...] = ()
    removed_keys: tuple[str, ...] = ()
    """Paths of map keys the desired body drops: an update merges them back (§1.5)."""
    cleared: tuple[str, ...] = ()
    """Top-level fields the manifest no longer declares: an update cannot unset them."""

    @property
    def changed(self) -> bool:
        """Whether anything differs."""
        return bool(self.fields)

    def paths(self) -> tuple[str, ...]:
        """The changed field paths, in order."""
        return tuple(change.path for change in self.fields)

    def changed_top(self) -> frozenset[str]:
        """The top-level fields with a change (`parameters` for `parameters.model`)."""
        return frozenset(_top(change.path) for change in self.fields)


def diff(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    kind: Kind,
    applied: Mapping[str, Any] | None = None,
    fingerprints: Mapping[str, str] | None = None,
) -> Diff:
    """What differs between `before` (live) and `after` (desired), for the fields in scope."""
    changes: list[FieldChange] = []
    removed: list[str] = []
    cleared: list[str] = []
    for field in compared_fields(after, applied or {}, kind=kind):
        old, new = before.get(field, _MISSING), after.get(field, _MISSING)
        if kind is Kind.MODEL and field == "connector":
            old, new = _without_credential(old), _without_credential(new)
        if new is _MISSING and old is not _MISSING:
            cleared.append(field)
        changes.extend(value_changes(field, old, new))
        removed.extend(_removed_keys(field, old, new, kind=kind))
    changes.extend(_credential_changes(after, kind=kind, fingerprints=fingerprints or {}))
    removed.extend(_removed_credentials(after, kind=kind, fingerprints=fingerprints or {}))
    return Diff(tuple(changes), tuple(removed), tuple(cleared))


def compared_fields(
    after: Mapping[str, Any], applied: Mapping[str, Any], *, kind: Kind
) -> list[str]:
    """Declared fields plus those last applied, minus those never compared, sorted."""
    skip = NOT_COMPARED.get(kind, frozenset()) | {"lifecycle"}
    return sorted((set(after) | set(applied)) - skip)


def value_changes(path: str, old: Any, new: Any) -> list[FieldChange]:
    """FieldChanges for one field, one per differing leaf (`parameters.model`)."""
    if old is _MISSING and new is _MISSING:
        return []
    if old is _MISSING or new is _MISSING or type(old) is not type(new):
        return [FieldChange(path, _value(old), _value(new))]
    if old == new:
        return []  # the common case; DeepDiff only runs where something differs
    if not isinstance(old, dict | list):
        return [FieldChange(path, old, new)]
    tree = DeepDiff(old, new, view="tree", verbose_level=2)
    found = [
        FieldChange(path + render_path(level.path(output_format="list")), *_ends(level))
        for levels in tree.values()
        for level in levels
    ]
    return sorted(found, key=lambda change: change.path)


def _ends(level: Any) -> tuple[Any, Any]:
    return _value(level.t1), _value(level.t2)


def _value(value: Any) -> Any:
    """None for an absent side; DeepDiff's `not present` marker is not a value."""
    if value is _MISSING or type(value).__name__ == "NotPresent":
        return None
    return value


def render_path(parts: Iterable[Any]) -> str:
    """`["actions", 0, "url"]` -> `.actions[0].url` (leading dot for appending)."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)


def _top(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def _removed_keys(field: str, old: Any, new: Any, *, kind: Kind) -> list[str]:
    """Keys of a merged map present live but not desired (§1.5): only delete + create can."""
    maps = UNREMOVABLE_MAPS.get(kind, frozenset()) | _EXTRA_MAPS.get(kind, frozenset())
    if field not in maps or not isinstance(old, Mapping):
        return []
    if new is _MISSING:
        return [field] if old else []
    if not isinstance(new, Mapping):
        return []
    found = [f"{field}.{key}" for key in old if key not in new]
    if kind is Kind.MODEL and field == "connector":
        for sub in ("parameters", "client_config", "headers"):
            inner = _removed_keys(
                sub, old.get(sub, _MISSING), new.get(sub, _MISSING), kind=Kind.CONNECTOR
            )
            found += [f"connector.{path}" for path in inner]
    return found


def _without_credential(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if k != CREDENTIAL}
    return value


def _declared_credentials(after: Mapping[str, Any], *, kind: Kind) -> tuple[str, Mapping[str, Any]]:
    """The fingerprint prefix and the credential markers of a desired body."""
    if kind is Kind.CONNECTOR:
        return CREDENTIAL, after.get(CREDENTIAL) or {}
    inline = after.get("connector")
    if kind is Kind.MODEL and isinstance(inline, Mapping):
        return INLINE_CREDENTIAL, inline.get(CREDENTIAL) or {}
    return "", {}


def _credential_changes(
    after: Mapping[str, Any], *, kind: Kind, fingerprints: Mapping[str, str]
) -> list[FieldChange]:
    """Credentials that changed: a new fingerprint, or none to compare with (§2.7)."""
    prefix, declared = _declared_credentials(after, kind=kind)
    changes = []
    for key, marker in sorted(declared.items()):
        path = f"{prefix}.{key}"
        new = marker.get("fingerprint") if isinstance(marker, Mapping) else None
        old = fingerprints.get(path)
        if new is None or old is None or new != old:
            changes.append(FieldChange(path, sensitive=True))
    return changes


def _removed_credentials(
    after: Mapping[str, Any], *, kind: Kind, fingerprints: Mapping[str, str]
) -> list[str]:
    """Credential keys osml once sent that the manifest dropped: merged back on update."""
    prefix, declared = _declared_credentials(after, kind=kind)
    if not prefix:
        return []
    return sorted(
        path
        for path in fingerprints
        if path.startswith(prefix + ".") and path[len(prefix) + 1 :] not in declared
    )
