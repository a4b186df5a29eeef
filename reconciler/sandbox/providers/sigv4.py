"""AWS Signature Version 4, both sides: the signer predict uses and the verifier the AWS
emulators use, written by hand on hmac/hashlib.

The signer does what ML Commons does for an `aws_sigv4` connector (AWS SDK for Java v2
`AwsV4HttpSigner`, called from `ConnectorUtils.signRequest` with the connector's
access_key, secret_key, optional session_token, region and service_name): it adds `Host`,
`X-Amz-Date` and, with a session token, `X-Amz-Security-Token`, replaces an
`x-amz-content-sha256: required` header with the payload hash, signs every header sent and
the payload, and writes `Authorization`. The verifier re-derives the signature from what
arrived, as an AWS endpoint does, and says why it refuses. Both are proved against the
published AWS test vectors (tests/data/sigv4). Pure functions: no clock, no network; no
secret appears in any value they return except the signature itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import urllib.parse
from collections.abc import Mapping

ALGORITHM = "AWS4-HMAC-SHA256"
_UNSIGNED = frozenset({"authorization", "connection", "expect", "user-agent", "x-amzn-trace-id"})
"""Headers the AWS SDK leaves out of the signature; everything else that is sent is signed."""
_MAX_SKEW = dt.timedelta(minutes=15)


@dataclasses.dataclass(frozen=True)
class Keys:
    """The AWS credentials of one connector."""

    access_key: str
    secret_key: str = dataclasses.field(repr=False)
    session_token: str | None = dataclasses.field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Keys(access_key={self.access_key!r}, secret_key=***)"


@dataclasses.dataclass(frozen=True)
class Scope:
    """Where a signature is valid: region and service."""

    region: str
    service: str


class SignatureError(Exception):
    """A request an AWS endpoint refuses; `code` is AWS's error type, `status` its HTTP
    status and the message AWS's own text."""

    def __init__(self, code: str, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def sign(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: Keys,
    scope: Scope,
    when: dt.datetime,
) -> dict[str, str]:
    """The headers to send: the given ones plus Host, X-Amz-Date, the session token and
    Authorization, signed for `scope` at `when` (UTC)."""
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    signed = {name: value for name, value in headers.items() if name.lower() != "authorization"}
    if not _has(signed, "host"):
        signed["Host"] = _host(url)
    signed["X-Amz-Date"] = stamp
    if keys.session_token:
        signed["X-Amz-Security-Token"] = keys.session_token
    for name, value in list(signed.items()):
        if name.lower() == "x-amz-content-sha256" and value == "required":
            signed[name] = _hex(body)
    names = _signed_names(signed)
    canonical = canonical_request(method=method, url=url, headers=signed, names=names, body=body)
    signature = _signature(keys.secret_key, scope=scope, stamp=stamp, canonical=canonical)
    credential = f"{keys.access_key}/{stamp[:8]}/{scope.region}/{scope.service}/aws4_request"
    signed["Authorization"] = (
        f"{ALGORITHM} Credential={credential}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    return signed


def verify(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: Keys,
    scope: Scope,
    now: dt.datetime,
) -> None:
    """Accept a signed request as the AWS endpoint for `scope` would, or raise
    SignatureError with AWS's error type and message."""
    authorization = _header(headers, "authorization")
    if authorization is None:
        raise SignatureError("MissingAuthenticationTokenException", "Missing Authentication Token")
    fields = _authorization_fields(authorization)
    access_key, day, region, service = _credential(fields["Credential"])
    # Keys that are empty belong to no account: nothing signed with them is valid.
    if not (keys.access_key and keys.secret_key) or access_key != keys.access_key:
        raise SignatureError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    _check_scope(region=region, service=service, scope=scope)
    stamp = _check_date(headers, day=day, now=now)
    if keys.session_token and _header(headers, "x-amz-security-token") != keys.session_token:
        raise SignatureError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    names = fields["SignedHeaders"].split(";")
    if "host" not in names:
        raise SignatureError(
            "IncompleteSignatureException",
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        )
    canonical = canonical_request(method=method, url=url, headers=headers, names=names, body=body)
    expected = _signature(keys.secret_key, scope=scope, stamp=stamp, canonical=canonical)
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise SignatureError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        )


def canonical_request(
    *, method: str, url: str, headers: Mapping[str, str], names: list[str], body: bytes
) -> str:
    """The canonical request of the SigV4 specification for the headers in `names`."""
    parts = urllib.parse.urlsplit(url)
    lines = [
        method.upper(),
        _canonical_path(parts.path),
        _canonical_query(parts.query),
        "".join(f"{name}:{_header_value(headers, name)}\n" for name in names),
        ";".join(names),
        _payload_hash(headers, body),
    ]
    return "\n".join(lines)


def string_to_sign(*, stamp: str, scope: Scope, canonical: str) -> str:
    """The string to sign: algorithm, timestamp, credential scope, canonical-request hash."""
    credential_scope = f"{stamp[:8]}/{scope.region}/{scope.service}/aws4_request"
    return "\n".join([ALGORITHM, stamp, credential_scope, _hex(canonical.encode("utf-8"))])


def _signature(secret_key: str, *, scope: Scope, stamp: str, canonical: str) -> str:
    key = f"AWS4{secret_key}".encode()
    for part in (stamp[:8], scope.region, scope.service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    text = string_to_sign(stamp=stamp, scope=scope, canonical=canonical)
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _canonical_path(path: str) -> str:
    # Non-S3 services encode the path as sent once more ("twice" counting the client's own
    # encoding): `:` sent raw signs as `%3A`, `%3A` sent signs as `%253A`.
    return urllib.parse.quote(path or "/", safe="/-_.~")


def _canonical_query(query: str) -> str:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    encoded = sorted(
        (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")) for k, v in pairs
    )
    return "&".join(f"{k}={v}" for k, v in encoded)


def _payload_hash(headers: Mapping[str, str], body: bytes) -> str:
    declared = _header(headers, "x-amz-content-sha256")
    # A declared hash must be the body's: a body that does not match it is refused first.
    if declared and len(declared) == 64 and declared != _hex(body):
        raise SignatureError(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            status=400,
        )
    return _hex(body)


def _signed_names(headers: Mapping[str, str]) -> list[str]:
    return sorted({name.lower() for name in headers if name.lower() not in _UNSIGNED})


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _has(headers: Mapping[str, str], name: str) -> bool:
    return _header(headers, name) is not None


def _header_value(headers: Mapping[str, str], name: str) -> str:
    values = [v for k, v in headers.items() if k.lower() == name]
    return ",".join(" ".join(v.split()) for v in values)


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def _hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _authorization_fields(authorization: str) -> dict[str, str]:
    algorithm, _, rest = authorization.partition(" ")
    fields = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
    if algorithm != ALGORITHM or missing:
        raise SignatureError(
            "IncompleteSignatureException",
            f"Authorization header requires {', '.join(missing or ['a supported algorithm'])}. "
            f"Authorization={authorization.split('Signature=', maxsplit=1)[0].strip()}",
            status=400 if missing else 403,
        )
    return fields


def _credential(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureError(
            "IncompleteSignatureException",
            "Credential should be scoped to a valid region.",
            status=400,
        )
    return parts[0], parts[1], parts[2], parts[3]


def _check_scope(*, region: str, service: str, scope: Scope) -> None:
    if region != scope.region:
        raise SignatureError(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{region}'.",
        )
    if service != scope.service:
        raise SignatureError(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{scope.service}'.",
        )


def _check_date(headers: Mapping[str, str], *, day: str, now: dt.datetime) -> str:
    stamp = _header(headers, "x-amz-date") or ""
    try:
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise SignatureError(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            status=400,
        ) from None
    if stamp[:8] != day:
        raise SignatureError(
            "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD."
        )
    if abs(now - when) > _MAX_SKEW:
        raise SignatureError(
            "InvalidSignatureException",
            f"Signature expired: {stamp} is now earlier than "
            f"{(now - _MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')}.",
        )
    return stamp
