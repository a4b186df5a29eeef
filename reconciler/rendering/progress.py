"""Apply progress views: the observers the CLI hands to the apply engine.

The engine reports through the `ApplyObserver` protocol of `reconciler.outcomes`
(Terraform's hooks) as each change starts, waits (for a task, for DEPLOYED) and
finishes, then once with the `ApplyResult`. `TextProgress` turns those events into
lines such as `Connector/openai-chat: created (id abc) [1.2s]` and hands each to a sink
the CLI supplies; `RecordingObserver` keeps them so tests count events instead of
parsing text (the watcher has its own, in `watching.observing`). Observers may be called
from several worker threads at once, so both take a lock. Nothing here prints
itself, and control characters in server messages are neutralised before the sink.
"""

from __future__ import annotations

import threading
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


class TextProgress:
    """Writes one line per event through `sink` (the CLI passes `click.echo`)."""

    def __init__(self, sink: Callable[[str], object]) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._probes: dict[ResourceKey, str] = {}

    def on_start(self, change: Change) -> None:
        how = f" ({change.strategy.value.replace('_', ' ')})" if change.strategy else ""
        self._write(f"{change.key}: {_GERUNDS[change.action]}{how}...")

    def on_wait(self, change: Change, message: str) -> None:
        if message.startswith(PROBE_PASSED):
            with self._lock:
                self._probes[change.key] = message
        self._write(f"{change.key}: {message}")

    def on_finish(
        self,
        change: Change,
        *,
        outcome: Outcome,
        duration: float,
        error: str | None = None,
        live_id: str | None = None,
    ) -> None:
        self._write(
            finish_line(change, outcome=outcome, duration=duration, error=error, live_id=live_id)
        )

    def on_summary(self, result: ApplyResult) -> None:
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
