"""The sandbox's own SigV4 signer and verifier against the published AWS test vectors.

The signer must produce the suite's `Authorization` header byte for byte (the same vectors
prove botocore in tests/unit/cluster/test_sigv4_vectors.py); the verifier must accept what
the signer produced and refuse, with AWS's error types, a wrong secret key, an unknown access
key, a tampered body, a wrong region or service, a stale clock and a missing signature.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reconciler.sandbox.providers import sigv4

VECTORS = Path(__file__).resolve().parents[2] / "data" / "sigv4"
KEYS = sigv4.Keys("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SCOPE = sigv4.Scope(region="us-east-1", service="service")
SUITE_TIME = dt.datetime(2015, 8, 30, 12, 36, tzinfo=dt.UTC)
NAMES = [
    "get-vanilla",
    "post-vanilla",
    "get-vanilla-query-order-key-case",
    "post-x-www-form-urlencoded",
]


def parse_request(text: str) -> tuple[str, str, dict[str, str], bytes]:
    head, _, body = text.partition("\n\n")
    request_line, *header_lines = head.splitlines()
    method, target, _ = request_line.split(" ")
    headers = dict(line.split(":", 1) for line in header_lines)
    return method, target, headers, body.encode("utf-8")


def signed(name: str, *, keys: sigv4.Keys = KEYS) -> tuple[str, str, dict[str, str], bytes]:
    method, target, headers, body = parse_request((VECTORS / f"{name}.req").read_text())
    url = f"https://{headers['Host']}{target}"
    out = sigv4.sign(
        method=method, url=url, headers=headers, body=body, keys=keys, scope=SCOPE, when=SUITE_TIME
    )
    return method, url, out, body


@pytest.mark.parametrize("name", NAMES)
def test_the_signer_reproduces_the_published_authorization(name: str) -> None:
    _, _, headers, _ = signed(name)
    assert headers["Authorization"] == (VECTORS / f"{name}.authz").read_text().strip()


@pytest.mark.parametrize("name", NAMES)
def test_the_verifier_accepts_a_correct_signature(name: str) -> None:
    method, url, headers, body = signed(name)
    sigv4.verify(
        method=method, url=url, headers=headers, body=body, keys=KEYS, scope=SCOPE, now=SUITE_TIME
    )


def refusal(name: str = "post-x-www-form-urlencoded", **changes: object) -> sigv4.SignatureError:
    method, url, headers, body = signed(name, keys=changes.pop("signed_with", KEYS))  # type: ignore[arg-type]
    arguments: dict[str, object] = {
        "method": method,
        "url": url,
        "headers": headers,
        "body": body,
        "keys": KEYS,
        "scope": SCOPE,
        "now": SUITE_TIME,
    }
    arguments.update(changes)
    with pytest.raises(sigv4.SignatureError) as caught:
        sigv4.verify(**arguments)  # type: ignore[arg-type]
    return caught.value


def test_a_wrong_secret_key_is_refused() -> None:
    wrong = sigv4.Keys("AKIDEXAMPLE", "not-the-secret")
    error = refusal(signed_with=wrong)
    assert (error.code, error.status) == ("InvalidSignatureException", 403)
    assert error.message.startswith("The request signature we calculated does not match")


def test_a_tampered_body_is_refused() -> None:
    error = refusal(body=b"Param1=value2")
    assert error.code == "InvalidSignatureException"


def test_empty_keys_belong_to_no_account() -> None:
    empty = sigv4.Keys("AKIDEXAMPLE", "")
    error = refusal(signed_with=empty, keys=empty)
    assert error.code == "UnrecognizedClientException"


def test_an_unknown_access_key_is_refused() -> None:
    error = refusal(signed_with=sigv4.Keys("AKIDOTHER", KEYS.secret_key))
    assert error.code == "UnrecognizedClientException"


@pytest.mark.parametrize(
    ("scope", "text"),
    [
        (sigv4.Scope("eu-west-1", "service"), "valid region"),
        (sigv4.Scope("us-east-1", "bedrock"), "correct service: 'bedrock'"),
    ],
)
def test_a_signature_for_another_region_or_service_is_refused(
    scope: sigv4.Scope, text: str
) -> None:
    assert text in refusal(scope=scope).message


def test_a_stale_signature_is_refused() -> None:
    error = refusal(now=SUITE_TIME + dt.timedelta(minutes=16))
    assert error.message.startswith("Signature expired")


def test_a_request_without_a_signature_is_refused() -> None:
    error = refusal(headers={"Host": "example.amazonaws.com"})
    assert (error.code, error.message) == (
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )


def test_a_session_token_is_sent_signed_and_checked() -> None:
    keys = sigv4.Keys(KEYS.access_key, KEYS.secret_key, "TOKEN-1")
    method, url, headers, body = signed("post-vanilla", keys=keys)
    assert headers["X-Amz-Security-Token"] == "TOKEN-1"
    assert "x-amz-security-token" in headers["Authorization"]
    sigv4.verify(
        method=method, url=url, headers=headers, body=body, keys=keys, scope=SCOPE, now=SUITE_TIME
    )
    other = sigv4.Keys(KEYS.access_key, KEYS.secret_key, "TOKEN-2")
    with pytest.raises(sigv4.SignatureError):
        sigv4.verify(
            method=method,
            url=url,
            headers=headers,
            body=body,
            keys=other,
            scope=SCOPE,
            now=SUITE_TIME,
        )


def test_a_required_content_hash_header_carries_the_payload_hash() -> None:
    headers = {
        "Host": "bedrock-runtime.us-east-1.amazonaws.com",
        "x-amz-content-sha256": "required",
    }
    out = sigv4.sign(
        method="POST",
        url="https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke",
        headers=headers,
        body=b"{}",
        keys=KEYS,
        scope=SCOPE,
        when=SUITE_TIME,
    )
    assert (
        out["x-amz-content-sha256"]
        == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )
    assert "x-amz-content-sha256" in out["Authorization"]


def test_the_secret_key_never_shows_in_the_keys_repr() -> None:
    assert KEYS.secret_key not in repr(KEYS)


@pytest.mark.parametrize(
    ("url", "token"),
    [
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2:0/invoke",
            None,
        ),
        ("https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/minilm/invocations", "TOKEN"),
        ("https://comprehend.us-east-1.amazonaws.com/?b=x%2Fy&A=1&a=", None),
    ],
)
def test_a_provider_request_is_signed_as_botocore_signs_it(
    url: str, token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore (the AWS SDK for Python) is the independent reference for requests the
    published vectors do not cover: a `:` in the path, a query, a session token."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = b'{"inputText": "hello"}'
    keys = sigv4.Keys(KEYS.access_key, KEYS.secret_key, token)
    region = url.split(".")[-3]
    scope = sigv4.Scope(region=region, service="bedrock")
    base = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    ours = sigv4.sign(
        method="POST", url=url, headers=base, body=body, keys=keys, scope=scope, when=SUITE_TIME
    )
    request = AWSRequest(method="POST", url=url, headers=dict(base), data=body)
    monkeypatch.setattr(
        "botocore.auth.get_current_datetime", lambda: SUITE_TIME.replace(tzinfo=None)
    )
    SigV4Auth(Credentials(KEYS.access_key, KEYS.secret_key, token), "bedrock", region).add_auth(
        request
    )
    assert ours["Authorization"] == request.headers["Authorization"]
