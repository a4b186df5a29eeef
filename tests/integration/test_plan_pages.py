"""A plan across many pages per kind sees every resource (issue 18).

The sandbox's indices get a small `index.max_result_window`, as an operator can set on
OpenSearch; the sandbox then refuses a larger page exactly as OpenSearch does (a 400,
`Result window is too large`), so a plan that asked for one page per kind would fail
instead of passing unnoticed. osml reads with pages of that size: every kind, and the
state index, takes several pages, and the plan must still pair every resource (a missed
one would be planned as a create) and see a drift on the last page.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cluster.reading import SnapshotReader, read_snapshot
from reconciler.errors import ClusterError
from reconciler.mlcommons.versions import Version
from reconciler.planning import PlanOptions
from reconciler.reconciling import Planned, plan_against, read_desired
from reconciler.sandbox.server import Sandbox
from tests.integration import support
from tests.integration.support import consumer_reads

STATE = "osml-state"
INDICES = (".plugins-ml-connector", ".plugins-ml-model-group", ".plugins-ml-model", STATE)
WINDOW = 4
"""`index.max_result_window` of every index read, and osml's page size."""
EACH = 9
"""Resources of each kind: three pages of 4 (4, 4, 1)."""
KINDS = 3


def fleet(*, drifted: str | None = None) -> list[dict[str, Any]]:
    docs = [support.group(f"g{n}") for n in range(EACH)]
    docs += [support.connector(f"c{n}") for n in range(EACH)]
    docs += [
        support.model(
            f"m{n}",
            connector_name=f"c{n}",
            group_name=f"g{n}",
            description="drifted" if f"m{n}" == drifted else "A test model",
        )
        for n in range(EACH)
    ]
    return docs


@pytest.fixture
def paged(tmp_path: Path) -> Iterator[tuple[Sandbox, Path]]:
    """A sandbox holding the applied fleet, every index with a window of `WINDOW` hits."""
    with Sandbox("3.x", deploy_delay=0.01) as sandbox:
        paths = support.write(tmp_path / "m", fleet())
        result = support.apply(sandbox.url, paths)
        assert result.ok, result.failures
        for index in INDICES:
            sandbox.context.store.put_settings(index, {"index": {"max_result_window": WINDOW}})
        yield sandbox, paths


def plan(sandbox: Sandbox, paths: Path, reader: SnapshotReader) -> tuple[Planned, int]:
    """A plan read by `reader`, and the requests of its snapshot as the sandbox counted."""
    with support.open_connection(sandbox.url) as conn:
        desired = read_desired([paths], version=Version.parse(conn.version), env=support.ENV)
        before = len(sandbox.requests.entries())
        planned = plan_against(
            conn, desired, options=PlanOptions(), state_index=STATE, reader=reader
        )
        return planned, len(sandbox.requests.entries()) - before


def pages(count: int) -> int:
    """Pages of `WINDOW` the reader needs for `count` hits (a full last page needs one
    more, empty, unless the total says it is the last)."""
    return max(1, math.ceil(count / WINDOW))


def test_the_sandbox_refuses_a_page_above_the_window(paged: tuple[Sandbox, Path]) -> None:
    sandbox, _ = paged
    with support.open_connection(sandbox.url) as conn, pytest.raises(ClusterError) as caught:
        read_snapshot(conn, state_index=STATE, page_size=WINDOW + 1)
    assert "Result window is too large" in str(caught.value)


def test_a_plan_across_pages_sees_every_resource(paged: tuple[Sandbox, Path]) -> None:
    sandbox, paths = paged
    planned, sent = plan(sandbox, paths, SnapshotReader(page_size=WINDOW))

    snapshot = planned.snapshot
    assert len(snapshot.model_groups) == len(snapshot.connectors) == len(snapshot.models) == EACH
    assert len(snapshot.state.records) == KINDS * EACH
    assert support.actions(planned.plan) == {}
    assert len(planned.plan.changes) == KINDS * EACH
    # settings + the state index (27 records and its meta document) + three pages per kind
    state_pages = pages(sandbox.context.store.count(STATE))
    reads = consumer_reads(snapshot.version)
    assert snapshot.requests == sent == 1 + state_pages + KINDS * pages(EACH) + reads
    assert state_pages > 1 and pages(EACH) > 1


def test_a_drift_on_the_last_page_is_planned(paged: tuple[Sandbox, Path], tmp_path: Path) -> None:
    sandbox, _ = paged
    with support.open_connection(sandbox.url) as conn:
        snapshot = read_snapshot(conn, state_index=STATE, page_size=WINDOW)
    last = snapshot.models[-1].id  # read last, on the last page
    drifted = next(r.key.name for r in snapshot.state.records.values() if r.id == last)
    paths = support.write(tmp_path / "drifted", fleet(drifted=drifted))
    planned, _ = plan(sandbox, paths, SnapshotReader(page_size=WINDOW))
    assert support.actions(planned.plan) == {f"Model/{drifted}": "update"}


def test_an_idle_watch_cycle_across_pages(paged: tuple[Sandbox, Path]) -> None:
    """What `osml watch` does between full reads (a SnapshotReader kept across cycles):
    over a multi-page fleet that did not change, one search per kind and the same plan."""
    sandbox, paths = paged
    reader = SnapshotReader(page_size=WINDOW, full_read_every=10)
    first, _ = plan(sandbox, paths, reader)
    assert reader.last_full is True
    idle, sent = plan(sandbox, paths, reader)
    assert reader.last_full is False
    # settings, the state index and one search per kind: nothing per page
    assert idle.snapshot.requests == sent == 2 + KINDS + consumer_reads(idle.snapshot.version)
    assert idle.snapshot.token() == first.snapshot.token()
    assert support.actions(idle.plan) == {}
    assert len(idle.plan.changes) == KINDS * EACH
