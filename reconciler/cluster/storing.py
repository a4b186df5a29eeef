"""Reading and conditionally writing documents of the state index, with retries.

`state` (records, the fingerprint key) and `locking` (the lock) build on these calls:
single-document get, put and delete, and `write_documents`, many conditional writes in
one `_bulk` request. Every write is conditional (`op_type=create` or `if_seq_no`/`if_primary_term`),
and every call is retried on transient failures: the applier does not wrap state-index
requests in its own retries. A retried conditional write that conflicts may be
conflicting with its own first attempt, whose answer was lost on the way back; the
stored document then tells: if it is exactly what we wrote, the write is done. A
genuine conflict is a ClusterError with status 409 whose message says another osml run
may be at work. Knows nothing of records or locks.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from opensearchpy import exceptions as os_exc

from reconciler.cluster.connecting import Connection
from reconciler.cluster.failures import cluster_error, error_class
from reconciler.errors import ClusterError, TransientClusterError
from reconciler.retrying import Backoff, Timing, retry

RETRY = Backoff(initial=0.05, maximum=1.0, attempts=6)
"""Backoff for state-index requests on transient failures."""

Version = tuple[int, int]
"""`(seq_no, primary_term)` of a stored document."""


def get_document(conn: Connection, doc_id: str, *, index: str) -> Mapping[str, Any] | None:
    """The realtime GET answer for a document, or None if it (or the index) does not exist."""
    return retry(lambda: _get_once(conn, doc_id, index=index), backoff=RETRY)


def put_document(
    conn: Connection,
    doc_id: str,
    doc: Mapping[str, Any],
    *,
    if_version: Version | None,
    index: str,
    subject: str,
) -> Version:
    """Write `doc` if the stored version is `if_version` (None: if there is none).

    Returns the new version; ClusterError (409) when someone else's write came first.
    """
    params: dict[str, Any] = {"refresh": "wait_for"}
    if if_version is None:
        params["op_type"] = "create"
    else:
        params.update(if_seq_no=if_version[0], if_primary_term=if_version[1])
    attempts = 0

    def once() -> Version:
        nonlocal attempts
        attempts += 1
        try:
            answer = conn.client.index(index=index, id=doc_id, body=doc, params=params)
        except os_exc.ConflictError as exc:
            landed = _landed(conn, doc_id, doc, index=index) if attempts > 1 else None
            if landed is not None:
                return landed
            raise conflict(subject, "write", str(exc.error)) from exc
        except os_exc.TransportError as exc:
            raise cluster_error(exc, subject=subject, action="write") from exc
        return version_of(answer)

    return retry(once, backoff=RETRY)


def delete_document(
    conn: Connection,
    doc_id: str,
    *,
    if_version: Version | None,
    index: str,
    subject: str,
    refresh: str = "wait_for",
) -> None:
    """Delete a document if it is still at `if_version`; already gone is fine.

    `refresh="true"` refreshes the index at once: every earlier write, not only this
    delete, is visible to searches when it returns.

    ClusterError (409) when it exists at another version.
    """
    params: dict[str, Any] = {"refresh": refresh}
    if if_version is not None:
        params.update(if_seq_no=if_version[0], if_primary_term=if_version[1])

    def once() -> None:
        try:
            conn.client.delete(index=index, id=doc_id, params=params)
        except os_exc.NotFoundError:
            return  # gone, possibly by our own attempt whose answer was lost
        except os_exc.ConflictError as exc:
            # A conditional delete of a missing document answers 409 too.
            if get_document(conn, doc_id, index=index) is None:
                return
            raise conflict(subject, "delete", str(exc.error)) from exc
        except os_exc.TransportError as exc:
            raise cluster_error(exc, subject=subject, action="delete") from exc

    retry(once, backoff=RETRY)


@dataclasses.dataclass(frozen=True, slots=True)
class DocumentWrite:
    """One conditional write of `write_documents`."""

    doc_id: str
    doc: Mapping[str, Any] | None
    """The document to store; None deletes it."""
    if_version: Version | None
    """The stored version it replaces; None: there must be none (a delete: any)."""
    subject: str
    """What the document stands for, in error messages."""


def write_documents(
    conn: Connection,
    writes: Sequence[DocumentWrite],
    *,
    index: str,
    refresh: str = "false",
    backoff: Backoff = RETRY,
    timing: Timing | None = None,
) -> list[Version | ClusterError | None]:
    """Perform `writes` in one `_bulk` request; per write its new version (None for a
    delete) or the ClusterError that refused it. Never raises for a single write.

    Each write is conditional like `put_document` and `delete_document`. The request is
    retried on transient failures (of the whole request or of single items, such as a
    429 of a busy shard), sending only the writes still undecided; a write that then
    conflicts is checked against the stored document, since it may be our own earlier
    attempt whose answer was lost. With `refresh="false"` the writes are durable when
    this returns but a search may not see them before the index refreshes.
    """
    results: list[Version | ClusterError | _Undecided | None] = [_UNDECIDED] * len(writes)
    uncertain: set[int] = set()
    """Writes sent in a request whose answer never came: they may have happened."""
    timing = timing or Timing()
    delays = backoff.delays(timing.rng)
    for attempt in range(1, backoff.attempts + 1):
        pending = [i for i, r in enumerate(results) if r is _UNDECIDED]
        if not pending:
            break
        last = attempt == backoff.attempts
        try:
            answer = conn.client.bulk(
                body=_bulk_body([writes[i] for i in pending], index=index),
                params={"refresh": refresh},
            )
        except os_exc.TransportError as exc:
            error = cluster_error(exc, subject=f"State index {index}", action="bulk write")
            if not isinstance(error, TransientClusterError) or last:
                for i in pending:
                    results[i] = error
                break
            uncertain.update(pending)
        else:
            for i, item in zip(pending, answer["items"], strict=True):
                results[i] = _item_result(
                    conn, writes[i], next(iter(item.values())), index=index,
                    maybe_ours=i in uncertain, last=last,
                )  # fmt: skip
        if any(r is _UNDECIDED for r in results):
            timing.sleep(next(delays))
    unsent = ClusterError(f"State index {index}: bulk write gave up")
    return [unsent if isinstance(r, _Undecided) else r for r in results]


class _Undecided:
    """A write whose outcome is not known yet."""


_UNDECIDED = _Undecided()


def _bulk_body(writes: Sequence[DocumentWrite], *, index: str) -> str:
    lines: list[str] = []
    for write in writes:
        meta: dict[str, Any] = {"_index": index, "_id": write.doc_id}
        if write.if_version is not None:
            meta.update(if_seq_no=write.if_version[0], if_primary_term=write.if_version[1])
        if write.doc is None:
            lines.append(json.dumps({"delete": meta}))
            continue
        lines.append(json.dumps({"create" if write.if_version is None else "index": meta}))
        lines.append(json.dumps(write.doc, separators=(",", ":")))
    return "\n".join(lines) + "\n"


def _item_result(
    conn: Connection,
    write: DocumentWrite,
    item: Mapping[str, Any],
    *,
    index: str,
    maybe_ours: bool,
    last: bool,
) -> Version | ClusterError | _Undecided | None:
    status = int(item.get("status", 500))
    if 200 <= status < 300:
        return None if write.doc is None else version_of(item)
    if write.doc is None and status == 404:
        return None  # gone already, possibly by our own earlier attempt
    error = item.get("error")
    error_type = str(error.get("type")) if isinstance(error, Mapping) else None
    reason = str(error.get("reason", error_type)) if isinstance(error, Mapping) else str(error)
    if status == 409:
        if write.doc is None:
            if get_document(conn, write.doc_id, index=index) is None:
                return None
        elif maybe_ours and (landed := _landed(conn, write.doc_id, write.doc, index=index)):
            return landed
        return conflict(write.subject, "delete" if write.doc is None else "write", error_type)
    cls = error_class(status, error_type, reason)
    if cls is TransientClusterError and not last:
        return _UNDECIDED
    return cls(
        f"{write.subject}: write failed ({status}): {reason}",
        status=status,
        error_type=error_type,
        reason=reason,
    )


def version_of(answer: Mapping[str, Any]) -> Version:
    """The `(seq_no, primary_term)` of a write or GET answer."""
    return (int(answer["_seq_no"]), int(answer["_primary_term"]))


def conflict(subject: str, action: str, error_type: str | None) -> ClusterError:
    """The error for a conditional request that lost to another writer."""
    return ClusterError(
        f"{subject}: {action} refused (409): the document changed since it was read; "
        "another osml run may be working on this cluster",
        status=409,
        error_type=error_type,
    )


def _get_once(conn: Connection, doc_id: str, *, index: str) -> Mapping[str, Any] | None:
    try:
        answer = conn.client.get(index=index, id=doc_id)
    except os_exc.NotFoundError:
        return None  # no such document, or no state index yet
    except os_exc.TransportError as exc:
        raise cluster_error(exc, subject=f"State index {index}", action="read") from exc
    found = isinstance(answer, Mapping) and answer.get("found", True)
    return answer if found and isinstance(answer.get("_source"), Mapping) else None


def _landed(conn: Connection, doc_id: str, doc: Mapping[str, Any], *, index: str) -> Version | None:
    """The stored version if the stored document is exactly `doc` (our earlier attempt)."""
    answer = get_document(conn, doc_id, index=index)
    if answer is None or answer["_source"] != dict(doc):
        return None
    return version_of(answer)
