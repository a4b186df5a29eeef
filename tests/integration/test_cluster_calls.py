"""ML Commons calls over HTTP: results, version-aware routes, error classes and wording."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import Connection, ConnectionSettings, connect
from reconciler.errors import ClusterError, ClusterNotFoundError, TransientClusterError
from tests.integration.test_cluster_reading import connector_body


@pytest.fixture
def calls(conn: Connection) -> MlCalls:
    return MlCalls(conn)


def _model(calls: MlCalls, connector: str, group: str, name: str = "chat") -> str:
    body = {
        "name": name,
        "function_name": "remote",
        "connector_id": connector,
        "model_group_id": group,
    }
    return calls.register_model(body, subject=f"Model/{name}")


def test_connector_lifecycle(calls: MlCalls) -> None:
    connector = calls.create_connector(connector_body("lifecycle"), subject="Connector/lifecycle")
    live = calls.get_connector(connector)
    assert live["name"] == "lifecycle"
    assert "credential" not in live
    found = calls.search_connectors({"query": {"term": {"name.keyword": "lifecycle"}}})
    assert [hit["_id"] for hit in found["hits"]["hits"]] == [connector]
    calls.delete_connector(connector)
    with pytest.raises(
        ClusterNotFoundError, match=r"^Connector/lifecycle: read failed \((400|404)\)"
    ):
        calls.get_connector(connector, subject="Connector/lifecycle")


def test_update_connector_follows_the_version(cluster: Any, calls: MlCalls) -> None:
    connector = calls.create_connector(connector_body("upd"))
    caps = calls.capabilities
    if caps.update_connector:
        calls.update_connector(connector, {"description": "new"}, subject="Connector/upd")
        assert calls.get_connector(connector)["description"] == "new"
        return
    sandbox = cluster.require_sandbox()
    before = len(sandbox.requests.entries())
    with pytest.raises(
        ClusterError, match=r"^Connector/upd: update failed: OpenSearch 2\.\d+ has no"
    ):
        calls.update_connector(connector, {"description": "new"}, subject="Connector/upd")
    assert len(sandbox.requests.entries()) == before  # refused without asking the server


def test_register_returns_the_model_id_on_every_version(calls: MlCalls) -> None:
    connector = calls.create_connector(connector_body("reg"))
    group = calls.register_model_group({"name": "reg-group"}, subject="ModelGroup/reg-group")
    model = _model(calls, connector, group)
    live = calls.get_model(model)
    assert (live["name"], live["algorithm"], live["connector_id"]) == ("chat", "REMOTE", connector)
    assert calls.get_model_group(group)["name"] == "reg-group"


def test_deploy_undeploy_delete(calls: MlCalls) -> None:
    connector = calls.create_connector(connector_body("dep"))
    group = calls.register_model_group({"name": "dep-group"})
    model = _model(calls, connector, group)
    calls.deploy_model(model)
    calls.undeploy_model(model)
    calls.delete_model(model)
    calls.delete_connector(connector)
    calls.delete_model_group(group)
    assert calls.search_models({"query": {"ids": {"values": [model]}}})["hits"]["hits"] == []


def test_in_use_connector_delete_is_transient_and_worded(calls: MlCalls) -> None:
    connector = calls.create_connector(connector_body("used"))
    group = calls.register_model_group({"name": "used-group"})
    _model(calls, connector, group)
    with pytest.raises(TransientClusterError) as caught:
        calls.delete_connector(connector, subject="Connector/used")
    error = caught.value
    assert str(error).startswith(f"Connector/used: delete failed ({error.status}): 1 models are")
    assert error.status in (409, 500)
    assert error.reason is not None and "still using this connector" in error.reason


def test_missing_ml_indices_search_as_empty(calls: MlCalls, cluster: Any) -> None:
    cluster.require_sandbox()  # a real cluster already has these indices
    for search in (calls.search_connectors, calls.search_model_groups, calls.search_models):
        assert search({"query": {"match_all": {}}})["hits"]["hits"] == []


def test_scrub_hides_secrets_echoed_by_the_server(conn: Connection) -> None:
    calls = MlCalls(conn, scrub=lambda reason: reason.replace("tok-SECRET-9", "***"))
    body = connector_body("untrusted")
    body["actions"][0]["url"] = "https://evil.example.com/?key=tok-SECRET-9"
    with pytest.raises(ClusterError) as caught:
        calls.create_connector(body, subject="Connector/untrusted")
    assert "tok-SECRET-9" not in str(caught.value)
    assert "tok-SECRET-9" not in (caught.value.reason or "")
    assert "sk-test-never-shown" not in str(caught.value)
    assert str(caught.value).startswith("Connector/untrusted: create failed (400): ")


def test_connect_identifies_the_cluster(cluster: Any) -> None:
    cluster.require_sandbox()
    with connect(ConnectionSettings(url=cluster.url)) as conn:
        assert conn.version == cluster.version
        assert conn.cluster_uuid
        assert conn.warnings == ()


def test_connect_to_nothing_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ClusterError, match=rf"http://127.0.0.1:{port}: cannot reach the cluster"):
        connect(ConnectionSettings(url=f"http://127.0.0.1:{port}", timeout=2))
