import pytest

from reconciler.resources import Kind, ResourceKey


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Connector/openai-chat", ResourceKey(Kind.CONNECTOR, "openai-chat")),
        ("model/embed", ResourceKey(Kind.MODEL, "embed")),
        ("ModelGroup/a/b", ResourceKey(Kind.MODEL_GROUP, "a/b")),
    ],
)
def test_parse_key(text: str, expected: ResourceKey) -> None:
    assert ResourceKey.parse(text) == expected
    assert str(expected) == f"{expected.kind.value}/{expected.name}"


@pytest.mark.parametrize(
    ("text", "message"),
    [("Connector", "not of the form"), ("Widget/x", "is not a kind"), ("Model/", "not of the form")],
)
def test_parse_key_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ResourceKey.parse(text)


def test_kinds_rank_in_create_order() -> None:
    ordered = sorted(Kind, key=lambda k: k.rank)
    assert ordered[0] is Kind.ACCESS_CONTROL
    assert ordered.index(Kind.MODEL_GROUP) < ordered.index(Kind.CONNECTOR) < ordered.index(Kind.MODEL)
