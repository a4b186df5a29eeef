"""`osml apply` of the manifests plans again under the lock when the cluster moved.

An apply that made its own plan (no plan file) takes the lock after showing the plan;
when another run applied in between, that plan is stale, and like Terraform, which plans
under the lock, it plans again there instead of failing: two CI applies of one commit
both succeed, the second with nothing to do. Only a saved plan is refused as stale.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest
from opensearchpy import OpenSearch

from reconciler.cluster.locking import acquire_lock
from reconciler.errors import PlanError
from reconciler.mlcommons.versions import Version
from reconciler.planning import PlanOptions
from reconciler.plans import Action, Plan
from reconciler.reconciling import ApplyOptions, apply_current, plan_against, read_desired
from tests.integration import support
from tests.integration.support import ENV, connector, group, model, write

DOCS = [
    group("team"),
    connector("chat"),
    model("chat-model", connector_name="chat", group_name="team"),
]


def _count(client: OpenSearch) -> dict[str, int]:
    body = {"query": {"match_all": {}}, "size": 100}
    return {
        "connector": len(client.plugins.ml.search_connectors(body=body)["hits"]["hits"]),
        "group": len(client.plugins.ml.search_model_group(body=body)["hits"]["hits"]),
        "model": len(client.plugins.ml.search_models(body=body)["hits"]["hits"]),
    }


def _until(stream: IO[str], text: str) -> str:
    """What `stream` says up to and including the first line containing `text`."""
    seen = []
    while line := stream.readline():
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"never said {text!r}:\n{''.join(seen)}")


def _start(command: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
    )


def test_two_applies_of_the_same_manifests_both_succeed_and_create_once(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x", deploy_delay=0.3)
    paths = write(tmp_path / "m", DOCS)
    command = [
        sys.executable, "-m", "reconciler", "apply", str(paths), "--cluster", str(sandbox.url),
        "--auto-approve", "--lock-timeout", "60",
    ]  # fmt: skip
    env = {**os.environ, **ENV, "NO_COLOR": "1"}
    with support.open_connection(str(sandbox.url)) as conn:
        # Held here until both have planned, so that both plan before either applies.
        held = acquire_lock(conn, operation="apply", holder="test@here")
        runs = [_start(command, env=env, cwd=tmp_path) for _ in range(2)]
        try:
            try:
                said = [_until(run.stdout, "Plan: 3 to create") for run in runs]  # type: ignore[arg-type]
            finally:
                held.release()
            for number, run in enumerate(runs):
                said[number] += run.communicate(timeout=120)[0]
        finally:
            for run in runs:
                if run.poll() is None:
                    run.kill()
                    run.wait()
    assert [run.returncode for run in runs] == [0, 0], said
    assert _count(OpenSearch(str(sandbox.url))) == {"connector": 1, "group": 1, "model": 1}
    first, second = sorted(said, key=lambda text: "planned again" in text)
    assert "Apply complete: 3 created" in first
    assert "planned again under the state lock" in second
    assert "No changes. The cluster matches the manifests." in second
    assert not support.plan(str(sandbox.url), paths).has_changes


def test_two_first_applies_started_together_both_succeed(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    """No state index yet and no lock held: whichever way the two interleave, both exit 0
    and every resource exists once."""
    sandbox = sandbox_factory("3.x", deploy_delay=0.3)
    paths = write(tmp_path / "m", DOCS)
    command = [
        sys.executable, "-m", "reconciler", "apply", str(paths), "--cluster", str(sandbox.url),
        "--auto-approve", "--lock-timeout", "60",
    ]  # fmt: skip
    env = {**os.environ, **ENV, "NO_COLOR": "1"}
    runs = [_start(command, env=env, cwd=tmp_path) for _ in range(2)]
    try:
        said = [run.communicate(timeout=120)[0] for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    assert [run.returncode for run in runs] == [0, 0], said
    assert _count(OpenSearch(str(sandbox.url))) == {"connector": 1, "group": 1, "model": 1}
    assert not support.plan(str(sandbox.url), paths).has_changes


def _made(url: str, paths: Path) -> tuple[Any, Any, Any]:
    conn = support.open_connection(url)
    desired = read_desired([paths], version=Version.parse(conn.version), env=ENV)
    planned = plan_against(conn, desired, options=PlanOptions(), state_index="osml-state")
    return conn, desired, planned


def test_a_plan_that_changed_under_the_lock_is_reviewed_then_applied(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", DOCS)
    conn, desired, planned = _made(str(sandbox.url), paths)
    # Someone creates the group by hand after the plan was shown: it is now adopted.
    OpenSearch(str(sandbox.url)).plugins.ml.register_model_group(body={"name": "team group"})
    reviewed: list[Plan] = []
    with conn:
        result = apply_current(
            conn, planned, desired, plan_options=PlanOptions(), review=reviewed.append,
            observer=support.Recorder(), options=ApplyOptions(settings=support.fast_settings()),
        )  # fmt: skip
    assert result.ok
    assert len(reviewed) == 1
    assert reviewed[0].counts()[Action.ADOPT] == 1
    assert _count(OpenSearch(str(sandbox.url))) == {"connector": 1, "group": 1, "model": 1}


def test_a_refused_review_applies_nothing(sandbox_factory: Any, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", DOCS)
    conn, desired, planned = _made(str(sandbox.url), paths)
    OpenSearch(str(sandbox.url)).plugins.ml.register_model_group(body={"name": "team group"})

    def refuse(plan: Plan) -> None:
        raise PlanError("not what was confirmed")

    with conn, pytest.raises(PlanError, match="not what was confirmed"):
        apply_current(
            conn, planned, desired, plan_options=PlanOptions(), review=refuse,
            observer=support.Recorder(), options=ApplyOptions(settings=support.fast_settings()),
        )  # fmt: skip
    client = OpenSearch(str(sandbox.url))
    assert _count(client) == {"connector": 0, "group": 1, "model": 0}
    records = client.search(index="osml-state", body={"query": {"term": {"doc_type": "record"}}})
    assert records["hits"]["hits"] == []
    assert (
        client.count(index="osml-state", body={"query": {"term": {"doc_type": "lock"}}})["count"]
        == 0
    )


def test_a_plan_made_again_under_the_lock_is_judged_by_the_policy(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    """The policy of `osml apply PATHS` judges the plan that runs, not only the one shown:
    a re-plan that gained an error finding is refused unless `--allow-policy` names it."""
    from reconciler.cli.apply import _policed
    from reconciler.cli.policy import policy_for
    from reconciler.policy import evaluate

    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", DOCS)
    (tmp_path / "osml.yaml").write_text(
        "policy:\n  rules:\n    - id: no-adoption\n      deny: change.action == 'adopt'\n"
        "      message: adopt nothing unreviewed\n      severity: error\n"
    )
    policy = policy_for([paths], tmp_path / "osml.yaml")
    conn, desired, planned = _made(str(sandbox.url), paths)
    assert not evaluate(policy, desired.manifests, plan=planned.plan)  # the plan shown is clean
    OpenSearch(str(sandbox.url)).plugins.ml.register_model_group(body={"name": "team group"})

    def judged(allowed: frozenset[str], seen: list[Plan]) -> Any:
        return _policed(
            seen.append, lambda plan: evaluate(policy, desired.manifests, plan=plan),
            allowed=allowed,
        )  # fmt: skip

    seen: list[Plan] = []
    with conn, pytest.raises(PlanError, match="no-adoption"):
        apply_current(
            conn, planned, desired, plan_options=PlanOptions(), review=judged(frozenset(), seen),
            observer=support.Recorder(), options=ApplyOptions(settings=support.fast_settings()),
        )  # fmt: skip
    assert seen == []
    assert _count(OpenSearch(str(sandbox.url))) == {"connector": 0, "group": 1, "model": 0}

    conn = support.open_connection(str(sandbox.url))
    with conn:  # the plan shown before the hand edit, applied again with the override
        result = apply_current(
            conn, planned, desired, plan_options=PlanOptions(),
            review=judged(frozenset({"no-adoption"}), seen),
            observer=support.Recorder(), options=ApplyOptions(settings=support.fast_settings()),
        )  # fmt: skip
    assert result.ok
    assert len(seen) == 1
    assert _count(OpenSearch(str(sandbox.url))) == {"connector": 1, "group": 1, "model": 1}
