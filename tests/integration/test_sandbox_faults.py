"""Fault injection and the /_sandbox/ admin API, observed through real HTTP clients."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from opensearchpy import ConnectionError as OpenSearchConnectionError
from opensearchpy import OpenSearch, TransportError

from reconciler.sandbox.faults import Faults, FaultSpecError, load_spec
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for

Factory = Callable[..., Sandbox]
FLAKY = {
    "seed": 7,
    "rules": [{"route": "GET /*/_doc/*", "error_rate": 0.3, "reset_rate": 0.2, "status": 503}],
}


def no_retry(sandbox: Sandbox) -> OpenSearch:
    return client_for(sandbox, max_retries=0)


def outcomes(client: OpenSearch, count: int) -> list[str]:
    seen = []
    for _ in range(count):
        try:
            client.get(index="i", id="a")
            seen.append("ok")
        except OpenSearchConnectionError:
            seen.append("reset")
        except TransportError as exc:
            seen.append(str(exc.status_code))
    return seen


def test_same_seed_gives_the_same_fault_sequence(sandbox_factory: Factory) -> None:
    runs = []
    for _ in range(2):
        sandbox = sandbox_factory(faults=FLAKY)
        sandbox.context.store.index("i", {"v": 1}, id="a")
        runs.append(outcomes(no_retry(sandbox), 40))
    assert runs[0] == runs[1]
    assert {"ok", "503", "reset"} <= set(runs[0])
    other = sandbox_factory(faults={**FLAKY, "seed": 8})
    other.context.store.index("i", {"v": 1}, id="a")
    assert outcomes(no_retry(other), 40) != runs[0]


def test_injected_errors_have_opensearch_bodies(sandbox_factory: Factory) -> None:
    spec = {"rules": [{"route": "/i/_doc/*", "refuse_next": 2, "status": 429}]}
    sandbox = sandbox_factory(faults=spec)
    sandbox.context.store.index("i", {"v": 1}, id="a")
    client = no_retry(sandbox)
    with pytest.raises(TransportError) as caught:
        client.get(index="i", id="a")
    assert caught.value.status_code == 429
    assert caught.value.error == "rejected_execution_exception"
    assert outcomes(client, 2) == ["429", "ok"]
    assert sandbox.faults.injected["error"] == 2


def test_lost_response_performs_the_write(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory(faults={"rules": [{"route": "PUT /*", "lost_rate": 1.0}]})
    client = no_retry(sandbox)
    with pytest.raises(OpenSearchConnectionError):
        client.index(index="i", id="a", body={"v": 1})
    sandbox.faults.clear()
    assert client.get(index="i", id="a")["_source"] == {"v": 1}
    assert [e.action for e in sandbox.requests.entries()][:1] == ["lost"]


def test_latency_delays_matching_routes_only(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory(faults={"rules": [{"route": "GET /", "latency": 0.1}]})
    client = no_retry(sandbox)
    started = time.perf_counter()
    client.info()
    assert time.perf_counter() - started >= 0.1
    client.indices.exists(index="i")
    fast = [e for e in sandbox.requests.entries() if e.method == "HEAD"]
    assert fast[0].duration_ms < 100


def test_runtime_control_through_the_admin_api(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory()
    client = no_retry(sandbox)
    transport = client.transport
    spec = {"rules": [{"route": "GET /", "refuse_next": 1, "status": 500}]}
    transport.perform_request("PUT", "/_sandbox/faults", body=spec)
    assert (
        transport.perform_request("GET", "/_sandbox/faults")["faults"]["rules"][0]["refuse_next"]
        == 1
    )
    with pytest.raises(TransportError) as caught:
        client.info()
    assert caught.value.status_code == 500
    transport.perform_request("DELETE", "/_sandbox/faults")
    assert client.info()["version"]["distribution"] == "opensearch"
    bad = {"rules": [{"route": "/", "status": 418}]}
    with pytest.raises(TransportError) as refused:
        transport.perform_request("PUT", "/_sandbox/faults", body=bad)
    assert refused.value.status_code == 400


def test_request_log_counts_per_route(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory()
    client = no_retry(sandbox)
    client.index(index="i", id="a", body={"v": 1})
    client.index(index="i", id="b", body={"v": 1})
    client.get(index="i", id="a")
    assert sandbox.requests.count("/{index}/_doc/{id}", method="PUT") == 2
    assert sandbox.requests.count("/{index}/_doc/{id}") == 3
    answer = client.transport.perform_request("GET", "/_sandbox/requests")
    assert answer["counts"]["PUT /{index}/_doc/{id}"] == 2
    client.transport.perform_request("DELETE", "/_sandbox/requests")
    assert len(sandbox.requests) == 1  # the DELETE itself is logged after clearing


def test_state_dump_redacts_the_ml_config_index(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory()
    sandbox.context.store.index(".plugins-ml-config", {"master_key": "s3cr3t-key"}, id="master_key")
    sandbox.context.store.index("i", {"v": 1}, id="a")
    state = no_retry(sandbox).transport.perform_request(
        "GET", "/_sandbox/state", params={"docs": "true"}
    )
    assert state["indices"]["i"] == {"count": 1, "docs": {"a": {"v": 1}}}
    assert "s3cr3t-key" not in json.dumps(state)


@pytest.mark.parametrize(
    ("spec", "model", "outcome", "later"),
    [
        ({}, "any", "deployed", None),
        ({"deploy": [{"model": "flaky-*", "outcome": "failed"}]}, "flaky-1", "failed", None),
        ({"deploy": [{"model": "flaky-*", "outcome": "failed"}]}, "steady", "deployed", None),
        ({"deploy": [{"outcome": "stuck"}]}, "x", "stuck", None),
        (
            {"deploy": [{"model": "p", "outcome": "partial", "undeploy_after": 2.5}]},
            "p",
            "partial",
            2.5,
        ),
    ],
)
def test_deploy_outcomes_by_model_name(
    spec: dict[str, Any], model: str, outcome: str, later: float | None
) -> None:
    faults = Faults(spec)
    assert faults.deploy_outcome("id-123", name=model) == outcome
    assert faults.undeploy_later("id-123", name=model) == later


@pytest.mark.parametrize(
    "spec",
    [
        {"rules": [{"route": "/", "error_rate": 0.8, "reset_rate": 0.5}]},
        {"rules": [{"route": "/", "bogus": 1}]},
        {"deploy": [{"outcome": "exploded"}]},
        {"unknown": []},
    ],
)
def test_bad_fault_specs_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(FaultSpecError):
        Faults(spec)


def test_fault_spec_from_json_or_file(tmp_path: Any) -> None:
    path = tmp_path / "faults.json"
    path.write_text(json.dumps(FLAKY))
    assert load_spec(f"@{path}") == FLAKY == load_spec(json.dumps(FLAKY))
    with pytest.raises(FaultSpecError):
        load_spec("{not json")
