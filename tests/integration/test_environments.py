"""Environments and fleets end to end: one repository, two sandboxes as dev and prod.

Manifests and environment files on disk, `osml` through click, opensearch-py over HTTP
to two sandboxes. The overrides must plan different changes for each environment,
`--all-envs` must apply both in parallel with a fault injected into one leaving the
other converged, and a bad override must be reported at the environment file's line.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import main
from tests.integration.support import SECRET

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "environments"
ENV = {"OPENAI_API_KEY": SECRET, "NO_COLOR": "1"}


def osml(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert SECRET not in result.output
    return result


@pytest.fixture
def repo(tmp_path: Path, sandbox_factory: Callable[..., Any]) -> dict[str, Any]:
    """The example copied, its environment files pointed at two fresh sandboxes."""
    shutil.copytree(EXAMPLE, tmp_path / "site")
    site = tmp_path / "site"
    sandboxes = {}
    for name in ("dev", "prod"):
        sandbox = sandbox_factory("3.8")
        file = site / "environments" / f"{name}.yaml"
        data = yaml.safe_load(file.read_text())
        data["cluster"]["url"] = str(sandbox.url)
        file.write_text(yaml.safe_dump(data, sort_keys=False))
        sandboxes[name] = sandbox
    return {"manifests": str(site / "manifests"), "sandboxes": sandboxes, "site": site}


def _plan_json(repo: dict[str, Any], env: str) -> dict[str, Any]:
    result = osml("plan", repo["manifests"], "--env", env, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _after(plan: dict[str, Any], key: str) -> dict[str, Any]:
    change = next(c for c in plan["changes"] if c["key"] == key)
    return change["after"]


def test_each_environment_plans_its_own_changes(repo: dict[str, Any]) -> None:
    dev, prod = _plan_json(repo, "dev"), _plan_json(repo, "prod")

    assert dev["cluster"]["url"] == str(repo["sandboxes"]["dev"].url)
    assert prod["cluster"]["url"] == str(repo["sandboxes"]["prod"].url)
    assert _after(dev, "Connector/openai-chat")["parameters"]["model"] == "gpt-4o-mini"
    assert _after(prod, "Connector/openai-chat")["parameters"]["model"] == "gpt-4o"
    assert _after(prod, "Connector/openai-chat")["client_config"]["max_connection"] == 50
    assert "client_config" not in _after(dev, "Connector/openai-chat")
    assert _after(dev, "ModelGroup/generative")["name"] == "generative-dev"
    assert _after(prod, "Model/chat")["description"].endswith("(production)")
    assert prod["environment"].endswith("prod.yaml")


def test_all_envs_applies_both_and_a_fault_in_one_leaves_the_other_converged(
    repo: dict[str, Any],
) -> None:
    repo["sandboxes"]["prod"].faults.configure(
        {
            "rules": [
                {"route": "POST /_plugins/_ml/models/_register*", "error_rate": 1.0, "status": 500}
            ]
        }
    )

    applied = osml("apply", repo["manifests"], "--all-envs", "--auto-approve")

    assert applied.exit_code == 1
    assert "Fleet: 2 environments, 1 failed (prod)." in applied.stdout
    assert "[dev] Apply complete: 3 created" in applied.stdout
    dev = osml("plan", repo["manifests"], "--env", "dev", "--detailed-exitcode")
    assert dev.exit_code == 0, dev.output  # converged
    repo["sandboxes"]["prod"].faults.configure({})
    fleet = osml("plan", repo["manifests"], "--all-envs", "--detailed-exitcode",
                 "--format", "json")  # fmt: skip
    assert fleet.exit_code == 2
    document = json.loads(fleet.stdout)
    changed = {e["name"]: e["plan"]["has_changes"] for e in document["environments"]}
    assert changed == {"dev": False, "prod": True}
    again = osml("apply", repo["manifests"], "--all-envs", "--auto-approve")
    assert again.exit_code == 0, again.output
    assert osml("plan", repo["manifests"], "--all-envs", "--detailed-exitcode").exit_code == 0


def test_markdown_comment_has_a_section_per_environment(repo: dict[str, Any]) -> None:
    result = osml("plan", repo["manifests"], "--all-envs", "--format", "markdown")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!-- osml-plan -->\n## osml plan for 2 environments")
    assert "### Environment `dev`" in result.stdout
    assert "### Environment `prod`" in result.stdout


def test_saved_plans_per_environment(repo: dict[str, Any], tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    made = osml("plan", repo["manifests"], "--all-envs", "--out-dir", str(plans))
    assert made.exit_code == 0, made.output
    assert sorted(p.name for p in plans.iterdir()) == ["dev.json", "prod.json"]

    applied = osml("apply", "--all-envs", "--plan-dir", str(plans), repo["manifests"])
    assert applied.exit_code == 0, applied.output
    single = osml("plan", repo["manifests"], "--env", "prod", "--detailed-exitcode")
    assert single.exit_code == 0, single.output


def test_a_bad_override_names_the_environment_file_and_line(repo: dict[str, Any]) -> None:
    prod = repo["site"] / "environments" / "prod.yaml"
    text = prod.read_text().replace("max_connection: 50", "max_connection: lots")
    prod.write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "max_connection" in t)

    result = osml("validate", repo["manifests"])

    assert result.exit_code == 1
    bad = [ln for ln in result.stdout.splitlines() if "max_connection" in ln]
    assert len(bad) == 1, result.stdout
    assert bad[0].startswith(f"{prod}:{line}:")
    assert "override of Connector/openai-chat declared at" in bad[0]
    assert "manifests/chat.yaml:8:" in bad[0]
    assert bad[0].endswith("(environment prod)")


def test_state_commands_take_the_environments_cluster(repo: dict[str, Any]) -> None:
    applied = osml("apply", repo["manifests"], "--env", "prod", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    env_dir = str(repo["site"] / "environments")

    prod = osml("state", "list", "--env", "prod", "--env-dir", env_dir)
    dev = osml("state", "list", "--env", "dev", "--env-dir", env_dir)

    assert prod.exit_code == 0, prod.output
    assert "Model/chat" in prod.stdout
    assert dev.exit_code == 0, dev.output
    assert "Model/chat" not in dev.stdout


POLICY = """\
policy:
  builtin:
    lifecycle-required:
      severity: error
      fields:
        dev: [prevent_destroy]
"""
"""Only dev must protect its models; prod's override sets prevent_destroy, dev has none."""


def test_fleet_plans_are_judged_per_environment(
    repo: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo["site"] / "osml.yaml").write_text(POLICY)  # the project file at the top
    monkeypatch.chdir(repo["site"])
    sarif = tmp_path / "fleet.sarif"

    result = osml("plan", repo["manifests"], "--all-envs", "--sarif", str(sarif))

    assert result.exit_code == 3, result.output
    assert "policy error findings in 1 environment(s): dev" in result.stderr
    dev_part, prod_part = result.stdout.split("=== Environment prod", 1)
    assert "error [lifecycle-required]: Model/chat" in dev_part
    assert "[lifecycle-required]" not in prod_part.split("Fleet:")[0]
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert len(results) == 1
    assert "[dev] " in results[0]["message"]["text"]
    markdown = osml("plan", repo["manifests"], "--all-envs", "--format", "markdown")
    dev_section = markdown.stdout.split("### Environment `prod`")[0]
    assert "### Policy" in dev_section
    assert "### Policy" not in markdown.stdout.split("### Environment `prod`")[1]


def test_fleet_apply_refuses_only_the_environment_with_error_findings(
    repo: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo["site"] / "osml.yaml").write_text(POLICY)
    monkeypatch.chdir(repo["site"])
    plans = tmp_path / "plans"
    assert osml("plan", repo["manifests"], "--all-envs", "--out-dir", str(plans)).exit_code == 3

    saved = osml("apply", "--all-envs", "--plan-dir", str(plans), repo["manifests"])

    assert saved.exit_code == 1, saved.output
    assert "Fleet: 2 environments, 1 failed (dev)." in saved.stdout
    assert "[prod] Apply complete: 3 created" in saved.stdout
    assert "it is not applied" in saved.stdout
    dev = osml("plan", repo["manifests"], "--env", "dev", "--format", "json")
    assert json.loads(dev.stdout)["has_changes"] is True  # refused: nothing was made

    allowed = osml("apply", repo["manifests"], "--all-envs", "--auto-approve",
                   "--allow-policy", "lifecycle-required")  # fmt: skip

    assert allowed.exit_code == 0, allowed.output
    assert "[dev] Policy override: applying despite 1 error finding(s) of lifecycle-required" in (
        allowed.stdout
    )
    assert "[dev] Apply complete: 3 created" in allowed.stdout
