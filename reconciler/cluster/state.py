"""The state index: osml's memory of what it manages, kept in the cluster itself.

One document per managed resource (`_id` `Kind:name`), one `meta` document holding the
random HMAC key for credential fingerprints, and one `lock` document (see `locking`).
The schema is documented in `docs/state.md`. `reading` calls `read_state`; the applier
calls `ensure_state_index` and `write_records` (many records, and a new fingerprint key,
in one request); `osml state` and `osml import` call `write_record` and `delete_record`.
Every write is conditional (`op_type=create` or `if_seq_no`/`if_primary_term`) so two
osml runs can never silently overwrite each other.
Single-document reads and writes, retried and safe against lost answers, live in
`storing`.

A state document never holds a secret: credentials appear only as HMAC fingerprints, and a
`Secret` object reaching a write is refused before anything is sent.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from opensearchpy import exceptions as os_exc

from reconciler import __version__
from reconciler.cluster.connecting import Connection
from reconciler.cluster.failures import cluster_error
from reconciler.cluster.paging import PAGE_SIZE, Pager
from reconciler.cluster.snapshots import (
    LockInfo,
    ProbeResult,
    RecordStatus,
    StateRecord,
    StateSnapshot,
)
from reconciler.cluster.storing import (
    RETRY,
    DocumentWrite,
    delete_document,
    get_document,
    put_document,
    write_documents,
)
from reconciler.errors import ClusterError
from reconciler.resources import Kind, ResourceKey
from reconciler.retrying import retry
from reconciler.secrets import Secret

STATE_INDEX = "osml-state"
"""The default name of the state index (`--state-index`)."""
META_ID = "meta"
"""`_id` of the document holding the fingerprint key; no record ID lacks a colon."""
LOCK_ID = "lock"
"""`_id` of the lock document."""
SCHEMA = 1
"""Version of the document layout below; bumped on incompatible change."""
KEY_BYTES = 32

Clock = Callable[[], dt.datetime]
"""Returns the current time, timezone-aware; injected by tests."""


def utc_now() -> dt.datetime:
    """The default clock."""
    return dt.datetime.now(dt.UTC)


MAPPINGS: Mapping[str, Any] = {
    "dynamic": False,
    "properties": {
        "doc_type": {"type": "keyword"},
        "schema": {"type": "integer"},
        "kind": {"type": "keyword"},
        "name": {"type": "keyword"},
        "status": {"type": "keyword"},
        "live_id": {"type": "keyword"},
        "spec_hash": {"type": "keyword"},
        # What osml last applied is only ever read back whole: no need to index it, and
        # arbitrary server bodies must not grow the mapping.
        "applied": {"type": "object", "enabled": False},
        "fingerprints": {"type": "object", "enabled": False},
        "leases": {"type": "object", "enabled": False},
        "probe": {"type": "object", "enabled": False},
        "updated_at": {"type": "date"},
        "osml_version": {"type": "keyword"},
        "fingerprint_key": {"type": "keyword", "index": False},
        "holder": {"type": "keyword"},
        "lock_id": {"type": "keyword"},
        "operation": {"type": "keyword"},
        "acquired_at": {"type": "date"},
        "expires_at": {"type": "date"},
    },
}
"""Explicit mappings: keyword fields, `applied` stored but not indexed."""

SETTINGS: Mapping[str, Any] = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
"""One primary, so `_seq_no` and `_doc` orders are total; a replica where there is a node."""


def record_id(key: ResourceKey) -> str:
    """The `_id` of a resource's state document: `Kind:name`, URL-safe."""
    return f"{key.kind.value}:{quote(key.name, safe='-._~')}"


def key_of(doc_id: str) -> ResourceKey | None:
    """The key a record `_id` stands for; None for `meta`, `lock` and foreign documents."""
    kind_text, sep, name = doc_id.partition(":")
    if not sep or not name:
        return None
    try:
        return ResourceKey(Kind(kind_text), unquote(name))
    except ValueError:
        return None


def ensure_state_index(
    conn: Connection, *, index: str = STATE_INDEX, seen_absent: bool = False
) -> bool:
    """Create the state index with its mappings unless it exists; whether it was created.

    `seen_absent` (the caller has just found no index) tries the create straight away.
    """
    return retry(lambda: _ensure_once(conn, index=index, check=not seen_absent), backoff=RETRY)


def _ensure_once(conn: Connection, *, index: str, check: bool) -> bool:
    client = conn.client
    body = {"settings": dict(SETTINGS), "mappings": dict(MAPPINGS)}
    try:
        if check and client.indices.exists(index=index):
            return False
        client.indices.create(index=index, body=body)
    except os_exc.RequestError as exc:
        if exc.error == "resource_already_exists_exception":
            return False  # another run (or our own lost attempt) created it meanwhile
        raise cluster_error(exc, subject=f"State index {index}", action="create") from exc
    except os_exc.TransportError as exc:
        raise cluster_error(exc, subject=f"State index {index}", action="create") from exc
    return True


class StateIndexMissingError(Exception):
    """The state index does not exist (yet): no apply has run against this cluster."""


def search_state(conn: Connection, body: Mapping[str, Any], *, index: str) -> dict[str, Any]:
    """One search of the state index (not retried here: the pager retries and counts).

    StateIndexMissingError when there is no state index.
    """
    try:
        answer: dict[str, Any] = conn.client.search(index=index, body=body)
    except os_exc.NotFoundError as exc:
        raise StateIndexMissingError(index) from exc
    except os_exc.TransportError as exc:
        raise cluster_error(exc, subject=f"State index {index}", action="read") from exc
    return answer


def state_hit(hit: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a state-index hit that `state_from_hits` reads (the page goes)."""
    return {k: hit[k] for k in ("_id", "_seq_no", "_primary_term", "_source") if k in hit}


def read_state(
    conn: Connection, *, index: str = STATE_INDEX, page_size: int = PAGE_SIZE
) -> StateSnapshot:
    """Every record, the fingerprint key and the lock: one search per `page_size`
    documents, each retried on transient failures."""
    pager = Pager(page_size=page_size)
    try:
        found = pager.read_all(
            lambda body: search_state(conn, body, index=index),
            {"match_all": {}},
            what=f"state index {index}",
            parse=state_hit,
        )
    except StateIndexMissingError:
        return StateSnapshot(exists=False)
    return state_from_hits(found.values())


def state_from_hits(hits: Iterable[Mapping[str, Any]]) -> StateSnapshot:
    """Assemble a StateSnapshot from the hits of a state-index search."""
    records: dict[ResourceKey, StateRecord] = {}
    key: bytes | None = None
    lock: LockInfo | None = None
    for hit in hits:
        source = hit.get("_source") or {}
        doc_type = source.get("doc_type")
        if doc_type == "meta":
            key = _decode_key(source)
        elif doc_type == "lock":
            lock = lock_from_source(source)
        elif doc_type == "record":
            record = record_from_hit(hit)
            if record is not None:
                records[record.key] = record
    return StateSnapshot(records=records, exists=True, fingerprint_key=key, lock=lock)


def record_from_hit(hit: Mapping[str, Any]) -> StateRecord | None:
    """The StateRecord in a search hit or GET answer; None if it is not a record."""
    source = hit.get("_source") or {}
    key = key_of(str(hit.get("_id", "")))
    status = source.get("status")
    if key is None or status not in ("intent", "managed"):
        return None
    return StateRecord(
        key=key,
        status=status,
        id=source.get("live_id"),
        spec_hash=str(source.get("spec_hash", "")),
        applied=source.get("applied") or {},
        fingerprints=source.get("fingerprints") or {},
        leases=source.get("leases") or {},
        updated_at=str(source.get("updated_at", "")),
        probe=ProbeResult.from_dict(source.get("probe")),
        seq_no=hit.get("_seq_no"),
        primary_term=hit.get("_primary_term"),
    )


def lock_from_source(source: Mapping[str, Any]) -> LockInfo:
    """The LockInfo in a lock document."""
    return LockInfo(
        holder=str(source.get("holder", "")),
        lock_id=str(source.get("lock_id", "")),
        operation=str(source.get("operation", "")),
        acquired_at=str(source.get("acquired_at", "")),
        expires_at=str(source.get("expires_at", "")),
    )


def write_intent(
    conn: Connection,
    key: ResourceKey,
    *,
    expected: StateRecord | None = None,
    spec_hash: str = "",
    index: str = STATE_INDEX,
    clock: Clock = utc_now,
) -> StateRecord:
    """Record that a create of `key` is about to be sent (before sending it).

    `expected` is the record this replaces (as read), or None when there must be none.
    """
    intent = StateRecord(key=key, status="intent", id=None, spec_hash=spec_hash, applied={})
    return _write(conn, intent, expected=expected, index=index, clock=clock)


def write_record(
    conn: Connection,
    record: StateRecord,
    *,
    expected: StateRecord | None = None,
    index: str = STATE_INDEX,
    clock: Clock = utc_now,
) -> StateRecord:
    """Write `record` if the stored one is still `expected` (None: if there is none).

    Returns the record as stored, with its new `seq_no`/`primary_term` and time.
    """
    return _write(conn, record, expected=expected, index=index, clock=clock)


def delete_record(conn: Connection, record: StateRecord, *, index: str = STATE_INDEX) -> None:
    """Forget a resource, if its record is still the one read; already gone is fine."""
    delete_document(
        conn,
        record_id(record.key),
        if_version=_version(record),
        index=index,
        subject=f"State {record.key}",
    )


@dataclasses.dataclass(frozen=True, slots=True)
class RecordWrite:
    """One write of `write_records`: `record` stored, or deleted, if the stored one is
    still `expected` (None: if there is none)."""

    record: StateRecord
    expected: StateRecord | None
    delete: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Written:
    """What `write_records` did."""

    records: list[StateRecord | ClusterError | None]
    """Per write, in order: the record as stored, None for a delete, or the error."""
    fingerprint_key: bytes | None = dataclasses.field(default=None, repr=False)
    """The key now in the state index, when a new one was offered."""


def write_records(
    conn: Connection,
    writes: list[RecordWrite],
    *,
    index: str = STATE_INDEX,
    new_fingerprint_key: bytes | None = None,
    refresh: str = "false",
    clock: Clock = utc_now,
) -> Written:
    """Write many records in one `_bulk` request, each conditional as in `write_record`.

    `new_fingerprint_key` also creates the `meta` document with that key, unless one is
    there already (that one wins and is returned). The writes are durable on return;
    searches see them after the next refresh (`refresh_state`), or at once with
    `refresh="wait_for"`.
    """
    now = clock().isoformat(timespec="seconds")
    documents = [
        DocumentWrite(
            record_id(w.record.key),
            None if w.delete else _record_doc(w.record, updated_at=now),
            _version(w.expected),
            subject=f"State {w.record.key}",
        )
        for w in writes
    ]
    if new_fingerprint_key is not None:
        documents.append(DocumentWrite(META_ID, _meta_doc(new_fingerprint_key), None, "State key"))
    outcomes = write_documents(conn, documents, index=index, refresh=refresh)
    records: list[StateRecord | ClusterError | None] = []
    for write, outcome in zip(writes, outcomes, strict=False):
        if isinstance(outcome, ClusterError) or outcome is None:
            records.append(outcome)
        else:
            seq_no, term = outcome
            stored = dataclasses.replace(
                write.record, updated_at=now, seq_no=seq_no, primary_term=term
            )
            records.append(stored)
    key = None
    if new_fingerprint_key is not None:
        meta = outcomes[-1]
        if isinstance(meta, ClusterError) and meta.status != 409:
            raise meta
        key = new_fingerprint_key if not isinstance(meta, ClusterError) else None
        if key is None:  # another run made the key first: that one holds
            winner = _get_source(conn, META_ID, index=index)
            key = _decode_key(winner) if winner is not None else None
    return Written(records, key)


def refresh_state(conn: Connection, *, index: str = STATE_INDEX) -> None:
    """Make every write to the state index visible to searches now (the next plan's)."""

    def once() -> None:
        try:
            conn.client.indices.refresh(index=index)
        except os_exc.TransportError as exc:
            raise cluster_error(exc, subject=f"State index {index}", action="refresh") from exc

    retry(once, backoff=RETRY)


def fingerprint_key(conn: Connection, *, create: bool, index: str = STATE_INDEX) -> bytes | None:
    """The HMAC key for credential fingerprints; made once (`create`) or None if absent.

    Two racing creators agree: the `meta` document is written with `op_type=create`, and
    the loser reads the winner's key (`write_records`).
    """
    found = _get_source(conn, META_ID, index=index)
    if found is not None or not create:
        return _decode_key(found) if found is not None else None
    ensure_state_index(conn, index=index)
    offer = new_key()
    written = write_records(conn, [], index=index, new_fingerprint_key=offer, refresh="wait_for")
    return written.fingerprint_key


def new_key() -> bytes:
    """A fresh random fingerprint key."""
    return secrets.token_bytes(KEY_BYTES)


# --- internals -------------------------------------------------------------------------


def _meta_doc(raw: bytes) -> dict[str, Any]:
    return {
        "doc_type": "meta",
        "schema": SCHEMA,
        "fingerprint_key": base64.b64encode(raw).decode("ascii"),
        "osml_version": __version__,
    }


def _write(
    conn: Connection,
    record: StateRecord,
    *,
    expected: StateRecord | None,
    index: str,
    clock: Clock,
) -> StateRecord:
    now = clock().isoformat(timespec="seconds")
    doc = _record_doc(record, updated_at=now)
    seq_no, primary_term = put_document(
        conn,
        record_id(record.key),
        doc,
        if_version=_version(expected),
        index=index,
        subject=f"State {record.key}",
    )
    return dataclasses.replace(record, updated_at=now, seq_no=seq_no, primary_term=primary_term)


def _record_doc(record: StateRecord, *, updated_at: str) -> dict[str, Any]:
    _refuse_secrets(record.applied, where=f"{record.key} applied")
    _refuse_secrets(record.fingerprints, where=f"{record.key} fingerprints")
    status: RecordStatus = record.status
    doc: dict[str, Any] = {
        "doc_type": "record",
        "schema": SCHEMA,
        "kind": record.key.kind.value,
        "name": record.key.name,
        "status": status,
        "live_id": record.id,
        "spec_hash": record.spec_hash,
        "applied": dict(record.applied),
        "fingerprints": dict(record.fingerprints),
        "updated_at": updated_at,
        "osml_version": __version__,
    }
    if record.leases:
        _refuse_secrets(record.leases, where=f"{record.key} leases")
        doc["leases"] = {prefix: dict(lease) for prefix, lease in record.leases.items()}
    if record.probe is not None:
        doc["probe"] = record.probe.to_dict()
    return doc


def _refuse_secrets(value: Any, *, where: str) -> None:
    # A Secret here is a bug upstream: state keeps fingerprints, never values.
    if isinstance(value, Secret):
        raise TypeError(f"{where}: a secret value cannot be stored in the state index")
    if isinstance(value, Mapping):
        for item in value.values():
            _refuse_secrets(item, where=where)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_secrets(item, where=where)


def _version(record: StateRecord | None) -> tuple[int, int] | None:
    if record is None or record.seq_no is None or record.primary_term is None:
        return None
    return (record.seq_no, record.primary_term)


def _get_source(conn: Connection, doc_id: str, *, index: str) -> Mapping[str, Any] | None:
    answer = get_document(conn, doc_id, index=index)
    return answer["_source"] if answer is not None else None


def _decode_key(source: Mapping[str, Any]) -> bytes | None:
    text = source.get("fingerprint_key")
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ClusterError("State index: the fingerprint key is not valid base64") from exc
