"""What an apply did: per-change outcomes, the result, and the observer protocol.

Data only. `applying` produces these and reports through an `ApplyObserver` (Terraform's
hooks); `rendering` turns them into progress lines and summaries; `watching` counts them
into metrics. Kept below those layers so that none of them imports another.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Mapping
from typing import Protocol

from reconciler.plans import Action, Change
from reconciler.resources import ResourceKey

PARTICIPLES: Mapping[Action, str] = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.REPLACE: "replaced",
    Action.DELETE: "deleted",
    Action.DEPLOY: "deployed",
    Action.UNDEPLOY: "undeployed",
    Action.REDEPLOY: "redeployed",
    Action.ADOPT: "adopted",
    Action.PROBE: "probed",
    Action.NOOP: "unchanged",
}
"""The past participle of each action: `Connector/x: created`, `2 created`."""

PROBE_PASSED = "probe passed: "
"""How the wait event that reports a passed probe starts: `probe passed: embedding of
1024 dimensions`. Views keep these lines for the apply summary."""


class Outcome(enum.StrEnum):
    """How one change of an apply ended."""

    DONE = "done"
    """The server did what the change asked."""
    FAILED = "failed"
    """The server refused or the change timed out; dependents are skipped."""
    SKIPPED = "skipped"
    """Not attempted because a change it depends on failed, or the apply was stopped."""


@dataclasses.dataclass(frozen=True, slots=True)
class ChangeResult:
    """The end of one change."""

    key: ResourceKey
    action: Action
    outcome: Outcome
    live_id: str | None = None
    """The resource's ID after the change (the new one for creates and replaces)."""
    duration: float = 0.0
    """Seconds from start to finish."""
    error: str | None = None
    """For FAILED and SKIPPED: the reason, already free of secrets."""
    tally: tuple[Action, ...] = ()
    """What a done change counts as in the summary (`Change.tally`); empty means its
    action alone."""


@dataclasses.dataclass(frozen=True, slots=True)
class ApplyResult:
    """What an apply did, change by change."""

    results: tuple[ChangeResult, ...]
    duration: float = 0.0
    """Seconds for the whole apply."""

    @property
    def ok(self) -> bool:
        """Whether every change was done."""
        return all(r.outcome is Outcome.DONE for r in self.results)

    @property
    def failures(self) -> tuple[ChangeResult, ...]:
        """The changes that failed (not those skipped because of them)."""
        return tuple(r for r in self.results if r.outcome is Outcome.FAILED)

    def counts(self) -> Counter[str]:
        """Counts by word: `created`, `updated`, ... for what done changes did (a create
        that deployed counts `created` and `deployed`, as in the plan); `failed`, `skipped`
        per change."""
        counts: Counter[str] = Counter()
        for r in self.results:
            if r.outcome is Outcome.DONE:
                counts.update(PARTICIPLES[a] for a in r.tally or (r.action,))
            else:
                counts[r.outcome.value] += 1
        return counts


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeRun:
    """One model's probe run against the offline sandbox (`osml plan --probe-offline`)."""

    key: ResourceKey
    passed: bool
    detail: str
    """What the answer showed when passed; why it failed (scrubbed) otherwise."""


class ApplyObserver(Protocol):
    """What the apply engine tells the outside world; every method must return fast and
    may be called from several worker threads at once."""

    def on_start(self, change: Change) -> None:
        """A change is about to be sent."""

    def on_wait(self, change: Change, message: str) -> None:
        """A change is waiting on the server, e.g. `waiting for DEPLOYED (10s)`."""

    def on_finish(
        self,
        change: Change,
        *,
        outcome: Outcome,
        duration: float,
        error: str | None = None,
        live_id: str | None = None,
    ) -> None:
        """A change ended; `live_id` is the resource's ID afterwards when known."""

    def on_summary(self, result: ApplyResult) -> None:
        """The apply is over."""
