"""A plan of 5,000 resources stays fast: pairing, deciding and ordering are not quadratic."""

from __future__ import annotations

import time
from typing import Any

from reconciler.cluster.snapshots import LiveObject, Snapshot, StateRecord, StateSnapshot
from reconciler.manifests.loading import LoadedManifest, ManifestSet
from reconciler.manifests.models import ConnectorManifest, ModelManifest
from reconciler.planning import PlanOptions, make_plan
from reconciler.plans import Action
from reconciler.resources import Kind, ResourceKey

SIZE = 2500  # connectors; as many models: 5,000 resources


def _doc(manifest: Any) -> LoadedManifest:
    return LoadedManifest(manifest=manifest, file="scale.yaml", positions=None)  # type: ignore[arg-type]


def _connector(i: int) -> ConnectorManifest:
    return ConnectorManifest.model_validate({
        "apiVersion": "osml/v1", "kind": "Connector", "metadata": {"name": f"c{i}"},
        "spec": {"version": 1, "protocol": "http", "parameters": {"model": f"m{i}"},
                 "actions": [{"action_type": "PREDICT", "method": "POST", "url": "https://h/x"}]},
    })  # fmt: skip


def _model(i: int) -> ModelManifest:
    return ModelManifest.model_validate({
        "apiVersion": "osml/v1", "kind": "Model", "metadata": {"name": f"m{i}"},
        "spec": {"connector": f"c{i}"},
    })  # fmt: skip


def _snapshot() -> Snapshot:
    connectors, models, records = [], [], {}
    for i in range(SIZE):
        # Every tenth connector drifted, so the diff and swap paths run too.
        model_name = f"m{i}" if i % 10 else "drifted"
        connectors.append(LiveObject(f"cid{i}", {
            "name": f"c{i}", "version": "1", "protocol": "http",
            "parameters": {"model": model_name},
            "actions": [{"action_type": "PREDICT", "method": "POST", "url": "https://h/x"}],
        }))  # fmt: skip
        models.append(LiveObject(f"mid{i}", {"name": f"m{i}", "algorithm": "REMOTE",
                                             "connector_id": f"cid{i}", "model_state": "DEPLOYED"}))  # fmt: skip
        for kind, prefix in ((Kind.CONNECTOR, "c"), (Kind.MODEL, "m")):
            key = ResourceKey(kind, f"{prefix}{i}")
            records[key] = StateRecord(key, "managed", f"{prefix}id{i}", "", {"name": key.name})
    return Snapshot(
        version="2.19.0",
        connectors=tuple(connectors),
        models=tuple(models),
        state=StateSnapshot(records=records, exists=True, fingerprint_key=b"k"),
    )


def test_five_thousand_resources_plan_in_seconds() -> None:
    desired = ManifestSet(tuple(_doc(_connector(i)) for i in range(SIZE))
                          + tuple(_doc(_model(i)) for i in range(SIZE)))  # fmt: skip
    snapshot = _snapshot()
    started = time.perf_counter()
    plan = make_plan(desired, snapshot, secrets={}, options=PlanOptions(targets=()))
    elapsed = time.perf_counter() - started
    assert len(plan.changes) == 2 * SIZE
    assert sum(c.action is Action.UPDATE for c in plan.changes) == SIZE // 10
    assert plan.counts()[Action.REPLACE] == SIZE // 10  # each drifted connector is swapped
    assert elapsed < 15, f"planning {2 * SIZE} resources took {elapsed:.1f}s"
