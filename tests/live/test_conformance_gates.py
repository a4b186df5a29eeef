"""Conformance of the version gates of the cluster settings (reference §9, §3.1, §11).

Each row runs on the two releases around its gate (`gate_cases`), on the sandbox and, with
`OSML_TEST_CLUSTER_URL`, against a real cluster: which `plugins.ml_commons.*` keys a release
registers, their defaults, when a key turns from final to dynamic, and when the trusted
endpoint list and its validator change. Expectations are keyed on the version the cluster
reports; every value set is reset before the test ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from reconciler.sandbox.testing import gate_cases
from tests.support.conformance import call, reason, release

Rel = tuple[int, int]
P = "plugins.ml_commons."
TRUSTED = P + "trusted_connector_endpoints_regex"


def _rel(text: str) -> Rel:
    major, minor = text.split(".")
    return int(major), int(minor)


@dataclass(frozen=True)
class Registered:
    """A setting that exists from `since` (to `until`, when it was removed)."""

    key: str
    value: Any
    since: str
    until: str | None = None

    @property
    def id(self) -> str:
        return self.key

    @property
    def gates(self) -> tuple[str, ...]:
        if self.until is None:
            return (self.since,)
        major, minor = _rel(self.until)
        return (self.since, f"{major}.{minor + 1}")

    def exists(self, rel: Rel) -> bool:
        return _rel(self.since) <= rel and (self.until is None or rel <= _rel(self.until))


REGISTERED = [
    Registered(P + "remote_inference.enabled", True, "2.10"),
    Registered(P + "task_dispatcher.eligible_node_role.remote_model", ["data", "ml"], "2.10"),
    Registered(P + "update_connector.enabled", False, "2.11", "2.11"),
    # Declared in MLCommonsSettings since 2.9 but registered by getSettings() from 2.12.
    Registered(P + "model_auto_redeploy_success_ratio", 0.8, "2.12"),
    Registered(P + "agent_framework_enabled", True, "2.12"),
    Registered(P + "model_auto_deploy.enable", True, "2.13"),
    Registered(P + "local_model.enabled", True, "2.13"),
    Registered(P + "connector.private_ip_enabled", False, "2.15"),
    Registered(P + "disk_free_space_threshold", "5gb", "2.16"),
    Registered(P + "controller_enabled", True, "2.18"),
    Registered(P + "offline_batch_inference_enabled", True, "2.18"),
    Registered(P + "safe_delete_model", False, "2.19"),
    Registered(P + "mcp_connector_enabled", False, "3.0"),
    Registered(P + "metrics_static_collection_enabled", False, "3.2"),
    Registered(P + "stream_enabled", False, "3.3"),
    Registered(P + "unified_agent_api_enabled", False, "3.5"),
    Registered(P + "trusted_connector_private_endpoints_regex", [], "3.7"),
    Registered(P + "memory.retention_enabled", False, "3.8"),
]


@pytest.mark.parametrize(("cluster", "row"), gate_cases(REGISTERED), indirect=["cluster"])
def test_settings_are_registered_from_their_release(cluster: Any, row: Registered) -> None:
    rel = release(cluster.version)
    status, body = call(
        cluster.client, "PUT", "/_cluster/settings", {"transient": {row.key: row.value}}
    )
    try:
        final = row.key.endswith("metrics_static_collection_enabled") and rel == (3, 1)
        if final:  # 3.1 registers it as a Final setting, 3.2 as a dynamic one (§9)
            text = f"final transient setting [{row.key}], not updateable"
            assert (status, reason(body)) == (400, text)
            return
        if row.exists(rel):
            assert status == 200, body
            assert body["acknowledged"] is True
        else:
            assert (status, reason(body)) == (400, f"transient setting [{row.key}], not recognized")
    finally:
        if status == 200:
            call(cluster.client, "PUT", "/_cluster/settings", {"transient": {row.key: None}})


@dataclass(frozen=True)
class Scoped:
    """A setting registered from `since` that `PUT _cluster/settings` may not change."""

    key: str
    value: Any
    since: str
    scope: str
    """`static` (not dynamically updateable) or `final`."""

    @property
    def id(self) -> str:
        return self.key

    @property
    def gates(self) -> tuple[str, ...]:
        return (self.since,)


SCOPED = [
    Scoped(P + "multi_tenancy_enabled", True, "2.19", "static"),
    Scoped(P + "remote_metadata_type", "AWSDynamoDB", "2.19", "final"),
    Scoped(P + "metrics_collection_enabled", True, "3.1", "final"),
    Scoped(P + "master_key_cache_ttl_minutes", 10, "3.5", "static"),
    Scoped(P + "connector.restricted_ip_patterns", ["^10\\..*"], "3.7", "final"),
]


@pytest.mark.parametrize(("cluster", "row"), gate_cases(SCOPED), indirect=["cluster"])
def test_static_and_final_settings_are_refused(cluster: Any, row: Scoped) -> None:
    rel = release(cluster.version)
    status, body = call(
        cluster.client, "PUT", "/_cluster/settings", {"persistent": {row.key: row.value}}
    )
    if rel < _rel(row.since):
        text = f"persistent setting [{row.key}], not recognized"
    elif row.scope == "final":
        text = f"final persistent setting [{row.key}], not updateable"
    else:
        text = f"persistent setting [{row.key}], not dynamically updateable"
    assert (status, reason(body)) == (400, text)


@dataclass(frozen=True)
class Default:
    """The default of `key` as `GET _cluster/settings?include_defaults` shows it."""

    id: str
    key: str
    expect: Callable[[Rel], Any]
    gates: tuple[str, ...]


DEFAULTS = [
    Default(
        "auto-redeploy-on-from-2.12",
        P + "model_auto_redeploy.enable",
        lambda r: "true" if r >= (2, 12) else "false",
        ("2.12",),
    ),
    Default(
        "rag-pipeline-on-from-2.12",
        P + "rag_pipeline_feature_enabled",
        lambda r: "true" if r >= (2, 12) else "false",
        ("2.12",),
    ),
    Default(
        "memory-on-from-2.12",
        P + "memory_feature_enabled",
        lambda r: "true" if r >= (2, 12) else "false",
        ("2.12",),
    ),
    Default(
        "agent-framework-on-from-2.13",
        P + "agent_framework_enabled",
        lambda r: "true" if r >= (2, 13) else "false",
        ("2.13",),
    ),
    Default(
        "batch-tasks-100-from-3.4",
        P + "max_batch_inference_tasks",
        lambda r: "100" if r >= (3, 4) else "10",
        ("3.4",),
    ),
    Default(
        "completed-regex-from-2.19",
        P + "remote_job.status_regex.completed",
        lambda r: (
            "(complete|completed|partiallyCompleted)" if r >= (2, 19) else "(complete|completed)"
        ),
        ("2.19",),
    ),
]


@pytest.mark.parametrize(("cluster", "row"), gate_cases(DEFAULTS), indirect=["cluster"])
def test_defaults_change_at_their_release(cluster: Any, row: Default) -> None:
    defaults = cluster.client.cluster.get_settings(flat_settings=True, include_defaults=True)[
        "defaults"
    ]
    assert defaults[row.key] == row.expect(release(cluster.version))


# §3.1: the pattern each release adds to the default trusted-endpoint list.
TRUSTED_ADDED = [
    ("2.11", r"^https://bedrock-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$"),
    ("2.16", r"^https://api\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$"),
    ("2.18", r"^https://textract\..*[a-z0-9-]\.amazonaws\.com$"),
    ("2.19", r"^https://api\.deepseek\.com/.*$"),
    ("3.5", r"^https://generativelanguage\.googleapis\.com/.*$"),
]


@dataclass(frozen=True)
class Added:
    since: str
    pattern: str

    @property
    def id(self) -> str:
        return f"trusted-{self.since}"

    @property
    def gates(self) -> tuple[str, ...]:
        return (self.since,)


@pytest.mark.parametrize(
    ("cluster", "row"), gate_cases(Added(*row) for row in TRUSTED_ADDED), indirect=["cluster"]
)
def test_trusted_endpoint_defaults_grow(cluster: Any, row: Added) -> None:
    defaults = cluster.client.cluster.get_settings(flat_settings=True, include_defaults=True)[
        "defaults"
    ]
    present = row.pattern in defaults[TRUSTED]
    assert present is (release(cluster.version) >= _rel(row.since))


@pytest.mark.gates("3.7")
def test_trusted_regex_validator_from_3_7(cluster: Any) -> None:
    pattern = "^https://(a+)+\\.example/.*$"
    body = {"transient": {TRUSTED: [pattern]}}
    status, answer = call(cluster.client, "PUT", "/_cluster/settings", body)
    try:
        if release(cluster.version) >= (3, 7):
            text = (
                "Regex pattern contains nested quantifiers or backreferences that may cause "
                f"ReDoS: {pattern}"
            )
            assert (status, reason(answer)) == (400, text)
        else:
            assert status == 200, answer
    finally:
        call(cluster.client, "PUT", "/_cluster/settings", {"transient": {TRUSTED: None}})
