"""State documents: IDs, parsing search hits, effective settings, live objects (pure parts)."""

from __future__ import annotations

import datetime as dt

import pytest

from reconciler.cluster.locking import held_error, is_expired
from reconciler.cluster.reading import effective_settings, live_object
from reconciler.cluster.snapshots import LockInfo
from reconciler.cluster.state import key_of, record_id, state_from_hits
from reconciler.resources import Kind, ResourceKey

T0 = dt.datetime(2026, 11, 22, 8, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("key", "doc_id"),
    [
        (ResourceKey(Kind.CONNECTOR, "openai-chat"), "Connector:openai-chat"),
        (ResourceKey(Kind.MODEL_GROUP, "team.a_b"), "ModelGroup:team.a_b"),
        (ResourceKey(Kind.MODEL, "we/ird name"), "Model:we%2Fird%20name"),
        (ResourceKey(Kind.TRUSTED_ENDPOINTS, "default"), "TrustedEndpoints:default"),
    ],
)
def test_record_ids_round_trip(key: ResourceKey, doc_id: str) -> None:
    assert record_id(key) == doc_id
    assert key_of(doc_id) == key


@pytest.mark.parametrize("doc_id", ["meta", "lock", "Nope:x", "Connector:", "random"])
def test_non_record_ids(doc_id: str) -> None:
    assert key_of(doc_id) is None


def test_state_from_hits_separates_records_meta_and_lock() -> None:
    hits = [
        {"_id": "meta", "_source": {"doc_type": "meta", "fingerprint_key": "AAECAw=="}},
        {
            "_id": "lock",
            "_source": {
                "doc_type": "lock",
                "holder": "ana@h:1-abc",
                "lock_id": "abc123",
                "operation": "apply",
                "acquired_at": "a",
                "expires_at": "b",
            },
        },
        {
            "_id": "Connector:c1",
            "_seq_no": 7,
            "_primary_term": 1,
            "_source": {
                "doc_type": "record",
                "kind": "Connector",
                "name": "c1",
                "status": "managed",
                "live_id": "X1",
                "spec_hash": "sha256:1",
                "applied": {"name": "c1"},
                "fingerprints": {"k": "hmac-sha256:00"},
                "updated_at": "t",
            },
        },
        {"_id": "Model:m1", "_source": {"doc_type": "record", "status": "intent"}},
        {"_id": "Connector:bad", "_source": {"doc_type": "record", "status": "weird"}},
    ]
    state = state_from_hits(hits)
    assert state.exists
    assert state.fingerprint_key == bytes([0, 1, 2, 3])
    assert state.lock is not None and state.lock.lock_id == "abc123"
    record = state.records[ResourceKey(Kind.CONNECTOR, "c1")]
    assert (record.status, record.id, record.seq_no, record.primary_term) == ("managed", "X1", 7, 1)
    assert record.fingerprints == {"k": "hmac-sha256:00"}
    intent = state.records[ResourceKey(Kind.MODEL, "m1")]
    assert (intent.status, intent.id) == ("intent", None)
    assert ResourceKey(Kind.CONNECTOR, "bad") not in state.records


def test_effective_settings_layering() -> None:
    answer = {
        "defaults": {
            "plugins.ml_commons.connector_access_control_enabled": "false",
            "plugins.ml_commons.model_access_control_enabled": "false",
            "plugins.ml_commons.trusted_connector_endpoints_regex": ["^https://a$"],
            "cluster.name": "x",
        },
        "persistent": {
            "plugins.ml_commons.model_access_control_enabled": "true",
            "plugins.ml_commons.connector_access_control_enabled": "true",
        },
        "transient": {"plugins.ml_commons.connector_access_control_enabled": "false"},
    }
    effective, explicit = effective_settings(answer)
    assert effective == {
        "plugins.ml_commons.connector_access_control_enabled": "false",
        "plugins.ml_commons.model_access_control_enabled": "true",
        "plugins.ml_commons.trusted_connector_endpoints_regex": ["^https://a$"],
    }
    assert explicit == {
        "plugins.ml_commons.model_access_control_enabled": "true",
        "plugins.ml_commons.connector_access_control_enabled": "false",
    }


def test_live_objects_never_keep_credentials() -> None:
    hit = {
        "_id": "m1",
        "_seq_no": 3,
        "_primary_term": 2,
        "_source": {
            "name": "m",
            "credential": {"k": "cipher"},
            "connector": {"name": "inline", "credential": {"k": "cipher"}},
        },
    }
    obj = live_object(hit)
    assert "credential" not in obj.source
    assert "credential" not in obj.source["connector"]
    assert (obj.id, obj.seq_no, obj.primary_term, obj.name) == ("m1", 3, 2, "m")


def _lock(expires: dt.datetime | str) -> LockInfo:
    text = expires if isinstance(expires, str) else expires.isoformat(timespec="milliseconds")
    return LockInfo(
        holder="ana@ci:42-abcdef",
        lock_id="abcdef0123456789",
        operation="apply",
        acquired_at=T0.isoformat(),
        expires_at=text,
    )


@pytest.mark.parametrize(
    ("expires", "now", "expected"),
    [
        (T0 + dt.timedelta(seconds=60), T0, False),
        (T0 + dt.timedelta(seconds=60), T0 + dt.timedelta(seconds=59), False),
        (T0 + dt.timedelta(seconds=60), T0 + dt.timedelta(seconds=60), True),
        (T0 + dt.timedelta(seconds=60), T0 + dt.timedelta(hours=1), True),
        ("2026-11-22T08:01:00", T0, False),  # naive times are UTC
        ("not a time", T0, True),
    ],
)
def test_lock_expiry(expires: dt.datetime | str, now: dt.datetime, expected: bool) -> None:
    assert is_expired(_lock(expires), now=now) is expected


def test_held_error_names_holder_operation_and_unlock_command() -> None:
    message = str(held_error(_lock(T0)))
    assert "ana@ci:42-abcdef" in message
    assert "(apply)" in message
    assert "osml lock force-unlock abcdef0123456789" in message
