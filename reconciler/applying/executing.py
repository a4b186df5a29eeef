"""The Executor: what every step of an apply needs, and nothing about any one action.

It holds the cluster calls, the state records as they stand during the apply, the
resolved secrets and the limits: request slots (`parallelism` requests to ML Commons in
flight), retries of TransientClusterError with backoff, and a guard called before every
request (a lost lease stops the run). Intent and record writes live here so that every
action writes them the same way: intents are written for all creates up front
(`write_intents`), records are queued on the `StateWriter` and awaited by `settle`, after
the change's dependents were let go. The actions themselves are in `applying.acting`;
deploy waits in `applying.deploying`.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from typing import TypeVar

from reconciler.applying.bodies import Materialized, SecretPath, materialize
from reconciler.applying.recording import Intents, StateWriter, write_intents
from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import Connection
from reconciler.cluster.snapshots import ProbeResult, StateRecord
from reconciler.errors import ApplyError, ClusterError, ClusterNotFoundError
from reconciler.outcomes import ApplyObserver
from reconciler.plans import Action, Change
from reconciler.resources import ResourceKey
from reconciler.retrying import Backoff, Timing, retry
from reconciler.secrets import Secret

T = TypeVar("T")

DEPLOYED = "DEPLOYED"
FAILED_STATES = frozenset({"DEPLOY_FAILED", "PARTIALLY_DEPLOYED"})


class Records:
    """The state records as they stand during an apply, including those still being
    written (their versions are the StateWriter's); shared by worker threads."""

    def __init__(self, records: Mapping[ResourceKey, StateRecord]) -> None:
        self._records = dict(records)
        self._lock = threading.Lock()

    def get(self, key: ResourceKey) -> StateRecord | None:
        """The current record of `key`, if any."""
        with self._lock:
            return self._records.get(key)

    def put(self, record: StateRecord) -> None:
        """Remember a record being written."""
        with self._lock:
            self._records[record.key] = record

    def forget(self, key: ResourceKey) -> None:
        """Drop the record of a deleted resource."""
        with self._lock:
            self._records.pop(key, None)

    def stored(self) -> dict[ResourceKey, StateRecord]:
        """Every record, as a plain mapping."""
        with self._lock:
            return dict(self._records)

    def claimed_ids(self) -> set[str]:
        """Every live ID some record points at."""
        with self._lock:
            return {r.id for r in self._records.values() if r.id is not None}

    def live_id(self, key: ResourceKey) -> str:
        """The live ID of a managed resource; ApplyError when it has none yet.

        An intent with an ID is a replace under way (written up front): until the new
        resource takes over, the old one is the live one.
        """
        record = self.get(key)
        if record is None or record.id is None:
            raise ApplyError(f"{key} has no live ID yet (was its create skipped or failed?)")
        return record.id


class Slots:
    """At most `size` requests in flight; a waiting `low` request goes after every
    waiting normal one, unless it has waited `patience` seconds already.

    Polls of deploy states are low: a poll that waits while creates and deploys go
    first delays nothing that matters (the model settles on its own), and the polls
    left at the end fill the slots while the last deploys settle, instead of leaving
    them idle (docs/performance.md). Patience keeps a long apply from starving a poll
    until its deploy times out. A freed slot is handed to one waiter directly, so a
    release wakes one thread however many wait.
    """

    def __init__(
        self, size: int, *, patience: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._free = size
        self._patience = patience
        self._clock = clock
        self._mutex = threading.Lock()
        self._normal: collections.deque[threading.Event] = collections.deque()
        self._low: collections.deque[tuple[float, threading.Event]] = collections.deque()

    @contextlib.contextmanager
    def held(self, *, low: bool = False) -> Iterator[None]:
        """Hold one slot for the duration of the block."""
        turn = None
        with self._mutex:
            if self._free and not self._normal and not self._low:
                self._free -= 1
            else:
                turn = threading.Event()
                if low:
                    self._low.append((self._clock(), turn))
                else:
                    self._normal.append(turn)
        if turn is not None:
            turn.wait()  # the releasing thread hands its slot over
        try:
            yield
        finally:
            self._release()

    def waiting(self) -> int:
        """Requests waiting for a slot."""
        with self._mutex:
            return len(self._normal) + len(self._low)

    def _release(self) -> None:
        with self._mutex:
            if self._low and self._clock() - self._low[0][0] >= self._patience:
                self._low.popleft()[1].set()
            elif self._normal:
                self._normal.popleft().set()
            elif self._low:
                self._low.popleft()[1].set()
            else:
                self._free += 1


class DeployTimes:
    """How long deploys took in this apply, to wait that long before the first poll.

    Polling from the first moment costs several reads per model while the cluster is
    busy deploying (the first read is nearly always too early). Deploys of remote
    models on one cluster take about the same time, so after the first one the wait
    starts at a fraction of the shortest seen; backoff polling covers the rest.
    """

    SHARE = 0.8
    """Of the shortest deploy seen: short enough not to overshoot a faster deploy much."""

    def __init__(self) -> None:
        self._shortest: float | None = None
        self._lock = threading.Lock()

    def seen(self, seconds: float) -> None:
        """A deploy took `seconds` from its request to the first read showing it settled."""
        with self._lock:
            if self._shortest is None or seconds < self._shortest:
                self._shortest = seconds

    def first_wait(self) -> float:
        """Seconds to wait after a deploy request before reading the model's state."""
        with self._lock:
            return 0.0 if self._shortest is None else self._shortest * self.SHARE


@dataclasses.dataclass(frozen=True)
class Settings:
    """How patient an apply is."""

    deploy_timeout: float = 300.0
    """Seconds to wait for a model to reach DEPLOYED or UNDEPLOYED."""
    backoff: Backoff = dataclasses.field(default_factory=Backoff)
    """Retries of transient failures."""
    timing: Timing = dataclasses.field(default_factory=Timing)
    state_index: str = "osml-state"
    refresh_wait: float = 1.5
    """Seconds a search may lag a create (a real cluster refreshes every second, §10):
    waited before looking for a create whose answer was lost."""


class Executor:
    """Runs single changes against one cluster."""

    def __init__(
        self,
        *,
        calls: MlCalls,
        conn: Connection,
        records: Records,
        secrets: Mapping[SecretPath, Secret],
        fingerprint_key: bytes | None,
        observer: ApplyObserver,
        settings: Settings | None = None,
        parallelism: int = 10,
        guard: Callable[[], None] | None = None,
        intents: Intents | None = None,
        planned: Mapping[ResourceKey, Change] | None = None,
    ) -> None:
        self.calls = calls
        self.planned: Mapping[ResourceKey, Change] = planned or {}
        """The plan's changes by resource: a replace re-sends the consumers it rewires."""
        self.conn = conn
        self.records = records
        self.secrets = secrets
        self.fingerprint_key = fingerprint_key
        self.observer = observer
        self.settings = settings or Settings()
        self.slots = Slots(parallelism)
        """ML Commons requests in flight; a change waiting for DEPLOYED or backing off
        holds none."""
        self.deploys = DeployTimes()
        self.guard = guard or _unguarded
        """Raises (LockError) once this run may no longer act: called before every
        request, so a run whose lock was taken over stops instead of racing the new
        holder."""
        self._intents: dict[ResourceKey, bool | ClusterError] = {}
        """Intents written up front: whether the record was an intent already (an
        interrupted earlier run), or why the write failed."""
        stored = records.stored()
        if intents is not None:
            stored.update(intents.written)
            for key, record in intents.written.items():
                records.put(record)
                self._intents[key] = key in intents.interrupted
            self._intents.update(intents.failed)
            if intents.fingerprint_key is not None:
                self.fingerprint_key = intents.fingerprint_key
        self.writer = StateWriter(
            conn, index=self.settings.state_index, stored=stored, guard=self.guard
        )
        self._pending: dict[ResourceKey, list[Future[StateRecord | None]]] = {}
        self._pending_lock = threading.Lock()
        self.begun: dict[ResourceKey, str] = {}
        """New IDs of resources whose replacement is in place but whose old one is not
        yet retired (nor the record moved): what references to them resolve to."""
        self._probes: dict[ResourceKey, ProbeResult] = {}
        """Probe outcomes of this apply, for records written after the probe ran (a
        model replace records the new model once the old one is gone)."""

    # --- building blocks -------------------------------------------------------------

    def request(self, call: Callable[[], T], *, low: bool = False) -> T:
        """Run one request while holding a slot, so at most `parallelism` are in flight;
        `low` (a poll) lets other waiting requests go first (`Slots`)."""
        with self.slots.held(low=low):
            self.guard()
            return call()

    def retried(self, call: Callable[[], T], *, low: bool = False) -> T:
        """`call` retried on transient failures, each attempt in its own slot."""
        return retry(
            lambda: self.request(call, low=low),
            backoff=self.settings.backoff,
            timing=self.settings.timing,
        )

    def retried_unless_gone(self, call: Callable[[], object]) -> None:
        """A delete-like call, retried; the target already being gone is success (a
        re-run, or an earlier answer that was lost)."""
        with contextlib.suppress(ClusterNotFoundError):
            self.retried(call)

    def body(
        self,
        change: Change,
        *,
        sent: bool = True,
        new_ids: Mapping[ResourceKey, str] | None = None,
    ) -> Materialized:
        """The change's `after` with IDs and secret values in place; `sent=False` for a
        body that only goes to the state record (keys minted at apply time stay as the
        server has them: `bodies.materialize`). `new_ids` overrides the recorded IDs of
        resources being replaced (a consumer rewired before the record moves)."""
        if change.after is None:
            raise ApplyError(f"{change.key}: the plan holds no body for {change.action}")
        current = None if sent else self.records.get(change.key)
        overrides = new_ids or {}
        return materialize(
            change.after,
            key=change.key,
            resolve_id=lambda key: (
                overrides.get(key) or self.begun.get(key) or self.records.live_id(key)
            ),
            secrets=self.secrets,
            fingerprint_key=self.fingerprint_key,
            unsent=current,
        )

    def begin(self, key: ResourceKey, new_id: str) -> None:
        """The replacement of `key` is in place as `new_id`: changes that run before the
        old one is retired (its `retire_after`) refer to the new one."""
        self.begun[key] = new_id

    def intent(self, change: Change) -> bool:
        """Make sure the intent of a create is stored before the create is sent.

        Returns whether the record was already an intent: an earlier run was cut short
        around this very create, which may have happened (the caller then looks for it
        before creating).
        """
        written = self._intents.get(change.key)
        if isinstance(written, ClusterError):
            raise written
        if written is not None:
            return written
        current = self.records.get(change.key)
        interrupted = current is not None and current.status == "intent"
        intent = _intent_of(change, current)
        self.writer.submit(intent).result()
        self.records.put(intent)
        self._intents[change.key] = interrupted
        return interrupted

    def record(self, change: Change, live_id: str | None, body: Materialized) -> None:
        """Queue the managed record of what was just applied (`settle` awaits it)."""
        applied = dict(body.recordable)
        if change.lifecycle is not None:
            applied["lifecycle"] = dict(change.lifecycle)
        record = StateRecord(
            key=change.key,
            status="managed",
            id=live_id,
            spec_hash=body.spec_hash,
            applied=applied,
            fingerprints=body.fingerprints,
            leases=body.leases,
            probe=self._probe_to_record(change),
        )
        self.records.put(record)
        self._track(change.key, self.writer.submit(record))

    def _probe_to_record(self, change: Change) -> ProbeResult | None:
        """The probe outcome a new record of `change` keeps: this apply's, else pending
        when a probed deploy follows, else the one recorded before."""
        if change.key in self._probes:
            return self._probes[change.key]
        if change.probe is not None and change.deploy_after:
            return _pending_probe()
        current = self.records.get(change.key)
        return current.probe if current is not None and current.status == "managed" else None

    def probe_pending(self, key: ResourceKey) -> None:
        """Queue recording that a deploy to be probed starts, so that a run cut short
        before the probe ends leaves a probe the next plan runs again."""
        current = self.records.get(key)
        if current is None or current.status != "managed" or key in self._probes:
            return
        if current.probe is not None and current.probe.outcome == "pending":
            return  # the record just queued says so already
        self._put_probe(current, dataclasses.replace(_pending_probe(), failures=_failures(current)))

    def record_probe(self, key: ResourceKey, *, error: str | None) -> ProbeResult:
        """Queue recording how a probe ended (`error` None: it passed); the result."""
        current = self.records.get(key)
        previous = self._probes.get(key) or (current.probe if current is not None else None)
        failures = previous.failures if previous is not None else 0
        result = ProbeResult(
            outcome="passed" if error is None else "failed",
            at=_utc_now(),
            failures=0 if error is None else failures + 1,
            error="" if error is None else error[:PROBE_ERROR_CHARS],
        )
        self._probes[key] = result
        if current is not None and current.status == "managed":
            self._put_probe(current, result)
        return result

    def _put_probe(self, current: StateRecord, result: ProbeResult) -> None:
        record = dataclasses.replace(current, probe=result)
        self.records.put(record)
        self._track(current.key, self.writer.submit(record))

    def forget(self, key: ResourceKey) -> None:
        """Queue deleting the record of a resource that no longer exists."""
        current = self.records.get(key)
        self.records.forget(key)
        if current is not None:
            self._track(key, self.writer.submit(current, delete=True))

    def settle(self, key: ResourceKey) -> None:
        """Wait for the state writes of `key`'s change; raise the first that failed."""
        with self._pending_lock:
            futures = self._pending.pop(key, [])
        for future in futures:
            future.result()

    def _track(self, key: ResourceKey, future: Future[StateRecord | None]) -> None:
        with self._pending_lock:
            self._pending.setdefault(key, []).append(future)

    # --- settings --------------------------------------------------------------------

    def apply_settings(self, change: Change) -> None:
        """Settings kinds live in cluster settings (§9), not in documents.

        `after["settings"]` is the persistent-settings body (None resets a key to its
        default); the rest of `after` is what the next plan needs and goes to the record.
        """
        body = self.body(change)
        persistent = body.body.get("settings", {})
        if persistent:
            self.retried(lambda: self.calls.put_cluster_settings(persistent))
        if change.action is Action.DELETE:
            self.forget(change.key)
        else:
            self.record(change, None, body)


def prepare_intents(
    conn: Connection,
    changes: Iterable[Change],
    *,
    current: Mapping[ResourceKey, StateRecord],
    index: str,
    new_fingerprint_key: bytes | None = None,
) -> Intents:
    """Write the intents of every change that creates, all at once, before any create.

    An intent keeps the ID being replaced (if any) and what was applied before, so a
    crash right after the create leaves enough for the next plan to adopt the new
    resource instead of creating a duplicate.
    """
    intents = [_intent_of(c, current.get(c.key)) for c in changes]
    return write_intents(
        conn, intents, current=current, index=index, new_fingerprint_key=new_fingerprint_key
    )


def _intent_of(change: Change, current: StateRecord | None) -> StateRecord:
    return StateRecord(
        key=change.key,
        status="intent",
        id=change.live_id,
        spec_hash=current.spec_hash if current else "",
        applied=current.applied if current else {},
        fingerprints=current.fingerprints if current else {},
        leases=current.leases if current else {},
    )


PROBE_ERROR_CHARS = 500
"""Longest failure reason kept in a state record."""


def _pending_probe() -> ProbeResult:
    return ProbeResult(outcome="pending", at=_utc_now())


def _failures(record: StateRecord) -> int:
    return record.probe.failures if record.probe is not None else 0


def _utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _unguarded() -> None:
    """The guard of a run that holds no lease (tests of the executor alone)."""
