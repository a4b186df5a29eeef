"""A no-change plan of a fleet one fifth of which is ingest pipelines (issue 13): the
requests stay those of the lower bound whatever the number of pipelines, since every
pipeline of a kind comes back from one `GET` (docs/reference/consumers.md §6).

Sizes 10 and 5,000 (up to `OSML_BENCH_SIZE`; CI runs the smallest): the groups,
connectors and models are filled fast (`filling.py`), the pipelines by one `osml apply`,
then `osml plan --detailed-exitcode` runs in its own process. The figures of
docs/performance.md come from `OSML_BENCH_SIZE=5000 pytest tests/bench/test_consumer_bench.py -s`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.bench import baselines
from tests.bench.filling import fast_fill
from tests.bench.fleets import Fleet, remote_sandbox, write_fleet
from tests.bench.test_scale_bench import run_osml

pytestmark = pytest.mark.bench
LADDER = (10, 5_000)


def ladder() -> tuple[int, ...]:
    largest = int(os.environ.get("OSML_BENCH_SIZE") or "10")
    return tuple(n for n in LADDER if n <= largest) or (largest,)


def pipeline(i: int, fleet: Fleet) -> dict[str, Any]:
    return {
        "apiVersion": "osml/v1",
        "kind": "IngestPipeline",
        "metadata": {"name": f"p{i}"},
        "spec": {
            "processors": [
                {
                    "text_embedding": {
                        "model_id": {"ref": f"Model/m{i % fleet.models}"},
                        "field_map": {"text": "vector"},
                    }
                }
            ]
        },
    }


@pytest.mark.parametrize("size", ladder(), ids=lambda n: f"size={n}")
def test_a_no_change_plan_with_pipelines(size: int, tmp_path: Path) -> None:
    pipelines = max(2, size // 5)
    fleet = Fleet(size - pipelines)
    models = write_fleet(tmp_path / "models", fleet.docs())
    everything = write_fleet(
        tmp_path / "all", [*fleet.docs(), *(pipeline(i, fleet) for i in range(pipelines))]
    )
    with remote_sandbox() as sandbox:
        started = time.monotonic()
        assert fast_fill(sandbox, models) == fleet.size
        args = ["apply", str(everything), "--cluster", sandbox.url, "--auto-approve"]
        out, _, _ = run_osml(args, tmp_path)
        assert f"{pipelines} created" in out, out[-2000:]
        print(f"\nfilled {size} resources in {time.monotonic() - started:.1f} s")
        sandbox.clear_requests()
        args = ["plan", str(everything), "--cluster", sandbox.url, "--detailed-exitcode"]
        out, cpu, rss = run_osml(args, tmp_path)
        sent = len(sandbox.requests())
    assert "No changes" in out, out[-2000:]
    bound = baselines.plan_requests(fleet)
    print(
        f"\n| plan, no change | {size} ({pipelines} pipelines) | {sent} | {bound} "
        f"| {sent / bound:.2f} | {cpu:.1f} s | {rss / 1024:.0f} MiB |"
    )
    assert sent == bound
