"""Leadership: take the lock when free, stand by while held, take over after a loss."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from reconciler.errors import ClusterError, LockError
from reconciler.watching.leading import Leadership
from reconciler.watching.logs import EventLog
from reconciler.watching.metrics import WatchMetrics


@dataclass
class Info:
    lock_id: str
    holder: str = "someone@host:1"


class FakeLease:
    def __init__(self, lock_id: str) -> None:
        self.info = Info(lock_id)
        self.lost = False
        self.renewing = False
        self.released = False

    def start_renewing(self, *, interval: float | None = None) -> None:
        self.renewing = True

    def stop_renewing(self) -> None:
        self.renewing = False

    def release(self) -> None:
        self.released = True


class Lock:
    """Answers acquire attempts from a script: a lease, or an error to raise."""

    def __init__(self, *answers: FakeLease | Exception) -> None:
        self.answers = list(answers)

    def __call__(self) -> FakeLease:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def leadership(lock: Lock, lines: list[str], metrics: WatchMetrics) -> Leadership:
    return Leadership(lock, log=EventLog(lines.append), metrics=metrics)  # type: ignore[arg-type]


def events(lines: list[str]) -> list[str]:
    return [json.loads(line)["event"] for line in lines]


def test_stands_by_while_held_then_takes_the_lock_and_keeps_it() -> None:
    lines: list[str] = []
    metrics = WatchMetrics()
    lease = FakeLease("abc")
    held = LockError("the state lock is held by other@host")
    leader = leadership(Lock(held, held, lease), lines, metrics)
    assert leader.hold() is None
    assert leader.hold() is None
    assert "osml_watch_lock_held 0" in metrics.render().splitlines()
    assert leader.hold() is lease and lease.renewing
    assert leader.hold() is lease  # no second acquire while the lease lives
    assert events(lines) == ["standby", "lock_acquired"]  # standby logged once
    assert "osml_watch_lock_held 1" in metrics.render().splitlines()


def test_a_lost_lease_is_dropped_and_the_lock_taken_again_when_free() -> None:
    lines: list[str] = []
    first, second = FakeLease("one"), FakeLease("two")
    leader = leadership(Lock(first, LockError("held"), second), lines, WatchMetrics())
    assert leader.hold() is first
    first.lost = True
    assert leader.hold() is None
    assert not first.renewing
    assert leader.hold() is second
    assert events(lines) == ["lock_acquired", "lock_lost", "standby", "lock_acquired"]


def test_release_gives_the_lock_back_once() -> None:
    lines: list[str] = []
    lease = FakeLease("abc")
    leader = leadership(Lock(lease), lines, WatchMetrics())
    leader.hold()
    leader.release()
    leader.release()
    assert lease.released
    assert events(lines) == ["lock_acquired", "lock_released"]


def test_cluster_errors_reach_the_caller() -> None:
    leader = leadership(Lock(ClusterError("unreachable")), [], WatchMetrics())
    with pytest.raises(ClusterError):
        leader.hold()


def test_a_lease_lost_during_the_cycle_is_reported_lost_not_released() -> None:
    lines: list[str] = []
    lease = FakeLease("abc")
    leader = leadership(Lock(lease), lines, WatchMetrics())
    leader.hold()
    lease.lost = True
    leader.release()
    assert not lease.released and not lease.renewing
    assert events(lines) == ["lock_acquired", "lock_lost"]
