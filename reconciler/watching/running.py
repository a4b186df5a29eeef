"""`osml watch` assembled: the loop, its triggers, the lock, the cycle and the listener.

`Watcher(conn, options, sink=..., stop=...)` wires the parts of this package for one
cluster; `start()` opens the HTTP listener and the file watch, `run()` runs the loop on
the calling thread until the stop event is set, and `close()` gives the lock back and
stops the threads. `run_watch` does all three. In heal mode a cycle whose plan holds
changes takes the state lock and gives it back at its end (`leading`), so a manual
`osml apply` can run between cycles and an idle cycle only reads; report mode never
changes the cluster and so takes no lock. A paused watcher (`toggle_pause()`, or while
`pause_file` exists) runs its cycles as report mode does.
Called by `cli.watch`, which owns signals and printing; this module installs no signal
handler and writes only to the sink it is given.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.cluster.connecting import Connection
from reconciler.errors import ClusterError
from reconciler.secrets import scrub
from reconciler.watching.backoffs import CycleBackoff, Delays, ResourceBackoff
from reconciler.watching.cycle import Cycle, CycleReport, CycleSettings, Mode, Status
from reconciler.watching.leading import Leadership
from reconciler.watching.logs import EventLog, Sink
from reconciler.watching.loop import Loop, Timing
from reconciler.watching.metrics import WatchMetrics
from reconciler.watching.serving import StatusServer
from reconciler.watching.triggers import FileWatcher, Waiter, Wakeups, watched_paths

RESUME = "resume"
"""The trigger name of the cycle run at once when a paused watcher is resumed."""


@dataclasses.dataclass(frozen=True)
class WatchOptions:
    """Everything `osml watch` was asked, as one value."""

    cycle: CycleSettings
    interval: float = 60.0
    """Seconds between drift checks."""
    debounce: float = 1.0
    """Seconds a burst of manifest saves is gathered into one cycle."""
    listen: tuple[str, int] | None = ("127.0.0.1", 9464)
    """Where `/healthz`, `/readyz` and `/metrics` are served; None for nowhere."""
    lease_seconds: float = 60.0
    """The state lock's lease: how long a crashed watcher blocks the others."""
    error_backoff: float = 1.0
    """First delay after a cycle the cluster failed; it doubles up to `max_backoff`."""
    retry_backoff: float | None = None
    """First hold of a resource whose change failed; default `interval`."""
    max_backoff: float = 900.0
    """No backoff grows beyond this many seconds."""
    watch_files: bool = True
    """React to manifest changes; without it only the timer triggers cycles."""
    watch_dirs: tuple[Path, ...] = ()
    """More folders to watch, such as a git-sync root whose symlink swaps."""
    pause_file: Path | None = None
    """While this file exists, cycles only plan and log: nothing is changed, no lock taken."""


class Watcher:
    """One configured `osml watch` against one cluster."""

    def __init__(
        self,
        conn: Connection,
        options: WatchOptions,
        *,
        sink: Sink,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.stop = stop
        self.log = EventLog(sink, wall=wall)
        self.metrics = WatchMetrics()
        self.wakeups = Wakeups(stop)
        self.leadership = self._leadership(conn)
        self.cycle = Cycle(
            conn,
            settings=options.cycle,
            log=self.log,
            metrics=self.metrics,
            backoff=ResourceBackoff(
                Delays(options.retry_backoff or options.interval, options.max_backoff)
            ),
            stop=stop,
            clock=clock,
        )
        self.loop = self._loop(self.wakeups, clock=clock, wall=wall)
        self.files: FileWatcher | None = None
        self.server: StatusServer | None = None
        self._paused_by_signal = threading.Event()
        self._pause_reason: str | None = None

    def _leadership(self, conn: Connection) -> Leadership | None:
        if self.options.cycle.mode is Mode.REPORT:
            return None  # report mode changes nothing, so it must not block `osml apply`
        return Leadership.for_cluster(
            conn,
            log=self.log,
            metrics=self.metrics,
            index=self.options.cycle.apply.state_index,
            lease_seconds=self.options.lease_seconds,
        )

    def _loop(
        self, waiter: Waiter, *, clock: Callable[[], float], wall: Callable[[], float]
    ) -> Loop:
        options = self.options
        return Loop(
            self.run_cycle,
            waiter=waiter,
            stop=self.stop,
            timing=Timing(options.interval, clock=clock, wall=wall),
            errors=CycleBackoff(Delays(options.error_backoff, options.max_backoff)),
            log=self.log,
            metrics=self.metrics,
        )

    def run_cycle(self) -> CycleReport:
        """One cycle. In heal mode the state lock is taken once the plan holds changes
        and given back at the cycle's end, so an idle cycle only reads; standby while
        someone else holds it. Paused: plan and log only."""
        if self._paused():
            return self.cycle.run(lease=None, report=True)
        if self.leadership is None:
            return self.cycle.run(lease=None)
        try:
            return self.cycle.run(take_lease=self.leadership.hold)
        except ClusterError as exc:  # taking the lock failed on the cluster
            message = scrub(str(exc))
            self.log.event("cluster_error", level="error", message=message)
            return CycleReport(Status.ERROR, message=message)
        finally:
            # Free between cycles: an apply by hand waits for this cycle, not for ever.
            self.leadership.release()

    def toggle_pause(self) -> None:
        """Pause, or resume, from the next cycle on (safe from a signal handler).

        The cycle running now finishes; a resume runs the next cycle at once.
        """
        if self._paused_by_signal.is_set():
            self._paused_by_signal.clear()
            self.wakeups.notify(RESUME)
        else:
            self._paused_by_signal.set()
        self.log.event("pause_requested", paused=self._paused_by_signal.is_set())

    def _paused(self) -> bool:
        """Whether this cycle only reports; logs and counts each change of pause."""
        file = self.options.pause_file
        if self._paused_by_signal.is_set():
            reason: str | None = "signal"
        elif file is not None and file.exists():
            reason = f"pause file {file}"
        else:
            reason = None
        if reason != self._pause_reason:
            if reason is None:
                self.log.event("resumed")
            else:
                self.log.event("paused", reason=reason)
            self.metrics.pause(reason is not None)
            self._pause_reason = reason
        return reason is not None

    def start(self) -> Watcher:
        """Open the listener and the file watch; returns at once."""
        options = self.options
        if options.listen is not None:
            self.server = StatusServer(
                options.listen,
                alive=self.loop.health.alive,
                ready=self.loop.health.ready,
                metrics=self.metrics.render,
            ).start()
        if options.watch_files:
            paths = watched_paths(options.cycle.paths, options.watch_dirs)
            self.files = FileWatcher(
                paths,
                wakeups=self.wakeups,
                stop=self.stop,
                debounce=options.debounce,
                on_error=self._file_watch_failed,
            ).start()
        self.log.event(
            "watch_started",
            mode=options.cycle.mode.value,
            interval=options.interval,
            paths=[str(p) for p in options.cycle.paths],
            listen=self._listening(),
        )
        return self

    def _file_watch_failed(self, message: str) -> None:
        self.log.event("file_watch_failed", level="error", message=message, fallback="timer only")

    def _listening(self) -> str | None:
        if self.server is None:
            return None
        host, port = self.server.address
        return f"{host}:{port}"

    def run(self) -> None:
        """The loop, on this thread, until the stop event is set."""
        self.loop.run()

    def request_stop(self) -> None:
        """Ask the loop to stop after the current change (safe from a signal handler)."""
        self.stop.set()
        self.wakeups.wake()

    def close(self) -> None:
        """Give the lock back and stop the listener and the file watch."""
        self.stop.set()
        if self.leadership is not None:
            self.leadership.release()
        if self.files is not None:
            self.files.join(timeout=5)
        if self.server is not None:
            self.server.stop()
        self.log.event("watch_stopped", cycles=self.loop.health.cycles)


def run_watch(
    conn: Connection, options: WatchOptions, *, sink: Sink, stop: threading.Event
) -> Watcher:
    """Watch until `stop` is set; the finished Watcher (for its health and metrics)."""
    watcher = Watcher(conn, options, sink=sink, stop=stop)
    watcher.start()
    try:
        watcher.run()
    finally:
        watcher.close()
    return watcher
