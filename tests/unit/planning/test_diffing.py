"""Field-level diffs: declared plus last-applied fields, removals, credentials (§1.5, §2.7)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.planning.diffing import diff, render_path
from reconciler.plans import FieldChange, secret_marker
from reconciler.resources import Kind

C = Kind.CONNECTOR


@pytest.mark.parametrize(
    ("before", "after", "applied", "paths"),
    [
        # Equal documents, and fields the server added on its own, show nothing.
        ({"name": "a"}, {"name": "a"}, {}, []),
        ({"name": "a", "client_config": {"x": 1}}, {"name": "a"}, {}, []),
        # Leaves inside maps and lists are named precisely.
        ({"parameters": {"m": "1"}}, {"parameters": {"m": "2"}}, {}, ["parameters.m"]),
        ({"actions": [{"url": "a"}]}, {"actions": [{"url": "b"}]}, {}, ["actions[0].url"]),
        ({"actions": []}, {"actions": [{"url": "b"}]}, {}, ["actions[0]"]),
        ({"parameters": {}}, {"parameters": {"n": "1"}}, {}, ["parameters.n"]),
        # A field removed from the manifest is a change because osml applied it last time.
        ({"description": "d"}, {}, {"description": "d"}, ["description"]),
        # A type change is one change of the whole field.
        ({"version": 1}, {"version": "1"}, {}, ["version"]),
        # Never compared: write-only or not stored.
        ({}, {"add_all_backend_roles": True}, {}, []),
    ],
)
def test_changed_paths(
    before: dict[str, Any], after: dict[str, Any], applied: dict[str, Any], paths: list[str]
) -> None:
    assert list(diff(before, after, kind=C, applied=applied).paths()) == paths


def test_values_are_reported_for_non_sensitive_changes() -> None:
    found = diff({"parameters": {"m": "1"}}, {"parameters": {"m": "2"}}, kind=C)
    assert found.fields == (FieldChange("parameters.m", "1", "2"),)


@pytest.mark.parametrize(
    ("kind", "before", "after", "removed", "cleared"),
    [
        (C, {"parameters": {"a": "1", "b": "2"}}, {"parameters": {"a": "1"}}, ["parameters.b"], []),
        (C, {"client_config": {"x": 1}}, {}, ["client_config"], ["client_config"]),
        (C, {"description": "d"}, {}, [], ["description"]),
        (C, {"actions": [{"url": "a"}]}, {"actions": []}, [], []),  # arrays are replaced
        (C, {"headers": {"h": "1"}}, {"headers": {}}, ["headers.h"], []),
        (Kind.MODEL, {"model_config": {"a": 1, "b": 2}}, {"model_config": {"a": 1}},
         ["model_config.b"], []),
        (Kind.MODEL, {"connector": {"parameters": {"p": "1"}}}, {"connector": {"parameters": {}}},
         ["connector.parameters.p"], []),
        (Kind.MODEL_GROUP, {"description": "d"}, {}, [], ["description"]),
    ],
)  # fmt: skip
def test_removals_an_update_cannot_perform(
    kind: Kind,
    before: dict[str, Any],
    after: dict[str, Any],
    removed: list[str],
    cleared: list[str],
) -> None:
    found = diff(before, after, kind=kind, applied=before)
    assert list(found.removed_keys) == removed
    assert list(found.cleared) == cleared


def _cred(fingerprint: str | None) -> dict[str, Any]:
    return {"credential": {"k": secret_marker({"fromEnv": "K"}, fingerprint)}}


@pytest.mark.parametrize(
    ("new", "recorded", "changed"),
    [
        ("hmac-sha256:aa", {"credential.k": "hmac-sha256:aa"}, False),
        ("hmac-sha256:bb", {"credential.k": "hmac-sha256:aa"}, True),
        (None, {"credential.k": "hmac-sha256:aa"}, True),  # no key or value to compare with
        ("hmac-sha256:aa", {}, True),  # never recorded: new
    ],
)
def test_credentials_compare_by_fingerprint_only(
    new: str | None, recorded: dict[str, str], changed: bool
) -> None:
    found = diff({}, _cred(new), kind=C, fingerprints=recorded)
    expected = (FieldChange("credential.k", sensitive=True),) if changed else ()
    assert found.fields == expected


def test_a_dropped_credential_key_is_a_removal() -> None:
    recorded = {"credential.k": "hmac-sha256:aa", "credential.old": "hmac-sha256:cc"}
    found = diff({}, _cred("hmac-sha256:aa"), kind=C, fingerprints=recorded)
    assert found.removed_keys == ("credential.old",)


def test_inline_connector_credentials_use_their_own_prefix() -> None:
    after = {"connector": {"credential": {"k": secret_marker({"fromEnv": "K"}, "hmac-sha256:a")}}}
    found = diff(
        {"connector": {}}, after, kind=Kind.MODEL, fingerprints={"connector.credential.k": "x"}
    )
    assert found.fields == (FieldChange("connector.credential.k", sensitive=True),)


@pytest.mark.parametrize(
    ("parts", "text"),
    [([], ""), (["a"], ".a"), (["a", 0, "b"], ".a[0].b"), ([1], "[1]")],
)
def test_render_path(parts: list[Any], text: str) -> None:
    assert render_path(parts) == text
