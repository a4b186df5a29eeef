"""Policy through the CLI, over HTTP to the sandbox: `osml plan` reports findings (text,
Markdown, SARIF) and exits 3 on an error finding; the saved plan records them under its
digest; `osml apply PLANFILE` refuses it, changing nothing, unless `--allow-policy` names
the rule, and then records the override in its output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from opensearchpy import OpenSearch

from reconciler.cli import main
from reconciler.sandbox.server import Sandbox
from tests.integration.support import ENV, SECRET, connector, group, model, write

POLICY = """\
policy:
  builtin:
    connector-host-not-allowed:
      hosts: [api.cohere.ai]
  rules:
    - id: described-groups
      deny: resource.kind == "ModelGroup" && !has(resource.spec.description)
      message: every model group says what it is for
      severity: warning
"""
RULE = "connector-host-not-allowed"


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory("3.x")


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    paths = write(tmp_path / "manifests", [
        group("team"),
        connector("chat"),
        model("chat-model", connector_name="chat", group_name="team"),
    ])  # fmt: skip
    (paths / "osml.yaml").write_text(POLICY, "utf-8")  # the project file, beside them
    return paths


def osml(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env={**ENV, "NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert SECRET not in result.output
    return result


def _connectors(sandbox: Sandbox) -> list[object]:
    client = OpenSearch(str(sandbox.url))
    body = {"query": {"match_all": {}}, "size": 100}
    return list(client.plugins.ml.search_connectors(body=body)["hits"]["hits"])


def test_plan_reports_findings_and_exits_3(sandbox: Sandbox, manifests: Path, tmp_path: Path) -> None:
    sarif = tmp_path / "findings.sarif"
    result = osml("plan", str(manifests), "--cluster", str(sandbox.url), "--detailed-exitcode",
                  "--sarif", str(sarif))  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "Policy: 1 error." in result.stdout
    line = next(i for i, text in enumerate((manifests / "all.yaml").read_text().splitlines(), 1)
                if "url: https://api.openai.com" in text)  # fmt: skip
    assert f"all.yaml:{line}:" in result.stdout and f"error [{RULE}]" in result.stdout
    document = json.loads(sarif.read_text("utf-8"))
    (finding,) = document["runs"][0]["results"]
    assert finding["ruleId"] == RULE
    assert finding["locations"][0]["physicalLocation"]["region"]["startLine"] == line

    markdown = osml("plan", str(manifests), "--cluster", str(sandbox.url), "--format", "markdown")
    assert markdown.exit_code == 3
    assert "### Policy (1 error)" in markdown.stdout and f"`{RULE}`" in markdown.stdout
    only = osml("plan", str(manifests), "--cluster", str(sandbox.url), "--format", "sarif")
    assert json.loads(only.stdout)["runs"][0]["results"][0]["ruleId"] == RULE


def test_apply_refuses_a_saved_plan_with_an_error_finding(
    sandbox: Sandbox, manifests: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    planned = osml("plan", str(manifests), "--cluster", str(sandbox.url), "--out", str(saved))
    assert planned.exit_code == 3, planned.output
    recorded = json.loads(saved.read_text("utf-8"))["findings"]
    assert [f["rule"] for f in recorded] == [RULE]

    refused = osml("apply", str(saved), "--cluster", str(sandbox.url))
    assert refused.exit_code == 1
    assert "policy error finding(s), so it is not applied" in refused.stderr
    assert f"--allow-policy {RULE}" in refused.stderr
    assert _connectors(sandbox) == []  # nothing was changed

    wrong = osml("apply", str(saved), "--cluster", str(sandbox.url), "--allow-policy", "other")
    assert wrong.exit_code == 1 and _connectors(sandbox) == []

    applied = osml("apply", str(saved), "--cluster", str(sandbox.url),
                   "--allow-policy", f"other,{RULE}")  # fmt: skip
    assert applied.exit_code == 0, applied.output
    assert f"Policy override: applying despite 1 error finding(s) of {RULE}" in applied.stdout
    assert f"error [{RULE}]: Connector/chat" in applied.stdout
    assert len(_connectors(sandbox)) == 1


def test_findings_are_under_the_digest(sandbox: Sandbox, manifests: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    osml("plan", str(manifests), "--cluster", str(sandbox.url), "--out", str(saved))
    document = json.loads(saved.read_text("utf-8"))
    document["findings"] = []
    saved.write_text(json.dumps(document), "utf-8")
    refused = osml("apply", str(saved), "--cluster", str(sandbox.url))
    assert refused.exit_code == 1 and "changed after it was made" in refused.stderr
    assert _connectors(sandbox) == []


def test_apply_paths_checks_the_plan_it_makes(sandbox: Sandbox, manifests: Path) -> None:
    refused = osml("apply", str(manifests), "--cluster", str(sandbox.url), "--auto-approve")
    assert refused.exit_code == 1 and f"error [{RULE}]" in refused.stdout
    assert _connectors(sandbox) == []
    applied = osml("apply", str(manifests), "--cluster", str(sandbox.url), "--auto-approve",
                   "--allow-policy", RULE)  # fmt: skip
    assert applied.exit_code == 0, applied.output
    assert "Policy override" in applied.stdout


def test_a_broken_project_file_stops_before_the_cluster(sandbox: Sandbox, manifests: Path) -> None:
    (manifests / "osml.yaml").write_text(
        "policy:\n  rules:\n    - id: x\n      deny: resource.kind ==\n      message: m\n", "utf-8"
    )
    result = osml("plan", str(manifests), "--cluster", str(sandbox.url))
    assert result.exit_code == 1
    assert "osml.yaml:4:13: policy.rules[0].deny: rule x: deny does not compile" in result.stderr
