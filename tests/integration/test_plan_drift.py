"""Drift made directly through the API is planned correctly, and a swap keeps serving."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from reconciler.errors import PlanError
from reconciler.plans import Action, Plan, Strategy
from tests.integration import support
from tests.integration.support import ENV, connector, group, model, write
from tests.support.model_server import ModelServer

SETTING = "plugins.ml_commons.trusted_connector_endpoints_regex"
OURS = r"^https://models\.example\.com/.*$"
THEIRS = r"^https://theirs\.example\.org/.*$"


def _trusted(patterns: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "osml/v1",
        "kind": "TrustedEndpoints",
        "metadata": {"name": "endpoints"},
        "spec": {"mode": "merge", "patterns": patterns},
    }


def _docs() -> list[dict[str, Any]]:
    return [
        _trusted([OURS]),
        group("team"),
        connector("chat", url="https://models.example.com/v1/chat"),
        model("bot", connector_name="chat", group_name="team"),
    ]


def _change(plan: Plan, key: str):
    return next(c for c in plan.changes if str(c.key) == key)


@pytest.fixture
def applied(sandbox_factory, tmp_path: Path):
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _docs())
    assert support.apply(sandbox.url, paths).ok
    return sandbox, paths, OpenSearch(sandbox.url)


def _connector_id(client: OpenSearch) -> str:
    hits = client.plugins.ml.search_connectors(body={"query": {"match_all": {}}})["hits"]["hits"]
    return str(hits[0]["_id"])


def test_a_connector_edited_by_hand_is_planned_as_an_update(applied) -> None:
    sandbox, paths, client = applied
    # By hand as the server demands (§2.9): undeploy the model, edit, deploy again.
    model_id = client.plugins.ml.search_models(body={"query": {"match_all": {}}})["hits"]["hits"][
        0
    ]["_id"]
    client.plugins.ml.undeploy_model(model_id=model_id)
    client.plugins.ml.update_connector(
        connector_id=_connector_id(client), body={"description": "edited by hand"}
    )
    client.plugins.ml.deploy_model(model_id=model_id)
    support.wait_deployed(client, model_id)
    change = _change(support.plan(sandbox.url, paths), "Connector/chat")
    assert change.action is Action.UPDATE
    assert [(f.path, f.before, f.after) for f in change.fields] == [
        ("description", "edited by hand", "A test connector")
    ]


def test_a_model_undeployed_through_the_api_is_planned_as_a_deploy(applied) -> None:
    sandbox, paths, client = applied
    hits = client.plugins.ml.search_models(body={"query": {"match_all": {}}})["hits"]["hits"]
    client.plugins.ml.undeploy_model(model_id=hits[0]["_id"])
    plan = support.plan(sandbox.url, paths)
    assert support.actions(plan) == {"Model/bot": "deploy"}


def test_a_credential_changed_in_the_environment_is_a_sensitive_update(
    applied, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, paths, _ = applied
    monkeypatch.setitem(ENV, "TEST_API_KEY", "sk-rotated-0000000000")
    change = _change(support.plan(sandbox.url, paths), "Connector/chat")
    assert change.action is Action.UPDATE
    assert [(f.path, f.sensitive, f.before, f.after) for f in change.fields] == [
        ("credential.openAI_key", True, None, None)
    ]
    # A deployed model uses the connector: the update is a zero-downtime swap.
    assert change.strategy is Strategy.SWAP
    assert "sk-rotated" not in str(support.plan(sandbox.url, paths).to_dict())


def test_our_trusted_endpoint_removed_while_others_remain(applied) -> None:
    sandbox, paths, client = applied
    current = client.cluster.get_settings(params={"flat_settings": "true"})["persistent"][SETTING]
    theirs_and_defaults = [p for p in current if p != OURS] + [THEIRS]
    client.cluster.put_settings(body={"persistent": {SETTING: theirs_and_defaults}})

    change = _change(support.plan(sandbox.url, paths), "TrustedEndpoints/endpoints")
    assert change.action is Action.UPDATE
    assert change.reasons == (f"add {OURS}",)
    assert change.after is not None
    assert change.after["settings"][SETTING] == [*theirs_and_defaults, OURS]
    assert support.apply(sandbox.url, paths).ok
    after = client.cluster.get_settings(params={"flat_settings": "true"})["persistent"][SETTING]
    assert after == [*theirs_and_defaults, OURS]


def test_an_unmanaged_same_named_connector_is_adopted_and_two_are_an_error(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    client = OpenSearch(sandbox.url)
    client.cluster.put_settings(body={"persistent": {SETTING: [OURS]}})
    body = dict(_docs()[2]["spec"], credential={"openAI_key": "x"})
    first = client.plugins.ml.create_connector(body=body)["connector_id"]
    paths = write(tmp_path / "m", _docs())
    change = _change(support.plan(sandbox.url, paths), "Connector/chat")
    assert (change.action, change.live_id) == (Action.ADOPT, first)

    second = client.plugins.ml.create_connector(body=body)["connector_id"]
    with pytest.raises(PlanError, match="2 live connectors are named") as caught:
        support.plan(sandbox.url, paths)
    assert first in str(caught.value) and second in str(caught.value)


def test_a_model_keeps_answering_predicts_throughout_a_connector_swap(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    with ModelServer() as remote:
        loopback = r"^http://127\.0\.0\.1:\d+/.*$"
        access = {
            "apiVersion": "osml/v1",
            "kind": "AccessControl",
            "metadata": {"name": "ml"},
            "spec": {"settings": {"connector.private_ip_enabled": True}},
        }

        def docs(description: str) -> list[dict[str, Any]]:
            return [
                access,
                _trusted([loopback]),
                group("team"),
                connector("chat", url=f"{remote.url}/v1/chat/completions", description=description),
                model("bot", connector_name="chat", group_name="team"),
            ]

        paths = write(tmp_path / "m", docs("first"))
        assert support.apply(sandbox.url, paths).ok
        client = OpenSearch(sandbox.url)
        model_id = client.plugins.ml.search_models(body={"query": {"match_all": {}}})["hits"][
            "hits"
        ][0]["_id"]

        answers: list[int] = []
        failures: list[str] = []
        done = threading.Event()

        def probe_loop() -> None:
            while not done.is_set():
                try:
                    out = client.plugins.ml.predict_model(
                        model_id=model_id, body={"parameters": {}}
                    )
                    answers.append(out["inference_results"][0]["status_code"])
                except Exception as exc:
                    failures.append(str(exc))

        prober = threading.Thread(target=probe_loop)
        prober.start()
        try:
            write(paths, docs("second"))
            plan = support.plan(sandbox.url, paths)
            assert _change(plan, "Connector/chat").strategy is Strategy.SWAP
            assert support.apply(sandbox.url, paths).ok
        finally:
            done.set()
            prober.join(timeout=10)

        assert failures == []
        assert len(answers) > 5 and set(answers) == {200}
        hits = client.plugins.ml.search_connectors(body={"query": {"match_all": {}}})["hits"][
            "hits"
        ]
        assert [h["_source"]["description"] for h in hits] == ["second"]
