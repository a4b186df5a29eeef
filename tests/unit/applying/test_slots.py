"""Request slots: a bound on requests in flight, with polls served last."""

import threading
import time

from reconciler.applying.executing import Slots


def _take(slots: Slots, name: str, order: list[str], *, low: bool = False) -> threading.Thread:
    def run() -> None:
        with slots.held(low=low):
            order.append(name)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_for_waiters(slots: Slots, count: int) -> None:
    deadline = time.monotonic() + 5
    while slots.waiting() < count:
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_no_more_than_size_are_held_at_once() -> None:
    slots = Slots(2)
    active = peak = 0
    lock = threading.Lock()

    def run() -> None:
        nonlocal active, peak
        with slots.held():
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.01)
            with lock:
                active -= 1

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2


def test_a_waiting_poll_goes_after_every_waiting_request() -> None:
    slots = Slots(1, patience=60)
    order: list[str] = []
    with slots.held():
        threads = [_take(slots, "poll", order, low=True)]
        _wait_for_waiters(slots, 1)
        threads += [_take(slots, f"create{n}", order) for n in range(3)]
        _wait_for_waiters(slots, 4)
    for thread in threads:
        thread.join()
    assert order[-1] == "poll"
    assert sorted(order[:3]) == ["create0", "create1", "create2"]


def test_polls_are_not_starved_by_a_stream_of_requests() -> None:
    now = [0.0]
    slots = Slots(1, patience=0.5, clock=lambda: now[0])
    stop = threading.Event()

    def feed() -> None:  # there is always another request waiting
        while not stop.is_set():
            with slots.held():
                time.sleep(0.002)

    feeders = [threading.Thread(target=feed) for _ in range(3)]
    for thread in feeders:
        thread.start()
    order: list[str] = []
    poll = _take(slots, "poll", order, low=True)
    poll.join(timeout=0.3)
    starved = poll.is_alive()
    now[0] = 10.0  # the poll has now waited longer than its patience
    poll.join(timeout=5)
    stop.set()
    for thread in feeders:
        thread.join()
    assert starved
    assert order == ["poll"]
