"""Normalising desired and live documents to one comparable shape (§2.7, §6.6, §10)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.manifests.models import ConnectorManifest, ModelGroupManifest, ModelManifest
from reconciler.mlcommons.versions import Version
from reconciler.planning.normalizing import (
    Fingerprints,
    LiveIds,
    canonical_json,
    desired_body,
    live_connector,
    live_model,
    model_state,
)
from reconciler.plans import SECRET_MARKER, is_secret_marker, ref_marker
from reconciler.resources import Kind, ResourceKey
from reconciler.secrets.values import Secret

NO_SECRETS = Fingerprints({}, None)
CONNECTOR = ResourceKey(Kind.CONNECTOR, "c")


def connector(**spec: Any) -> ConnectorManifest:
    base: dict[str, Any] = {
        "version": 1,
        "protocol": "http",
        "actions": [{"action_type": "predict", "method": "POST", "url": "https://x/y"}],
    }
    base.update(spec)
    return ConnectorManifest.model_validate(
        {"apiVersion": "osml/v1", "kind": "Connector", "metadata": {"name": "c"}, "spec": base}
    )


def model(**spec: Any) -> ModelManifest:
    return ModelManifest.model_validate(
        {"apiVersion": "osml/v1", "kind": "Model", "metadata": {"name": "m"}, "spec": spec}
    )


@pytest.mark.parametrize(
    ("spec", "field", "expected"),
    [
        ({}, "name", "c"),
        ({"name": "Given"}, "name", "Given"),
        ({"version": 1}, "version", "1"),
        ({"version": 1.0}, "version", "1.0"),
        ({"version": "v2"}, "version", "v2"),
        ({}, "parameters", {}),
        (
            {"parameters": {"n": 100, "b": True, "o": {"a": [1, 2]}, "s": "text", "f": 0.5}},
            "parameters",
            {"n": "100", "b": "true", "o": '{"a":[1,2]}', "s": "text", "f": "0.5"},
        ),
        ({"access_mode": "public"}, "access_mode", "public"),
    ],
)
def test_desired_connector_fields(spec: dict[str, Any], field: str, expected: Any) -> None:
    body = desired_body(connector(**spec), version=Version(2, 19), fingerprints=NO_SECRETS)
    assert body[field] == expected


def test_desired_action_type_is_upper_cased_and_method_kept() -> None:
    body = desired_body(connector(), version=Version(2, 19), fingerprints=NO_SECRETS)
    assert body["actions"] == [{"action_type": "PREDICT", "method": "POST", "url": "https://x/y"}]


@pytest.mark.parametrize(
    ("version", "given", "expected"),
    [
        (
            "2.13",
            {"max_connection": 5},
            {"max_connection": 5, "connection_timeout": 30000, "read_timeout": 30000},
        ),
        ("3.7", {}, {"connection_timeout": 30, "read_timeout": 30, "max_retry_times": 0}),
        ("2.19", {"retry_backoff_policy": "EXPONENTIAL_FULL_JITTER"},
         {"retry_backoff_policy": "exponential_full_jitter"}),
    ],
)  # fmt: skip
def test_client_config_defaults_are_filled_for_the_version(
    version: str, given: dict[str, Any], expected: dict[str, Any]
) -> None:
    body = desired_body(
        connector(client_config=given), version=Version.parse(version), fingerprints=NO_SECRETS
    )
    assert expected.items() <= body["client_config"].items()


def test_no_client_config_stays_absent() -> None:
    body = desired_body(connector(), version=Version(3, 8), fingerprints=NO_SECRETS)
    assert "client_config" not in body


@pytest.mark.parametrize(
    ("key", "secrets", "fingerprinted"),
    [
        (None, {(CONNECTOR, "credential.k"): Secret("s3cr3t-value")}, False),
        (b"key", {}, False),
        (b"key", {(CONNECTOR, "credential.k"): Secret("s3cr3t-value")}, True),
    ],
)
def test_credentials_become_secret_markers(
    key: bytes | None, secrets: dict[Any, Secret], fingerprinted: bool
) -> None:
    manifest = connector(credential={"k": {"fromEnv": "K"}})
    body = desired_body(manifest, version=Version(2, 19), fingerprints=Fingerprints(secrets, key))
    marker = body["credential"]["k"]
    assert is_secret_marker(marker)
    assert marker[SECRET_MARKER] == {"fromEnv": "K"}
    assert (marker["fingerprint"] is not None) is fingerprinted
    assert "s3cr3t-value" not in str(body)


def test_model_references_become_markers_and_raw_ids_stay() -> None:
    by_name = desired_body(
        model(connector="c", model_group="g"), version=Version(3, 8), fingerprints=NO_SECRETS
    )
    assert by_name["connector_id"] == ref_marker(CONNECTOR)
    assert by_name["model_group_id"] == ref_marker(ResourceKey(Kind.MODEL_GROUP, "g"))
    assert by_name["function_name"] == "remote"
    raw = desired_body(
        model(connector_id="raw-c", model_group_id="raw-g"),
        version=Version(3, 8),
        fingerprints=NO_SECRETS,
    )
    assert (raw["connector_id"], raw["model_group_id"]) == ("raw-c", "raw-g")


def test_inline_connector_credentials_use_the_inline_path() -> None:
    secrets = {(ResourceKey(Kind.MODEL, "m"), "connector.credential.k"): Secret("v")}
    inline = {
        "version": 1,
        "protocol": "http",
        "credential": {"k": {"fromEnv": "K"}},
        "actions": [{"action_type": "PREDICT", "method": "POST", "url": "https://x/y"}],
    }
    body = desired_body(
        model(connector=inline), version=Version(3, 8), fingerprints=Fingerprints(secrets, b"k")
    )
    assert body["connector"]["name"] == "m"
    assert body["connector"]["credential"]["k"]["fingerprint"].startswith("hmac-sha256:")


@pytest.mark.parametrize(
    ("deploy_setting", "expected"),
    [
        ({"is_auto_deploy_enabled": True, "model_ttl_minutes": -1}, {"is_auto_deploy_enabled": True}),
        ({"model_ttl_minutes": 5}, {"model_ttl_minutes": 5}),
    ],
)  # fmt: skip
def test_default_model_ttl_is_dropped(deploy_setting: dict[str, Any], expected: Any) -> None:
    body = desired_body(
        model(connector="c", deploy_setting=deploy_setting),
        version=Version(2, 19),
        fingerprints=NO_SECRETS,
    )
    assert body["deploy_setting"] == expected


@pytest.mark.parametrize(("written", "stored"), [(10, "10"), (10.0, "10.0"), (2.5, "2.5")])
def test_a_rate_limit_compares_as_the_number_it_is(written: float, stored: str) -> None:
    """The server keeps `limit` as text (§6.2): `10` sent, `"10"` or `"10.0"` read back."""
    limiter = {"limit": written, "unit": "MINUTES"}
    desired = desired_body(
        model(connector="c", rate_limiter=limiter), version=Version(2, 19), fingerprints=NO_SECRETS
    )
    live = live_model(
        {"name": "m", "rate_limiter": {"limit": stored, "unit": "MINUTES"}}, ids=LiveIds({})
    )
    assert desired["rate_limiter"] == live["rate_limiter"]


def test_group_body_defaults_its_name() -> None:
    group = ModelGroupManifest.model_validate(
        {"apiVersion": "osml/v1", "kind": "ModelGroup", "metadata": {"name": "g"}}
    )
    assert desired_body(group, version=Version(2, 9), fingerprints=NO_SECRETS) == {"name": "g"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"name": "n", "owner": {"name": "u"}, "created_time": 1, "last_updated_time": 2},
         {"name": "n", "parameters": {}}),
        ({"access": "private", "tenant_id": "t"}, {"access_mode": "private", "parameters": {}}),
        ({"version": 1, "parameters": {"n": 1}}, {"version": "1", "parameters": {"n": "1"}}),
        ({"actions": [{"action_type": "predict", "url": "u"}]},
         {"actions": [{"action_type": "PREDICT", "url": "u"}], "parameters": {}}),
        ({"credential": {"k": "ciphertext"}}, {"parameters": {}}),
    ],
)  # fmt: skip
def test_live_connector(source: dict[str, Any], expected: dict[str, Any]) -> None:
    assert live_connector(source) == expected


def test_live_model_drops_server_fields_and_reads_managed_ids_as_references() -> None:
    ids = LiveIds({"c-1": CONNECTOR, "g-1": ResourceKey(Kind.MODEL_GROUP, "g")})
    source = {
        "name": "m",
        "algorithm": "REMOTE",
        "model_state": "DEPLOYED",
        "model_version": "3",
        "model_id": "m-1",
        "connector_id": "c-1",
        "model_group_id": "unmanaged",
        "deploy_setting": {"is_auto_deploy_enabled": False, "model_ttl_minutes": -1},
        "interface": {"input": '{ "type": "object" }'},
        "is_hidden": False,
        "planning_worker_nodes": ["n"],
    }
    assert live_model(source, ids=ids) == {
        "name": "m",
        "function_name": "remote",
        "connector_id": ref_marker(CONNECTOR),
        "model_group_id": "unmanaged",
        "deploy_setting": {"is_auto_deploy_enabled": False},
        "interface": {"input": '{"type":"object"}'},
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"type": "object"}, '{"type":"object"}'),
        ('{ "type" : "object" }', '{"type":"object"}'),
        ("not json", "not json"),
    ],
)
def test_canonical_json(value: Any, expected: str) -> None:
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    ("source", "state"),
    [({"model_state": "deployed"}, "DEPLOYED"), ({}, "REGISTERED")],
)
def test_model_state(source: dict[str, Any], state: str) -> None:
    assert model_state(source) == state
