"""The document and index API through opensearch-py, against every sandbox profile (or a
real cluster when OSML_TEST_CLUSTER_URL is set)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import ConflictError, NotFoundError, RequestError, TransportError

from reconciler.sandbox.testing import TestCluster


def info(exc: TransportError) -> dict[str, Any]:
    assert isinstance(exc.info, dict)
    return exc.info


@pytest.fixture
def index(cluster: TestCluster) -> Iterator[str]:
    name = f"osml-test-{uuid.uuid4().hex[:12]}"
    yield name
    cluster.client.indices.delete(index=name, ignore=[404])


def test_root_answers_like_opensearch(cluster: TestCluster) -> None:
    info = cluster.client.info()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"] == cluster.version
    assert {"name", "cluster_name", "cluster_uuid", "tagline"} <= set(info)
    assert cluster.client.ping() is True


def test_index_get_update_delete_round_trip(cluster: TestCluster, index: str) -> None:
    client = cluster.client
    created = client.index(index=index, id="lock", body={"holder": "a", "meta": {"x": 1}})
    assert (created["result"], created["_version"]) == ("created", 1)
    got = client.get(index=index, id="lock")
    assert got["found"] is True and got["_source"] == {"holder": "a", "meta": {"x": 1}}
    assert (got["_seq_no"], got["_primary_term"]) == (created["_seq_no"], created["_primary_term"])
    updated = client.update(index=index, id="lock", body={"doc": {"meta": {"y": 2}}})
    assert updated["result"] == "updated"
    assert client.get(index=index, id="lock")["_source"]["meta"] == {"x": 1, "y": 2}
    noop = client.update(index=index, id="lock", body={"doc": {"meta": {"y": 2}}})
    assert noop["result"] == "noop"
    assert client.delete(index=index, id="lock")["result"] == "deleted"
    with pytest.raises(NotFoundError) as caught:
        client.delete(index=index, id="lock")
    assert info(caught.value)["result"] == "not_found"
    with pytest.raises(NotFoundError):
        client.get(index=index, id="lock")


def test_auto_id_and_create_endpoint(cluster: TestCluster, index: str) -> None:
    client = cluster.client
    auto = client.index(index=index, body={"a": 1})
    assert len(auto["_id"]) == 20
    client.create(index=index, id="only-once", body={"a": 1})
    with pytest.raises(ConflictError) as caught:
        client.create(index=index, id="only-once", body={"a": 2})
    assert caught.value.error == "version_conflict_engine_exception"
    assert "document already exists (current version [1])" in str(caught.value.info)


def test_optimistic_concurrency_with_seq_no(cluster: TestCluster, index: str) -> None:
    client = cluster.client
    first = client.index(index=index, id="lock", body={"holder": "a"})
    seq_no, term = first["_seq_no"], first["_primary_term"]
    client.index(
        index=index, id="lock", body={"holder": "b"}, if_seq_no=seq_no, if_primary_term=term
    )
    with pytest.raises(ConflictError) as caught:
        client.index(
            index=index, id="lock", body={"holder": "c"}, if_seq_no=seq_no, if_primary_term=term
        )
    reason = info(caught.value)["error"]["reason"]
    assert reason.startswith(
        f"[lock]: version conflict, required seqNo [{seq_no}], primary term [{term}]"
    )


def test_index_create_exists_get_and_delete(cluster: TestCluster, index: str) -> None:
    indices = cluster.client.indices
    mappings = {"properties": {"holder": {"type": "keyword"}}}
    assert indices.create(index=index, body={"mappings": mappings})["acknowledged"] is True
    assert indices.exists(index=index) is True
    assert indices.get(index=index)[index]["mappings"] == mappings
    with pytest.raises(RequestError) as caught:
        indices.create(index=index)
    assert caught.value.error == "resource_already_exists_exception"
    indices.delete(index=index)
    assert indices.exists(index=index) is False


def test_search_by_keyword_and_sort(cluster: TestCluster, index: str) -> None:
    client = cluster.client
    for n, name in enumerate(["Chat Model", "chat model", "Embedding"]):
        client.index(index=index, id=str(n), body={"name": name, "n": n})
    client.indices.refresh(index=index)
    exact = client.search(index=index, body={"query": {"term": {"name.keyword": "chat model"}}})
    assert [h["_id"] for h in exact["hits"]["hits"]] == ["1"]
    analyzed = client.search(
        index=index, body={"query": {"match": {"name": "CHAT"}}, "sort": [{"n": "desc"}]}
    )
    assert [h["_id"] for h in analyzed["hits"]["hits"]] == ["1", "0"]
    assert analyzed["hits"]["total"] == {"value": 2, "relation": "eq"}


def test_search_of_missing_index_is_404(cluster: TestCluster) -> None:
    with pytest.raises(NotFoundError) as caught:
        cluster.client.search(index="osml-test-does-not-exist", body={"query": {"match_all": {}}})
    assert caught.value.error == "index_not_found_exception"


def test_bulk_reports_items_and_errors(cluster: TestCluster, index: str) -> None:
    body = [
        {"index": {"_index": index, "_id": "1"}},
        {"v": 1},
        {"create": {"_index": index, "_id": "1"}},
        {"v": 2},
        {"update": {"_index": index, "_id": "1"}},
        {"doc": {"w": 3}},
        {"delete": {"_index": index, "_id": "nope"}},
    ]
    result = cluster.client.bulk(body=body, refresh=True)
    assert result["errors"] is True
    statuses = [next(iter(item.values()))["status"] for item in result["items"]]
    assert statuses == [201, 409, 200, 404]
    assert result["items"][1]["create"]["error"]["type"] == "version_conflict_engine_exception"
    assert cluster.client.get(index=index, id="1")["_source"] == {"v": 1, "w": 3}


def test_unknown_endpoint_is_400_no_handler(cluster: TestCluster) -> None:
    with pytest.raises(RequestError) as caught:
        cluster.client.transport.perform_request("GET", "/_plugins/_ml/no_such_thing/at/all")
    assert "no handler found for uri" in str(caught.value.info)


def test_get_mapping_of_a_missing_index_is_404(cluster: TestCluster, index: str) -> None:
    with pytest.raises(NotFoundError) as caught:
        cluster.client.indices.get_mapping(index=index)
    body = info(caught.value)
    assert body["error"]["type"] == "index_not_found_exception"
    assert body["error"]["reason"] == f"no such index [{index}]"
    assert body["status"] == 404


def test_get_mapping_shows_explicit_and_dynamic_fields(cluster: TestCluster, index: str) -> None:
    client = cluster.client
    client.indices.create(
        index=index, body={"mappings": {"properties": {"kind": {"type": "keyword"}}}}
    )
    client.index(
        index=index,
        id="1",
        body={"kind": "lock", "holder": "a", "n": 3, "ok": True, "meta": {"ratio": 0.5}},
        refresh=True,
    )
    properties = client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert properties["kind"] == {"type": "keyword"}
    assert properties["holder"] == {
        "type": "text",
        "fields": {"keyword": {"type": "keyword", "ignore_above": 256}},
    }
    assert properties["n"] == {"type": "long"}
    assert properties["ok"] == {"type": "boolean"}
    assert properties["meta"] == {"properties": {"ratio": {"type": "float"}}}


def test_put_mapping_adds_properties(cluster: TestCluster, index: str) -> None:
    client = cluster.client
    client.indices.create(index=index)
    answer = client.indices.put_mapping(
        index=index, body={"properties": {"owner": {"type": "keyword"}}}
    )
    assert answer == {"acknowledged": True}
    mapping = client.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["properties"]["owner"] == {"type": "keyword"}
    with pytest.raises(NotFoundError):
        client.indices.put_mapping(
            index=index + "-missing", body={"properties": {"x": {"type": "keyword"}}}
        )


def test_index_settings_round_trip(cluster: TestCluster, index: str) -> None:
    client = cluster.client
    client.indices.create(index=index, body={"settings": {"index.number_of_replicas": 0}})
    answer = client.indices.put_settings(index=index, body={"index": {"default_pipeline": "p"}})
    assert answer == {"acknowledged": True}
    settings = client.indices.get_settings(index=index)[index]["settings"]["index"]
    assert settings["default_pipeline"] == "p"
    assert settings["number_of_replicas"] == "0"
    assert settings["provided_name"] == index


def test_index_settings_refusals(cluster: TestCluster, index: str) -> None:
    client = cluster.client
    with pytest.raises(NotFoundError) as caught:
        client.indices.get_settings(index=index)
    assert info(caught.value)["error"]["type"] == "index_not_found_exception"
    client.indices.create(index=index)
    uuid_ = client.indices.get_settings(index=index)[index]["settings"]["index"]["uuid"]
    with pytest.raises(RequestError) as refused:
        client.indices.put_settings(index=index, body={"index": {"number_of_shards": 2}})
    assert info(refused.value)["error"]["reason"] == (
        f"Can't update non dynamic settings [[index.number_of_shards]] for open indices "
        f"[[{index}/{uuid_}]]"
    )
