"""`osml watch` against the sandbox over HTTP: healing, reporting, backoff and replicas.

Each test starts a sandbox and one or two watchers on threads with short intervals, acts
on the cluster through opensearch-py like a person would, and waits (with a deadline)
for the watcher to react. The watchers log into lists, so tests read their JSON events.
"""

from __future__ import annotations

import datetime
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from reconciler.applying.executing import Settings
from reconciler.cluster.connecting import Connection, ConnectionSettings, connect
from reconciler.reconciling import ApplyOptions, wait_for_lock
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from reconciler.watching import CycleSettings, Mode, Watcher, WatchOptions
from tests.integration import support

ENV = {"OPENAI_API_KEY": "sk-watch-test-key"}

CONNECTOR = """\
apiVersion: osml/v1
kind: Connector
metadata:
  name: {name}
spec:
  name: {title}
  description: {description}
  version: 1
  protocol: http
  parameters:
    endpoint: api.openai.com
    model: gpt-4o-mini
  credential:
    openAI_key: {{fromEnv: OPENAI_API_KEY}}
  actions:
    - action_type: predict
      method: POST
      url: https://${{parameters.endpoint}}/v1/chat/completions
      headers:
        Authorization: Bearer ${{credential.openAI_key}}
      request_body: '{{ "model": "${{parameters.model}}", "messages": ${{parameters.messages}} }}'
"""

REST = """\
---
apiVersion: osml/v1
kind: ModelGroup
metadata:
  name: team
spec:
  name: watch team
---
apiVersion: osml/v1
kind: Model
metadata:
  name: chat
spec:
  name: Chat model
  connector: chat
  model_group: team
lifecycle:
  deployed: true
"""


def manifests(spare_description: str = "Spare connector") -> str:
    chat = CONNECTOR.format(name="chat", title="Chat", description="Chat connector")
    spare = CONNECTOR.format(name="spare", title="Spare", description=spare_description)
    return f"{chat}---\n{spare}{REST}"


class Running:
    """A watcher on its own thread, and what it logged."""

    def __init__(self, watcher: Watcher, conn: Connection, lines: list[str]) -> None:
        self.watcher, self.conn, self.lines = watcher, conn, lines
        self.thread = threading.Thread(target=watcher.run, name="test-watch", daemon=True)

    def events(self, event: str | None = None, **match: Any) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in list(self.lines)]
        return [
            e
            for e in parsed
            if (event is None or e["event"] == event)
            and all(e.get(k) == v for k, v in match.items())
        ]

    def cycles(self, **match: Any) -> int:
        return len(self.events("cycle_finished", **match))

    def live_id(self, resource: str) -> str:
        done = self.events("change_finished", resource=resource, outcome="done")
        return str(done[-1]["live_id"])

    def metrics(self) -> str:
        return self.get("/metrics")[1]

    def get(self, path: str) -> tuple[int, str]:
        assert self.watcher.server is not None
        host, port = self.watcher.server.address
        try:
            with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as answer:
                return answer.status, str(answer.read().decode())
        except urllib.error.HTTPError as exc:
            return exc.code, str(exc.read().decode())

    def stop(self) -> None:
        self.watcher.request_stop()
        self.thread.join(timeout=15)
        self.watcher.close()
        self.conn.close()


StartWatcher = Callable[..., Running]


@pytest.fixture
def start_watcher() -> Iterator[StartWatcher]:
    running: list[Running] = []

    def start(
        sandbox: Sandbox,
        path: Path,
        *,
        mode: Mode = Mode.HEAL,
        interval: float = 0.2,
        cycle_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> Running:
        conn = connect(ConnectionSettings(url=sandbox.url, timeout=10))
        cycle = CycleSettings(
            paths=(path,), mode=mode, env=ENV, apply=Settings(deploy_timeout=5.0),
            **(cycle_options or {}),
        )  # fmt: skip
        defaults: dict[str, Any] = {
            "listen": ("127.0.0.1", 0),
            "watch_files": False,
            "debounce": 0.1,
            "error_backoff": 0.1,
        }
        settings = WatchOptions(cycle=cycle, interval=interval, **{**defaults, **options})
        lines: list[str] = []
        watcher = Watcher(conn, settings, sink=lines.append, stop=threading.Event()).start()
        result = Running(watcher, conn, lines)
        result.thread.start()
        running.append(result)
        return result

    yield start
    for each in reversed(running):
        each.stop()


def wait_until(check: Callable[[], bool], *, timeout: float = 5.0, what: str = "") -> float:
    """Poll `check` until true; the seconds it took. Fails the test at the deadline."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what or check}")
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory("3.x", deploy_delay=0.02)


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[OpenSearch]:
    opensearch = client_for(sandbox)
    yield opensearch
    opensearch.close()


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    path = tmp_path / "manifests" / "watch.yaml"
    path.parent.mkdir()
    path.write_text(manifests(), "utf-8")
    return path


def model_state(client: OpenSearch, model_id: str) -> str:
    answer = client.transport.perform_request("GET", f"/_plugins/_ml/models/{model_id}")
    return str(answer.get("model_state"))


def connector_description(client: OpenSearch, connector_id: str) -> str:
    answer = client.transport.perform_request("GET", f"/_plugins/_ml/connectors/{connector_id}")
    return str(answer.get("description"))


def converged(running: Running) -> Callable[[], bool]:
    return lambda: running.cycles(status="converged") >= 1


# --- heal -----------------------------------------------------------------------------


def test_an_undeployed_model_is_redeployed_within_one_interval(
    sandbox: Sandbox, client: OpenSearch, manifest_file: Path, start_watcher: StartWatcher
) -> None:
    interval = 0.5
    running = start_watcher(sandbox, manifest_file.parent, interval=interval)
    wait_until(converged(running), what="the first apply")
    model_id = running.live_id("Model/chat")
    assert model_state(client, model_id) == "DEPLOYED"

    client.transport.perform_request("POST", f"/_plugins/_ml/models/{model_id}/_undeploy")
    assert model_state(client, model_id) == "UNDEPLOYED"
    took = wait_until(
        lambda: bool(running.events("change_finished", resource="Model/chat", action="deploy")),
        what="the redeploy",
    )
    assert took < interval + 1.0
    assert model_state(client, model_id) == "DEPLOYED"
    [drift] = running.events("drift", resource="Model/chat", action="deploy")
    assert drift["reasons"] == ["model is UNDEPLOYED but deployed: true"]
    assert 'osml_watch_changes_applied_total{action="deploy",kind="Model"} 1' in running.metrics()


def test_a_connector_edited_by_hand_is_restored(
    sandbox: Sandbox, client: OpenSearch, manifest_file: Path, start_watcher: StartWatcher
) -> None:
    running = start_watcher(sandbox, manifest_file)
    wait_until(converged(running), what="the first apply")
    spare_id = running.live_id("Connector/spare")

    client.transport.perform_request(
        "PUT", f"/_plugins/_ml/connectors/{spare_id}", body={"description": "edited by hand"}
    )
    wait_until(
        lambda: connector_description(client, spare_id) == "Spare connector",
        what="the connector to be restored",
    )
    [drift] = running.events("drift", resource="Connector/spare", action="update")
    assert drift["fields"] == ["description"]
    assert ENV["OPENAI_API_KEY"] not in "".join(running.lines)


def test_a_manifest_edit_is_applied_once_after_the_debounce(
    sandbox: Sandbox, client: OpenSearch, manifest_file: Path, start_watcher: StartWatcher
) -> None:
    running = start_watcher(
        sandbox, manifest_file.parent, interval=60.0, watch_files=True, debounce=0.2
    )
    wait_until(converged(running), what="the first apply")
    files = running.watcher.files
    assert files is not None
    wait_until(files.ready.is_set, what="the file watch")
    spare_id = running.live_id("Connector/spare")

    for description in ("first save", "second save", "Edited in Git"):  # a burst of saves
        manifest_file.write_text(manifests(description), "utf-8")
    wait_until(
        lambda: connector_description(client, spare_id) == "Edited in Git",
        what="the edit to be applied",
    )
    time.sleep(0.5)  # longer than the debounce: a second batch would have arrived by now
    assert [e["trigger"] for e in running.events("cycle_started")] == ["start", "files"]
    updates = running.events("change_finished", resource="Connector/spare", action="update")
    assert [u["outcome"] for u in updates] == ["done"]


# --- report ---------------------------------------------------------------------------


def test_report_mode_logs_the_drift_and_changes_nothing(
    sandbox: Sandbox, manifest_file: Path, start_watcher: StartWatcher
) -> None:
    running = start_watcher(sandbox, manifest_file, mode=Mode.REPORT)
    wait_until(lambda: running.cycles(status="drift") >= 2, what="two report cycles")
    drift = running.events("drift")
    assert {(e["resource"], e["action"]) for e in drift} == {
        ("Connector/chat", "create"),
        ("Connector/spare", "create"),
        ("ModelGroup/team", "create"),
        ("Model/chat", "create"),
    }
    assert running.events("change_started") == []
    assert running.events("lock_acquired") == []  # report mode never blocks `osml apply`
    writes = [
        e
        for e in sandbox.requests.entries()
        if e.method in ("PUT", "DELETE") or (e.method == "POST" and "_search" not in e.path)
    ]
    assert writes == []
    assert 'osml_watch_drift_total{action="create",kind="Model"}' in running.metrics()


# --- backoff --------------------------------------------------------------------------


def test_a_deploy_that_keeps_failing_is_retried_with_growing_delays(
    sandbox: Sandbox, manifest_file: Path, start_watcher: StartWatcher
) -> None:
    sandbox.faults.configure({"deploy": [{"model": "Chat model", "outcome": "failed"}]})
    running = start_watcher(
        sandbox, manifest_file, interval=0.05, retry_backoff=0.2, max_backoff=10.0
    )

    def attempts() -> list[dict[str, Any]]:
        return running.events("change_started", resource="Model/chat")

    wait_until(lambda: len(attempts()) >= 4, timeout=10, what="four deploy attempts")
    times = [_seconds(e["ts"]) for e in attempts()[:4]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8, gaps
    assert gaps[0] < gaps[1] < gaps[2]
    assert running.events("held_back", resource="Model/chat")
    metrics = running.metrics()
    assert 'osml_watch_changes_failed_total{action="redeploy",kind="Model"}' in metrics
    assert 'osml_watch_resource_failures{resource="Model/chat"} ' in metrics

    sandbox.faults.clear()  # the cause is fixed: the next attempt deploys, backoff is forgotten
    wait_until(
        lambda: running.cycles(status="converged") >= 1, timeout=10, what="a converged cycle"
    )
    assert 'resource="Model/chat"' not in running.metrics()


# --- replicas -------------------------------------------------------------------------


def test_two_watchers_never_both_act(
    sandbox: Sandbox, client: OpenSearch, manifest_file: Path, start_watcher: StartWatcher
) -> None:
    first = start_watcher(sandbox, manifest_file, lease_seconds=2.0)
    wait_until(converged(first), what="the first watcher's apply")
    second = start_watcher(sandbox, manifest_file, lease_seconds=2.0)
    model_id = first.live_id("Model/chat")

    def heals() -> int:
        return sum(
            len(r.events("change_finished", resource="Model/chat", outcome="done"))
            for r in (first, second)
        )

    for _ in range(3):
        done = heals()
        client.transport.perform_request("POST", f"/_plugins/_ml/models/{model_id}/_undeploy")
        wait_until(lambda: heals() > done, what="a heal")  # noqa: B023
    wait_until(lambda: second.cycles() >= 3 and first.cycles() >= 3, what="cycles of both")
    first.stop()
    second.stop()
    # Each holds the lock for a cycle at a time and acts only while it holds it; the
    # times of the two never overlap.
    spans = {name: _held(running) for name, running in (("first", first), ("second", second))}
    for name, running in (("first", first), ("second", second)):
        for event in running.events("change_started"):
            at = _seconds(event["ts"])
            assert any(start <= at <= end for start, end in spans[name]), (name, event)
    every = sorted((*spans["first"], *spans["second"]))
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(every))


def _held(running: Running) -> list[tuple[float, float]]:
    """When the watcher held the lock: (acquired, released) per cycle."""
    times = [e for e in running.events() if e["event"] in ("lock_acquired", "lock_released")]
    assert [e["event"] for e in times] == ["lock_acquired", "lock_released"] * (len(times) // 2)
    stamps = [_seconds(e["ts"]) for e in times]
    return list(zip(stamps[::2], stamps[1::2], strict=True))


def test_an_apply_by_hand_gets_the_lock_between_cycles(
    sandbox: Sandbox, client: OpenSearch, manifest_file: Path, start_watcher: StartWatcher
) -> None:
    running = start_watcher(sandbox, manifest_file)
    wait_until(converged(running), what="the first apply")
    model_id = running.live_id("Model/chat")
    with support.open_connection(sandbox.url) as conn:
        lease = wait_for_lock(conn, options=ApplyOptions(lock_timeout=10.0))
        try:
            client.transport.perform_request("POST", f"/_plugins/_ml/models/{model_id}/_undeploy")
            standby = running.cycles(status="standby")
            wait_until(lambda: running.cycles(status="standby") >= standby + 2, what="standby")
            assert model_state(client, model_id) == "UNDEPLOYED"  # the lock is ours alone
        finally:
            lease.release()
    wait_until(lambda: model_state(client, model_id) == "DEPLOYED", what="the watcher to heal")


def test_a_paused_watcher_reports_drift_and_changes_nothing(
    sandbox: Sandbox, client: OpenSearch, manifest_file: Path, start_watcher: StartWatcher,
    tmp_path: Path,
) -> None:  # fmt: skip
    pause = tmp_path / "pause"
    running = start_watcher(sandbox, manifest_file, pause_file=pause)
    wait_until(converged(running), what="the first apply")
    model_id = running.live_id("Model/chat")
    pause.touch()
    wait_until(lambda: bool(running.events("paused")), what="the pause")
    client.transport.perform_request("POST", f"/_plugins/_ml/models/{model_id}/_undeploy")
    wait_until(lambda: running.cycles(status="drift") >= 2, what="drift reported while paused")
    assert model_state(client, model_id) == "UNDEPLOYED"
    samples = running.metrics().splitlines()
    assert "osml_watch_paused 1" in samples and "osml_watch_lock_held 0" in samples

    pause.unlink()
    wait_until(lambda: model_state(client, model_id) == "DEPLOYED", what="the heal after resume")
    assert running.events("resumed")

    running.watcher.toggle_pause()  # what SIGUSR1 does
    wait_until(lambda: bool(running.events("paused", reason="signal")), what="signal pause")
    client.transport.perform_request("POST", f"/_plugins/_ml/models/{model_id}/_undeploy")
    drift = running.cycles(status="drift")
    wait_until(lambda: running.cycles(status="drift") >= drift + 2, what="drift while paused")
    assert model_state(client, model_id) == "UNDEPLOYED"
    running.watcher.toggle_pause()  # the next cycle runs at once, not after the interval
    wait_until(lambda: running.cycles(trigger="resume") >= 1, what="the cycle on resume")
    wait_until(lambda: model_state(client, model_id) == "DEPLOYED", what="the heal after resume")


def _seconds(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# --- errors ---------------------------------------------------------------------------


def test_a_broken_manifest_is_reported_and_nothing_applied_until_fixed(
    sandbox: Sandbox, manifest_file: Path, start_watcher: StartWatcher
) -> None:
    good = manifest_file.read_text("utf-8")
    manifest_file.write_text(good.replace("model_group: team", "model_group: nowhere"), "utf-8")
    running = start_watcher(sandbox, manifest_file, interval=0.1)
    wait_until(lambda: running.cycles(status="invalid") >= 2, what="two refused cycles")
    assert running.events("change_started") == []
    [problem] = running.events("manifest_problem", level="error")[:1]
    assert problem["file"].endswith("watch.yaml") and problem["line"] > 1
    assert problem["resource"] == "Model/chat"
    # The listener may face every interface: a status and a count, no paths or YAML.
    assert running.get("/readyz") == (503, "last cycle: invalid (1 problem, see the log)\n")

    manifest_file.write_text(good, "utf-8")
    wait_until(converged(running), what="the apply after the fix")
    assert running.watcher.loop.health.ready() == (True, "last cycle: converged")


def test_cluster_errors_back_off_and_recover(
    sandbox: Sandbox, manifest_file: Path, start_watcher: StartWatcher
) -> None:
    running = start_watcher(sandbox, manifest_file, interval=0.05, error_backoff=0.1)
    wait_until(converged(running), what="the first apply")
    # Every API call fails from now on (the connection read `GET /` once, at the start).
    sandbox.faults.configure({"rules": [{"route": "/_*", "error_rate": 1.0, "status": 500}]})
    wait_until(lambda: running.cycles(status="error") >= 3, timeout=10, what="three failed cycles")
    delays = [e["retry_in"] for e in running.events("retry_scheduled")][:3]
    assert delays == [0.1, 0.2, 0.4]
    sandbox.faults.clear()
    wait_until(lambda: running.cycles(status="converged") >= 2, timeout=10, what="recovery")
    assert running.watcher.loop.health.ready() == (True, "last cycle: converged")


def test_a_resource_that_left_the_manifests_is_reported_once_and_kept(
    sandbox: Sandbox, client: OpenSearch, manifest_file: Path, start_watcher: StartWatcher
) -> None:
    running = start_watcher(sandbox, manifest_file, interval=0.1)
    wait_until(converged(running), what="the first apply")
    spare_id = running.live_id("Connector/spare")
    chat = CONNECTOR.format(name="chat", title="Chat", description="Chat connector")
    manifest_file.write_text(chat + REST, "utf-8")  # the spare connector left the manifests

    wait_until(lambda: bool(running.events("plan_orphan")), what="the prune candidate")
    wait_until(lambda: running.cycles(status="converged") >= 4, what="more cycles")
    [orphan] = running.events("plan_orphan")
    assert orphan["message"].startswith("Connector/spare")
    assert connector_description(client, spare_id) == "Spare connector"  # not pruned


# --- policy ---------------------------------------------------------------------------

SPARE_DENIED = """\
policy:
  rules:
    - id: no-spare
      deny: resource.kind == "Connector" && resource.spec.name == "Spare"
      message: the spare connector needs a review first
      severity: {severity}
"""


def test_the_policy_holds_back_a_change_with_an_error_finding(
    sandbox: Sandbox, client: OpenSearch, manifest_file: Path, start_watcher: StartWatcher,
    tmp_path: Path,
) -> None:  # fmt: skip
    project = tmp_path / "osml.yaml"
    project.write_text(SPARE_DENIED.format(severity="error"), "utf-8")
    running = start_watcher(sandbox, manifest_file.parent, cycle_options={"policy_file": project})
    wait_until(lambda: running.cycles(status="partial") >= 2, what="two held cycles")

    created = {e["resource"] for e in running.events("change_finished", outcome="done")}
    assert created == {"Connector/chat", "ModelGroup/team", "Model/chat"}
    held = running.events("policy_held", resource="Connector/spare")
    assert held and all(e["rule"] == "no-spare" for e in held)
    [finding] = running.events("policy_finding")  # logged once, not every cycle
    assert finding["rule"] == "no-spare" and finding["resource"] == "Connector/spare"
    assert finding["line"] is not None

    project.write_text(SPARE_DENIED.format(severity="warning"), "utf-8")  # read again
    wait_until(
        lambda: bool(running.events("change_finished", resource="Connector/spare", outcome="done")),
        what="the spare connector once the rule is a warning",
    )
    wait_until(converged(running), what="a converged cycle")


def test_allow_policy_lets_the_watcher_apply_the_change(
    sandbox: Sandbox, manifest_file: Path, start_watcher: StartWatcher, tmp_path: Path
) -> None:
    project = tmp_path / "osml.yaml"
    project.write_text(SPARE_DENIED.format(severity="error"), "utf-8")
    running = start_watcher(
        sandbox, manifest_file.parent,
        cycle_options={"policy_file": project, "allow_policy": frozenset({"no-spare"})},
    )  # fmt: skip
    wait_until(converged(running), what="a converged cycle")
    assert running.events("policy_held") == []
    assert running.events("change_finished", resource="Connector/spare", outcome="done")


def test_a_pipeline_edited_by_hand_is_put_back_with_the_live_model_id(
    sandbox: Sandbox, client: OpenSearch, manifest_file: Path, start_watcher: StartWatcher
) -> None:
    pipeline = (
        "---\napiVersion: osml/v1\nkind: IngestPipeline\nmetadata: {name: embed}\nspec:\n"
        "  processors:\n    - text_embedding:\n        model_id: {ref: Model/chat}\n"
        "        field_map: {text: vector}\n"
    )
    manifest_file.write_text(manifests() + pipeline, "utf-8")
    running = start_watcher(sandbox, manifest_file)
    wait_until(converged(running), what="the first apply")
    model_id = running.live_id("Model/chat")
    stored = client.ingest.get_pipeline(id="embed")["embed"]
    assert stored["processors"][0]["text_embedding"]["model_id"] == model_id

    client.ingest.put_pipeline(id="embed", body={"processors": []})
    wait_until(
        lambda: bool(client.ingest.get_pipeline(id="embed")["embed"]["processors"]),
        what="the pipeline to be restored",
    )
    assert client.ingest.get_pipeline(id="embed")["embed"] == stored
    assert running.events("drift", resource="IngestPipeline/embed", action="update")
