"""`osml watch` as a process: JSON lines on stdout, the HTTP listener, a clean SIGTERM stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def read_event(
    process: subprocess.Popen[str], name: str, *, seen: list[str] | None = None
) -> dict[str, Any]:
    """Read stdout lines until the event `name`; every line must be a JSON object. The
    names of the events read go to `seen`."""
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line)
        if seen is not None:
            seen.append(event["event"])
        if event["event"] == name:
            return dict(event)
    pytest.fail(f"the process ended without a {name} event")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError:
        return 0, ""


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_watch_serves_health_and_stops_cleanly_on_a_signal(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    env = {**os.environ, "OPENAI_API_KEY": "sk-cli-test-key", "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "reconciler", "watch", str(ROOT / "examples" / "sandbox-demo"),
        "--sandbox", str(tmp_path / "sandbox.json"), "--interval", "200ms",
        "--listen", "127.0.0.1:0",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        seen: list[str] = []
        base = f"http://{read_event(process, 'watch_started', seen=seen)['listen']}"
        assert read_event(process, "cycle_finished", seen=seen)["status"] == "converged"
        deadline = time.monotonic() + 10
        while get(f"{base}/readyz")[0] != 200:
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.05)
        assert get(f"{base}/healthz") == (200, "ok\n")
        status, metrics = get(f"{base}/metrics")
        # Held for each cycle only: between cycles `osml apply` may take it.
        assert status == 200 and "\nosml_watch_lock_held " in metrics

        process.send_signal(stop_signal)
        rest, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    events = [*seen, *(json.loads(line)["event"] for line in rest.splitlines())]
    assert process.returncode == 0
    assert "stop_requested" in events
    assert events[-1] == "watch_stopped"
    # The lock is taken for each cycle and given back at its end, the last one too.
    locks = [e for e in events if e.startswith("lock_")]
    assert locks == ["lock_acquired", "lock_released"] * (len(locks) // 2) and locks
    assert "sk-cli-test-key" not in rest


def test_sigusr1_pauses_and_resumes_the_watcher(tmp_path: Path) -> None:
    env = {**os.environ, "OPENAI_API_KEY": "sk-cli-test-key", "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "reconciler", "watch", str(ROOT / "examples" / "sandbox-demo"),
        "--sandbox", str(tmp_path / "sandbox.json"), "--interval", "200ms", "--listen", "off",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert read_event(process, "cycle_finished")["status"] == "converged"
        process.send_signal(signal.SIGUSR1)
        assert read_event(process, "pause_requested")["paused"] is True
        assert read_event(process, "paused")["reason"] == "signal"
        seen: list[str] = []
        finished = read_event(process, "cycle_finished", seen=seen)
        assert "lock_acquired" not in seen and finished["status"] == "converged"
        process.send_signal(signal.SIGUSR1)
        assert read_event(process, "pause_requested")["paused"] is False
        assert read_event(process, "cycle_started")["trigger"] == "resume"
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0 and '"event": "watch_stopped"' in rest
