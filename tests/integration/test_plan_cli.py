"""`osml plan` end to end through click, over HTTP to the sandbox.

Manifests on disk, the real loader and checks, opensearch-py to a sandbox, the planner,
and each view. Secrets are set in the environment and must never reach the output.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.planfiles import read_plan_file
from reconciler.rendering.markdown import MARKER
from tests.integration import support
from tests.integration.support import ENV, SECRET, connector, group, model, write

DOCS = [
    group("team"),
    connector("chat"),
    model("chat-model", connector_name="chat", group_name="team"),
]


@pytest.fixture
def url(sandbox_factory: Callable[..., Any]) -> str:
    return str(sandbox_factory("3.x").url)


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    return write(tmp_path / "manifests", DOCS)


def osml(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), env={**ENV, "NO_COLOR": "", **(env or {})})
    # Never a traceback: either a clean return or an exit with a code.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.stdout
    assert SECRET not in result.output
    return result


def test_text_plan_of_an_empty_cluster(url: str, manifests: Path) -> None:
    result = osml("plan", str(manifests), "--cluster", url)
    assert result.exit_code == 0, result.stderr
    assert "  + Connector/chat" in result.stdout
    assert "credential.openAI_key: (sensitive)" in result.stdout
    assert "Plan: 3 to create, 0 to update, 0 to replace, 0 to delete, 1 to deploy." in (
        result.stdout
    )
    assert "\x1b[" not in result.stdout


@pytest.mark.parametrize(("flag", "code"), [((), 0), (("--detailed-exitcode",), 2)])
def test_detailed_exitcode_with_changes(
    url: str, manifests: Path, flag: tuple[str, ...], code: int
) -> None:
    assert osml("plan", str(manifests), "--cluster", url, *flag).exit_code == code


def test_no_changes_after_apply_exits_0_with_detailed_exitcode(url: str, manifests: Path) -> None:
    assert support.apply(url, manifests).ok
    result = osml("plan", str(manifests), "--cluster", url, "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout
    assert "No changes. The cluster matches the manifests." in result.stdout


def test_json_plan_and_saved_plan_file(url: str, manifests: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = osml("plan", str(manifests), "--cluster", url, "--format", "json", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["summary"]["create"] == 3
    assert document["has_changes"] is True
    saved, _ = read_plan_file(out)
    assert [str(c.key) for c in saved.changes] == [c["key"] for c in document["changes"]]
    assert SECRET not in out.read_text("utf-8")
    assert f"Saved the plan to {out}" in result.stderr


def test_markdown_plan(url: str, manifests: Path) -> None:
    result = osml("plan", str(manifests), "--cluster", url, "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(MARKER + "\n")
    assert "<details>" in result.stdout


def test_target_limits_the_plan(url: str, manifests: Path) -> None:
    result = osml("plan", str(manifests), "--cluster", url, "--target", "ModelGroup/team")
    assert result.exit_code == 0, result.stderr
    assert "Connector/chat" not in result.stdout
    assert "ModelGroup/team" in result.stdout


def test_missing_secret_is_an_error(url: str, manifests: Path) -> None:
    result = osml("plan", str(manifests), "--cluster", url, env={"TEST_API_KEY": ""})
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "TEST_API_KEY" in result.stderr


def test_builtin_sandbox_option(manifests: Path, tmp_path: Path) -> None:
    data = tmp_path / "sandbox.json"
    result = osml("plan", str(manifests), "--sandbox", str(data), "--detailed-exitcode")
    assert result.exit_code == 2, result.stderr
    assert "osml plan for osml-sandbox" in result.stdout
