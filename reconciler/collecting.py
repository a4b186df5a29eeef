"""Pausing Python's cyclic garbage collector while osml builds large object graphs.

Reading 50,000 manifests, a snapshot of as many documents and a plan over them creates
millions of objects that all stay alive until the plan is done. CPython's collector is
triggered by allocations: every 700 new container objects it scans the youngest
generation, and now and then every object the process holds. While a graph grows by
millions of live objects those scans find nothing to free, yet they were about 45% of a
no-change plan's CPU at 20,000 resources (docs/performance.md, issue 18). The graphs are
trees (dicts, lists, frozen dataclasses) and are freed by reference counting; the
collector is needed only for reference cycles, which these phases do not make.

`paused()` turns the collector off for such a phase and back on after it; only the
outermost of nested or concurrent pauses does so. In the osml process itself
(`freeze_after_pauses`, called by `reconciler.__main__`) it first freezes what is alive
(`gc.freeze`: the collector will not scan those objects again; reference counting still
frees them when they are dropped). Without the freeze the first scans after the pause
walk the whole new graph, several times over as it ages through the generations: 4 of
the 15 s of CPU left in a no-change plan of 20,000 resources.

A garbage cycle made during a pause is frozen with the rest and is not collected: for a
one-shot command that is memory the process gives back when it exits. A long-running
`osml watch` calls `settle()` after each cycle, which unfreezes everything and runs one
full collection, so its heap stays bounded. A library caller (the tests) gets the pause
without the freeze, so nothing of its own is kept from the collector.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator


class _Pauses:
    """How many pauses are running, and whether the collector was on before the first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.resume = False
        self.freeze = False
        """Freeze what is alive when the outermost pause ends (`freeze_after_pauses`)."""
        self.frozen = False


_pauses = _Pauses()


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Run the body with the cyclic garbage collector off (reference counting still
    frees everything that is not in a cycle)."""
    with _pauses.lock:
        if _pauses.depth == 0:
            _pauses.resume = gc.isenabled()
            gc.disable()
        _pauses.depth += 1
    try:
        yield
    finally:
        with _pauses.lock:
            _pauses.depth -= 1
            if _pauses.depth == 0 and _pauses.resume:
                if _pauses.freeze:
                    gc.freeze()
                    _pauses.frozen = True
                gc.enable()


def settle() -> None:
    """Collect every garbage cycle, frozen ones included: one full collection, for a
    long-running process between two bulk phases."""
    with _pauses.lock:
        if _pauses.depth or not _pauses.frozen:
            return  # a pause is running (its end freezes again), or nothing was frozen
        gc.unfreeze()
        _pauses.frozen = False
        gc.collect()


def freeze_after_pauses(enabled: bool = True) -> None:
    """Have every outermost pause end by freezing what is alive: for the osml process,
    which owns its whole heap."""
    _pauses.freeze = enabled
