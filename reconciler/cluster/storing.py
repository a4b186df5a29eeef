"""Reading and conditionally writing single documents of the state index, with retries.

`state` (records, the fingerprint key) and `locking` (the lock) build on these three
calls. Every write is conditional (`op_type=create` or `if_seq_no`/`if_primary_term`),
and every call is retried on transient failures: the applier does not wrap state-index
requests in its own retries. A retried conditional write that conflicts may be
conflicting with its own first attempt, whose answer was lost on the way back; the
stored document then tells: if it is exactly what we wrote, the write is done. A
genuine conflict is a ClusterError with status 409 whose message says another osml run
may be at work. Knows nothing of records or locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opensearchpy import exceptions as os_exc

from reconciler.cluster.connecting import Connection
from reconciler.cluster.failures import cluster_error
from reconciler.errors import ClusterError
from reconciler.retrying import Backoff, retry

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
            raise conflict(subject, "write", exc) from exc
        except os_exc.TransportError as exc:
            raise cluster_error(exc, subject=subject, action="write") from exc
        return version_of(answer)

    return retry(once, backoff=RETRY)


def delete_document(
    conn: Connection, doc_id: str, *, if_version: Version | None, index: str, subject: str
) -> None:
    """Delete a document if it is still at `if_version`; already gone is fine.

    ClusterError (409) when it exists at another version.
    """
    params: dict[str, Any] = {"refresh": "wait_for"}
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
            raise conflict(subject, "delete", exc) from exc
        except os_exc.TransportError as exc:
            raise cluster_error(exc, subject=subject, action="delete") from exc

    retry(once, backoff=RETRY)


def version_of(answer: Mapping[str, Any]) -> Version:
    """The `(seq_no, primary_term)` of a write or GET answer."""
    return (int(answer["_seq_no"]), int(answer["_primary_term"]))


def conflict(subject: str, action: str, exc: os_exc.TransportError) -> ClusterError:
    """The error for a conditional request that lost to another writer."""
    return ClusterError(
        f"{subject}: {action} refused (409): the document changed since it was read; "
        "another osml run may be working on this cluster",
        status=409,
        error_type=str(exc.error),
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
