"""Helpers for the policy tests: manifests and project files written to a folder."""

from __future__ import annotations

from pathlib import Path

from reconciler.findings import Finding
from reconciler.manifests.loading import read_manifests
from reconciler.plans import Plan
from reconciler.policy import Policy, load_policy
from reconciler.policy import evaluate as run_policy


def policy_from(tmp_path: Path, text: str | None) -> Policy:
    if text is None:
        return Policy()
    path = tmp_path / "osml.yaml"
    path.write_text(text, "utf-8")
    return load_policy(path)


def findings_of(
    tmp_path: Path,
    manifests: str,
    *,
    policy: str | None = None,
    environment: str | None = None,
    plan: Plan | None = None,
    name: str = "manifest.yaml",
) -> tuple[Finding, ...]:
    """Write `manifests` and evaluate the policy on them (they must load cleanly)."""
    file = tmp_path / name
    file.write_text(manifests, "utf-8")
    reading = read_manifests([file])
    assert not reading.problems, reading.problems
    return run_policy(
        policy_from(tmp_path, policy), reading.manifests, plan=plan, environment=environment
    )
