"""Reading every document of one search, page by page, or only what changed since a point.

`Pager` is the engine behind the snapshot (`cluster.reading`) and the state read
(`cluster.state`): one instance per kind, each used by one thread. A kind is a search
function (an index or an ML `_search` endpoint) and a parser of its hits; the pager knows
neither, so a new kind needs only those two.

Full reads page with `search_after` on `_doc` (see `cluster.reading` for why not `_id`).
Each page is parsed as it arrives and dropped before the next is asked for, so memory
holds the parsed objects and one page of the server's answer, whatever the kind's size.

Changes (`changes_since`) use `_seq_no`: every write of a document, whatever the version
and whoever makes it (osml, a user, ML Commons' own sync-up), gives it a new `_seq_no`,
larger than every earlier one of its shard; search hits always carry it (reference §2.8:
`seq_no_primary_term` is forced on). Sorted by `_seq_no` descending, the first hits of a
search are the documents written most recently, and the total still counts the whole
kind, so one request answers both "what was written after N" and "how many are there"
(a delete shows as a total lower than expected). This holds on one primary shard, which
the ML system indices and the state index have; an answer from more shards, or a hit
with another primary term, makes the caller read the kind in full instead.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from reconciler.errors import TransientClusterError
from reconciler.retrying import Backoff, Timing, retry

PAGE_SIZE = 10_000
"""Hits per search page: the default `index.max_result_window`, so below 10,000 objects of
a kind a read costs one search per kind (§2.8), whatever the fleet size."""
SORT: list[Any] = ["_doc"]
"""The order of full reads; see `cluster.reading` for why not `_id`."""
CHANGES_SORT: list[Any] = [{"_seq_no": {"order": "desc"}}]
"""The order of change reads: most recently written first."""
CHANGES_FIRST_PAGE = 100
"""Hits of the first page of a change read: a quiet kind costs parsing this many, a busy
one pages on at the full page size."""
ATTEMPTS = 3
"""Reads of one kind before an inconsistent pagination is reported."""

READ_RETRY = Backoff(initial=0.1, maximum=2.0, attempts=6)
"""Every read is idempotent: a transient failure is retried with this backoff."""

REAL_TIME = Timing()
"""Real sleeping and clock; tests pass their own Timing."""

Search = Callable[[Mapping[str, Any]], dict[str, Any]]
T = TypeVar("T")
R = TypeVar("R")


@dataclasses.dataclass(slots=True)
class Found(Generic[T]):
    """What one read of a kind found: each document's parsed value, by `_id`."""

    items: dict[str, T | None]
    """`_id` -> the parser's value; None for a hit the parser refused (still counted)."""
    total: int
    """The kind's `hits.total` (its whole size, also for a change read)."""
    seq_no: int | None
    """The largest `_seq_no` seen; None when a hit had none (changes cannot be asked)."""
    primary_term: int | None
    """The largest `_primary_term` seen."""
    single_shard: bool = True
    """Whether every answer came from one shard (`_shards.total` at most 1)."""

    def values(self) -> tuple[T, ...]:
        """The parsed documents, refused hits left out, in the order they were read."""
        return tuple(v for v in self.items.values() if v is not None)


class Pager:
    """Retries, paginates and counts the requests it makes; one thread at a time."""

    def __init__(
        self, *, page_size: int = PAGE_SIZE, backoff: Backoff = READ_RETRY,
        timing: Timing = REAL_TIME,
    ) -> None:  # fmt: skip
        self.page_size = page_size
        self.requests = 0
        self._backoff = backoff
        self._timing = timing

    def fetch(self, call: Callable[[], R]) -> R:
        """`call()`, retried on transient failures, every attempt counted."""

        def counted() -> R:
            self.requests += 1
            return call()

        return retry(counted, backoff=self._backoff, timing=self._timing)

    def read_all(
        self,
        search: Search,
        query: Mapping[str, Any],
        *,
        what: str,
        parse: Callable[[Mapping[str, Any]], T | None],
    ) -> Found[T]:
        """Every hit of `query`, parsed; read again when the pages do not add up."""
        for _ in range(ATTEMPTS):
            found = self._paginate(search, query, parse)
            if found is not None:
                return found
        raise TransientClusterError(
            f"reading {what}: the index changed during pagination {ATTEMPTS} times; retry"
        )

    def changes_since(
        self,
        search: Search,
        query: Mapping[str, Any],
        *,
        seq_no: int,
        parse: Callable[[Mapping[str, Any]], T | None],
    ) -> Found[T]:
        """The hits of `query` written after `seq_no`, parsed, and the kind's total.

        `Found.seq_no` is None when a hit had no `_seq_no` (the caller reads in full).
        """
        found: Found[T] = Found({}, total=0, seq_no=seq_no, primary_term=None)
        size, after, first = min(CHANGES_FIRST_PAGE, self.page_size), None, True
        while True:
            body = self._body(query, after, size=size, sort=CHANGES_SORT)
            answer = self.fetch(functools.partial(search, body))
            if first:
                found.total, first = _total(answer), False
            found.single_shard &= _shards(answer) <= 1
            hits = answer["hits"]["hits"]
            del answer  # only the hits are needed: the page goes when they are parsed
            for hit in hits:
                written = hit.get("_seq_no")
                if not isinstance(written, int):
                    found.seq_no = None
                    return found
                if written <= seq_no:
                    return found
                _note(found, hit)
                found.items[str(hit["_id"])] = parse(hit)
            if len(hits) < size:
                return found
            after, size = hits[-1]["sort"], self.page_size
            del hits

    def _paginate(
        self,
        search: Search,
        query: Mapping[str, Any],
        parse: Callable[[Mapping[str, Any]], T | None],
    ) -> Found[T] | None:
        """Every hit, or None when the pages do not add up to the first page's total."""
        found: Found[T] = Found({}, total=-1, seq_no=-1, primary_term=None)
        after: list[Any] | None = None
        while True:
            body = self._body(query, after, size=self.page_size, sort=SORT)
            answer = self.fetch(functools.partial(search, body))
            # Only the first page's total counts: it is the whole result; later pages'
            # totals are not comparable across servers (the sandbox counts what remains).
            if found.total < 0:
                found.total = _total(answer)
            found.single_shard &= _shards(answer) <= 1
            hits = answer["hits"]["hits"]
            del answer  # parse the hits, then let the page go before the next arrives
            for hit in hits:
                _note(found, hit)
                found.items[str(hit["_id"])] = parse(hit)
            if len(hits) < self.page_size or len(found.items) >= found.total:
                break
            after = hits[-1]["sort"]
            del hits
        return found if len(found.items) == found.total else None

    @staticmethod
    def _body(
        query: Mapping[str, Any], after: list[Any] | None, *, size: int, sort: list[Any]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "query": query,
            "size": size,
            "sort": sort,
            "seq_no_primary_term": True,
            "track_total_hits": True,
        }
        if after is not None:
            body["search_after"] = after
        return body


def _note(found: Found[Any], hit: Mapping[str, Any]) -> None:
    """Keep the largest `_seq_no` and `_primary_term` of a read."""
    seq_no, term = hit.get("_seq_no"), hit.get("_primary_term")
    if not isinstance(seq_no, int) or found.seq_no is None:
        found.seq_no = None
    else:
        found.seq_no = max(found.seq_no, seq_no)
    if isinstance(term, int):
        found.primary_term = term if found.primary_term is None else max(found.primary_term, term)


def _total(answer: Mapping[str, Any]) -> int:
    total = answer["hits"].get("total", 0)
    return int(total["value"]) if isinstance(total, Mapping) else int(total)


def _shards(answer: Mapping[str, Any]) -> int:
    shards = answer.get("_shards")
    return int(shards.get("total", 1)) if isinstance(shards, Mapping) else 1
