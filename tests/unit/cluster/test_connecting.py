"""Connection settings, client construction and cluster identification, without a network."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import pytest
from opensearchpy import Urllib3AWSV4SignerAuth

from reconciler.cluster.connecting import (
    AwsSigV4,
    ConnectionSettings,
    _transport_warnings,
    build_client,
    is_loopback,
    is_opensearch,
    redacted_url,
)
from reconciler.errors import ClusterError
from reconciler.secrets import Secret


def test_reprs_never_show_passwords_or_tokens() -> None:
    settings = ConnectionSettings(
        url="https://search.example.com",
        username="admin",
        password=Secret("hunter2"),
        headers={"Authorization": Secret("Bearer tok-123")},
    )
    text = repr(settings) + str(settings) + f"{settings}"
    assert "hunter2" not in text
    assert "tok-123" not in text


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("::1", True),
        ("10.0.0.5", False),
        ("search.example.com", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize(
    ("url", "verify", "expected"),
    [
        ("http://localhost:9200", True, 0),
        ("http://127.0.0.1:9200", True, 0),
        ("http://search.example.com:9200", True, 1),
        ("https://search.example.com", True, 0),
        ("https://search.example.com", False, 1),
    ],
)
def test_transport_warnings(url: str, verify: bool, expected: int) -> None:
    assert len(_transport_warnings(ConnectionSettings(url=url, verify=verify))) == expected


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"version": {"number": "2.19.1", "distribution": "opensearch"}}, True),
        ({"version": {"number": "3.2.0", "distribution": "opensearch"}}, True),
        (
            {
                "version": {"number": "2.9.0"},
                "tagline": "The OpenSearch Project: https://opensearch.org/",
            },
            True,
        ),
        ({"version": {"number": "8.11.0"}, "tagline": "You Know, for Search"}, False),
        ({"version": {"number": "7.10.2", "distribution": "elasticsearch"}}, False),
        ({"status": "ok"}, False),
    ],
)
def test_is_opensearch(info: dict[str, object], expected: bool) -> None:
    assert is_opensearch(info) is expected


def test_insecure_client_does_not_touch_global_warning_filters() -> None:
    before = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = build_client(ConnectionSettings(url="https://search.example.com", verify=False))
    client.close()
    assert warnings.filters == before


def test_client_has_no_retries_and_no_compression() -> None:
    client = build_client(ConnectionSettings(url="http://localhost:9200"))
    try:
        assert client.transport.max_retries == 0
        assert client.transport.retry_on_timeout is False
        connection = client.transport.get_connection()
        assert connection.http_compress is False
    finally:
        client.close()


def test_basic_auth_and_headers_reach_the_connection() -> None:
    settings = ConnectionSettings(
        url="http://localhost:9200",
        username="admin",
        password=Secret("pw"),
        headers={"X-Api-Key": Secret("key-1")},
    )
    client = build_client(settings)
    try:
        headers = client.transport.get_connection().headers
        assert headers["authorization"].startswith("Basic ")
        assert headers["x-api-key"] == "key-1"
    finally:
        client.close()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    """No ambient AWS configuration, and no instance-metadata lookups."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    return monkeypatch


@pytest.mark.parametrize("service", ["es", "aoss"])
def test_sigv4_signs_with_the_default_credential_chain(
    aws_env: pytest.MonkeyPatch, service: str
) -> None:
    aws_env.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    settings = ConnectionSettings(
        url="https://search.example.com", aws_sigv4=AwsSigV4("eu-west-1", service)
    )
    client = build_client(settings)
    try:
        auth = client.transport.get_connection().http_auth
        assert isinstance(auth, Urllib3AWSV4SignerAuth)
        headers = auth("GET", "https://search.example.com/", None)
        assert "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/" in headers["Authorization"]
        assert f"/eu-west-1/{service}/aws4_request" in headers["Authorization"]
    finally:
        client.close()


def test_sigv4_without_credentials_is_a_clear_error(aws_env: pytest.MonkeyPatch) -> None:
    settings = ConnectionSettings(url="https://search.example.com", aws_sigv4=AwsSigV4("eu-west-1"))
    with pytest.raises(ClusterError, match="no AWS credentials found"):
        build_client(settings)


def test_sigv4_without_boto3_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` fail
    settings = ConnectionSettings(url="https://search.example.com", aws_sigv4=AwsSigV4("eu-west-1"))
    with pytest.raises(ClusterError, match=r"osml\[aws\]"):
        build_client(settings)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://search.example.com:9200", "https://search.example.com:9200"),
        ("https://admin:hunter2@search.example.com:9200/", "https://***@search.example.com:9200/"),
        ("http://token@10.0.0.1", "http://***@10.0.0.1"),
    ],
)
def test_urls_in_messages_never_carry_credentials(url: str, shown: str) -> None:
    assert redacted_url(url) == shown
    assert all(
        "hunter2" not in w for w in _transport_warnings(ConnectionSettings(url=url, verify=False))
    )
