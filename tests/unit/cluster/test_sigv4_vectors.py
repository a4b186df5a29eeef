"""AWS SigV4: botocore's signer against the published AWS test vectors, then osml's client.

opensearch-py's `Urllib3AWSV4SignerAuth` delegates to botocore's `SigV4Auth`. The first
tests sign four requests of the public AWS SigV4 test suite (`tests/data/sigv4/`) with the
suite's example credentials and clock, and expect the published `Authorization` headers
byte for byte. The last ones build osml's client for `--aws-sigv4` (credentials from the
environment, as boto3's default chain reads them) against a local stub that records what
arrives, and check each recorded request's signature by re-signing exactly what was sent,
with the signer the vectors have just proved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from reconciler.cluster.connecting import AwsSigV4, ConnectionSettings, connect

VECTORS = Path(__file__).resolve().parents[2] / "data" / "sigv4"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TIME = dt.datetime(2015, 8, 30, 12, 36, 0)
"""The suite's clock, 20150830T123600Z (botocore works in naive UTC)."""


def parse_request(text: str) -> tuple[str, str, dict[str, str], bytes]:
    """A `.req` file of the suite: (method, path with query, headers, body)."""
    head, _, body = text.partition("\n\n")
    request_line, *header_lines = head.splitlines()
    method, target, _ = request_line.split(" ")
    headers = dict(line.split(":", 1) for line in header_lines)
    return method, target, headers, body.encode("utf-8")


def freeze_clock(monkeypatch: pytest.MonkeyPatch, moment: dt.datetime) -> None:
    """botocore stamps requests with `get_current_datetime()`; pin it for one signature."""
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: moment)


@pytest.mark.parametrize(
    "name",
    [
        "get-vanilla",
        "post-vanilla",
        "get-vanilla-query-order-key-case",
        "post-x-www-form-urlencoded",
    ],
)
def test_botocore_signs_the_aws_test_vectors_exactly(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    method, target, headers, body = parse_request((VECTORS / f"{name}.req").read_text())
    expected = (VECTORS / f"{name}.authz").read_text().strip()
    request = AWSRequest(
        method=method, url=f"https://{headers['Host']}{target}", headers=headers, data=body
    )
    freeze_clock(monkeypatch, SUITE_TIME)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "service", "us-east-1").add_auth(request)
    assert request.headers["Authorization"] == expected
    assert request.headers["X-Amz-Date"] == "20150830T123600Z"


# -- osml's client ----------------------------------------------------------------------

INFO = {
    "name": "stub",
    "cluster_name": "stub",
    "cluster_uuid": "stub-uuid",
    "version": {"distribution": "opensearch", "number": "2.19.1"},
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}


class Recorded:
    """One request as it arrived on the wire."""

    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.target, self.headers, self.body = method, target, headers, body

    def header(self, name: str) -> str:
        return next(v for k, v in self.headers.items() if k.lower() == name.lower())


class _Recorder(BaseHTTPRequestHandler):
    """Answers `GET /` like OpenSearch and `{}` to anything else; keeps every request."""

    seen: list[Recorded]

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append(Recorded(self.command, self.path, dict(self.headers.items()), body))
        answer = json.dumps(INFO if self.path == "/" else {"result": "created"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_PUT = do_POST = _handle  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads `seen` instead."""


@pytest.fixture
def stub() -> Iterator[tuple[str, list[Recorded]]]:
    seen: list[Recorded] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials from the environment only: no profile, no instance metadata."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def resign(seen: Recorded, *, url: str, service: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The Authorization header botocore computes for exactly the headers and body sent."""
    signed_names = seen.header("Authorization").split("SignedHeaders=")[1].split(",")[0]
    headers = {name: seen.header(name) for name in signed_names.split(";")}
    request = AWSRequest(method=seen.method, url=url + seen.target, headers=headers, data=seen.body)
    stamp = dt.datetime.strptime(seen.header("X-Amz-Date"), "%Y%m%dT%H%M%SZ")
    freeze_clock(monkeypatch, stamp)
    token = headers.get("x-amz-security-token")
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, token), service, "eu-west-1").add_auth(request)
    return str(request.headers["Authorization"])


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("service", ["es", "aoss"])
def test_osml_client_signs_every_request_with_sigv4(
    stub: tuple[str, list[Recorded]], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = stub
    settings = ConnectionSettings(url=url, aws_sigv4=AwsSigV4(region="eu-west-1", service=service))  # type: ignore[arg-type]
    with connect(settings) as conn:
        conn.client.transport.perform_request(
            "PUT", "/osml-state/_doc/Connector%2Fchat", params={"refresh": "true"}, body={"a": 1}
        )
    assert [(s.method, s.target.split("?")[0]) for s in seen] == [
        ("GET", "/"),
        ("PUT", "/osml-state/_doc/Connector%2Fchat"),
    ]
    for request in seen:
        authorization = request.header("Authorization")
        day = request.header("X-Amz-Date")[:8]
        assert authorization.startswith(
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{day}/eu-west-1/{service}/aws4_request, "
        )
        assert "x-amz-date" in authorization and "host" in authorization
        assert request.header("X-Amz-Content-SHA256") == hashlib.sha256(request.body).hexdigest()
        assert authorization == resign(request, url=url, service=service, monkeypatch=monkeypatch)
        assert SECRET_KEY not in json.dumps(request.headers)


@pytest.mark.usefixtures("aws_env")
def test_a_session_token_is_sent_and_signed(
    stub: tuple[str, list[Recorded]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLETOKEN")
    url, seen = stub
    with connect(ConnectionSettings(url=url, aws_sigv4=AwsSigV4(region="eu-west-1"))):
        pass
    (request,) = seen
    assert request.header("X-Amz-Security-Token") == "FQoGZXIvYXdzEXAMPLETOKEN"
    assert "x-amz-security-token" in request.header("Authorization")
    assert request.header("Authorization") == resign(
        request, url=url, service="es", monkeypatch=monkeypatch
    )
