"""Read a planner case folder and dump a plan compactly, for the case tests.

A case folder holds `desired/*.yaml` (manifests), `live.json` (a serialised Snapshot with
state records, plus the resolved secrets and the plan options of the case) and
`expected.txt`. In `live.json`, a record fingerprint written as `"=value"` is the
fingerprint of `value` under the case's `fingerprint_key`, so cases stay readable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.cluster.snapshots import (
    LiveObject,
    ProbeResult,
    Snapshot,
    StateRecord,
    StateSnapshot,
)
from reconciler.errors import PlanError
from reconciler.manifests.loading import load_manifests
from reconciler.planning import PlanOptions, make_plan
from reconciler.plans import Change, Plan
from reconciler.resources import ResourceKey
from reconciler.secrets.values import Secret

CASES = Path(__file__).parent / "cases"


def case_names() -> list[str]:
    """Every case folder, sorted."""
    return sorted(p.name for p in CASES.iterdir() if (p / "live.json").is_file())


def read_live(data: dict[str, Any]) -> Snapshot:
    """The Snapshot a `live.json` describes."""
    state = data.get("state", {})
    key = state.get("fingerprint_key")
    key_bytes = key.encode() if isinstance(key, str) else None
    records = [_record(r, key_bytes) for r in state.get("records", [])]
    return Snapshot(
        version=data["version"],
        cluster_name=data.get("cluster_name", "case"),
        cluster_uuid=data.get("cluster_uuid", "uuid-case"),
        settings=data.get("settings", {}),
        explicit_settings=data.get("explicit_settings", {}),
        connectors=_objects(data.get("connectors", [])),
        model_groups=_objects(data.get("model_groups", [])),
        models=_objects(data.get("models", [])),
        ingest_pipelines=_pipelines(data.get("ingest_pipelines", {})),
        search_pipelines=_pipelines(data.get("search_pipelines", {})),
        agents=_objects(data.get("agents", [])),
        index_pipelines=data.get("index_pipelines", {}),
        state=StateSnapshot(
            records={r.key: r for r in records},
            exists=state.get("exists", bool(records)),
            fingerprint_key=key_bytes,
        ),
    )


def _objects(items: list[dict[str, Any]]) -> tuple[LiveObject, ...]:
    return tuple(LiveObject(id=item["id"], source=item["source"], seq_no=1, primary_term=1)
                 for item in items)  # fmt: skip


def _pipelines(items: dict[str, Any]) -> tuple[LiveObject, ...]:
    """`{"<id>": <body>}`, as `GET _ingest/pipeline` answers."""
    return tuple(LiveObject(id=pid, source=body) for pid, body in sorted(items.items()))


def _record(data: dict[str, Any], key: bytes | None) -> StateRecord:
    fingerprints = {
        path: Secret(value[1:]).fingerprint(key) if value.startswith("=") and key else value
        for path, value in data.get("fingerprints", {}).items()
    }
    return StateRecord(
        key=ResourceKey.parse(data["key"]),
        status=data.get("status", "managed"),
        id=data.get("id"),
        spec_hash=data.get("spec_hash", ""),
        applied=data.get("applied", {}),
        fingerprints=fingerprints,
        probe=ProbeResult.from_dict(data.get("probe")),
    )


def read_secrets(data: dict[str, Any]) -> dict[tuple[ResourceKey, str], Secret]:
    """`{"Connector/x credential.k": "value"}` -> the planner's secrets mapping."""
    secrets = {}
    for label, value in data.get("secrets", {}).items():
        key, path = label.split(" ", 1)
        secrets[(ResourceKey.parse(key), path)] = Secret(value)
    return secrets


def run_case(folder: Path) -> tuple[str, Plan | None, dict[str, Any]]:
    """Plan one case; the dump, the plan (None on PlanError) and the live data."""
    data = json.loads((folder / "live.json").read_text("utf-8"))
    desired = load_manifests([folder / "desired"]) if (folder / "desired").exists() else None
    options = data.get("options", {})
    plan_options = PlanOptions(
        prune=options.get("prune", False),
        targets=tuple(ResourceKey.parse(t) for t in options.get("targets", [])),
        allow_breaking_consumers=options.get("allow_breaking_consumers", False),
        cluster_url="http://case:9200",
    )
    try:
        plan = make_plan(
            desired or load_manifests([]),
            read_live(data),
            secrets=read_secrets(data),
            options=plan_options,
            now=data.get("now", ""),
        )
    except PlanError as exc:
        return f"error: {exc}\n", None, data
    return dump(plan), plan, data


def dump(plan: Plan) -> str:
    """One line per change (plus indented detail lines), then orphans and warnings."""
    lines = [line for change in plan.changes for line in _change_lines(change)]
    lines += [f"orphan {line}" for change in plan.orphans for line in _change_lines(change)]
    lines += [f"warning: {warning}" for warning in plan.warnings]
    return "\n".join(lines) + "\n"


def _change_lines(change: Change) -> list[str]:
    strategy = f" [{change.strategy.value}]" if change.strategy else ""
    deploy = " +deploy" if change.deploy_after else ""
    deploy = " -undeploy" + deploy if change.undeploy_first else deploy
    deploy += " +probe" if change.probe_after else ""
    deps = ", ".join(str(k) for k in change.depends_on)
    paths = ", ".join(f.path + (" (sensitive)" if f.sensitive else "") for f in change.fields)
    head = f"{change.action.value} {change.key}{strategy}{deploy} deps=[{deps}]"
    lines = [f"{head} | {'; '.join(change.reasons)} | {paths}"]
    if change.affected or change.downtime:
        affected = ", ".join(str(k) for k in change.affected)
        lines.append(f"    affected=[{affected}] downtime={change.downtime}")
    if change.retire_after:
        lines.append(f"    retire_after=[{', '.join(str(k) for k in change.retire_after)}]")
    lines += [f"    review: {note}" for note in change.review]
    lines += [f"    consumer: {line}" for line in change.consumers]
    if change.probe is not None:
        lines.append(f"    probe: {json.dumps(change.probe, sort_keys=True)}")
    return lines
