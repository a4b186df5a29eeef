"""What wakes the watch loop: manifest changes (debounced) and stop requests.

`Wakeups` is the loop's only way to wait: `wait(timeout)` returns `"files"` as soon as a
manifest change is pending, or None when the timeout passed or a stop was asked for
(the loop tells those apart itself). A change that arrives while a cycle runs stays
pending, so the cycle after it sees it; any number of changes make one pending flag.
`FileWatcher` runs watchfiles in a daemon thread and notifies the Wakeups once per
debounced batch, so a burst of saves becomes one cycle. Unit tests drive the loop with
their own waiter and never start a FileWatcher. Nothing here plans or talks to a cluster.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

import watchfiles

FILES = "files"
"""The trigger name of a manifest change."""


class Waiter(Protocol):
    """How the loop waits; tests pass a scripted one that moves a fake clock instead."""

    def wait(self, timeout: float) -> str | None:
        """Block up to `timeout` seconds; a trigger name, or None on timeout or stop."""


class Wakeups:
    """A pending-trigger flag with a blocking wait; any thread may notify."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._cond = threading.Condition()
        self._pending: str | None = None

    def notify(self, trigger: str = FILES) -> None:
        """Mark `trigger` pending and wake the waiter."""
        with self._cond:
            self._pending = trigger
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake the waiter without a trigger (after setting the stop event)."""
        with self._cond:
            self._cond.notify_all()

    def wait(self, timeout: float) -> str | None:
        """The pending trigger (cleared), or None after `timeout` or on stop."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._pending is not None or self._stop.is_set(),
                timeout=max(timeout, 0.0),
            )
            trigger, self._pending = self._pending, None
            return None if self._stop.is_set() else trigger


class FileWatcher:
    """watchfiles in a daemon thread: each debounced batch of changes notifies `wakeups`."""

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        wakeups: Wakeups,
        stop: threading.Event,
        debounce: float = 1.0,
        force_polling: bool | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.paths = tuple(Path(p).absolute() for p in paths)
        # A single file is watched through its folder: editors save by writing a new file
        # and renaming it over the old one, which ends a watch on the old file itself.
        self.roots = sorted({str(p if p.is_dir() else p.parent) for p in self.paths})
        self._wakeups = wakeups
        self._stop = stop
        self._debounce_ms = max(int(debounce * 1000), 1)
        self._force_polling = force_polling
        self._on_error = on_error
        self.ready = threading.Event()
        """Set once the file system watch is in place (changes before it are not seen)."""
        self._thread: threading.Thread | None = None

    def start(self) -> FileWatcher:
        """Start watching; returns at once."""
        self._thread = threading.Thread(target=self._run, name="osml-file-watch", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (it ends soon after the stop event is set)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._watch()
        except (OSError, RuntimeError) as exc:
            # A folder deleted or unreadable: the timer still triggers cycles, so say so
            # and end this thread rather than the watcher.
            if self._on_error is not None:
                where = ", ".join(self.roots)
                self._on_error(f"cannot watch {where}: {type(exc).__name__}: {exc}")
        finally:
            self.ready.set()  # nobody waits for a watch that will never start

    def _watch(self) -> None:
        batches = watchfiles.watch(
            *self.roots,
            watch_filter=self._relevant,
            debounce=self._debounce_ms,
            step=min(50, self._debounce_ms),
            stop_event=self._stop,
            rust_timeout=200,
            yield_on_timeout=True,  # an empty batch says the watch is in place
            raise_interrupt=False,
            force_polling=self._force_polling,
        )
        for batch in batches:
            self.ready.set()
            if batch:
                self._wakeups.notify(FILES)

    def _relevant(self, change: watchfiles.Change, path: str) -> bool:
        if not _DEFAULT_FILTER(change, path):
            return False
        return any(_within(Path(path), p) for p in self.paths)


_DEFAULT_FILTER = watchfiles.DefaultFilter()


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def watched_paths(paths: Iterable[Path], extra: Iterable[Path] = ()) -> tuple[Path, ...]:
    """The paths to watch: the manifest paths plus any extra folders (a git-sync root)."""
    return tuple(dict.fromkeys([*paths, *extra]))
