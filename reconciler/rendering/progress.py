"""Apply progress views: the observers the CLI hands to the apply engine.

The engine reports through the `ApplyObserver` protocol of `reconciler.outcomes`
(Terraform's hooks) as each change starts, waits (for a task, for DEPLOYED) and
finishes, then once with the `ApplyResult`. `TextProgress` turns those events into
lines such as `Connector/openai-chat: created (id abc) [1.2s]` and hands each to a sink
the CLI supplies. Given `every`, it also says, every that many seconds, what is still
running, as Terraform does: `Model/chat: still deploying (waiting for DEPLOYED)... [20s
elapsed]`, from a daemon thread that ends with the summary. `interrupted_lines` says what
an interrupted apply did and did not do. `RecordingObserver` keeps the events so tests
count them instead of parsing text (the watcher has its own, in `watching.observing`).
Observers may be called from several worker threads at once, so both take a lock.
Nothing here prints itself, and control characters in server messages are neutralised
before the sink.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable

from reconciler.outcomes import PARTICIPLES, PROBE_PASSED, ApplyResult, Outcome
from reconciler.plans import Action, Change
from reconciler.rendering import formatting
from reconciler.resources import ResourceKey

_GERUNDS = {
    Action.CREATE: "creating",
    Action.UPDATE: "updating",
    Action.REPLACE: "replacing",
    Action.DELETE: "deleting",
    Action.DEPLOY: "deploying",
    Action.UNDEPLOY: "undeploying",
    Action.REDEPLOY: "redeploying",
    Action.ADOPT: "adopting",
    Action.PROBE: "probing",
    Action.NOOP: "checking",
}
_CORE = ("created", "updated", "replaced", "deployed", "deleted")
"""Always in the summary line, even at zero (then `failed`, also always)."""
_EXTRA = ("undeployed", "redeployed", "adopted", "probed")
"""In the summary line only when non-zero, before `failed`."""


def summary_line(result: ApplyResult) -> str:
    """`Apply complete: 2 created, 1 updated, 1 replaced, 1 deployed, 0 deleted, 0 failed.`"""
    counts = result.counts()
    words = [*_CORE, *(w for w in _EXTRA if counts[w]), "failed"]
    if counts["skipped"]:
        words.append("skipped")
    head = "Apply complete" if result.ok else "Apply finished with errors"
    return f"{head}: {formatting.count_words((counts[w], w) for w in words)}."


def duration_text(seconds: float) -> str:
    """`1.2s` under a minute, `2m05s` above."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


@dataclasses.dataclass
class _Running:
    change: Change
    started: float
    waiting: str = ""
    """The last wait message, e.g. `waiting for DEPLOYED`."""


class TextProgress:
    """Writes one line per event through `sink` (the CLI passes `click.echo`), and with
    `every`, a line per running change every `every` seconds."""

    def __init__(
        self,
        sink: Callable[[str], object],
        *,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._probes: dict[ResourceKey, str] = {}
        self._every = every
        self._clock = clock
        self._running: dict[ResourceKey, _Running] = {}
        self._done = threading.Event()
        self._ticker: threading.Thread | None = None

    def on_start(self, change: Change) -> None:
        how = f" ({change.strategy.value.replace('_', ' ')})" if change.strategy else ""
        with self._lock:
            self._running[change.key] = _Running(change, self._clock())
        self._write(f"{change.key}: {_GERUNDS[change.action]}{how}...")
        self._start_ticking()

    def on_wait(self, change: Change, message: str) -> None:
        with self._lock:
            if message.startswith(PROBE_PASSED):
                self._probes[change.key] = message
            running = self._running.get(change.key)
            if running is not None:
                running.waiting = message
        self._write(f"{change.key}: {message}")

    def tick(self) -> None:
        """One `still ...` line per change running now (the ticker calls this)."""
        now = self._clock()
        with self._lock:
            running = sorted(self._running.values(), key=lambda r: r.change.key.sort_key)
        for each in running:
            self._write(still_line(each.change, elapsed=now - each.started, waiting=each.waiting))

    def close(self) -> None:
        """Stop the ticker (the summary does this too)."""
        self._done.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join()

    def _start_ticking(self) -> None:
        with self._lock:
            if self._every is None or self._ticker is not None or self._done.is_set():
                return
            self._ticker = threading.Thread(
                target=self._tick_loop, args=(self._every,), name="osml-progress", daemon=True
            )
            self._ticker.start()

    def _tick_loop(self, every: float) -> None:
        while not self._done.wait(every):
            self.tick()

    def on_finish(
        self,
        change: Change,
        *,
        outcome: Outcome,
        duration: float,
        error: str | None = None,
        live_id: str | None = None,
    ) -> None:
        with self._lock:
            self._running.pop(change.key, None)
        self._write(
            finish_line(change, outcome=outcome, duration=duration, error=error, live_id=live_id)
        )

    def on_summary(self, result: ApplyResult) -> None:
        self.close()
        lines = [summary_line(result)]
        for failure in result.failures:
            reason = _without_prefix(failure.error or "", failure.key)
            lines.append(f"  {failure.key}: {_failure(failure.action, reason)}")
        with self._lock:
            probes = sorted(self._probes.items(), key=lambda item: str(item[0]))
        lines.extend(f"  {key}: {message}" for key, message in probes)
        self._write("\n".join(lines))

    def _write(self, line: str) -> None:
        # Workers finish concurrently; one line at a time keeps the output readable.
        with self._lock:
            self._sink(formatting.printable(line))


def finish_line(
    change: Change,
    *,
    outcome: Outcome,
    duration: float,
    error: str | None = None,
    live_id: str | None = None,
) -> str:
    """`Connector/x: created (id abc) [1.2s]`, `... update failed [0.4s]: reason`."""
    took = f"[{duration_text(duration)}]"
    if outcome is Outcome.DONE:
        ident = live_id or change.live_id
        id_text = f" (id {ident})" if ident else ""
        return f"{change.key}: {PARTICIPLES[change.action]}{id_text} {took}"
    reason = _without_prefix(error or "", change.key)
    if outcome is Outcome.SKIPPED:
        return f"{change.key}: skipped: {reason or 'a change it depends on failed'}"
    return f"{change.key}: {_failure(change.action, reason)} {took}"


def still_line(change: Change, *, elapsed: float, waiting: str = "") -> str:
    """`Model/chat: still deploying (waiting for DEPLOYED)... [20s elapsed]`."""
    what = f" ({waiting})" if waiting else ""
    return f"{change.key}: still {_GERUNDS[change.action]}{what}... [{_elapsed(elapsed)} elapsed]"


def _elapsed(seconds: float) -> str:
    """`20s`, `1m05s`: whole seconds, as a heartbeat needs no more."""
    whole = int(seconds)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"


def interrupted_lines(result: ApplyResult) -> list[str]:
    """What an apply stopped by an interrupt did and did not do, for the end of the output."""
    done = [r.key for r in result.results if r.outcome is Outcome.DONE]
    failed = [r.key for r in result.results if r.outcome is Outcome.FAILED]
    unrun = [r.key for r in result.results if r.outcome is Outcome.SKIPPED]
    counts = [f"{len(done)} done"] + ([f"{len(failed)} failed"] if failed else [])
    lines = [
        f"Interrupted: {', '.join(counts)}, {len(unrun)} not started. The changes in flight "
        "were finished and recorded; the state lock was released."
    ]
    for label, keys in (("done", done), ("failed", failed), ("not started", unrun)):
        if keys:
            lines.append(f"  {label}: {', '.join(str(k) for k in keys)}")
    if unrun or failed:
        lines.append("Run the apply again to do the rest.")
    return lines


def _failure(action: Action, reason: str) -> str:
    """`update failed (409): reason`, whether or not the error already said `update failed`."""
    if reason.startswith(f"{action.value} failed"):
        return reason
    return f"{action.value} failed" + (f": {reason}" if reason else "")


def _without_prefix(message: str, key: ResourceKey) -> str:
    # Errors already start with `Kind/name: ` (errors.py); do not say it twice.
    prefix = f"{key}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


class RecordingObserver:
    """Keeps every event, for tests: `events` in order and `counts` by event name."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ResourceKey | None, str]] = []
        """(event, key, detail): detail is the outcome, the wait message or ''."""
        self.results: list[ApplyResult] = []
        self._lock = threading.Lock()

    @property
    def counts(self) -> Counter[str]:
        """How many times each event (`start`, `wait`, `finish`, `summary`) happened."""
        return Counter(event for event, _, _ in self.events)

    def outcomes(self) -> dict[ResourceKey, Outcome]:
        """The last outcome reported for each change."""
        return {k: Outcome(d) for e, k, d in self.events if e == "finish" and k is not None}

    def on_start(self, change: Change) -> None:
        self._record("start", change.key, "")

    def on_wait(self, change: Change, message: str) -> None:
        self._record("wait", change.key, message)

    def on_finish(
        self,
        change: Change,
        *,
        outcome: Outcome,
        duration: float,
        error: str | None = None,
        live_id: str | None = None,
    ) -> None:
        self._record("finish", change.key, outcome.value)

    def on_summary(self, result: ApplyResult) -> None:
        with self._lock:
            self.results.append(result)
        self._record("summary", None, summary_line(result))

    def _record(self, event: str, key: ResourceKey | None, detail: str) -> None:
        with self._lock:
            self.events.append((event, key, detail))
