"""How long `osml watch` holds back after failures: the whole cycle, and single resources.

`Delays` is a capped exponential sequence. `CycleBackoff` counts consecutive failed
cycles (the cluster unreachable, a stale plan) and says how long to wait before the
next; a good cycle resets it. `ResourceBackoff` remembers, per resource, how often its
change failed in a row and until when it is held back, so that a model whose deploy
keeps failing is retried with growing gaps instead of at every tick. `hold_back`
removes held-back changes from a plan together with every change that depends on them,
so the filtered plan stays consistent. Called by `watching.cycle` and `watching.loop`;
no clock of its own: callers pass "now" in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping

from reconciler.plans import Change, Plan
from reconciler.resources import ResourceKey


@dataclasses.dataclass(frozen=True, slots=True)
class Delays:
    """`initial`, then times `factor` after each failure, never above `maximum`."""

    initial: float
    maximum: float
    factor: float = 2.0

    def after(self, failures: int) -> float:
        """The delay after `failures` consecutive failures (at least one)."""
        exponent = max(failures, 1) - 1
        # Cap the exponent so a long outage cannot overflow the float.
        return min(self.maximum, self.initial * self.factor ** min(exponent, 64))


class CycleBackoff:
    """Consecutive failed cycles and the wait before the next one."""

    def __init__(self, delays: Delays) -> None:
        self.delays = delays
        self.failures = 0

    def failed(self) -> float:
        """Count a failed cycle; the seconds to wait before the next."""
        self.failures += 1
        return self.delays.after(self.failures)

    def reset(self) -> None:
        """A cycle went well: the next failure starts from the initial delay again."""
        self.failures = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Hold:
    """One resource in backoff."""

    failures: int
    """Consecutive failed attempts."""
    until: float
    """Clock time before which it is not attempted again."""


class ResourceBackoff:
    """Per-resource failure counts; a resource is held back until its delay has passed."""

    def __init__(self, delays: Delays) -> None:
        self.delays = delays
        self._holds: dict[ResourceKey, Hold] = {}

    def failed(self, key: ResourceKey, *, now: float) -> Hold:
        """Count a failure of `key`'s change; its new hold."""
        previous = self._holds.get(key)
        failures = previous.failures + 1 if previous else 1
        hold = Hold(failures, now + self.delays.after(failures))
        self._holds[key] = hold
        return hold

    def succeeded(self, key: ResourceKey) -> None:
        """`key`'s change went through: forget its failures."""
        self._holds.pop(key, None)

    def forget_except(self, keys: Collection[ResourceKey]) -> None:
        """Drop holds of resources no longer planned (fixed by hand, or left the manifests)."""
        for key in list(self._holds):
            if key not in keys:
                del self._holds[key]

    def held(self, *, now: float) -> dict[ResourceKey, Hold]:
        """The resources still held back at `now`."""
        return {k: h for k, h in self._holds.items() if h.until > now}

    def status(self, *, now: float) -> Mapping[ResourceKey, tuple[int, float]]:
        """Every resource with failures: (consecutive failures, seconds still held back)."""
        return {k: (h.failures, max(0.0, h.until - now)) for k, h in self._holds.items()}


def hold_back(plan: Plan, keys: Collection[ResourceKey]) -> tuple[Plan, tuple[Change, ...]]:
    """`plan` without the changes of `keys` and their dependents; also what was removed.

    Dependents go too, or apply would start a change whose prerequisite never ran.
    Changes are in dependency order, so one pass sees every prerequisite first.
    """
    removed: set[ResourceKey] = set()
    kept: list[Change] = []
    dropped: list[Change] = []
    for change in plan.changes:
        blocked = change.is_change and (
            change.key in keys or any(dep in removed for dep in change.depends_on)
        )
        if blocked:
            removed.add(change.key)
            dropped.append(change)
        else:
            kept.append(change)
    return dataclasses.replace(plan, changes=tuple(kept)), tuple(dropped)
