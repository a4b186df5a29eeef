"""Execute a whole Plan: the dependency graph, observers, and the result.

`apply_plan` runs each change of the plan it is given (never re-planning) through the
Executor on a bounded pool of workers, in dependency order; a failed change skips its
dependents with a reason and the rest goes on. Every event reaches the observer, and
every error text is scrubbed of known secret values before it leaves. The caller holds
the state lock and has checked the plan is current.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from reconciler.applying.acting import run_change
from reconciler.applying.bodies import SecretPath
from reconciler.applying.executing import Executor, Records, Settings
from reconciler.applying.scheduling import Outcome as TaskOutcome
from reconciler.applying.scheduling import Status, Task, run_graph
from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import Connection
from reconciler.cluster.snapshots import StateSnapshot
from reconciler.cluster.state import ensure_state_index, fingerprint_key
from reconciler.outcomes import ApplyObserver, ApplyResult, ChangeResult, Outcome
from reconciler.plans import Change, Plan
from reconciler.resources import ResourceKey
from reconciler.secrets import Secret, scrub

_MAX_WORKERS = 128
"""Changes in progress at once, most of them usually waiting on deploys."""


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
    clock: Callable[[], float] = time.monotonic,
    guard: Callable[[], None] | None = None,
) -> ApplyResult:
    """Run every change of `plan`; an ApplyResult with one entry per change.

    `guard` is called before every request and raises when the run may no longer act
    (the caller passes its lease's `check`: a lost lock fails what is left).
    """
    settings = settings or Settings()
    started = clock()
    changes = [c for c in plan.changes if c.is_change]
    results: dict[ResourceKey, ChangeResult] = {}
    if changes:
        executor = Executor(
            calls=calls,
            conn=conn,
            records=Records(state.records),
            secrets=secrets,
            fingerprint_key=_fingerprint_key(conn, state=state, index=settings.state_index),
            observer=observer,
            settings=settings,
            parallelism=parallelism,
            guard=guard,
        )
        tasks = [_task(c, executor=executor, results=results, clock=clock) for c in changes]
        # Workers may outnumber request slots: a change waiting for a deploy holds a
        # worker but no slot, so `parallelism` bounds the load on the cluster only.
        workers = max(parallelism, min(len(tasks), _MAX_WORKERS))
        outcomes = run_graph(tasks, parallelism=workers, stop=stop)
        for change in changes:
            _report_unrun(change, outcomes[change.key], results=results, observer=observer)
    result = ApplyResult(tuple(results[c.key] for c in changes), duration=clock() - started)
    observer.on_summary(result)
    return result


def _fingerprint_key(conn: Connection, *, state: StateSnapshot, index: str) -> bytes | None:
    """The HMAC key, creating the state index and key when the snapshot had none.

    The snapshot was read under the lock, whose document lives in the state index: when
    it already holds the key, reading it again would only add two requests in a row
    to every apply (a fixed cost that dominates small applies on a slow link).
    """
    if state.exists and state.fingerprint_key is not None:
        return state.fingerprint_key
    if state.exists:
        # The index exists (the lock lives in it) and held no key a moment ago.
        return fingerprint_key(conn, create=True, index=index, known_absent=True)
    ensure_state_index(conn, index=index)
    return fingerprint_key(conn, create=True, index=index)


def _task(
    change: Change,
    *,
    executor: Executor,
    results: dict[ResourceKey, ChangeResult],
    clock: Callable[[], float],
) -> Task[ResourceKey]:
    def run() -> None:
        executor.observer.on_start(change)
        started = clock()
        try:
            live_id = run_change(executor, change)
        except Exception as exc:
            error = scrub(str(exc)) or type(exc).__name__
            duration = clock() - started
            results[change.key] = ChangeResult(
                change.key, change.action, Outcome.FAILED, duration=duration, error=error
            )
            executor.observer.on_finish(
                change, outcome=Outcome.FAILED, duration=duration, error=error
            )
            raise
        duration = clock() - started
        results[change.key] = ChangeResult(
            change.key, change.action, Outcome.DONE, live_id=live_id, duration=duration
        )
        executor.observer.on_finish(
            change, outcome=Outcome.DONE, duration=duration, live_id=live_id
        )

    return Task(change.key, run, depends_on=change.depends_on)


def _report_unrun(
    change: Change,
    outcome: TaskOutcome[ResourceKey],
    *,
    results: dict[ResourceKey, ChangeResult],
    observer: ApplyObserver,
) -> None:
    if outcome.status not in (Status.SKIPPED, Status.NOT_STARTED):
        return
    results[change.key] = ChangeResult(
        change.key, change.action, Outcome.SKIPPED, error=outcome.reason
    )
    observer.on_finish(change, outcome=Outcome.SKIPPED, duration=0.0, error=outcome.reason)
