"""Put a plan's changes in execution order and fill in what each one waits for.

Create order: settings and trusted endpoints, model groups, connectors, models, deploys
and consumers (pipelines, agents); deletes in reverse (undeploy, delete consumers, delete
model, delete connector, delete group, settings).
Dependencies come from the changes themselves (reference markers, models that must leave a
connector before it is deleted) plus one rule: a document change waits for every settings
change, since trusted endpoints must be in place before a connector is created (§10). Only
dependencies on changes that do something are kept. `--target` keeps the targeted changes
and, transitively, what they depend on and what must finish before they retire the old
resource (`Change.retire_after`).

A heap-based topological sort: O(n log n + edges), fine for plans of thousands of changes.
Called by `planning.making`; pure.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterable, Mapping, Sequence

from reconciler.errors import PlanError
from reconciler.plans import Action, Change
from reconciler.resources import Kind, ResourceKey

_CREATE_PHASE = {
    Kind.ACCESS_CONTROL: 0,
    Kind.TRUSTED_ENDPOINTS: 0,
    Kind.MODEL_GROUP: 1,
    Kind.CONNECTOR: 2,
    Kind.MODEL: 3,
    # Consumers once what they name exists (their references also make them wait).
    Kind.INGEST_PIPELINE: 4,
    Kind.SEARCH_PIPELINE: 4,
    Kind.AGENT: 4,
}
_DEPLOY_PHASE = 4
_UNDEPLOY_PHASE = 5
_DELETE_PHASE = {
    # Consumers go before what they name (`planning.impacts` makes the deletes wait too).
    Kind.SEARCH_PIPELINE: 5,
    Kind.INGEST_PIPELINE: 5,
    Kind.AGENT: 5,
    Kind.MODEL: 6,
    Kind.CONNECTOR: 7,
    Kind.MODEL_GROUP: 8,
    Kind.TRUSTED_ENDPOINTS: 9,
    Kind.ACCESS_CONTROL: 9,
}


def phase(change: Change) -> int:
    """Where a change goes in the create-then-delete order."""
    if change.action is Action.DELETE:
        return _DELETE_PHASE[change.key.kind]
    if change.action is Action.UNDEPLOY:
        return _UNDEPLOY_PHASE
    if change.action in (Action.DEPLOY, Action.REDEPLOY, Action.PROBE):
        return _DEPLOY_PHASE
    return _CREATE_PHASE[change.key.kind]


def order(changes: Iterable[Change], *, targets: Sequence[ResourceKey] = ()) -> tuple[Change, ...]:
    """The changes in execution order, `depends_on` filled in, narrowed to `targets`."""
    by_key = {change.key: change for change in changes}
    acting = {key for key, change in by_key.items() if change.is_change}
    settings = sorted(
        key for key in acting if key.kind.is_setting and by_key[key].action is not Action.DELETE
    )
    linked = {key: _linked(change, acting, settings) for key, change in by_key.items()}
    if targets:
        linked = _narrow(linked, targets, references=by_key)
    return _sorted(linked)


def _linked(change: Change, acting: set[ResourceKey], settings: list[ResourceKey]) -> Change:
    """`change` with its dependencies filled in; copied only when they differ (a big,
    quiet plan is mostly no-ops, and copying a frozen dataclass is not free)."""
    depends_on = _dependencies(change, acting, settings)
    retire_after = tuple(key for key in change.retire_after if key in acting)
    if depends_on == change.depends_on and retire_after == change.retire_after:
        return change
    return dataclasses.replace(change, depends_on=depends_on, retire_after=retire_after)


def _dependencies(
    change: Change, acting: set[ResourceKey], settings: list[ResourceKey]
) -> tuple[ResourceKey, ...]:
    if not change.is_change:
        return ()
    found = set(change.depends_on)
    if not change.key.kind.is_setting and change.action is not Action.DELETE:
        found.update(settings)
    found.discard(change.key)
    return tuple(sorted((key for key in found if key in acting), key=_sort_key))


def _narrow(
    changes: Mapping[ResourceKey, Change],
    targets: Sequence[ResourceKey],
    *,
    references: Mapping[ResourceKey, Change],
) -> dict[ResourceKey, Change]:
    """The targeted changes plus everything they transitively depend on.

    A target with nothing to do still brings in what it refers to (`references`, the
    changes before their dependencies were narrowed to acting ones): `--target Model/x`
    plans the pending changes of its group and connector even when the model is current.
    """
    unknown = [str(t) for t in targets if t not in changes]
    if unknown:
        raise PlanError(f"unknown target(s): {', '.join(unknown)}; no such resource in the plan")
    kept: dict[ResourceKey, Change] = {}
    stack = list(targets)
    while stack:
        key = stack.pop()
        if key in kept:
            continue
        kept[key] = changes[key]
        # What retires the old resource must run too: a connector replaced before 2.12
        # cannot be deleted while its old models exist (§2.10).
        wanted = {
            *changes[key].depends_on,
            *references[key].depends_on,
            *changes[key].retire_after,
        }
        stack.extend(dep for dep in wanted if dep in changes)
    return kept


def _sort_key(key: ResourceKey) -> tuple[int, str]:
    return key.sort_key


def _sorted(changes: Mapping[ResourceKey, Change]) -> tuple[Change, ...]:
    """Kahn's algorithm, taking the lowest (phase, kind, name) ready change each time."""
    waiting = {key: len(change.depends_on) for key, change in changes.items()}
    dependents: dict[ResourceKey, list[ResourceKey]] = {key: [] for key in changes}
    for key, change in changes.items():
        for dep in change.depends_on:
            dependents[dep].append(key)
    ready = [_rank(change) for key, change in changes.items() if not waiting[key]]
    heapq.heapify(ready)
    result: list[Change] = []
    while ready:
        *_, key = heapq.heappop(ready)
        result.append(changes[key])
        for follower in dependents[key]:
            waiting[follower] -= 1
            if not waiting[follower]:
                heapq.heappush(ready, _rank(changes[follower]))
    if len(result) != len(changes):
        stuck = sorted(str(key) for key, count in waiting.items() if count)
        raise PlanError(f"changes depend on each other in a cycle: {', '.join(stuck)}")
    return tuple(result)


def _rank(change: Change) -> tuple[int, int, str, ResourceKey]:
    return (phase(change), change.key.kind.rank, change.key.name, change.key)
