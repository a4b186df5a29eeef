"""Impact analysis and rewiring: the pipelines, agents and indices that use what a plan
deletes, gives a new ID or takes offline.

The server checks no reference from a consumer (CONS §6): a pipeline that names a deleted
model fails at its next write or search. So for every change that

* gives a resource a new ID (a model or agent replace, a connector swap or replace),
* deletes it (a prune), or
* takes a model offline for a while (undeploy, redeploy, a connector `recreate`),

the plan lists each live consumer that names it (`Situation.uses`, managed or not) on
`Change.consumers`, and decides what happens to it:

* a managed consumer that references it (`{ref: Model/NAME}`) is **rewired**: its change
  becomes an update to the new ID that waits for the replacement, and the replacing change
  re-sends it (`Change.affected`) after the new resource answers and before the old one is
  deleted, so no moment has the consumer naming a deleted resource (applying.acting);
  an agent before 3.1 cannot be updated, so it is registered again with the new ID, and
  the replacing change retires the old resource only after that (`Change.retire_after`);
* any other use (an unmanaged pipeline or agent, an index default, a raw ID) would break:
  the plan is refused with the consumer's name, unless the user allows it
  (`--allow-breaking-consumers`, or `lifecycle.allow_breaking_consumers` on the model),
  and then the break is a review note.

Called by `planning.making` once every change is decided; pure.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection, Mapping, Sequence

from reconciler.manifests.references import REFERABLE
from reconciler.planning.consuming import agent_updatable, references
from reconciler.planning.situations import Findings, Situation, Use
from reconciler.plans import Action, Change, FieldChange, Strategy
from reconciler.resources import Kind, ResourceKey

ALLOW_FLAG = "--allow-breaking-consumers"


class Effect(enum.Enum):
    """What a change does to the resource its consumers name."""

    NEW_ID = "gets a new ID"
    GONE = "is deleted"
    OFFLINE = "is undeployed for a while"


@dataclasses.dataclass(frozen=True)
class Allowance:
    """Where breaking a consumer was allowed."""

    everywhere: bool = False
    """`--allow-breaking-consumers`."""
    models: Collection[ResourceKey] = ()
    """Models whose manifest (or, once pruned, last applied lifecycle) sets
    `lifecycle.allow_breaking_consumers`."""

    def covers(self, key: ResourceKey) -> str | None:
        """Why breaking the consumers of `key` is allowed; None when it is not."""
        if self.everywhere:
            return ALLOW_FLAG
        if key in self.models:
            return "lifecycle.allow_breaking_consumers"
        return None


def wire_consumers(
    changes: Sequence[Change],
    *,
    situation: Situation,
    findings: Findings,
    allowance: Allowance,
) -> list[Change]:
    """`changes` with consumer impacts listed, managed consumers rewired, and every break
    that was not allowed reported to `findings.problems`."""
    out = list(changes)
    where = {change.key: i for i, change in enumerate(out)}
    for i in range(len(out)):
        for target, live_id, effect in _effects(out[i], out, where):
            uses = situation.uses.get((target.kind, live_id), ())
            if uses:
                _weigh(i, target, live_id, effect, uses, out=out, where=where,
                       situation=situation, findings=findings, allowance=allowance)  # fmt: skip
    return out


def _effects(
    change: Change, changes: Sequence[Change], where: Mapping[ResourceKey, int]
) -> list[tuple[ResourceKey, str, Effect]]:
    """(resource, its live ID, effect) for what `change` does to named resources."""
    key, live_id = change.key, change.live_id
    if live_id is None or key.kind.is_setting:
        return []
    action = change.action
    if action is Action.DELETE:
        return [(key, live_id, Effect.GONE)]
    if key.kind is Kind.MODEL:
        if action is Action.REPLACE:
            return [(key, live_id, Effect.NEW_ID)]
        if action in (Action.UNDEPLOY, Action.REDEPLOY) or change.undeploy_first:
            return [(key, live_id, Effect.OFFLINE)]
        return []
    if key.kind is Kind.CONNECTOR:
        found = []
        if action is Action.REPLACE or change.strategy is Strategy.SWAP:
            found.append((key, live_id, Effect.NEW_ID))
        if change.strategy is Strategy.RECREATE:
            for model in change.affected:
                planned = changes[where[model]] if model in where else None
                if planned is not None and planned.live_id is not None:
                    found.append((model, planned.live_id, Effect.OFFLINE))
        return found
    if key.kind is Kind.AGENT and action is Action.REPLACE:
        return [(key, live_id, Effect.NEW_ID)]
    return []


def _weigh(
    i: int,
    target: ResourceKey,
    live_id: str,
    effect: Effect,
    uses: Sequence[Use],
    *,
    out: list[Change],
    where: Mapping[ResourceKey, int],
    situation: Situation,
    findings: Findings,
    allowance: Allowance,
) -> None:
    """Decide each use of `target` and record it on the change at `i`."""
    lines: list[str] = []
    rewired: list[ResourceKey] = []
    renewed: list[ResourceKey] = []
    first: list[ResourceKey] = []
    notes: list[str] = []
    for use in uses:
        planned = out[where[use.key]] if use.key is not None and use.key in where else None
        if planned is not None and planned.action is Action.DELETE:
            assert use.key is not None
            lines.append(f"{use.consumer}: deleted before it")
            first.append(use.key)
            continue
        if (
            planned is not None
            and use.key is not None
            and planned.after is not None
            and target in references(planned.after)
        ):
            if effect is Effect.OFFLINE:
                lines.append(f"{use.consumer}: {use.path}: fails while {target} is offline")
                continue
            if effect is Effect.NEW_ID:
                line, change = _rewire(planned, use, target, live_id, situation=situation)
                out[where[use.key]] = change
                lines.append(line)
                (renewed if change.action is Action.REPLACE else rewired).append(use.key)
                continue
        if effect is Effect.OFFLINE:
            lines.append(f"{use.consumer}: {use.path}: fails while {target} is offline")
            continue
        allowed = allowance.covers(target)
        if allowed is None:
            findings.problems.append(_refusal(target, live_id, effect, use))
            lines.append(f"{use.consumer}: {use.path}: breaks (refused)")
            continue
        lines.append(f"{use.consumer}: {use.path}: breaks (allowed by {allowed})")
        notes.append(
            f"breaks {use.consumer}: {use.path} names {live_id}, which {effect.value} "
            f"(allowed by {allowed})"
        )
    change = out[i]
    if target != change.key:
        lines = [f"{target}: {line}" for line in lines]
    reasons = change.reasons
    if rewired:
        names = ", ".join(str(key) for key in rewired)
        reasons = (*reasons, f"rewires {names} to the new ID before the old one is deleted")
    if renewed and target == change.key:
        names = ", ".join(str(key) for key in renewed)
        verb = "is" if len(renewed) == 1 else "are"
        reasons = (*reasons, f"the old one is deleted once {names} {verb} registered again")
    waits = (*change.depends_on, *(k for k in first if k not in change.depends_on))
    retire = (*change.retire_after, *(k for k in renewed if k not in change.retire_after))
    out[i] = dataclasses.replace(
        change,
        retire_after=retire if target == change.key else change.retire_after,
        depends_on=waits if target == change.key else change.depends_on,
        consumers=(*change.consumers, *lines),
        affected=(*change.affected, *(k for k in rewired if k not in change.affected)),
        reasons=reasons,
        review=(*change.review, *notes),
    )


def _rewire(
    planned: Change, use: Use, target: ResourceKey, live_id: str, *, situation: Situation
) -> tuple[str, Change]:
    """The consumer's change once `target` gets a new ID, and its impact line."""
    reason = f"{target} gets a new ID: rewired to it"
    depends = planned.depends_on if target in planned.depends_on else (*planned.depends_on, target)
    field = FieldChange(use.path, before=live_id, after=f"(new ID of {target})")
    if planned.key.kind is Kind.AGENT and not agent_updatable(situation.version):
        why = f"{situation.version.short} has no Update Agent (3.1+)"
        change = dataclasses.replace(
            planned,
            action=Action.REPLACE,
            fields=planned.fields or (field,),
            reasons=(*planned.reasons, f"{reason}, but {why}: replace (a new agent ID)"),
            depends_on=depends,
        )
        line = (
            f"{use.consumer}: {use.path}: registered again with the new ID before the old "
            f"one goes ({why})"
        )
        return line, change
    action = planned.action
    if action is Action.NOOP:
        action = Action.UPDATE
    fields = planned.fields if any(f.path == use.path for f in planned.fields) else (
        *planned.fields, field
    )
    change = dataclasses.replace(
        planned, action=action, fields=fields, reasons=(*planned.reasons, reason),
        depends_on=depends,
    )  # fmt: skip
    return f"{use.consumer}: {use.path}: rewired to the new ID before the old one goes", change


def _refusal(target: ResourceKey, live_id: str, effect: Effect, use: Use) -> str:
    fix = f"pass {ALLOW_FLAG}"
    if target.kind is Kind.MODEL:
        fix = f"set lifecycle.allow_breaking_consumers: true on {target} or {fix}"
    managed = f" (managed as {use.key}, but by its raw ID)" if use.key is not None else ""
    if use.consumer.startswith("index ") or target.kind not in REFERABLE:
        remedy = "change that setting first"
    else:
        remedy = f"manage it with a {{ref: {target}}} so osml rewires it, remove the use first"
    return (
        f"{target} {effect.value}, but {use.consumer}{managed} uses it ({use.path} names "
        f"{live_id}); {remedy}, or {fix}"
    )
