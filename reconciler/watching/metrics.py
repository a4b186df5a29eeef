"""What `osml watch` counts, and the Prometheus text exposition of it.

`WatchMetrics` holds the watcher's counters, gauges and the cycle-duration histogram;
the loop and the cycle observer update it from any thread, and `serving` renders it on
`GET /metrics` in the text exposition format 0.0.4, written here by hand so that osml
needs no metrics library and no process-global registry. Label values are escaped as
the format demands. This module counts and renders; it does no I/O and never sees a
secret (labels are kinds, actions, resource keys and trigger names only).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping, Sequence

from reconciler.outcomes import Outcome
from reconciler.plans import Change
from reconciler.resources import ResourceKey

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The media type of the text exposition format."""

DURATION_BUCKETS: tuple[float, ...] = (
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
)
"""Upper bounds, in seconds, of the cycle-duration histogram; a cycle that deploys waits
for the server, so the range reaches minutes."""

Labels = tuple[tuple[str, str], ...]


class Family:
    """One metric family: a name, help text, type and a value per label set."""

    def __init__(self, name: str, help_text: str, kind: str) -> None:
        self.name = name
        self.help = help_text
        self.kind = kind
        """`counter` or `gauge`."""
        self.values: dict[Labels, float] = {}

    def add(self, amount: float = 1.0, **labels: str) -> None:
        """Add to the value of one label set (counters only go up)."""
        key = _labels(labels)
        self.values[key] = self.values.get(key, 0.0) + amount

    def set(self, value: float, **labels: str) -> None:
        """Set the value of one label set (gauges)."""
        self.values[_labels(labels)] = value

    def replace(self, values: Mapping[Labels, float]) -> None:
        """Set the whole family at once, dropping label sets no longer present."""
        self.values = dict(values)

    def lines(self) -> Iterator[str]:
        """The exposition lines of this family."""
        yield f"# HELP {self.name} {_escape_help(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_render_labels(labels)} {_number(value)}"


class Histogram:
    """A histogram without labels: cumulative buckets, sum and count."""

    def __init__(self, name: str, help_text: str, *, buckets: Sequence[float]) -> None:
        self.name = name
        self.help = help_text
        self.bounds = tuple(sorted(buckets))
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count one observation in every bucket whose bound it does not exceed."""
        for index, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[index] += 1
        self.sum += value
        self.count += 1

    def lines(self) -> Iterator[str]:
        """The exposition lines: `_bucket` per bound and `+Inf`, then `_sum` and `_count`."""
        yield f"# HELP {self.name} {_escape_help(self.help)}"
        yield f"# TYPE {self.name} histogram"
        for bound, count in zip(self.bounds, self.counts, strict=True):
            yield f'{self.name}_bucket{{le="{_number(bound)}"}} {count}'
        yield f'{self.name}_bucket{{le="+Inf"}} {self.count}'
        yield f"{self.name}_sum {_number(self.sum)}"
        yield f"{self.name}_count {self.count}"


class WatchMetrics:
    """Everything `/metrics` shows about one watcher; safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cycles = Family(
            "osml_watch_cycles_total", "Reconcile cycles run, by trigger and result.", "counter"
        )
        self.drift = Family(
            "osml_watch_drift_total",
            "Changes found by a plan (drift or manifest edits), by kind and action.",
            "counter",
        )
        self.applied = Family(
            "osml_watch_changes_applied_total", "Changes applied, by kind and action.", "counter"
        )
        self.failed = Family(
            "osml_watch_changes_failed_total", "Changes that failed, by kind and action.", "counter"
        )
        self.last_success = Family(
            "osml_watch_last_success_timestamp_seconds",
            "Unix time of the end of the last successful cycle.",
            "gauge",
        )
        self.leader = Family(
            "osml_watch_lock_held", "1 while this watcher holds the state lock.", "gauge"
        )
        self.paused = Family(
            "osml_watch_paused", "1 while this watcher is paused (it changes nothing).", "gauge"
        )
        self.backoff_failures = Family(
            "osml_watch_resource_failures",
            "Consecutive failed attempts of a resource now in backoff.",
            "gauge",
        )
        self.backoff_seconds = Family(
            "osml_watch_resource_backoff_seconds",
            "Seconds the next attempt of a failing resource is held back.",
            "gauge",
        )
        self.duration = Histogram(
            "osml_watch_cycle_duration_seconds",
            "Duration of reconcile cycles.",
            buckets=DURATION_BUCKETS,
        )

    def cycle_finished(
        self, *, trigger: str, result: str, duration: float, success_at: float | None
    ) -> None:
        """Count a cycle; `success_at` (Unix time) when it succeeded."""
        with self._lock:
            self.cycles.add(trigger=trigger, result=result)
            self.duration.observe(duration)
            if success_at is not None:
                self.last_success.set(success_at)

    def drift_found(self, change: Change) -> None:
        """Count one change a plan found."""
        with self._lock:
            self.drift.add(kind=change.key.kind.value, action=change.action.value)

    def change_finished(self, change: Change, *, outcome: Outcome) -> None:
        """Count one applied or failed change; skipped changes are not counted."""
        family = {Outcome.DONE: self.applied, Outcome.FAILED: self.failed}.get(outcome)
        if family is None:
            return
        with self._lock:
            family.add(kind=change.key.kind.value, action=change.action.value)

    def lock_held(self, held: bool) -> None:
        """Whether this watcher holds the state lock now."""
        with self._lock:
            self.leader.set(1.0 if held else 0.0)

    def pause(self, paused: bool) -> None:
        """Whether this watcher is paused now."""
        with self._lock:
            self.paused.set(1.0 if paused else 0.0)

    def backoffs(self, held_back: Mapping[ResourceKey, tuple[int, float]]) -> None:
        """The resources in backoff now: key -> (consecutive failures, seconds held back)."""
        with self._lock:
            self.backoff_failures.replace(
                {_labels({"resource": str(k)}): float(f) for k, (f, _) in held_back.items()}
            )
            self.backoff_seconds.replace(
                {_labels({"resource": str(k)}): s for k, (_, s) in held_back.items()}
            )

    def render(self) -> str:
        """The whole exposition, ending with a newline."""
        with self._lock:
            families = (
                self.cycles, self.drift, self.applied, self.failed, self.last_success,
                self.leader, self.paused, self.backoff_failures, self.backoff_seconds,
                self.duration,
            )  # fmt: skip
            return "".join(f"{line}\n" for family in families for line in family.lines())


def _labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _render_labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{name}="{escape_label(value)}"' for name, value in labels)
    return "{" + inner + "}"


def escape_label(value: str) -> str:
    """A label value as the text format wants it: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    """Integers without a fraction, others as Python's shortest repr; NaN and infinities
    as the format spells them."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
