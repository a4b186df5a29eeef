"""The watch loop on a fake clock: triggers, timer, error backoff, crashes, health, stop."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable

import pytest

from reconciler.watching.backoffs import CycleBackoff, Delays
from reconciler.watching.cycle import CycleReport, Status
from reconciler.watching.logs import EventLog
from reconciler.watching.loop import Loop, Timing
from reconciler.watching.metrics import WatchMetrics


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Script:
    """A waiter that moves the fake clock instead of sleeping: file changes come at the
    given times, and the stop event is set when the clock would pass `end`."""

    def __init__(
        self, clock: FakeClock, stop: threading.Event, *, end: float, files: Iterable[float] = ()
    ) -> None:
        self.clock, self.stop, self.end = clock, stop, end
        self.files = sorted(files)

    def wait(self, timeout: float) -> str | None:
        target = self.clock.now + timeout
        if self.files and self.files[0] <= min(target, self.end):
            self.clock.now = max(self.clock.now, self.files.pop(0))
            return "files"
        if target >= self.end:
            self.clock.now = self.end
            self.stop.set()
            return None
        self.clock.now = target
        return None


class Cycles:
    """A fake cycle: records when it ran, returns scripted statuses, may take time."""

    def __init__(
        self, clock: FakeClock, statuses: Iterable[Status | Exception] = (), *, takes: float = 0
    ) -> None:
        self.clock, self.takes = clock, takes
        self.statuses = list(statuses)
        self.times: list[float] = []

    def __call__(self) -> CycleReport:
        self.times.append(self.clock.now)
        self.clock.now += self.takes
        outcome = self.statuses.pop(0) if self.statuses else Status.CONVERGED
        if isinstance(outcome, Exception):
            raise outcome
        return CycleReport(outcome, message="" if outcome.succeeded else "it went wrong")


def make_loop(
    cycles: Cycles,
    *,
    clock: FakeClock,
    end: float,
    files: Iterable[float] = (),
    interval: float = 10.0,
    lines: list[str] | None = None,
    metrics: WatchMetrics | None = None,
) -> Loop:
    stop = threading.Event()
    sink = lines.append if lines is not None else (lambda line: None)
    return Loop(
        cycles,
        waiter=Script(clock, stop, end=end, files=files),
        stop=stop,
        timing=Timing(interval, clock=clock, wall=lambda: 1_700_000_000.0 + clock.now),
        errors=CycleBackoff(Delays(initial=1.0, maximum=8.0)),
        log=EventLog(sink),
        metrics=metrics or WatchMetrics(),
    )


def triggers(lines: list[str]) -> list[str]:
    return [e["trigger"] for e in map(json.loads, lines) if e["event"] == "cycle_started"]


@pytest.mark.parametrize(
    ("files", "takes", "expected_times", "expected_triggers"),
    [
        ((), 0.0, [0, 10, 20, 30], ["start", "timer", "timer", "timer"]),
        ((5,), 0.0, [0, 5, 15, 25], ["start", "files", "timer", "timer"]),
        # A change during a running cycle runs the next cycle as soon as it ends.
        ((1,), 3.0, [0, 3, 16, 29], ["start", "files", "timer", "timer"]),
        # A burst that reached the waiter as two batches is still one cycle each, in order.
        ((5, 5), 0.0, [0, 5, 5, 15, 25], ["start", "files", "files", "timer", "timer"]),
    ],
)
def test_cycles_run_at_start_on_changes_and_on_the_timer(
    files: tuple[float, ...],
    takes: float,
    expected_times: list[float],
    expected_triggers: list[str],
) -> None:
    clock, lines = FakeClock(), []
    cycles = Cycles(clock, takes=takes)
    make_loop(cycles, clock=clock, end=35, files=files, lines=lines).run()
    assert cycles.times == expected_times
    assert triggers(lines) == expected_triggers


def test_cluster_errors_back_off_with_growing_delays_reset_by_a_good_cycle() -> None:
    clock = FakeClock()
    statuses = [Status.ERROR, Status.ERROR, Status.ERROR, Status.CONVERGED, Status.ERROR]
    cycles = Cycles(clock, statuses)
    make_loop(cycles, clock=clock, end=19).run()
    assert cycles.times == [0, 1, 3, 7, 17, 18]


@pytest.mark.parametrize("status", [Status.INVALID, Status.PARTIAL, Status.STANDBY, Status.DRIFT])
def test_other_failures_wait_the_interval(status: Status) -> None:
    clock = FakeClock()
    cycles = Cycles(clock, [status, status])
    make_loop(cycles, clock=clock, end=25).run()
    assert cycles.times == [0, 10, 20]


def test_a_crashing_cycle_is_logged_and_the_loop_goes_on() -> None:
    clock, lines = FakeClock(), []
    cycles = Cycles(clock, [RuntimeError("boom")])
    loop = make_loop(cycles, clock=clock, end=12, lines=lines)
    loop.run()
    events = [json.loads(line) for line in lines]
    crashed = [e for e in events if e["event"] == "cycle_crashed"]
    assert crashed == [crashed[0]] and crashed[0]["message"] == "RuntimeError: boom"
    assert cycles.times == [0, 1, 11]  # the crash counts as an error: 1 s backoff
    assert loop.health.last_status is Status.CONVERGED


def test_a_stop_before_running_runs_no_cycle() -> None:
    clock = FakeClock()
    cycles = Cycles(clock)
    loop = make_loop(cycles, clock=clock, end=100)
    loop._stop.set()
    loop.run()
    assert cycles.times == []
    assert loop.health.alive() == (False, "stopped")


@pytest.mark.parametrize(
    ("reports", "ready", "detail"),
    [
        ([], False, "no cycle has finished yet"),
        ([CycleReport(Status.CONVERGED)], True, "last cycle: converged"),
        ([CycleReport(Status.DRIFT, drift=3)], True, "last cycle: drift (3 changes)"),
        ([CycleReport(Status.STANDBY)], True, "last cycle: standby"),
        (
            [CycleReport(Status.CONVERGED), CycleReport(Status.INVALID, problems=2)],
            False,
            "last cycle: invalid (2 problems, see the log)",
        ),
        ([CycleReport(Status.ERROR)], False, "last cycle: error (see the log)"),
        (
            [CycleReport(Status.PARTIAL, failed=1, held_back=2)],
            False,
            "last cycle: partial (1 failed, 2 held back)",
        ),
    ],
)
def test_readiness_follows_the_last_cycle(
    reports: list[CycleReport], ready: bool, detail: str
) -> None:
    clock = FakeClock()
    runs = iter(reports)
    loop = make_loop(Cycles(clock), clock=clock, end=1)
    loop._run_cycle = lambda: next(runs)
    for index, _ in enumerate(reports):
        loop.cycle("timer" if index else "start")
    assert loop.health.ready() == (ready, detail)


MESSAGE = (
    "manifests/models.yaml:14:5: Model/chat: spec.model_group: no ModelGroup named "
    "'nowhere'\n    14 |   model_group: nowhere"
)


@pytest.mark.parametrize("status", [Status.INVALID, Status.ERROR, Status.PARTIAL])
def test_readiness_never_tells_what_went_wrong(status: Status) -> None:
    clock = FakeClock()
    loop = make_loop(Cycles(clock), clock=clock, end=1)
    loop._run_cycle = lambda: CycleReport(status, problems=1, failed=1, message=MESSAGE)
    loop.cycle("start")
    ok, detail = loop.health.ready()
    assert not ok and detail.startswith(f"last cycle: {status.value}")
    assert "yaml" not in detail and "chat" not in detail and "nowhere" not in detail


def test_cycles_are_counted_with_their_trigger_result_and_duration() -> None:
    clock, metrics = FakeClock(), WatchMetrics()
    cycles = Cycles(clock, [Status.CONVERGED, Status.ERROR], takes=0.3)
    make_loop(cycles, clock=clock, end=12, metrics=metrics, files=[5]).run()
    text = metrics.render()
    assert 'osml_watch_cycles_total{result="converged",trigger="start"} 1' in text
    assert 'osml_watch_cycles_total{result="error",trigger="files"} 1' in text
    assert 'osml_watch_cycles_total{result="converged",trigger="timer"} 1' in text
    assert "osml_watch_cycle_duration_seconds_count 3" in text
    assert 'osml_watch_cycle_duration_seconds_bucket{le="0.25"} 0' in text
    assert 'osml_watch_cycle_duration_seconds_bucket{le="0.5"} 3' in text
    # The last success is the end of the third cycle (timer at 6.3, error delay 1 s).
    assert "osml_watch_last_success_timestamp_seconds 1700000006.6" in text
