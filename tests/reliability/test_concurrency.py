"""Concurrency: parallel applies and watchers against one cluster, lock expiry and
takeover, a run that loses its lock mid-apply. Nothing is applied twice (the sandbox's
request log counts every create), nothing is lost (the invariants hold afterwards).
"""

from __future__ import annotations

import collections
import threading
import time
from pathlib import Path

import pytest

from reconciler.cluster.locking import acquire_lock, force_unlock, lock_status
from reconciler.errors import LockError, ReconcilerError, StalePlanError
from reconciler.mlcommons.versions import Version
from reconciler.outcomes import Outcome
from reconciler.planning import PlanOptions
from reconciler.reconciling import ApplyOptions, apply_under, plan_against, read_desired
from reconciler.rendering.progress import TextProgress
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from reconciler.watching.backoffs import Delays, ResourceBackoff
from reconciler.watching.cycle import Cycle, CycleSettings
from reconciler.watching.leading import Leadership
from reconciler.watching.logs import EventLog
from reconciler.watching.metrics import WatchMetrics
from tests.reliability.driving import STATE_INDEX, Driver, quick_settings
from tests.reliability.invariants import assert_converged
from tests.reliability.worlds import World, fleet

WORLD = fleet(connectors=2, models=4)
CREATES = ("/_plugins/_ml/connectors/_create", "/_plugins/_ml/model_groups/_register",
           "/_plugins/_ml/models/_register")  # fmt: skip


def creates(sandbox: Sandbox) -> collections.Counter[str]:
    """How many create requests of each kind the sandbox acted on."""
    return collections.Counter(
        e.path for e in sandbox.requests.entries() if e.method == "POST" and e.path in CREATES
    )


def expected_creates(world: World) -> collections.Counter[str]:
    return collections.Counter(
        {CREATES[0]: len(world.connectors), CREATES[1]: len(world.groups),
         CREATES[2]: len(world.models)}
    )  # fmt: skip


def _apply_catching(driver: Driver, paths: Path, world: World, errors: list[str]) -> None:
    try:
        result = driver.apply(paths, env=world.env())
        errors += [str(r.error) for r in result.results if r.outcome is not Outcome.DONE]
    except ReconcilerError as exc:
        errors.append(type(exc).__name__)


def test_parallel_applies_create_each_resource_once(tmp_path: Path) -> None:
    with Sandbox("3.x", deploy_delay=0.02) as sandbox:
        paths = WORLD.write(tmp_path)
        drivers = [Driver(sandbox.url, lock_timeout=30) for _ in range(4)]
        errors: list[str] = []
        threads = [
            threading.Thread(target=_apply_catching, args=(d, paths, WORLD, errors))
            for d in drivers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        # The runs that planned before the first one finished find their plan stale.
        assert set(errors) <= {"StalePlanError"}, errors
        assert creates(sandbox) == expected_creates(WORLD)
        check = Driver(sandbox.url)
        assert not check.plan(paths, env=WORLD.env()).has_changes
        with client_for(sandbox) as client:
            outputs = [o for d in drivers for o in d.outputs]
            assert_converged(client, WORLD, outputs=outputs, secrets={WORLD.secret})


def test_an_apply_while_another_holds_the_lock_fails_at_once_and_changes_nothing(
    tmp_path: Path,
) -> None:
    with Sandbox("3.x") as sandbox:
        paths = WORLD.write(tmp_path)
        driver = Driver(sandbox.url)
        with driver.connection() as conn:
            lease = acquire_lock(conn, operation="apply", index=STATE_INDEX)
            with pytest.raises(LockError, match="held by"):
                driver.apply(paths, env=WORLD.env())
            lease.release()
        assert sum(creates(sandbox).values()) == 0
        driver.converge(paths, env=WORLD.env())


def test_an_expired_lock_of_a_dead_run_is_taken_over(tmp_path: Path) -> None:
    with Sandbox("3.x") as sandbox:
        paths = WORLD.write(tmp_path)
        driver = Driver(sandbox.url, lock_timeout=10)
        with driver.connection() as conn:
            # A run that died holding a short lease: never renewed, never released.
            acquire_lock(conn, operation="apply", index=STATE_INDEX, lease_seconds=0.3)
        started = time.monotonic()
        assert driver.apply(paths, env=WORLD.env()).ok
        assert time.monotonic() - started >= 0.2
        with client_for(sandbox) as client:
            assert_converged(client, WORLD, outputs=driver.outputs, secrets={WORLD.secret})


def test_a_run_that_loses_its_lock_stops_and_the_new_holder_finishes(tmp_path: Path) -> None:
    """A paused run whose lease ran out must not act beside the run that took over."""
    with Sandbox("3.x", deploy_delay=0.3) as sandbox:
        paths = WORLD.write(tmp_path)
        first = Driver(sandbox.url)
        with first.connection() as conn:
            desired = read_desired([paths], version=Version.parse(conn.version), env=WORLD.env())
            plan = plan_against(conn, desired, options=PlanOptions(), state_index=STATE_INDEX)
            lease = acquire_lock(conn, operation="apply", index=STATE_INDEX, lease_seconds=60)
            lease.start_renewing(interval=0.05)
            taken = threading.Thread(target=_take_over, args=(sandbox.url, lease.info.lock_id))
            taken.start()
            result = apply_under(
                conn,
                plan.plan,
                desired,
                lease=lease,
                observer=TextProgress(first.outputs.append),
                options=ApplyOptions(settings=quick_settings()),
            )
            taken.join()
            lease.stop_renewing()
        # Deploys outlast the takeover: the first run fails what it had left.
        assert not result.ok
        assert any("lock" in (r.error or "") for r in result.results), result.results
        second = Driver(sandbox.url)
        second.converge(paths, env=WORLD.env())
        assert creates(sandbox) == expected_creates(WORLD)
        with client_for(sandbox) as client:
            outputs = first.outputs + second.outputs
            assert_converged(client, WORLD, outputs=outputs, secrets={WORLD.secret})


def _take_over(url: str, lock_id: str) -> None:
    """Another machine decides the holder is dead: force-unlock and take the lock."""
    time.sleep(0.15)
    with Driver(url).connection() as conn:
        for _ in range(50):  # the holder renews every 0.05 s: catch it between renewals
            try:
                force_unlock(conn, lock_id, index=STATE_INDEX)
                break
            except LockError:
                time.sleep(0.01)
        held = acquire_lock(conn, operation="apply", index=STATE_INDEX)
        time.sleep(0.2)  # long enough for the old holder's renewal to notice
        held.release()


def test_watchers_and_applies_together_converge_without_duplicates(tmp_path: Path) -> None:
    with Sandbox("3.x", deploy_delay=0.02) as sandbox:
        paths = WORLD.write(tmp_path)
        stop = threading.Event()
        lines: list[str] = []
        watchers = [
            threading.Thread(target=_watch, args=(sandbox.url, paths, stop, lines))
            for _ in range(2)
        ]
        for watcher in watchers:
            watcher.start()
        errors: list[str] = []
        appliers = [Driver(sandbox.url, lock_timeout=30) for _ in range(2)]
        for driver in appliers:
            _apply_catching(driver, paths, WORLD, errors)
        deadline = time.monotonic() + 20
        while Driver(sandbox.url).plan(paths, env=WORLD.env()).has_changes:
            assert time.monotonic() < deadline, "no convergence with watchers running"
            time.sleep(0.1)
        stop.set()
        for watcher in watchers:
            watcher.join(30)
        assert set(errors) <= {"StalePlanError", "LockError"}, errors
        assert creates(sandbox) == expected_creates(WORLD)
        with client_for(sandbox) as client:
            outputs = [*lines, *(o for d in appliers for o in d.outputs)]
            assert_converged(client, WORLD, outputs=outputs, secrets={WORLD.secret})


def _watch(url: str, paths: Path, stop: threading.Event, lines: list[str]) -> None:
    """A watcher replica: cycles in heal mode whenever it holds the lock."""
    log = EventLog(lines.append)
    metrics = WatchMetrics()
    with Driver(url).connection() as conn:
        leadership = Leadership.for_cluster(conn, log=log, metrics=metrics, index=STATE_INDEX)
        cycle = Cycle(
            conn,
            settings=CycleSettings(paths=(paths,), apply=quick_settings(), env=WORLD.env()),
            log=log,
            metrics=metrics,
            backoff=ResourceBackoff(Delays(0.01, 0.1)),
            stop=stop,
        )
        while not stop.wait(0.02):
            try:
                lease = leadership.hold()
                cycle.run(lease=lease)
                leadership.release()  # let the appliers and the other replica in
            except (ReconcilerError, StalePlanError):
                continue


@pytest.mark.parametrize("refusals", [1, 3])
def test_a_refused_lock_release_neither_hides_the_result_nor_leaves_the_lock(
    refusals: int, tmp_path: Path
) -> None:
    """Found by the random suite: a 500 on the lock's delete raised out of the apply and
    left the lock held for its whole lease, so the next apply failed with LockError."""
    with Sandbox("3.x") as sandbox:
        paths = WORLD.write(tmp_path)
        rule = {"route": "DELETE /osml-state/_doc/lock", "refuse_next": refusals, "status": 500}
        sandbox.faults.configure({"rules": [rule]})
        driver = Driver(sandbox.url)
        assert driver.apply(paths, env=WORLD.env()).ok
        with driver.connection() as conn:
            assert lock_status(conn, index=STATE_INDEX) is None
        assert not driver.plan(paths, env=WORLD.env()).has_changes
        assert driver.apply(paths, env=WORLD.env()).ok
