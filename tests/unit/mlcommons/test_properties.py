"""Properties of the template and name facts over generated inputs."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconciler.mlcommons.names import is_safe_text
from reconciler.mlcommons.templates import find_placeholders, stringify, substitute

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)


@given(JSON)
def test_stringified_values_read_back(value: Any) -> None:
    text = stringify(value)
    if isinstance(value, str):
        assert text == value
    else:
        assert json.loads(text) == value
        assert ", " not in text or isinstance(value, str)


@given(st.dictionaries(KEYS, st.text(alphabet="abc./-", max_size=6), max_size=4), KEYS)
def test_defined_placeholders_all_resolve(parameters: dict[str, str], extra: str) -> None:
    template = "https://x/" + "/".join(f"${{parameters.{k}}}" for k in parameters)
    rendered = substitute(template, parameters)
    assert find_placeholders(rendered) == []
    missing = substitute("${parameters." + extra + "}", {})
    assert missing == "${parameters." + extra + "}"


# The server's class, built here with the `re` module from explicit categories, as a
# cross-check of the per-character implementation.
_ASCII_SAFE = re.compile(r"[.,!?():@\-_/'\" \t\n\x0b\f\r]")


@given(st.text(max_size=20))
def test_safe_text_matches_the_definition(text: str) -> None:
    expected = all(
        _ASCII_SAFE.fullmatch(char) or unicodedata.category(char)[0] in "LN" for char in text
    )
    assert is_safe_text(text) is expected
