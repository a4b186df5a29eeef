"""The watch loop: one cycle at a time, on manifest changes and on the timer, until stopped.

`Loop.run()` runs a cycle at once, then waits for the next trigger: a pending manifest
change (from the Waiter) or the timer (`interval` after the previous cycle; longer, from a
growing sequence, after cycles that failed on the cluster; reset by a good cycle). Cycles
never overlap because there is one loop thread and the cycle runs on it. No error ends
the loop: a cycle that raises is logged and counted as failed. `Health` keeps what
`/healthz` and `/readyz` report. The stop event, the waiter and both clocks are injected,
so unit tests run the loop with a fake clock and never sleep. The loop never plans,
applies or locks by itself; `run_cycle` (built by `watching.running`) does that.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from reconciler import collecting
from reconciler.secrets import scrub
from reconciler.watching.backoffs import CycleBackoff
from reconciler.watching.cycle import CycleReport, Status
from reconciler.watching.logs import EventLog
from reconciler.watching.metrics import WatchMetrics
from reconciler.watching.triggers import Waiter

START = "start"
"""The trigger name of the first cycle."""
TIMER = "timer"
"""The trigger name of a cycle run because the interval passed."""


@dataclasses.dataclass
class Health:
    """What the loop last did, for the health endpoints; written by the loop thread only.

    The endpoints may be reachable from anywhere the listener binds to, so what they say
    is a status and counts: the manifest problems and server messages behind a failed
    cycle (file paths, YAML excerpts) are in the event log, not here.
    """

    running: bool = False
    cycles: int = 0
    last_status: Status | None = None
    last_report: CycleReport | None = None
    last_success_at: float | None = None
    """Unix time of the end of the last successful cycle."""

    def alive(self) -> tuple[bool, str]:
        """`/healthz`: the loop is running."""
        return (True, "ok") if self.running else (False, "stopped")

    def ready(self) -> tuple[bool, str]:
        """`/readyz`: the last cycle succeeded (a standby replica is ready too)."""
        report = self.last_report
        if report is None:
            return False, "no cycle has finished yet"
        detail = f"last cycle: {report.status.value}"
        counts = _counts(report)
        return report.status.succeeded, f"{detail} ({counts})" if counts else detail


def _counts(report: CycleReport) -> str:
    """`2 problems`, `1 failed, 3 held back`: numbers only, never the messages."""
    if report.status is Status.INVALID:
        return f"{_plural(report.problems, 'problem')}, see the log"
    if report.status is Status.ERROR:
        return "see the log"
    if report.status is Status.DRIFT:
        return _plural(report.drift, "change")
    pairs = [(report.failed, "failed"), (report.held_back, "held back")]
    return ", ".join(f"{n} {word}" for n, word in pairs if n)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@dataclasses.dataclass(frozen=True)
class Timing:
    """How often the loop runs, and how it tells time (replaceable in tests)."""

    interval: float
    """Seconds between timer cycles (drift detection)."""
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    """Unix time, for the last-success metric."""


class Loop:
    """Runs `run_cycle` on triggers until `stop` is set."""

    def __init__(
        self,
        run_cycle: Callable[[], CycleReport],
        *,
        waiter: Waiter,
        stop: threading.Event,
        timing: Timing,
        errors: CycleBackoff,
        log: EventLog,
        metrics: WatchMetrics,
    ) -> None:
        self._run_cycle = run_cycle
        self._waiter = waiter
        self._stop = stop
        self._timing = timing
        self._errors = errors
        self._log = log
        self._metrics = metrics
        self.health = Health()

    def run(self) -> None:
        """Cycle until stopped; returns after the cycle that was running when stop was set."""
        self.health.running = True
        trigger: str | None = START
        try:
            while trigger is not None and not self._stop.is_set():
                report = self.cycle(trigger)
                trigger = self._next_trigger(self._delay_after(report))
        finally:
            self.health.running = False

    def cycle(self, trigger: str) -> CycleReport:
        """Run one cycle now, log and count it; never raises an Exception."""
        clock = self._timing.clock
        started = clock()
        self._log.event("cycle_started", trigger=trigger)
        try:
            report = self._run_cycle()
        except Exception as exc:
            # A bug must not end a long-running service: log it, count it, go on.
            message = f"{type(exc).__name__}: {scrub(str(exc))}"
            self._log.event("cycle_crashed", level="error", message=message)
            report = CycleReport(Status.ERROR, message=message)
        finally:
            collecting.settle()  # what the cycle froze, its garbage cycles included
        duration = clock() - started
        self._record(report, trigger=trigger, duration=duration)
        return report

    def _record(self, report: CycleReport, *, trigger: str, duration: float) -> None:
        success_at = self._timing.wall() if report.status.succeeded else None
        self._metrics.cycle_finished(
            trigger=trigger, result=report.status.value, duration=duration, success_at=success_at
        )
        health = self.health
        health.cycles += 1
        health.last_status, health.last_report = report.status, report
        if success_at is not None:
            health.last_success_at = success_at
        self._log.event(
            "cycle_finished",
            level="info" if report.status.succeeded else "warning",
            trigger=trigger,
            status=report.status.value,
            drift=report.drift,
            applied=report.applied,
            failed=report.failed,
            held_back=report.held_back,
            duration=round(duration, 3),
        )

    def _delay_after(self, report: CycleReport) -> float:
        """The interval, or the next error delay after a cycle the cluster failed."""
        if report.status is Status.ERROR:
            delay = self._errors.failed()
            self._log.event("retry_scheduled", level="warning", retry_in=round(delay, 3))
            return delay
        self._errors.reset()
        return self._timing.interval

    def _next_trigger(self, delay: float) -> str | None:
        """Wait up to `delay`: a pending trigger at once, TIMER at the end, None on stop."""
        clock = self._timing.clock
        deadline = clock() + delay
        while not self._stop.is_set():
            woke = self._waiter.wait(deadline - clock())
            if self._stop.is_set():
                return None
            if woke is not None:
                return woke
            if clock() >= deadline:
                return TIMER
        return None
