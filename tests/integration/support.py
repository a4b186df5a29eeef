"""Manifest builders and plan/apply drivers for integration tests against the sandbox.

Everything goes through the real stack: YAML files on disk, the loader and checks,
opensearch-py over HTTP to a sandbox, the planner and the apply engine.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from reconciler.applying.executing import Settings
from reconciler.cluster.connecting import Connection, ConnectionSettings, connect
from reconciler.cluster.snapshots import StateRecord
from reconciler.cluster.state import read_state
from reconciler.mlcommons.versions import Version
from reconciler.outcomes import ApplyResult
from reconciler.planning import PlanOptions
from reconciler.plans import Plan
from reconciler.reconciling import ApplyOptions, apply_checked, plan_against, read_desired
from reconciler.rendering.progress import RecordingObserver
from reconciler.resources import ResourceKey
from reconciler.retrying import Backoff

SECRET = "sk-integration-secret-7f3a9c2e"
ENV = {"TEST_API_KEY": SECRET}


def connector(
    name: str,
    *,
    description: str = "A test connector",
    parameters: Mapping[str, Any] | None = None,
    url: str = "https://api.openai.com/v1/chat/completions",
    strategy: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "osml/v1",
        "kind": "Connector",
        "metadata": {"name": name},
        "spec": {
            "name": f"{name} connector",
            "description": description,
            "version": 1,
            "protocol": "http",
            "parameters": dict(parameters or {"model": "gpt-4o-mini"}),
            "credential": {"openAI_key": {"fromEnv": "TEST_API_KEY"}},
            "actions": [
                {
                    "action_type": "predict",
                    "method": "POST",
                    "url": url,
                    "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                    "request_body": '{"model": "${parameters.model}", "messages": []}',
                }
            ],
        },
    }
    if strategy:
        doc["lifecycle"] = {"update_strategy": strategy}
    return doc


def group(name: str, *, description: str = "A test group") -> dict[str, Any]:
    return {
        "apiVersion": "osml/v1",
        "kind": "ModelGroup",
        "metadata": {"name": name},
        "spec": {"name": f"{name} group", "description": description},
    }


def model(
    name: str,
    *,
    connector_name: str,
    group_name: str,
    deployed: bool = True,
    description: str = "A test model",
) -> dict[str, Any]:
    return {
        "apiVersion": "osml/v1",
        "kind": "Model",
        "metadata": {"name": name},
        "spec": {
            "name": f"{name} model",
            "description": description,
            "connector": connector_name,
            "model_group": group_name,
        },
        "lifecycle": {"deployed": deployed},
    }


def loopback_access() -> list[dict[str, Any]]:
    """The AccessControl and TrustedEndpoints documents that let connectors reach a
    loopback model server (`tests.support.model_server`): private addresses allowed
    (reference §3.2) and its `/v1/` paths trusted."""
    settings = {
        "apiVersion": "osml/v1",
        "kind": "AccessControl",
        "metadata": {"name": "ml-commons"},
        "spec": {"settings": {"connector.private_ip_enabled": True}},
    }
    trusted = {
        "apiVersion": "osml/v1",
        "kind": "TrustedEndpoints",
        "metadata": {"name": "loopback"},
        "spec": {"mode": "merge", "patterns": [r"^http://127\.0\.0\.1:\d+/v1/.*$"]},
    }
    return [settings, trusted]


def consumer_reads(version: str) -> int:
    """Requests a snapshot spends on model consumers whatever their number: all ingest
    pipelines, all search pipelines, the pipeline settings of every index (one `GET`
    each), and one agent search from 2.12 (docs/reference/consumers.md §6)."""
    return 3 + (1 if Version.parse(version) >= Version(2, 12) else 0)


def write(directory: Path, docs: list[dict[str, Any]]) -> Path:
    """Write `docs` as one multi-document YAML file; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    (directory / "all.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False), "utf-8")
    return directory


Recorder = RecordingObserver
"""Every apply event, kept in order (rendering's own test observer)."""


def open_connection(url: str) -> Connection:
    return connect(ConnectionSettings(url=url, timeout=10))


def state_record(url: str, key: ResourceKey) -> StateRecord:
    """The state record of `key` as stored now."""
    with open_connection(url) as conn:
        return read_state(conn, index="osml-state").records[key]


def stored_state_documents(url: str) -> str:
    """Every document of the state index as JSON text, to search for a secret."""
    with open_connection(url) as conn:
        hits = conn.client.search(index="osml-state", body={"size": 100})["hits"]["hits"]
    return json.dumps(hits)


def fast_settings(*, deploy_timeout: float = 10.0) -> Settings:
    return Settings(
        deploy_timeout=deploy_timeout, backoff=Backoff(initial=0.01, maximum=0.1, attempts=8)
    )


def plan(url: str, paths: Path, *, prune: bool = False) -> Plan:
    with open_connection(url) as conn:
        desired = read_desired([paths], version=Version.parse(conn.version), env=ENV)
        return plan_against(
            conn, desired, options=PlanOptions(prune=prune), state_index="osml-state"
        ).plan


def apply(
    url: str,
    paths: Path,
    *,
    prune: bool = False,
    parallelism: int = 10,
    observer: Recorder | None = None,
    settings: Settings | None = None,
) -> ApplyResult:
    with open_connection(url) as conn:
        desired = read_desired([paths], version=Version.parse(conn.version), env=ENV)
        planned = plan_against(
            conn, desired, options=PlanOptions(prune=prune), state_index="osml-state"
        )
        return apply_checked(
            conn,
            planned.plan,
            desired,
            observer=observer or Recorder(),
            options=ApplyOptions(parallelism=parallelism, settings=settings or fast_settings()),
            seen=planned.snapshot,
        )


def actions(result_or_plan: ApplyResult | Plan) -> dict[str, str]:
    """`Kind/name` -> action of each change that does something."""
    if isinstance(result_or_plan, Plan):
        return {str(c.key): c.action.value for c in result_or_plan.changes if c.is_change}
    return {str(r.key): f"{r.action.value}:{r.outcome.value}" for r in result_or_plan.results}


def wait_deployed(client: Any, model_id: str, *, timeout: float = 10.0) -> None:
    """Wait until the sandbox reports the model DEPLOYED."""
    deadline = time.monotonic() + timeout
    while client.plugins.ml.get_model(model_id=model_id)["model_state"] != "DEPLOYED":
        if time.monotonic() > deadline:
            raise AssertionError(f"model {model_id} not DEPLOYED after {timeout}s")
        time.sleep(0.02)
