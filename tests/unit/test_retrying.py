import random

import pytest

from reconciler.errors import ClusterError, TransientClusterError
from reconciler.retrying import Backoff, Timing, poll, retry


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def timing(self) -> Timing:
        return Timing(sleep=self.sleep, clock=lambda: self.now, rng=random.Random(7))


def flaky(failures: list[Exception]):
    calls = {"n": 0}

    def call() -> str:
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return "ok"

    return call, calls


def test_transient_errors_are_retried_with_growing_delays() -> None:
    clock = FakeTime()
    call, calls = flaky([TransientClusterError("x 503")] * 4)
    assert (
        retry(call, backoff=Backoff(initial=1, factor=2, maximum=100), timing=clock.timing())
        == "ok"
    )
    assert calls["n"] == 5
    assert len(clock.slept) == 4
    # Equal jitter: each delay lies in [d/2, d] for d = 1, 2, 4, 8.
    for delay, base in zip(clock.slept, [1, 2, 4, 8], strict=True):
        assert base / 2 <= delay <= base


def test_permanent_errors_are_not_retried() -> None:
    clock = FakeTime()
    call, calls = flaky([ClusterError("Connector/x: create failed (400): bad")])
    with pytest.raises(ClusterError, match="bad"):
        retry(call, timing=clock.timing())
    assert calls["n"] == 1
    assert clock.slept == []


def test_attempts_run_out() -> None:
    clock = FakeTime()
    call, calls = flaky([TransientClusterError("429")] * 10)
    with pytest.raises(TransientClusterError):
        retry(call, backoff=Backoff(attempts=3), timing=clock.timing())
    assert calls["n"] == 3


def test_delays_are_capped() -> None:
    delays = Backoff(initial=1, factor=10, maximum=5).delays(random.Random(1))
    assert all(next(delays) <= 5 for _ in range(20))


def test_poll_returns_the_first_answer_or_none_at_the_deadline() -> None:
    clock = FakeTime()
    answers = iter([None, None, "DEPLOYED"])
    assert poll(lambda: next(answers), timeout=60, timing=clock.timing()) == "DEPLOYED"
    clock = FakeTime()
    assert poll(lambda: None, timeout=3, timing=clock.timing()) is None
    assert clock.now == pytest.approx(3)
