"""Probe results are state: a failed or unfinished probe is recorded and planned again.

End to end with click's runner against a sandbox whose connector calls a loopback model
server: an apply whose probe fails exits 1 and records the failure; the next plan shows
a `probe` (not "No changes"), `state show` shows when and how the probe ended, the next
apply probes again, and `lifecycle.probe.redeploy_after` turns repeated failures into a
redeploy. The remote service's message, which quotes the key, never reaches the state.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from opensearchpy import OpenSearch

from reconciler.applying.executing import Settings
from reconciler.cli import main
from reconciler.cluster.connecting import ConnectionSettings, connect
from reconciler.resources import Kind, ResourceKey
from reconciler.watching import CycleSettings, Watcher, WatchOptions
from tests.integration import support
from tests.integration.support import ENV, SECRET, connector, group, loopback_access, model, write
from tests.support.model_server import ModelServer

MODEL = ResourceKey(Kind.MODEL, "probed")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=ENV, catch_exceptions=False)
    return result.exit_code, result.output


def probed_manifests(directory: Path, remote: str, **probe: Any) -> Path:
    """A connector to the loopback model server (allowed, trusted) and a probed model."""
    probed = model("probed", connector_name="remote", group_name="team")
    probed["lifecycle"]["probe"] = {"parameters": {"messages": []}, "timeout": 10, **probe}
    chat = connector("remote", url=f"{remote}/v1/chat/completions")
    return write(directory, [*loopback_access(), group("team"), chat, probed])


def _failing(remote: ModelServer) -> None:
    remote.behaviour.status = 401
    remote.behaviour.error_body = {"error": {"message": f"Incorrect API key provided: {SECRET}"}}


def test_a_failed_probe_is_recorded_planned_again_and_retried(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    with ModelServer() as remote:
        _failing(remote)
        paths = probed_manifests(tmp_path / "m", remote.url)
        code, out = _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 1 and "probe failed" in out

        record = support.state_record(sandbox.url, MODEL)
        assert record.probe is not None
        assert (record.probe.outcome, record.probe.failures) == ("failed", 1)
        assert "Incorrect API key provided" in record.probe.error
        assert SECRET not in support.stored_state_documents(sandbox.url)

        code, out = _run("plan", str(paths), "--detailed-exitcode", "--cluster", sandbox.url)
        assert code == 2, out
        assert "No changes" not in out
        assert "? Model/probed" in out and "its last probe failed (once, at " in out
        assert support.actions(support.plan(sandbox.url, paths)) == {"Model/probed": "probe"}

        code, out = _run("state", "show", "Model/probed", "--cluster", sandbox.url)
        shown = json.loads(out)["probe"]
        assert shown["outcome"] == "failed" and shown["failures"] == 1 and shown["at"]
        assert SECRET not in out and "messages" not in json.dumps(shown)

        # Still failing: the next apply probes again (and only probes), counting on.
        code, out = _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 1 and "Model/probed: probing" in out
        assert support.state_record(sandbox.url, MODEL).probe.failures == 2  # type: ignore[union-attr]

        remote.behaviour.status = 200
        code, out = _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 0, out
        assert "1 probed" in out
        probe = support.state_record(sandbox.url, MODEL).probe
        assert probe is not None and (probe.outcome, probe.failures, probe.error) == (
            "passed",
            0,
            "",
        )
        code, out = _run("plan", str(paths), "--detailed-exitcode", "--cluster", sandbox.url)
        assert code == 0 and "No changes" in out


def test_an_update_of_a_model_whose_probe_failed_probes_it_in_the_same_apply(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    with ModelServer() as remote:
        _failing(remote)
        paths = probed_manifests(tmp_path / "m", remote.url)
        code, _ = _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 1
        remote.behaviour.status = 200
        edited = paths / "all.yaml"
        edited.write_text(edited.read_text().replace("A test model", "An edited model"))

        planned = support.plan(sandbox.url, paths)
        assert support.actions(planned) == {"Model/probed": "update"}
        code, out = _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 0, out
        assert "1 updated" in out and "1 probed" in out
        assert support.state_record(sandbox.url, MODEL).probe.outcome == "passed"  # type: ignore[union-attr]
        code, out = _run("plan", str(paths), "--detailed-exitcode", "--cluster", sandbox.url)
        assert code == 0, out


def test_repeated_probe_failures_redeploy_after_the_configured_count(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    with ModelServer() as remote:
        _failing(remote)
        paths = probed_manifests(tmp_path / "m", remote.url, redeploy_after=2)
        assert _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)[0] == 1
        assert support.actions(support.plan(sandbox.url, paths)) == {"Model/probed": "probe"}
        assert _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)[0] == 1

        plan = support.plan(sandbox.url, paths)
        assert support.actions(plan) == {"Model/probed": "redeploy"}
        change = plan.get(MODEL)
        assert change is not None
        assert "probe failed 2 times in a row (lifecycle.probe.redeploy_after: 2): redeploy" in (
            change.reasons
        )
        remote.behaviour.status = 200
        code, out = _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 0 and "1 redeployed" in out, out
        assert not support.plan(sandbox.url, paths).has_changes


def test_a_probe_that_never_finished_is_planned_again(sandbox_factory, tmp_path: Path) -> None:
    """A deploy that outlives the apply leaves its probe pending, on create and on deploy."""
    sandbox = sandbox_factory("3.x", deploy_delay=2.0)
    client = OpenSearch(sandbox.url)
    with ModelServer() as remote:
        paths = probed_manifests(tmp_path / "m", remote.url)
        apply = ("apply", str(paths), "--auto-approve", "--timeout", "1", "--cluster", sandbox.url)
        code, out = _run(*apply)
        assert code == 1 and "deploy timed out" in out
        record = support.state_record(sandbox.url, MODEL)
        assert record.probe is not None and record.probe.outcome == "pending"
        assert record.id is not None
        support.wait_deployed(client, record.id)
        plan = support.plan(sandbox.url, paths)
        assert support.actions(plan) == {"Model/probed": "probe"}
        change = plan.get(MODEL)
        assert change is not None
        assert any(r.startswith("its last probe never finished (since ") for r in change.reasons)
        assert _run(*apply)[0] == 0
        assert support.state_record(sandbox.url, MODEL).probe.outcome == "passed"  # type: ignore[union-attr]

        client.plugins.ml.undeploy_model(model_id=record.id)
        assert support.actions(support.plan(sandbox.url, paths)) == {"Model/probed": "deploy"}
        code, out = _run(*apply)
        assert code == 1 and "deploy timed out" in out
        assert support.state_record(sandbox.url, MODEL).probe.outcome == "pending"  # type: ignore[union-attr]
        support.wait_deployed(client, record.id)
        assert support.actions(support.plan(sandbox.url, paths)) == {"Model/probed": "probe"}


def test_watch_retries_a_failed_probe_until_it_passes(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x", deploy_delay=0.02)
    lines: list[str] = []

    def events(action: str, outcome: str) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in list(lines)]
        return [
            e
            for e in parsed
            if e["event"] == "change_finished"
            and e.get("resource") == "Model/probed"
            and e.get("action") == action
            and e.get("outcome") == outcome
        ]

    with ModelServer() as remote:
        _failing(remote)
        paths = probed_manifests(tmp_path / "m", remote.url)
        assert _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)[0] == 1
        conn = connect(ConnectionSettings(url=sandbox.url, timeout=10))
        cycle = CycleSettings(paths=(paths,), env=ENV, apply=Settings(deploy_timeout=5.0))
        options = WatchOptions(
            cycle=cycle, interval=0.1, listen=None, watch_files=False, retry_backoff=0.1,
            max_backoff=0.2,
        )  # fmt: skip
        watcher = Watcher(conn, options, sink=lines.append, stop=threading.Event()).start()
        thread = threading.Thread(target=watcher.run, name="test-watch", daemon=True)
        thread.start()
        try:
            _wait(lambda: len(events("probe", "failed")) >= 2, what="two failed probes")
            remote.behaviour.status = 200
            _wait(lambda: bool(events("probe", "done")), what="a probe that passes")
        finally:
            watcher.request_stop()
            thread.join(timeout=15)
            watcher.close()
            conn.close()
    probe = support.state_record(sandbox.url, MODEL).probe
    assert probe is not None and probe.outcome == "passed"
    assert not support.plan(sandbox.url, paths).has_changes


def _wait(check: Callable[[], bool], *, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)
