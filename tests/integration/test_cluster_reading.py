"""The live snapshot over HTTP: request counts, pagination, what is left out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import Connection
from reconciler.cluster.reading import read_snapshot
from tests.integration.support import consumer_reads

CONNECTORS = ".plugins-ml-connector"
GROUPS = ".plugins-ml-model-group"
MODELS = ".plugins-ml-model"


def _sandbox(cluster: Any) -> Any:
    if cluster.sandbox is None:
        pytest.skip("needs the sandbox (request log, direct writes to ML indices)")
    return cluster.sandbox


def connector_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "protocol": "http",
        "parameters": {"endpoint": "api.openai.com"},
        "credential": {"openAI_key": "sk-test-never-shown"},
        "actions": [
            {
                "action_type": "PREDICT",
                "method": "POST",
                "url": "https://api.openai.com/v1/chat/completions",
                "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                "request_body": '{"model": "gpt-4o"}',
            }
        ],
    }


def _seed_one_of_each(calls: MlCalls) -> tuple[str, str]:
    """Create the ML indices the way the server does (with their mappings)."""
    connector = calls.create_connector(connector_body("seed"))
    group = calls.register_model_group({"name": "seed-group"})
    calls.register_model(
        {
            "name": "seed",
            "function_name": "remote",
            "connector_id": connector,
            "model_group_id": group,
        }
    )
    return connector, group


def _bulk(conn: Connection, docs: list[tuple[str, dict[str, Any]]]) -> None:
    lines = []
    for index, source in docs:
        lines += [json.dumps({"index": {"_index": index}}), json.dumps(source)]
    answer = conn.client.bulk(body="\n".join(lines) + "\n")
    assert not answer["errors"]


def _seed_bulk(conn: Connection, count: int, *, connector: str, group: str) -> None:
    """`count` more objects, spread over the three kinds."""
    docs: list[tuple[str, dict[str, Any]]] = []
    for n in range(count):
        kind = n % 3
        if kind == 0:
            docs.append((CONNECTORS, {"name": f"c{n}", "version": "1", "protocol": "http"}))
        elif kind == 1:
            docs.append((GROUPS, {"name": f"g{n}", "latest_version": 0, "access": "public"}))
        else:
            model = {"name": f"m{n}", "algorithm": "REMOTE", "model_state": "REGISTERED"}
            docs.append((MODELS, {**model, "connector_id": connector, "model_group_id": group}))
    _bulk(conn, docs)


def _requests_during(sandbox: Any, action: Any) -> tuple[Any, int]:
    before = len(sandbox.requests.entries())
    result = action()
    return result, len(sandbox.requests.entries()) - before


def test_request_count_does_not_grow_with_size(cluster: Any, conn: Connection) -> None:
    sandbox = _sandbox(cluster)
    connector, group = _seed_one_of_each(MlCalls(conn))
    counts = {}
    for total in (20, 2000):
        existing = read_snapshot(conn)
        have = len(existing.connectors) + len(existing.model_groups) + len(existing.models)
        _seed_bulk(conn, total - have, connector=connector, group=group)
        snapshot, sent = _requests_during(sandbox, lambda: read_snapshot(conn))
        assert len(snapshot.connectors) + len(snapshot.model_groups) + len(snapshot.models) == total
        assert snapshot.requests == sent
        counts[total] = sent
    assert counts[20] == counts[2000] == 5 + consumer_reads(conn.version)


def test_pagination_with_search_after_sees_every_object_once(
    cluster: Any, conn: Connection
) -> None:
    sandbox = _sandbox(cluster)
    calls = MlCalls(conn)
    connectors = {calls.create_connector(connector_body(f"c{n}")) for n in range(20)}
    groups = {calls.register_model_group({"name": f"g{n}"}) for n in range(14)}
    first = next(iter(connectors))
    models = {
        calls.register_model(
            {"name": f"m{n}", "function_name": "remote", "connector_id": first, "model_group_id": g}
        )
        for n, g in zip(range(9), sorted(groups), strict=False)
    }
    snapshot, sent = _requests_during(sandbox, lambda: read_snapshot(conn, page_size=7))
    assert [o.id for o in snapshot.connectors if o.id in connectors].__len__() == 20
    assert {o.id for o in snapshot.connectors} == connectors
    assert {o.id for o in snapshot.model_groups} == groups
    assert {o.id for o in snapshot.models} == models
    # settings + state + connectors 7,7,6 + groups 7,7 (total reached) + models 7,2
    assert snapshot.requests == sent == 2 + 3 + 2 + 2 + consumer_reads(conn.version)


def test_live_objects_carry_versions_and_no_credentials(conn: Connection) -> None:
    calls = MlCalls(conn)
    connector = calls.create_connector(connector_body("with-secret"))
    snapshot = read_snapshot(conn)
    live = next(o for o in snapshot.connectors if o.id == connector)
    assert live.seq_no is not None and live.primary_term is not None
    assert "credential" not in live.source
    assert "sk-test-never-shown" not in json.dumps([dict(o.source) for o in snapshot.connectors])


def test_hidden_and_local_models_are_left_out(cluster: Any, conn: Connection) -> None:
    _sandbox(cluster)
    connector, group = _seed_one_of_each(MlCalls(conn))
    _bulk(
        conn,
        [
            (
                MODELS,
                {
                    "name": "hidden",
                    "algorithm": "REMOTE",
                    "is_hidden": True,
                    "connector_id": connector,
                },
            ),
            (MODELS, {"name": "local", "algorithm": "TEXT_EMBEDDING", "model_state": "DEPLOYED"}),
            (MODELS, {"name": "chunk", "algorithm": "TEXT_EMBEDDING", "chunk_number": 0}),
            (MODELS, {"name": "visible", "algorithm": "REMOTE", "model_group_id": group}),
        ],
    )
    snapshot = read_snapshot(conn)
    assert sorted(m.name or "" for m in snapshot.models) == ["seed", "visible"]


def test_empty_cluster_reads_as_empty(cluster: Any, conn: Connection) -> None:
    _sandbox(cluster)  # a real cluster is rarely empty
    snapshot = read_snapshot(conn)
    assert (snapshot.connectors, snapshot.model_groups, snapshot.models) == ((), (), ())
    assert not snapshot.state.exists
    assert snapshot.version == conn.version
    assert snapshot.cluster_uuid == conn.cluster_uuid


def test_settings_effective_and_explicit(conn: Connection) -> None:
    key = "plugins.ml_commons.trusted_connector_endpoints_regex"
    calls = MlCalls(conn)
    default = read_snapshot(conn).settings[key]
    calls.put_cluster_settings({key: ["^https://api\\.openai\\.com/.*$"]})
    try:
        snapshot = read_snapshot(conn)
        assert snapshot.explicit_settings[key] == ["^https://api\\.openai\\.com/.*$"]
        assert snapshot.settings[key] == ["^https://api\\.openai\\.com/.*$"]
        assert all(k.startswith("plugins.ml_commons.") for k in snapshot.settings)
    finally:
        calls.put_cluster_settings({key: None})
    assert read_snapshot(conn).settings[key] == default
