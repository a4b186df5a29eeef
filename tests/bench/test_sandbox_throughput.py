"""Throughput of the sandbox with many stored resources: GET by ID and search by name.

Runs small by default so CI stays fast; `OSML_BENCH_SIZE=10000 pytest tests/bench -s`
gives the figures quoted in docs/sandbox.md ("Throughput").
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator

import pytest
from opensearchpy import OpenSearch

from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for

pytestmark = pytest.mark.bench
SIZE = int(os.environ.get("OSML_BENCH_SIZE", "500"))
INDEX = ".plugins-ml-model"
ROUNDS = 200


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[Sandbox, OpenSearch]]:
    with Sandbox("3.x") as sandbox:
        client = client_for(sandbox)
        for start in range(0, SIZE, 1000):
            lines: list[dict[str, object]] = []
            for n in range(start, min(start + 1000, SIZE)):
                lines.append({"index": {"_index": INDEX, "_id": f"model-{n}"}})
                lines.append(
                    {"name": f"model {n}", "model_state": "DEPLOYED", "algorithm": "REMOTE"}
                )
            client.bulk(body=lines)
        yield sandbox, client


def _timed(call: Callable[[int], object]) -> list[float]:
    durations = []
    for n in range(ROUNDS):
        started = time.perf_counter()
        call(n)
        durations.append(time.perf_counter() - started)
    return durations


def _report(label: str, durations: list[float]) -> None:
    median = statistics.median(durations) * 1000
    p95 = sorted(durations)[int(len(durations) * 0.95)] * 1000
    rate = len(durations) / sum(durations)
    print(f"\n{label} with {SIZE} docs: {rate:.0f}/s, median {median:.2f} ms, p95 {p95:.2f} ms")


def test_get_throughput(loaded: tuple[Sandbox, OpenSearch]) -> None:
    _, client = loaded
    durations = _timed(lambda n: client.get(index=INDEX, id=f"model-{n * 7 % SIZE}"))
    _report("GET by id", durations)
    assert statistics.median(durations) < 0.05


def test_search_throughput(loaded: tuple[Sandbox, OpenSearch]) -> None:
    _, client = loaded

    def search(n: int) -> object:
        body = {"query": {"term": {"name.keyword": f"model {n * 7 % SIZE}"}}}
        result = client.search(index=INDEX, body=body)
        assert result["hits"]["total"]["value"] == 1
        return result

    durations = _timed(search)
    _report("search by name.keyword", durations)
    # Search is O(n): well under 100 ms even at 10,000 documents.
    assert statistics.median(durations) < 0.1
