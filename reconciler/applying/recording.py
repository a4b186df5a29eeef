"""State-index writes of an apply, many per request and off the critical path.

Every change of an apply writes state records: an intent before a create (written for
all creates at once, in one request, before the first of them is sent) and a record
after each mutation. `StateWriter` sends the latter behind the changes that cause them:
`submit` queues a write and returns a Future; one background thread sends whatever is
queued as a single `_bulk` request, then whatever queued up meanwhile (group commit), so
the state index costs a few requests however many changes run, and a change's
dependents need not wait for its record. Writes of one resource are sent in the order
they were submitted, each conditional on the version its predecessor stored. Writes go
out with `refresh=false`; `close` refreshes the state index once at the end (or the
caller's lock release does), so the next plan's search sees them. The writer knows
records, never actions or plans.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future

from reconciler.cluster.connecting import Connection
from reconciler.cluster.snapshots import StateRecord
from reconciler.cluster.state import RecordWrite, refresh_state, write_records
from reconciler.errors import ClusterError
from reconciler.resources import ResourceKey

BATCH = 500
"""Most records in one `_bulk` request."""


class _Job:
    __slots__ = ("delete", "future", "record")

    def __init__(self, record: StateRecord, *, delete: bool) -> None:
        self.record = record
        self.delete = delete
        self.future: Future[StateRecord | None] = Future()


class StateWriter:
    """Writes the state records of one apply; thread-safe."""

    def __init__(
        self,
        conn: Connection,
        *,
        index: str,
        stored: Mapping[ResourceKey, StateRecord],
        guard: Callable[[], None],
    ) -> None:
        self._conn = conn
        self._index = index
        self._stored = dict(stored)
        self._guard = guard
        self._queues: dict[ResourceKey, collections.deque[_Job]] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._wrote = False

    def stored(self, key: ResourceKey) -> StateRecord | None:
        """The record of `key` as last stored (with its version), if any."""
        with self._cond:
            return self._stored.get(key)

    def write_now(
        self, records: list[StateRecord], *, new_fingerprint_key: bytes | None = None
    ) -> tuple[dict[ResourceKey, ClusterError], bytes | None]:
        """Write `records` at once, in as few requests as `BATCH` allows (the intents
        before an apply's first create); the failed ones, and the fingerprint key when
        a new one was offered. Call before anything is submitted."""
        self._guard()
        failed: dict[ResourceKey, ClusterError] = {}
        key = None
        chunks = [records[i : i + BATCH] for i in range(0, len(records), BATCH)] or [[]]
        for number, chunk in enumerate(chunks):
            offer = new_fingerprint_key if number == 0 else None
            if not chunk and offer is None:
                continue
            writes = [RecordWrite(r, self.stored(r.key)) for r in chunk]
            written = write_records(
                self._conn, writes, index=self._index, new_fingerprint_key=offer
            )
            self._wrote = True
            if offer is not None:
                key = written.fingerprint_key
            for record, outcome in zip(chunk, written.records, strict=True):
                if isinstance(outcome, ClusterError):
                    failed[record.key] = outcome
                elif outcome is not None:
                    with self._cond:
                        self._stored[record.key] = outcome
        return failed, key

    def submit(self, record: StateRecord, *, delete: bool = False) -> Future[StateRecord | None]:
        """Queue storing `record` (or deleting it); the Future ends with what was stored."""
        job = _Job(record, delete=delete)
        with self._cond:
            if self._closed:
                raise RuntimeError("the state writer is closed")
            self._queues.setdefault(record.key, collections.deque()).append(job)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="osml-state-writer", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return job.future

    def close(self, *, refresh: bool = True) -> None:
        """Send everything queued, stop the thread, then (`refresh`) refresh the state
        index once, if anything was written."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        if refresh and self._wrote:
            refresh_state(self._conn, index=self._index)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queues and not self._closed:
                    self._cond.wait()
                if not self._queues:
                    return
                batch = [queue.popleft() for queue in list(self._queues.values())[:BATCH]]
                self._queues = {k: q for k, q in self._queues.items() if q}
            self._send(batch)

    def _send(self, batch: list[_Job]) -> None:
        """One request for the batch (one job per resource); never raises."""
        try:
            self._guard()
            writes = [RecordWrite(j.record, self.stored(j.record.key), j.delete) for j in batch]
            outcomes = write_records(self._conn, writes, index=self._index).records
        except Exception as exc:  # the lease was lost, or the request failed for good
            for job in batch:
                job.future.set_exception(exc)
            return
        self._wrote = True
        for job, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, ClusterError):
                job.future.set_exception(outcome)
                continue
            with self._cond:
                if job.delete:
                    self._stored.pop(job.record.key, None)
                elif outcome is not None:
                    self._stored[job.record.key] = outcome
            job.future.set_result(outcome)
