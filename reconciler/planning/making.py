"""The planner's entry point: (desired manifests, live snapshot, secrets) -> Plan.

Pair desired with live first, then decide per resource, then review and order
(argoproj/gitops-engine's reconcile shape). Every problem found on the way (ambiguous
identities, a replace under `prevent_destroy`, a colliding group rename) is gathered into
one PlanError. The resulting Plan is inert data: renderers show it, `applying` executes it.

Called by the CLI (`osml plan`, `osml apply`) and by `watching`. Pure: no network, no file
I/O, no printing; the snapshot was read before and the secrets resolved before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import reconciler
from reconciler.cluster.snapshots import Snapshot, StateRecord
from reconciler.errors import PlanError
from reconciler.manifests.loading import ManifestSet
from reconciler.manifests.models import (
    AccessControlManifest,
    AgentManifest,
    ModelManifest,
    TrustedEndpointsManifest,
)
from reconciler.mlcommons.flavors import Flavor, unsettable
from reconciler.planning.configuring import (
    decide_access_control,
    decide_settings_orphan,
    decide_trusted_endpoints,
)
from reconciler.planning.deciding import decide_document, decide_orphan, will_delete
from reconciler.planning.grouping import recreate_emptied_groups
from reconciler.planning.impacts import Allowance, wire_consumers
from reconciler.planning.normalizing import Fingerprints
from reconciler.planning.ordering import order
from reconciler.planning.pairing import DocumentManifest, Orphan, Pairing, pair
from reconciler.planning.probing import reprobe_agent
from reconciler.planning.retiring import schedule_retirements
from reconciler.planning.reviewing import review
from reconciler.planning.situations import Findings, Situation
from reconciler.plans import Change, ClusterIdentity, Plan
from reconciler.resources import ResourceKey
from reconciler.secrets.values import Secret


@dataclasses.dataclass(frozen=True)
class PlanOptions:
    """What the user asked of this plan."""

    prune: bool = False
    """Plan DELETE for managed resources that left the manifests."""
    targets: tuple[ResourceKey, ...] = ()
    """Keep only these changes and what they depend on (`--target`)."""
    cluster_url: str = ""
    """Recorded in the plan's cluster identity."""
    allow_prune_all: bool = False
    """Allow a prune that deletes every resource osml manages (`--allow-prune-all`);
    without it such a plan is refused, as an empty manifest set usually is a mistake."""
    allow_breaking_consumers: bool = False
    """Let the plan delete or re-ID resources that unmanaged pipelines, agents or indices
    use (`--allow-breaking-consumers`); each break is then a review note."""
    flavor: Flavor = Flavor.OPENSEARCH
    """The target's flavor: on aws-managed the trusted-endpoint list belongs to the
    service, so TrustedEndpoints is never written (its patterns were checked against the
    connector URLs when the manifests were checked)."""


def make_plan(
    desired: ManifestSet,
    snapshot: Snapshot,
    *,
    secrets: Mapping[tuple[ResourceKey, str], Secret],
    options: PlanOptions = PlanOptions(),  # frozen: a shared default is safe
    now: str = "",
) -> Plan:
    """The plan that takes the cluster of `snapshot` to the state of `desired`.

    `secrets` maps (resource, `credential.x` or `connector.credential.x`) to the resolved
    value; only fingerprints of it ever reach the plan. `now` (ISO-8601) dates the plan and
    lets a deploy stuck for too long be redeployed.
    """
    manifests = [document.manifest for document in desired.documents]
    pairing = pair([m for m in manifests if isinstance(m, DocumentManifest)], snapshot)
    fingerprints = Fingerprints(
        secrets, snapshot.state.fingerprint_key, records=snapshot.state.records, now=_moment(now)
    )
    situation = Situation.build(snapshot, pairing=pairing, fingerprints=fingerprints, now=now)
    findings = Findings()
    findings.warnings.extend(
        f"{what}: pipelines and agents using them are not known to this plan"
        for what in snapshot.unread
    )
    changes = _documents(pairing, situation=situation, findings=findings)
    changes += _settings(manifests, situation=situation, flavor=options.flavor)
    declared = {manifest.key for manifest in manifests}
    orphans = tuple(o for o in pairing.orphans if o.record.key not in declared)
    pruned, kept = _orphans(orphans, situation=situation, options=options)
    if not options.allow_prune_all:
        records = snapshot.state.records
        _refuse_prune_all(pruned, kept, pairing=pairing, records=records, findings=findings)
    changes = recreate_emptied_groups(changes + pruned, situation=situation, findings=findings)
    changes = wire_consumers(
        changes, situation=situation, findings=findings, allowance=_allowance(manifests, options,
        records=snapshot.state.records),
    )  # fmt: skip
    changes = schedule_retirements(changes, findings=findings)
    pruned_keys = {c.key for c in pruned}
    pruned = [c for c in changes if c.key in pruned_keys]
    if findings.problems:
        raise PlanError("cannot make a plan:\n" + "\n".join(f"  {p}" for p in findings.problems))
    lifecycles = {m.key: _lifecycle(m) for m in manifests if isinstance(m, DocumentManifest)}
    probes = {m.key: _probe(m) for m in manifests if isinstance(m, ModelManifest | AgentManifest)}
    changes = [
        dataclasses.replace(c, lifecycle=lifecycles.get(c.key), probe=probes.get(c.key))
        for c in changes
    ]
    changes = [reprobe_agent(c, snapshot.state.records.get(c.key)) for c in changes]
    return Plan(
        changes=order([review(change) for change in changes + pruned], targets=options.targets),
        cluster=_identity(snapshot, url=options.cluster_url),
        token=snapshot.token(),
        orphans=tuple(kept),
        warnings=tuple(findings.warnings),
        prune=options.prune,
        targets=options.targets,
        created_at=now,
        osml_version=reconciler.__version__,
    )


def _lifecycle(manifest: DocumentManifest) -> dict[str, Any]:
    """What the state record keeps of `lifecycle`, so pruning honours it later (and, for
    models, the deploy state osml leaves them in, for the refresh-only report)."""
    kept: dict[str, Any] = {"prevent_destroy": manifest.lifecycle.prevent_destroy}
    if isinstance(manifest, ModelManifest):
        kept["deployed"] = manifest.lifecycle.deployed
        if manifest.lifecycle.allow_breaking_consumers:
            kept["allow_breaking_consumers"] = True
    return kept


def _allowance(
    manifests: Sequence[object],
    options: PlanOptions,
    *,
    records: Mapping[ResourceKey, StateRecord],
) -> Allowance:
    """Where breaking consumers is allowed: the flag, the models' manifests, and for
    models that left the manifests the lifecycle they were last applied with."""
    models = {
        m.key for m in manifests if isinstance(m, ModelManifest)
        and m.lifecycle.allow_breaking_consumers
    }  # fmt: skip
    for key, record in records.items():
        lifecycle = record.applied.get("lifecycle")
        if isinstance(lifecycle, Mapping) and lifecycle.get("allow_breaking_consumers"):
            models.add(key)
    return Allowance(everywhere=options.allow_breaking_consumers, models=models)


def _probe(manifest: ModelManifest | AgentManifest) -> dict[str, Any] | None:
    """The predict body apply sends after each deploy of a model (§8.1), or the execute
    body after each change of an agent (CONS §4.8), if any, with the manifest's `timeout`
    and `expect` beside it."""
    probe = manifest.lifecycle.probe
    if probe is None:
        return None
    # Kept beside the body: apply sends only `parameters`, waits `timeout` seconds for
    # the answer and checks it against `expect`.
    body: dict[str, Any] = {"parameters": dict(probe.parameters), "timeout": probe.timeout}
    if probe.expect is not None:
        body["expect"] = probe.expect.model_dump(exclude_defaults=True)
    return body


def _identity(snapshot: Snapshot, *, url: str) -> ClusterIdentity:
    return ClusterIdentity(
        url=url,
        version=snapshot.version,
        cluster_name=snapshot.cluster_name,
        cluster_uuid=snapshot.cluster_uuid,
    )


def _documents(pairing: Pairing, *, situation: Situation, findings: Findings) -> list[Change]:
    """Connectors are decided before models: a connector replace may re-register models."""
    reregister: dict[ResourceKey, ResourceKey] = {}
    changes = []
    for pair_ in sorted(pairing.pairs, key=lambda p: p.key.sort_key):
        change, swap = decide_document(
            pair_, situation=situation, findings=findings, reregister=reregister
        )
        reregister.update(dict.fromkeys(swap.reregister, pair_.key))
        changes.append(change)
    return changes


def _settings(
    manifests: Sequence[object], *, situation: Situation, flavor: Flavor
) -> list[Change]:
    records = situation.snapshot.state.records
    changes = []
    for manifest in manifests:
        if isinstance(manifest, TrustedEndpointsManifest):
            if unsettable("trusted_connector_endpoints_regex", flavor):
                continue
            record = records.get(manifest.key)
            changes.append(decide_trusted_endpoints(manifest, record, situation=situation))
        elif isinstance(manifest, AccessControlManifest):
            record = records.get(manifest.key)
            changes.append(decide_access_control(manifest, record, situation=situation))
    return changes


def _refuse_prune_all(
    pruned: Sequence[Change],
    kept: Sequence[Change],
    *,
    pairing: Pairing,
    records: Mapping[ResourceKey, object],
    findings: Findings,
) -> None:
    """A prune that would leave osml managing nothing that exists is refused.

    An empty or wrong manifest path (a failed checkout, a typo) looks exactly like a
    request to delete everything; Argo CD refuses the same by default (`allowEmpty`).
    Record-only deletes of resources already gone do not count: they delete nothing.
    """
    deleting = [c for c in pruned if c.live_id is not None or c.key.kind.is_setting]
    orphaned = {c.key for c in (*pruned, *kept)}
    if not deleting:
        return
    staying = sum(1 for p in pairing.pairs if p.live is not None and p.record is not None)
    staying += sum(1 for key in records if key.kind.is_setting and key not in orphaned)
    staying += sum(1 for c in kept if c.live_id is not None or c.key.kind.is_setting)
    if staying:
        return
    findings.problems.append(
        f"refusing to prune every resource osml manages ({len(deleting)}): no manifest "
        "keeps any of them (an empty or wrong manifest path?); pass --allow-prune-all to "
        "delete them all"
    )


def _orphans(
    orphans: tuple[Orphan, ...],
    *,
    situation: Situation,
    options: PlanOptions,
) -> tuple[list[Change], list[Change]]:
    """Orphans split into planned deletes (pruning on) and ones only reported."""
    pruned: list[Change] = []
    kept: list[Change] = []
    for orphan in orphans:
        record = orphan.record
        if record.key.kind.is_setting:
            change = decide_settings_orphan(record, situation=situation, prune=options.prune)
        else:
            change = decide_orphan(orphan, situation=situation, prune=options.prune)
        if change is None:
            continue
        (pruned if will_delete(change, record, prune=options.prune) else kept).append(change)
    return pruned, kept


def _moment(now: str) -> dt.datetime | None:
    """The plan's time as a datetime (for leases); None when the plan is undated."""
    try:
        moment = dt.datetime.fromisoformat(now.replace("Z", "+00:00")) if now else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment
