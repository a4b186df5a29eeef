"""What every decision of one plan needs to know: the target version and the live indexes.

A Situation is built once per plan from the snapshot and the pairing, so that deciding a
resource is a few dictionary lookups (plans of thousands of resources stay linear). Findings
collect the warnings and the problems that turn into one PlanError at the end.

Used by `deciding`, `swapping`, `configuring` and `making`; data and lookups only.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from reconciler.cluster.snapshots import LiveObject, Snapshot
from reconciler.mlcommons.versions import Capabilities, Version, capabilities
from reconciler.planning.normalizing import Fingerprints, LiveIds, model_state
from reconciler.planning.pairing import Pairing
from reconciler.resources import Kind, ResourceKey

RUNNING_STATES = frozenset({"DEPLOYED", "PARTIALLY_DEPLOYED", "DEPLOYING"})
"""States in which a model holds its connector in the node cache (§2.9) and cannot be
deleted (§6.11)."""

UPDATE_CONNECTOR_FLAG = "plugins.ml_commons.update_connector.enabled"
"""2.11 only: Update Connector exists behind this setting (§2.9, §9)."""


@dataclasses.dataclass
class Findings:
    """Warnings for the plan and problems that stop it, in the order found."""

    warnings: list[str] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True)
class Use:
    """One place where a live consumer names a resource by its ID."""

    consumer: str
    """Who: `IngestPipeline/nlp` when osml manages it, else `ingest pipeline nlp`,
    `agent rag (Xc1...)` or `index docs`."""
    path: str
    """Where the ID stands: `processors[0].text_embedding.model_id`,
    `index.default_pipeline`."""
    key: ResourceKey | None = None
    """The managed consumer, if osml manages it."""


UseIndex = Mapping[tuple[Kind, str], tuple[Use, ...]]
"""(kind, live ID) -> the consumers that name it, in a stable order."""


@dataclasses.dataclass(frozen=True)
class Situation:
    """The target version plus indexes over the live snapshot."""

    snapshot: Snapshot
    version: Version
    caps: Capabilities
    fingerprints: Fingerprints
    ids: LiveIds
    models_by_connector: Mapping[str, tuple[LiveObject, ...]]
    """Live connector ID -> live models whose `connector_id` is that ID (§2.10)."""
    models_by_group: Mapping[str, tuple[LiveObject, ...]]
    """Live model-group ID -> live models in that group (§5.7)."""
    group_names: Mapping[str, str]
    """Live model-group name -> its ID (names are unique, §5.3)."""
    uses: UseIndex = dataclasses.field(default_factory=dict)
    """Which live pipelines, agents and indices name each model, connector, agent and
    pipeline (CONS §5, §3), managed by osml or not: the impact of deleting or re-IDing it."""
    now: str = ""

    @classmethod
    def build(
        cls,
        snapshot: Snapshot,
        *,
        pairing: Pairing,
        fingerprints: Fingerprints,
        now: str = "",
    ) -> Situation:
        """Index `snapshot` once for the whole plan."""
        version = Version.parse(snapshot.version)
        return cls(
            snapshot=snapshot,
            version=version,
            caps=capabilities(version),
            fingerprints=fingerprints,
            ids=LiveIds(pairing.ids),
            models_by_connector=_index(snapshot.models, "connector_id"),
            models_by_group=_index(snapshot.models, "model_group_id"),
            group_names={g.name: g.id for g in snapshot.model_groups if g.name is not None},
            uses=consumer_uses(snapshot, keys=pairing.ids),
            now=now,
        )

    @property
    def can_update_connector(self) -> bool:
        """Whether Update Connector is available (2.12+, or 2.11 with its flag, §2.9)."""
        if self.caps.update_connector:
            return True
        flag = self.snapshot.settings.get(UPDATE_CONNECTOR_FLAG)
        return self.caps.update_connector_behind_flag and str(flag).lower() == "true"

    def key_of(self, live: LiveObject) -> ResourceKey | None:
        """The managed resource a live object belongs to, if any."""
        return self.ids.keys.get(live.id)

    def running(self, models: tuple[LiveObject, ...]) -> tuple[LiveObject, ...]:
        """The models of `models` that are deployed, partly deployed or deploying."""
        return tuple(m for m in models if model_state(m.source) in RUNNING_STATES)


def _index(models: tuple[LiveObject, ...], field: str) -> dict[str, tuple[LiveObject, ...]]:
    found: dict[str, list[LiveObject]] = defaultdict(list)
    for model in models:
        value: Any = model.source.get(field)
        if isinstance(value, str):
            found[value].append(model)
    return {key: tuple(sorted(group, key=lambda m: m.id)) for key, group in found.items()}


_CONSUMERS = (
    (Kind.INGEST_PIPELINE, "ingest pipeline", "ingest_pipelines"),
    (Kind.SEARCH_PIPELINE, "search pipeline", "search_pipelines"),
    (Kind.AGENT, "agent", "agents"),
)
_TARGETS = ((Kind.MODEL, "models"), (Kind.CONNECTOR, "connectors"), (Kind.AGENT, "agents"))
_INDEX_SETTINGS = {
    "index.default_pipeline": Kind.INGEST_PIPELINE,
    "index.final_pipeline": Kind.INGEST_PIPELINE,
    "index.search.default_pipeline": Kind.SEARCH_PIPELINE,
}


def consumer_uses(snapshot: Snapshot, *, keys: Mapping[str, ResourceKey]) -> UseIndex:
    """Every live ID of a model, connector or agent found in a live pipeline or agent, and
    every pipeline an index names as a default (CONS §3, §5).

    Any string of a consumer's body that is such an ID counts, wherever it stands (the
    server checks none of them, and tools keep adding places, CONS §5.3, §6): IDs are
    random 20-character strings, so a match is a use.
    """
    targets: dict[str, Kind] = {
        obj.id: kind for kind, field in _TARGETS for obj in getattr(snapshot, field)
    }
    found: dict[tuple[Kind, str], list[Use]] = defaultdict(list)
    for kind, word, field in _CONSUMERS:
        for obj in getattr(snapshot, field):
            key = keys.get(obj.id)
            managed = key if key is not None and key.kind is kind else None
            who = str(managed) if managed else _unmanaged(word, obj)
            for path, value in _strings(obj.source, ""):
                target = targets.get(value)
                if target is not None and value != obj.id:
                    found[(target, value)].append(Use(who, path, managed))
    for index, settings in snapshot.index_pipelines.items():
        for setting, pipeline in settings.items():
            pipeline_kind = _INDEX_SETTINGS.get(setting)
            if pipeline_kind is not None:
                found[(pipeline_kind, pipeline)].append(Use(f"index {index}", setting))
    return {target: tuple(sorted(set(uses), key=_use_order)) for target, uses in found.items()}


def _unmanaged(word: str, obj: LiveObject) -> str:
    if word == "agent":
        return f"agent {obj.name or '?'} ({obj.id})"
    return f"{word} {obj.id}"


def _use_order(use: Use) -> tuple[str, str]:
    return (use.consumer, use.path)


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    """Every string leaf of `value` with its path (`processors[0].x.model_id`)."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [
            found
            for k, v in value.items()
            for found in _strings(v, f"{path}.{k}" if path else str(k))
        ]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _strings(v, f"{path}[{i}]")]
    return []
