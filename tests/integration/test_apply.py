"""`osml apply` against the sandbox: every action applied and read back, per version."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from reconciler.cluster.locking import acquire_lock, force_unlock
from reconciler.errors import LockError, PlanError, StalePlanError
from reconciler.mlcommons.versions import Version
from reconciler.planning import PlanOptions
from reconciler.reconciling import ApplyOptions, apply_checked, plan_against, read_desired
from tests.integration import support
from tests.integration.support import ENV, SECRET, actions, connector, group, model, write

PROFILES = ["2.9", "2.11", "2.13", "2.19", "3.x"]


def _basic(**changes: Any) -> list[dict[str, Any]]:
    return [
        group("team", description=changes.get("group_description", "A test group")),
        connector(
            "chat",
            description=changes.get("connector_description", "A test connector"),
            parameters=changes.get("parameters"),
            strategy=changes.get("strategy"),
        ),
        model("chat-model", connector_name="chat", group_name="team"),
        model(
            "idle-model",
            connector_name="chat",
            group_name="team",
            deployed=changes.get("idle_deployed", False),
        ),
    ]


def _live(client: OpenSearch, kind: str) -> list[dict[str, Any]]:
    search = {
        "connector": client.plugins.ml.search_connectors,
        "group": client.plugins.ml.search_model_group,
        "model": client.plugins.ml.search_models,
    }[kind]
    hits = search(body={"query": {"match_all": {}}, "size": 1000})["hits"]["hits"]
    return [{"_id": h["_id"], **h["_source"]} for h in hits]


def _by_name(client: OpenSearch, kind: str, name: str) -> list[dict[str, Any]]:
    return [doc for doc in _live(client, kind) if doc.get("name") == name]


@pytest.mark.parametrize("profile", PROFILES)
def test_apply_from_empty_then_nothing_to_do(sandbox_factory, tmp_path: Path, profile: str) -> None:
    sandbox = sandbox_factory(profile)
    paths = write(tmp_path / "m", _basic())
    result = support.apply(sandbox.url, paths)
    assert result.ok, result
    assert actions(result) == {
        "ModelGroup/team": "create:done",
        "Connector/chat": "create:done",
        "Model/chat-model": "create:done",
        "Model/idle-model": "create:done",
    }
    client = OpenSearch(sandbox.url)
    models = {m["name"]: m for m in _live(client, "model")}
    assert models["chat-model model"]["model_state"] == "DEPLOYED"
    assert models["idle-model model"]["model_state"] in {"REGISTERED", "UNDEPLOYED"}
    assert len(_live(client, "connector")) == 1
    assert not support.plan(sandbox.url, paths).has_changes


@pytest.mark.parametrize("profile", ["2.13", "3.x"])
def test_updates_are_applied_in_place(sandbox_factory, tmp_path: Path, profile: str) -> None:
    sandbox = sandbox_factory(profile)
    paths = write(tmp_path / "m", _basic())
    assert support.apply(sandbox.url, paths).ok
    client = OpenSearch(sandbox.url)
    connector_id = _by_name(client, "connector", "chat connector")[0]["_id"]

    write(paths, _basic(group_description="Edited group"))
    result = support.apply(sandbox.url, paths)
    assert actions(result) == {"ModelGroup/team": "update:done"}
    assert _by_name(client, "group", "team group")[0]["description"] == "Edited group"
    assert _by_name(client, "connector", "chat connector")[0]["_id"] == connector_id
    assert not support.plan(sandbox.url, paths).has_changes


def test_connector_change_under_a_deployed_model_swaps(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _basic())
    assert support.apply(sandbox.url, paths).ok
    client = OpenSearch(sandbox.url)
    old_id = _by_name(client, "connector", "chat connector")[0]["_id"]

    write(paths, _basic(connector_description="A better connector"))
    planned = support.plan(sandbox.url, paths)
    change = next(c for c in planned.changes if str(c.key) == "Connector/chat")
    assert change.strategy is not None and change.strategy.value == "swap"
    result = support.apply(sandbox.url, paths)
    assert result.ok, result

    connectors = _live(client, "connector")
    assert [c["description"] for c in connectors] == ["A better connector"]
    new_id = connectors[0]["_id"]
    assert new_id != old_id
    models = {m["name"]: m for m in _live(client, "model")}
    assert {m["connector_id"] for m in models.values()} == {new_id}
    assert models["chat-model model"]["model_state"] == "DEPLOYED"
    assert not support.plan(sandbox.url, paths).has_changes


def test_recreate_strategy_keeps_the_connector_id(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _basic(strategy="recreate"))
    assert support.apply(sandbox.url, paths).ok
    client = OpenSearch(sandbox.url)
    old_id = _by_name(client, "connector", "chat connector")[0]["_id"]

    write(paths, _basic(strategy="recreate", connector_description="Recreated"))
    result = support.apply(sandbox.url, paths)
    assert result.ok, result
    live = _by_name(client, "connector", "chat connector")
    assert [(c["_id"], c["description"]) for c in live] == [(old_id, "Recreated")]
    models = {m["name"]: m for m in _live(client, "model")}
    assert models["chat-model model"]["model_state"] == "DEPLOYED"
    assert not support.plan(sandbox.url, paths).has_changes


def test_removing_a_parameter_replaces_the_connector(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _basic(parameters={"model": "a", "temperature": 0}))
    assert support.apply(sandbox.url, paths).ok
    write(paths, _basic(parameters={"model": "a"}))
    planned = support.plan(sandbox.url, paths)
    assert actions(planned)["Connector/chat"] == "replace"
    assert support.apply(sandbox.url, paths).ok
    client = OpenSearch(sandbox.url)
    live = _live(client, "connector")
    assert len(live) == 1
    assert live[0]["parameters"] == {"model": "a"}
    assert not support.plan(sandbox.url, paths).has_changes


def test_deploy_state_is_desired_state(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _basic())
    assert support.apply(sandbox.url, paths).ok
    client = OpenSearch(sandbox.url)
    chat = _by_name(client, "model", "chat-model model")[0]
    client.plugins.ml.undeploy_model(model_id=chat["_id"])

    write(paths, _basic(idle_deployed=True))
    assert actions(support.plan(sandbox.url, paths)) == {
        "Model/chat-model": "deploy",
        "Model/idle-model": "deploy",
    }
    assert support.apply(sandbox.url, paths).ok
    states = {m["name"]: m["model_state"] for m in _live(client, "model")}
    assert states == {"chat-model model": "DEPLOYED", "idle-model model": "DEPLOYED"}

    write(paths, _basic(idle_deployed=False))
    assert actions(support.apply(sandbox.url, paths)) == {"Model/idle-model": "undeploy:done"}
    assert _by_name(client, "model", "idle-model model")[0]["model_state"] == "UNDEPLOYED"


def test_failed_deploy_is_reported_then_redeployed(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    sandbox.faults.configure({"deploy": [{"model": "chat-model*", "outcome": "failed"}]})
    paths = write(tmp_path / "m", _basic())
    result = support.apply(sandbox.url, paths)
    assert not result.ok
    failure = {str(r.key): r for r in result.failures}["Model/chat-model"]
    assert "DEPLOY_FAILED" in (failure.error or "")

    sandbox.faults.clear()
    assert actions(support.plan(sandbox.url, paths)) == {"Model/chat-model": "redeploy"}
    assert support.apply(sandbox.url, paths).ok
    client = OpenSearch(sandbox.url)
    assert _by_name(client, "model", "chat-model model")[0]["model_state"] == "DEPLOYED"


def test_prune_only_when_asked(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _basic())
    assert support.apply(sandbox.url, paths).ok
    write(paths, _basic()[:3])

    planned = support.plan(sandbox.url, paths)
    assert not planned.has_changes
    assert [str(o.key) for o in planned.orphans] == ["Model/idle-model"]
    result = support.apply(sandbox.url, paths, prune=True)
    assert actions(result) == {"Model/idle-model": "delete:done"}
    client = OpenSearch(sandbox.url)
    assert _by_name(client, "model", "idle-model model") == []
    assert not support.plan(sandbox.url, paths, prune=True).has_changes


def test_same_named_unmanaged_connector_is_adopted(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    docs = _basic()
    body = dict(docs[1]["spec"], credential={"openAI_key": "x"})
    client = OpenSearch(sandbox.url)
    existing = client.plugins.ml.create_connector(body=body)["connector_id"]

    paths = write(tmp_path / "m", docs)
    assert actions(support.plan(sandbox.url, paths))["Connector/chat"] == "adopt"
    assert support.apply(sandbox.url, paths).ok
    assert [c["_id"] for c in _live(client, "connector")] == [existing]

    client.plugins.ml.create_connector(body=body)
    assert not support.plan(sandbox.url, paths).has_changes  # ours is known by its ID now


def test_two_same_named_unmanaged_connectors_are_an_error(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    docs = _basic()
    body = dict(docs[1]["spec"], credential={"openAI_key": "x"})
    client = OpenSearch(sandbox.url)
    ids = [client.plugins.ml.create_connector(body=body)["connector_id"] for _ in range(2)]
    paths = write(tmp_path / "m", docs)
    with pytest.raises(PlanError) as caught:
        support.plan(sandbox.url, paths)
    assert all(i in str(caught.value) for i in ids)


def test_a_failure_skips_dependents_and_a_rerun_converges(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    sandbox.faults.configure(
        {
            "rules": [
                {"route": "POST /_plugins/_ml/connectors/_create", "refuse_next": 1, "status": 500}
            ]
        }
    )
    paths = write(tmp_path / "m", _basic())
    result = support.apply(sandbox.url, paths)
    outcomes = actions(result)
    assert outcomes["Connector/chat"] == "create:failed"
    assert outcomes["ModelGroup/team"] == "create:done"
    assert outcomes["Model/chat-model"] == "create:skipped"
    assert support.apply(sandbox.url, paths).ok
    assert not support.plan(sandbox.url, paths).has_changes


def test_a_held_lock_blocks_apply_until_forced_open(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _basic())
    with support.open_connection(sandbox.url) as conn:
        lease = acquire_lock(conn, operation="apply", holder="alice@ci:42")
        with pytest.raises(LockError, match="alice@ci:42"):
            support.apply(sandbox.url, paths)
        force_unlock(conn, lease.info.lock_id)
    assert support.apply(sandbox.url, paths).ok


def test_a_stale_plan_is_refused_with_what_changed(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _basic())
    with support.open_connection(sandbox.url) as conn:
        desired = read_desired([paths], version=Version.parse(conn.version), env=ENV)
        planned = plan_against(conn, desired, options=PlanOptions(), state_index="osml-state").plan
        OpenSearch(sandbox.url).plugins.ml.register_model_group(body={"name": "team group"})
        with pytest.raises(StalePlanError, match="ModelGroup/team: was create, now adopt"):
            apply_checked(
                conn, planned, desired, observer=support.Recorder(), options=ApplyOptions()
            )


@pytest.mark.parametrize("first", [True, False], ids=["first-apply", "managed"])
def test_a_stale_plan_made_just_now_leaves_the_state_as_it_was(
    sandbox_factory, tmp_path: Path, first: bool
) -> None:
    """A plan made in this run writes its intents while the cluster is read again; when
    the plan turns out stale, they are taken back."""
    sandbox = sandbox_factory("3.x")
    docs = _basic()
    paths = write(tmp_path / "m", docs if first else docs[:2])
    if not first:
        assert support.apply(sandbox.url, paths).ok
        write(paths, docs)
    client = OpenSearch(sandbox.url)
    before = _state_records(client)
    with support.open_connection(sandbox.url) as conn:
        desired = read_desired([paths], version=Version.parse(conn.version), env=ENV)
        planned = plan_against(conn, desired, options=PlanOptions(), state_index="osml-state")
        assert any(c.action.value == "create" for c in planned.plan.changes)
        client.plugins.ml.register_model_group(body={"name": "elsewhere"})
        sandbox.requests.clear()
        with pytest.raises(StalePlanError):
            apply_checked(
                conn,
                planned.plan,
                desired,
                observer=support.Recorder(),
                options=ApplyOptions(),
                seen=planned.snapshot,
            )
    # The intents went out (with the second read), then back.
    assert sandbox.requests.count("/_bulk", method="POST") == 2
    assert _state_records(client) == before
    assert support.apply(sandbox.url, paths).ok
    assert not support.plan(sandbox.url, paths).has_changes


def _state_records(client: OpenSearch) -> dict[str, tuple[object, object]]:
    if not client.indices.exists(index="osml-state"):
        return {}
    hits = client.search(
        index="osml-state", body={"query": {"term": {"doc_type": "record"}}, "size": 100}
    )["hits"]["hits"]
    return {h["_id"]: (h["_source"]["status"], h["_source"]["live_id"]) for h in hits}


def test_no_secret_reaches_the_state_index_or_the_server_documents(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _basic())
    recorder = support.Recorder()
    assert support.apply(sandbox.url, paths, observer=recorder).ok
    client = OpenSearch(sandbox.url)
    state = client.search(index="osml-state", body={"query": {"match_all": {}}, "size": 100})
    assert SECRET not in str(state)
    assert "fingerprint" in str(state)
    assert SECRET not in str(_live(client, "connector"))
    assert SECRET not in str(recorder.events)


@pytest.mark.parametrize("profile", ["2.11", "3.x"])
def test_connector_replace_while_models_use_it_converges(
    sandbox_factory, tmp_path: Path, profile: str
) -> None:
    sandbox = sandbox_factory(profile)
    paths = write(tmp_path / "m", _basic(parameters={"model": "a", "temperature": 0}))
    assert support.apply(sandbox.url, paths).ok
    write(paths, _basic(parameters={"model": "a"}))
    result = support.apply(sandbox.url, paths)
    assert result.ok, result.failures
    client = OpenSearch(sandbox.url)
    connectors = _live(client, "connector")
    assert [c["parameters"] for c in connectors] == [{"model": "a"}]
    models = _live(client, "model")
    assert sorted(m["name"] for m in models) == ["chat-model model", "idle-model model"]
    assert {m["connector_id"] for m in models} == {connectors[0]["_id"]}
    assert not support.plan(sandbox.url, paths).has_changes


def test_prevent_destroy_survives_the_manifest(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    docs = _basic()
    docs[3]["lifecycle"]["prevent_destroy"] = True
    paths = write(tmp_path / "m", docs)
    assert support.apply(sandbox.url, paths).ok
    write(paths, docs[:3])
    planned = support.plan(sandbox.url, paths, prune=True)
    assert not planned.has_changes
    assert [str(o.key) for o in planned.orphans] == ["Model/idle-model"]
    assert any("prevent_destroy" in r for r in planned.orphans[0].reasons)


def test_two_applies_started_together_never_both_act(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x", deploy_delay=0.3)
    paths = write(tmp_path / "m", _basic())
    outcomes: list[object] = []

    def run() -> None:
        try:
            outcomes.append(support.apply(sandbox.url, paths))
        except (LockError, StalePlanError) as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    errors = [o for o in outcomes if isinstance(o, Exception)]
    results = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(results) >= 1 and all(r.ok for r in results)  # type: ignore[attr-defined]
    # The loser either found the lock held (naming the holder) or, having planned before
    # the winner applied, was refused as stale: never a second set of creates.
    for error in errors:
        assert "held by" in str(error) or "stale" in str(error)
    client = OpenSearch(sandbox.url)
    assert len(_live(client, "connector")) == 1
    assert len(_live(client, "model")) == 2
    assert not support.plan(sandbox.url, paths).has_changes
