"""The 3.1+ safe-text rule and the server's messages (§2.5)."""

from __future__ import annotations

import pytest

from reconciler.mlcommons.names import (
    CONNECTOR_NAME,
    MODEL_DESCRIPTION,
    description_error,
    is_safe_char,
    is_safe_text,
    name_error,
    unsafe_characters,
)


@pytest.mark.parametrize(
    "text",
    [
        "OpenAI Chat Connector",
        "model-v2_final (beta): test@home, ok? yes! a/b 'q' \"d\"",
        "Modèle français 日本語 Ελληνικά",
        "١٢٣ ²",  # \p{N} includes non-ASCII digits and superscripts
        "tab\there\nnewline",
        "",
    ],
)
def test_safe(text: str) -> None:
    assert is_safe_text(text)


@pytest.mark.parametrize(
    "text",
    ["a;b", "a&b", "a+b", "a=b", "#1", "[x]", "{x}", "<x>", "a*b", "100%", "$x", "a^b",
     "a|b", "a\\b", "a~b", "`x`", "emoji 🙂", "nbsp\u00a0here"],
)  # fmt: skip
def test_unsafe(text: str) -> None:
    assert not is_safe_text(text)


def test_unsafe_characters_in_order() -> None:
    assert unsafe_characters("a;b;c&d") == (";", "&")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ok name", None),
        (None, "Model connector name is required and cannot be null or blank"),
        ("  ", "Model connector name is required and cannot be null or blank"),
        (
            "bad;name",
            "Model connector name can only contain letters, numbers, spaces, and basic "
            "punctuation (.,!?():@-_'/\")",
        ),
    ],
)
def test_name_error(text: str | None, expected: str | None) -> None:
    assert name_error(text, label=CONNECTOR_NAME) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", None),
        ("fine.", None),
        (
            "50% off",
            "Model description can only contain letters, numbers, spaces, and basic "
            "punctuation (.,!?():@-_'/\")",
        ),
    ],
)
def test_description_error(text: str | None, expected: str | None) -> None:
    assert description_error(text, label=MODEL_DESCRIPTION) == expected


def test_whole_texts_agree_with_the_rule_for_each_character() -> None:
    # ASCII is answered by one pattern, the rest character by character: both must give
    # what the per-character rule gives, alone and next to an allowed letter.
    for code in range(0x3000):
        char = chr(code)
        for text in (char, f"a{char}", f"{char}9 z"):
            assert is_safe_text(text) == all(is_safe_char(c) for c in text), repr(text)
