"""Following a cluster by its changes (`SnapshotReader`): one search per kind between full
reads, and always the snapshot a full read would give."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import Connection
from reconciler.cluster.reading import SnapshotReader, read_snapshot
from reconciler.cluster.snapshots import Snapshot, StateRecord
from reconciler.cluster.state import ensure_state_index, write_record
from reconciler.resources import Kind, ResourceKey
from tests.integration.support import consumer_reads
from tests.integration.test_cluster_reading import CONNECTORS, GROUPS, MODELS, connector_body


def _sandbox(cluster: Any) -> Any:
    if cluster.sandbox is None:
        pytest.skip("needs the sandbox's request log")
    return cluster.sandbox


def contents(snapshot: Snapshot) -> dict[str, Any]:
    """Everything a plan reads of a snapshot, order aside."""
    return {
        "token": snapshot.token(),
        "settings": snapshot.settings,
        "connectors": {o.id: o.source for o in snapshot.connectors},
        "groups": {o.id: o.source for o in snapshot.model_groups},
        "models": {o.id: o.source for o in snapshot.models},
        "state": dict(snapshot.state.records),
        "lock": snapshot.state.lock,
        "exists": snapshot.state.exists,
    }


def seed(calls: MlCalls, count: int) -> tuple[list[str], list[str], list[str]]:
    connectors = [calls.create_connector(connector_body(f"c{n}")) for n in range(count)]
    groups = [calls.register_model_group({"name": f"g{n}"}) for n in range(count)]
    models = [
        calls.register_model(
            {"name": f"m{n}", "function_name": "remote", "connector_id": c, "model_group_id": g}
        )
        for n, (c, g) in enumerate(zip(connectors, groups, strict=True))
    ]
    return connectors, groups, models


def test_between_full_reads_one_search_per_kind_and_the_same_snapshot(
    cluster: Any, conn: Connection, index: str
) -> None:
    sandbox = _sandbox(cluster)
    calls = MlCalls(conn)
    connectors, groups, models = seed(calls, 6)
    ensure_state_index(conn, index=index)
    reader = SnapshotReader(full_read_every=100, page_size=4)

    first = reader.read(conn, state_index=index)
    assert reader.last_full is True
    assert len(first.connectors) == len(first.model_groups) == len(first.models) == 6

    def follow() -> Snapshot:
        before = len(sandbox.requests.entries())
        snapshot = reader.read(conn, state_index=index)
        assert reader.last_full is False
        assert snapshot.requests == len(sandbox.requests.entries()) - before
        assert contents(snapshot) == contents(read_snapshot(conn, state_index=index))
        return snapshot

    # Nothing written: settings, state and one search per kind, at any page size.
    assert follow().requests == 5 + consumer_reads(conn.version)

    # Updates by osml or by hand, to every kind, and a state record.
    # (Written to the ML indices directly: every profile has these, not every one the
    # update APIs; a write is a write to `_seq_no`, whoever makes it.)
    for ml_index, doc_id in ((CONNECTORS, connectors[2]), (GROUPS, groups[5]), (MODELS, models[0])):
        conn.client.update(index=ml_index, id=doc_id, body={"doc": {"description": "changed"}})
    key = ResourceKey(Kind.MODEL, "m0")
    write_record(
        conn,
        StateRecord(key, "managed", models[0], "sha256:x", {}),
        index=index,
    )
    changed = follow()
    assert changed.requests == 5 + consumer_reads(conn.version)
    assert (
        next(o for o in changed.connectors if o.id == connectors[2]).source["description"]
        == "changed"
    )
    assert key in changed.state.records

    # A delete lowers a kind's total: that kind alone is read again in full.
    conn.client.delete(index=MODELS, id=models[5])
    gone = follow()
    assert models[5] not in {o.id for o in gone.models}
    assert (
        gone.requests == 5 + consumer_reads(conn.version) + 2
    )  # models: the change search, then 2 pages of 4 (5 left)

    # A create shows up as a write like any other.
    created = calls.create_connector(connector_body("late"))
    assert created in {o.id for o in follow().connectors}
    assert follow().requests == 5 + consumer_reads(conn.version)


def test_every_nth_read_is_full(conn: Connection, index: str) -> None:
    seed(MlCalls(conn), 2)
    ensure_state_index(conn, index=index)
    reader = SnapshotReader(full_read_every=3)
    kinds = []
    for _ in range(7):
        reader.read(conn, state_index=index)
        kinds.append(reader.last_full)
    assert kinds == [True, False, False, True, False, False, True]


def test_a_missing_state_index_is_followed_until_it_exists(conn: Connection, index: str) -> None:
    seed(MlCalls(conn), 1)
    reader = SnapshotReader(full_read_every=100)
    assert not reader.read(conn, state_index=index).state.exists
    assert not reader.read(conn, state_index=index).state.exists
    ensure_state_index(conn, index=index)
    write_record(
        conn,
        StateRecord(ResourceKey(Kind.CONNECTOR, "c0"), "intent", None, "sha256:y", {}),
        index=index,
    )
    followed = reader.read(conn, state_index=index)
    assert followed.state.exists
    assert contents(followed) == contents(read_snapshot(conn, state_index=index))
