"""Store semantics: versions, sequence numbers, conflicts, partial updates, persistence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox.http import ApiError
from reconciler.sandbox.persisting import write_json_atomically
from reconciler.sandbox.store import Store, deep_merge, new_id


@pytest.fixture
def store() -> Store:
    return Store(clock=lambda: 1_700_000_000.0)


def test_index_creates_then_updates_with_versions_and_seq_nos(store: Store) -> None:
    first = store.index("state", {"a": 1}, id="x")
    second = store.index("state", {"a": 2}, id="x")
    assert (first["result"], first["_version"], first["_seq_no"]) == ("created", 1, 0)
    assert (second["result"], second["_version"], second["_seq_no"]) == ("updated", 2, 1)
    assert first["_shards"] == {"total": 2, "successful": 1, "failed": 0}
    assert first["_primary_term"] == 1


def test_auto_id_is_20_url_safe_characters(store: Store) -> None:
    result = store.index("state", {"a": 1})
    assert len(result["_id"]) == 20
    assert all(c.isalnum() or c in "-_" for c in new_id())


def test_get_returns_a_private_copy(store: Store) -> None:
    store.index("state", {"a": {"b": 1}}, id="x")
    doc = store.get("state", "x")
    assert doc is not None
    doc.source["a"]["b"] = 99
    again = store.get("state", "x")
    assert again is not None and again.source == {"a": {"b": 1}}


def test_get_missing_doc_is_none_and_missing_index_is_404(store: Store) -> None:
    store.create_index("state")
    assert store.get("state", "nope") is None
    with pytest.raises(ApiError) as caught:
        store.get("other", "x")
    assert (caught.value.status, caught.value.error_type) == (404, "index_not_found_exception")
    assert caught.value.reason == "no such index [other]"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        (
            {"op_type": "create"},
            "[x]: version conflict, document already exists (current version [1])",
        ),
        (
            {"if_seq_no": 5, "if_primary_term": 1},
            "[x]: version conflict, required seqNo [5], primary term [1]. "
            "current document has seqNo [0] and primary term [1]",
        ),
    ],
)
def test_conflicts_use_opensearch_texts(store: Store, kwargs: dict[str, Any], reason: str) -> None:
    store.index("state", {"a": 1}, id="x")
    with pytest.raises(ApiError) as caught:
        store.index("state", {"a": 2}, id="x", **kwargs)
    assert caught.value.status == 409
    assert caught.value.error_type == "version_conflict_engine_exception"
    assert caught.value.reason == reason


def test_if_seq_no_on_missing_document_conflicts(store: Store) -> None:
    store.create_index("state")
    with pytest.raises(ApiError) as caught:
        store.index("state", {}, id="x", if_seq_no=0, if_primary_term=1)
    assert caught.value.reason.endswith("but no document was found")


def test_matching_seq_no_writes(store: Store) -> None:
    store.index("state", {"a": 1}, id="x")
    result = store.index("state", {"a": 2}, id="x", if_seq_no=0, if_primary_term=1)
    assert result["_seq_no"] == 1


@pytest.mark.parametrize(
    ("base", "partial", "merged"),
    [
        ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
        ({"p": {"x": 1, "y": 2}}, {"p": {"y": 3}}, {"p": {"x": 1, "y": 3}}),
        ({"l": [1, 2, 3]}, {"l": [4]}, {"l": [4]}),
        ({"p": {"x": 1}}, {"p": "flat"}, {"p": "flat"}),
        ({"p": {"x": 1}}, {"p": {}}, {"p": {"x": 1}}),
    ],
)
def test_deep_merge_merges_objects_and_replaces_arrays(
    base: dict[str, Any], partial: dict[str, Any], merged: dict[str, Any]
) -> None:
    assert deep_merge(base, partial) == merged


def test_update_is_partial_and_noop_when_unchanged(store: Store) -> None:
    store.index("state", {"p": {"x": 1}}, id="x")
    changed = store.update("state", "x", {"p": {"y": 2}})
    same = store.update("state", "x", {"p": {"y": 2}})
    assert (changed["result"], changed["_version"]) == ("updated", 2)
    assert (same["result"], same["_version"]) == ("noop", 2)
    doc = store.get("state", "x")
    assert doc is not None and doc.source == {"p": {"x": 1, "y": 2}}


def test_update_of_missing_document_is_404(store: Store) -> None:
    store.create_index("state")
    with pytest.raises(ApiError) as caught:
        store.update("state", "x", {"a": 1})
    assert (caught.value.status, caught.value.error_type) == (404, "document_missing_exception")
    assert caught.value.reason == "[x]: document missing"


def test_delete_then_recreate_continues_the_version(store: Store) -> None:
    store.index("state", {"a": 1}, id="x")
    deleted = store.delete("state", "x")
    missing = store.delete("state", "x")
    recreated = store.index("state", {"a": 1}, id="x")
    assert (deleted["result"], deleted["_version"]) == ("deleted", 2)
    assert missing["result"] == "not_found"
    assert (recreated["result"], recreated["_version"]) == ("created", 3)


def test_create_index_twice_is_refused_unless_exist_ok(store: Store) -> None:
    assert store.create_index("state") is True
    assert store.create_index("state", exist_ok=True) is False
    with pytest.raises(ApiError) as caught:
        store.create_index("state")
    assert caught.value.error_type == "resource_already_exists_exception"
    assert caught.value.reason.startswith("index [state/")


def test_docs_keeps_insertion_order_and_is_empty_for_missing_index(store: Store) -> None:
    for name in ("c", "a", "b"):
        store.index("state", {"n": name}, id=name)
    assert [d.id for d in store.docs("state")] == ["c", "a", "b"]
    assert store.docs("missing") == []


def test_dump_and_load_round_trip_everything(store: Store) -> None:
    store.create_index("state", mappings={"properties": {"k": {"type": "keyword"}}})
    store.index("state", {"k": "v"}, id="x")
    store.index("state", {"k": "w"}, id="x")
    store.index("state", {"k": "z"}, id="gone")
    store.delete("state", "gone")
    copy = Store()
    copy.load(json.loads(json.dumps(store.dump())))
    assert copy.dump() == store.dump()
    again = copy.index("state", {"k": "z"}, id="gone")
    assert (again["_version"], again["_seq_no"]) == (3, 4)


def test_listeners_hear_every_mutation(store: Store) -> None:
    heard: list[int] = []
    store.add_listener(lambda: heard.append(1))
    store.index("state", {"a": 1}, id="x")  # creates the index too
    store.update("state", "x", {"a": 2})
    store.delete("state", "x")
    assert len(heard) == 4


def test_write_json_atomically_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "data.json"
    write_json_atomically(target, {"v": 1})
    write_json_atomically(target, {"v": 2})
    assert json.loads(target.read_text()) == {"v": 2}
    assert [p.name for p in target.parent.iterdir()] == ["data.json"]
