"""A plan's request count does not grow with the number of resources (issue 4).

A plan reads the cluster once: `GET /`, the settings, the state index and one paginated
search per kind. The sandbox's request log counts what a whole plan sends, from connect
to the finished Plan, for a small and a large fleet of the same shape: a third each of
connectors, model groups and models, every one declared by a manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox.server import Sandbox
from tests.integration import support
from tests.integration.support import consumer_reads

CONNECTORS = ".plugins-ml-connector"
GROUPS = ".plugins-ml-model-group"
MODELS = ".plugins-ml-model"
BASE = 20
"""The small fleet, applied by osml so that state records and real bodies exist."""


def _kind(n: int) -> str:
    return ("c", "g", "m")[n % 3]


def _manifests(count: int) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for n in range(count):
        kind = _kind(n)
        if kind == "c":
            docs.append(support.connector(f"c{n}"))
        elif kind == "g":
            docs.append(support.group(f"g{n}"))
        else:
            docs.append(support.model(f"m{n}", connector_name="c0", group_name="g1"))
    return docs


def _live(n: int) -> tuple[str, dict[str, Any]]:
    """The live object of resource `n`, as the server stores it, written directly."""
    kind = _kind(n)
    if kind == "c":
        return CONNECTORS, {"name": f"c{n} connector", "version": "1", "protocol": "http"}
    if kind == "g":
        return GROUPS, {"name": f"g{n} group", "latest_version": 0, "access": "public"}
    model = {"name": f"m{n} model", "algorithm": "REMOTE", "model_state": "REGISTERED"}
    return MODELS, model


def _seed(sandbox: Sandbox, start: int, stop: int) -> None:
    """Live objects for resources `start`..`stop` (bulk: creating 2,000 one by one is slow)."""
    lines: list[str] = []
    for n in range(start, stop):
        index, source = _live(n)
        lines += [json.dumps({"index": {"_index": index}}), json.dumps(source)]
    with support.open_connection(sandbox.url) as conn:
        assert not conn.client.bulk(body="\n".join(lines) + "\n")["errors"]


def _plan_requests(sandbox: Sandbox, paths: Path) -> tuple[int, int]:
    """(requests sent, resources in the plan) for one whole plan."""
    sandbox.requests.clear()
    planned = support.plan(sandbox.url, paths)
    return len(sandbox.requests), len(planned.changes)


@pytest.fixture
def sandbox(sandbox_factory: Any) -> Iterator[Sandbox]:
    sandbox = sandbox_factory("3.x", deploy_delay=0.01)
    yield sandbox


def test_a_plan_of_2000_resources_sends_as_many_requests_as_a_plan_of_20(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    paths = support.write(tmp_path / "m", _manifests(BASE))
    assert support.apply(sandbox.url, paths).ok
    small = _plan_requests(sandbox, paths)

    _seed(sandbox, BASE, 2000)
    support.write(tmp_path / "m", _manifests(2000))
    large = _plan_requests(sandbox, paths)

    assert (small[1], large[1]) == (BASE, 2000)
    # GET /, settings, state, connectors, groups, models, and the consumers
    assert small[0] == large[0] == 6 + consumer_reads("3.8")
