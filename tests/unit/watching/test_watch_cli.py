"""`osml watch` maps its options to one WatchOptions (the watcher itself is faked here)."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.cli import watch as watch_cli
from reconciler.watching import Mode, WatchOptions


class FakeConnection:
    warnings = ("TLS verification is off",)


class FakeWatcher:
    """Records its options and logs like the real one; runs no cycle."""

    made: list[FakeWatcher] = []

    def __init__(self, conn: Any, options: WatchOptions, *, sink: Any, stop: threading.Event):
        self.options = options
        self.log = watch_cli.EventLog(sink)
        self.calls: list[str] = []
        FakeWatcher.made.append(self)

    def start(self) -> None:
        self.calls.append("start")

    def run(self) -> None:
        self.calls.append("run")
        logging.getLogger("reconciler.cluster.locking").warning("renewal failed: %s", "timeout")
        logging.getLogger("opensearch").info("not shown: below warning")

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def faked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeWatcher]]:
    @contextlib.contextmanager
    def fake_open(options: Any) -> Iterator[FakeConnection]:
        yield FakeConnection()

    FakeWatcher.made = []
    monkeypatch.setattr(watch_cli, "open_cluster", fake_open)
    monkeypatch.setattr(watch_cli, "Watcher", FakeWatcher)
    yield FakeWatcher.made


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, ["watch", *args], env=env, catch_exceptions=False)


def test_defaults(faked: list[FakeWatcher]) -> None:
    result = invoke([])
    assert result.exit_code == 0, result.output
    [watcher] = faked
    options = watcher.options
    assert options.cycle.paths == (Path("manifests"),)
    assert options.cycle.mode is Mode.HEAL
    assert (options.interval, options.debounce, options.lease_seconds) == (60.0, 1.0, 60.0)
    assert options.listen == ("127.0.0.1", 9464)
    assert options.max_backoff == 900.0
    assert options.cycle.apply.deploy_timeout == 300.0
    assert options.cycle.apply.state_index == "osml-state"
    assert options.pause_file is None
    assert watcher.calls == ["start", "run", "close"]
    events = [json.loads(line) for line in result.output.splitlines()]
    assert [e["event"] for e in events] == ["connection_warning", "log"]
    assert events[1]["message"] == "renewal failed: timeout"
    assert events[1]["logger"] == "reconciler.cluster.locking"
    assert logging.getLogger("reconciler").propagate  # restored afterwards


def test_options_arrive_as_arguments(faked: list[FakeWatcher], tmp_path: Path) -> None:
    result = invoke(
        [str(tmp_path), "--interval", "500ms", "--mode", "report", "--listen", "off",
         "--debounce", "0.2", "--lease", "2m", "--max-backoff", "1h", "--prune",
         "--parallelism", "3", "--deploy-timeout", "90s", "--no-watch-files",
         "--watch-dir", str(tmp_path), "--state-index", "other-state",
         "--pause-file", str(tmp_path / "pause")]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    options = faked[0].options
    assert options.cycle.paths == (tmp_path,)
    assert options.cycle.mode is Mode.REPORT
    assert (options.interval, options.debounce, options.lease_seconds) == (0.5, 0.2, 120.0)
    assert options.listen is None
    assert options.max_backoff == 3600.0
    assert options.cycle.prune and options.cycle.parallelism == 3
    assert options.cycle.apply.deploy_timeout == 90.0
    assert options.cycle.apply.state_index == "other-state"
    assert not options.watch_files and options.watch_dirs == (tmp_path,)
    assert options.pause_file == tmp_path / "pause"


def test_environment_variables_set_options(faked: list[FakeWatcher]) -> None:
    result = invoke([], env={"OSML_WATCH_INTERVAL": "5m", "OSML_WATCH_MODE": "report"})
    assert result.exit_code == 0, result.output
    assert faked[0].options.interval == 300.0
    assert faked[0].options.cycle.mode is Mode.REPORT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interval", "soon"], "is not a duration"),
        (["--interval", "0s"], "more than zero"),
        (["--listen", "9464"], "is not HOST:PORT"),
        (["--mode", "fix"], "'fix' is not one of"),
    ],
)
def test_bad_options_are_refused(faked: list[FakeWatcher], args: list[str], message: str) -> None:
    result = invoke(args)
    assert result.exit_code == 2
    assert message in result.output
    assert faked == []
