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
import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future

from reconciler.cluster.connecting import Connection
from reconciler.cluster.snapshots import StateRecord
from reconciler.cluster.state import RecordWrite, refresh_state, write_records
from reconciler.errors import ClusterError
from reconciler.resources import ResourceKey

BATCH = 500
"""Most records in one `_bulk` request."""


@dataclasses.dataclass(frozen=True)
class Intents:
    """The intents written before an apply's first create."""

    written: Mapping[ResourceKey, StateRecord]
    """Each intent as stored, with its version."""
    interrupted: frozenset[ResourceKey]
    """Resources whose record was an intent already: an earlier run was cut short
    around their create, which may have happened."""
    failed: Mapping[ResourceKey, ClusterError]
    """Intents that could not be written, and why: their creates must not run."""
    fingerprint_key: bytes | None = dataclasses.field(default=None, repr=False)
    """The fingerprint key in force, when a new one was offered."""


def write_intents(
    conn: Connection,
    intents: list[StateRecord],
    *,
    current: Mapping[ResourceKey, StateRecord],
    index: str,
    new_fingerprint_key: bytes | None = None,
) -> Intents:
    """Write `intents`, each replacing the `current` record of its resource, in as few
    requests as `BATCH` allows; `new_fingerprint_key` creates the key in the first."""
    written: dict[ResourceKey, StateRecord] = {}
    failed: dict[ResourceKey, ClusterError] = {}
    key = None
    chunks = [intents[i : i + BATCH] for i in range(0, len(intents), BATCH)] or [[]]
    for number, chunk in enumerate(chunks):
        offer = new_fingerprint_key if number == 0 else None
        if not chunk and offer is None:
            continue
        writes = [RecordWrite(r, current.get(r.key)) for r in chunk]
        result = write_records(conn, writes, index=index, new_fingerprint_key=offer)
        if offer is not None:
            key = result.fingerprint_key
        for record, outcome in zip(chunk, result.records, strict=True):
            if isinstance(outcome, ClusterError):
                failed[record.key] = outcome
            elif outcome is not None:
                written[record.key] = outcome
    interrupted = frozenset(
        r.key for r in intents if (c := current.get(r.key)) is not None and c.status == "intent"
    )
    return Intents(written, interrupted, failed, key)


def restore(
    conn: Connection,
    intents: Intents,
    keys: Iterable[ResourceKey],
    *,
    before: Mapping[ResourceKey, StateRecord],
    index: str,
) -> None:
    """Put back the records that intents of `keys` replaced, for creates that never
    ran (a stale plan, a failed dependency, a stop). Best effort: an intent left
    behind is resumed by the next plan, as after a crash."""
    writes = [
        RecordWrite(before[k], intents.written[k])
        if k in before
        else RecordWrite(intents.written[k], intents.written[k], delete=True)
        for k in keys
        if k in intents.written
    ]
    for start in range(0, len(writes), BATCH):
        write_records(conn, writes[start : start + BATCH], index=index)


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
