"""Run a dependency graph of tasks with bounded parallelism.

The applier hands over one task per plan change, each naming the tasks it depends on.
A task starts once all of its dependencies succeeded; when one fails, every task that
depends on it, directly or not, is skipped with a reason naming the failure, and the
rest of the graph goes on. A task may have a second part, `settle`: its dependents start
as soon as `run` returns, while `settle` finishes in the background (the applier writes
a state record there, which nothing downstream needs); a failing `settle` fails the task
but no longer its dependents. A stop event ends the run gracefully: running tasks finish,
no new task starts, the unstarted ones are reported as not started.
Generic: knows nothing of ML Commons, plans or the cluster.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import queue
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Status(enum.StrEnum):
    """How one task of the graph ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    """A dependency failed or was skipped."""
    NOT_STARTED = "not_started"
    """The run was stopped before the task could start."""


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome(Generic[K]):
    """The end of one task."""

    key: K
    status: Status
    error: BaseException | None = None
    """The exception of a failed task."""
    reason: str = ""
    """Why a task was skipped or not started."""


@dataclasses.dataclass(frozen=True, slots=True)
class Task(Generic[K]):
    """A unit of work and what must succeed before it."""

    key: K
    run: Callable[[], None]
    depends_on: tuple[K, ...] = ()
    settle: Callable[[], None] | None = None
    """Runs after `run`, once the dependents were let go."""


class _Event(enum.Enum):
    RELEASED = enum.auto()
    SUCCEEDED = enum.auto()
    FAILED = enum.auto()


def run_graph(
    tasks: Sequence[Task[K]],
    *,
    parallelism: int,
    stop: threading.Event | None = None,
) -> dict[K, Outcome[K]]:
    """Run every task whose dependencies succeed, at most `parallelism` at a time."""
    if parallelism < 1:
        raise ValueError("parallelism must be at least 1")
    return _Run(tasks, stop=stop or threading.Event()).execute(parallelism)


class _Run(Generic[K]):
    def __init__(self, tasks: Sequence[Task[K]], *, stop: threading.Event) -> None:
        self.tasks: Mapping[K, Task[K]] = {t.key: t for t in tasks}
        self.order = [t.key for t in tasks]
        self.stop = stop
        self.waiting: dict[K, set[K]] = {
            t.key: {d for d in t.depends_on if d in self.tasks} for t in tasks
        }
        self.dependents: dict[K, list[K]] = {t.key: [] for t in tasks}
        for task in tasks:
            for dep in self.waiting[task.key]:
                self.dependents[dep].append(task.key)
        self.outcomes: dict[K, Outcome[K]] = {}
        self.released: set[K] = set()
        self.ready: collections.deque[K] = collections.deque(
            k for k in self.order if not self.waiting[k]
        )

    def execute(self, parallelism: int) -> dict[K, Outcome[K]]:
        events: queue.SimpleQueue[tuple[_Event, K, BaseException | None]] = queue.SimpleQueue()
        running = 0
        with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="osml-apply") as pool:
            while True:
                while self.ready and running < parallelism and not self.stop.is_set():
                    key = self.ready.popleft()
                    self.waiting.pop(key)
                    pool.submit(self._work, self.tasks[key], events)
                    running += 1
                if not running:
                    break
                event, key, error = events.get()
                if event is _Event.RELEASED:
                    self._release(key)
                    continue
                running -= 1
                if event is _Event.SUCCEEDED:
                    self.outcomes[key] = Outcome(key, Status.SUCCEEDED)
                    self._release(key)
                else:
                    self.outcomes[key] = Outcome(key, Status.FAILED, error=error)
                    if key not in self.released:
                        self._skip_dependents(key, cause=key)
        for key in self.order:
            if key not in self.outcomes:
                self.outcomes[key] = Outcome(key, Status.NOT_STARTED, reason="apply was stopped")
        return {key: self.outcomes[key] for key in self.order}

    @staticmethod
    def _work(
        task: Task[K], events: queue.SimpleQueue[tuple[_Event, K, BaseException | None]]
    ) -> None:
        for step in (task.run, task.settle):
            if step is None:
                break
            try:
                step()
            except BaseException as exc:  # reported as the task's failure
                events.put((_Event.FAILED, task.key, exc))
                return
            if step is task.run and task.settle is not None:
                events.put((_Event.RELEASED, task.key, None))
        events.put((_Event.SUCCEEDED, task.key, None))

    def _release(self, key: K) -> None:
        """Let the dependents of `key` start (once each; a second call does nothing)."""
        self.released.add(key)
        for dependent in self.dependents[key]:
            pending = self.waiting.get(dependent)
            if pending is not None and key in pending:
                pending.discard(key)
                if not pending:
                    self.ready.append(dependent)

    def _skip_dependents(self, key: K, *, cause: K) -> None:
        for dependent in self.dependents[key]:
            if dependent in self.waiting:
                self.waiting.pop(dependent)
                reason = f"skipped because {cause} failed"
                self.outcomes[dependent] = Outcome(dependent, Status.SKIPPED, reason=reason)
                self._skip_dependents(dependent, cause=cause)
