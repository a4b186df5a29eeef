"""How a change to a standalone connector reaches the models that use it (§2.9, §2.10, §6.8).

Two server rules shape every connector change that has referencing models:
- Update Connector is refused while a model using the connector is deployed (§2.9).
- Delete Connector is refused while any model document references it, in any state (§2.10).

So an update with deployed models, or a replace with any referencing model, needs one of:
- SWAP (default, 2.12+): create a new connector, repoint each model with Update Model (which
  works on deployed models from 2.12, §6.8), then delete the old connector. No downtime.
- RECREATE: undeploy the running models, change the connector, redeploy them. Chosen by
  `lifecycle.update_strategy: recreate`, under `prevent_destroy` (a swap deletes the old
  connector), and for an update before 2.12 where models cannot be repointed.
- REREGISTER (a replace before 2.12, which cannot repoint either): create the new
  connector, register each model again on it (new model IDs; each model's own replace
  deploys the new one, rewires its consumers, then deletes the old one), and delete the
  old connector only once the last old model is gone (`Change.retire_after`, filled in by
  `planning.retiring`). The models keep serving until their replacement is deployed.

Called by `deciding`; pure. docs/planning.md walks through the cases.
"""

from __future__ import annotations

import dataclasses

from reconciler.cluster.snapshots import LiveObject
from reconciler.manifests.models import ConnectorManifest
from reconciler.planning.situations import Findings, Situation
from reconciler.plans import Action, Strategy
from reconciler.resources import ResourceKey


@dataclasses.dataclass(frozen=True, slots=True)
class Swap:
    """The strategy of one connector change and its side effects on models."""

    strategy: Strategy | None = None
    affected: tuple[ResourceKey, ...] = ()
    downtime: str | None = None
    reasons: tuple[str, ...] = ()
    reregister: tuple[ResourceKey, ...] = ()
    """Models that must be registered again on the new connector (replace before 2.12)."""


NO_SWAP = Swap()


def plan_swap(
    action: Action,
    manifest: ConnectorManifest,
    live: LiveObject,
    *,
    situation: Situation,
    findings: Findings,
) -> Swap:
    """The strategy for `action` on a connector that `live` is the current document of."""
    if action not in (Action.UPDATE, Action.ADOPT, Action.REPLACE):
        return NO_SWAP
    users = situation.models_by_connector.get(live.id, ())
    running = situation.running(users)
    # A delete is blocked by any referencing model, an update only by running ones.
    blocking = users if action is Action.REPLACE else running
    if not blocking:
        return Swap(Strategy.IN_PLACE) if users else NO_SWAP
    _warn_unmanaged(manifest, users, situation=situation, findings=findings)
    affected = tuple(sorted(k for m in users if (k := situation.key_of(m)) is not None))
    if not situation.caps.update_model:
        return _recreate_before_repoint(action, users, affected, running, situation=situation)
    if manifest.lifecycle.update_strategy == "recreate" and running:
        return _recreate(action, affected, running, "lifecycle.update_strategy is recreate",
                         situation=situation)  # fmt: skip
    if manifest.lifecycle.prevent_destroy and action is not Action.REPLACE:
        return _recreate(action, affected, running, "prevent_destroy forbids deleting it",
                         situation=situation)  # fmt: skip
    return Swap(
        Strategy.SWAP,
        affected=affected,
        downtime="none (swap)",
        reasons=(
            f"used by {_count(users)}: swap (create a new connector, repoint the models "
            "with Update Model, delete the old one)",
        ),
    )


def _recreate(
    action: Action,
    affected: tuple[ResourceKey, ...],
    running: tuple[LiveObject, ...],
    why: str,
    *,
    situation: Situation,
) -> Swap:
    """Undeploy the running models, change the connector, redeploy (2.12+: repoint too)."""
    stopped = _names(running, situation=situation)
    reason = f"used by {_count(running, 'deployed ')}: recreate ({why}; undeploy, change, redeploy)"
    if action is Action.REPLACE:
        reason += "; the models are repointed before the old connector is deleted"
    return Swap(
        Strategy.RECREATE,
        affected=affected,
        downtime=f"{stopped} undeployed from update until redeploy" if running else None,
        reasons=(reason,),
    )


def _recreate_before_repoint(
    action: Action,
    users: tuple[LiveObject, ...],
    affected: tuple[ResourceKey, ...],
    running: tuple[LiveObject, ...],
    *,
    situation: Situation,
) -> Swap:
    """Before 2.12 models cannot be repointed (§6.8): undeploy, or re-register on replace."""
    version = situation.version.short
    if action is not Action.REPLACE:
        return _recreate(action, affected, running, f"{version} has no Update Model",
                         situation=situation)  # fmt: skip
    return Swap(
        Strategy.REREGISTER,
        affected=affected,
        downtime="none (reregister: each model serves until its new registration is deployed)",
        reasons=(
            f"used by {_count(users)} and {version} cannot repoint them (Update Model "
            "is 2.12+) while the server refuses to delete a referenced connector: "
            "reregister (create the new connector, register the models again on it, "
            "delete the old connector after the last old model)",
        ),
        reregister=affected,
    )


def _warn_unmanaged(
    manifest: ConnectorManifest,
    users: tuple[LiveObject, ...],
    *,
    situation: Situation,
    findings: Findings,
) -> None:
    """Models osml does not manage still use the connector: osml will not touch them."""
    foreign = [m.id for m in users if situation.key_of(m) is None]
    if foreign:
        findings.warnings.append(
            f"{manifest.key}: used by models osml does not manage ({', '.join(foreign)}); "
            "they keep the old connector, which therefore cannot be deleted"
        )


def _names(models: tuple[LiveObject, ...], *, situation: Situation) -> str:
    return ", ".join(str(situation.key_of(m) or m.id) for m in models)


def _count(models: tuple[LiveObject, ...], adjective: str = "") -> str:
    return f"{len(models)} {adjective}model" + ("" if len(models) == 1 else "s")
