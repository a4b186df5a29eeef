"""Read the live cluster into a Snapshot, in a handful of requests whatever its size.

`read_snapshot(conn)` is what `osml plan`, `apply` and `watch` call before planning:
`GET /_cluster/settings` (defaults included), a search of the state index, and a
paginated search per kind (connectors, model groups, remote models), all side by side.
Below `page_size` objects per kind (10,000 by default) that is 5 requests; the count
grows only by one per extra page of a kind. It reads and never writes, and it never asks
for or keeps a credential. `SnapshotReader` reads one snapshot after another (`osml
watch`): a full read every `full_read_every` reads, and in between only the documents
written since the reads before (`cluster.paging`, by `_seq_no`), one search per kind.

A kind is an entry of `LIVE_KINDS`: the Snapshot field it fills, its search and a parser
of its hits. Reading, paging and following changes are the same for every kind.

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

import dataclasses
import functools
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import Connection
from reconciler.cluster.failures import Scrub, keep
from reconciler.cluster.paging import (
    PAGE_SIZE,
    READ_RETRY,
    REAL_TIME,
    Found,
    Pager,
    Search,
)
from reconciler.cluster.snapshots import LiveObject, Snapshot, StateSnapshot
from reconciler.cluster.state import (
    STATE_INDEX,
    StateIndexMissingError,
    search_state,
    state_from_hits,
    state_hit,
)
from reconciler.errors import ClusterError
from reconciler.resources import Kind
from reconciler.retrying import Backoff, Timing

__all__ = [
    "LIVE_KINDS",
    "PAGE_SIZE",
    "LiveKind",
    "SnapshotReader",
    "effective_settings",
    "live_object",
    "read_snapshot",
]

SETTINGS_PREFIX = "plugins.ml_commons."

CONNECTOR_QUERY: Mapping[str, Any] = {"match_all": {}}
GROUP_QUERY: Mapping[str, Any] = {"match_all": {}}
AGENT_QUERY: Mapping[str, Any] = {"match_all": {}}
MODEL_QUERY: Mapping[str, Any] = {
    "bool": {
        # Remote models only: local models and their chunks are not osml's (§6.7), and
        # hidden models belong to super-admins (§1.2); 2.12+ filters those itself.
        "filter": [{"term": {"algorithm": "REMOTE"}}],
        "must_not": [{"term": {"is_hidden": True}}],
    }
}

T = TypeVar("T")


def live_object(hit: Mapping[str, Any]) -> LiveObject:
    """A search hit as a LiveObject, any credential field dropped (defence in depth).

    The hit's `_source` is kept as it is, not copied: the answer it came from is dropped
    once its hits are parsed, so each document is held once.
    """
    source = hit.get("_source") or {}
    if "credential" in source:  # §2.8: the server excludes it; never keep it anyway
        source = {k: v for k, v in source.items() if k != "credential"}
    connector = source.get("connector")
    if isinstance(connector, Mapping) and "credential" in connector:
        source = {**source, "connector": {k: v for k, v in connector.items() if k != "credential"}}
    return LiveObject(
        id=str(hit["_id"]),
        source=source,
        seq_no=hit.get("_seq_no"),
        primary_term=hit.get("_primary_term"),
    )


def remote_model(hit: Mapping[str, Any]) -> LiveObject | None:
    """A model hit as a LiveObject; None for local or hidden models."""
    model = live_object(hit)
    # The query already filters; this guards servers that ignore part of it.
    visible = (
        model.source.get("algorithm") == "REMOTE" and model.source.get("is_hidden") is not True
    )
    return model if visible else None


@dataclasses.dataclass(frozen=True)
class LiveKind:
    """One kind of live object a Snapshot holds: where it is searched, how hits parse."""

    field: str
    """The Snapshot field it fills (a tuple of LiveObject)."""
    what: str
    """Its name in messages."""
    search: Callable[[MlCalls], Search]
    """The search endpoint, given the calls of one read."""
    query: Mapping[str, Any]
    parse: Callable[[Mapping[str, Any]], LiveObject | None] = live_object
    """A hit as a LiveObject; None leaves it out of the snapshot."""
    since: tuple[int, int] = (2, 9)
    """The first release that has the kind; older ones have none to read."""


LIVE_KINDS: tuple[LiveKind, ...] = (
    LiveKind("connectors", "connectors", lambda calls: calls.search_connectors, CONNECTOR_QUERY),
    LiveKind("model_groups", "model groups", lambda calls: calls.search_model_groups, GROUP_QUERY),
    LiveKind(
        "models", "models", lambda calls: calls.search_models, MODEL_QUERY, parse=remote_model
    ),
    LiveKind("agents", "agents", lambda calls: calls.search_agents, AGENT_QUERY, since=(2, 12)),
)
"""Every searched kind of the snapshot, read side by side."""

PIPELINE_KINDS = {
    Kind.INGEST_PIPELINE: "ingest_pipelines",
    Kind.SEARCH_PIPELINE: "search_pipelines",
}
"""The pipelines and the Snapshot field each fills, each read whole with one `GET` (they
are not searchable, CONS §1.1)."""

AGENTS_OFF = "Agent Framework is currently disabled"
"""The refusal of every agent route while `plugins.ml_commons.agent_framework_enabled` is
false (CONS §4.1)."""


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
    reader = SnapshotReader(page_size=page_size, backoff=backoff, timing=timing)
    return reader.read(conn, state_index=state_index, scrub=scrub)


@dataclasses.dataclass(slots=True)
class _Known(Generic[T]):
    """What the reads so far found of one kind, and up to where they saw its writes."""

    found: Found[T]
    since: int
    """Change reads ask for writes after this `_seq_no`: the largest one seen by the read
    before the last. One read of overlap: a write whose `_seq_no` is below another
    already visible one may become searchable a little later (refreshes are not in
    `_seq_no` order), and is still caught by the next read."""
    latest: int
    """The largest `_seq_no` the last read saw."""


STATE = "state"
"""The key of the state index among the kinds a SnapshotReader follows."""


class SnapshotReader:
    """Reads snapshots one after another: in full every `full_read_every` reads, and in
    between only the documents of each kind written since (by `_seq_no`).

    A change read costs one search per kind while fewer than 100 documents of it were
    written since the read before last, and gives the same snapshot a full read would: a
    kind whose total does not add up (a delete), whose answer came from more than one
    shard, or whose writes moved to another primary term is read in full at once. The
    settings are read in full every time (nothing says what changed in them). One
    reader serves one cluster and state index; another one starts again with a full read.
    """

    def __init__(
        self,
        *,
        full_read_every: int = 1,
        page_size: int = PAGE_SIZE,
        backoff: Backoff = READ_RETRY,
        timing: Timing = REAL_TIME,
        kinds: tuple[LiveKind, ...] = LIVE_KINDS,
    ) -> None:
        if full_read_every < 1:
            raise ValueError("full_read_every must be at least 1")
        self.full_read_every = full_read_every
        self.page_size = page_size
        self.kinds = kinds
        self.last_full: bool | None = None
        """Whether the last read was a full one (None before the first)."""
        self._backoff = backoff
        self._timing = timing
        self._known: dict[str, _Known[Any]] = {}
        self._target: tuple[str, str, str] | None = None
        self._reads = 0
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Make the next read a full one."""
        with self._lock:
            self._known.clear()
            self._reads = 0

    def read(
        self, conn: Connection, *, state_index: str = STATE_INDEX, scrub: Scrub = keep
    ) -> Snapshot:
        """The live cluster now; in full or from the changes, as the count says."""
        with self._lock:
            target = (conn.url, conn.cluster_uuid, state_index)
            if target != self._target:
                self._known.clear()
                self._target, self._reads = target, 0
            full = self._reads % self.full_read_every == 0
            self._reads += 1
            try:
                snapshot = self._read(conn, state_index=state_index, scrub=scrub, full=full)
            except BaseException:
                self._known.clear()  # a half-updated memory must not be followed
                self._reads = 0
                raise
            self.last_full = full
            return snapshot

    def _read(self, conn: Connection, *, state_index: str, scrub: Scrub, full: bool) -> Snapshot:
        calls = MlCalls(conn, scrub=scrub)
        version = calls.capabilities.version
        release = (version.major, version.minor)
        present = [kind for kind in self.kinds if release >= kind.since]
        pagers = [self._pager() for _ in range(len(present) + 3 + len(PIPELINE_KINDS))]
        settings_pager, state_pager, index_pager = pagers[0], pagers[1], pagers[2]
        pipeline_pagers = pagers[3 : 3 + len(PIPELINE_KINDS)]
        kind_pagers = pagers[3 + len(PIPELINE_KINDS) :]

        def search_states(body: Mapping[str, Any]) -> dict[str, Any]:
            return search_state(conn, body, index=state_index)

        # The reads are independent: side by side they cost one round trip per page of
        # the longest kind, not one per kind (the connection pool holds enough sockets).
        with ThreadPoolExecutor(max_workers=len(pagers), thread_name_prefix="osml-read") as pool:
            settings_answer = pool.submit(settings_pager.fetch, calls.get_cluster_settings)
            state_answer: Future[Found[dict[str, Any]] | None] = pool.submit(
                self._state, state_pager, search_states, full=full
            )
            index_answer = pool.submit(index_pager.fetch, calls.index_pipelines)
            pipeline_answers: list[Future[dict[str, Any]]] = [
                pool.submit(pager.fetch, functools.partial(calls.get_pipelines, kind))
                for pager, kind in zip(pipeline_pagers, PIPELINE_KINDS, strict=True)
            ]
            kinds = [
                pool.submit(
                    self._follow,
                    pager,
                    kind.field,
                    kind.search(calls),
                    kind.query,
                    what=kind.what,
                    parse=kind.parse,
                    full=full,
                )
                for pager, kind in zip(kind_pagers, present, strict=True)
            ]
            settings, explicit = effective_settings(settings_answer.result())
            found_state = state_answer.result()
            objects: dict[str, Any] = {}
            unread: list[str] = []
            for kind, future in zip(present, kinds, strict=True):
                try:
                    objects[kind.field] = future.result().values()
                except ClusterError as exc:
                    if kind.field != "agents" or AGENTS_OFF not in str(exc.reason):
                        raise
                    unread.append(
                        "agents: the agent framework is switched off "
                        "(plugins.ml_commons.agent_framework_enabled: false)"
                    )
            for field, answer in zip(PIPELINE_KINDS.values(), pipeline_answers, strict=True):
                objects[field] = pipelines(answer.result())
            objects["index_pipelines"] = index_defaults(index_answer.result())
            objects["unread"] = tuple(unread)
        state = (
            StateSnapshot(exists=False)
            if found_state is None
            else state_from_hits(found_state.values())
        )
        snapshot = Snapshot(
            version=conn.version,
            cluster_name=conn.cluster_name,
            cluster_uuid=conn.cluster_uuid,
            settings=settings,
            explicit_settings=explicit,
            state=state,
            requests=sum(pager.requests for pager in pagers),
        )
        return dataclasses.replace(snapshot, **objects)

    def _pager(self) -> Pager:
        return Pager(page_size=self.page_size, backoff=self._backoff, timing=self._timing)

    def _state(self, pager: Pager, search: Search, *, full: bool) -> Found[dict[str, Any]] | None:
        """The state index's documents; None when it does not exist."""
        try:
            return self._follow(
                pager, STATE, search, {"match_all": {}}, what="the state index",
                parse=state_hit, full=full,
            )  # fmt: skip
        except StateIndexMissingError:
            self._known.pop(STATE, None)
            return None

    def _follow(
        self,
        pager: Pager,
        key: str,
        search: Search,
        query: Mapping[str, Any],
        *,
        what: str,
        parse: Callable[[Mapping[str, Any]], T | None],
        full: bool,
    ) -> Found[T]:
        """One kind: its changes merged into what is known, or a full read."""
        known: _Known[T] | None = self._known.get(key)
        if not full and known is not None:
            changes = pager.changes_since(search, query, seq_no=known.since, parse=parse)
            if _mergeable(known.found, changes):
                known.found.items.update(changes.items)
                if len(known.found.items) == changes.total:
                    known.found.total = changes.total
                    known.found.primary_term = known.found.primary_term or changes.primary_term
                    latest = (
                        known.latest
                        if changes.seq_no is None
                        else max(known.latest, changes.seq_no)
                    )
                    known.since, known.latest = known.latest, latest
                    return known.found
            # A delete, another shard layout or primary term: only a full read can tell.
        found = pager.read_all(search, query, what=what, parse=parse)
        if found.seq_no is None or not found.single_shard:
            self._known.pop(key, None)  # no `_seq_no` order here: read in full each time
        else:
            self._known[key] = _Known(found, since=found.seq_no, latest=found.seq_no)
        return found


def _mergeable(known: Found[Any], changes: Found[Any]) -> bool:
    return (
        changes.seq_no is not None
        and changes.single_shard
        # A new primary term (a failover) may have reused `_seq_no`s: read in full.
        and (
            changes.primary_term is None
            or known.primary_term is None
            or changes.primary_term == known.primary_term
        )
    )


def pipelines(answer: Mapping[str, Any]) -> tuple[LiveObject, ...]:
    """`GET /_ingest/pipeline` or `/_search/pipeline` (`{id: body}`) as LiveObjects, in ID
    order; the bodies are kept as the server stores them (CONS §1.2, §2.2)."""
    return tuple(
        LiveObject(id=str(pipeline_id), source=body)
        for pipeline_id, body in sorted(answer.items())
        if isinstance(body, Mapping)
    )


def index_defaults(answer: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The flat `GET /_all/_settings/<pipeline settings>` answer as index -> settings,
    `_none` (no pipeline) left out (CONS §3.1)."""
    found: dict[str, dict[str, str]] = {}
    for index, body in sorted(answer.items()):
        settings = body.get("settings") if isinstance(body, Mapping) else None
        if not isinstance(settings, Mapping):
            continue
        named = {
            str(name): str(value)
            for name, value in settings.items()
            if isinstance(value, str) and value and value != "_none"
        }
        if named:
            found[str(index)] = named
    return found


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


def _ml_only(layer: Any) -> dict[str, Any]:
    if not isinstance(layer, Mapping):
        return {}
    return {k: v for k, v in layer.items() if k.startswith(SETTINGS_PREFIX)}
