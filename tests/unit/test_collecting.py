"""The garbage collector's pauses around bulk phases (`reconciler.collecting`)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from reconciler import collecting


class _Node:
    """An object that can be put in a reference cycle and watched by a weak reference."""

    def __init__(self) -> None:
        self.other: object = None


def _garbage_cycle() -> weakref.ref[_Node]:
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    return weakref.ref(first)


@pytest.fixture
def freezing() -> Iterator[None]:
    collecting.freeze_after_pauses()
    try:
        yield
    finally:
        collecting.freeze_after_pauses(enabled=False)
        collecting.settle()
        gc.unfreeze()


def test_a_pause_turns_the_collector_off_and_back_on() -> None:
    assert gc.isenabled()
    with collecting.paused():
        assert not gc.isenabled()
        with collecting.paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "only the outermost pause turns it back on"
    assert gc.isenabled()


def test_a_pause_leaves_a_collector_that_was_off_off() -> None:
    gc.disable()
    try:
        with collecting.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_pause_ends_even_when_its_body_raises() -> None:
    with pytest.raises(RuntimeError), collecting.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_concurrent_pauses_end_with_the_last_one() -> None:
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with collecting.paused():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with collecting.paused():
        pass
    assert not gc.isenabled(), "the other thread's pause is still running"
    leave.set()
    thread.join(5)
    assert gc.isenabled()


def test_without_freezing_a_cycle_made_in_a_pause_is_collected_as_usual() -> None:
    with collecting.paused():
        cycle = _garbage_cycle()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert cycle() is None


def test_freezing_keeps_the_pause_s_objects_from_the_collector_until_settle(
    freezing: None,
) -> None:
    with collecting.paused():
        cycle = _garbage_cycle()
    assert gc.get_freeze_count() > 0
    gc.collect()
    assert cycle() is not None, "frozen: no scan reaches it"
    collecting.settle()
    assert gc.get_freeze_count() == 0
    assert cycle() is None
