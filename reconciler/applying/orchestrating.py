"""Execute a whole Plan: the dependency graph, observers, and the result.

`apply_plan` runs each change of the plan it is given (never re-planning) through the
Executor on a bounded pool of workers, in dependency order; a failed change skips its
dependents with a reason and the rest goes on. The intents of all creates are written
first, in one request; a change's dependents start once its cluster calls answered,
while its state record is still being written (the change ends when it is stored).
A change with `retire_after` runs as two tasks: its beginning (the new resource in place)
and its retirement (the old one deleted, the record moved), which waits for the changes
it names; those wait only for the beginning, everything else for the whole change.
Every event reaches the observer, and every error text is scrubbed of known secret
values before it leaves. The caller holds the state lock and has checked the plan is
current.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from reconciler.applying.acting import Finish, begin_change, writes_intent
from reconciler.applying.bodies import SecretPath
from reconciler.applying.executing import Executor, Records, Settings, prepare_intents
from reconciler.applying.recording import Intents, restore
from reconciler.applying.scheduling import Outcome as TaskOutcome
from reconciler.applying.scheduling import Status, Task, run_graph
from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import Connection
from reconciler.cluster.snapshots import StateSnapshot
from reconciler.cluster.state import ensure_state_index, new_key
from reconciler.outcomes import ApplyObserver, ApplyResult, ChangeResult, Outcome
from reconciler.plans import Change, Plan
from reconciler.resources import ResourceKey
from reconciler.secrets import Secret, scrub

Clock = Callable[[], float]

_MAX_WORKERS = 128
"""Changes in progress at once, most of them usually waiting on deploys."""
_UNRUN = (Status.SKIPPED, Status.NOT_STARTED)


@dataclasses.dataclass(frozen=True, slots=True)
class Beginning:
    """The task key of a change's first part, up to retiring the old resource."""

    key: ResourceKey


TaskKey = ResourceKey | Beginning


def apply_plan(
    plan: Plan,
    *,
    conn: Connection,
    calls: MlCalls,
    state: StateSnapshot,
    secrets: Mapping[SecretPath, Secret],
    observer: ApplyObserver,
    parallelism: int = 10,
    settings: Settings | None = None,
    stop: threading.Event | None = None,
    clock: Clock = time.monotonic,
    guard: Callable[[], None] | None = None,
    refresh_state: bool = True,
    intents: Intents | None = None,
) -> ApplyResult:
    """Run every change of `plan`; an ApplyResult with one entry per change.

    `guard` is called before every request and raises when the run may no longer act
    (the caller passes its lease's `check`: a lost lock fails what is left).
    `refresh_state` makes the state records visible to searches before returning.
    `intents` were written by the caller already (`write_plan_intents`).
    """
    settings = settings or Settings()
    started = clock()
    changes = [c for c in plan.changes if c.is_change]
    results: dict[ResourceKey, ChangeResult] = {}
    if changes:
        if intents is None:
            if guard is not None:
                guard()
            if not state.exists:
                ensure_state_index(conn, index=settings.state_index)
            intents = write_plan_intents(conn, plan, state=state, index=settings.state_index)
        executor = Executor(
            calls=calls,
            conn=conn,
            records=Records(state.records),
            secrets=secrets,
            fingerprint_key=state.fingerprint_key,
            observer=observer,
            settings=settings,
            parallelism=parallelism,
            guard=guard,
            intents=intents,
            planned={c.key: c for c in changes},
        )
        try:
            planned = {c.key: c for c in changes}
            tasks = [
                task
                for c in changes
                for task in _tasks(c, planned, executor=executor, results=results, clock=clock)
            ]
            # Workers may outnumber request slots: a change waiting for a deploy holds a
            # worker but no slot, so `parallelism` bounds the load on the cluster only.
            workers = max(parallelism, min(len(tasks), _MAX_WORKERS))
            outcomes = run_graph(tasks, parallelism=workers, stop=stop)
            # A change whose beginning ran keeps its intent: the next run finishes it.
            unrun = [c.key for c in changes if _first(outcomes, c.key).status in _UNRUN]
            if unrun and _may_act(guard):
                restore(conn, intents, unrun, before=state.records, index=settings.state_index)
        finally:
            executor.writer.close(refresh=refresh_state)
        for change in changes:
            _report_unrun(change, outcomes, results=results, observer=observer)
    result = ApplyResult(tuple(results[c.key] for c in changes), duration=clock() - started)
    observer.on_summary(result)
    return result


def _may_act(guard: Callable[[], None] | None) -> bool:
    """Whether the run still holds its lock (a lost one leaves the state to its holder)."""
    try:
        if guard is not None:
            guard()
    except Exception:  # the guard's LockError: not ours to touch any more
        return False
    return True


def write_plan_intents(
    conn: Connection, plan: Plan, *, state: StateSnapshot, index: str
) -> Intents:
    """The intents of every change of `plan` that creates, written in one go over the
    records of `state`, with a new fingerprint key when `state` has none."""
    return prepare_intents(
        conn,
        [c for c in plan.changes if c.is_change and writes_intent(c)],
        current=state.records,
        index=index,
        new_fingerprint_key=new_key() if state.fingerprint_key is None else None,
    )


def _first(
    outcomes: Mapping[TaskKey, TaskOutcome[TaskKey]], key: ResourceKey
) -> TaskOutcome[TaskKey]:
    """The outcome of the first part of `key`'s change (its beginning, when split)."""
    return outcomes.get(Beginning(key)) or outcomes[key]


def _retiring(change: Change, planned: Mapping[ResourceKey, Change]) -> tuple[ResourceKey, ...]:
    """The planned changes that must finish before `change` retires the old resource."""
    return tuple(key for key in change.retire_after if key in planned and key != change.key)


def _waits(change: Change, planned: Mapping[ResourceKey, Change]) -> tuple[TaskKey, ...]:
    """What `change` waits for: the beginning of a change it retires after, else the
    whole of each change it depends on."""
    return tuple(
        Beginning(dep) if dep in planned and change.key in _retiring(planned[dep], planned) else dep
        for dep in change.depends_on
    )


def _tasks(
    change: Change,
    planned: Mapping[ResourceKey, Change],
    *,
    executor: Executor,
    results: dict[ResourceKey, ChangeResult],
    clock: Clock,
) -> Sequence[Task[TaskKey]]:
    """One task for the change, or two (beginning, retirement) when it has `retire_after`."""
    run = _ChangeRun(change, executor=executor, results=results, clock=clock)
    waits = _waits(change, planned)
    later = _retiring(change, planned)
    if not later:
        return (Task(change.key, run.whole, depends_on=waits, settle=run.settle),)
    first = Beginning(change.key)
    return (
        Task(first, run.begin, depends_on=waits),
        Task(change.key, run.finish, depends_on=(first, *later), settle=run.settle),
    )


class _ChangeRun:
    """The steps of one change as the graph runs them, and the result they leave."""

    def __init__(
        self,
        change: Change,
        *,
        executor: Executor,
        results: dict[ResourceKey, ChangeResult],
        clock: Clock,
    ) -> None:
        self.change = change
        self.executor = executor
        self.results = results
        self.clock = clock
        self.started = 0.0
        self.live_id: str | None = None
        self.rest: Finish | None = None
        """What is left once the beginning ran: retiring the old resource."""

    def whole(self) -> None:
        """A change that is not split: its beginning and its end in one task."""
        self.begin()
        self.finish()

    def begin(self) -> None:
        """Everything up to retiring the old resource (all there is to most changes)."""
        self.executor.observer.on_start(self.change)
        self.started = self.clock()
        try:
            self.rest = begin_change(self.executor, self.change)
        except Exception as exc:
            self._stopped(exc)
            raise

    def finish(self) -> None:
        """Retire the old resource and record the new one."""
        assert self.rest is not None  # the graph runs this only after the beginning
        try:
            self.live_id = self.rest()
        except Exception as exc:
            self._stopped(exc)
            raise

    def settle(self) -> None:
        """Wait for the change's state writes; the change ends here, done or failed."""
        change = self.change
        try:
            self.executor.settle(change.key)
        except Exception as exc:
            self._failed(exc)
            raise
        duration = self.clock() - self.started
        self.results[change.key] = ChangeResult(
            change.key,
            change.action,
            Outcome.DONE,
            live_id=self.live_id,
            duration=duration,
            tally=change.tally,
        )
        self.executor.observer.on_finish(
            change, outcome=Outcome.DONE, duration=duration, live_id=self.live_id
        )

    def _stopped(self, exc: Exception) -> None:
        """A step failed: what it did write is stored before the change ends, failed."""
        with contextlib.suppress(Exception):
            self.executor.settle(self.change.key)
        self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        change = self.change
        error = scrub(str(exc)) or type(exc).__name__
        duration = self.clock() - self.started
        self.results[change.key] = ChangeResult(
            change.key, change.action, Outcome.FAILED, duration=duration, error=error
        )
        self.executor.observer.on_finish(
            change, outcome=Outcome.FAILED, duration=duration, error=error
        )


def _report_unrun(
    change: Change,
    outcomes: Mapping[TaskKey, TaskOutcome[TaskKey]],
    *,
    results: dict[ResourceKey, ChangeResult],
    observer: ApplyObserver,
) -> None:
    outcome = outcomes[change.key]
    if outcome.status not in _UNRUN or change.key in results:
        return  # it ran, or its beginning failed and said so
    if _first(outcomes, change.key).status is Status.SUCCEEDED:
        # The new resource is in place; the old one stays until a change it waits for
        # succeeds. The intent keeps the old ID, so the next apply finishes the job.
        error = f"the old one was kept: {outcome.reason.replace('skipped ', 'not deleted ')}"
        results[change.key] = ChangeResult(change.key, change.action, Outcome.FAILED, error=error)
        observer.on_finish(change, outcome=Outcome.FAILED, duration=0.0, error=error)
        return
    results[change.key] = ChangeResult(
        change.key, change.action, Outcome.SKIPPED, error=outcome.reason
    )
    observer.on_finish(change, outcome=Outcome.SKIPPED, duration=0.0, error=outcome.reason)
