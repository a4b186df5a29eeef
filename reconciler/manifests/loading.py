"""Loads manifest files into a ManifestSet, keeping the source position of every node.

Called by the CLI (`osml validate`, `plan`, `apply`, `watch`) and by the semantic checks,
which use `LoadedManifest.problem()` to point their findings at `file:line:column`.
Files and directories are read (directories recursively: `*.yaml` and `*.yml`, sorted,
hidden entries skipped), every document is validated against the pydantic model of its
kind, and every problem of the whole run is collected before `ManifestError` is raised,
so one run shows them all.

This module reads files and nothing else: no network, no printing, no secret resolution
(secret references stay references), no checks between resources beyond duplicate keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from reconciler.errors import ManifestError, Problem, Severity, truncate
from reconciler.manifests import placeholders
from reconciler.manifests.explaining import describe_value as _a
from reconciler.manifests.explaining import explain_validation_error
from reconciler.manifests.locating import (
    Document,
    Positions,
    SourceLocation,
    position_of,
    read_documents,
    render_path,
)
from reconciler.manifests.models import MANIFEST_TYPES, Manifest
from reconciler.manifests.overlaying import Overlay
from reconciler.resources import Kind, ResourceKey

__all__ = [
    "MAX_FILE_BYTES",
    "PROJECT_FILE",
    "LoadedManifest",
    "ManifestSet",
    "Reading",
    "SourceLocation",
    "find_manifest_files",
    "load_manifests",
    "read_manifests",
    "render_path",
]

MAX_FILE_BYTES = 5 * 1024 * 1024
"""Larger manifest files are refused unread."""

_SUFFIXES = (".yaml", ".yml")
PROJECT_FILE = "osml.yaml"
"""The project file (`reconciler.policy`), not a manifest: skipped in a directory."""
_KINDS = [kind.value for kind in Kind]


@dataclasses.dataclass(frozen=True)
class LoadedManifest:
    """One valid manifest document and where it came from."""

    manifest: Manifest
    """The validated pydantic model of the document."""
    file: str
    """The file as given on the command line (relative stays relative)."""
    positions: Positions = dataclasses.field(repr=False, compare=False)
    """Internal: where each node of the document is; use `locate()` and `problem()`."""

    @property
    def key(self) -> ResourceKey:
        """The resource's identity, `Kind/name`."""
        return self.manifest.key

    def locate(self, *path: str | int, key: bool = False) -> SourceLocation:
        """The location of the node at `path` (of its mapping key if `key`).

        Falls back to the nearest ancestor that exists in the file, then to the start of
        the document, so a path to a defaulted field still points somewhere useful.
        """
        return self.positions.locate(path, key=key)

    def problem(
        self,
        message: str,
        *path: str | int,
        severity: Severity = Severity.ERROR,
        key: bool = False,
    ) -> Problem:
        """A Problem about this resource, located at `path` (`"spec", "actions", 0`)."""
        where = self.locate(*path, key=key)
        return Problem(
            message,
            file=where.file,
            line=where.line,
            column=where.column,
            resource=str(self.key),
            path=render_path(path) or None,
            severity=severity,
        )


@dataclasses.dataclass(frozen=True)
class ManifestSet:
    """The valid manifests of a run, in file order (files sorted within directories)."""

    documents: tuple[LoadedManifest, ...] = ()
    """Every document, in the order read."""

    def get(self, key: ResourceKey) -> LoadedManifest | None:
        """The document declaring `key`, if any."""
        return next((doc for doc in self.documents if doc.key == key), None)

    def of_kind(self, kind: Kind) -> tuple[LoadedManifest, ...]:
        """The documents of one kind, in file order."""
        return tuple(doc for doc in self.documents if doc.key.kind is kind)

    def __iter__(self) -> Iterator[LoadedManifest]:
        return iter(self.documents)

    def __len__(self) -> int:
        return len(self.documents)


@dataclasses.dataclass(frozen=True)
class Reading:
    """What `read_manifests` found: the valid documents and the problems of the rest."""

    manifests: ManifestSet
    """The documents that are valid on their own."""
    problems: tuple[Problem, ...]
    """Every problem found, in file order; all are errors."""
    documents: int
    """How many non-empty documents were read, valid or not."""
    declared: frozenset[ResourceKey] = frozenset()
    """The Kind/name of every document that names one, valid or not: a reference to an
    invalid resource is to something that exists, not a dangling one."""


def load_manifests(paths: Sequence[str | Path], *, overlay: Overlay | None = None) -> ManifestSet:
    """Load every manifest under `paths`; raise ManifestError listing every problem.

    An empty set of manifests is valid and yields an empty ManifestSet.
    """
    reading = read_manifests(paths, overlay=overlay)
    if reading.problems:
        raise ManifestError(reading.problems)
    return reading.manifests


def read_manifests(paths: Sequence[str | Path], *, overlay: Overlay | None = None) -> Reading:
    """Like `load_manifests`, but return the problems instead of raising them.

    `overlay` applies an environment to each document before it is validated
    (`manifests.overlaying`); without one, a `${env.NAME}` is reported as needing one.
    """
    overlay = overlay or Overlay(None)
    loaded: list[LoadedManifest] = []
    first_seen: dict[ResourceKey, SourceLocation] = {}
    count = 0
    files, problems = find_manifest_files(paths)
    for file in files:
        found: list[Problem] = []
        documents = _read_file(file, found)
        count += len(documents)
        for document in documents:
            document = overlay.apply(document, found)  # noqa: PLW2901
            duplicate = _check_duplicate(document, first_seen, found)
            manifest = _load_document(document, found)
            if manifest is not None and not duplicate:
                loaded.append(manifest)
        problems.extend(sorted(found, key=lambda p: (p.file != file, p.line or 0, p.column or 0)))
    problems.extend(overlay.leftovers())
    declared = frozenset(first_seen)
    return Reading(ManifestSet(tuple(loaded)), tuple(problems), count, declared)


# --- files -------------------------------------------------------------------------


def find_manifest_files(paths: Sequence[str | Path]) -> tuple[list[str], list[Problem]]:
    """The manifest files under `paths`, as displayable paths, each real file once; and a
    Problem for each path that does not exist.

    Directories are searched recursively for `*.yaml` and `*.yml` (hidden entries and
    the project file `osml.yaml` skipped, sorted); a file named explicitly is taken
    whatever its suffix.
    """
    files: list[str] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        try:
            mode = path.stat().st_mode
        except OSError as exc:  # missing, a name too long, a loop of links, ...
            problems.append(Problem(_stat_error(exc), file=str(given)))
            continue
        # A file named explicitly is read whatever its suffix.
        found = _files_in(path) if stat.S_ISDIR(mode) else [str(given)]
        for file in found:
            real = Path(file).resolve()
            if real not in seen:
                seen.add(real)
                files.append(file)
    return files, problems


def _stat_error(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    return f"cannot read: {exc.strerror or exc}"


def _files_in(directory: Path) -> list[str]:
    found: list[Path] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            Path(root, name)
            for name in names
            if name.endswith(_SUFFIXES) and not name.startswith(".") and name != PROJECT_FILE
        )
    return [str(path) for path in sorted(found, key=lambda p: p.relative_to(directory).parts)]


def _read_file(file: str, problems: list[Problem]) -> list[Document]:
    text = _read_text(file, problems)
    if text is None:
        return []
    documents, found = read_documents(text, file=file)
    problems.extend(found)
    return documents


def _read_text(file: str, problems: list[Problem]) -> str | None:
    try:
        size = os.stat(file).st_size
        if size > MAX_FILE_BYTES:
            problems.append(
                Problem(
                    f"file is {size / 1048576:.1f} MiB; manifest files over "
                    f"{MAX_FILE_BYTES // 1048576} MiB are refused",
                    file=file,
                )
            )
            return None
        data = Path(file).read_bytes()
    except OSError as exc:
        problems.append(Problem(f"cannot read: {exc.strerror or exc}", file=file))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = position_of(data.decode("utf-8", errors="replace"), exc.start)
        problems.append(Problem("not valid UTF-8 text", file=file, line=line, column=column))
        return None


# --- documents ---------------------------------------------------------------------


def _load_document(document: Document, problems: list[Problem]) -> LoadedManifest | None:
    """Validate one document against the model of its kind; None if it is invalid."""
    data = document.data
    kind = _read_kind(document, problems)
    resource = _resource_label(kind, data) if kind is not None else None
    problems.extend(dataclasses.replace(p, resource=resource) for p in document.problems)
    if kind is None:
        return None
    unfilled = list(placeholders.find(data))
    problems.extend(_placeholder_problem(p, document, resource=resource) for p in unfilled)
    try:
        manifest = MANIFEST_TYPES[kind].model_validate(data)
    except ValidationError as exc:
        found = _explain(exc, document, kind=kind, resource=resource)
        problems.extend(p for p in found if not _covered(p, unfilled))
        return None
    if document.problems or unfilled:
        # A document with a placeholder is not what its author means yet: no other
        # rule judges it until the placeholder is filled.
        return None
    return LoadedManifest(
        cast(Manifest, manifest), document.positions.start.file, document.positions
    )


def _explain(
    exc: ValidationError, document: Document, *, kind: Kind, resource: str | None
) -> list[Problem]:
    findings = explain_validation_error(exc, model=MANIFEST_TYPES[kind], data=document.data)
    return [
        _at(
            document.positions.locate(finding.path, key=finding.at_key),
            finding.message,
            resource=resource,
            path=render_path(finding.path),
        )
        for finding in findings
    ]


def _placeholder_problem(
    placeholder: placeholders.Placeholder, document: Document, *, resource: str | None
) -> Problem:
    where = document.positions.locate(placeholder.path)
    path = render_path(placeholder.path)
    return _at(where, placeholder.message, resource=resource, path=path)


def _covered(problem: Problem, unfilled: Sequence[placeholders.Placeholder]) -> bool:
    """Whether a schema problem is about a field holding a placeholder: the field itself,
    below it, or the map right around it (a credential map is judged as a whole)."""
    for placeholder in unfilled:
        field = render_path(placeholder.path)
        # Not the document or its spec: a problem there is about something else.
        parent = render_path(placeholder.path[:-1]) if len(placeholder.path) > 2 else field
        path = problem.path or ""
        if path in (field, parent) or path.startswith((field + ".", field + "[")):
            return True
    return False


def _read_kind(document: Document, problems: list[Problem]) -> Kind | None:
    data = document.data
    if not isinstance(data, dict):
        message = "a manifest must be a mapping with apiVersion, kind, metadata and spec"
        problems.append(_at(document.positions.start, f"{message}, got {_a(data)}"))
        return None
    raw = data.get("kind")
    where = document.positions.locate(("kind",))
    if raw is None:
        problems.append(_at(where, f"missing required field 'kind' (one of {', '.join(_KINDS)})"))
        return None
    if not isinstance(raw, str):
        problems.append(_at(where, f"expected a string, got {_a(raw)}", path="kind"))
        return None
    try:
        return Kind(raw)
    except ValueError:
        pass
    close = difflib.get_close_matches(raw, _KINDS, n=1) or [
        k for k in _KINDS if k.lower() == raw.lower()
    ]
    hint = f"did you mean '{close[0]}'?" if close else f"expected one of {', '.join(_KINDS)}"
    problems.append(_at(where, f"unknown kind '{truncate(raw, 60)}'; {hint}", path="kind"))
    return None


def _check_duplicate(
    document: Document,
    first_seen: dict[ResourceKey, SourceLocation],
    problems: list[Problem],
) -> bool:
    """Report a second declaration of the same Kind/name, naming the first one's place;
    True for such a duplicate, which the semantic checks then leave out."""
    key = _raw_key(document.data)
    if key is None:
        return False
    where = document.positions.locate(("metadata", "name"))
    first = first_seen.setdefault(key, where)
    if first is where:
        return False
    message = f"duplicate resource; first defined at {first}"
    problems.append(_at(where, message, resource=str(key), path="metadata.name"))
    return True


def _raw_key(data: Any) -> ResourceKey | None:
    """The Kind/name of a document as written, even if the rest of it is invalid."""
    if not isinstance(data, dict):
        return None
    kind, metadata = data.get("kind"), data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if kind not in _KINDS or not isinstance(name, str) or not name:
        return None
    return ResourceKey(Kind(kind), name)


def _resource_label(kind: Kind, data: Any) -> str | None:
    key = _raw_key({**data, "kind": kind.value})
    return str(key) if key is not None else None


def _at(
    where: SourceLocation,
    message: str,
    *,
    resource: str | None = None,
    path: str | None = None,
) -> Problem:
    return Problem(
        message,
        file=where.file,
        line=where.line,
        column=where.column,
        resource=resource,
        path=path or None,
    )
