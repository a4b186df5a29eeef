"""`osml plan --probe-offline`: every probe runs in a throwaway offline sandbox of the
cluster's version, the report follows the plan, a failed probe exits 1, and the cluster
planned against receives nothing but reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.mlcommons.versions import Version
from reconciler.plans import FORMAT_VERSION
from reconciler.rehearsing import DUMMY_SECRET, profile_for
from reconciler.sandbox.server import Sandbox
from tests.integration.test_sandbox_sets import COHERE
from tests.manifest_sets import ROOT

SECRET = "cohere-key-that-must-stay-home"
MUTATIONS = ("POST", "PUT", "DELETE")


def plan(sandbox: Sandbox, folder: Path, *extra: str) -> Result:
    args = ["plan", "--cluster", sandbox.url, "--probe-offline", *extra, str(folder)]
    env = {"NO_COLOR": "1", "COHERE_API_KEY": SECRET, "OPENAI_API_KEY": SECRET}
    return CliRunner().invoke(main, args, env=env)


def cohere_set(tmp_path: Path, dimension: int) -> Path:
    folder = tmp_path / "set"
    folder.mkdir(exist_ok=True)
    (folder / "all.yaml").write_text(COHERE.replace("DIMENSION", str(dimension)))
    return folder


def writes(sandbox: Sandbox) -> list[str]:
    """Every mutating request the planned-against cluster received."""
    return [
        f"{e.method} {e.path}"
        for e in sandbox.requests.entries()
        if e.method in MUTATIONS and not e.path.endswith(("/_search", "/_count"))
    ]


def test_passing_probes_follow_the_plan_and_the_cluster_is_only_read(
    sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    cluster = sandbox_factory("2.19")
    result = plan(cluster, cohere_set(tmp_path, 1024))
    assert result.exit_code == 0, result.output
    plan_text, _, report = result.output.partition("Offline probes (")
    assert "Plan: 3 to create" in plan_text
    assert report.startswith("sandbox 2.19, provider emulators, dummy secrets")
    assert "  Model/embed: probe passed: embedding of 1024 dimensions" in report
    assert "1 of 1 probes passed." in report
    assert writes(cluster) == []
    assert SECRET not in result.output and DUMMY_SECRET not in result.output


def test_a_failed_expectation_exits_1_after_the_report(
    sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    cluster = sandbox_factory("3.x")
    result = plan(cluster, cohere_set(tmp_path, 768))
    assert result.exit_code == 1
    assert (
        "  Model/embed: probe failed: expected embeddings of 768 dimensions, got 1024"
        in result.output
    )
    assert "Error: 1 of 1 offline probes failed" in result.output
    assert writes(cluster) == []


def test_json_stays_one_document_on_stdout(
    sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    cluster = sandbox_factory("3.x")
    args = ["plan", "--cluster", cluster.url, "--probe-offline", "--format", "json"]
    env = {"NO_COLOR": "1", "COHERE_API_KEY": SECRET}
    result = CliRunner().invoke(main, [*args, str(cohere_set(tmp_path, 1024))], env=env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["format_version"] == FORMAT_VERSION
    assert "Model/embed: probe passed" in result.stderr


def test_markdown_gets_a_probe_table(
    sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    result = plan(sandbox_factory("3.x"), cohere_set(tmp_path, 1024), "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "### Offline probes" in result.output
    assert "| `Model/embed` | passed | embedding of 1024 dimensions |" in result.output


def test_a_host_that_is_not_emulated_is_never_called_offline(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    folder = ROOT / "examples" / "private-self-hosted"
    args = ["plan", "--cluster", sandbox_factory("3.x").url, "--probe-offline", str(folder)]
    env = {"NO_COLOR": "1", "SELF_HOSTED_LLM_API_KEY": SECRET}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1
    assert "10.0.0.12 is not an emulated provider and the sandbox is offline" in result.output


def test_a_mapped_self_hosted_server_is_answered_by_its_emulator(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    cluster = sandbox_factory("3.x")
    folder = ROOT / "examples" / "private-self-hosted"
    args = ["plan", "--cluster", cluster.url, "--probe-offline", str(folder)]
    emulate = ["--sandbox-emulate", "10.0.0.12:8000=openai"]
    env = {"NO_COLOR": "1", "SELF_HOSTED_LLM_API_KEY": SECRET}
    result = CliRunner().invoke(main, [*args[:-1], *emulate, args[-1]], env=env)
    assert result.exit_code == 0, result.output
    assert "Model/self-hosted-llm: probe passed" in result.output
    assert SECRET not in result.output
    assert writes(cluster) == []


@pytest.mark.parametrize(
    ("version", "profile"),
    [
        ("2.19.1", "2.19"),
        ("2.15.0", "2.15"),
        ("3.2.0", "3.2"),
        ("3.8.0", "3.8"),
        ("2.9.0", "2.9"),
        ("2.20.0", "2.19"),
        ("3.9.0", "3.8"),
    ],
)
def test_the_sandbox_profile_is_the_nearest_one(version: str, profile: str) -> None:
    assert profile_for(Version.parse(version)) == profile


def test_agent_probes_run_offline_too(sandbox_factory: Callable[..., Sandbox]) -> None:
    """examples/rag: the flow agent's execute runs its model's predict in the rehearsal."""
    cluster = sandbox_factory("3.x")
    result = plan(cluster, ROOT / "examples" / "rag")
    assert result.exit_code == 0, result.output
    report = result.output.partition("Offline probes (")[2]
    assert "  Agent/rag-quick-answer: probe passed: " in report
    assert "  Model/rag-chat: probe passed: " in report
    assert "3 of 3 probes passed." in report
    assert writes(cluster) == []
    assert SECRET not in result.output and DUMMY_SECRET not in result.output
