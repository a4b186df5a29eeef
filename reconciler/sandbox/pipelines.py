"""Ingest and search pipelines as the sandbox keeps them: cluster metadata, not documents.

OpenSearch stores a pipeline as its request body verbatim in the cluster state
(`IngestMetadata`, `SearchPipelineMetadata`; consumers reference §1.2, §2.2), so GET answers
exactly what was PUT. `pipelining.py` validates bodies and maps HTTP onto this store;
`persisting.py` saves it with the indices. This module holds data only: no HTTP, no
validation, and it must not import anything else of the sandbox.
"""

from __future__ import annotations

import copy
import fnmatch
import threading
from collections.abc import Callable, Mapping
from typing import Any

KINDS = ("ingest", "search")
"""The two pipeline namespaces; the same ID may exist in both."""


class PipelineMissingError(LookupError):
    """A delete named no pipeline; `pattern` is the ID or pattern asked for."""

    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        self.pattern = pattern


class Pipelines:
    """Every pipeline by kind and ID. Each public method is atomic under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_kind: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self._created: set[str] = set()
        """Kinds whose metadata exists (a first PUT creates it; deletes before that are no-ops)."""
        self._listeners: list[Callable[[], None]] = []

    def put(self, kind: str, pipeline_id: str, body: Mapping[str, Any]) -> None:
        """Create or replace the pipeline, keeping a private copy of `body`."""
        with self._lock:
            self._by_kind[kind][pipeline_id] = copy.deepcopy(dict(body))
            self._created.add(kind)
        self._changed()

    def get(self, kind: str, ids: str | None = None) -> dict[str, dict[str, Any]]:
        """Pipelines whose ID matches one of the comma-separated `ids` (`*` patterns allowed),
        all of them when `ids` is None or empty, in creation order; copies."""
        with self._lock:
            stored = self._by_kind[kind]
            wanted = [part for part in (ids or "").split(",") if part]
            if not wanted:
                return copy.deepcopy(stored)
            return {
                pid: copy.deepcopy(body)
                for pid, body in stored.items()
                if any(_matches(pattern, pid) for pattern in wanted)
            }

    def delete(self, kind: str, pattern: str) -> list[str]:
        """Remove every pipeline `pattern` matches and return their IDs.

        Raises PipelineMissingError when nothing matches, except for the match-all pattern and
        before any pipeline of this kind was ever stored (core's `innerDelete` returns the
        state unchanged when the metadata is null)."""
        with self._lock:
            stored = self._by_kind[kind]
            gone = [pid for pid in stored if _matches(pattern, pid)]
            if not gone:
                if pattern in ("*", "_all") or kind not in self._created:
                    return []
                raise PipelineMissingError(pattern)
            for pid in gone:
                del stored[pid]
        self._changed()
        return gone

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every change (the data file's saver)."""
        self._listeners.append(listener)

    def dump(self) -> dict[str, Any]:
        """JSON-ready content for the data file."""
        with self._lock:
            return {
                "pipelines": copy.deepcopy(self._by_kind),
                "created": sorted(self._created),
            }

    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the content with a `dump()` result (missing kinds are empty)."""
        raw = data.get("pipelines", {})
        with self._lock:
            self._by_kind = {kind: copy.deepcopy(dict(raw.get(kind, {}))) for kind in KINDS}
            self._created = {kind for kind in data.get("created", []) if kind in KINDS}

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()


def _matches(pattern: str, pipeline_id: str) -> bool:
    # `Regex.simpleMatch`: `*` is the only wildcard; every other character is literal.
    if "*" not in pattern:
        return pattern == pipeline_id
    return fnmatch.fnmatchcase(pipeline_id, pattern.replace("[", "[[]").replace("?", "[?]"))
