"""The watcher's apply observer: every apply event becomes a JSON log line and a metric.

`WatchObserver` implements `outcomes.ApplyObserver` for `watching.cycle`: a started,
waiting and finished change is logged with its resource key, and each finished change is
counted in `WatchMetrics` by kind, action and outcome. It is called from the apply
engine's worker threads, so it only formats and counts (both thread-safe) and returns.
It never decides anything about the apply.
"""

from __future__ import annotations

from reconciler.outcomes import ApplyResult, Outcome
from reconciler.plans import Change
from reconciler.watching.logs import EventLog
from reconciler.watching.metrics import WatchMetrics


class WatchObserver:
    """Logs and counts apply progress."""

    def __init__(self, log: EventLog, metrics: WatchMetrics) -> None:
        self._log = log
        self._metrics = metrics

    def on_start(self, change: Change) -> None:
        self._log.event("change_started", key=change.key, action=change.action.value)

    def on_wait(self, change: Change, message: str) -> None:
        self._log.event(
            "change_waiting", key=change.key, action=change.action.value, message=message
        )

    def on_finish(
        self,
        change: Change,
        *,
        outcome: Outcome,
        duration: float,
        error: str | None = None,
        live_id: str | None = None,
    ) -> None:
        self._metrics.change_finished(change, outcome=outcome)
        self._log.event(
            "change_finished",
            level="error" if outcome is Outcome.FAILED else "info",
            key=change.key,
            action=change.action.value,
            outcome=outcome.value,
            duration=round(duration, 3),
            live_id=live_id,
            error=error,
        )

    def on_summary(self, result: ApplyResult) -> None:
        self._log.event(
            "apply_finished",
            level="info" if result.ok else "warning",
            duration=round(result.duration, 3),
            counts=dict(sorted(result.counts().items())),
        )
