"""A real local AWS API for tests: moto's server mode on loopback, never patched SDK calls.

`moto_sts` starts a `ThreadedMotoServer` on 127.0.0.1 and points boto3 at it the way a
user would point it at any endpoint: `AWS_ENDPOINT_URL_STS` and `AWS_ENDPOINT_URL` (read
by botocore 1.31+), with dummy caller keys and no config files, so nothing can reach a
real AWS endpoint. boto3 reads the process environment, so the variables are set with
monkeypatch for the test's duration. Test support only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROLE_ARN = "arn:aws:iam::123456789012:role/osml-bedrock"
CALLER_SECRET = "moto-caller-secret-key-for-tests"
"""The secret key osml calls STS with (moto accepts any); it must never be printed."""


@pytest.fixture
def moto_sts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """The URL of a moto server on loopback that boto3's STS client now talks to."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    url = f"http://127.0.0.1:{port}"
    missing = str(tmp_path / "no-aws-config")
    environment = {
        "AWS_ENDPOINT_URL_STS": url,
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "AKIAMOTOCALLER000000",
        "AWS_SECRET_ACCESS_KEY": CALLER_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield url
    finally:
        server.stop()
