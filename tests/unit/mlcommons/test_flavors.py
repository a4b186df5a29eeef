"""Flavor facts: parsing, ARNs, the settings a managed domain keeps, detection."""

from __future__ import annotations

import pytest

from reconciler.mlcommons import flavors
from reconciler.mlcommons.flavors import Flavor


def test_parse_names_both_flavors_when_wrong() -> None:
    assert flavors.parse(" AWS-Managed ") is Flavor.AWS_MANAGED
    with pytest.raises(ValueError, match=r"one of opensearch, aws-managed"):
        flavors.parse("aws")


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("roleArn", "arn:aws:iam::123456789012:role/my-role", True),
        ("roleArn", "arn:aws-cn:iam::123456789012:role/path/r", True),
        ("roleArn", "my-role", False),
        ("roleArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:s", False),
        ("secretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCd", True),
        ("secretArn", "arn:aws:iam::123456789012:role/r", False),
    ],
)
def test_arns(key: str, value: str, ok: bool) -> None:
    assert (flavors.arn_error(key, value) is None) is ok


def test_settings_a_managed_domain_keeps() -> None:
    for key in ("trusted_connector_endpoints_regex", "allow_registering_model_via_url"):
        assert flavors.unsettable(key, Flavor.AWS_MANAGED)
        assert not flavors.unsettable(key, Flavor.OPENSEARCH)
    assert not flavors.unsettable("connector_access_control_enabled", Flavor.AWS_MANAGED)


@pytest.mark.parametrize(
    ("service", "info", "expected"),
    [
        ("es", {}, Flavor.AWS_MANAGED),
        ("aoss", {}, Flavor.AWS_MANAGED),
        (None, {"cluster_name": "123456789012:search-prod"}, Flavor.AWS_MANAGED),
        (None, {"cluster_name": "opensearch-cluster"}, Flavor.OPENSEARCH),
        (None, {"cluster_name": "12345:x"}, Flavor.OPENSEARCH),
    ],
)
def test_detection(service: str | None, info: dict, expected: Flavor) -> None:
    by_service = flavors.flavor_of_service(service)
    assert (by_service or flavors.flavor_of_root(info)) is expected
