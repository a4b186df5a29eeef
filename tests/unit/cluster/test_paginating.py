"""Pagination of the snapshot reader against an in-memory search function."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from reconciler.cluster.paging import Pager
from reconciler.cluster.reading import live_object
from reconciler.errors import ClusterError, TransientClusterError
from reconciler.retrying import Timing

QUERY = {"match_all": {}}


def index_search(
    docs: list[str], *, between_pages: Callable[[list[str], int], None] | None = None
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A `_doc`-sorted search over `docs`, total counted over the whole index."""
    calls = {"n": 0}

    def search(body: Mapping[str, Any]) -> dict[str, Any]:
        if between_pages is not None:
            between_pages(docs, calls["n"])
        calls["n"] += 1
        start = body["search_after"][0] + 1 if "search_after" in body else 0
        page = [
            {"_id": doc_id, "_source": {"name": doc_id}, "sort": [pos]}
            for pos, doc_id in enumerate(docs)
            if pos >= start
        ][: body["size"]]
        return {"hits": {"total": {"value": len(docs)}, "hits": page}}

    return search


@pytest.mark.parametrize(
    ("count", "page_size", "requests"),
    [(0, 5, 1), (4, 5, 1), (5, 5, 1), (6, 5, 2), (10, 5, 2), (11, 5, 3), (2000, 1000, 2)],
)
def test_pages(count: int, page_size: int, requests: int) -> None:
    docs = [f"d{n}" for n in range(count)]
    reader = Pager(page_size=page_size)
    found = reader.read_all(index_search(docs), QUERY, what="things", parse=live_object).values()
    assert [o.id for o in found] == docs
    assert reader.requests == requests


def test_a_delete_between_pages_is_read_again() -> None:
    def delete_once(docs: list[str], call: int) -> None:
        if call == 1:
            del docs[0]  # shifts every later document one place down

    docs = [f"d{n}" for n in range(12)]
    reader = Pager(page_size=5)
    found = reader.read_all(
        index_search(docs, between_pages=delete_once), QUERY, what="x", parse=live_object
    ).values()
    assert sorted(o.id for o in found) == sorted(docs)
    assert len(found) == 11


def test_an_index_that_keeps_changing_fails_as_transient() -> None:
    def shrink(docs: list[str], call: int) -> None:
        if call % 3:  # two pages in three see a document vanish before them
            del docs[0]

    reader = Pager(page_size=5)
    with pytest.raises(TransientClusterError, match="changed during pagination"):
        reader.read_all(
            index_search([f"d{n}" for n in range(40)], between_pages=shrink),
            QUERY,
            what="x",
            parse=live_object,
        )


def test_transient_failures_are_retried_and_counted() -> None:
    slept: list[float] = []
    failures = iter([TransientClusterError("503"), TransientClusterError("reset")])
    search = index_search([f"d{n}" for n in range(3)])

    def flaky(body: Mapping[str, Any]) -> dict[str, Any]:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return search(body)

    reader = Pager(page_size=5, timing=Timing(sleep=slept.append))
    found = reader.read_all(flaky, QUERY, what="x", parse=live_object).values()
    assert len(found) == 3
    assert reader.requests == 3
    assert len(slept) == 2


def test_permanent_failures_are_not_retried() -> None:
    def broken(body: Mapping[str, Any]) -> dict[str, Any]:
        raise ClusterError("403")

    reader = Pager(page_size=5, timing=Timing(sleep=lambda _: None))
    with pytest.raises(ClusterError, match="403"):
        reader.read_all(broken, QUERY, what="x", parse=live_object).values()
    assert reader.requests == 1
