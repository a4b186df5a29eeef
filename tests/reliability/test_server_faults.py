"""Server faults beyond transient errors: 500s that are ML validation errors (2.9-2.11 send
most refusals as 500), responses truncated mid-body, a cluster that turns read-only, and
a version upgrade between `osml plan --out` and `osml apply PLANFILE`.

Each ends the same way: osml says what happened (resource, action, status, the server's
reason), retries only what a retry can cure, and the next apply after the fault is gone
converges with every invariant holding.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.outcomes import Outcome
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from tests.reliability.crashing import is_mutating
from tests.reliability.driving import Driver
from tests.reliability.invariants import assert_converged
from tests.reliability.truncating import TruncatingProxy
from tests.reliability.worlds import Group, World, fleet

WORLD = fleet(connectors=2, models=3)
CREATE_CONNECTOR = "/_plugins/_ml/connectors/_create"


@pytest.mark.parametrize("profile", ["2.9", "2.11", "3.x"])
def test_a_500_is_not_retried_fails_its_change_and_the_next_apply_converges(
    profile: str, tmp_path: Path
) -> None:
    with Sandbox(profile) as sandbox:
        paths = WORLD.write(tmp_path)
        rule = {"route": f"POST {CREATE_CONNECTOR}", "refuse_next": 1, "status": 500}
        sandbox.faults.configure({"rules": [rule]})
        driver = Driver(sandbox.url)
        result = driver.apply(paths, env=WORLD.env())
        failed = [r for r in result.results if r.outcome is Outcome.FAILED]
        assert len(failed) == 1
        assert "create failed (500)" in (failed[0].error or "")
        skipped = {str(r.key) for r in result.results if r.outcome is Outcome.SKIPPED}
        assert skipped, "the models of the failed connector are skipped"
        # A permanent failure is sent once, not retried.
        assert sandbox.requests.count(method="POST", path=CREATE_CONNECTOR) == len(WORLD.connectors)
        assert driver.converge(paths, env=WORLD.env()) == 1
        with client_for(sandbox) as client:
            assert_converged(client, WORLD, outputs=driver.outputs, secrets={WORLD.secret})


@pytest.mark.parametrize("profile", ["2.9", "2.11"])
def test_a_group_delete_refused_with_500_fails_cleanly_until_the_blocker_goes(
    profile: str, tmp_path: Path
) -> None:
    """2.9-2.18 refuse a group delete with a 500 ML validation error while a model is in
    it (§5.7): osml retries it a bounded number of times (it may be a lagging view) and
    then fails that change with the server's words."""
    with Sandbox(profile) as sandbox:
        driver = Driver(sandbox.url)
        driver.converge(WORLD.write(tmp_path), env=WORLD.env())
        with client_for(sandbox) as client:
            group_id = _group_id(client, "g0 group")
            connector_id = client.plugins.ml.search_connectors(
                body={"query": {"match_all": {}}, "size": 1}
            )["hits"]["hits"][0]["_id"]
            body = {"name": "by hand", "function_name": "remote", "connector_id": connector_id}
            foreign = client.plugins.ml.register_model(body={**body, "model_group_id": group_id})
        moved = World((Group("g1"),), WORLD.connectors, (), secret=WORLD.secret)
        paths = moved.write(tmp_path)
        result = driver.apply(paths, env=moved.env())
        (failed,) = [r for r in result.results if r.outcome is Outcome.FAILED]
        assert str(failed.key) == "ModelGroup/g0"
        assert "(500)" in (failed.error or "")
        assert "associated model versions" in (failed.error or "")
        with client_for(sandbox) as client:
            client.plugins.ml.delete_model(model_id=_model_id(client, foreign))
        driver.converge(paths, env=moved.env())
        with client_for(sandbox) as client:
            assert_converged(client, moved, outputs=driver.outputs, secrets={WORLD.secret})


def _model_id(client: object, answer: dict[str, str]) -> str:
    """The ID of a model just registered (2.9-2.10 answer with a task to read first)."""
    if answer.get("model_id"):
        return answer["model_id"]
    task = client.plugins.ml.get_task(task_id=answer["task_id"])  # type: ignore[attr-defined]
    return str(task["model_id"])


def _group_id(client: object, name: str) -> str:
    search = client.plugins.ml.search_model_group  # type: ignore[attr-defined]
    hits = search(body={"query": {"match_all": {}}, "size": 100})["hits"]["hits"]
    return next(h["_id"] for h in hits if h["_source"]["name"] == name)


@pytest.mark.parametrize("seed", [1, 2])
def test_responses_truncated_mid_body_are_survived(seed: int, tmp_path: Path) -> None:
    with (
        Sandbox("3.x", deploy_delay=0.01) as sandbox,
        TruncatingProxy(sandbox.url, rate=0.1, seed=seed) as proxy,
    ):
        paths = WORLD.write(tmp_path)
        through = Driver(proxy.url)
        for _ in range(2):
            try:
                through.apply(paths, env=WORLD.env())
            except Exception as exc:  # a truncated answer must surface as osml's error
                assert type(exc).__module__.startswith("reconciler."), repr(exc)
        assert proxy.truncated > 0
        direct = Driver(sandbox.url)
        direct.converge(paths, env=WORLD.env())
        with client_for(sandbox) as client:
            outputs = through.outputs + direct.outputs
            assert_converged(client, WORLD, outputs=outputs, secrets={WORLD.secret})


@pytest.mark.parametrize("status", [429, 503])
def test_a_read_only_cluster_refuses_cleanly_and_the_apply_after_it_converges(
    status: int, tmp_path: Path
) -> None:
    with Sandbox("3.x") as sandbox:
        paths = WORLD.write(tmp_path)
        blocked = [
            {"route": f"{method} *", "error_rate": 1.0, "status": status}
            for method in ("POST", "PUT", "DELETE")
        ]
        # Searches stay allowed: a read-only cluster still answers reads.
        reads = {"route": "POST */_search", "error_rate": 0.0}
        sandbox.faults.configure({"rules": [reads, *blocked]})
        runner = CliRunner()
        args = ["apply", str(paths), "--auto-approve", "--cluster", sandbox.url]
        result = runner.invoke(main, args, env=WORLD.env())
        assert result.exit_code == 1
        assert "Error:" in result.output or "failed" in result.output
        assert f"({status})" in result.output
        assert "Traceback" not in result.output
        sandbox.faults.clear()
        driver = Driver(sandbox.url)
        driver.converge(paths, env=WORLD.env())
        with client_for(sandbox) as client:
            outputs = [result.output, *driver.outputs]
            assert_converged(client, WORLD, outputs=outputs, secrets={WORLD.secret})


def test_a_version_upgrade_between_plan_and_apply_makes_the_saved_plan_stale(
    tmp_path: Path,
) -> None:
    data, plan_file = tmp_path / "cluster.json", tmp_path / "plan.json"
    paths = WORLD.write(tmp_path / "manifests")
    runner = CliRunner()
    env = WORLD.env()
    with Sandbox("2.13", data=data) as before:
        port = before.port
        args = ["plan", str(paths), "--out", str(plan_file), "--cluster", before.url]
        assert runner.invoke(main, args, env=env).exit_code == 0
    with Sandbox("2.19", data=data, port=port) as after:
        args = ["apply", str(plan_file), "--manifests", str(paths), "--auto-approve"]
        result = runner.invoke(main, [*args, "--cluster", after.url], env=env)
        assert result.exit_code == 1, result.output
        assert "stale" in result.output
        assert "cluster version changed: 2.13" in result.output
        ml_writes = [
            e for e in after.requests.entries()
            if is_mutating(e.method, e.path) and e.path.startswith("/_plugins/_ml")
        ]  # fmt: skip
        assert ml_writes == []
        driver = Driver(after.url)
        driver.converge(paths, env=env)
        with client_for(after) as client:
            outputs = [result.output, *driver.outputs]
            assert_converged(client, WORLD, outputs=outputs, secrets={WORLD.secret})
