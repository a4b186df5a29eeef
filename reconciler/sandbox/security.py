"""Transport security of the sandbox, as the OpenSearch Security plugin presents it: an
internal users table, HTTP basic auth, TLS with a generated CA, and client certificates.

The server builds one `Security` when started with `security=True` (and/or `tls=True`),
asks `authenticate()` for every request and puts the `User` on `Request.user` for the ML
access-control rules. Certificates are generated with `cryptography` into a private
directory. Passwords are kept only as salted hashes and never appear in any output.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import hashlib
import hmac
import ipaddress
import os
import secrets
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reconciler.sandbox.http import (
    ApiError,
    Context,
    NoHandlerError,
    Request,
    Response,
    Router,
    User,
)

DEFAULT_USERS: dict[str, dict[str, Any]] = {
    "admin": {"password": "admin", "backend_roles": ["admin"], "roles": ["all_access"]},
}
"""The demo configuration's admin user (`admin`/`admin`, role `all_access`)."""
REALM = 'Basic realm="OpenSearch Security"'


class UnauthorizedError(ApiError):
    """401 as the Security plugin sends it: a plain `Unauthorized` body and a challenge."""

    def __init__(self) -> None:
        super().__init__(401, "Unauthorized", error_type="security_exception")

    def to_response(self) -> Response:
        return Response(401, "Unauthorized", {"WWW-Authenticate": REALM})


@dataclasses.dataclass(frozen=True)
class _Account:
    user: User
    salt: bytes
    digest: bytes

    def accepts(self, password: str) -> bool:
        return hmac.compare_digest(_hash(password, self.salt), self.digest)


@dataclasses.dataclass(frozen=True)
class Certificates:
    """PEM files of the generated CA and server certificate."""

    directory: Path
    ca_file: Path
    """Give this to clients as `ca_certs` to verify the sandbox."""
    cert_file: Path
    key_file: Path


class Security:
    """Users, passwords and (optionally) TLS material of one sandbox."""

    def __init__(
        self,
        users: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        basic_auth: bool = True,
        tls_directory: Path | None = None,
        client_certs: bool = False,
    ) -> None:
        self.basic_auth = basic_auth
        self.client_certs = client_certs
        self._accounts = {
            name: _account(name, spec) for name, spec in {**DEFAULT_USERS, **(users or {})}.items()
        }
        self.certificates: Certificates | None = None
        self._ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None
        if tls_directory is not None:
            self._ca = _make_ca()
            self.certificates = _write_server_files(tls_directory, *self._ca)

    def authenticate(
        self, headers: Mapping[str, str], *, peer_cn: str | None = None
    ) -> User | None:
        """The caller, or Unauthorized; None when authentication is off."""
        if peer_cn is not None and self.client_certs:
            account = self._accounts.get(peer_cn)
            return dataclasses.replace(account.user) if account else User(peer_cn)
        if not self.basic_auth:
            return None
        name, password = _basic_credentials(headers.get("authorization", ""))
        account = self._accounts.get(name or "")
        if account is None or password is None or not account.accepts(password):
            raise UnauthorizedError()
        return dataclasses.replace(account.user)

    def server_context(self) -> ssl.SSLContext | None:
        """The TLS context to wrap the listening socket with, or None for plain HTTP."""
        if self.certificates is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificates.cert_file, self.certificates.key_file)
        if self.client_certs:
            context.load_verify_locations(self.certificates.ca_file)
            context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def issue_client_certificate(self, name: str, *, directory: Path) -> tuple[Path, Path]:
        """A client certificate (CN=`name`) signed by the sandbox CA: (cert file, key file)."""
        if self._ca is None:
            raise RuntimeError("client certificates need the sandbox to run with TLS")
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _sign(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key, *self._ca)
        cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
        _write_private(key_file, _key_pem(key))
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert_file, key_file


def peer_common_name(peer: Mapping[str, Any] | None) -> str | None:
    """The CN of a verified client certificate, from `SSLSocket.getpeercert()`."""
    for rdn in (peer or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def _account(name: str, spec: Mapping[str, Any]) -> _Account:
    salt = secrets.token_bytes(16)
    user = User(name, list(spec.get("backend_roles", [])), list(spec.get("roles", [])))
    return _Account(user, salt, _hash(str(spec.get("password", "")), salt))


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, 1000)


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    name, colon, password = decoded.partition(":")
    return (name, password) if colon else (None, None)


def _make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "osml sandbox CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _sign(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if server:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _write_server_files(
    directory: Path, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = _sign(subject, key, ca_cert, ca_key, server=True)
    files = Certificates(
        directory, directory / "ca.pem", directory / "node.pem", directory / "node-key.pem"
    )
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(files.key_file, _key_pem(key))
    return files


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, content: bytes) -> None:
    # Private keys are created 0600 so no other local user can read them.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


def register(router: Router) -> None:
    """Add `GET /_plugins/_security/authinfo` (present only when security is on)."""
    router.add("GET", "/_plugins/_security/authinfo", _authinfo)


def _authinfo(ctx: Context, request: Request) -> Response:
    user = request.user
    if not ctx.config.security or user is None:
        raise NoHandlerError(request.path, request.method)
    return Response(
        200,
        {
            "user": (
                f"User [name={user.name}, backend_roles={user.backend_roles}, requestedTenant=null]"
            ),
            "user_name": user.name,
            "user_requested_tenant": None,
            "backend_roles": user.backend_roles,
            "custom_attribute_names": [],
            "roles": user.roles,
            "tenants": {user.name: True},
        },
    )
