"""Model consumers end to end against the sandbox, over HTTP: pipelines and agents that
name models by `{ref: Model/NAME}` are planned, applied and rewired when a model gets a new
ID (with no moment where a pipeline names a deleted model, checked by a poller thread);
unmanaged consumers block a delete unless `--allow-breaking-consumers` says otherwise.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_exc

from reconciler.cli import main
from reconciler.plans import Strategy
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from tests.integration import support
from tests.integration.support import ENV, SECRET, connector, group, model, write

_MODEL_ID = re.compile(r'model_id": "([^"]+)"')


def osml(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env={**ENV, "NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert SECRET not in result.output
    return result


def _inline_model(model_name: str) -> dict[str, Any]:
    """A model with an internal connector: before 2.12 any change to it is a replace."""
    inline = connector("inline", parameters={"model": model_name})["spec"]
    return {
        "apiVersion": "osml/v1",
        "kind": "Model",
        "metadata": {"name": "embedder"},
        "spec": {
            "name": "embedder",
            "function_name": "remote",
            "model_group": "team",
            "connector": inline,
        },
    }


INGEST: dict[str, Any] = {
    "apiVersion": "osml/v1",
    "kind": "IngestPipeline",
    "metadata": {"name": "embed-docs"},
    "spec": {
        "processors": [
            {
                "text_embedding": {
                    "model_id": {"ref": "Model/embedder"},
                    "field_map": {"text": "vector"},
                }
            }
        ]
    },
}
SEARCH: dict[str, Any] = {
    "apiVersion": "osml/v1",
    "kind": "SearchPipeline",
    "metadata": {"name": "enrich"},
    "spec": {
        "request_processors": [
            {"neural_query_enricher": {"default_model_id": {"ref": "Model/embedder"}}}
        ]
    },
}


def _pipeline_model_ids(client: OpenSearch) -> list[tuple[str, str]]:
    found = []
    for get in (client.ingest.get_pipeline, client.search_pipeline.get):
        try:
            pipelines = get()
        except os_exc.NotFoundError:
            continue
        for pipeline_id, body in pipelines.items():
            found += [(pipeline_id, m) for m in _MODEL_ID.findall(json.dumps(body))]
    return found


def _agent_model_ids(client: OpenSearch) -> list[tuple[str, str]]:
    body = {"query": {"match_all": {}}, "size": 100}
    hits = client.plugins.ml.search_agents(body=body)["hits"]["hits"]
    return [
        (f"agent {hit['_source'].get('name')}", m)
        for hit in hits
        for m in _MODEL_ID.findall(json.dumps(hit["_source"]))
    ]


class Poller:
    """Reads every pipeline (and, with `agents`, every agent) and every model again and
    again, and keeps each moment a consumer named a model that did not exist, and each
    moment a model name in `serving` had no deployed model."""

    def __init__(
        self, client: OpenSearch, *, agents: bool = False, serving: tuple[str, ...] = ()
    ) -> None:
        self.client = client
        self.agents = agents
        self.serving = serving
        self.dangling: list[tuple[str, str]] = []
        self.offline: list[str] = []
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        # The models are read before and after the pipelines: a model deleted right
        # after its pipeline moved on is in the first read, a model created right
        # before a pipeline named it in the second. One in neither was missing while
        # the pipeline named it.
        while not self._stop.is_set():
            before, deployed = self._models()
            named = _pipeline_model_ids(self.client)
            if self.agents:
                named += _agent_model_ids(self.client)
            after, deployed_after = self._models()
            live = before | after
            self.dangling += [(p, m) for p, m in named if m not in live]
            self.offline += [n for n in self.serving if n not in deployed | deployed_after]
            self.rounds += 1

    def _models(self) -> tuple[set[str], set[str]]:
        """The live model IDs, and the names that have a deployed model."""
        body = {"query": {"match_all": {}}, "size": 100, "_source": ["name", "model_state"]}
        hits = self.client.plugins.ml.search_models(body=body)["hits"]["hits"]
        deployed = {
            str(hit["_source"].get("name"))
            for hit in hits
            if hit["_source"].get("model_state") == "DEPLOYED"
        }
        return {hit["_id"] for hit in hits}, deployed

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture(params=["2.11"])
def old_release(request: pytest.FixtureRequest, sandbox_factory: Callable[..., Any]) -> Sandbox:
    sandbox: Sandbox = sandbox_factory(request.param, deploy_delay=0.05)
    return sandbox


def test_the_poller_sees_a_pipeline_that_names_a_deleted_model(
    old_release: Sandbox, tmp_path: Path
) -> None:
    # The zero-downtime tests below rest on the poller: it must see a real dangling moment.
    sandbox, client = old_release, client_for(old_release)
    manifests = write(tmp_path / "m", [group("team"), _inline_model("a"), INGEST])
    assert support.apply(sandbox.url, manifests).ok
    (model_id,) = {m for _, m in _pipeline_model_ids(client)}
    with Poller(client) as poller:
        client.plugins.ml.undeploy_model(model_id=model_id)
        client.plugins.ml.delete_model(model_id=model_id)
        deleted_at = poller.rounds
        while poller.rounds < deleted_at + 2:  # one whole round after the delete
            threading.Event().wait(0.01)
    assert ("embed-docs", model_id) in poller.dangling


def test_a_connector_change_replaces_the_model_and_rewires_both_pipelines(
    old_release: Sandbox, tmp_path: Path
) -> None:
    sandbox, client = old_release, client_for(old_release)
    manifests = write(tmp_path / "m", [group("team"), _inline_model("a"), INGEST, SEARCH])
    assert support.apply(sandbox.url, manifests).ok
    (old_id,) = {m for _, m in _pipeline_model_ids(client)}

    write(tmp_path / "m", [group("team"), _inline_model("b"), INGEST, SEARCH])
    planned = osml("plan", str(manifests), "--cluster", sandbox.url)
    assert planned.exit_code == 0, planned.output
    text = planned.output
    assert "-/+ Model/embedder" in text
    assert "rewires IngestPipeline/embed-docs, SearchPipeline/enrich to the new ID" in text
    assert (
        "IngestPipeline/embed-docs: processors[0].text_embedding.model_id: rewired to the "
        "new ID before the old one goes" in text
    )
    assert (
        f'processors[0].text_embedding.model_id: "{old_id}" -> "(new ID of Model/embedder)"' in text
    )
    assert "{ref: Model/embedder} = (known after apply)" in text

    with Poller(client) as poller:
        result = support.apply(sandbox.url, manifests)
    assert result.ok, support.actions(result)
    assert support.actions(result) == {
        "Model/embedder": "replace:done",
        "IngestPipeline/embed-docs": "update:done",
        "SearchPipeline/enrich": "update:done",
    }
    assert poller.rounds > 0 and poller.dangling == []
    new_ids = {m for _, m in _pipeline_model_ids(client)}
    assert len(new_ids) == 1 and old_id not in new_ids
    (new_id,) = new_ids
    assert client.plugins.ml.get_model(model_id=new_id)["model_state"] == "DEPLOYED"
    with pytest.raises(os_exc.NotFoundError):
        client.plugins.ml.get_model(model_id=old_id)
    assert support.actions(support.plan(sandbox.url, manifests)) == {}


@pytest.fixture
def used_by_a_stranger(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> Iterator[tuple[Sandbox, Path, str]]:
    """A model osml manages, used by an ingest pipeline and an index osml does not
    manage, then removed from the manifests."""
    sandbox: Sandbox = sandbox_factory("3.x")
    client = client_for(sandbox)
    docs = [group("team"), connector("chat"), model("embedder", connector_name="chat",
                                                    group_name="team")]  # fmt: skip
    manifests = write(tmp_path / "m", docs)
    assert support.apply(sandbox.url, manifests).ok
    model_id = client.plugins.ml.search_models(body={"query": {"match_all": {}}})["hits"]["hits"][
        0
    ]["_id"]
    body = {"processors": [{"text_embedding": {"model_id": model_id, "field_map": {"t": "v"}}}]}
    client.ingest.put_pipeline(id="scripted", body=body)
    client.indices.create(index="docs", body={"settings": {"index.default_pipeline": "scripted"}})
    write(tmp_path / "m", docs[:2])
    yield sandbox, manifests, model_id


def test_a_prune_of_a_model_an_unmanaged_pipeline_uses_is_refused_and_changes_nothing(
    used_by_a_stranger: tuple[Sandbox, Path, str],
) -> None:
    sandbox, manifests, model_id = used_by_a_stranger
    for command in (("plan", "--prune"), ("apply", "--prune", "--auto-approve")):
        result = osml(*command, str(manifests), "--cluster", sandbox.url)
        assert result.exit_code == 1, result.output
        assert (
            "Model/embedder is deleted, but ingest pipeline scripted uses it "
            f"(processors[0].text_embedding.model_id names {model_id})" in result.output
        )
        assert "--allow-breaking-consumers" in result.output
    client = client_for(sandbox)
    assert client.plugins.ml.get_model(model_id=model_id)["model_state"] == "DEPLOYED"


def test_allow_breaking_consumers_proceeds_and_says_so(
    used_by_a_stranger: tuple[Sandbox, Path, str],
) -> None:
    sandbox, manifests, model_id = used_by_a_stranger
    args = ("--prune", str(manifests), "--cluster", sandbox.url, "--allow-breaking-consumers")
    planned = osml("plan", "--format", "markdown", *args)
    assert planned.exit_code == 0, planned.output
    assert "### :warning: Review carefully" in planned.output
    assert "ingest pipeline scripted: processors\\[0\\].text\\_embedding.model\\_id: breaks" in (
        planned.output
    )
    result = osml("apply", "--auto-approve", *args)
    assert result.exit_code == 0, result.output
    assert (
        f"breaks ingest pipeline scripted: processors[0].text_embedding.model_id names "
        f"{model_id}, which is deleted (allowed by --allow-breaking-consumers)" in result.output
    )
    with pytest.raises(os_exc.NotFoundError):
        client_for(sandbox).plugins.ml.get_model(model_id=model_id)


def test_lifecycle_allow_breaking_consumers_on_the_model_allows_its_replace(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    sandbox: Sandbox = sandbox_factory("2.11", deploy_delay=0.01)
    client = client_for(sandbox)
    manifests = write(tmp_path / "m", [group("team"), _inline_model("a")])
    assert support.apply(sandbox.url, manifests).ok
    model_id = client.plugins.ml.search_models(body={"query": {"match_all": {}}})["hits"]["hits"][
        0
    ]["_id"]
    body = {"request_processors": [{"neural_query_enricher": {"default_model_id": model_id}}]}
    client.search_pipeline.put(id="handmade", body=body)

    changed = _inline_model("b")
    write(tmp_path / "m", [group("team"), changed])
    refused = osml("plan", str(manifests), "--cluster", sandbox.url)
    assert refused.exit_code == 1
    assert "Model/embedder gets a new ID, but search pipeline handmade uses it" in refused.output
    assert "set lifecycle.allow_breaking_consumers: true on Model/embedder" in refused.output

    changed["lifecycle"] = {"allow_breaking_consumers": True}
    write(tmp_path / "m", [group("team"), changed])
    allowed = osml("plan", str(manifests), "--cluster", sandbox.url)
    assert allowed.exit_code == 0, allowed.output
    assert "(allowed by lifecycle.allow_breaking_consumers)" in allowed.output


def test_a_consumer_deleted_with_its_model_goes_first(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    sandbox: Sandbox = sandbox_factory("3.x")
    docs = [group("team"), connector("chat"), model("embedder", connector_name="chat",
                                                    group_name="team"), INGEST]  # fmt: skip
    manifests = write(tmp_path / "m", docs)
    assert support.apply(sandbox.url, manifests).ok
    write(tmp_path / "m", docs[:2])
    planned = support.plan(sandbox.url, manifests, prune=True)
    keys = [str(c.key) for c in planned.changes if c.is_change]
    assert keys == ["IngestPipeline/embed-docs", "Model/embedder"]
    assert planned.get(next(c.key for c in planned.changes if str(c.key) == "Model/embedder"))
    result = support.apply(sandbox.url, manifests, prune=True)
    assert result.ok, support.actions(result)
    with pytest.raises(os_exc.NotFoundError):
        client_for(sandbox).ingest.get_pipeline(id="embed-docs")


def test_a_pipeline_edited_by_hand_is_drift_and_is_put_back(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    sandbox: Sandbox = sandbox_factory("3.x")
    docs = [group("team"), connector("chat"), model("embedder", connector_name="chat",
                                                    group_name="team"), INGEST, SEARCH]  # fmt: skip
    manifests = write(tmp_path / "m", docs)
    assert support.apply(sandbox.url, manifests).ok
    client = client_for(sandbox)
    stored = client.ingest.get_pipeline(id="embed-docs")["embed-docs"]
    client.ingest.put_pipeline(id="embed-docs", body={**stored, "description": "by hand"})
    assert support.actions(support.plan(sandbox.url, manifests)) == {
        "IngestPipeline/embed-docs": "update"
    }
    assert support.apply(sandbox.url, manifests).ok
    assert "description" not in client.ingest.get_pipeline(id="embed-docs")["embed-docs"]
    assert support.actions(support.plan(sandbox.url, manifests)) == {}


AGENT: dict[str, Any] = {
    "apiVersion": "osml/v1",
    "kind": "Agent",
    "metadata": {"name": "helper"},
    "spec": {
        "type": "flow",
        "description": "first",
        "tools": [{"type": "MLModelTool", "parameters": {"model_id": {"ref": "Model/embedder"}}}],
    },
}


@pytest.mark.parametrize(("release", "action"), [("2.19", "replace"), ("3.x", "update")])
def test_an_agent_change_is_an_update_from_3_1_and_a_new_agent_before(
    release: str, action: str, sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    sandbox: Sandbox = sandbox_factory(release)
    base = [group("team"), connector("chat"), model("embedder", connector_name="chat",
                                                    group_name="team")]  # fmt: skip
    manifests = write(tmp_path / "m", [*base, AGENT])
    assert support.apply(sandbox.url, manifests).ok
    assert support.actions(support.plan(sandbox.url, manifests)) == {}
    client = client_for(sandbox)
    search = {"query": {"match_all": {}}}
    (before,) = [h["_id"] for h in client.plugins.ml.search_agents(body=search)["hits"]["hits"]]

    changed = {**AGENT, "spec": {**AGENT["spec"], "description": "second"}}
    write(tmp_path / "m", [*base, changed])
    assert support.actions(support.plan(sandbox.url, manifests)) == {"Agent/helper": action}
    assert support.apply(sandbox.url, manifests).ok
    hits = client.plugins.ml.search_agents(body=search)["hits"]["hits"]
    assert [h["_source"]["description"] for h in hits] == ["second"]
    assert (hits[0]["_id"] == before) is (action == "update")
    assert support.actions(support.plan(sandbox.url, manifests)) == {}


def test_import_takes_a_pipeline_by_its_id_and_an_agent_by_its_id(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    sandbox: Sandbox = sandbox_factory("3.x")
    client = client_for(sandbox)
    client.ingest.put_pipeline(id="embed-docs", body={"processors": []})
    agent = client.plugins.ml.register_agents(body={"name": "helper", "type": "flow"})["agent_id"]
    cluster = ("--cluster", sandbox.url)
    wrong = osml("import", "IngestPipeline/other", "embed-docs", *cluster)
    assert wrong.exit_code == 1
    assert "a pipeline's manifest name is its ID" in wrong.output
    missing = osml("import", "SearchPipeline/nope", "nope", *cluster)
    assert missing.exit_code == 1 and "no search pipeline nope" in missing.output
    assert osml("import", "IngestPipeline/embed-docs", "embed-docs", *cluster).exit_code == 0
    assert osml("import", "Agent/assistant", agent, *cluster).exit_code == 0
    shown = osml("state", "list", *cluster)
    assert "IngestPipeline/embed-docs" in shown.output and "Agent/assistant" in shown.output


def test_a_connector_swap_keeps_the_model_id_and_the_pipelines_never_dangle(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """2.12+: a connector that must be replaced (a parameter removed) is swapped; its
    deployed model is repointed and keeps its ID, so the pipelines need no change."""
    sandbox: Sandbox = sandbox_factory("3.x", deploy_delay=0.02)
    client = client_for(sandbox)
    params = {"model": "a", "temperature": "0"}
    base = [group("team"), model("embedder", connector_name="chat", group_name="team")]
    manifests = write(tmp_path / "m", [connector("chat", parameters=params), *base, INGEST, SEARCH])
    assert support.apply(sandbox.url, manifests).ok
    (model_id,) = {m for _, m in _pipeline_model_ids(client)}

    write(tmp_path / "m", [connector("chat", parameters={"model": "a"}), *base, INGEST, SEARCH])
    planned = support.plan(sandbox.url, manifests)
    assert support.actions(planned) == {"Connector/chat": "replace"}
    swapped = next(c for c in planned.changes if str(c.key) == "Connector/chat")
    assert swapped.strategy is Strategy.SWAP and str(swapped.affected[0]) == "Model/embedder"
    with Poller(client) as poller:
        result = support.apply(sandbox.url, manifests)
    assert result.ok, support.actions(result)
    assert poller.rounds > 0 and poller.dangling == []
    assert {m for _, m in _pipeline_model_ids(client)} == {model_id}
    assert support.actions(support.plan(sandbox.url, manifests)) == {}


@pytest.mark.parametrize("edit", ["pipeline", "index default"])
def test_a_saved_plan_is_stale_once_a_pipeline_or_an_index_default_changes(
    edit: str, sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    sandbox: Sandbox = sandbox_factory("3.x")
    client = client_for(sandbox)
    docs = [group("team"), connector("chat"), model("embedder", connector_name="chat",
                                                    group_name="team")]  # fmt: skip
    manifests = write(tmp_path / "m", docs)
    assert support.apply(sandbox.url, manifests).ok
    write(tmp_path / "m", [*docs, INGEST])
    saved = tmp_path / "plan.json"
    assert (
        osml("plan", str(manifests), "--cluster", sandbox.url, "--out", str(saved)).exit_code == 0
    )
    if edit == "pipeline":
        client.ingest.put_pipeline(id="someone-elses", body={"processors": []})
    else:
        client.indices.create(index="docs", body={"settings": {"index.default_pipeline": "x"}})
    result = osml("apply", str(saved), "--cluster", sandbox.url)
    assert result.exit_code == 1
    assert "the plan is stale" in result.output
    with pytest.raises(os_exc.NotFoundError):
        client.ingest.get_pipeline(id="embed-docs")


def test_an_agent_register_whose_answer_is_lost_creates_no_duplicate(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    sandbox: Sandbox = sandbox_factory("3.x")
    docs = [group("team"), connector("chat"), model("embedder", connector_name="chat",
                                                    group_name="team")]  # fmt: skip
    manifests = write(tmp_path / "m", docs)
    assert support.apply(sandbox.url, manifests).ok
    write(tmp_path / "m", [*docs, AGENT])
    route = "POST /_plugins/_ml/agents/_register"
    sandbox.faults.configure({"rules": [{"route": route, "lost_rate": 1.0}]})
    result = support.apply(sandbox.url, manifests)
    assert result.ok, support.actions(result)
    sandbox.faults.configure({"rules": []})
    hits = client_for(sandbox).plugins.ml.search_agents(body={"query": {"match_all": {}}})
    assert len(hits["hits"]["hits"]) == 1
    assert support.actions(support.plan(sandbox.url, manifests)) == {}


def _connector_ids(client: OpenSearch) -> set[str]:
    body = {"query": {"match_all": {}}, "size": 100, "_source": False}
    return {h["_id"] for h in client.plugins.ml.search_connectors(body=body)["hits"]["hits"]}


def test_a_connector_replace_before_2_12_registers_the_models_first_and_retires_after(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """2.11: no Update Model, and a referenced connector cannot be deleted (§2.10). The
    new connector comes first, each model registers again on it and is deployed before
    its old one goes, the pipelines follow the new ID, and the old connector is deleted
    last: no pipeline ever names a missing model, and both models keep serving."""
    sandbox: Sandbox = sandbox_factory("2.11", deploy_delay=0.05)
    client = client_for(sandbox)
    params = {"model": "a", "temperature": "0"}
    base = [
        group("team"),
        model("embedder", connector_name="chat", group_name="team"),
        model("second", connector_name="chat", group_name="team"),
        INGEST,
        SEARCH,
    ]
    manifests = write(tmp_path / "m", [connector("chat", parameters=params), *base])
    assert support.apply(sandbox.url, manifests).ok
    (old_connector,) = _connector_ids(client)

    write(tmp_path / "m", [connector("chat", parameters={"model": "a"}), *base])
    planned = osml("plan", str(manifests), "--cluster", sandbox.url)
    assert planned.exit_code == 0, planned.output
    assert "strategy: reregister" in planned.output
    assert "old one deleted after: Model/embedder, Model/second" in planned.output
    assert "downtime: none (reregister" in planned.output

    with Poller(client, serving=("embedder model", "second model")) as poller:
        result = support.apply(sandbox.url, manifests)
    assert result.ok, support.actions(result)
    assert support.actions(result) == {
        "Connector/chat": "replace:done",
        "Model/embedder": "replace:done",
        "Model/second": "replace:done",
        "IngestPipeline/embed-docs": "update:done",
        "SearchPipeline/enrich": "update:done",
    }
    assert poller.rounds > 0 and poller.dangling == [] and poller.offline == []
    (new_connector,) = _connector_ids(client)
    assert new_connector != old_connector
    body = {"query": {"match_all": {}}, "size": 100}
    models = client.plugins.ml.search_models(body=body)["hits"]["hits"]
    assert sorted(h["_source"]["name"] for h in models) == ["embedder model", "second model"]
    assert {h["_source"]["connector_id"] for h in models} == {new_connector}
    assert support.actions(support.plan(sandbox.url, manifests)) == {}


def test_an_agent_before_3_1_is_registered_again_before_its_model_is_retired(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """2.19: no Update Agent (CONS §4.6). When its model is replaced, the new agent (with
    the new model ID) is registered before the old model is deleted, then the old agent
    goes, then the old model: the agent never names a missing model."""
    # A slow agent register: were the old model deleted first, the old agent would name
    # it for that long, and the poller would see it.
    slow = {"rules": [{"route": "POST /_plugins/_ml/agents/_register", "latency": 0.3}]}
    sandbox: Sandbox = sandbox_factory("2.19", deploy_delay=0.05, faults=slow)
    client = client_for(sandbox)
    manifests = write(tmp_path / "m", [group("team"), _inline_model("a"), AGENT])
    assert support.apply(sandbox.url, manifests).ok
    search = {"query": {"match_all": {}}}
    (before,) = [h["_id"] for h in client.plugins.ml.search_agents(body=search)["hits"]["hits"]]

    # A removed parameter of an internal connector cannot be merged away: a replace.
    changed = _inline_model("a")
    changed["spec"]["connector"]["parameters"] = {}
    write(tmp_path / "m", [group("team"), changed, AGENT])
    planned = support.plan(sandbox.url, manifests)
    assert support.actions(planned) == {"Model/embedder": "replace", "Agent/helper": "replace"}
    replaced = next(c for c in planned.changes if str(c.key) == "Model/embedder")
    assert [str(k) for k in replaced.retire_after] == ["Agent/helper"]

    with Poller(client, agents=True, serving=("embedder",)) as poller:
        result = support.apply(sandbox.url, manifests)
    assert result.ok, support.actions(result)
    assert poller.rounds > 0 and poller.dangling == [] and poller.offline == []
    hits = client.plugins.ml.search_agents(body=search)["hits"]["hits"]
    assert len(hits) == 1 and hits[0]["_id"] != before
    (named,) = {m for _, m in _agent_model_ids(client)}
    assert client.plugins.ml.get_model(model_id=named)["model_state"] == "DEPLOYED"
    assert support.actions(support.plan(sandbox.url, manifests)) == {}


def test_a_failed_reregistration_keeps_the_old_connector_and_the_next_apply_finishes(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """A model that cannot register again on the new connector (a 500) keeps its old
    model and the old connector: the connector change fails saying so, nothing is lost,
    and the next apply finishes the replacement."""
    sandbox: Sandbox = sandbox_factory("2.11", deploy_delay=0.02)
    client = client_for(sandbox)
    base = [group("team"), model("embedder", connector_name="chat", group_name="team"), INGEST]
    params = {"model": "a", "temperature": "0"}
    manifests = write(tmp_path / "m", [connector("chat", parameters=params), *base])
    assert support.apply(sandbox.url, manifests).ok
    (old_connector,) = _connector_ids(client)
    (old_model,) = {m for _, m in _pipeline_model_ids(client)}

    write(tmp_path / "m", [connector("chat", parameters={"model": "a"}), *base])
    # The next register (the new model's) is refused with a permanent error.
    rule = {"route": "POST /_plugins/_ml/models/_register", "refuse_next": 1, "status": 500}
    client.transport.perform_request("PUT", "/_sandbox/faults", body={"rules": [rule]})
    with Poller(client) as poller:
        result = support.apply(sandbox.url, manifests)
    assert not result.ok
    outcomes = {str(r.key): r for r in result.results}
    assert outcomes["Model/embedder"].outcome.value == "failed"
    kept = outcomes["Connector/chat"]
    assert kept.outcome.value == "failed"
    assert kept.error is not None and "the old one was kept" in kept.error
    assert old_connector in _connector_ids(client)
    assert client.plugins.ml.get_model(model_id=old_model)["model_state"] == "DEPLOYED"
    assert poller.dangling == []

    assert support.apply(sandbox.url, manifests).ok
    (new_connector,) = _connector_ids(client)
    assert new_connector != old_connector


def test_agent_parameters_written_as_numbers_or_booleans_converge(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """The server stores every agent, `llm` and tool parameter as a string (CONS §4.2):
    a second plan after apply is empty, and the agent is not updated again and again."""
    sandbox: Sandbox = sandbox_factory("3.x")
    tool = {
        "type": "MLModelTool",
        "name": "ask",
        "parameters": {"model_id": {"ref": "Model/embedder"}, "top_k": 3, "strict": True},
    }
    agent = {
        "apiVersion": "osml/v1",
        "kind": "Agent",
        "metadata": {"name": "helper"},
        "spec": {
            "type": "conversational",
            "llm": {"model_id": {"ref": "Model/embedder"}, "parameters": {"max_iteration": 5}},
            "parameters": {"verbose": False, "temperature": 0.5, "stop": ["x"]},
            "tools": [tool],
        },
    }
    docs = [group("team"), connector("chat"),
            model("embedder", connector_name="chat", group_name="team"), agent]  # fmt: skip
    manifests = write(tmp_path / "m", docs)
    assert support.apply(sandbox.url, manifests).ok
    assert support.actions(support.plan(sandbox.url, manifests)) == {}
