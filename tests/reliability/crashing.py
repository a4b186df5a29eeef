"""Kill an apply process with SIGKILL at an exact step, driven from outside osml.

A `Tripwire` replaces the sandbox's request log: when the n-th mutating request (any
POST, PUT or DELETE but a search: ML creates, updates, deploys, state-index writes, the
lock) has been acted on by the server, it SIGKILLs the apply process before the answer
is written. That is the worst moment to die: the work is done and osml never learns it.
The apply runs in a child forked from a forkserver that has osml imported already, so a
kill-and-rerun costs milliseconds, not an interpreter start. osml has no hook for this.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.sandbox import admin
from reconciler.sandbox.server import Sandbox
from tests.reliability.driving import Driver, quick_settings

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["tests.reliability.driving", "reconciler.reconciling"])


def is_mutating(method: str, path: str) -> bool:
    """A request that changes something on the cluster (searches do not)."""
    return method in ("POST", "PUT", "DELETE") and not path.endswith("/_search")


class Tripwire(admin.RequestLog):
    """A request log that kills `pid` once `at` mutating requests were acted on."""

    def __init__(self, *, at: int | None = None) -> None:
        super().__init__()
        self.at = at
        self.pid: int | None = None
        self.mutations = 0
        self.fired = threading.Event()
        self._count_lock = threading.Lock()

    def record(self, request: Any, *, status: int, action: str, duration: float) -> None:
        super().record(request, status=status, action=action, duration=duration)
        if not is_mutating(request.method, request.path):
            return
        with self._count_lock:
            self.mutations += 1
            if self.mutations == self.at and self.pid is not None:
                _kill(self.pid, self)


def _kill(pid: int, tripwire: Tripwire) -> None:
    # `fired` first: the parent may see the child gone (exit code -9) before this thread
    # runs another line, and must then know the kill was ours. A kill that finds the
    # process gone leaves `fired` set, but the exit code is then the child's own.
    tripwire.fired.set()
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def was_killed(tripwire: Tripwire, code: int | None) -> bool:
    """Whether the child ended by our kill (not on its own, nor by anyone else's)."""
    return tripwire.fired.is_set() and code == -signal.SIGKILL


def install(sandbox: Sandbox, tripwire: Tripwire) -> None:
    """Make `tripwire` the request log of a sandbox that is not started yet."""
    sandbox.requests = tripwire
    sandbox.context.extras[admin.LOG_KEY] = tripwire


def _child(url: str, paths: str, env: dict[str, str], go: Any) -> None:
    go.wait(10)
    driver = Driver(url, settings=quick_settings(deploy_timeout=5.0))
    try:
        driver.apply(Path(paths), env=env)
    except ReconcilerError:
        os._exit(1)
    os._exit(0)


def apply_killed(
    tripwire: Tripwire,
    url: str,
    paths: Path,
    *,
    env: dict[str, str],
    after: float | None = None,
) -> int | None:
    """Run an apply in a child process armed on `tripwire` (or killed `after` seconds,
    a random moment, when given); the child's exit code (negative: the kill signal)."""
    go = _CONTEXT.Event()
    process = _CONTEXT.Process(target=_child, args=(url, str(paths), env, go))
    process.start()
    tripwire.pid = process.pid
    timer = threading.Timer(after, _kill, args=(process.pid, tripwire)) if after else None
    go.set()
    if timer is not None:
        timer.start()
    process.join(60)
    if timer is not None:
        timer.cancel()
    if process.is_alive():
        process.kill()
        process.join()
        raise AssertionError("the apply process hung")
    return process.exitcode
