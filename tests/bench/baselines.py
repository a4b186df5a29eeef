"""What osml is measured against: the lower bounds, and a naive per-resource reader.

Lower bounds count only what the operations themselves need from the server, with
nothing of osml's own (no state writes, no retries, no polling beyond one read):

* reading a cluster (plan): `GET /` for the version, `GET /_cluster/settings`, one search
  of the state index, and one search per kind, each page holding at most
  `index.max_result_window` (10,000) hits; the reads are independent of each other, so
  at best they all run side by side, and only a kind's pages form a chain;
* applying a fleet: one create per group and connector, then per model a register, a
  deploy and one read of its state; the longest chain is group -> register -> deploy ->
  deploy delay, the read being sent while the deploy settles and answered the moment it
  is done (the sandbox adds its latency before acting); no more than `parallelism`
  requests are in flight;
* a safe apply (`safe_apply_seconds`): the same, plus the requests in a row that the
  lock and the intent journal of DESIGN.md cost any implementation.

The naive baseline plans the way per-resource tools refresh state (Terraform providers,
Ansible modules): it knows the IDs from its state and reads each resource with its own
`GET`, `parallelism` at a time, then plans with osml's own planner so that only the
reading differs. It is written here, in the benchmark, and used nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import Connection
from reconciler.cluster.reading import effective_settings
from reconciler.cluster.snapshots import LiveObject, Snapshot, StateRecord
from reconciler.cluster.state import read_state
from reconciler.resources import Kind
from tests.bench.fleets import Fleet

MAX_RESULT_WINDOW = 10_000
"""The most hits one search page may hold on OpenSearch (`index.max_result_window`)."""


def pages(count: int) -> int:
    """Search requests needed to read `count` hits (an empty index still needs one)."""
    return max(1, math.ceil(count / MAX_RESULT_WINDOW))


def plan_requests(fleet: Fleet) -> int:
    """The fewest requests that read everything a plan of `fleet` needs."""
    kinds = (fleet.groups, fleet.connectors, fleet.models)
    state_docs = fleet.size + 2  # one record per resource, the meta and lock documents
    return 2 + pages(state_docs) + sum(pages(n) for n in kinds) + CONSUMER_READS


CONSUMER_READS = 4
"""What a snapshot reads of the model consumers whatever their number (3.x): all ingest
pipelines and all search pipelines (one `GET` each), the pipeline settings of every index
(one `GET`), and the agents (one search page; docs/reference/consumers.md §6)."""


def plan_seconds(fleet: Fleet, *, latency: float) -> float:
    """The shortest time those reads can take: all side by side, the longest page chain."""
    chain = max(pages(n) for n in (fleet.size + 2, fleet.groups, fleet.connectors, fleet.models))
    return latency * chain


def apply_requests(fleet: Fleet) -> int:
    """The fewest requests that create a fleet: creates, registers, deploys, state reads."""
    return fleet.groups + fleet.connectors + 3 * fleet.models


def apply_seconds(fleet: Fleet, *, latency: float, deploy_delay: float, parallelism: int) -> float:
    """The critical path of creating `fleet`, or its request volume, whichever is longer."""
    chain = 3 * latency + deploy_delay
    return max(chain, math.ceil(apply_requests(fleet) / parallelism) * latency)


SAFE_APPLY_ROUNDS = 3
"""Requests in a row that any locked, journaled apply adds to the operations: take the
state lock, write the intents before the first create, give the lock back (DESIGN:
"Before each create osml writes an intent record"; "One lock document serialises
apply and watch"). A cluster's first apply also creates the state index: one more."""


def safe_apply_seconds(
    fleet: Fleet, *, latency: float, deploy_delay: float, parallelism: int, first: bool = True
) -> float:
    """`apply_seconds` plus the round trips a safe apply cannot do without: the floor
    of any tool that locks and journals as DESIGN.md requires, osml or another."""
    rounds = SAFE_APPLY_ROUNDS + (1 if first else 0)
    bound = apply_seconds(
        fleet, latency=latency, deploy_delay=deploy_delay, parallelism=parallelism
    )
    return bound + rounds * latency


def naive_snapshot(conn: Connection, *, state_index: str, parallelism: int = 10) -> Snapshot:
    """A Snapshot read one resource at a time, as per-resource tools refresh.

    The state search stands in for their local state file (it costs the same one request);
    every managed resource is then read with its own GET, `parallelism` at a time.
    """
    calls = MlCalls(conn)
    settings, explicit = effective_settings(calls.get_cluster_settings())
    state = read_state(conn, index=state_index)
    getters: dict[Kind, Callable[[str], dict[str, Any]]] = {
        Kind.CONNECTOR: calls.get_connector,
        Kind.MODEL_GROUP: calls.get_model_group,
        Kind.MODEL: calls.get_model,
    }
    wanted = [r for r in state.records.values() if r.id and r.key.kind in getters]

    def read(record: StateRecord) -> tuple[Kind, LiveObject]:
        assert record.id is not None
        return record.key.kind, LiveObject(record.id, getters[record.key.kind](record.id))

    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        found = list(pool.map(read, wanted))
    by_kind = {kind: tuple(o for k, o in found if k is kind) for kind in getters}
    return Snapshot(
        version=conn.version,
        cluster_name=conn.cluster_name,
        cluster_uuid=conn.cluster_uuid,
        settings=settings,
        explicit_settings=explicit,
        connectors=by_kind[Kind.CONNECTOR],
        model_groups=by_kind[Kind.MODEL_GROUP],
        models=by_kind[Kind.MODEL],
        state=state,
        requests=2 + len(wanted),
    )
