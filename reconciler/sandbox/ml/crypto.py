"""Credential encryption at rest: AES-256-GCM under the cluster's master key (reference §1.1).

Connector and model handlers call `encrypt_map` when storing credentials and predicting calls
`decrypt_map` right before rendering outbound headers. The master key is a random 32-byte key
kept as a document in `.plugins-ml-config`, created lazily on first use and persisted with the
store like any other document. Nothing here may log, return or raise with a plaintext value.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context

CONFIG_INDEX = ".plugins-ml-config"
MASTER_KEY_ID = "master_key"
_NONCE_BYTES = 12


def master_key(ctx: Context) -> bytes:
    """The cluster's master key, generated and stored the first time it is needed."""
    with ctx.lock:
        doc = ctx.store.get(CONFIG_INDEX, MASTER_KEY_ID) if _has_config(ctx) else None
        if doc is not None:
            return base64.b64decode(doc.source["master_key"])
        key = AESGCM.generate_key(bit_length=256)
        source = {
            "master_key": base64.b64encode(key).decode("ascii"),
            "create_time": int(ctx.clock() * 1000),
        }
        ctx.store.index(CONFIG_INDEX, source, id=MASTER_KEY_ID)
        return key


def _has_config(ctx: Context) -> bool:
    return bool(ctx.store.index_exists(CONFIG_INDEX))


def encrypt(key: bytes, plaintext: str) -> str:
    """Base64 of nonce + AES-GCM ciphertext of `plaintext`."""
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), None)
    return base64.b64encode(nonce + sealed).decode("ascii")


def decrypt(key: bytes, token: str) -> str:
    """The plaintext sealed by `encrypt`; ValueError (without the value) when it does not open."""
    raw = base64.b64decode(token)
    try:
        opened = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None)
    except InvalidTag:
        # Never chain the original error: the message must not carry any key material.
        raise ValueError("credential does not decrypt under the master key") from None
    return opened.decode("utf-8")


def encrypt_map(ctx: Context, credential: Mapping[str, object]) -> dict[str, str]:
    """Every value of `credential` sealed under the master key (keys stay readable)."""
    key = master_key(ctx)
    return {name: encrypt(key, str(value)) for name, value in credential.items()}


def decrypt_map(ctx: Context, credential: Mapping[str, object]) -> dict[str, str]:
    """The plaintext credential map for one outbound call; callers must not keep it."""
    key = master_key(ctx)
    return {name: decrypt(key, str(value)) for name, value in credential.items()}
