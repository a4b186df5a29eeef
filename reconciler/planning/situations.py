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
from reconciler.resources import ResourceKey

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
