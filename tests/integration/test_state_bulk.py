"""Many state records per request: bulk writes, the apply's state writer, and what an
apply sends to the state index, against the sandbox."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.applying.recording import StateWriter
from reconciler.cluster.connecting import ConnectionSettings, connect
from reconciler.cluster.snapshots import StateRecord
from reconciler.cluster.state import (
    RecordWrite,
    ensure_state_index,
    fingerprint_key,
    new_key,
    read_state,
    write_records,
)
from reconciler.errors import ClusterError, LockError
from reconciler.resources import Kind, ResourceKey
from tests.integration import support

Factory = Callable[..., Any]
INDEX = "osml-state"


def _record(name: str, *, status: str = "managed", live_id: str | None = "x") -> StateRecord:
    return StateRecord(
        key=ResourceKey(Kind.CONNECTOR, name),
        status=status,  # type: ignore[arg-type]
        id=live_id,
        spec_hash="sha256:1",
        applied={"name": name},
    )


def test_many_records_go_in_one_request_and_a_conflict_refuses_only_its_own(
    sandbox_factory: Factory,
) -> None:
    sandbox = sandbox_factory("3.x")
    with connect(ConnectionSettings(url=sandbox.url)) as conn:
        ensure_state_index(conn)
        first = write_records(conn, [RecordWrite(_record("taken"), None)], index=INDEX)
        assert isinstance(first.records[0], StateRecord)
        sandbox.requests.clear()
        writes = [RecordWrite(_record(f"c{n}"), None) for n in range(20)]
        writes.append(RecordWrite(_record("taken", live_id="other"), None))  # exists already
        written = write_records(conn, writes, index=INDEX)
        state = read_state(conn, index=INDEX)
    assert sandbox.requests.count("/_bulk", method="POST") == 1
    assert all(isinstance(r, StateRecord) for r in written.records[:20])
    refused = written.records[20]
    assert isinstance(refused, ClusterError) and refused.status == 409
    assert "State Connector/taken" in str(refused)
    assert state.records[ResourceKey(Kind.CONNECTOR, "taken")].id == "x"
    assert len(state.records) == 21


def test_a_lost_bulk_answer_is_retried_without_a_false_conflict(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory("3.x")
    with connect(ConnectionSettings(url=sandbox.url)) as conn:
        ensure_state_index(conn)
        # The first bulk is acted on, then its answer is lost: the retry's creates all
        # conflict with the first attempt's, which must count as done.
        sandbox.faults.configure({"rules": [{"route": "POST /_bulk*", "lost_rate": 1.0}]})
        threading.Timer(0.3, lambda: sandbox.faults.configure({})).start()
        written = write_records(
            conn, [RecordWrite(_record(f"c{n}"), None) for n in range(5)], index=INDEX
        )
        state = read_state(conn, index=INDEX)
    assert sandbox.requests.count("/_bulk", method="POST") >= 2
    assert all(isinstance(r, StateRecord) for r in written.records), written.records
    assert {r.key.name for r in state.records.values()} == {f"c{n}" for n in range(5)}


def test_a_new_fingerprint_key_rides_along_and_an_existing_one_wins(
    sandbox_factory: Factory,
) -> None:
    sandbox = sandbox_factory("3.x")
    with connect(ConnectionSettings(url=sandbox.url)) as conn:
        ensure_state_index(conn)
        ours = new_key()
        written = write_records(conn, [], index=INDEX, new_fingerprint_key=ours)
        assert written.fingerprint_key == ours
        again = write_records(
            conn, [RecordWrite(_record("c"), None)], index=INDEX, new_fingerprint_key=new_key()
        )
        assert again.fingerprint_key == ours
        assert fingerprint_key(conn, create=False, index=INDEX) == ours


def test_the_writer_batches_keeps_each_resource_in_order_and_refreshes_once(
    sandbox_factory: Factory,
) -> None:
    sandbox = sandbox_factory("3.x")
    with connect(ConnectionSettings(url=sandbox.url)) as conn:
        ensure_state_index(conn)
        sandbox.faults.configure({"rules": [{"route": "POST /_bulk*", "latency": 0.05}]})
        sandbox.requests.clear()
        writer = StateWriter(conn, index=INDEX, stored={}, guard=lambda: None)
        futures = [writer.submit(_record(f"c{n}")) for n in range(30)]
        # Three writes of one resource: each conditional on the one before.
        same = [writer.submit(_record("same", live_id=str(n))) for n in range(3)]
        gone = writer.submit(_record("c0"), delete=True)
        writer.close()
        state = read_state(conn, index=INDEX)
    assert all(f.result() is not None for f in futures + same)
    assert gone.result() is None
    assert state.records[ResourceKey(Kind.CONNECTOR, "same")].id == "2"
    assert ResourceKey(Kind.CONNECTOR, "c0") not in state.records
    assert len(state.records) == 30
    assert 3 <= sandbox.requests.count("/_bulk", method="POST") <= 6
    assert sandbox.requests.count("/{index}/_refresh", method="POST") == 1


def test_the_writer_fails_its_writes_once_the_lease_is_lost(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory("3.x")

    def lost() -> None:
        raise LockError("the state lock was taken over")

    with connect(ConnectionSettings(url=sandbox.url)) as conn:
        ensure_state_index(conn)
        writer = StateWriter(conn, index=INDEX, stored={}, guard=lost)
        future = writer.submit(_record("c"))
        writer.close()
        assert not read_state(conn, index=INDEX).records
    with pytest.raises(LockError):
        future.result()


def test_an_apply_writes_all_its_intents_before_the_first_create(
    sandbox_factory: Factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    docs, paths = _fleet(tmp_path, models=6)
    store = sandbox.context.store
    others = {n: store.count(n) for n in store.index_names() if n != INDEX}
    at_first_create: list[dict[str, str]] = []

    def look() -> None:
        # Called inside every store write: at the first write outside the state index
        # (the first create), note what the state index holds at that very moment.
        if at_first_create or not any(
            store.count(n) > others.get(n, 0) for n in store.index_names() if n != INDEX
        ):
            return
        records = [d.source for d in store.docs(INDEX) if d.source.get("doc_type") == "record"]
        at_first_create.append({f"{r['kind']}/{r['name']}": r["status"] for r in records})

    store.add_listener(look)
    sandbox.requests.clear()
    result = support.apply(sandbox.url, paths)
    assert result.ok, result.failures
    assert at_first_create == [{f"{d['kind']}/{d['metadata']['name']}": "intent" for d in docs}]
    entries = sandbox.requests.entries()
    log = [(e.method, e.route or e.path) for e in entries]
    first_create = next(n for n, (m, r) in enumerate(log) if r.endswith(("_create", "_register")))
    # All of them in one request, and no state document written one at a time but the lock.
    assert [r for _, r in log[:first_create]].count("/_bulk") == 1
    singles = [e.path for e in entries if e.method == "PUT" and e.route == "/{index}/_doc/{id}"]
    assert singles == ["/osml-state/_doc/lock"]
    records = _records(sandbox.url)
    assert {r.status for r in records.values()} == {"managed"}
    assert len(records) == 8


def test_creates_skipped_by_a_failure_leave_no_intent_behind(
    sandbox_factory: Factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    _, paths = _fleet(tmp_path, models=3)
    sandbox.faults.configure(
        {"rules": [{"route": "POST /_plugins/_ml/connectors/_create", "status": 500,
                    "error_rate": 1.0}]}
    )  # fmt: skip
    result = support.apply(sandbox.url, paths)
    assert not result.ok
    records = _records(sandbox.url)
    # The group was created; the connector failed; its models never started.
    assert {str(k): r.status for k, r in records.items()} == {
        "ModelGroup/g": "managed",
        "Connector/c": "intent",
    }


def _fleet(tmp_path: Path, *, models: int) -> tuple[list[dict[str, Any]], Path]:
    """A group, a connector and `models` models on them, written as manifests."""
    docs = [support.group("g"), support.connector("c")]
    docs += [support.model(f"m{n}", connector_name="c", group_name="g") for n in range(models)]
    return docs, support.write(tmp_path / "m", docs)


def _records(url: str) -> dict[ResourceKey, StateRecord]:
    with connect(ConnectionSettings(url=url)) as conn:
        return dict(read_state(conn, index=INDEX).records)


def test_an_apply_does_not_ask_about_the_state_index_its_plan_just_read(
    sandbox_factory: Factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    docs = [support.group("g"), support.connector("c")]
    paths = support.write(tmp_path / "m", docs)

    def index_requests() -> list[str]:
        return [
            f"{e.method} {e.path}"
            for e in sandbox.requests.entries()
            if e.route == "/{index}" and e.path == f"/{INDEX}"
        ]

    sandbox.requests.clear()
    assert support.apply(sandbox.url, paths).ok
    assert index_requests() == [f"PUT /{INDEX}"]  # created without asking first
    support.write(tmp_path / "m", [*docs, support.connector("d")])
    sandbox.requests.clear()
    assert support.apply(sandbox.url, paths).ok
    assert index_requests() == []
