"""Apply time for a mixed fleet (groups, connectors, deployed models) next to the lower bound.

Every request to the sandbox is slowed by a fixed latency and every deploy takes a fixed
delay before DEPLOYED, as on a real cluster. The lower bound (`baselines`) is what the
operations themselves need with P requests in flight: one create per group and
connector, then per model a register, a deploy and one read of its state; the time is at
least the longest chain (group -> register -> deploy -> delay, the read answered as the
deploy settles) and at least the request volume divided by P. osml's own state writes
and polling are overhead measured against it; the safe-apply floor adds the requests in
a row that the lock and the intent journal cost any apply. The sandbox runs in its own
process, so CPU time here is osml's alone.

Small by default so CI stays fast; the recorded figures (docs/performance.md) come from
`OSML_BENCH_SIZE=5000 OSML_BENCH_LATENCY=0.005,0.05 pytest tests/bench -s`
(parallelism 1 only up to 100 resources: beyond, it measures nothing new, slowly).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest

from reconciler.mlcommons.versions import Version
from reconciler.outcomes import ApplyResult
from reconciler.planning import PlanOptions
from reconciler.reconciling import ApplyOptions, apply_checked, plan_against, read_desired
from tests.bench import baselines
from tests.bench.fleets import (
    DEPLOY_DELAY,
    LATENCIES,
    Fleet,
    RemoteSandbox,
    ladder,
    remote_sandbox,
)
from tests.integration import support

pytestmark = pytest.mark.bench
STATE = "osml-state"
SERIAL_LIMIT = 100
"""The largest fleet applied with parallelism 1."""


def _cases() -> list[tuple[int, int]]:
    return [(n, p) for n in ladder() for p in (1, 10) if p > 1 or n <= SERIAL_LIMIT]


@pytest.mark.parametrize("latency", LATENCIES, ids=lambda s: f"latency={s * 1000:g}ms")
@pytest.mark.parametrize(("size", "parallelism"), _cases(), ids=str)
def test_apply_time_against_the_lower_bound(
    tmp_path: Path, size: int, parallelism: int, latency: float
) -> None:
    fleet = Fleet(size)
    paths = support.write(tmp_path / "m", fleet.docs())
    with remote_sandbox(deploy_delay=DEPLOY_DELAY) as sandbox:
        sandbox.set_latency(latency)
        cpu = time.process_time()
        result, planning, applying = timed_apply(sandbox, paths, parallelism=parallelism)
        cpu = time.process_time() - cpu
        sent = len(sandbox.requests())

    assert result.ok, result.failures
    bound = baselines.apply_seconds(
        fleet, latency=latency, deploy_delay=DEPLOY_DELAY, parallelism=parallelism
    )
    floor = baselines.safe_apply_seconds(
        fleet, latency=latency, deploy_delay=DEPLOY_DELAY, parallelism=parallelism
    )
    needed = baselines.apply_requests(fleet)
    print(
        f"\n| apply | {size} | {latency * 1000:g} ms | P={parallelism} | {sent} | {needed} "
        f"| {sent / needed:.2f} | {applying:.2f} s | {bound:.2f} s | {applying / bound:.2f} "
        f"| {floor:.2f} s | {applying / floor:.2f} | {planning:.2f} s | {cpu:.2f} s |"
    )
    if parallelism == 10 and latency >= 0.05:
        assert applying <= 1.5 * floor
        if size >= 100:
            assert applying <= 1.5 * bound


def timed_apply(
    sandbox: RemoteSandbox, paths: Path, *, parallelism: int
) -> tuple[ApplyResult, float, float]:
    """Plan and apply `paths` as `osml apply` does; the result, then the seconds of the
    connect and plan and of the apply. The sandbox's request log is cleared in between,
    so it holds the apply's requests only."""
    started = time.perf_counter()
    with support.open_connection(sandbox.url) as conn:
        desired = read_desired([paths], version=Version.parse(conn.version), env=support.ENV)
        planned = plan_against(conn, desired, options=PlanOptions(), state_index=STATE)
        planning = time.perf_counter() - started
        sandbox.clear_requests()
        started = time.perf_counter()
        result = apply_checked(
            conn,
            planned.plan,
            desired,
            observer=support.Recorder(),
            options=options(parallelism),
            seen=planned.snapshot,
        )
        return result, planning, time.perf_counter() - started


def options(parallelism: int) -> ApplyOptions:
    """Apply options of the bench: short retry delays, patient deploys."""
    return ApplyOptions(parallelism=parallelism, settings=support.fast_settings(deploy_timeout=600))


MODELS = int(os.environ.get("OSML_BENCH_MODELS", "5"))
"""Issue 5's figure: `OSML_BENCH_MODELS=200 OSML_BENCH_LATENCY=0.05 pytest
tests/bench/test_apply_bench.py -k models -s` (200 remote models, register + deploy)."""


@dataclasses.dataclass(frozen=True)
class ModelFleet:
    """One group, one connector, `models` models that all use it."""

    models: int
    groups: int = 1
    connectors: int = 1

    def docs(self) -> list[dict[str, object]]:
        docs = [support.group("g"), support.connector("c")]
        docs += [
            support.model(f"m{i}", connector_name="c", group_name="g") for i in range(self.models)
        ]
        return docs


@pytest.mark.parametrize("latency", LATENCIES, ids=lambda s: f"latency={s * 1000:g}ms")
@pytest.mark.parametrize("parallelism", [1, 10])
def test_models_register_and_deploy_against_the_critical_path(
    tmp_path: Path, parallelism: int, latency: float
) -> None:
    fleet = ModelFleet(MODELS)
    paths = support.write(tmp_path / "m", fleet.docs())
    with remote_sandbox(deploy_delay=DEPLOY_DELAY) as sandbox:
        sandbox.set_latency(latency)
        result, _, applying = timed_apply(sandbox, paths, parallelism=parallelism)
    assert result.ok, result.failures
    bound = baselines.apply_seconds(
        fleet,  # type: ignore[arg-type]
        latency=latency,
        deploy_delay=DEPLOY_DELAY,
        parallelism=parallelism,
    )
    print(
        f"\n| {MODELS} models | {latency * 1000:g} ms | P={parallelism} | {applying:.2f} s "
        f"| {bound:.2f} s | {applying / bound:.2f} |"
    )
