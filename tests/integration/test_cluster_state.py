"""The state index over HTTP: creation, records, optimistic concurrency, the fingerprint key."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest

from reconciler.cluster.connecting import Connection
from reconciler.cluster.reading import read_snapshot
from reconciler.cluster.state import (
    delete_record,
    ensure_state_index,
    fingerprint_key,
    read_state,
    write_intent,
    write_record,
)
from reconciler.errors import ClusterError
from reconciler.resources import Kind, ResourceKey
from reconciler.secrets import Secret

KEY = ResourceKey(Kind.CONNECTOR, "openai-chat")


def test_index_is_created_once_with_explicit_mappings(conn: Connection, index: str) -> None:
    assert not read_state(conn, index=index).exists
    assert ensure_state_index(conn, index=index) is True
    assert ensure_state_index(conn, index=index) is False
    mapping = conn.client.indices.get(index=index)[index]["mappings"]
    assert mapping["properties"]["applied"]["enabled"] is False
    assert mapping["properties"]["kind"]["type"] == "keyword"
    state = read_state(conn, index=index)
    assert state.exists and not state.records


def test_intent_then_record_round_trip(conn: Connection, index: str) -> None:
    ensure_state_index(conn, index=index)
    intent = write_intent(conn, KEY, spec_hash="sha256:1", index=index)
    assert read_state(conn, index=index).records[KEY].status == "intent"
    managed = dataclasses.replace(
        intent,
        status="managed",
        id="AbCdEf0123456789xyz_",
        applied={"name": "OpenAI Chat", "parameters": {"model": "gpt-4o"}},
        fingerprints={"openAI_key": "hmac-sha256:00ff"},
    )
    written = write_record(conn, managed, expected=intent, index=index)
    read = read_state(conn, index=index).records[KEY]
    assert read == written
    assert (read.status, read.id, read.spec_hash) == ("managed", "AbCdEf0123456789xyz_", "sha256:1")
    assert read.applied == {"name": "OpenAI Chat", "parameters": {"model": "gpt-4o"}}
    assert read.fingerprints == {"openAI_key": "hmac-sha256:00ff"}
    delete_record(conn, read, index=index)
    assert KEY not in read_state(conn, index=index).records


def test_snapshot_includes_state(conn: Connection, index: str) -> None:
    ensure_state_index(conn, index=index)
    write_intent(conn, KEY, index=index)
    snapshot = read_snapshot(conn, state_index=index)
    assert snapshot.state.exists and KEY in snapshot.state.records


def test_stale_writes_are_refused(conn: Connection, index: str) -> None:
    ensure_state_index(conn, index=index)
    first = write_intent(conn, KEY, index=index)
    with pytest.raises(ClusterError, match=r"State Connector/openai-chat: write refused \(409\)"):
        write_intent(conn, KEY, index=index)  # a record exists: create-only fails
    newer = write_record(
        conn, dataclasses.replace(first, status="managed", id="x"), expected=first, index=index
    )
    with pytest.raises(ClusterError, match="another osml run"):
        write_record(conn, dataclasses.replace(first, id="y"), expected=first, index=index)
    with pytest.raises(ClusterError, match="delete refused"):
        delete_record(conn, first, index=index)
    assert read_state(conn, index=index).records[KEY] == newer


def test_fingerprint_key_is_made_once(conn: Connection, index: str) -> None:
    assert fingerprint_key(conn, create=False, index=index) is None
    key = fingerprint_key(conn, create=True, index=index)
    assert key is not None and len(key) == 32
    assert fingerprint_key(conn, create=True, index=index) == key
    assert fingerprint_key(conn, create=False, index=index) == key
    assert read_state(conn, index=index).fingerprint_key == key


def test_racing_creators_agree_on_the_key(conn: Connection, index: str) -> None:
    ensure_state_index(conn, index=index)
    keys: list[bytes | None] = []
    barrier = threading.Barrier(4)

    def make() -> None:
        barrier.wait()
        keys.append(fingerprint_key(conn, create=True, index=index))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 4 and len(set(keys)) == 1 and keys[0] is not None


def test_no_secret_in_any_state_document(conn: Connection, index: str) -> None:
    secret = Secret("sk-live-DO-NOT-STORE-42")
    key = fingerprint_key(conn, create=True, index=index)
    assert key is not None
    fingerprint = secret.fingerprint(key)
    intent = write_intent(conn, KEY, index=index)
    record = dataclasses.replace(
        intent,
        status="managed",
        id="c1",
        applied={"credential": {"openAI_key": fingerprint}},
        fingerprints={"openAI_key": fingerprint},
    )
    write_record(conn, record, expected=intent, index=index)
    leaking = dataclasses.replace(record, applied={"credential": {"openAI_key": secret}})
    with pytest.raises(TypeError, match="secret value cannot be stored"):
        write_record(
            conn, leaking, expected=read_state(conn, index=index).records[KEY], index=index
        )
    everything = conn.client.search(index=index, body={"size": 100})
    assert "sk-live-DO-NOT-STORE-42" not in json.dumps(everything)
