"""Export names: valid manifest names, unique per kind, the same on every run, and
credential variable names unique across the export."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.cluster.snapshots import LiveObject, StateRecord
from reconciler.exporting.naming import MAX_NAME, base_name, manifest_names, variable_name
from reconciler.manifests.models import NAME_PATTERN
from reconciler.resources import Kind, ResourceKey

VALID = re.compile(NAME_PATTERN)
VARIABLE = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def live(live_id: str, name: Any, created: int | None = None) -> LiveObject:
    source: dict[str, Any] = {"name": name}
    if created is not None:
        source["created_time"] = created
    return LiveObject(live_id, source)


def record(kind: Kind, name: str, live_id: str) -> StateRecord:
    return StateRecord(ResourceKey(kind, name), "managed", live_id, "hash", {})


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("OpenAI Chat", "openai-chat"),
        ("vertexAI: model to generate embeddings", "vertexai-model-to-generate-embeddings"),
        ("  --Chat!!  ", "chat"),
        ("Modèle de résumé", "modele-de-resume"),
        ("Straße über Flüsse, Łódź", "strasse-uber-flusse-lodz"),
        ("模型 chat", "chat"),
        ("bedrock_titan.v2", "bedrock_titan.v2"),
        ("", "connector"),
        (None, "connector"),
        ("模型", "connector"),
        ("***", "connector"),
    ],
)
def test_base_names_are_close_to_the_server_name(server: str | None, expected: str) -> None:
    assert base_name(server, kind=Kind.CONNECTOR) == expected


def test_an_unusable_name_falls_back_to_the_kind() -> None:
    assert base_name("", kind=Kind.MODEL_GROUP) == "model-group"
    assert base_name("", kind=Kind.MODEL) == "model"


def test_a_long_name_is_cut_to_a_valid_length() -> None:
    name = base_name("x" * 127 + "-" + "y" * 50, kind=Kind.MODEL)
    assert name == "x" * 127 and VALID.match(name)


def test_same_names_get_numbers_in_creation_order_then_by_id() -> None:
    objects = [
        live("c-b", "Chat", created=2),
        live("c-a", "Chat", created=2),
        live("c-z", "Chat", created=1),
        live("c-old", "chat"),  # no created_time (connectors before 2.18): first
    ]
    names = manifest_names(objects, kind=Kind.CONNECTOR, records={})
    assert names == {"c-old": "chat", "c-z": "chat-2", "c-a": "chat-3", "c-b": "chat-4"}


def test_names_do_not_depend_on_the_order_the_server_listed_them() -> None:
    objects = [live(f"id-{i}", random.choice(["A", "a", "B b", "b-b", ""])) for i in range(40)]
    first = manifest_names(objects, kind=Kind.MODEL, records={})
    for _ in range(5):
        random.shuffle(objects)
        assert manifest_names(objects, kind=Kind.MODEL, records={}) == first


def test_managed_resources_keep_their_recorded_names_and_others_avoid_them() -> None:
    objects = [live("m-1", "Chat", created=1), live("m-2", "Chat", created=2)]
    records = {"m-2": record(Kind.MODEL, "chat", "m-2")}
    names = manifest_names(objects, kind=Kind.MODEL, records=records)
    assert names == {"m-2": "chat", "m-1": "chat-2"}


def test_a_record_of_another_kind_is_not_a_name() -> None:
    objects = [live("x-1", "Shared")]
    records = {"x-1": record(Kind.CONNECTOR, "something-else", "x-1")}
    assert manifest_names(objects, kind=Kind.MODEL, records=records) == {"x-1": "shared"}


def test_the_same_name_on_two_kinds_stays_the_same() -> None:
    objects = [live("id-1", "Chat")]
    assert manifest_names(objects, kind=Kind.CONNECTOR, records={}) == {"id-1": "chat"}
    assert manifest_names(objects, kind=Kind.MODEL, records={}) == {"id-1": "chat"}
    taken: set[str] = set()
    connector = variable_name("Connector", "chat", "api_key", taken=taken)
    model = variable_name("Model", "chat", "connector.api_key", taken=taken)
    assert (connector, model) == ("CONNECTOR_CHAT_API_KEY", "MODEL_CHAT_CONNECTOR_API_KEY")


def test_a_suffix_on_a_long_name_keeps_it_valid() -> None:
    long = "n" * MAX_NAME
    names = manifest_names(
        [live("a", long, created=1), live("b", long, created=2)], kind=Kind.MODEL, records={}
    )
    assert names["a"] == long
    assert names["b"] == "n" * (MAX_NAME - 2) + "-2"


def test_variable_names_are_unique_and_valid() -> None:
    taken: set[str] = set()
    first = variable_name("Connector", "a-b", "c", taken=taken)
    second = variable_name("Connector", "a", "b_c", taken=taken)
    assert (first, second) == ("CONNECTOR_A_B_C", "CONNECTOR_A_B_C_2")
    assert variable_name("Connector", "2fast", "clé", taken=taken) == "CONNECTOR_2FAST_CLE"
    assert variable_name("9", "x", taken=taken) == "_9_X"
    assert variable_name("Model", "chat", "ключ", taken=taken) == "MODEL_CHAT"


@given(st.lists(st.one_of(st.none(), st.text(max_size=200)), max_size=12))
def test_any_server_names_give_valid_unique_names(servers: list[str | None]) -> None:
    objects = [live(f"id-{i:02}", name, created=i % 3) for i, name in enumerate(servers)]
    names = manifest_names(objects, kind=Kind.CONNECTOR, records={})
    assert len(set(names.values())) == len(objects)
    for name in names.values():
        assert VALID.match(name), name
        assert len(name) <= MAX_NAME


@given(st.lists(st.tuples(st.text(max_size=40), st.text(max_size=20)), max_size=12))
def test_any_parts_give_valid_unique_variables(pairs: list[tuple[str, str]]) -> None:
    taken: set[str] = set()
    made = [variable_name("Connector", name, key, taken=taken) for name, key in pairs]
    assert len(set(made)) == len(made)
    for name in made:
        assert VARIABLE.match(name), name
