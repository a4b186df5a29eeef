"""The sandbox's document store: thread-safe in-memory indices with OpenSearch write
semantics (versions, sequence numbers, optimistic concurrency, partial updates).

Called by the document REST API (`documents.py`), by the ML handlers of `ml/` and by
`persisting.py` (`dump`/`load`). Searching is
delegated to `searching.py`. It must not know about HTTP beyond raising `ApiError`.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import fnmatch
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.sandbox import searching
from reconciler.sandbox.fields import FieldTypes
from reconciler.sandbox.http import ApiError
from reconciler.sandbox.indexsettings import (
    flat_settings,
    index_settings,
    nest_settings,
    static_keys,
)
from reconciler.sandbox.mappings import put_properties, with_dynamic_fields

PRIMARY_TERM = 1
"""A single-node sandbox never fails over, so the primary term stays 1."""


@dataclasses.dataclass
class Doc:
    """One stored document; `source` is a private copy the caller may change."""

    id: str
    source: dict[str, Any]
    version: int
    seq_no: int
    primary_term: int = PRIMARY_TERM


@dataclasses.dataclass
class Index:
    """One index: its mappings, documents in insertion order and write counters."""

    name: str
    uuid: str
    mappings: dict[str, Any]
    settings: dict[str, Any]
    created: int
    docs: dict[str, Doc] = dataclasses.field(default_factory=dict)
    next_seq_no: int = 0
    tombstones: dict[str, int] = dataclasses.field(default_factory=dict)
    """Last version of deleted IDs, so a re-create continues the version like OpenSearch."""

    def field_types(self) -> FieldTypes:
        return FieldTypes.from_mappings(self.mappings)


def new_id() -> str:
    """A random 20-character base64url ID like OpenSearch's auto-generated ones (§1.2)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(15)).decode("ascii")


class Store:
    """All indices of the sandbox. Every public method is atomic under one lock."""

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.time
        self._indices: dict[str, Index] = {}
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []

    # -- indices ---------------------------------------------------------------------
    def create_index(
        self,
        name: str,
        *,
        mappings: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> bool:
        """Create `name`; True if created. An existing index is a 400 unless `exist_ok`."""
        with self._lock:
            existing = self._indices.get(name)
            if existing is not None:
                if exist_ok:
                    return False
                raise ApiError(
                    400,
                    f"index [{name}/{existing.uuid}] already exists",
                    error_type="resource_already_exists_exception",
                    extra={"index_uuid": existing.uuid, "index": name},
                )
            self._indices[name] = Index(
                name=name,
                uuid=base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii")[:22],
                mappings=copy.deepcopy(dict(mappings or {})),
                settings=index_settings(settings or {}),
                created=int(self._clock() * 1000),
            )
            self._changed()
            return True

    def index_exists(self, name: str) -> bool:
        with self._lock:
            return name in self._indices

    def index_names(self) -> list[str]:
        with self._lock:
            return sorted(self._indices)

    def index_info(self, name: str) -> dict[str, Any]:
        """The `GET /{index}` body for one index (aliases, mappings, settings)."""
        with self._lock:
            idx = self._require(name)
            return {
                "aliases": {},
                "mappings": copy.deepcopy(idx.mappings),
                "settings": _shown_settings(idx),
            }

    def settings(
        self, expression: str, *, names: str | None = None, flat: bool = False
    ) -> dict[str, Any]:
        """`GET /{expression}/_settings[/{names}]`: each index's settings, nested (or flat).

        With `names` (comma-separated full keys or `*` patterns) only matching keys are
        kept and an index left with none is omitted, as `GetSettingsResponse` does."""
        patterns = [part for part in (names or "").split(",") if part]
        with self._lock:
            shown = {
                idx.name: flat_settings(_shown_settings(idx))
                for idx in sorted(self._resolve(expression), key=lambda idx: idx.name)
            }
        if patterns:
            shown = {
                name: kept
                for name, values in shown.items()
                if (kept := {k: v for k, v in values.items() if _simple_match(patterns, k)})
            }
        return {
            name: {"settings": values if flat else nest_settings(values)}
            for name, values in shown.items()
        }

    def put_settings(self, name: str, body: Mapping[str, Any]) -> None:
        """`PUT /{name}/_settings`: merge dynamic index settings; static ones are refused."""
        with self._lock:
            idx = self._require(name)
            changes = index_settings(body.get("settings", body))
            static = static_keys(changes)
            if static:
                raise ApiError(
                    400,
                    f"Can't update non dynamic settings [[{', '.join(static)}]] for open "
                    f"indices [[{name}/{idx.uuid}]]",
                    error_type="illegal_argument_exception",
                )
            idx.settings = deep_merge(idx.settings, changes)
            self._changed()

    def mappings(self, expression: str) -> dict[str, Any]:
        """`GET /{expression}/_mapping`: each index's explicit plus dynamic mapping."""
        with self._lock:
            return {
                idx.name: {
                    "mappings": with_dynamic_fields(
                        idx.mappings, (doc.source for doc in idx.docs.values())
                    )
                }
                for idx in sorted(self._resolve(expression), key=lambda idx: idx.name)
            }

    def put_mapping(self, name: str, body: Mapping[str, Any]) -> None:
        """`PUT /{name}/_mapping`: merge new properties into the explicit mapping."""
        with self._lock:
            put_properties(self._require(name).mappings, body)
            self._changed()

    def delete_index(self, name: str) -> None:
        with self._lock:
            self._require(name)
            del self._indices[name]
            self._changed()

    # -- documents -------------------------------------------------------------------
    def index(
        self,
        index: str,
        source: Mapping[str, Any],
        *,
        id: str | None = None,
        op_type: str = "index",
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
    ) -> dict[str, Any]:
        """Write a whole document; auto-creates the index. Returns the OpenSearch write result."""
        with self._lock:
            idx = self._auto_create(index)
            doc_id = id if id is not None else new_id()
            current = idx.docs.get(doc_id)
            if op_type == "create" and current is not None:
                raise _conflict(
                    idx,
                    doc_id,
                    f"document already exists (current version [{current.version}])",
                )
            _check_seq_no(
                idx, doc_id, current, if_seq_no=if_seq_no, if_primary_term=if_primary_term
            )
            version = self._next_version(idx, doc_id, current)
            doc = Doc(doc_id, copy.deepcopy(dict(source)), version, self._next_seq_no(idx))
            idx.docs[doc_id] = doc
            idx.tombstones.pop(doc_id, None)
            self._changed()
            return _write_result(idx, doc, "created" if current is None else "updated")

    def get(self, index: str, id: str) -> Doc | None:
        """A copy of the document, or None; ApiError 404 when the index is missing."""
        with self._lock:
            doc = self._require(index).docs.get(id)
            return (
                None if doc is None else dataclasses.replace(doc, source=copy.deepcopy(doc.source))
            )

    def update(
        self,
        index: str,
        id: str,
        partial: Mapping[str, Any],
        *,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
    ) -> dict[str, Any]:
        """§1.5 partial update: objects deep-merged, arrays replaced; `noop` if nothing changed."""
        with self._lock:
            idx = self._require(index)
            current = idx.docs.get(id)
            if current is None:
                raise ApiError(
                    404,
                    f"[{id}]: document missing",
                    error_type="document_missing_exception",
                    extra={"index_uuid": idx.uuid, "shard": "0", "index": index},
                )
            _check_seq_no(idx, id, current, if_seq_no=if_seq_no, if_primary_term=if_primary_term)
            merged = deep_merge(current.source, partial)
            if merged == current.source:
                return _write_result(idx, current, "noop")
            doc = Doc(id, merged, current.version + 1, self._next_seq_no(idx))
            idx.docs[id] = doc
            self._changed()
            return _write_result(idx, doc, "updated")

    def delete(
        self,
        index: str,
        id: str,
        *,
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
    ) -> dict[str, Any]:
        """Remove a document; result `deleted` or `not_found` (the caller picks the status)."""
        with self._lock:
            idx = self._require(index)
            current = idx.docs.get(id)
            _check_seq_no(idx, id, current, if_seq_no=if_seq_no, if_primary_term=if_primary_term)
            version = self._next_version(idx, id, current)
            gone = Doc(id, {}, version, self._next_seq_no(idx))
            if current is None:
                return _write_result(idx, gone, "not_found")
            del idx.docs[id]
            idx.tombstones[id] = version
            self._changed()
            return _write_result(idx, gone, "deleted")

    def docs(self, index: str) -> list[Doc]:
        """Copies of every document of `index` in insertion order; [] when it does not exist."""
        with self._lock:
            idx = self._indices.get(index)
            if idx is None:
                return []
            return [
                dataclasses.replace(d, source=copy.deepcopy(d.source)) for d in idx.docs.values()
            ]

    def count(self, index: str) -> int:
        with self._lock:
            idx = self._indices.get(index)
            return 0 if idx is None else len(idx.docs)

    def search(self, index: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        """A full OpenSearch SearchResponse (§2.8); `index` may be `a,b`, `*`, `_all` or a glob.

        A missing concrete index raises ApiError 404 `index_not_found_exception`; whether
        that becomes an empty result is the caller's decision (it differs by version, §2.8).
        """
        with self._lock:
            targets = self._resolve(index)
            window = min(map(_result_window, targets), default=searching.MAX_RESULT_WINDOW)
            return searching.search(
                [(idx.name, idx.docs, idx.field_types()) for idx in targets],
                body or {},
                window=window,
            )

    # -- persistence -----------------------------------------------------------------
    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every mutation (the server uses it to schedule a save)."""
        self._listeners.append(listener)

    def dump(self) -> dict[str, Any]:
        """Everything needed to rebuild the store, as JSON-ready data."""
        with self._lock:
            return {name: _dump_index(idx) for name, idx in self._indices.items()}

    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the whole content with a `dump()` result."""
        with self._lock:
            self._indices = {name: _load_index(name, raw) for name, raw in data.items()}

    # -- internals -------------------------------------------------------------------
    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def _require(self, name: str) -> Index:
        idx = self._indices.get(name)
        if idx is None:
            raise index_not_found(name)
        return idx

    def _auto_create(self, name: str) -> Index:
        if name not in self._indices:
            self.create_index(name)
        return self._indices[name]

    def _resolve(self, expression: str) -> list[Index]:
        found: dict[str, Index] = {}
        for part in expression.split(","):
            if part in ("_all", "*", ""):
                found.update(self._indices)
            elif "*" in part:
                found.update(
                    {n: i for n, i in self._indices.items() if fnmatch.fnmatchcase(n, part)}
                )
            else:
                found[part] = self._require(part)
        return list(found.values())

    @staticmethod
    def _next_seq_no(idx: Index) -> int:
        idx.next_seq_no += 1
        return idx.next_seq_no - 1

    @staticmethod
    def _next_version(idx: Index, doc_id: str, current: Doc | None) -> int:
        if current is not None:
            return current.version + 1
        return idx.tombstones.get(doc_id, 0) + 1


def _result_window(idx: Index) -> int:
    """The index's `index.max_result_window` (OpenSearch's default when unset)."""
    value = idx.settings.get("index", {}).get("max_result_window")
    try:
        return int(value) if value is not None else searching.MAX_RESULT_WINDOW
    except (TypeError, ValueError):
        return searching.MAX_RESULT_WINDOW


def _shown_settings(idx: Index) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "creation_date": str(idx.created),
        "number_of_shards": "1",
        "number_of_replicas": "1",
        "uuid": idx.uuid,
        "version": {"created": "136387927"},
        "provided_name": idx.name,
    }
    return {"index": deep_merge(shown, idx.settings.get("index", {}))}


def _simple_match(patterns: list[str], key: str) -> bool:
    # `Regex.simpleMatch`: `*` is the only wildcard.
    return any(
        fnmatch.fnmatchcase(key, p.replace("[", "[[]").replace("?", "[?]"))
        if "*" in p
        else p == key
        for p in patterns
    )


def index_not_found(name: str) -> ApiError:
    """OpenSearch's 404 for a missing index, with its root-cause fields."""
    return ApiError(
        404,
        f"no such index [{name}]",
        error_type="index_not_found_exception",
        extra={
            "index": name,
            "resource.id": name,
            "resource.type": "index_or_alias",
            "index_uuid": "_na_",
        },
    )


def deep_merge(base: Mapping[str, Any], partial: Mapping[str, Any]) -> dict[str, Any]:
    """OpenSearch's partial-update merge: objects merge recursively, everything else replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in partial.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _check_seq_no(
    idx: Index,
    doc_id: str,
    current: Doc | None,
    *,
    if_seq_no: int | None,
    if_primary_term: int | None,
) -> None:
    if if_seq_no is None and if_primary_term is None:
        return
    wanted = f"required seqNo [{if_seq_no}], primary term [{if_primary_term}]"
    if current is None:
        raise _conflict(idx, doc_id, f"{wanted}. but no document was found")
    if (current.seq_no, current.primary_term) != (if_seq_no, if_primary_term):
        have = (
            f"current document has seqNo [{current.seq_no}]"
            f" and primary term [{current.primary_term}]"
        )
        raise _conflict(idx, doc_id, f"{wanted}. {have}")


def _conflict(idx: Index, doc_id: str, detail: str) -> ApiError:
    return ApiError(
        409,
        f"[{doc_id}]: version conflict, {detail}",
        error_type="version_conflict_engine_exception",
        extra={"index_uuid": idx.uuid, "shard": "0", "index": idx.name},
    )


def _write_result(idx: Index, doc: Doc, result: str) -> dict[str, Any]:
    # A single-node cluster with one replica configured: 2 copies wanted, 1 written.
    # A noop touches no shard copy at all.
    shards = {"total": 2, "successful": 1, "failed": 0}
    if result == "noop":
        shards = {"total": 0, "successful": 0, "failed": 0}
    return {
        "_index": idx.name,
        "_id": doc.id,
        "_version": doc.version,
        "result": result,
        "_shards": shards,
        "_seq_no": doc.seq_no,
        "_primary_term": doc.primary_term,
    }


def _dump_index(idx: Index) -> dict[str, Any]:
    return {
        "uuid": idx.uuid,
        "mappings": idx.mappings,
        "settings": idx.settings,
        "created": idx.created,
        "next_seq_no": idx.next_seq_no,
        "tombstones": idx.tombstones,
        "docs": [[d.id, d.version, d.seq_no, d.primary_term, d.source] for d in idx.docs.values()],
    }


def _load_index(name: str, raw: Mapping[str, Any]) -> Index:
    docs = {
        doc_id: Doc(doc_id, source, version, seq_no, term)
        for doc_id, version, seq_no, term, source in raw["docs"]
    }
    return Index(
        name=name,
        uuid=raw["uuid"],
        mappings=raw.get("mappings", {}),
        settings=raw.get("settings", {}),
        created=raw.get("created", 0),
        docs=docs,
        next_seq_no=raw.get("next_seq_no", len(docs)),
        tombstones=dict(raw.get("tombstones", {})),
    )
