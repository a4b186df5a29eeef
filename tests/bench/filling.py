"""Filling a benchmark sandbox fast: what an `osml apply` of a fleet leaves, in bulk.

An apply of 50,000 resources through the API sends about 130,000 requests, one at a
time over HTTP on both sides: far longer than the benchmarks that follow it. `fast_fill`
leaves the same cluster in a handful of requests:

* osml plans the fleet against the empty cluster (its own loader, checker and planner);
* the fingerprint key is made as a first apply makes it (`cluster.state`);
* every create body is osml's own (`applying.bodies.materialize`, references resolved
  to the IDs just created, secrets resolved and fingerprinted), sent to the sandbox's
  very handlers through `POST /_sandbox/replay` (groups and connectors, then models,
  then the deploys), in batches;
* every state record is what the executor records after a create (`Executor.record`),
  written with osml's `_bulk` state writes.

`tests/bench/test_filling.py` checks the result against a fleet applied by osml through
the API: the same documents in every index (IDs and times aside) and a no-change plan.
Fleets with probes, settings or anything but creates are refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from reconciler.applying.bodies import materialize
from reconciler.cluster.snapshots import StateRecord
from reconciler.cluster.state import RecordWrite, fingerprint_key, refresh_state, write_records
from reconciler.mlcommons.versions import Version
from reconciler.planning import PlanOptions
from reconciler.plans import Action, Change
from reconciler.reconciling import plan_against, read_desired
from reconciler.resources import Kind, ResourceKey
from tests.bench.fleets import RemoteSandbox
from tests.integration import support

STATE = "osml-state"
BATCH = 2_000
"""Requests per replay, and records per `_bulk`."""
ML = "/_plugins/_ml"
CREATES = {
    Kind.MODEL_GROUP: (f"{ML}/model_groups/_register", "model_group_id"),
    Kind.CONNECTOR: (f"{ML}/connectors/_create", "connector_id"),
    Kind.MODEL: (f"{ML}/models/_register", "model_id"),
}
"""Per kind: the create route osml's calls use, and the field of the ID in its answer."""
DEPLOY_TIMEOUT = 600.0


class FillError(RuntimeError):
    """The fleet cannot be filled this way, or the sandbox refused a request."""


def fast_fill(sandbox: RemoteSandbox, paths: Path) -> int:
    """Fill `sandbox` with the manifests under `paths`, as a first apply would leave it;
    returns how many resources were created."""
    with support.open_connection(sandbox.url) as conn:
        desired = read_desired([paths], version=Version.parse(conn.version), env=support.ENV)
        plan = plan_against(conn, desired, options=PlanOptions(), state_index=STATE).plan
        changes = [c for c in plan.changes if c.is_change]
        refused = [c for c in changes if c.action is not Action.CREATE or c.probe is not None]
        if refused or any(c.key.kind not in CREATES for c in changes):
            raise FillError(f"only creates of groups, connectors and models: {refused[:3]}")
        key = fingerprint_key(conn, create=True, index=STATE)
        ids: dict[ResourceKey, str] = {}
        records: list[StateRecord] = []
        # References point from models to groups and connectors only: two rounds.
        for kinds in ((Kind.MODEL_GROUP, Kind.CONNECTOR), (Kind.MODEL,)):
            wave = [c for c in changes if c.key.kind in kinds]
            records += _create(sandbox, wave, ids=ids, secrets=desired.secrets, key=key)
        deployed = [ids[c.key] for c in changes if c.deploy_after]
        for batch in _batches(deployed):
            _replay(sandbox, [("POST", f"{ML}/models/{i}/_deploy", None) for i in batch])
        for chunk in _batches(records):
            written = write_records(conn, [RecordWrite(r, None) for r in chunk], index=STATE)
            failed = [r for r in written.records if not isinstance(r, StateRecord)]
            if failed:
                raise FillError(f"state records refused: {failed[:3]}")
        refresh_state(conn, index=STATE)
        _wait_deployed(sandbox, len(deployed))
        return len(changes)


def _create(
    sandbox: RemoteSandbox,
    changes: Sequence[Change],
    *,
    ids: dict[ResourceKey, str],
    secrets: Any,
    key: bytes | None,
) -> list[StateRecord]:
    """Create `changes` with osml's bodies; their IDs go to `ids`; their records back."""
    records: list[StateRecord] = []
    for batch in _batches(list(changes)):
        bodies = []
        for change in batch:
            assert change.after is not None
            bodies.append(
                materialize(
                    change.after, key=change.key, resolve_id=ids.__getitem__,
                    secrets=secrets, fingerprint_key=key,
                )
            )  # fmt: skip
        answers = _replay(
            sandbox,
            [("POST", CREATES[c.key.kind][0], b.body) for c, b in zip(batch, bodies, strict=True)],
        )
        for change, body, answer in zip(batch, bodies, answers, strict=True):
            live_id = str(answer[CREATES[change.key.kind][1]])
            ids[change.key] = live_id
            # What `Executor.record` keeps after a create (no probe: refused above).
            applied = dict(body.recordable)
            if change.lifecycle is not None:
                applied["lifecycle"] = dict(change.lifecycle)
            records.append(
                StateRecord(
                    key=change.key, status="managed", id=live_id, spec_hash=body.spec_hash,
                    applied=applied, fingerprints=body.fingerprints,
                )
            )  # fmt: skip
    return records


def _replay(
    sandbox: RemoteSandbox, requests: Sequence[tuple[str, str, Any]]
) -> list[dict[str, Any]]:
    """Send `requests` as one replay; their answers' bodies, or FillError for a refusal."""
    body = {"requests": [{"method": m, "path": p, "body": b} for m, p, b in requests]}
    answers = sandbox.admin("POST", "replay", body, timeout=600)["responses"]
    for (method, path, _), answer in zip(requests, answers, strict=True):
        if answer["status"] != 200:
            raise FillError(f"{method} {path}: {answer['status']} {answer['body']}")
    return [answer["body"] for answer in answers]


def _wait_deployed(sandbox: RemoteSandbox, count: int) -> None:
    """Until `count` models are DEPLOYED (the sandbox's deploy delay)."""
    query = {"size": 0, "track_total_hits": True, "query": {"term": {"model_state": "DEPLOYED"}}}
    deadline = time.monotonic() + DEPLOY_TIMEOUT
    while True:
        found = sandbox.search(".plugins-ml-model", query)["hits"]["total"]["value"]
        if found >= count:
            return
        if time.monotonic() > deadline:
            raise FillError(f"{found} of {count} models deployed after {DEPLOY_TIMEOUT:g} s")
        time.sleep(0.2)


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
