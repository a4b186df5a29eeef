"""Transport security: basic auth like the Security plugin, TLS, client certificates."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from opensearchpy import AuthenticationException, OpenSearch
from opensearchpy import ConnectionError as OpenSearchConnectionError

from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for

Factory = Callable[..., Sandbox]
USERS = {"alice": {"password": "wonder-land", "backend_roles": ["ml"], "roles": ["ml_full_access"]}}


@pytest.mark.parametrize(
    ("auth", "allowed"),
    [
        (("admin", "admin"), True),
        (("alice", "wonder-land"), True),
        (("alice", "wrong"), False),
        (("nobody", "admin"), False),
        (None, False),
    ],
)
def test_basic_auth_is_required(
    sandbox_factory: Factory, auth: tuple[str, str] | None, allowed: bool
) -> None:
    sandbox = sandbox_factory(security=True, users=USERS)
    client = (
        OpenSearch(sandbox.url, http_auth=auth, max_retries=0) if auth else OpenSearch(sandbox.url)
    )
    if allowed:
        assert client.info()["version"]["distribution"] == "opensearch"
        return
    with pytest.raises(AuthenticationException) as caught:
        client.info()
    assert caught.value.status_code == 401


def test_401_carries_the_security_plugin_challenge(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory(security=True)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(sandbox.url + "/", timeout=5)
    assert caught.value.code == 401
    assert caught.value.headers["WWW-Authenticate"] == 'Basic realm="OpenSearch Security"'
    assert caught.value.read() == b"Unauthorized"


def test_authenticated_user_reaches_handlers(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory(security=True, users=USERS)
    client = OpenSearch(sandbox.url, http_auth=("alice", "wonder-land"))
    info = client.transport.perform_request("GET", "/_plugins/_security/authinfo")
    assert (info["user_name"], info["backend_roles"], info["roles"]) == (
        "alice",
        ["ml"],
        ["ml_full_access"],
    )
    assert "wonder-land" not in str(info)


def test_without_security_there_is_no_security_api(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory()
    status, _, _ = _raw_get(sandbox.url + "/_plugins/_security/authinfo")
    assert status == 400


def test_tls_with_basic_auth(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory(security=True, tls=True)
    assert sandbox.url.startswith("https://")
    client = client_for(sandbox)
    assert client.info()["version"]["distribution"] == "opensearch"
    untrusting = OpenSearch(
        sandbox.url, http_auth=("admin", "admin"), verify_certs=True, max_retries=0
    )
    with pytest.raises(OpenSearchConnectionError):
        untrusting.info()


def test_client_certificate_authenticates_without_password(
    sandbox_factory: Factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(security=True, tls=True, client_certs=True, users=USERS)
    cert, key = sandbox.issue_client_certificate("alice", directory=tmp_path)
    client = OpenSearch(
        sandbox.url,
        use_ssl=True,
        verify_certs=True,
        ca_certs=str(sandbox.ca_file),
        client_cert=str(cert),
        client_key=str(key),
    )
    info = client.transport.perform_request("GET", "/_plugins/_security/authinfo")
    assert info["user_name"] == "alice"
    anonymous = OpenSearch(sandbox.url, use_ssl=True, ca_certs=str(sandbox.ca_file), max_retries=0)
    with pytest.raises(AuthenticationException):
        anonymous.info()


def _raw_get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5, context=ssl.create_default_context()) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


ADMIN_ROUTES = [
    ("GET", "/_sandbox/state?docs=true", None),
    ("GET", "/_sandbox/requests", None),
    ("DELETE", "/_sandbox/requests", None),
    ("GET", "/_sandbox/faults", None),
    ("PUT", "/_sandbox/faults", {"rules": [{"route": "*", "error_rate": 1.0}]}),
    ("DELETE", "/_sandbox/faults", None),
]


def _call(
    sandbox: Sandbox, method: str, path: str, body: object, auth: tuple[str, str] | None
) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(sandbox.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_need_the_admin_user_when_security_is_on(
    sandbox_factory: Factory, method: str, path: str, body: object
) -> None:
    sandbox = sandbox_factory(security=True, users=USERS)
    client_for(sandbox).index(index="private", id="1", body={"note": "not for everyone"})

    status, answer = _call(sandbox, method, path, body, auth=None)
    assert (status, answer) == (401, b"Unauthorized")
    status, answer = _call(sandbox, method, path, body, auth=("alice", "wonder-land"))
    assert status == 403 and json.loads(answer)["error"]["type"] == "security_exception"
    assert b"not for everyone" not in answer
    assert sandbox.faults.spec()["rules"] == []  # the refused PUT changed nothing

    status, answer = _call(sandbox, method, path, body, auth=("admin", "admin"))
    assert status == 200
    if path.startswith("/_sandbox/state"):
        assert b"not for everyone" in answer


def test_admin_routes_need_no_credentials_without_security(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory()
    assert _call(sandbox, "GET", "/_sandbox/state", None, auth=None)[0] == 200
