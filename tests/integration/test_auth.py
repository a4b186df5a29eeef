"""Every way into a cluster, end to end through the CLI: basic auth, client certificates,
header tokens, AWS SigV4, TLS verification and the plain-http warning.

The sandbox plays the cluster (`security=True` for basic auth, `tls=True` for HTTPS with
its own CA, `client_certs=True` for mutual TLS). Token auth is not a sandbox feature, so
a bearer token is checked by the `Gateway` of `test_no_leaks` in front of it, as an API
gateway in front of OpenSearch would. Commands run with click's runner; `lock status`
is the smallest command that connects, `plan` the one that prints connection warnings.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.cluster.connecting import ConnectionSettings, connect
from reconciler.sandbox.server import Sandbox
from tests.integration.support import group
from tests.integration.test_no_leaks import Gateway

Factory = Callable[..., Sandbox]
USER, PASSWORD = "deployer", "s3cret-deployer-pass"
USERS = {USER: {"password": PASSWORD, "backend_roles": ["admin"], "roles": ["all_access"]}}
TOKEN = "eyJhbGciOiJIUzI1NiJ9.osml-test-token.c2lnbmF0dXJl"
FREE = "The state lock is free."


def osml(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), env={"NO_COLOR": "1", **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    for secret in (PASSWORD, TOKEN):
        assert secret not in result.output
    return result


def lock_status(url: str, *options: str, env: Mapping[str, str | None] | None = None) -> Result:
    return osml("lock", "status", "--cluster", url, *options, env=env)


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    directory = tmp_path / "manifests"
    directory.mkdir()
    (directory / "team.yaml").write_text(yaml.safe_dump(group("team")))
    return directory


# -- basic auth -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "env"),
    [
        (("--username", USER, "--password", PASSWORD), {}),
        ((), {"OPENSEARCH_USERNAME": USER, "OPENSEARCH_PASSWORD": PASSWORD}),
        (("--username", USER), {"OPENSEARCH_PASSWORD": PASSWORD}),
    ],
    ids=["flags", "environment", "user-flag-password-env"],
)
def test_basic_auth(
    sandbox_factory: Factory, options: tuple[str, ...], env: dict[str, str]
) -> None:
    sandbox = sandbox_factory(security=True, users=USERS)
    result = lock_status(sandbox.url, *options, env=env)
    assert (result.exit_code, result.stdout.strip()) == (0, FREE), result.output


@pytest.mark.parametrize(
    "options",
    [("--username", USER, "--password", "not-the-password"), ("--username", "nobody"), ()],
    ids=["wrong-password", "unknown-user", "no-credentials"],
)
def test_refused_credentials_fail_clearly(
    sandbox_factory: Factory, options: tuple[str, ...]
) -> None:
    sandbox = sandbox_factory(security=True, users=USERS)
    result = lock_status(sandbox.url, *options)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {sandbox.url}: `GET /` failed (401): Unauthorized\n"
    assert "not-the-password" not in result.output


def test_a_password_needs_a_user(sandbox_factory: Factory) -> None:
    result = lock_status(sandbox_factory(security=True).url, "--password", PASSWORD)
    assert result.exit_code == 2 and "--password needs --username" in result.stderr


# -- TLS and client certificates --------------------------------------------------------


def test_tls_verification_is_on_by_default(sandbox_factory: Factory, manifests: Path) -> None:
    sandbox = sandbox_factory(security=True, tls=True)
    auth = ("--username", "admin", "--password", "admin")
    refused = lock_status(sandbox.url, *auth)
    assert refused.exit_code == 1
    assert "failed (TLS)" in refused.stderr and "CERTIFICATE_VERIFY_FAILED" in refused.stderr

    trusted = lock_status(sandbox.url, *auth, "--ca-certs", str(sandbox.ca_file))
    assert (trusted.exit_code, trusted.stdout.strip()) == (0, FREE)
    from_env = lock_status(sandbox.url, *auth, env={"OSML_CA_CERTS": str(sandbox.ca_file)})
    assert from_env.exit_code == 0

    insecure = osml("plan", str(manifests), "--cluster", sandbox.url, *auth, "--insecure")
    assert insecure.exit_code == 0, insecure.output
    assert f"Warning: {sandbox.url}: TLS certificate verification is off (--insecure)" in (
        insecure.stderr
    )
    verified = osml(
        "plan", str(manifests), "--cluster", sandbox.url, *auth, "--ca-certs", str(sandbox.ca_file)
    )
    assert verified.exit_code == 0 and "Warning" not in verified.stderr


def test_client_certificates_authenticate_without_a_password(
    sandbox_factory: Factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory(security=True, tls=True, client_certs=True, users=USERS)
    cert, key = sandbox.issue_client_certificate(USER, directory=tmp_path)
    ca = str(sandbox.ca_file)
    result = lock_status(
        sandbox.url, "--ca-certs", ca, "--client-cert", str(cert), "--client-key", str(key)
    )
    assert (result.exit_code, result.stdout.strip()) == (0, FREE), result.output
    from_env = lock_status(
        sandbox.url,
        env={"OSML_CA_CERTS": ca, "OSML_CLIENT_CERT": str(cert), "OSML_CLIENT_KEY": str(key)},
    )
    assert from_env.exit_code == 0, from_env.output
    settings = ConnectionSettings(
        url=sandbox.url, ca_certs=ca, client_cert=str(cert), client_key=str(key)
    )
    with connect(settings) as conn:
        info = conn.client.transport.perform_request("GET", "/_plugins/_security/authinfo")
    assert info["user_name"] == USER
    anonymous = lock_status(sandbox.url, "--ca-certs", ca)
    assert anonymous.exit_code == 1 and "(401)" in anonymous.stderr


# -- headers: API keys and bearer tokens ------------------------------------------------


def test_an_authorization_header_authenticates(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory(security=True, users=USERS)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    result = lock_status(sandbox.url, "--header", f"Authorization: Basic {token}")
    assert (result.exit_code, result.stdout.strip()) == (0, FREE), result.output


@pytest.mark.parametrize(
    ("options", "env"),
    [
        (("--header", f"Authorization: Bearer {TOKEN}"), {}),
        ((), {"OSML_HEADERS": f"X-Trace: 1\nAuthorization: Bearer {TOKEN}"}),
    ],
    ids=["flag", "environment"],
)
def test_a_bearer_token_reaches_every_request(
    sandbox_factory: Factory, options: tuple[str, ...], env: dict[str, str]
) -> None:
    with Gateway(sandbox_factory().url, require=("Authorization", f"Bearer {TOKEN}")) as gateway:
        result = lock_status(gateway.url, *options, env=env)
        refused = lock_status(gateway.url, "--header", "Authorization: Bearer expired")
    assert (result.exit_code, result.stdout.strip()) == (0, FREE), result.output
    assert refused.exit_code == 1 and "(401)" in refused.stderr
    accepted = [s for s in gateway.seen if s.header("Authorization") == f"Bearer {TOKEN}"]
    assert len(accepted) == len(gateway.seen) - 1 >= 2  # all but the refused one


@pytest.mark.parametrize("header", ["no colon", "Name:", ": value"])
def test_a_malformed_header_is_a_usage_error(header: str) -> None:
    result = osml("lock", "status", "--header", header)
    assert result.exit_code == 2 and "expected `Name: value`" in result.stderr


# -- AWS SigV4 --------------------------------------------------------------------------


AWS_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def test_aws_sigv4_signs_every_request(sandbox_factory: Factory, tmp_path: Path) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PROFILE": None,
        "AWS_SESSION_TOKEN": None,
    }
    with Gateway(sandbox_factory().url) as gateway:
        result = lock_status(gateway.url, "--aws-sigv4", "eu-west-1", env=env)
    assert (result.exit_code, result.stdout.strip()) == (0, FREE), result.output
    assert gateway.seen
    for seen in gateway.seen:
        authorization = seen.header("Authorization") or ""
        assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert "/eu-west-1/es/aws4_request" in authorization
    assert AWS_SECRET not in result.output


# -- plain http -------------------------------------------------------------------------


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (no packet is sent)."""
    for target in ("203.0.113.1", "10.255.255.254"):  # documentation / private ranges
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((target, 9))  # a routing lookup only: UDP connect sends nothing
            except OSError:
                continue
            address = str(probe.getsockname()[0])
            if not address.startswith("127."):
                return address
    return None


def test_plain_http_to_a_remote_host_warns(sandbox_factory: Factory, manifests: Path) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    remote: Any = sandbox_factory(host=address)
    url = f"http://{address}:{remote.port}"
    result = osml("plan", str(manifests), "--cluster", url)
    assert result.exit_code == 0, result.output
    assert f"Warning: {url} is plain http to a remote host" in result.stderr
    local = sandbox_factory()
    quiet = osml("plan", str(manifests), "--cluster", local.url)
    assert quiet.exit_code == 0 and "Warning" not in quiet.stderr


def test_credentials_in_the_url_work_and_are_never_shown(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory(security=True, users=USERS)
    right = sandbox.url.replace("http://", f"http://{USER}:{PASSWORD}@")
    result = lock_status(right)
    assert (result.exit_code, result.stdout.strip()) == (0, FREE), result.output
    wrong = lock_status(sandbox.url.replace("http://", f"http://{USER}:not-the-password@"))
    assert wrong.exit_code == 1 and "(401)" in wrong.stderr
    assert "not-the-password" not in wrong.output
