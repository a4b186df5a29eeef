"""One apply converges: work the planner used to leave for "the next run", on every profile.

Each test brings the sandbox to a state, edits the manifests, applies once, and then
asserts that a plan has nothing left to do and that the cluster is as the manifests say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from reconciler.sandbox.ml.profiles import PROFILES as SANDBOX_PROFILES
from tests.integration import support
from tests.integration.support import actions, connector, group, model, write

PROFILES = sorted(SANDBOX_PROFILES)
UPDATE_CONNECTOR_FLAG = "plugins.ml_commons.update_connector.enabled"


def _docs(
    *,
    parameters: dict[str, Any] | None = None,
    description: str = "A test connector",
    chat: dict[str, Any] | None = None,
    idle: bool = True,
) -> list[dict[str, Any]]:
    docs = [
        group("team"),
        connector("chat", parameters=parameters, description=description),
        model("chat-model", connector_name="chat", group_name="team", **(chat or {})),
    ]
    if idle:
        docs.append(model("idle-model", connector_name="chat", group_name="team", deployed=False))
    return docs


def _live(client: OpenSearch, kind: str) -> list[dict[str, Any]]:
    search = {
        "connector": client.plugins.ml.search_connectors,
        "group": client.plugins.ml.search_model_group,
        "model": client.plugins.ml.search_models,
    }[kind]
    hits = search(body={"query": {"match_all": {}}, "size": 1000})["hits"]["hits"]
    return [{"_id": h["_id"], **h["_source"]} for h in hits]


def _apply_once(url: str, paths: Path, *, prune: bool = False) -> None:
    """One apply that succeeds, after which nothing is left to plan."""
    result = support.apply(url, paths, prune=prune)
    assert result.ok, [(str(r.key), r.error) for r in result.failures]
    left = support.plan(url, paths, prune=prune)
    assert not left.has_changes, actions(left)


def _flag_on(sandbox: Any) -> None:
    OpenSearch(sandbox.url).cluster.put_settings(
        body={"persistent": {UPDATE_CONNECTOR_FLAG: "true"}}
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_an_update_and_an_undeploy_of_one_model_in_one_apply(
    sandbox_factory, tmp_path: Path, profile: str
) -> None:
    sandbox = sandbox_factory(profile)
    paths = write(tmp_path / "m", _docs())
    _apply_once(sandbox.url, paths)
    write(paths, _docs(chat={"deployed": False, "description": "Now idle"}))
    _apply_once(sandbox.url, paths)
    models = {m["name"]: m for m in _live(OpenSearch(sandbox.url), "model")}
    assert models["chat-model model"]["description"] == "Now idle"
    assert models["chat-model model"]["model_state"] in {"UNDEPLOYED", "REGISTERED"}


@pytest.mark.parametrize("profile", [*PROFILES, "2.11-flag"])
@pytest.mark.parametrize(
    "edit",
    [
        {"parameters": {"model": "a"}},  # a key removed: replace everywhere (§1.5)
        {"parameters": {"model": "a", "temperature": 0}, "description": "Edited"},
    ],
    ids=["replace", "update"],
)
def test_a_connector_change_used_by_every_model_of_a_group_in_one_apply(
    sandbox_factory, tmp_path: Path, profile: str, edit: dict[str, Any]
) -> None:
    """2.9-2.10 delete a group with its last model (§5.7): a connector replace that
    re-registers every model of the group must create the group again first."""
    sandbox = sandbox_factory(profile.removesuffix("-flag"))
    if profile.endswith("-flag"):
        _flag_on(sandbox)
    paths = write(tmp_path / "m", _docs(parameters={"model": "a", "temperature": 0}))
    _apply_once(sandbox.url, paths)
    write(paths, _docs(**edit))
    _apply_once(sandbox.url, paths)
    client = OpenSearch(sandbox.url)
    connectors = _live(client, "connector")
    assert [sorted(c["parameters"]) for c in connectors] == [sorted(edit["parameters"])]
    models = {m["name"]: m for m in _live(client, "model")}
    assert sorted(models) == ["chat-model model", "idle-model model"]
    assert {m["connector_id"] for m in models.values()} == {connectors[0]["_id"]}
    assert [g["name"] for g in _live(client, "group")] == ["team group"]
    assert models["chat-model model"]["model_state"] == "DEPLOYED"


@pytest.mark.parametrize("profile", PROFILES)
def test_a_model_moving_out_of_its_group_in_one_apply(
    sandbox_factory, tmp_path: Path, profile: str
) -> None:
    """On 2.9 the move is a replace that empties the old group, which the server deletes."""
    sandbox = sandbox_factory(profile)
    base = [group("team"), group("other"), connector("chat")]
    paths = write(
        tmp_path / "m", [*base, model("chat-model", connector_name="chat", group_name="other")]
    )
    _apply_once(sandbox.url, paths)
    write(paths, [*base, model("chat-model", connector_name="chat", group_name="team")])
    _apply_once(sandbox.url, paths)
    client = OpenSearch(sandbox.url)
    groups = {g["name"]: g["_id"] for g in _live(client, "group")}
    assert sorted(groups) == ["other group", "team group"]
    assert [m["model_group_id"] for m in _live(client, "model")] == [groups["team group"]]


@pytest.mark.parametrize("profile", PROFILES)
def test_pruning_the_last_model_of_a_group_in_one_apply(
    sandbox_factory, tmp_path: Path, profile: str
) -> None:
    sandbox = sandbox_factory(profile)
    paths = write(tmp_path / "m", _docs(idle=False))
    _apply_once(sandbox.url, paths, prune=True)
    write(paths, _docs(idle=False)[:2])
    _apply_once(sandbox.url, paths, prune=True)
    client = OpenSearch(sandbox.url)
    assert [g["name"] for g in _live(client, "group")] == ["team group"]
    assert _live(client, "model") == []
