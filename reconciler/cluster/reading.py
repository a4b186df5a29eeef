"""Read the live cluster into a Snapshot, in a handful of requests whatever its size.

`read_snapshot(conn)` is what `osml plan`, `apply` and `watch` call before planning:
`GET /_cluster/settings` (defaults included), one search of the state index, and one
paginated search per kind (connectors, model groups, remote models). Below `page_size`
objects per kind (1000 by default) that is 5 requests; the count grows only by one per
extra page. It reads and never writes, and it never asks for or keeps a credential.

Pagination: `search_after` needs a sort with a total, stable order. `_id` is what most
tools use, but OpenSearch logs a deprecation (a `Warning` header, raised by opensearch-py
as a Python warning) and clusters can forbid it (`indices.id_field_data.enabled`). The ML
system indices have a single primary shard (reference §1.1 creates them that way), so
`_doc` (index order) is a total order within one search. Between two page requests a
refresh or merge may shift it; the first page therefore also asks for the exact
`hits.total`, and a read whose distinct IDs do not add up to it is repeated (then fails
as transient). A concurrent create or delete thus never yields a torn snapshot.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import Connection
from reconciler.cluster.failures import Scrub, keep
from reconciler.cluster.snapshots import LiveObject, Snapshot
from reconciler.cluster.state import STATE_INDEX, read_state
from reconciler.errors import TransientClusterError
from reconciler.retrying import Backoff, Timing, retry

PAGE_SIZE = 10_000
"""Hits per search page: the default `index.max_result_window`, so below 10,000 objects of
a kind a snapshot costs one search per kind (§2.8), whatever the fleet size."""
SORT: list[Any] = ["_doc"]
"""The pagination order; see the module docstring for why not `_id`."""
ATTEMPTS = 3
"""Reads of one kind before an inconsistent pagination is reported."""
SETTINGS_PREFIX = "plugins.ml_commons."

CONNECTOR_QUERY: Mapping[str, Any] = {"match_all": {}}
GROUP_QUERY: Mapping[str, Any] = {"match_all": {}}
MODEL_QUERY: Mapping[str, Any] = {
    "bool": {
        # Remote models only: local models and their chunks are not osml's (§6.7), and
        # hidden models belong to super-admins (§1.2); 2.12+ filters those itself.
        "filter": [{"term": {"algorithm": "REMOTE"}}],
        "must_not": [{"term": {"is_hidden": True}}],
    }
}

READ_RETRY = Backoff(initial=0.1, maximum=2.0, attempts=6)
"""Every read is idempotent: a transient failure is retried with this backoff."""

REAL_TIME = Timing()
"""Real sleeping and clock; tests pass their own Timing."""

Search = Callable[[Mapping[str, Any]], dict[str, Any]]
T = TypeVar("T")


def read_snapshot(
    conn: Connection,
    *,
    state_index: str = STATE_INDEX,
    page_size: int = PAGE_SIZE,
    scrub: Scrub = keep,
    backoff: Backoff = READ_RETRY,
    timing: Timing = REAL_TIME,
) -> Snapshot:
    """The live cluster: version, ML settings, state, connectors, groups, remote models.

    Each request is retried on transient failures; `Snapshot.requests` counts attempts.
    """
    calls = MlCalls(conn, scrub=scrub)
    readers = [_Reader(page_size=page_size, backoff=backoff, timing=timing) for _ in range(5)]
    # The five reads are independent: side by side they cost one round trip, not five
    # (the connection pool holds more than five connections).
    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="osml-read") as pool:
        settings_answer = pool.submit(readers[0].fetch, calls.get_cluster_settings)
        state_answer = pool.submit(readers[1].fetch, lambda: read_state(conn, index=state_index))
        kinds = [
            pool.submit(reader.read_all, search, query, what=what)
            for reader, (search, query, what) in zip(
                readers[2:],
                (
                    (calls.search_connectors, CONNECTOR_QUERY, "connectors"),
                    (calls.search_model_groups, GROUP_QUERY, "model groups"),
                    (calls.search_models, MODEL_QUERY, "models"),
                ),
                strict=True,
            )
        ]
        settings, explicit = effective_settings(settings_answer.result())
        state = state_answer.result()
        connectors, groups, models = (future.result() for future in kinds)
    return Snapshot(
        version=conn.version,
        cluster_name=conn.cluster_name,
        cluster_uuid=conn.cluster_uuid,
        settings=settings,
        explicit_settings=explicit,
        connectors=connectors,
        model_groups=groups,
        models=tuple(m for m in models if _is_remote_visible(m)),
        state=state,
        requests=sum(reader.requests for reader in readers),
    )


def effective_settings(
    answer: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(effective, explicit) `plugins.ml_commons.*` settings from a flat settings answer.

    Effective: transient over persistent over defaults. Explicit: persistent and
    transient only, so that "absent" means "the version's default" (§9).
    """
    layers = {name: _ml_only(answer.get(name)) for name in ("defaults", "persistent", "transient")}
    explicit = {**layers["persistent"], **layers["transient"]}
    return {**layers["defaults"], **explicit}, explicit


class _Reader:
    """Retries, paginates and counts the requests it makes."""

    def __init__(
        self, *, page_size: int, backoff: Backoff = READ_RETRY, timing: Timing = REAL_TIME
    ) -> None:
        self.page_size = page_size
        self.requests = 0
        self._backoff = backoff
        self._timing = timing

    def fetch(self, call: Callable[[], T]) -> T:
        """`call()`, retried on transient failures, every attempt counted."""

        def counted() -> T:
            self.requests += 1
            return call()

        return retry(counted, backoff=self._backoff, timing=self._timing)

    def read_all(
        self, search: Search, query: Mapping[str, Any], *, what: str
    ) -> tuple[LiveObject, ...]:
        for _ in range(ATTEMPTS):
            found = self._paginate(search, query)
            if found is not None:
                return found
        raise TransientClusterError(
            f"reading {what}: the index changed during pagination {ATTEMPTS} times; retry"
        )

    def _paginate(self, search: Search, query: Mapping[str, Any]) -> tuple[LiveObject, ...] | None:
        """Every hit, or None when the pages do not add up to the first page's total."""
        objects: dict[str, LiveObject] = {}
        expected: int | None = None
        after: list[Any] | None = None
        while True:
            body = self._body(query, after)
            answer = self.fetch(functools.partial(search, body))
            hits = answer["hits"]["hits"]
            # Only the first page's total counts: it is the whole result; later pages'
            # totals are not comparable across servers (the sandbox counts what remains).
            expected = _total(answer) if expected is None else expected
            objects.update((hit["_id"], live_object(hit)) for hit in hits)
            if len(hits) < self.page_size or len(objects) >= expected:
                break
            after = hits[-1]["sort"]
        return tuple(objects.values()) if len(objects) == expected else None

    def _body(self, query: Mapping[str, Any], after: list[Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "query": query,
            "size": self.page_size,
            "sort": SORT,
            "seq_no_primary_term": True,
            "track_total_hits": True,
        }
        if after is not None:
            body["search_after"] = after
        return body


def live_object(hit: Mapping[str, Any]) -> LiveObject:
    """A search hit as a LiveObject, any credential field dropped (defence in depth)."""
    source = dict(hit.get("_source") or {})
    source.pop("credential", None)  # §2.8: the server excludes it; never keep it anyway
    connector = source.get("connector")
    if isinstance(connector, Mapping) and "credential" in connector:
        source["connector"] = {k: v for k, v in connector.items() if k != "credential"}
    return LiveObject(
        id=str(hit["_id"]),
        source=source,
        seq_no=hit.get("_seq_no"),
        primary_term=hit.get("_primary_term"),
    )


def _is_remote_visible(model: LiveObject) -> bool:
    # The query already filters; this guards servers that ignore part of it.
    return model.source.get("algorithm") == "REMOTE" and model.source.get("is_hidden") is not True


def _total(answer: Mapping[str, Any]) -> int:
    total = answer["hits"].get("total", 0)
    return int(total["value"]) if isinstance(total, Mapping) else int(total)


def _ml_only(layer: Any) -> dict[str, Any]:
    if not isinstance(layer, Mapping):
        return {}
    return {k: v for k, v in layer.items() if k.startswith(SETTINGS_PREFIX)}
