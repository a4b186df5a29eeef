"""`osml export` against the sandbox: a brownfield cluster (tests/support/brownfield.py:
every emulated provider, `http` and `aws_sigv4`, internal and standalone connectors, groups
in every access mode with security on, models deployed and not, custom trusted endpoints
and settings) is exported, planned (only adoptions and credential notes), applied and
planned again (no changes). Exporting twice, and again after the apply, gives the same
bytes; the files pass `osml fmt --check`; the known secret appears nowhere."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from tests.integration import support
from tests.support.blueprints import load_all
from tests.support.brownfield import USERS, Filled, fill, with_secret

SECRET = "sk-export-known-secret-0123456789"
ADMIN = ["--username", "admin", "--password", "admin"]
_VARIABLE = re.compile(r"^\| `([A-Z0-9_]+)` \|", re.MULTILINE)
_ADOPT_ID = re.compile(r"osml/adopt-id: (\S+)")


def _run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _export(sandbox: Sandbox, out: Path) -> Result:
    result = _run("export", "--out", str(out), "--cluster", sandbox.url, *ADMIN)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(params=["2.9", "2.19", "3.x"])
def brownfield(request: pytest.FixtureRequest, sandbox_factory: Any) -> tuple[Sandbox, Filled]:
    sandbox = sandbox_factory(request.param, security=True, users=USERS)
    return sandbox, fill(sandbox, secret=SECRET)


def test_export_plan_adopts_then_apply_converges(
    brownfield: tuple[Sandbox, Filled], tmp_path: Path
) -> None:
    sandbox, filled = brownfield
    mcp = {"mcp_sse", "mcp_streamable_http"} if sandbox.profile.release >= (3, 3) else set()
    assert filled.protocols == {"http", "aws_sigv4", *mcp}
    out = tmp_path / "manifests"
    outputs = [_export(sandbox, out).output]
    files = _files(out)
    outputs.append(_export(sandbox, tmp_path / "again").output)
    assert _files(tmp_path / "again") == files, "two exports of one cluster differ"
    fmt = _run("fmt", "--check", str(out))
    assert fmt.exit_code == 0, fmt.output

    texts = {name: data.decode() for name, data in files.items()}
    adopted = {m.group(1): name for name, text in texts.items() for m in _ADOPT_ID.finditer(text)}
    live = [*filled.connectors, *filled.groups, *filled.models]
    assert sorted(adopted) == sorted(live)
    for model_id in filled.models:
        deployed = "deployed: true" in texts[adopted[model_id]]
        assert deployed is (model_id in filled.deployed), adopted[model_id]
    for model_id in filled.internal:
        assert "\n  connector:\n" in texts[adopted[model_id]]
    settings = texts["settings/ml-commons.yaml"]
    assert "connector_access_control_enabled: true" in settings
    assert "model_auto_redeploy.lifetime_retry_times: 5" in settings
    assert "mode: merge" in texts["settings/trusted-endpoints.yaml"]
    groups = "".join(texts[adopted[group_id]] for group_id in filled.groups)
    for mode in ("public", "private", "restricted"):
        assert f"access_mode: {mode}" in groups

    env = {name: SECRET for name in _VARIABLE.findall(texts["README.md"])}
    assert env, texts["README.md"]
    cluster = ["--cluster", sandbox.url, *ADMIN]
    plan = _run("plan", str(out), *cluster, "--format", "json", env=env)
    assert plan.exit_code == 0, plan.output
    outputs.append(plan.output)
    changes = json.loads(plan.output[plan.output.index("{") :])["changes"]
    actions = {change["key"]: change["action"] for change in changes}
    assert set(actions.values()) == {"adopt", "noop"}, actions
    assert sum(action == "adopt" for action in actions.values()) == len(live)
    for change in changes:
        plain = [field for field in change["fields"] if not field["sensitive"]]
        assert not plain, (change["key"], plain)
        assert not (change["deploy_after"] or change["undeploy_first"]), change

    applied = _run("apply", str(out), *cluster, "--auto-approve", env=env)
    assert applied.exit_code == 0, applied.output
    assert " 0 created, " in applied.output and " 0 replaced, " in applied.output
    final = _run("plan", str(out), *cluster, "--detailed-exitcode", env=env)
    assert final.exit_code == 0, final.output
    assert "No changes." in final.output
    outputs += [applied.output, final.output]

    after = tmp_path / "after"
    outputs.append(_export(sandbox, after).output)
    assert _files(after) == files, "the names come from the state now, and are the same"
    for text in [*outputs, *texts.values()]:
        assert SECRET not in text


def test_export_with_env_reads_that_environments_cluster(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    """`--env prod` exports prod's cluster (the file beside --out gives its URL and user,
    the password from the variable it names), as plain manifests that plan only
    adoptions for that environment."""
    site = tmp_path / "site"
    (site / "environments").mkdir(parents=True)
    sandboxes = {}
    for name in ("dev", "prod"):
        sandboxes[name] = sandbox_factory("2.19", security=True, users=USERS)
        (site / "environments" / f"{name}.yaml").write_text(
            f"cluster:\n  url: {sandboxes[name].url}\n  username: admin\n"
            "  password_env: CLUSTER_PASSWORD\nvalues:\n  stage: " + name + "\n"
        )
    client = client_for(sandboxes["prod"])
    openai = next(b for b in load_all() if b.name == "open_ai_connector_chat_blueprint")
    body = with_secret(openai.data["body"], SECRET)  # a host trusted by default
    body["name"] = "Only in prod"
    client.transport.perform_request("POST", "/_plugins/_ml/connectors/_create", body=body)
    client.close()
    out = site / "manifests"
    env = {"CLUSTER_PASSWORD": "admin"}
    result = _run("export", "--out", str(out), "--env", "prod", env=env)
    assert result.exit_code == 0, result.output
    assert "cluster osml-sandbox (version 2.19" in (out / "README.md").read_text()
    text = (out / "connectors" / "only-in-prod.yaml").read_text()
    assert "${env." not in text
    variables = _VARIABLE.findall((out / "README.md").read_text())
    env.update({name: SECRET for name in variables})
    for name, action in (("prod", "adopt"), ("dev", "create")):
        plan = _run("plan", str(out), "--env", name, "--format", "json", env=env)
        assert plan.exit_code == 0, plan.output
        changes = json.loads(plan.output[plan.output.index("{") :])["changes"]
        assert {c["action"] for c in changes if c["kind"] == "Connector"} == {action}, name
    missing = _run("export", "--out", str(tmp_path / "x"), "--env", "stage", env=env)
    assert missing.exit_code != 0 and "stage" in missing.output


def test_export_writes_consumers_with_references_and_round_trips(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    """Pipelines and an agent made by scripts, naming a model by its raw ID, come out as
    manifests that reference the model by name; plan adopts, apply converges."""
    sandbox = sandbox_factory("3.x")
    client = client_for(sandbox)
    ml = client.plugins.ml
    body = {**support.connector("chat")["spec"], "credential": {"openAI_key": SECRET}}
    connector = ml.create_connector(body=body)["connector_id"]
    group = ml.register_model_group(body={"name": "team"})["model_group_id"]
    registered = {"name": "embedder", "function_name": "remote", "connector_id": connector}
    model_id = ml.register_model(body={**registered, "model_group_id": group})["model_id"]
    embed = {"processors": [{"text_embedding": {"model_id": model_id, "field_map": {"t": "v"}}}]}
    client.ingest.put_pipeline(id="embed-docs", body=embed)
    enrich = {"request_processors": [{"neural_query_enricher": {"default_model_id": model_id}}]}
    client.search_pipeline.put(id="enrich", body=enrich)
    tool = {"type": "MLModelTool", "parameters": {"model_id": model_id}}
    ml.register_agents(body={"name": "helper", "type": "flow", "tools": [tool]})
    client.ingest.put_pipeline(id="Bad Name", body={"processors": []})

    out = tmp_path / "manifests"
    exported = _export(sandbox, out)
    files = _files(out)
    _export(sandbox, tmp_path / "again")
    assert _files(tmp_path / "again") == files
    texts = {name: data.decode() for name, data in files.items()}
    assert "ref: Model/embedder" in texts["ingest-pipelines/embed-docs.yaml"]
    assert "ref: Model/embedder" in texts["search-pipelines/enrich.yaml"]
    assert "ref: Model/embedder" in texts["agents/helper.yaml"]
    assert 'Ingest pipeline "Bad Name" is not exported' in texts["README.md"]
    assert _run("fmt", "--check", str(out)).exit_code == 0

    env = {name: SECRET for name in _VARIABLE.findall(texts["README.md"])}
    cluster = ["--cluster", sandbox.url]
    plan = _run("plan", str(out), *cluster, "--format", "json", env=env)
    assert plan.exit_code == 0, plan.output
    changes = json.loads(plan.output[plan.output.index("{") :])["changes"]
    actions = {change["key"]: change["action"] for change in changes}
    assert actions["IngestPipeline/embed-docs"] == actions["Agent/helper"] == "adopt"
    assert set(actions.values()) == {"adopt"}, actions
    applied = _run("apply", str(out), *cluster, "--auto-approve", env=env)
    assert applied.exit_code == 0, applied.output
    final = _run("plan", str(out), *cluster, "--detailed-exitcode", env=env)
    assert final.exit_code == 0, final.output
    for text in [exported.output, plan.output, applied.output, final.output, *texts.values()]:
        assert SECRET not in text
