"""`osml export` against the sandbox: a cluster filled by direct API calls is exported,
planned (only adoptions), applied and planned again (no changes); twice gives the same
bytes; the known secret appears in no exported file and no output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for

SECRET = "sk-export-known-secret-0123456789"


def _fill(sandbox: Sandbox) -> None:
    client = client_for(sandbox)
    ml = "/_plugins/_ml"
    body: dict[str, Any] = {
        "name": "OpenAI chat",
        "version": 1,
        "protocol": "http",
        "parameters": {"endpoint": "api.openai.com", "model": "gpt-4o-mini"},
        "credential": {"openAI_key": SECRET},
        "actions": [
            {
                "action_type": "predict",
                "method": "POST",
                "url": "https://${parameters.endpoint}/v1/chat/completions",
                "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                "request_body": '{ "model": "${parameters.model}", "messages": ${parameters.messages} }',
            }
        ],
    }
    connector = client.transport.perform_request("POST", f"{ml}/connectors/_create", body=body)
    client.transport.perform_request("POST", f"{ml}/connectors/_create", body=body)  # same name
    group = client.transport.perform_request(
        "POST", f"{ml}/model_groups/_register", body={"name": "Generative models"}
    )
    client.transport.perform_request(
        "POST",
        f"{ml}/models/_register",
        body={
            "name": "Chat",
            "function_name": "remote",
            "model_group_id": group["model_group_id"],
            "connector_id": connector["connector_id"],
        },
    )


def _run(*args: str, env: dict[str, str]) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("version", ["2.19", "3.x"])
def test_export_plan_adopts_then_nothing(
    sandbox_factory: Any, tmp_path: Path, version: str
) -> None:
    sandbox = sandbox_factory(version=version)
    _fill(sandbox)
    cluster = ["--cluster", sandbox.url, "--state-index", "osml-state"]
    out = tmp_path / "out"
    first = _run("export", "--out", str(out), *cluster, env={})
    assert first.exit_code == 0, first.output
    again = _run("export", "--out", str(tmp_path / "again"), *cluster, env={})
    assert again.exit_code == 0
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    for name in files:
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    assert _run("fmt", "--check", str(out), env={}).exit_code == 0
    env = {
        v.split()[0]: SECRET
        for v in first.output.splitlines()
        if v.startswith("  ") and v.strip().startswith("CONNECTOR_")
    }
    assert len(env) == 2
    plan = _run("plan", str(out), *cluster, "--format", "json", env=env)
    assert plan.exit_code == 0, plan.output
    import json

    data = json.loads(plan.output[plan.output.index("{"):])
    actions = {c["key"] if isinstance(c["key"], str) else str(c["key"]): c["action"] for c in data["changes"]}
    assert set(actions.values()) <= {"adopt", "noop"}, actions
    assert "adopt" in actions.values()
    applied = _run("apply", str(out), *cluster, "--auto-approve", env=env)
    assert applied.exit_code == 0, applied.output
    final = _run("plan", str(out), *cluster, "--detailed-exitcode", env=env)
    assert final.exit_code == 0, final.output
    for text in [first.output, plan.output, applied.output, final.output] + [
        (out / n).read_text() for n in files
    ]:
        assert SECRET not in text
