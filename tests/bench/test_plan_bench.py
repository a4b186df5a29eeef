"""Plan cost at scale: osml next to the lower bound and a naive per-resource reader.

A fleet of N mixed resources (10% model groups, 20% connectors, 70% deployed models) is
applied to a sandbox running in its own process, then planned with no change and with
1% of the models drifted, at each configured per-request latency. For every plan the
bench records requests (counted by the sandbox's request log), wall time, and CPU time
of this process, which is osml's own: the sandbox's threads live in the other process.

`OSML_BENCH_SIZE` is the largest fleet (the ladder 10, 100, 1000, 5000 up to it) and
`OSML_BENCH_LATENCY` a comma-separated list of latencies; the defaults (10 resources,
5 ms) keep CI fast. The figures of docs/performance.md come from
`OSML_BENCH_SIZE=5000 OSML_BENCH_LATENCY=0.005,0.05 pytest tests/bench -s`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from reconciler.cluster.connecting import Connection
from reconciler.cluster.reading import read_snapshot
from reconciler.mlcommons.versions import Version
from reconciler.planning import PlanOptions, make_plan
from reconciler.plans import Plan
from reconciler.reconciling import Desired, plan_against, read_desired
from tests.bench import baselines
from tests.bench.fleets import LATENCIES, Fleet, RemoteSandbox, ladder, remote_sandbox
from tests.integration import support

pytestmark = pytest.mark.bench
STATE = "osml-state"
T = TypeVar("T")
CPU_BUDGET = 5.0
"""Seconds of osml CPU a no-change plan of 5,000 resources may take (issue 9)."""


@dataclasses.dataclass(frozen=True)
class Measured:
    """One plan run: what it cost and what it found."""

    requests: int
    seconds: float
    cpu: float
    """CPU seconds of this process: osml alone (the sandbox runs elsewhere)."""
    server: float
    """Seconds the sandbox spent answering, summed over requests (latency included,
    encoding the response excluded): of the wall time, what is not osml's."""
    changes: dict[str, str]


@pytest.fixture(scope="module", params=ladder(), ids=lambda n: f"size={n}")
def populated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RemoteSandbox, Fleet]]:
    """A sandbox holding an applied fleet (no latency while it is built)."""
    fleet = Fleet(request.param)
    paths = support.write(tmp_path_factory.mktemp("fleet"), fleet.docs())
    with remote_sandbox() as sandbox:
        settings = support.fast_settings(deploy_timeout=600)
        result = support.apply(sandbox.url, paths, parallelism=10, settings=settings)
        assert result.ok, result.failures
        yield sandbox, fleet


def measure(sandbox: RemoteSandbox, run: Callable[[], Plan]) -> Measured:
    """Run one plan, counting its requests and its time."""
    sandbox.clear_requests()
    started, cpu = time.perf_counter(), time.process_time()
    plan = run()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    sent = sandbox.requests()
    server = sum(float(e["duration_ms"]) for e in sent) / 1000
    return Measured(len(sent), seconds, cpu, server, support.actions(plan))


def osml_plan(url: str, paths: Path) -> Plan:
    """What `osml plan` does, rendering aside: connect, load, read once, plan."""
    with support.open_connection(url) as conn:
        desired = _desired(conn, paths)
        return plan_against(conn, desired, options=PlanOptions(), state_index=STATE).plan


def naive_plan(url: str, paths: Path) -> Plan:
    """The same plan from a snapshot read one GET per resource."""
    with support.open_connection(url) as conn:
        desired = _desired(conn, paths)
        snapshot = baselines.naive_snapshot(conn, state_index=STATE)
        return make_plan(
            desired.manifests, snapshot, secrets=desired.secrets, options=PlanOptions()
        )


def _desired(conn: Connection, paths: Path) -> Desired:
    return read_desired([paths], version=Version.parse(conn.version), env=support.ENV)


@pytest.mark.parametrize("latency", LATENCIES, ids=lambda s: f"latency={s * 1000:g}ms")
@pytest.mark.parametrize("drift", [0, 1], ids=lambda p: f"drift={p}%")
def test_plan_against_lower_bound_and_naive(
    populated: tuple[RemoteSandbox, Fleet], tmp_path: Path, latency: float, drift: int
) -> None:
    sandbox, fleet = populated
    drifted = fleet.drift(drift) if drift else frozenset()
    paths = support.write(tmp_path / "m", fleet.docs(drifted=drifted))
    sandbox.set_latency(latency)
    try:
        osml = measure(sandbox, lambda: osml_plan(sandbox.url, paths))
        naive = measure(sandbox, lambda: naive_plan(sandbox.url, paths))
    finally:
        sandbox.set_latency(0)

    assert osml.changes == {f"Model/m{i}": "update" for i in drifted}
    assert naive.changes == osml.changes
    bound = baselines.plan_requests(fleet)
    print(row(fleet, latency=latency, drift=drift, osml=osml, naive=naive, bound=bound))
    assert osml.requests <= 2 * bound


def row(
    fleet: Fleet, *, latency: float, drift: int, osml: Measured, naive: Measured, bound: int
) -> str:
    """One line of the figures, ready for docs/performance.md."""
    seconds = baselines.plan_seconds(fleet, latency=latency)
    return (
        f"\n| plan {drift}% drift | {fleet.size} | {latency * 1000:g} ms "
        f"| {osml.requests} | {bound} | {osml.requests / bound:.2f} "
        f"| {naive.requests} | {naive.requests / osml.requests:.0f}x "
        f"| {osml.seconds:.2f} s | {seconds:.3f} s | {naive.seconds:.2f} s "
        f"| {naive.seconds / osml.seconds:.1f}x | {osml.cpu:.2f} s | {osml.server:.2f} s |"
    )


def test_where_a_plan_spends_its_cpu(
    populated: tuple[RemoteSandbox, Fleet], tmp_path: Path
) -> None:
    """CPU seconds of each phase of a no-change plan: manifests, snapshot, planning."""
    sandbox, fleet = populated
    paths = support.write(tmp_path / "m", fleet.docs())
    with support.open_connection(sandbox.url) as conn:
        desired, loading = timed(lambda: _desired(conn, paths))
        snapshot, reading = timed(lambda: read_snapshot(conn, state_index=STATE))
        plan, planning = timed(
            lambda: make_plan(
                desired.manifests, snapshot, secrets=desired.secrets, options=PlanOptions()
            )
        )
    assert not support.actions(plan)
    # The budget scales with the fleet; manifest loading is the YAML parser's (see the doc).
    assert reading + planning < CPU_BUDGET * fleet.size / 5000 + 0.5
    print(
        f"\n| CPU by phase | {fleet.size} | manifests {loading:.2f} s "
        f"| snapshot {reading:.2f} s | planning {planning:.2f} s |"
    )


def timed(call: Callable[[], T]) -> tuple[T, float]:
    """`call()` and the CPU seconds it took."""
    cpu = time.process_time()
    result = call()
    return result, time.process_time() - cpu
