"""Search semantics of the sandbox: the query DSL subset, sorting, paging and hit shapes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.sandbox.http import ApiError
from reconciler.sandbox.store import Store

DOCS: dict[str, dict[str, Any]] = {
    "a": {
        "name": "OpenAI Chat",
        "n": 3,
        "access": "public",
        "tags": ["x", "y"],
        "owner": {"name": "alice"},
        "flag": True,
    },
    "b": {
        "name": "openai embedding",
        "n": 1,
        "access": "private",
        "owner": {"name": "bob"},
        "flag": False,
    },
    "c": {"name": "Cohere Chat", "n": 2, "access": "restricted", "backend_roles": ["ml"]},
    "d": {"name": "Bedrock Titan", "access": "public", "url": "https://api.openai.com/v1"},
}
MAPPINGS = {"properties": {"access": {"type": "keyword"}, "n": {"type": "long"}}}


@pytest.fixture(scope="module")
def store() -> Store:
    store = Store()
    store.create_index("things", mappings=MAPPINGS)
    for doc_id, source in DOCS.items():
        store.index("things", source, id=doc_id)
    return store


def ids(store: Store, body: dict[str, Any], index: str = "things") -> list[str]:
    return [h["_id"] for h in store.search(index, body)["hits"]["hits"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"match_all": {}}, {"a", "b", "c", "d"}),
        ({"match_none": {}}, set()),
        ({"term": {"name": "chat"}}, {"a", "c"}),
        ({"term": {"name": "Chat"}}, set()),  # term is not analyzed; text tokens are lower case
        ({"term": {"name.keyword": "Cohere Chat"}}, {"c"}),
        ({"term": {"name.keyword": "cohere chat"}}, set()),
        ({"term": {"name.keyword": {"value": "Cohere Chat"}}}, {"c"}),
        ({"term": {"access": "public"}}, {"a", "d"}),
        ({"term": {"access": "PUBLIC"}}, set()),
        ({"term": {"n": 3}}, {"a"}),
        ({"term": {"n": "3"}}, {"a"}),
        ({"term": {"flag": True}}, {"a"}),
        ({"term": {"flag": "false"}}, {"b"}),
        ({"term": {"owner.name.keyword": "bob"}}, {"b"}),
        ({"term": {"tags": "y"}}, {"a"}),
        ({"terms": {"access": ["private", "restricted"]}}, {"b", "c"}),
        ({"terms": {"backend_roles.keyword": ["ml", "other"]}}, {"c"}),
        ({"match": {"name": "OPENAI titan"}}, {"a", "b", "d"}),
        ({"match": {"name": {"query": "openai chat", "operator": "and"}}}, {"a"}),
        ({"match": {"access": "public"}}, {"a", "d"}),
        ({"match_phrase": {"name": "openai chat"}}, {"a"}),
        ({"exists": {"field": "backend_roles"}}, {"c"}),
        ({"exists": {"field": "owner.name"}}, {"a", "b"}),
        ({"ids": {"values": ["a", "z", "d"]}}, {"a", "d"}),
        ({"range": {"n": {"gte": 2}}}, {"a", "c"}),
        ({"range": {"n": {"gt": 1, "lt": 3}}}, {"c"}),
        ({"prefix": {"name.keyword": "Open"}}, {"a"}),
        ({"wildcard": {"access": "p*"}}, {"a", "b", "d"}),
        ({"term": {"url": "api.openai.com"}}, {"d"}),  # the standard tokenizer keeps host names
        ({"nested": {"path": "owner", "query": {"term": {"owner.name.keyword": "alice"}}}}, {"a"}),
        ({"constant_score": {"filter": {"term": {"access": "private"}}}}, {"b"}),
    ],
)
def test_queries_match_like_opensearch(
    store: Store, query: dict[str, Any], expected: set[str]
) -> None:
    assert set(ids(store, {"query": query})) == expected


@pytest.mark.parametrize(
    ("bool_query", "expected"),
    [
        ({"must": [{"term": {"name": "chat"}}]}, {"a", "c"}),
        ({"filter": [{"term": {"access": "public"}}]}, {"a", "d"}),
        ({"must_not": [{"term": {"access": "public"}}]}, {"b", "c"}),
        ({"should": [{"term": {"access": "private"}}, {"term": {"n": 2}}]}, {"b", "c"}),
        (
            {"filter": {"term": {"access": "public"}}, "should": [{"term": {"name": "chat"}}]},
            {"a", "d"},
        ),
        (
            {
                "filter": {"term": {"access": "public"}},
                "should": [{"term": {"name": "chat"}}],
                "minimum_should_match": 1,
            },
            {"a"},
        ),
        (
            {
                "should": [
                    {"term": {"access": "public"}},
                    {"term": {"name": "chat"}},
                    {"term": {"flag": True}},
                ],
                "minimum_should_match": 2,
            },
            {"a"},
        ),
        (
            {
                "should": [
                    {"term": {"access": "public"}},
                    {
                        "bool": {
                            "must": [
                                {"term": {"access": "private"}},
                                {"term": {"owner.name.keyword": "bob"}},
                            ]
                        }
                    },
                ]
            },
            {"a", "b", "d"},
        ),
    ],
)
def test_bool_combines_clauses(
    store: Store, bool_query: dict[str, Any], expected: set[str]
) -> None:
    assert set(ids(store, {"query": {"bool": bool_query}})) == expected


def test_filter_only_bool_scores_zero_and_match_all_scores_one(store: Store) -> None:
    filtered = store.search("things", {"query": {"bool": {"filter": {"match_all": {}}}}})
    everything = store.search("things", {})
    assert {h["_score"] for h in filtered["hits"]["hits"]} == {0.0}
    assert everything["hits"]["max_score"] == 1.0


def test_response_shape_is_opensearch_search_response(store: Store) -> None:
    body = {"query": {"ids": {"values": ["a"]}}, "seq_no_primary_term": True, "version": True}
    response = store.search("things", body)
    assert set(response) == {"took", "timed_out", "_shards", "hits"}
    assert response["_shards"] == {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
    assert response["hits"]["total"] == {"value": 1, "relation": "eq"}
    hit = response["hits"]["hits"][0]
    assert list(hit) == [
        "_index",
        "_id",
        "_version",
        "_seq_no",
        "_primary_term",
        "_score",
        "_source",
    ]
    assert (hit["_index"], hit["_version"], hit["_seq_no"], hit["_primary_term"]) == (
        "things",
        1,
        0,
        1,
    )


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ([{"n": "asc"}], ["b", "c", "a", "d"]),  # missing values last
        ([{"n": {"order": "desc"}}], ["a", "c", "b", "d"]),
        ([{"n": {"order": "asc", "missing": "_first"}}], ["d", "b", "c", "a"]),
        (["_id"], ["a", "b", "c", "d"]),
        ([{"_id": "desc"}], ["d", "c", "b", "a"]),
        ([{"access": "asc"}, {"name.keyword": "desc"}], ["b", "a", "d", "c"]),
        (["_doc"], ["a", "b", "c", "d"]),
        ("name.keyword", ["d", "c", "a", "b"]),
    ],
)
def test_sort_orders_hits_and_reports_sort_values(
    store: Store, sort: Any, expected: list[str]
) -> None:
    response = store.search("things", {"sort": sort})
    assert [h["_id"] for h in response["hits"]["hits"]] == expected
    assert all("sort" in h and h["_score"] is None for h in response["hits"]["hits"])
    assert response["hits"]["max_score"] is None


def test_sort_on_a_text_field_is_refused(store: Store) -> None:
    with pytest.raises(ApiError) as caught:
        store.search("things", {"sort": ["name"]})
    assert caught.value.error_type == "illegal_argument_exception"
    assert "Text fields are not optimised" in caught.value.reason


def test_paging_with_from_size_and_search_after(store: Store) -> None:
    assert ids(store, {"sort": ["_id"], "size": 2, "from": 1}) == ["b", "c"]
    first = store.search("things", {"sort": ["_id"], "size": 2})["hits"]["hits"]
    after = ids(store, {"sort": ["_id"], "size": 2, "search_after": first[-1]["sort"]})
    assert after == ["c", "d"]
    desc = ids(store, {"sort": [{"n": "desc"}], "search_after": [2]})
    assert desc == ["b", "d"]


def test_a_search_after_page_counts_every_match_as_opensearch_does(store: Store) -> None:
    everything = store.search("things", {"sort": ["_id"], "size": 1})["hits"]["total"]
    later = store.search("things", {"sort": ["_id"], "size": 1, "search_after": ["b"]})
    assert later["hits"]["total"] == everything
    assert [h["_id"] for h in later["hits"]["hits"]] == ["c"]


@pytest.mark.parametrize(
    ("body", "error_type", "reason"),
    [
        ({"query": {"fuzzy": {"name": "x"}}}, "parsing_exception", "unknown query [fuzzy]"),
        (
            {"size": 10_001},
            "illegal_argument_exception",
            "Result window is too large, from + size must be less than or equal to: [10000] but was [10001].",
        ),
        (
            {"search_after": ["a"]},
            "illegal_argument_exception",
            "Sort must contain at least one field.",
        ),
        (
            {"size": -1},
            "illegal_argument_exception",
            "[size] parameter cannot be negative, found [-1]",
        ),
        (
            {"sort": ["_id"], "search_after": ["a", "b"]},
            "illegal_argument_exception",
            "search_after has 2 value(s) but sort has 1.",
        ),
    ],
)
def test_bad_searches_are_refused_with_opensearch_texts(
    store: Store, body: dict[str, Any], error_type: str, reason: str
) -> None:
    with pytest.raises(ApiError) as caught:
        store.search("things", body)
    assert caught.value.status == 400
    assert caught.value.error_type == error_type
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("spec", "source"),
    [
        (False, None),
        (["name", "owner.*"], {"name": "OpenAI Chat", "owner": {"name": "alice"}}),
        ("n", {"n": 3}),
        (
            {"excludes": ["tags", "owner", "flag"]},
            {"name": "OpenAI Chat", "n": 3, "access": "public"},
        ),
        ({"includes": ["o*"], "excludes": ["owner.name"]}, {"owner": {}}),
    ],
)
def test_source_filtering(store: Store, spec: Any, source: dict[str, Any] | None) -> None:
    hit = store.search("things", {"query": {"ids": {"values": ["a"]}}, "_source": spec})["hits"][
        "hits"
    ][0]
    assert hit.get("_source") == source


@pytest.mark.parametrize(
    ("track", "total"),
    [(True, {"value": 4, "relation": "eq"}), (2, {"value": 2, "relation": "gte"}), (False, None)],
)
def test_track_total_hits(store: Store, track: Any, total: dict[str, Any] | None) -> None:
    hits = store.search("things", {"track_total_hits": track, "size": 0})["hits"]
    assert hits.get("total") == total
    assert hits["hits"] == []


def test_multi_index_and_missing_index(store: Store) -> None:
    other = Store()
    other.index("one", {"k": "v"}, id="1")
    other.index("two", {"k": "v"}, id="2")
    assert sorted(ids(other, {}, index="one,two")) == ["1", "2"]
    assert sorted(ids(other, {}, index="t*")) == ["2"]
    assert ids(other, {}, index="z*") == []
    with pytest.raises(ApiError) as caught:
        other.search("three", {})
    assert caught.value.error_type == "index_not_found_exception"


def test_search_of_ten_thousand_docs_is_fast() -> None:
    import time

    big = Store()
    for n in range(10_000):
        big.index(
            "many",
            {"name": f"model {n}", "n": n, "access": "public" if n % 2 else "private"},
            id=str(n),
        )
    started = time.perf_counter()
    result = big.search("many", {"query": {"term": {"name.keyword": "model 9999"}}})
    elapsed = time.perf_counter() - started
    assert result["hits"]["total"]["value"] == 1
    assert elapsed < 0.5  # ~20 ms on a laptop; generous for slow CI machines


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=0, max_size=25),
    page=st.integers(1, 7),
    descending=st.booleans(),
)
def test_search_after_pages_visit_every_doc_once_in_order(
    values: list[int | None], page: int, descending: bool
) -> None:
    store = Store()
    store.create_index("p")
    for n, value in enumerate(values):
        store.index("p", {} if value is None else {"v": value}, id=f"{n:03d}")
    sort = [{"v": "desc" if descending else "asc"}, "_id"]
    everything = ids(store, {"sort": sort, "size": 100}, index="p")
    seen: list[str] = []
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {"sort": sort, "size": page}
        if after is not None:
            body["search_after"] = after
        hits = store.search("p", body)["hits"]["hits"]
        if not hits:
            break
        seen += [h["_id"] for h in hits]
        after = hits[-1]["sort"]
    assert seen == everything
    assert sorted(seen) == sorted(f"{n:03d}" for n in range(len(values)))


def test_the_result_window_is_the_index_setting() -> None:
    store = Store()
    store.create_index("small")
    for n in range(5):
        store.index("small", {"n": n}, id=f"d{n}")
    store.put_settings("small", {"index": {"max_result_window": 3}})
    assert len(store.search("small", {"size": 3})["hits"]["hits"]) == 3
    with pytest.raises(ApiError) as caught:
        store.search("small", {"size": 2, "from": 2})
    assert caught.value.reason.startswith(
        "Result window is too large, from + size must be less than or equal to: [3] but was [4]."
    )
    store.put_settings("small", {"index.max_result_window": 10})
    assert len(store.search("small", {"size": 10})["hits"]["hits"]) == 5
