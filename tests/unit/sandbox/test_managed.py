"""The sandbox's aws-managed flavor, offline: what a domain fills in and refuses."""

from __future__ import annotations

import pytest

from reconciler.sandbox import managed

ROLE = "arn:aws:iam::123456789012:role/r"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:s"


def test_a_role_gives_stable_temporary_keys_and_keys_given_stay() -> None:
    used = managed.for_call({"roleArn": ROLE}, headers={})
    assert used["access_key"].startswith("ASIA") and used["secret_key"]
    assert managed.for_call({"roleArn": ROLE}, headers={}) == used
    assert managed.for_call({"roleArn": ROLE + "2"}, headers={})["access_key"] != used["access_key"]
    own = {"roleArn": ROLE, "access_key": "AKIA1", "secret_key": "s"}
    assert managed.for_call(own, headers={}) == own


def test_the_secret_keys_the_headers_name_are_filled() -> None:
    headers = {"Authorization": "Bearer ${credential.secretArn.openai_key}", "x": "y"}
    used = managed.for_call({"secretArn": SECRET, "roleArn": ROLE}, headers=headers)
    assert used["secretArn.openai_key"] == managed.secret_value(SECRET, "openai_key")
    assert not any(k.startswith("secretArn.") and k != "secretArn.openai_key" for k in used)


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        ({"persistent": {"plugins.ml_commons.trusted_connector_endpoints_regex": []}}, True),
        ({"transient": {"plugins": {"ml_commons": {"allow_registering_model_via_url": True}}}}, True),
        ({"persistent": {"plugins.ml_commons.trusted_connector_endpoints_regex": None}}, True),
        ({"persistent": {"plugins.ml_commons.only_run_on_ml_node": False}}, False),
    ],
)
def test_the_settings_the_service_manages_are_refused(body: dict, refused: bool) -> None:
    assert bool(managed.refused_keys(body)) is refused


def test_a_domain_names_itself_account_colon_domain() -> None:
    assert managed.cluster_name("aws-managed") == "123456789012:osml-sandbox"
    assert managed.cluster_name("opensearch") == "osml-sandbox"
