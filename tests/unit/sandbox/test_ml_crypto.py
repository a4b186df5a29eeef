"""Credential encryption (reference §1.1): AES-GCM round trip, no plaintext at rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.sandbox.ml import crypto
from reconciler.sandbox.server import Sandbox


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox("3.x")  # not started: only its context and store are used


def test_round_trip_and_no_plaintext_at_rest(sandbox: Sandbox) -> None:
    ctx = sandbox.context
    sealed = crypto.encrypt_map(ctx, {"api_key": "sk-very-secret"})
    assert "sk-very-secret" not in json.dumps(sealed)
    assert crypto.decrypt_map(ctx, sealed) == {"api_key": "sk-very-secret"}
    assert "sk-very-secret" not in json.dumps(ctx.store.dump())


def test_master_key_is_created_once_and_kept_in_the_config_index(sandbox: Sandbox) -> None:
    ctx = sandbox.context
    first = crypto.master_key(ctx)
    assert len(first) == 32
    assert crypto.master_key(ctx) == first
    assert ctx.store.get(crypto.CONFIG_INDEX, crypto.MASTER_KEY_ID) is not None


def test_each_encryption_uses_a_fresh_nonce() -> None:
    key = bytes(32)
    assert crypto.encrypt(key, "same") != crypto.encrypt(key, "same")


def test_a_wrong_key_fails_without_echoing_the_value() -> None:
    token = crypto.encrypt(bytes(32), "top-secret")
    with pytest.raises(ValueError) as caught:
        crypto.decrypt(b"\x01" * 32, token)
    assert "top-secret" not in str(caught.value)


def test_master_key_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "sandbox.json"
    with Sandbox("3.x", data=data) as first:
        sealed = crypto.encrypt_map(first.context, {"k": "v"})
    with Sandbox("3.x", data=data) as second:
        assert crypto.decrypt_map(second.context, sealed) == {"k": "v"}
