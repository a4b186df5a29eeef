"""Past one page (issue 18): `osml plan` and an idle `osml watch` at up to 50,000 resources.

Each size of the ladder 10, 1,000, 5,000, 20,000, 50,000 (up to `OSML_BENCH_SIZE`; CI runs
the smallest) is filled fast (`filling.py`: what an apply leaves, in bulk), then:

* `osml plan` runs as its own process, with no change to plan: its requests (the
  sandbox's log, from the connect on), its CPU (`wait4`: interpreter start and imports
  included, nothing of the bench or the sandbox) and its peak resident memory (VmHWM),
  beside the lower bound of the requests
  (`baselines.plan_requests`: one page per 10,000 hits of each kind) and of the memory
  (the same command's floor, over an empty folder and cluster, plus the bytes of the
  manifests and of the documents it must read, held once as compact JSON);
* `osml watch` runs as its own process (heal mode, timer `OSML_BENCH_SCALE_INTERVAL`):
  after its first, full, cycle the requests of the next cycle (one timer interval,
  between two full reads) beside their lower bound, the settings, the state index and
  one search per kind; and its CPU for that cycle.

The figures of docs/performance.md come from
`OSML_BENCH_SIZE=50000 pytest tests/bench/test_scale_bench.py -s` (about 10 minutes).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from reconciler.cluster.reading import LIVE_KINDS, PIPELINE_KINDS
from tests.bench import baselines
from tests.bench.filling import STATE, fast_fill
from tests.bench.fleets import Fleet, RemoteSandbox, remote_sandbox, write_fleet
from tests.bench.test_watch_bench import cpu_seconds, watcher_command
from tests.integration import support

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]
"""The 50,000 fill alone takes 3-4 minutes, past the suite's 300 s per test."""
LADDER = (10, 1_000, 5_000, 20_000, 50_000)
INTERVAL = float(os.environ.get("OSML_BENCH_SCALE_INTERVAL", "5"))
CYCLE_TIMEOUT = 900.0
CPU_BUDGET = 30.0
"""Seconds of osml CPU a no-change plan of 50,000 resources may take (issue 18)."""
READ = (".plugins-ml-connector", ".plugins-ml-model-group", ".plugins-ml-model", STATE)


def ladder() -> tuple[int, ...]:
    largest = int(os.environ.get("OSML_BENCH_SIZE", "10"))
    return tuple(n for n in LADDER if n <= largest) or (largest,)


@pytest.fixture(scope="module", params=ladder(), ids=lambda n: f"size={n}")
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RemoteSandbox, Fleet, Path]]:
    fleet = Fleet(request.param)
    paths = write_fleet(tmp_path_factory.mktemp("fleet"), fleet.docs())
    with remote_sandbox() as sandbox:
        started = time.monotonic()
        assert fast_fill(sandbox, paths) == fleet.size
        print(f"\nfilled {fleet.size} resources in {time.monotonic() - started:.1f} s")
        yield sandbox, fleet, paths


PEAK = """
import os, runpy, sys
try:
    sys.argv = ["osml", *sys.argv[1:]]
    runpy.run_module("reconciler", run_name="__main__", alter_sys=True)
finally:
    status = open("/proc/self/status").read()
    peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    with open(os.environ["OSML_BENCH_PEAK_FILE"], "w") as out:
        out.write(peak)
"""
"""`python -m reconciler`, writing its peak RSS (VmHWM, KiB) to a file as it ends. Not
`getrusage`: Linux carries a parent's peak RSS over fork and exec into the child's
`ru_maxrss`, so the bench's own size would show; VmHWM starts afresh with the exec."""


def run_osml(args: list[str], tmp_path: Path) -> tuple[str, float, int]:
    """`osml ARGS` in a child process: its stdout, CPU seconds and peak RSS in KiB."""
    command = [sys.executable, "-c", PEAK, *args]
    peak = tmp_path / f"peak-{time.monotonic_ns()}"
    env = {**os.environ, **support.ENV, "OSML_BENCH_PEAK_FILE": str(peak)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            command, stdout=out, stderr=err, text=True, env=env, cwd=Path(__file__).parents[2]
        )
        # wait4, not wait: the child's own CPU time, nothing of the bench or the sandbox.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        assert process.returncode == 0, err.read()[-2000:]
        return out.read(), usage.ru_utime + usage.ru_stime, int(peak.read_text())


def floor_rss(tmp_path: Path) -> int:
    """Peak RSS of `osml plan` of nothing against an empty cluster: the process floor."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with remote_sandbox() as sandbox:
        _, _, rss = run_osml(["plan", str(empty), "--cluster", sandbox.url], tmp_path)
    return rss


def data_bytes(sandbox: RemoteSandbox, paths: Path) -> int:
    """The manifests' bytes and the read documents' as compact JSON."""
    state = sandbox.admin("GET", "state?docs=true")["indices"]
    docs = [state.get(index, {}).get("docs", {}) for index in READ]
    stored = sum(len(json.dumps(d, separators=(",", ":"))) for d in docs)
    return stored + sum(p.stat().st_size for p in paths.glob("*.yaml"))


def test_a_no_change_plan(filled: tuple[RemoteSandbox, Fleet, Path], tmp_path: Path) -> None:
    sandbox, fleet, paths = filled
    sandbox.clear_requests()
    # `--detailed-exitcode`: 0 only when nothing is to change (2 would fail the run), so
    # every resource was read and paired; the text view, as `osml plan` prints by default.
    args = ["plan", str(paths), "--cluster", sandbox.url, "--detailed-exitcode"]
    out, cpu, rss = run_osml(args, tmp_path)
    sent = len(sandbox.requests())
    assert "No changes" in out, out[-2000:]
    bound = baselines.plan_requests(fleet)
    floor, data = floor_rss(tmp_path), data_bytes(sandbox, paths)
    memory_bound = floor * 1024 + data
    print(
        f"\n| plan, no change | {fleet.size} | {sent} | {bound} | {sent / bound:.2f} "
        f"| {cpu:.1f} s | {rss / 1024:.0f} MiB | {memory_bound / 2**20:.0f} MiB "
        f"(floor {floor / 1024:.0f} + data {data / 2**20:.0f}) | {rss * 1024 / memory_bound:.1f} |"
    )
    assert sent <= 1.2 * bound
    if fleet.size >= 50_000:
        assert cpu <= CPU_BUDGET


def test_an_idle_watch_interval(filled: tuple[RemoteSandbox, Fleet, Path]) -> None:
    sandbox, fleet, paths = filled
    command = watcher_command(sandbox.url, paths, interval=INTERVAL)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, **support.ENV}, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    try:
        assert process.stdout is not None
        reader = _pump(process.stdout, lines)
        _next_cycle(lines)  # the first cycle reads in full
        sandbox.clear_requests()
        cpu = cpu_seconds(process.pid)
        finished = _next_cycle(lines)
        cpu = cpu_seconds(process.pid) - cpu
        sent = sandbox.requests()
        assert process.poll() is None, "the watcher stopped"
    finally:
        process.terminate()
        process.wait(timeout=60)
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
    assert finished.get("drift") in (0, [], None) and not finished.get("applied"), finished
    # The settings, the state index, the index pipeline settings, one read per kind
    # (connectors, groups, models, agents searched; ingest and search pipelines got whole).
    bound = len(LIVE_KINDS) + len(PIPELINE_KINDS) + 3
    paths_sent = sorted(str(e["path"]) for e in sent)
    print(
        f"\n| watch, idle interval | {fleet.size} | timer {INTERVAL:g} s | {len(sent)} "
        f"| {bound} | {len(sent) / bound:.2f} | cycle CPU {cpu:.1f} s |"
    )
    assert len(sent) <= bound, paths_sent


def _pump(stream: IO[str], lines: queue.Queue[str]) -> threading.Thread:
    thread = threading.Thread(target=_copy, args=(stream, lines), daemon=True)
    thread.start()
    return thread


def _copy(stream: IO[str], lines: queue.Queue[str]) -> None:
    # The watcher logs a line per event; an unread pipe would block it once full.
    for line in stream:
        lines.put(line)


def _next_cycle(lines: queue.Queue[str]) -> dict[str, object]:
    """The next `cycle_finished` event the watcher logs."""
    deadline = time.monotonic() + CYCLE_TIMEOUT
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if '"cycle_finished"' in line:
            event = json.loads(line)
            assert isinstance(event, dict)
            return event
