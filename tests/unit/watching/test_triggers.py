"""Wakeups: a pending change is seen once, a stop wakes the waiter, timeouts return None."""

from __future__ import annotations

import threading
from pathlib import Path

from reconciler.watching.triggers import FILES, Wakeups, watched_paths


def test_a_pending_change_is_returned_once() -> None:
    wakeups = Wakeups(threading.Event())
    wakeups.notify()
    wakeups.notify()  # several changes before the wait are one pending trigger
    assert wakeups.wait(0) == FILES
    assert wakeups.wait(0) is None


def test_a_stop_wins_over_a_pending_change() -> None:
    stop = threading.Event()
    wakeups = Wakeups(stop)
    wakeups.notify()
    stop.set()
    assert wakeups.wait(0) is None


def test_a_notification_from_another_thread_ends_the_wait() -> None:
    wakeups = Wakeups(threading.Event())
    notifier = threading.Thread(target=wakeups.notify)
    notifier.start()
    assert wakeups.wait(30) == FILES  # returns when notified, long before the timeout
    notifier.join()


def test_a_stop_from_another_thread_ends_the_wait() -> None:
    stop = threading.Event()
    wakeups = Wakeups(stop)

    def request_stop() -> None:
        stop.set()
        wakeups.wake()

    stopper = threading.Thread(target=request_stop)
    stopper.start()
    assert wakeups.wait(30) is None
    stopper.join()


def test_watched_paths_add_extra_folders_once() -> None:
    paths = watched_paths([Path("m"), Path("n")], [Path("/git"), Path("m")])
    assert paths == (Path("m"), Path("n"), Path("/git"))
