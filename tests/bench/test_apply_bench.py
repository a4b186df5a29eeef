"""Apply time for N remote models (register + deploy) next to the critical-path lower bound.

Every request to the sandbox is slowed by a fixed latency and every deploy takes a fixed
delay before DEPLOYED, as on a real cluster. The lower bound is what the operations
themselves need with P requests in flight: one group and one connector create, then per
model a register, a deploy and one read of the state, so `2 + 3N` requests; the time is
at least the longest chain (group -> register -> deploy -> delay -> read) and at least
`(2 + 3N) * latency / P`. osml's own state writes are overhead measured against it.

Small by default so CI stays fast; the recorded figures (docs/performance.md) come from
`OSML_BENCH_SIZE=200 OSML_BENCH_LATENCY=0.05 pytest tests/bench/test_apply_bench.py -s`.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest

from tests.integration import support
from tests.integration.support import connector, group, model, write

pytestmark = pytest.mark.bench
SIZE = int(os.environ.get("OSML_BENCH_SIZE", "10"))
LATENCY = float(os.environ.get("OSML_BENCH_LATENCY", "0.005"))
DEPLOY_DELAY = float(os.environ.get("OSML_BENCH_DEPLOY_DELAY", "0.2"))


def lower_bound(models: int, *, parallelism: int) -> float:
    """Seconds the operations need at best with `parallelism` requests in flight."""
    chain = 4 * LATENCY + DEPLOY_DELAY
    requests = 2 + 3 * models
    return max(chain, math.ceil(requests / parallelism) * LATENCY)


@pytest.mark.parametrize("parallelism", [1, 10])
def test_apply_time_against_the_lower_bound(
    sandbox_factory, tmp_path: Path, parallelism: int
) -> None:
    sandbox = sandbox_factory("3.x", deploy_delay=DEPLOY_DELAY)
    docs = [group("bench"), connector("bench")]
    docs += [model(f"m{i}", connector_name="bench", group_name="bench") for i in range(SIZE)]
    paths = write(tmp_path / "m", docs)
    sandbox.faults.configure({"rules": [{"route": "*", "latency": LATENCY}]})

    started = time.perf_counter()
    result = support.apply(
        sandbox.url, paths, parallelism=parallelism, settings=support.fast_settings(deploy_timeout=60)
    )
    elapsed = time.perf_counter() - started

    assert result.ok, result.failures
    bound = lower_bound(SIZE, parallelism=parallelism)
    print(
        f"\napply {SIZE} models, latency {LATENCY * 1000:.0f} ms, deploy {DEPLOY_DELAY:.2f} s, "
        f"parallelism {parallelism}: {elapsed:.2f} s; lower bound {bound:.2f} s; "
        f"ratio {elapsed / bound:.2f}"
    )
