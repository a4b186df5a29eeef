import threading

import pytest

from reconciler.applying.scheduling import Status, Task, run_graph


def _recorder():
    order: list[str] = []
    lock = threading.Lock()

    def make(key: str, *, fail: bool = False):
        def run() -> None:
            with lock:
                order.append(key)
            if fail:
                raise RuntimeError(f"{key} broke")

        return run

    return order, make


def test_dependencies_run_first() -> None:
    order, make = _recorder()
    tasks = [
        Task("model", make("model"), depends_on=("connector", "group")),
        Task("connector", make("connector")),
        Task("group", make("group")),
    ]
    outcomes = run_graph(tasks, parallelism=4)
    assert order.index("model") == 2
    assert {o.status for o in outcomes.values()} == {Status.SUCCEEDED}
    assert list(outcomes) == ["model", "connector", "group"]


def test_failure_skips_dependents_transitively_and_the_rest_goes_on() -> None:
    order, make = _recorder()
    tasks = [
        Task("a", make("a", fail=True)),
        Task("b", make("b"), depends_on=("a",)),
        Task("c", make("c"), depends_on=("b",)),
        Task("d", make("d")),
    ]
    outcomes = run_graph(tasks, parallelism=1)
    assert outcomes["a"].status is Status.FAILED
    assert str(outcomes["a"].error) == "a broke"
    assert outcomes["b"].status is Status.SKIPPED
    assert outcomes["c"].reason == "skipped because a failed"
    assert outcomes["d"].status is Status.SUCCEEDED
    assert sorted(order) == ["a", "d"]


def test_parallelism_is_bounded() -> None:
    active = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def run() -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            if active == 3:
                release.set()
        release.wait(timeout=5)
        with lock:
            active -= 1

    outcomes = run_graph([Task(i, run) for i in range(12)], parallelism=3)
    assert peak == 3
    assert all(o.status is Status.SUCCEEDED for o in outcomes.values())


def test_stop_lets_running_tasks_finish_and_starts_nothing_new() -> None:
    stop = threading.Event()
    started: list[int] = []

    def make(i: int):
        def run() -> None:
            started.append(i)
            stop.set()

        return run

    outcomes = run_graph([Task(i, make(i)) for i in range(5)], parallelism=1, stop=stop)
    assert started == [0]
    assert outcomes[0].status is Status.SUCCEEDED
    assert [outcomes[i].status for i in range(1, 5)] == [Status.NOT_STARTED] * 4


def test_unknown_dependencies_are_ignored_and_parallelism_checked() -> None:
    outcomes = run_graph([Task("x", lambda: None, depends_on=("elsewhere",))], parallelism=1)
    assert outcomes["x"].status is Status.SUCCEEDED
    with pytest.raises(ValueError, match="at least 1"):
        run_graph([], parallelism=0)


def test_dependents_start_while_settle_is_still_running() -> None:
    settling = threading.Event()
    child_ran = threading.Event()

    def settle() -> None:
        settling.set()
        # The parent's settle only ends once its dependent has run: proof it did not wait.
        assert child_ran.wait(timeout=10)

    tasks = [
        Task("parent", lambda: None, settle=settle),
        Task("child", child_ran.set, depends_on=("parent",)),
    ]
    outcomes = run_graph(tasks, parallelism=2)
    assert settling.is_set()
    assert {o.status for o in outcomes.values()} == {Status.SUCCEEDED}


def test_a_failing_settle_fails_its_task_but_not_the_released_dependents() -> None:
    order, make = _recorder()

    def settle() -> None:
        raise RuntimeError("record not written")

    tasks = [
        Task("parent", make("parent"), settle=settle),
        Task("other", make("other")),
        Task("child", make("child"), depends_on=("parent", "other")),
    ]
    outcomes = run_graph(tasks, parallelism=1)
    assert outcomes["parent"].status is Status.FAILED
    assert str(outcomes["parent"].error) == "record not written"
    assert outcomes["child"].status is Status.SUCCEEDED
    assert sorted(order) == ["child", "other", "parent"]


def test_a_failing_run_skips_dependents_and_never_settles() -> None:
    settled: list[str] = []
    _, make = _recorder()
    tasks = [
        Task("parent", make("parent", fail=True), settle=lambda: settled.append("parent")),
        Task("child", make("child"), depends_on=("parent",)),
    ]
    outcomes = run_graph(tasks, parallelism=2)
    assert outcomes["child"].status is Status.SKIPPED
    assert settled == []
