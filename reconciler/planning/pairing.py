"""Pair each desired resource with its live counterpart, through osml's state records.

Identity lives in the state index, not in names (DESIGN "Identity and state"): a record whose
ID is live pairs with it; a record whose ID vanished means the resource was deleted outside
osml and is created again. Without a record (or with only an `intent` left by a crash between
create and record), the live resource named by the `osml/adopt-id` annotation (written by
`osml export`) is adopted when no record claims it; otherwise exactly one live resource of
the same server name that no record claims is adopted; several are an error that lists
their IDs; none means create. Managed resources without a manifest are orphans (prune
candidates), as are intent records whose manifest was removed after the interrupted create.

Called by `planning.making`; pure: no I/O, no diffing, no decisions.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from reconciler.cluster.snapshots import LiveObject, Snapshot, StateRecord
from reconciler.errors import PlanError
from reconciler.manifests.models import (
    ADOPT_ANNOTATION,
    AgentManifest,
    ConnectorManifest,
    IngestPipelineManifest,
    ModelGroupManifest,
    ModelManifest,
    SearchPipelineManifest,
    server_name,
)
from reconciler.resources import Kind, ResourceKey

DocumentManifest = (
    ConnectorManifest
    | ModelGroupManifest
    | ModelManifest
    | IngestPipelineManifest
    | SearchPipelineManifest
    | AgentManifest
)
"""The kinds stored as documents with server IDs (settings kinds are singletons)."""

DOCUMENT_KINDS = (
    Kind.MODEL_GROUP,
    Kind.CONNECTOR,
    Kind.MODEL,
    Kind.INGEST_PIPELINE,
    Kind.SEARCH_PIPELINE,
    Kind.AGENT,
)

_PLURAL = {
    Kind.CONNECTOR: "connectors",
    Kind.MODEL_GROUP: "model groups",
    Kind.MODEL: "models",
    Kind.INGEST_PIPELINE: "ingest pipelines",
    Kind.SEARCH_PIPELINE: "search pipelines",
    Kind.AGENT: "agents",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Pair:
    """One desired resource and what it corresponds to on the cluster."""

    manifest: DocumentManifest
    live: LiveObject | None
    """None when the resource must be created."""
    record: StateRecord | None = None
    adopted: bool = False
    """The live resource is not (yet) recorded as managed: adopt it."""
    reasons: tuple[str, ...] = ()
    """How the pairing was made, when a human should know (`deleted outside osml`)."""
    leftover: LiveObject | None = None
    """The new resource of a replacement cut short: the record is an intent that still
    names the old (live) resource, and one unclaimed resource has the same name. The
    change must finish the replacement, taking this one and deleting the old."""

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return self.manifest.key


@dataclasses.dataclass(frozen=True, slots=True)
class Orphan:
    """A managed resource whose manifest is gone."""

    record: StateRecord
    live: LiveObject | None
    """The live document; None for settings kinds or when it vanished as well."""


@dataclasses.dataclass(frozen=True, slots=True)
class Pairing:
    """Every pair and orphan, plus the live IDs that belong to managed resources."""

    pairs: tuple[Pair, ...]
    orphans: tuple[Orphan, ...]
    ids: Mapping[str, ResourceKey]
    """Live ID -> managed (or adopted) resource, to read live references as keys."""


class _Live:
    """The live objects of one kind, indexed by ID and by server name."""

    def __init__(self, objects: Iterable[LiveObject]) -> None:
        self.by_id: dict[str, LiveObject] = {}
        self.by_name: dict[str, list[LiveObject]] = defaultdict(list)
        for obj in objects:
            self.by_id[obj.id] = obj
            if obj.name is not None:
                self.by_name[obj.name].append(obj)


def live_objects(snapshot: Snapshot, kind: Kind) -> tuple[LiveObject, ...]:
    """The snapshot's documents of one kind."""
    return {
        Kind.CONNECTOR: snapshot.connectors,
        Kind.MODEL_GROUP: snapshot.model_groups,
        Kind.MODEL: snapshot.models,
        Kind.INGEST_PIPELINE: snapshot.ingest_pipelines,
        Kind.SEARCH_PIPELINE: snapshot.search_pipelines,
        Kind.AGENT: snapshot.agents,
    }.get(kind, ())


def pair(manifests: Sequence[DocumentManifest], snapshot: Snapshot) -> Pairing:
    """Pair `manifests` with `snapshot`; PlanError listing every ambiguous identity."""
    records = snapshot.state.records
    live = {kind: _Live(live_objects(snapshot, kind)) for kind in DOCUMENT_KINDS}
    claimed = {record.id for record in records.values() if record.id}
    owners = {record.id: record.key for record in records.values() if record.id}
    problems: list[str] = []
    # Annotated manifests pair first, so a name match never takes an ID one of them names.
    order = sorted(range(len(manifests)), key=lambda i: _adopt_id(manifests[i]) is None)
    paired: dict[int, Pair] = {}
    for i in order:
        manifest = manifests[i]
        paired[i] = _pair_one(manifest, records.get(manifest.key), live[manifest.key.kind],
                              claimed=claimed, owners=owners, problems=problems)  # fmt: skip
    pairs = [paired[i] for i in range(len(manifests))]
    if problems:
        raise PlanError(
            "cannot pair manifests with the cluster:\n" + "\n".join(f"  {p}" for p in problems)
        )
    desired = {manifest.key for manifest in manifests}
    orphans = tuple(
        Orphan(record, live[key.kind].by_id.get(record.id or "") if key.kind in live else None)
        for key, record in sorted(records.items())
        # An intent without a manifest is a create (or replace) that was cut short and
        # then dropped from the manifests: it is an orphan too, or its record never goes.
        if key not in desired
    )
    ids = {obj.id: p.key for p in pairs if (obj := p.live) is not None}
    ids.update({obj.id: p.key for p in pairs if (obj := p.leftover) is not None})
    ids.update({o.live.id: o.record.key for o in orphans if o.live is not None})
    return Pairing(tuple(pairs), orphans, ids)


def _pair_one(
    manifest: DocumentManifest,
    record: StateRecord | None,
    live: _Live,
    *,
    claimed: set[str],
    owners: Mapping[str, ResourceKey],
    problems: list[str],
) -> Pair:
    """The pair for one manifest; ambiguities go to `problems`."""
    if manifest.key.kind.is_pipeline:  # the ID is the name: paired by ID, never by name
        return _by_pipeline_id(manifest, record, live, claimed=claimed)
    if record is not None and record.id and record.id in live.by_id:
        if record.status == "managed":
            return Pair(manifest, live.by_id[record.id], record)
        reason = f"adopting {record.id} (a create was interrupted before it was recorded)"
        leftover = _leftover(manifest, record, live, claimed=claimed)
        if leftover is not None:
            reason = f"finishing the interrupted replacement of {record.id} by {leftover.id}"
        return Pair(
            manifest,
            live.by_id[record.id],
            record,
            adopted=True,
            reasons=(reason,),
            leftover=leftover,
        )
    if record is not None and record.status == "managed" and record.id:
        return Pair(manifest, None, record, reasons=(f"deleted outside osml (was {record.id})",))
    annotated = _by_annotation(manifest, record, live, claimed=claimed, owners=owners,
                               problems=problems)  # fmt: skip
    if annotated is not None:
        return annotated
    return _by_name(manifest, record, live, claimed=claimed, owners=owners, problems=problems)


def _by_pipeline_id(
    manifest: DocumentManifest, record: StateRecord | None, live: _Live, *, claimed: set[str]
) -> Pair:
    """A pipeline's ID is its `metadata.name` (CONS §1.1, §2.1): the live pipeline of that
    ID is this resource, managed when recorded, adopted otherwise. A PUT replaces it
    whole, so adopting never depends on what it held."""
    pipeline_id = manifest.metadata.name
    found = live.by_id.get(pipeline_id)
    claimed.add(pipeline_id)
    if found is not None and record is not None and record.status == "managed":
        return Pair(manifest, found, record)
    if found is not None:
        why = "a create was interrupted" if record is not None else "not yet managed by osml"
        return Pair(manifest, found, record, adopted=True,
                    reasons=(f"adopting pipeline {pipeline_id} ({why})",))  # fmt: skip
    if record is not None and record.status == "managed":
        return Pair(manifest, None, record, reasons=(f"deleted outside osml (was {record.id})",))
    return Pair(manifest, None, record)


def _adopt_id(manifest: DocumentManifest) -> str | None:
    return manifest.metadata.annotations.get(ADOPT_ANNOTATION) or None


def _by_annotation(
    manifest: DocumentManifest,
    record: StateRecord | None,
    live: _Live,
    *,
    claimed: set[str],
    owners: Mapping[str, ResourceKey],
    problems: list[str],
) -> Pair | None:
    """Adopt the live resource the `osml/adopt-id` annotation names; None when there is
    no annotation or its ID is not live (then names decide, as without it)."""
    live_id = _adopt_id(manifest)
    if live_id is None or live_id not in live.by_id:
        return None
    if live_id in claimed:
        owner = owners.get(live_id)
        problems.append(
            f"{manifest.key}: {ADOPT_ANNOTATION} {live_id} is "
            + (f"managed as {owner}" if owner else "adopted by another manifest")
        )
        return Pair(manifest, None, record)
    claimed.add(live_id)
    return Pair(manifest, live.by_id[live_id], record, adopted=True,
                reasons=(f"adopting {live_id} (its {ADOPT_ANNOTATION} annotation)",))  # fmt: skip


def _leftover(
    manifest: DocumentManifest, record: StateRecord, live: _Live, *, claimed: set[str]
) -> LiveObject | None:
    """The one unclaimed resource named like `manifest` beside the intent's old one.

    A replacement (a model replace, a connector swap) creates the new resource while the
    old one lives on under the same name; a run cut short after that create leaves the
    new one unrecorded. Found here, it is claimed so no other manifest adopts it.
    """
    named = live.by_name.get(server_name(manifest), [])
    candidates = [obj for obj in named if obj.id not in claimed and obj.id != record.id]
    if len(candidates) != 1:
        return None
    claimed.add(candidates[0].id)
    return candidates[0]


def _by_name(
    manifest: DocumentManifest,
    record: StateRecord | None,
    live: _Live,
    *,
    claimed: set[str],
    owners: Mapping[str, ResourceKey],
    problems: list[str],
) -> Pair:
    """Adopt the one unclaimed live resource with the manifest's server name, if any."""
    key, name = manifest.key, server_name(manifest)
    named = live.by_name.get(name, [])
    candidates = sorted((obj for obj in named if obj.id not in claimed), key=lambda o: o.id)
    interrupted = record is not None and record.status == "intent"
    if len(candidates) > 1:
        ids = ", ".join(obj.id for obj in candidates)
        problems.append(
            f"{key}: {len(candidates)} live {_PLURAL[key.kind]} are named {_quote(name)}: "
            f"{ids}; import one with osml import"
        )
        return Pair(manifest, None, record)
    if candidates:
        chosen = candidates[0]
        claimed.add(chosen.id)
        why = "a create was interrupted" if interrupted else "not yet managed by osml"
        return Pair(manifest, chosen, record, adopted=True,
                    reasons=(f"adopting {chosen.id} named {_quote(name)} ({why})",))  # fmt: skip
    if key.kind is Kind.MODEL_GROUP and named:
        # Group names are unique server-side (§5.3): creating would fail.
        taken = named[0]
        problems.append(
            f"{key}: the model group name {_quote(name)} is used by {taken.id}, "
            f"managed as {owners.get(taken.id, 'another resource')}"
        )
    reasons = ("no resource from the interrupted create was found",) if interrupted else ()
    return Pair(manifest, None, record, reasons=reasons)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '\\"') + '"'
