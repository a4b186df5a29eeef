"""Properties of the request-body check over generated templates."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from reconciler.manifests.template_checking import body_error

KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@given(st.dictionaries(KEYS, st.sampled_from(["string", "bare"]), min_size=1, max_size=4))
def test_bodies_of_placeholders_render_to_json(fields: dict[str, str]) -> None:
    members = [
        f'"{key}": "${{parameters.{key}}}"'
        if kind == "string"
        else f'"{key}": ${{parameters.{key}}}'
        for key, kind in fields.items()
    ]
    assert body_error("{" + ", ".join(members) + "}", {}) is None


@given(st.dictionaries(KEYS, st.integers() | st.text(max_size=5) | st.booleans(), max_size=4))
def test_plain_json_bodies_pass(document: dict[str, object]) -> None:
    assert body_error(json.dumps(document), {}) is None


@given(st.text(alphabet='{}[]:,"a1 ', min_size=1, max_size=12))
def test_error_text_names_the_json_problem(text: str) -> None:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        error = body_error(text, {})
        if error is not None:
            assert error.startswith(
                "request_body is not valid JSON once its placeholders are filled: "
            )
    else:
        assert body_error(text, {}) is None
