"""The invariants every reliability suite checks once the faults stop.

`assert_converged(client, world, ...)` reads the cluster with plain opensearch-py (not
with osml's reader, so osml cannot vouch for itself) and asserts: the cluster equals the
desired state (fields, references, deploy states), exactly one live resource per
manifest and nothing else (no orphan, no duplicate), every state record is `managed`
and points at the live resource of its manifest (no intent left over), and no secret
value ever used appears in osml's outputs or in the state index.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterable
from typing import Any

from opensearchpy import NotFoundError, OpenSearch

from tests.reliability.worlds import World

STATE_INDEX = "osml-state"
_SEARCHES = {
    "Connector": "search_connectors",
    "ModelGroup": "search_model_group",
    "Model": "search_models",
}
_SUFFIX = {"Connector": "connector", "ModelGroup": "group", "Model": "model"}


def live(client: OpenSearch) -> dict[str, list[dict[str, Any]]]:
    """Every connector, group and model on the cluster: kind -> [source with `_id`]."""
    found: dict[str, list[dict[str, Any]]] = {}
    for kind, method in _SEARCHES.items():
        search = getattr(client.plugins.ml, method)
        body = {"query": {"match_all": {}}, "size": 10_000}
        try:
            hits = search(body=body)["hits"]["hits"]
        except NotFoundError:
            hits = []  # 2.9-2.11 answer 404 until the first create makes the index (§2.8)
        found[kind] = [{**h["_source"], "_id": h["_id"]} for h in hits]
    return found


def state_documents(client: OpenSearch) -> list[dict[str, Any]]:
    """Every document of the state index, raw."""
    if not client.indices.exists(index=STATE_INDEX):
        return []
    body = {"query": {"match_all": {}}, "size": 10_000}
    return [
        {**h["_source"], "_id": h["_id"]}
        for h in client.search(index=STATE_INDEX, body=body)["hits"]["hits"]
    ]


def duplicates_and_orphans(client: OpenSearch, world: World) -> tuple[int, int]:
    """(live resources beyond one per manifest, live resources no manifest asks for)."""
    expected = _expected_names(world)
    duplicates = orphans = 0
    for kind, objects in live(client).items():
        counts = collections.Counter(o["name"] for o in objects)
        for name, count in counts.items():
            if name in expected[kind]:
                duplicates += count - 1
            else:
                orphans += count
    return duplicates, orphans


def assert_converged(
    client: OpenSearch, world: World, *, outputs: Iterable[str], secrets: Iterable[str]
) -> None:
    """Every invariant of a converged apply; the message names what broke."""
    objects = live(client)
    _assert_one_per_manifest(objects, world)
    _assert_desired(objects, world)
    _assert_state(objects, state_documents(client), world)
    assert_no_secret([*outputs, json.dumps(state_documents(client))], secrets)


def assert_no_secret(texts: Iterable[str], secrets: Iterable[str]) -> None:
    """No secret value in any of `texts`."""
    values = [s for s in secrets if s]
    for text in texts:
        for value in values:
            assert value not in text, f"a secret value leaked into output: {text[:200]!r}"


def _expected_names(world: World) -> dict[str, set[str]]:
    return {
        "ModelGroup": {f"{g.name} group" for g in world.groups},
        "Connector": {f"{c.name} connector" for c in world.connectors},
        "Model": {f"{m.name} model" for m in world.models},
    }


def _assert_one_per_manifest(objects: dict[str, list[dict[str, Any]]], world: World) -> None:
    for kind, names in _expected_names(world).items():
        counts = collections.Counter(o["name"] for o in objects[kind])
        assert counts == collections.Counter(names), f"{kind}: live {counts}, wanted {names}"


def _assert_desired(objects: dict[str, list[dict[str, Any]]], world: World) -> None:
    by_name = {kind: {o["name"]: o for o in found} for kind, found in objects.items()}
    ids = {kind: {o["_id"]: o["name"] for o in found} for kind, found in objects.items()}
    for group in world.groups:
        assert by_name["ModelGroup"][f"{group.name} group"]["description"] == group.description
    for connector in world.connectors:
        source = by_name["Connector"][f"{connector.name} connector"]
        assert source["description"] == connector.description
        assert source["parameters"].get("model") == connector.model
        assert ("temperature" in source["parameters"]) == connector.temperature, source
    for model in world.models:
        source = by_name["Model"][f"{model.name} model"]
        assert source["description"] == model.description
        assert ids["Connector"].get(source.get("connector_id")) == f"{model.connector} connector"
        assert ids["ModelGroup"].get(source.get("model_group_id")) == f"{model.group} group"
        state = source.get("model_state")
        assert (state == "DEPLOYED") == model.deployed, f"{model.name}: {state}"


def _assert_state(
    objects: dict[str, list[dict[str, Any]]], documents: list[dict[str, Any]], world: World
) -> None:
    records = [d for d in documents if d.get("doc_type") == "record"]
    assert all(r["status"] == "managed" for r in records), records
    wanted = {
        (kind, name)
        for kind, items in (
            ("ModelGroup", world.groups),
            ("Connector", world.connectors),
            ("Model", world.models),
        )
        for name in (i.name for i in items)
    }
    assert {(r["kind"], r["name"]) for r in records} == wanted
    for record in records:
        kind = record["kind"]
        by_id = {o["_id"]: o["name"] for o in objects[kind]}
        assert by_id.get(record["live_id"]) == f"{record['name']} {_SUFFIX[kind]}", record
    assert not any(d.get("doc_type") == "lock" for d in documents), "a lock was left behind"
