"""The state index on the cluster under test: what an apply writes behind its changes
(`refresh=false`) is visible to the next plan's search once the lock is released.

Against the sandbox, which is always refreshed, this only checks the writes; against a
real cluster (`OSML_TEST_CLUSTER_URL`, refreshed once a second) it checks that the lock
release's refresh is what makes them visible (docs/state.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.applying.recording import StateWriter
from reconciler.cluster.connecting import attach
from reconciler.cluster.locking import acquire_lock
from reconciler.cluster.snapshots import StateRecord
from reconciler.cluster.state import read_state
from reconciler.resources import Kind, ResourceKey
from tests.support.conformance import unique

RECORDS = 40


@pytest.fixture
def index(cluster: Any) -> Any:
    name = unique("osml-state-live")
    yield name
    cluster.client.indices.delete(index=name, params={"ignore_unavailable": "true"})


def test_records_written_behind_are_searchable_once_the_lock_is_released(
    cluster: Any, index: str
) -> None:
    conn = attach(cluster.client, url=cluster.url)
    lease = acquire_lock(conn, operation="apply", index=index)
    writer = StateWriter(conn, index=index, stored={}, guard=lease.check)
    futures = [
        writer.submit(
            StateRecord(
                key=ResourceKey(Kind.CONNECTOR, f"c{n}"),
                status="managed",
                id=f"id-{n}",
                spec_hash="sha256:1",
                applied={"name": f"c{n}"},
            )
        )
        for n in range(RECORDS)
    ]
    writer.close(refresh=False)
    assert all(f.result() is not None for f in futures)
    lease.release()
    state = read_state(conn, index=index)
    assert state.lock is None
    assert sorted(r.id or "" for r in state.records.values()) == sorted(
        f"id-{n}" for n in range(RECORDS)
    )
