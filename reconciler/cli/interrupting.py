"""Ctrl-C during `osml apply`, and how often a long apply says it is still working.

`interrupts()` installs a SIGINT handler for the apply phase, as Terraform behaves: the
first Ctrl-C sets the stop event the apply engine watches, so no new change starts,
the changes in flight finish and are recorded, the lock is released, and the command
then says what was done and what was not and exits 130. A second Ctrl-C ends the
process at once (the lock then expires by itself, and the next run converges whatever
was cut off). `progress_every()` is the heartbeat interval of the progress lines:
`OSML_PROGRESS_INTERVAL` seconds, default 10. Only the CLI uses this module; it never
plans or applies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

import click

INTERRUPTED = 130
"""The exit status after Ctrl-C, as shells report a process ended by SIGINT."""
PROGRESS_VARIABLE = "OSML_PROGRESS_INTERVAL"
DEFAULT_PROGRESS_EVERY = 10.0


def progress_every() -> float:
    """Seconds between `still ...` lines; a bad value falls back to the default."""
    try:
        seconds = float(os.environ.get(PROGRESS_VARIABLE, DEFAULT_PROGRESS_EVERY))
    except ValueError:
        return DEFAULT_PROGRESS_EVERY
    return seconds if seconds > 0 else DEFAULT_PROGRESS_EVERY


@contextlib.contextmanager
def interrupts() -> Iterator[threading.Event]:
    """The stop event a first Ctrl-C sets while the block runs; a second exits at once.

    Off the main thread (where no handler can be set) the event is never set.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(number: int, frame: FrameType | None) -> None:
        if stop.is_set():
            _exit_now()
        stop.set()
        click.echo(
            "\nInterrupt received: no new change starts; the changes in flight finish and "
            "are recorded, then the state lock is released. Press Ctrl-C again to exit at "
            "once.",
            err=True,
        )

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _exit_now() -> None:
    click.echo(
        "\nTwo interrupts received: exiting at once. The state lock expires by itself; "
        "run the apply again to converge what was cut off.",
        err=True,
    )
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(INTERRUPTED)
