"""Reads and state writes under injected faults: retried, never doubled, never torn."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import ConnectionSettings, connect
from reconciler.cluster.locking import acquire_lock, lock_status
from reconciler.cluster.reading import read_snapshot
from reconciler.cluster.state import ensure_state_index, read_state, write_intent, write_record
from reconciler.resources import Kind, ResourceKey
from tests.integration.test_cluster_reading import connector_body

Factory = Callable[..., Any]


def _populate(url: str) -> None:
    with connect(ConnectionSettings(url=url)) as conn:
        calls = MlCalls(conn)
        for n in range(12):
            calls.create_connector(connector_body(f"c{n}"))
            calls.register_model_group({"name": f"g{n}"})


def test_snapshot_reads_retry_errors_and_resets(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory("3.x")
    _populate(sandbox.url)
    with connect(ConnectionSettings(url=sandbox.url)) as conn:
        calm = read_snapshot(conn, page_size=5)
        sandbox.faults.configure(
            {
                "seed": 3,
                "rules": [{"route": "*", "error_rate": 0.2, "status": 503, "reset_rate": 0.1}],
            }
        )
        stormy = read_snapshot(conn, page_size=5)
    assert sandbox.faults.injected["error"] + sandbox.faults.injected["reset"] > 0
    assert {o.id for o in stormy.connectors} == {o.id for o in calm.connectors}
    assert {o.id for o in stormy.model_groups} == {o.id for o in calm.model_groups}
    assert stormy.requests > calm.requests


def test_connect_survives_a_refused_first_answer(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory("2.19")
    sandbox.faults.configure({"rules": [{"route": "GET /", "refuse_next": 2, "status": 503}]})
    with connect(ConnectionSettings(url=sandbox.url)) as conn:
        assert conn.version.startswith("2.19")


def test_state_writes_survive_lost_answers(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory("3.x")
    with connect(ConnectionSettings(url=sandbox.url)) as conn:
        ensure_state_index(conn)
        sandbox.faults.configure(
            {"seed": 5, "rules": [{"route": "PUT /osml-state/*", "lost_rate": 0.3}]}
        )
        for n in range(10):
            key = ResourceKey(Kind.MODEL, f"m{n}")
            intent = write_intent(conn, key)
            write_record(
                conn, dataclasses.replace(intent, status="managed", id=f"id{n}"), expected=intent
            )
        lost = sandbox.faults.injected["lost"]
        sandbox.faults.clear()
        records = read_state(conn).records
    assert lost > 0
    assert sorted(r.id or "" for r in records.values()) == sorted(f"id{n}" for n in range(10))
    assert all(r.status == "managed" for r in records.values())


def test_lock_survives_lost_answers(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory("3.x")
    with connect(ConnectionSettings(url=sandbox.url)) as conn:
        ensure_state_index(conn)
        sandbox.faults.configure(
            {"seed": 11, "rules": [{"route": "* /osml-state/_doc/lock", "lost_rate": 0.3}]}
        )
        for _ in range(5):
            lease = acquire_lock(conn, operation="apply")
            lease.renew()
            lease.release()
        lost = sandbox.faults.injected["lost"]
        sandbox.faults.clear()
        assert lock_status(conn) is None
    assert lost > 0
