"""Backoff with jitter, for retrying transient failures and for polling.

Generic and low in the layers: the snapshot reader retries its reads with it, the
applier wraps every cluster call in `retry`: a TransientClusterError (connection
errors, timeouts, 429, 502-504, the eventual-consistency refusals of reference §10) is
tried again after a growing, jittered delay until the attempts or the deadline run out;
any other error leaves at once. `poll` waits for a condition with the same delays.
Sleep, clock and randomness are injectable so tests never sleep.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from reconciler.errors import TransientClusterError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential delays with "equal jitter": half fixed, half random."""

    initial: float = 0.2
    """First delay, seconds."""
    factor: float = 2.0
    maximum: float = 10.0
    """No delay grows beyond this."""
    attempts: int = 6
    """Tries in all, the first included, for `retry`."""

    def delays(self, rng: random.Random) -> Iterator[float]:
        """An endless sequence of jittered delays."""
        delay = self.initial
        while True:
            yield delay / 2 + rng.uniform(0, delay / 2)
            delay = min(delay * self.factor, self.maximum)


@dataclasses.dataclass(frozen=True, slots=True)
class Timing:
    """Sleep, clock and randomness, replaceable in tests."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = dataclasses.field(default_factory=random.Random)


def retry(
    call: Callable[[], T],
    *,
    backoff: Backoff = Backoff(),
    timing: Timing = Timing(),
    on_retry: Callable[[TransientClusterError, float], None] | None = None,
) -> T:
    """Call until it succeeds, retrying only TransientClusterError."""
    delays = backoff.delays(timing.rng)
    for attempt in range(1, backoff.attempts + 1):
        try:
            return call()
        except TransientClusterError as exc:
            if attempt == backoff.attempts:
                raise
            delay = next(delays)
            if on_retry is not None:
                on_retry(exc, delay)
            timing.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def poll(
    check: Callable[[], T | None],
    *,
    timeout: float,
    backoff: Backoff = Backoff(initial=0.05, maximum=2.0),
    timing: Timing = Timing(),
) -> T | None:
    """Call `check` until it returns something other than None or `timeout` passes."""
    deadline = timing.clock() + timeout
    delays = backoff.delays(timing.rng)
    while True:
        result = check()
        if result is not None:
            return result
        remaining = deadline - timing.clock()
        if remaining <= 0:
            return None
        timing.sleep(min(next(delays), remaining))
