"""Security notes for reviewers (`Change.review`)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.planning.reviewing import is_broad, review
from reconciler.plans import Action, Change, FieldChange
from reconciler.resources import ResourceKey

CONNECTOR = ResourceKey.parse("Connector/c")


def connector(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "protocol": "http",
        "parameters": {"endpoint": endpoint},
        "actions": [{"url": "https://${parameters.endpoint}/v1/x"}],
        **extra,
    }


@pytest.mark.parametrize(
    ("change", "notes"),
    [
        (Change(CONNECTOR, Action.CREATE, after=connector("api.openai.com")),
         ["calls api.openai.com"]),
        (Change(CONNECTOR, Action.UPDATE, before=connector("a.example"), after=connector("b.example")),
         ["endpoint host changed: a.example -> b.example"]),
        (Change(CONNECTOR, Action.UPDATE, before=connector("a.example"),
                after=connector("a.example", access_mode="public")),
         ["access widened to public (was unset)"]),
        (Change(CONNECTOR, Action.UPDATE, before=connector("a"), after=connector("a"),
                fields=(FieldChange("credential.k", sensitive=True),)),
         ["credential changed: credential.k"]),
        (Change(CONNECTOR, Action.NOOP, before=connector("a"), after=connector("b")), []),
        (Change(ResourceKey.parse("AccessControl/s"), Action.UPDATE,
                after={"settings": {"plugins.ml_commons.model_access_control_enabled": False,
                                    "plugins.ml_commons.connector.private_ip_enabled": True}},
                fields=(FieldChange("model_access_control_enabled", "true", False),
                        FieldChange("connector.private_ip_enabled", "false", True))),
         ["access control turned off: model_access_control_enabled",
          "connectors may call private addresses (connector.private_ip_enabled: true)"]),
        (Change(ResourceKey.parse("TrustedEndpoints/t"), Action.UPDATE,
                before={"patterns": ["^https://a/.*$"]},
                after={"settings": {"plugins.ml_commons.trusted_connector_endpoints_regex":
                                    ["^https://a/.*$", "^https://.*$"]}}),
         ["trusted endpoint pattern added: ^https://.*$ (matches any host)"]),
    ],
)  # fmt: skip
def test_review_notes(change: Change, notes: list[str]) -> None:
    assert list(review(change).review) == notes


@pytest.mark.parametrize(
    ("pattern", "broad"),
    [
        (r"^https://api\.openai\.com/.*$", False),
        (r"^https://runtime\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$", False),
        (r"^https://.*$", True),
        (r".*", True),
        (r"^https://.+/v1/.*$", True),
    ],
)
def test_broad_patterns(pattern: str, broad: bool) -> None:
    assert is_broad(pattern) is broad
