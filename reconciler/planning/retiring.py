"""When the old resource of a connector replace before 2.12 is retired.

Before 2.12 a model cannot be repointed (§6.8) and a connector cannot be deleted while any
model document references it (§2.10). So a connector replace with referencing models
(`Strategy.REREGISTER`) creates the new connector first, each affected model registers
again on it through its own replace (new model first, then the old one deleted), and
the old connector is deleted only after the last of those changes finished: its
`Change.retire_after` lists them, and a pruned model that used it too. A managed model
with no change in this plan (its manifest left, pruning off) keeps the old connector,
which then cannot be deleted: the plan warns, as for models osml does not manage.

Agents that must be registered again before a model they name is deleted get onto the
model's `retire_after` in `planning.impacts`. Called by `planning.making` once every
change is decided; pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from reconciler.planning.situations import Findings
from reconciler.plans import Action, Change, Strategy
from reconciler.resources import ResourceKey

_REMOVING = (Action.REPLACE, Action.DELETE)
"""The model changes that take an old model off the connector."""


def schedule_retirements(changes: Sequence[Change], *, findings: Findings) -> list[Change]:
    """`changes` with each re-registering connector retired after its models' changes."""
    planned = {change.key: change for change in changes}
    return [
        _retire_after_models(c, planned=planned, findings=findings)
        if c.strategy is Strategy.REREGISTER
        else c
        for c in changes
    ]


def _retire_after_models(
    change: Change, *, planned: Mapping[ResourceKey, Change], findings: Findings
) -> Change:
    removing = tuple(
        m for m in change.affected if (c := planned.get(m)) is not None and c.action in _REMOVING
    )
    staying = [m for m in change.affected if m not in removing]
    if staying:
        findings.warnings.append(
            f"{change.key}: {', '.join(map(str, staying))} (no manifest, not pruned) still "
            "uses the old connector, which therefore cannot be deleted; prune it or give "
            "it a manifest"
        )
    retire = (*change.retire_after, *(m for m in removing if m not in change.retire_after))
    return dataclasses.replace(change, affected=removing, retire_after=retire)
