"""Apply under injected faults: re-runs converge, nothing is duplicated.

The first fault test, kept as the fixed-seed smoke test of the fault path; the
crash tests moved to tests/reliability/test_crash_safety.py (killed at every step and at
random moments), and the randomised suites live beside them.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from reconciler.errors import ReconcilerError
from tests.integration import support
from tests.integration.support import connector, group, model, write
from tests.reliability.driving import quick_settings


def _fleet(count: int) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [group("fleet"), connector("shared")]
    for i in range(count):
        docs.append(connector(f"c{i}", description=f"connector {i}"))
        docs.append(model(f"m{i}", connector_name=f"c{i}", group_name="fleet", deployed=i % 2 == 0))
    docs.append(model("on-shared", connector_name="shared", group_name="fleet"))
    return docs


def _names(client: OpenSearch) -> dict[str, collections.Counter[str]]:
    found = {}
    for kind, search in (
        ("connector", client.plugins.ml.search_connectors),
        ("group", client.plugins.ml.search_model_group),
        ("model", client.plugins.ml.search_models),
    ):
        hits = search(body={"query": {"match_all": {}}, "size": 10000})["hits"]["hits"]
        found[kind] = collections.Counter(h["_source"]["name"] for h in hits)
    return found


def _assert_exactly_one_per_manifest(client: OpenSearch, docs: list[dict[str, Any]]) -> None:
    expected: dict[str, collections.Counter[str]] = {
        "connector": collections.Counter(),
        "group": collections.Counter(),
        "model": collections.Counter(),
    }
    kinds = {"Connector": "connector", "ModelGroup": "group", "Model": "model"}
    for doc in docs:
        expected[kinds[doc["kind"]]][doc["spec"]["name"]] += 1
    assert _names(client) == expected


def _converge(url: str, paths: Path, *, attempts: int) -> int:
    """Apply until a plan shows nothing to do; how many applies it took."""
    for run in range(1, attempts + 1):
        try:
            result = support.apply(url, paths, settings=quick_settings())
            if result.ok and not support.plan(url, paths).has_changes:
                return run
        except ReconcilerError:
            pass
    raise AssertionError(f"no convergence after {attempts} applies")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_repeated_applies_converge_under_errors_resets_and_lost_responses(
    sandbox_factory, tmp_path: Path, seed: int
) -> None:
    sandbox = sandbox_factory("3.x", seed=seed)
    docs = _fleet(6)
    paths = write(tmp_path / "m", docs)
    sandbox.faults.configure(
        {
            "seed": seed,
            "rules": [
                {"route": "*", "error_rate": 0.08, "status": 503, "reset_rate": 0.04},
                {"route": "POST /_plugins/_ml/*", "lost_rate": 0.08},
                {"route": "PUT /_plugins/_ml/*", "lost_rate": 0.08},
                {"route": "DELETE /_plugins/_ml/*", "lost_rate": 0.08},
            ],
        }
    )
    _converge(sandbox.url, paths, attempts=12)
    sandbox.faults.clear()
    client = OpenSearch(sandbox.url)
    assert not support.plan(sandbox.url, paths).has_changes
    _assert_exactly_one_per_manifest(client, docs)

    # An edit under faults converges too, and leaves no orphan connector behind.
    docs = [d for d in _fleet(6) if d["metadata"]["name"] not in {"m1", "c1"}]
    for doc in docs:
        if doc["metadata"]["name"] == "shared":
            doc["spec"]["description"] = "edited under faults"
    write(paths, docs)
    sandbox.faults.configure(
        {
            "seed": seed,
            "rules": [{"route": "*", "error_rate": 0.08, "status": 503, "reset_rate": 0.04}],
        }
    )
    for _ in range(12):
        try:
            if (
                support.apply(sandbox.url, paths, prune=True, settings=quick_settings()).ok
                and not support.plan(sandbox.url, paths, prune=True).has_changes
            ):
                break
        except ReconcilerError:
            pass
    sandbox.faults.clear()
    assert not support.plan(sandbox.url, paths, prune=True).has_changes
    _assert_exactly_one_per_manifest(client, docs)
