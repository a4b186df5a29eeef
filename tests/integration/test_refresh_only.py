"""`osml plan --refresh-only` and `osml apply --refresh-only` against a sandbox.

The report compares the state records with the live cluster and proposes no change to
it: vanished resources, hand-edited fields and deploy state. `apply --refresh-only`
forgets the vanished records and records the live values, under the lock, and changes
nothing on the cluster; the normal plan afterwards still takes the cluster back to the
manifests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from opensearchpy import OpenSearch

from reconciler.cli import main
from reconciler.cluster.state import read_state
from reconciler.resources import Kind, ResourceKey
from tests.integration import support
from tests.integration.support import ENV, SECRET, connector, group, model, write


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=ENV, catch_exceptions=False)
    return result.exit_code, result.output


def _docs() -> list[dict[str, Any]]:
    return [
        group("team"),
        connector("chat"),
        connector("spare"),
        model("bot", connector_name="chat", group_name="team"),
    ]


def _live_ids(url: str) -> dict[str, str]:
    with support.open_connection(url) as conn:
        records = read_state(conn, index="osml-state").records
    return {str(k): r.id for k, r in records.items() if r.id is not None}


def test_a_fresh_apply_shows_no_drift_on_every_profile(cluster: Any, tmp_path: Path) -> None:
    paths = write(tmp_path / "m", _docs())
    assert _run("apply", str(paths), "--auto-approve", "--cluster", cluster.url)[0] == 0
    code, out = _run("plan", "--refresh-only", "--detailed-exitcode", "--cluster", cluster.url)
    assert (code, out.splitlines()[-1]) == (0, "No drift. The state matches the cluster."), out


def test_refresh_only_reports_and_records_drift_and_changes_nothing_else(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    client = OpenSearch(sandbox.url)
    paths = write(tmp_path / "m", _docs())
    assert _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)[0] == 0
    ids = _live_ids(sandbox.url)
    ml = client.plugins.ml
    ml.delete_connector(connector_id=ids["Connector/spare"])
    ml.undeploy_model(model_id=ids["Model/bot"])
    client.transport.perform_request(
        "PUT", f"/_plugins/_ml/model_groups/{ids['ModelGroup/team']}",
        body={"description": "edited by hand"},
    )  # fmt: skip

    cluster = ("--cluster", sandbox.url)
    code, out = _run("plan", "--refresh-only", "--detailed-exitcode", *cluster)
    assert code == 2, out
    assert f"- Connector/spare (id {ids['Connector/spare']}): live resource" in out
    assert "~ ModelGroup/team" in out
    assert 'description: "A test group" -> "edited by hand"' in out
    assert f"! Model/bot (id {ids['Model/bot']}): model is UNDEPLOYED" in out
    assert "Refresh: 1 record(s) to forget, 1 to update, 1 reported only." in out
    assert SECRET not in out

    code, out = _run("plan", "--refresh-only", "--format", "json", *cluster)
    report = json.loads(out)
    assert (report["forget"], report["update"]) == (["Connector/spare"], ["ModelGroup/team"])
    assert {d["kind"] for d in report["drift"]} == {"vanished", "edited", "deploy_state"}

    code, out = _run("apply", "--refresh-only", *cluster)
    assert code == 1 and "refusing to refresh without --auto-approve" in out
    assert "Connector/spare" in _live_ids(sandbox.url)

    code, out = _run("apply", "--refresh-only", "--auto-approve", *cluster)
    assert code == 0, out
    assert "Refresh complete: 1 record(s) forgotten, 1 updated." in out
    with support.open_connection(sandbox.url) as conn:
        records = read_state(conn, index="osml-state").records
    assert ResourceKey(Kind.CONNECTOR, "spare") not in records
    team = records[ResourceKey(Kind.MODEL_GROUP, "team")]
    assert team.applied["description"] == "edited by hand"
    # Nothing on the cluster changed.
    assert ml.get_model(model_id=ids["Model/bot"])["model_state"] == "UNDEPLOYED"
    group_doc = client.transport.perform_request(
        "GET", f"/_plugins/_ml/model_groups/{ids['ModelGroup/team']}"
    )
    assert group_doc["description"] == "edited by hand"

    code, out = _run("plan", "--refresh-only", "--detailed-exitcode", *cluster)
    assert code == 2 and "1 reported only" in out and "0 record(s) to forget, 0 to update" in out
    # The manifests still win on the next ordinary plan.
    assert support.actions(support.plan(sandbox.url, paths)) == {
        "ModelGroup/team": "update",
        "Connector/spare": "create",
        "Model/bot": "deploy",
    }


def test_refresh_only_rejects_what_it_cannot_do(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    out_file = tmp_path / "p.json"
    for args in (
        ("plan", "--refresh-only", "--out", str(out_file)),
        ("plan", "--refresh-only", "--format", "markdown"),
    ):
        result = CliRunner().invoke(main, [*args, "--cluster", sandbox.url])
        assert result.exit_code == 2 and "--refresh-only" in result.output
    assert not out_file.exists()
    code, out = _run("apply", "--refresh-only", "--auto-approve", "--cluster", sandbox.url)
    assert code == 0 and "No drift" in out


def _consumers() -> list[dict[str, Any]]:
    """A pipeline and an agent that use Model/bot."""
    ingest = {
        "apiVersion": "osml/v1",
        "kind": "IngestPipeline",
        "metadata": {"name": "embed"},
        "spec": {
            "processors": [
                {"text_embedding": {"model_id": {"ref": "Model/bot"}, "field_map": {"t": "v"}}}
            ]
        },
    }
    tool = {"type": "MLModelTool", "name": "ask", "parameters": {"model_id": {"ref": "Model/bot"}}}
    agent = {
        "apiVersion": "osml/v1",
        "kind": "Agent",
        "metadata": {"name": "helper"},
        "spec": {"type": "flow", "description": "first", "tools": [tool]},
    }
    return [ingest, agent]


def test_refresh_only_covers_pipeline_and_agent_records(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    client = OpenSearch(sandbox.url)
    paths = write(tmp_path / "m", [*_docs(), *_consumers()])
    assert _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)[0] == 0
    cluster = ("--cluster", sandbox.url)
    code, out = _run("plan", "--refresh-only", "--detailed-exitcode", *cluster)
    assert (code, out.splitlines()[-1]) == (0, "No drift. The state matches the cluster."), out

    ids = _live_ids(sandbox.url)
    client.ingest.delete_pipeline(id="embed")
    client.transport.perform_request(
        "PUT", f"/_plugins/_ml/agents/{ids['Agent/helper']}", body={"description": "by hand"}
    )
    code, out = _run("plan", "--refresh-only", "--format", "json", *cluster)
    report = json.loads(out)
    assert (report["forget"], report["update"]) == (["IngestPipeline/embed"], ["Agent/helper"])
    code, out = _run("apply", "--refresh-only", "--auto-approve", *cluster)
    assert code == 0, out
    with support.open_connection(sandbox.url) as conn:
        records = read_state(conn, index="osml-state").records
    assert ResourceKey(Kind.INGEST_PIPELINE, "embed") not in records
    assert records[ResourceKey(Kind.AGENT, "helper")].applied["description"] == "by hand"
