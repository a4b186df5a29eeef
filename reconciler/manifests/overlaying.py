"""Applies an environment to manifest documents before they are validated.

`manifests.loading.read_manifests` hands each YAML document to `Overlay.apply` between
reading and validation, so pydantic and the semantic checks see the environment's
manifest and every problem still points at a real line:

- `${env.NAME}` in any string becomes the environment's value NAME. A string that is
  exactly `${env.NAME}` takes the value with its YAML type (a number, a list); inside a
  longer string the value must be a scalar. `$${env.NAME}` is a literal `${env.NAME}`.
  Only the `env.` prefix is ours: ML Commons' own `${parameters.x}` and `${credential.x}`
  are left alone. A value's positions stay those of the manifest string.
- The override for the document's `Kind/name` is merged into `spec` and `lifecycle` as a
  JSON merge patch (RFC 7386: mappings merge, `null` removes a key, anything else
  replaces), and the patched nodes take their positions from the environment file.

`annotate` then adds, to each problem located at a patched or substituted node, the
other file's line: a problem in an override names the manifest it patches, a problem in
a substituted string names the value's line in the environment file. Without an
environment, a `${env.NAME}` is reported as needing one. Nothing here reads files,
prints or connects.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.errors import Problem, truncate
from reconciler.manifests.environments import Environment, Override
from reconciler.manifests.locating import (
    Document,
    FieldPath,
    Positions,
    SourceLocation,
    render_path,
)
from reconciler.resources import Kind, ResourceKey

__all__ = ["Overlay"]

_REFERENCE = re.compile(r"\$?\$\{env\.([^}]*)\}")
_KINDS = {kind.value for kind in Kind}


class Overlay:
    """One environment (or none) applied to every document of one read."""

    def __init__(self, environment: Environment | None) -> None:
        self.environment = environment
        self._notes: dict[SourceLocation, str] = {}
        self._used: set[ResourceKey] = set()
        self._declared: dict[ResourceKey, SourceLocation] = {}

    def apply(self, document: Document, problems: list[Problem]) -> Document:
        """`document` with the environment's values and its override applied."""
        data, positions = document.data, document.positions
        found: list[Problem] = []
        data = self._substitute(data, (), positions, found)
        key = _raw_key(data)
        override = self._override_for(key, positions)
        if override is not None and isinstance(data, dict):
            # The patch moves positions: it works on copies of the tables.
            values, keys = dict(positions.values), dict(positions.keys)
            data = self._patch(data, override, values, keys, found)
            positions = Positions(start=positions.start, values=values, keys=keys)
        problems.extend(dataclasses.replace(p, resource=str(key) if key else None) for p in found)
        if data is document.data and not found:
            return document
        return dataclasses.replace(document, data=data, positions=positions)

    def leftovers(self) -> list[Problem]:
        """An error for each override whose resource no manifest declares."""
        if self.environment is None:
            return []
        problems = []
        known = [str(k) for k in self._declared]
        for key, override in self.environment.overrides.items():
            if key in self._used:
                continue
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            where = self.environment.locate(*override.path, key=True)
            message = f"no manifest declares {key}, so this override patches nothing{hint}"
            problems.append(_at(where, message, ("overrides",)))
        return problems

    def annotate(self, problems: Iterable[Problem]) -> list[Problem]:
        """`problems`, each at a patched or substituted node naming the other file's line."""
        return [self._annotated(p) for p in problems]

    def _annotated(self, problem: Problem) -> Problem:
        if problem.file is None or problem.line is None or problem.column is None:
            return problem
        note = self._notes.get(SourceLocation(problem.file, problem.line, problem.column))
        if note is None:
            return problem
        return dataclasses.replace(problem, message=f"{problem.message} ({note})")

    # --- ${env.NAME} ---------------------------------------------------------------

    def _substitute(
        self,
        data: Any,
        path: FieldPath,
        positions: Positions,
        problems: list[Problem],
    ) -> Any:
        """`data` with every `${env.NAME}` replaced; unchanged objects are kept as they are."""
        return self._substituted(data, list(path), positions, problems)

    def _substituted(
        self, data: Any, path: list[str | int], positions: Positions, problems: list[Problem]
    ) -> Any:
        # One path list, grown and shrunk in place; a tuple only for a reference found
        # (this runs over every value of every document).
        if isinstance(data, str):
            if "${env." not in data:
                return data
            return self._string(data, tuple(path), positions, problems)
        if isinstance(data, dict):
            items: Any = data.items()
        elif isinstance(data, list):
            items = enumerate(data)
        else:
            return data
        changed: dict[str | int, Any] = {}
        for part, value in items:
            if isinstance(value, str) and "${env." not in value:
                continue
            path.append(part)
            result = self._substituted(value, path, positions, problems)
            path.pop()
            if result is not value:
                changed[part] = result
        if not changed:
            return data
        if isinstance(data, dict):
            return {k: changed.get(k, v) for k, v in data.items()}
        return [changed.get(i, v) for i, v in enumerate(data)]

    def _string(
        self, text: str, path: FieldPath, positions: Positions, problems: list[Problem]
    ) -> Any:
        where = positions.locate(path)
        whole = _REFERENCE.fullmatch(text)
        if whole is not None and not text.startswith("$$"):
            found = self._value(whole.group(1), where, problems, path)
            return text if found is _MISSING else found
        used: list[str] = []

        def replace(match: re.Match[str]) -> str:
            if match.group().startswith("$$"):
                return match.group()[1:]
            value = self._value(match.group(1), where, problems, path)
            if value is _MISSING:
                return match.group()
            if isinstance(value, dict | list) or value is None:
                problems.append(_at(where, f"${{env.{match.group(1)}}} is {_shape(value)}, "
                                    "which cannot be part of a string", path))  # fmt: skip
                return match.group()
            used.append(match.group(1))
            return _scalar_text(value)

        result = _REFERENCE.sub(replace, text)
        self._note_values(where, used)
        return result

    def _value(
        self, name: str, where: SourceLocation, problems: list[Problem], path: FieldPath
    ) -> Any:
        environment = self.environment
        if environment is None:
            message = (
                f"${{env.{truncate(name, 60)}}} needs an environment: give --env NAME "
                "(environment files are in the environments/ folder beside the manifests)"
            )
            problems.append(_at(where, message, path))
            return _MISSING
        if name in environment.values:
            self._note_values(where, [name])
            return environment.values[name]
        close = difflib.get_close_matches(name, list(environment.values), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        message = (
            f"${{env.{truncate(name, 60)}}} is not defined in environment "
            f"{environment.name} ({environment.file}: values){hint}"
        )
        problems.append(_at(where, message, path))
        return _MISSING

    def _note_values(self, where: SourceLocation, names: list[str]) -> None:
        if not names or self.environment is None:
            return
        env = self.environment
        lines = ", ".join(
            f"${{env.{n}}} from {env.locate('values', n)}" for n in dict.fromkeys(names)
        )
        self._notes.setdefault(where, f"with {lines}")

    # --- overrides -----------------------------------------------------------------

    def _override_for(self, key: ResourceKey | None, positions: Positions) -> Override | None:
        if key is None:
            return None
        self._declared.setdefault(key, positions.locate(("metadata", "name")))
        if self.environment is None or key not in self.environment.overrides:
            return None
        self._used.add(key)
        return self.environment.overrides[key]

    def _patch(
        self,
        data: dict[str, Any],
        override: Override,
        values: dict[FieldPath, SourceLocation],
        keys: dict[FieldPath, SourceLocation],
        problems: list[Problem],
    ) -> dict[str, Any]:
        assert self.environment is not None
        env = self.environment
        declared = values.get(("metadata", "name"), values.get(()))
        note = f"override of {override.key}" + (f" declared at {declared}" if declared else "")
        patch = self._substitute(dict(override.patch), override.path, env.positions, problems)
        merger = _Merger(env, override.path, tables=(values, keys), notes=self._notes, note=note)
        merged: dict[str, Any] = merger.merge(data, patch, ())
        return merged


class _Merger:
    """A JSON merge patch applied to one document, moving the positions with the nodes."""

    def __init__(
        self,
        env: Environment,
        root: FieldPath,
        *,
        tables: tuple[dict[FieldPath, SourceLocation], dict[FieldPath, SourceLocation]],
        notes: dict[SourceLocation, str],
        note: str,
    ) -> None:
        self.env, self.root = env, root
        self.values, self.keys = tables
        self.notes, self.note = notes, note

    def merge(self, target: Any, patch: Any, path: FieldPath) -> Any:
        if patch is None:
            self._forget(path)
            return _REMOVED
        if not isinstance(patch, dict):
            self._forget(path)
            self._copy(path)
            return patch
        if not isinstance(target, dict):
            self._forget(path)
            target = {}
            self._place(path, self.values, self.env.positions.values)
        merged = dict(target)
        for key, value in patch.items():
            if key not in target:
                self._place((*path, key), self.keys, self.env.positions.keys)
            result = self.merge(target.get(key), value, (*path, key))
            if result is _REMOVED:
                merged.pop(key, None)
            else:
                merged[key] = result
        return merged

    def _forget(self, path: FieldPath) -> None:
        for table in (self.values, self.keys):
            for known in [p for p in table if p[: len(path)] == path]:
                del table[known]

    def _copy(self, path: FieldPath) -> None:
        """Take the positions of the patch's subtree at `path` from the environment file."""
        source = (*self.root, *path)
        for table, own in ((self.values, self.env.positions.values),
                           (self.keys, self.env.positions.keys)):  # fmt: skip
            for known, where in own.items():
                if known[: len(source)] == source:
                    table[(*path, *known[len(source) :])] = where
                    self.notes.setdefault(where, self.note)

    def _place(
        self,
        path: FieldPath,
        table: dict[FieldPath, SourceLocation],
        own: Mapping[FieldPath, SourceLocation],
    ) -> None:
        where = own.get((*self.root, *path))
        if where is not None:
            table[path] = where
            self.notes.setdefault(where, self.note)


class _Marker:
    """A sentinel with a readable repr."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_MISSING: Any = _Marker("<missing>")
_REMOVED: Any = _Marker("<removed>")


def _raw_key(data: Any) -> ResourceKey | None:
    if not isinstance(data, dict):
        return None
    kind, metadata = data.get("kind"), data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(kind, str) or kind not in _KINDS or not isinstance(name, str) or not name:
        return None
    return ResourceKey(Kind(kind), name)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _shape(value: Any) -> str:
    if value is None:
        return "null"
    return "a mapping" if isinstance(value, dict) else "a list"


def _at(where: SourceLocation, message: str, path: FieldPath = ()) -> Problem:
    return Problem(
        message, file=where.file, line=where.line, column=where.column,
        path=render_path(path) or None,
    )  # fmt: skip
