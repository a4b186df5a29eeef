"""`osml watch` at rest: CPU and requests per minute over a converged fleet.

The fleet is applied, then `osml watch` runs as its own process (heal mode, drift timer
`OSML_BENCH_WATCH_INTERVAL`, file watching on) against a sandbox in another process.
After its first cycle, the bench samples the watcher's CPU time from /proc and the
sandbox's request log over `OSML_BENCH_WATCH_WINDOW` seconds. Nothing drifts, so every
cycle is a no-change plan plus the lock renewals: the figures are what an idle watcher
costs the cluster and the machine. Defaults are small (1 s timer, 3 s window) for CI.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from tests.bench.fleets import Fleet, RemoteSandbox, ladder, remote_sandbox
from tests.integration import support

pytestmark = pytest.mark.bench
INTERVAL = float(os.environ.get("OSML_BENCH_WATCH_INTERVAL", "1"))
WINDOW = float(os.environ.get("OSML_BENCH_WATCH_WINDOW", "3"))
FIRST_CYCLE_TIMEOUT = 600.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def watcher_command(url: str, paths: Path, *, interval: float) -> list[str]:
    """`osml watch` of `paths` against `url`: heal mode, timer `interval`, no listener."""
    command = [sys.executable, "-m", "reconciler", "watch", str(paths), "--cluster", url]
    return [*command, "--interval", f"{interval:g}s", "--listen", "off"]


@contextmanager
def watcher(url: str, paths: Path) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    """`osml watch` in a child process; its JSON log lines arrive on the queue."""
    command = watcher_command(url, paths, interval=INTERVAL)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, **support.ENV}, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert process.stdout is not None
    stdout = process.stdout
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(stdout, lines), daemon=True)
    reader.start()
    try:
        yield process, lines
    finally:
        process.terminate()
        process.wait(timeout=60)
        reader.join(timeout=5)
        stdout.close()


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    # The watcher logs a line per event; an unread pipe would block it once full.
    for line in stream:
        lines.put(line)


def wait_for_cycle(lines: queue.Queue[str]) -> None:
    """Block until the watcher logs a finished cycle."""
    deadline = time.monotonic() + FIRST_CYCLE_TIMEOUT
    while '"cycle_finished"' not in lines.get(timeout=deadline - time.monotonic()):
        pass


def converged(sandbox: RemoteSandbox, tmp_path: Path) -> tuple[Fleet, Path]:
    fleet = Fleet(ladder()[-1])
    paths = support.write(tmp_path / "m", fleet.docs())
    settings = support.fast_settings(deploy_timeout=600)
    assert support.apply(sandbox.url, paths, settings=settings).ok
    return fleet, paths


def test_watch_idle_cost(tmp_path: Path) -> None:
    with remote_sandbox() as sandbox:
        fleet, paths = converged(sandbox, tmp_path)
        with watcher(sandbox.url, paths) as (process, lines):
            wait_for_cycle(lines)
            sandbox.clear_requests()
            cpu, started = cpu_seconds(process.pid), time.monotonic()
            time.sleep(WINDOW)
            cpu, elapsed = cpu_seconds(process.pid) - cpu, time.monotonic() - started
            sent = len(sandbox.requests())
            assert process.poll() is None, "the watcher stopped"
    per_minute = sent * 60 / elapsed
    print(
        f"\n| watch idle | {fleet.size} | timer {INTERVAL:g} s | {per_minute:.0f} requests/min "
        f"| CPU {100 * cpu / elapsed:.1f}% ({cpu:.2f} s in {elapsed:.0f} s) |"
    )
    # Idle means a no-change plan per timer tick plus lock renewals, nothing per resource.
    cycles = elapsed / INTERVAL + 1
    assert sent <= cycles * 12
