"""`osml apply` as a process on Ctrl-C (SIGINT) and during long waits, against the sandbox.

The sandbox runs in the test process; a call is made slow with its fault latency or its
deploy delay, the apply prints `still ...` lines meanwhile (at a short interval, set
through OSML_PROGRESS_INTERVAL), and the test sends SIGINT once or twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.cluster.locking import acquire_lock, lock_status
from reconciler.cluster.state import read_state
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from tests.integration import support
from tests.integration.support import ENV, SECRET, connector, group, model, write

Factory = Callable[..., Sandbox]


Start = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def start() -> Iterator[Start]:
    """Starts `osml apply --auto-approve` on a sandbox; every process is gone afterwards."""
    started: list[subprocess.Popen[str]] = []

    def run(sandbox: Sandbox, paths: Path, *extra: str) -> subprocess.Popen[str]:
        env = {**os.environ, **ENV, "PYTHONUNBUFFERED": "1", "OSML_PROGRESS_INTERVAL": "0.1"}
        command = [
            sys.executable, "-m", "reconciler", "apply", str(paths), "--auto-approve",
            "--cluster", sandbox.url, *extra,
        ]  # fmt: skip
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def _read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    pytest.fail(f"the apply ended without printing {marker!r}:\n" + "\n".join(lines))


def _finish(process: subprocess.Popen[str], *, timeout: float = 60) -> tuple[str, str]:
    return process.communicate(timeout=timeout)


def _manifests(tmp_path: Path) -> Path:
    docs = [group("g"), connector("c"), model("m", connector_name="c", group_name="g")]
    return write(tmp_path / "m", docs)


def test_ctrl_c_finishes_the_calls_in_flight_starts_nothing_new_and_says_so(
    sandbox_factory: Factory, tmp_path: Path, start: Start
) -> None:
    sandbox = sandbox_factory("3.x")
    # The connector's create is slow; the model, which needs it, waits for it.
    route = "POST /_plugins/_ml/connectors/_create"
    sandbox.faults.configure({"rules": [{"route": route, "latency": 2.0}]})
    paths = _manifests(tmp_path)
    process = start(sandbox, paths)
    before = _read_until(process, "Connector/c: still creating... [")
    process.send_signal(signal.SIGINT)
    out, err = _finish(process)
    said = "\n".join([*before, out, err])

    assert process.returncode == 130, said
    assert "Interrupt received" in err and "Traceback" not in err and "Aborted!" not in said
    assert "Connector/c: created (id " in out
    assert "Interrupted: 2 done, 1 not started." in out
    assert "  not started: Model/m" in out
    assert SECRET not in said
    with support.open_connection(sandbox.url) as conn:
        assert lock_status(conn) is None  # released
        records = read_state(conn).records
    # What was done is recorded; the model's intent was taken back: it never started.
    assert {str(k): r.status for k, r in records.items()} == {
        "ModelGroup/g": "managed",
        "Connector/c": "managed",
    }
    sandbox.faults.clear()
    assert support.actions(support.plan(sandbox.url, paths)) == {"Model/m": "create"}


def test_ctrl_c_during_a_slow_deploy_waits_for_it_and_records_it(
    sandbox_factory: Factory, tmp_path: Path, start: Start
) -> None:
    sandbox = sandbox_factory("3.x", deploy_delay=1.5)
    paths = _manifests(tmp_path)
    process = start(sandbox, paths)
    before = _read_until(process, "Model/m: still creating (waiting for DEPLOYED)... [")
    process.send_signal(signal.SIGINT)
    out, err = _finish(process)

    assert process.returncode == 130, "\n".join([*before, out, err])
    assert "Model/m: created (id " in out
    assert "Interrupted: 3 done, 0 not started." in out
    with support.open_connection(sandbox.url) as conn:
        assert lock_status(conn) is None
        [model_id] = [r.id for k, r in read_state(conn).records.items() if k.name == "m"]
    with client_for(sandbox) as client:
        answer = client.transport.perform_request("GET", f"/_plugins/_ml/models/{model_id}")
    assert answer["model_state"] == "DEPLOYED"
    assert not support.plan(sandbox.url, paths).has_changes


def test_a_second_ctrl_c_exits_at_once(
    sandbox_factory: Factory, tmp_path: Path, start: Start
) -> None:
    sandbox = sandbox_factory("3.x", deploy_delay=120.0)
    process = start(sandbox, _manifests(tmp_path))
    _read_until(process, "Model/m: still creating (waiting for DEPLOYED)... [")
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    assert "Interrupt received" in process.stderr.readline() + process.stderr.readline()
    process.send_signal(signal.SIGINT)
    _, err = _finish(process, timeout=20)  # long before the deploy could end
    assert process.returncode == 130
    assert "Two interrupts received: exiting at once" in err
    assert "Traceback" not in err


def test_ctrl_c_while_waiting_for_the_lock_changes_nothing(
    sandbox_factory: Factory, tmp_path: Path, start: Start
) -> None:
    sandbox = sandbox_factory("3.x")
    with support.open_connection(sandbox.url) as conn:
        lease = acquire_lock(conn, operation="watch", holder="watcher@pod-0:1")
    tries = sandbox.requests.count(path="/osml-state/_doc/lock", method="PUT")
    process = start(sandbox, _manifests(tmp_path), "--lock-timeout", "300")
    _read_until(process, "Plan: ")
    # Once it has tried to take the lock, the apply is waiting (and Ctrl-C is handled).
    deadline = time.monotonic() + 30
    while sandbox.requests.count(path="/osml-state/_doc/lock", method="PUT") == tries:
        assert time.monotonic() < deadline, "the apply never tried to take the lock"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = _finish(process, timeout=30)  # long before the lock timeout
    assert process.returncode == 130, out + err
    assert "Interrupted while waiting for the state lock: nothing was changed." in out
    assert "Traceback" not in err
    with support.open_connection(sandbox.url) as conn:
        assert lock_status(conn) == lease.info  # still the other holder's
        assert not read_state(conn).records
