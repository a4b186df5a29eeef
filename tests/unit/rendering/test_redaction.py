"""No view lets a secret through: markers, Secret objects, sensitive fields, URLs."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from reconciler.plans import Action, Change, ClusterIdentity, FieldChange, Plan, secret_marker
from reconciler.rendering import render_json, render_markdown, render_text
from reconciler.rendering.redacting import SENSITIVE, redact_value, safe_url
from reconciler.resources import Kind, ResourceKey
from reconciler.secrets.values import Secret
from tests.unit.rendering.samples import FINGERPRINT, PLANS

VALUE = "sk-live-DO-NOT-PRINT-4242"
VIEWS: dict[str, Callable[[Plan], str]] = {
    "text": render_text,
    "color": lambda plan: render_text(plan, color=True),
    "json": render_json,
    "markdown": render_markdown,
}
KEY = ResourceKey(Kind.CONNECTOR, "leaky")


def _leaky_plan() -> Plan:
    """A plan whose planner put secrets everywhere it should not have."""
    secret = Secret(VALUE, source="env OPENAI_API_KEY")
    marker = secret_marker({"fromEnv": "LEAKY_ENV_NAME"}, FINGERPRINT)
    change = Change(
        key=KEY,
        action=Action.CREATE,
        before={"credential": {"key": secret}},
        after={"credential": {"key": marker, "other": secret}, "list": [secret, marker]},
        fields=(
            FieldChange("credential.key", before=VALUE, after=secret, sensitive=True),
            FieldChange("parameters.oops", before=marker, after=secret),
            FieldChange("parameters.nested", after={"deep": [secret]}),
        ),
        reasons=(secret,),  # type: ignore[arg-type]
        review=(secret,),  # type: ignore[arg-type]
    )
    cluster = ClusterIdentity(url=f"https://admin:{VALUE}@localhost:9200", version="2.17.0")
    orphan = Change(key=KEY, action=Action.DELETE, after={"k": secret})
    return Plan(
        changes=(change,),
        cluster=cluster,
        token="t",
        orphans=(orphan,),
        warnings=(secret,),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_no_secret_reaches_any_view(view: str) -> None:
    output = VIEWS[view](_leaky_plan())
    for leak in (VALUE, "LEAKY_ENV_NAME", FINGERPRINT, "$secret", "fromEnv", "hmac-sha256"):
        assert leak not in output
    assert "(sensitive" in output


@pytest.mark.parametrize("view", sorted(VIEWS))
@pytest.mark.parametrize("name", sorted(PLANS))
def test_sample_secret_markers_stay_hidden(name: str, view: str) -> None:
    output = VIEWS[view](PLANS[name]())
    for leak in (FINGERPRINT, "OPENAI_API_KEY", "$secret", "hunter2", "admin:"):
        assert leak not in output


def test_sensitive_field_shows_only_that_it_changed() -> None:
    output = render_text(_leaky_plan())
    assert "~ credential.key: (sensitive, changed)" in output


def test_json_keeps_secret_places_as_sensitive_strings() -> None:
    document = json.loads(render_json(_leaky_plan()))
    change = document["changes"][0]
    assert change["after"]["credential"] == {"key": "(sensitive)", "other": "(sensitive)"}
    assert change["fields"][0] == {
        "path": "credential.key",
        "before": None,
        "after": None,
        "sensitive": True,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Secret("x"), SENSITIVE),
        ({"$secret": {"fromFile": "/k"}, "fingerprint": None}, SENSITIVE),
        ({"a": (1, Secret("x"))}, {"a": [1, SENSITIVE]}),
        ({"$ref": "Connector/a"}, {"$ref": "Connector/a"}),
        (Kind.MODEL, "Model"),
        (object.__new__(Secret), SENSITIVE),
    ],
)
def test_redact_value(value: object, expected: object) -> None:
    assert redact_value(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://localhost:9200", "https://localhost:9200"),
        ("https://admin:pw@localhost:9200/", "https://localhost:9200/"),
        ("http://user@[::1]:9200", "http://[::1]:9200"),
        ("https://a:b@example.com", "https://example.com"),
    ],
)
def test_safe_url(url: str, expected: str) -> None:
    assert safe_url(url) == expected


HEADER_TOKEN = "sk-header-literal-7777"


def _plan_with_literal_headers() -> Plan:
    """A plan that was not sealed: literal credentials in headers, in every place a view reads."""
    action = {
        "url": "https://api.example.com",
        "headers": {
            "Authorization": f"Bearer {HEADER_TOKEN}",
            "X-Service-Token": HEADER_TOKEN,
            "x-api-key": "${credential.key}",
            "content-type": "application/json",
        },
    }
    change = Change(
        key=KEY,
        action=Action.UPDATE,
        before={"actions": [action], "headers": {"api-key": HEADER_TOKEN}},
        after={"actions": [action], "connector": {"actions": [action]}},
        fields=(
            FieldChange(
                "actions[0].headers.Authorization", before="x", after=f"Bearer {HEADER_TOKEN}"
            ),
            FieldChange("actions[0].headers", after=action["headers"]),
            FieldChange("actions", before=[action], after=[]),
        ),
    )
    return Plan(
        changes=(change,), cluster=ClusterIdentity(url="http://x", version="3.1.0"), token="t"
    )


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_a_literal_credential_header_is_hidden_in_every_view(view: str) -> None:
    output = VIEWS[view](_plan_with_literal_headers())
    assert HEADER_TOKEN not in output
    if view == "json":  # the text views cut long values; JSON shows them whole
        # Templates of `${credential.*}` and ordinary headers stay readable.
        assert "${credential.key}" in output
        assert "application/json" in output
