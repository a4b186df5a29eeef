"""Connector body parsing (reference §2.3-§2.5, §3.1): normalisation and checks, no store."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.sandbox.http import ApiError
from reconciler.sandbox.ml import connector_parsing as parsing
from reconciler.sandbox.ml.profiles import get_profile


def test_normalise_stringifies_and_uppercases() -> None:
    body = {
        "name": "n",
        "version": 1.0,
        "protocol": "http",
        "parameters": {"n": 1, "o": {"k": [1, "a"]}},
        "actions": [{"action_type": "predict", "method": "post", "url": "https://x/"}],
    }
    doc = parsing.normalise(get_profile("3.x"), body)
    assert doc["version"] == "1.0"
    assert doc["parameters"] == {"n": "1", "o": '{"k":[1,"a"]}'}
    assert doc["actions"] == [{"action_type": "PREDICT", "method": "post", "url": "https://x/"}]
    assert doc["credential"] == {}


@pytest.mark.parametrize(
    ("raw", "profile", "message"),
    [
        ({"method": "POST", "url": "u"}, "2.17", "action type can't null"),
        ({"method": "POST", "url": "u"}, "2.19", "action type can't be null"),
        ({"action_type": "PREDICT", "url": "u"}, "2.19", "method can't be null"),
        ({"action_type": "PREDICT", "method": "POST"}, "2.13", "url can't null"),
        (
            {"action_type": "execute", "method": "POST", "url": "u"},
            "2.13",
            "No enum constant org.opensearch.ml.common.connector.ConnectorAction.ActionType.EXECUTE",
        ),
        (
            {"action_type": "PREDICT", "method": "POST", "url": "u", "name": "x" * 65},
            "3.x",
            "Action name exceeds maximum length of 64 characters",
        ),
    ],
)
def test_action_errors(raw: dict[str, Any], profile: str, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parsing.parse_action(get_profile(profile), raw)
    assert (caught.value.status, caught.value.reason) == (400, message)


@pytest.mark.parametrize(
    ("value", "unsafe"),
    [
        ("My model (v2): fast, cheap!", False),
        ("émbeddings/été 'quoted' \"too\" @home", False),
        ("a;b", True),
        ("a&b", True),
        ("{x}", True),
        ("50%", True),
        ("back`tick", True),
    ],
)
def test_safe_text_alphabet(value: str, unsafe: bool) -> None:
    assert parsing.unsafe(value) is unsafe


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://api.openai.com/v1/chat/completions", True),
        ("https://api.openai.com.evil.example/v1", False),
        ("http://api.openai.com/v1", False),
        ("https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/x", True),
        ("https://textract.us-east-1.amazonaws.com", True),
        ("https://textract.us-east-1.amazonaws.com/path", False),
    ],
)
def test_trusted_defaults_match_whole_urls(url: str, trusted: bool) -> None:
    patterns = list(get_profile("3.x").trusted_endpoints)
    assert parsing.url_is_trusted(url, patterns) is trusted


def test_client_config_defaults_and_policy() -> None:
    profile = get_profile("2.19")
    config = parsing.client_config(profile, {"retry_backoff_policy": "EXPONENTIAL_FULL_JITTER"})
    assert config is not None
    assert config["retry_backoff_policy"] == "exponential_full_jitter"
    assert config["connection_timeout"] == 30000
    assert parsing.client_config(get_profile("2.11"), {"max_connection": 1}) is None
    with pytest.raises(ApiError, match="Unsupported retry backoff policy"):
        parsing.client_config(profile, {"retry_backoff_policy": "linear"})


def test_sensitive_headers_refuse_parameters_on_3_7_plus() -> None:
    actions = [{"headers": {"X-Api-Key": "${parameters.key}", "X-Trace": "${parameters.t}"}}]
    parsing.check_header_placeholders(get_profile("2.19"), actions)
    with pytest.raises(ApiError, match="Header 'X-Api-Key' cannot use"):
        parsing.check_header_placeholders(get_profile("3.x"), actions)


def test_2_9_refuses_object_parameters_at_their_location() -> None:
    body = {"name": "c", "parameters": {"model": "m", "obj": {"a": 1}}}
    raw = b'{"name":"c",\n "parameters": {"model":"m", "obj": {"a":1}}}'
    with pytest.raises(ApiError) as caught:
        parsing.check_parameter_values(get_profile("2.9"), body, raw=raw)
    assert (caught.value.status, caught.value.reason) == (
        500,
        "Can't get text on a START_OBJECT at 2:37",
    )
    parsing.check_parameter_values(get_profile("2.10"), body, raw=raw)
    parsing.check_parameter_values(get_profile("2.9"), {"parameters": {"n": 3}}, raw=b"")
