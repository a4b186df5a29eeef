"""Encrypted secret values kept in Git: AES-256-GCM with a versioned text format.

A ciphertext reads `osml:v1:<key id>:<base64url(nonce || ciphertext || tag)>`:
- `v1` is the format version; a later format gets a new tag and this one keeps decrypting;
- the key id is the first 8 hex digits of SHA-256 of the key, so a wrong key is named as
  such instead of surfacing as a failed tag check; it reveals nothing usable about the key;
- the nonce is 12 random bytes; the header `osml:v1:<key id>` is authenticated as
  associated data, so the header cannot be swapped onto another ciphertext.
Keys are 32 random bytes written as base64url text (`osml secrets keygen`), read from
`OSML_SECRET_KEY` or a key file. Called by manifests.resolving and the secrets commands.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets as _random
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from reconciler.errors import SecretError
from reconciler.secrets.values import Secret

PREFIX = "osml:v1:"
KEY_ENV = "OSML_SECRET_KEY"
_KEY_BYTES = 32
_NONCE_BYTES = 12


class SecretKey:
    """A 32-byte AES key; its repr shows only the key id."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != _KEY_BYTES:
            raise SecretError(f"an osml secret key is {_KEY_BYTES} bytes, this one is {len(raw)}")
        self._raw = raw

    @classmethod
    def generate(cls) -> SecretKey:
        """A new random key."""
        return cls(_random.token_bytes(_KEY_BYTES))

    @classmethod
    def from_text(cls, text: str, *, origin: str) -> SecretKey:
        """Read the base64url text form; `origin` names where it came from in errors."""
        try:
            raw = base64.urlsafe_b64decode(_pad(text.strip()))
        except (binascii.Error, ValueError) as exc:
            raise SecretError(f"{origin}: not an osml secret key (expected base64)") from exc
        if len(raw) != _KEY_BYTES:
            raise SecretError(f"{origin}: not an osml secret key (expected {_KEY_BYTES} bytes)")
        return cls(raw)

    def to_text(self) -> str:
        """The base64url text form, for a key file."""
        return base64.urlsafe_b64encode(self._raw).decode("ascii").rstrip("=")

    @property
    def key_id(self) -> str:
        """First 8 hex digits of SHA-256 of the key: names the key, reveals nothing."""
        return hashlib.sha256(self._raw).hexdigest()[:8]

    @property
    def raw(self) -> bytes:
        """The key bytes, for the cipher only."""
        return self._raw

    def __repr__(self) -> str:
        return f"SecretKey(id={self.key_id})"


def load_key(
    *, key_file: Path | None = None, env: Mapping[str, str] | None = None, env_var: str = KEY_ENV
) -> SecretKey | None:
    """The key from `key_file` if given, else from the environment, else None."""
    if key_file is not None:
        try:
            text = key_file.read_text("utf-8")
        except OSError as exc:
            raise SecretError(f"cannot read key file {key_file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise SecretError(f"cannot read key file {key_file}: not UTF-8 text") from exc
        return SecretKey.from_text(text, origin=f"key file {key_file}")
    value = (os.environ if env is None else env).get(env_var)
    if value:
        return SecretKey.from_text(value, origin=f"environment variable {env_var}")
    return None


def is_ciphertext(text: str) -> bool:
    """Whether `text` looks like an osml ciphertext of any version."""
    return text.startswith("osml:v")


def encrypt(plaintext: str, key: SecretKey) -> str:
    """Encrypt a secret value into the v1 text format."""
    header = f"{PREFIX}{key.key_id}"
    nonce = _random.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(key.raw).encrypt(nonce, plaintext.encode("utf-8"), header.encode("ascii"))
    body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
    return f"{header}:{body}"


def key_id_of(ciphertext: str) -> str:
    """The key id a ciphertext was made with; SecretError if it is not one."""
    return _split(ciphertext)[0]


def decrypt(ciphertext: str, key: SecretKey, *, source: str = "encrypted value") -> Secret:
    """Decrypt a v1 ciphertext into a Secret; SecretError names what went wrong."""
    key_id, blob = _split(ciphertext)
    if key_id != key.key_id:
        raise SecretError(
            f"{source} was encrypted with key {key_id}, but the key given is {key.key_id}"
        )
    nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
    header = f"{PREFIX}{key_id}".encode("ascii")
    try:
        plain = AESGCM(key.raw).decrypt(nonce, sealed, header)
    except InvalidTag as exc:
        raise SecretError(f"{source} cannot be decrypted: it was altered or is corrupt") from exc
    try:
        return Secret(plain.decode("utf-8"), source=source)
    except UnicodeDecodeError as exc:
        raise SecretError(f"{source} does not decrypt to UTF-8 text") from exc


def _split(ciphertext: str) -> tuple[str, bytes]:
    text = ciphertext.strip()
    if not text.startswith(PREFIX):
        version = text.split(":")[1] if text.startswith("osml:") and ":" in text[5:] else None
        if version:
            raise SecretError(f"ciphertext format {version} is not supported by this osml")
        raise SecretError("not an osml ciphertext (expected osml:v1:...)")
    key_id, _, body = text[len(PREFIX) :].partition(":")
    try:
        blob = base64.urlsafe_b64decode(_pad(body))
    except (binascii.Error, ValueError) as exc:
        raise SecretError("ciphertext is not valid base64") from exc
    if len(key_id) != 8 or len(blob) < _NONCE_BYTES + 16:
        raise SecretError("ciphertext is truncated or malformed")
    return key_id, blob


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)
