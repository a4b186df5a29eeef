import base64

import pytest

from reconciler.errors import SecretError
from reconciler.secrets import scrub
from reconciler.secrets.encrypting import SecretKey, decrypt, encrypt, key_id_of, load_key

PLAIN = "sk-live-9f8e7d6c5b4a3210"


@pytest.fixture
def key() -> SecretKey:
    return SecretKey.generate()


@pytest.mark.parametrize("plain", [PLAIN, "ünïcødé ✓", "x" * 10_000, "line\nbreak"])
def test_round_trip(key: SecretKey, plain: str) -> None:
    ciphertext = encrypt(plain, key)
    assert ciphertext.startswith(f"osml:v1:{key.key_id}:")
    assert plain not in ciphertext
    assert decrypt(ciphertext, key).reveal() == plain


def test_each_encryption_is_fresh(key: SecretKey) -> None:
    assert encrypt(PLAIN, key) != encrypt(PLAIN, key)


def test_wrong_key_is_named(key: SecretKey) -> None:
    other = SecretKey.generate()
    with pytest.raises(SecretError, match=f"encrypted with key {key.key_id}, but the key given is {other.key_id}"):
        decrypt(encrypt(PLAIN, key), other)


def _flip(ciphertext: str, position: int) -> str:
    head, body = ciphertext.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position] ^= 0x01
    return head + ":" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("position", [0, 12, -1])
def test_tampering_is_detected(key: SecretKey, position: int) -> None:
    with pytest.raises(SecretError, match="altered or is corrupt"):
        decrypt(_flip(encrypt(PLAIN, key), position), key)


def test_header_is_authenticated(key: SecretKey) -> None:
    # Moving a ciphertext body under another key id must not decrypt.
    other = SecretKey(bytes(32))
    body = encrypt(PLAIN, key).rsplit(":", 1)[1]
    with pytest.raises(SecretError):
        decrypt(f"osml:v1:{other.key_id}:{body}", other)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello", "not an osml ciphertext"),
        ("osml:v9:abc:def", "format v9 is not supported"),
        ("osml:v1:0123abcd:AAAA", "truncated or malformed"),
        ("osml:v1:0123abcd:!!!!", "not valid base64|truncated"),
    ],
)
def test_malformed_ciphertexts(key: SecretKey, text: str, message: str) -> None:
    with pytest.raises(SecretError, match=message):
        decrypt(text, key)


def test_key_text_round_trip_and_sources(tmp_path, key: SecretKey) -> None:
    text = key.to_text()
    assert SecretKey.from_text(text, origin="t").key_id == key.key_id
    path = tmp_path / "k"
    path.write_text(text + "\n")
    assert load_key(key_file=path, env={}).key_id == key.key_id
    assert load_key(env={"OSML_SECRET_KEY": text}).key_id == key.key_id
    assert load_key(env={}) is None
    with pytest.raises(SecretError, match="environment variable OSML_SECRET_KEY: not an osml secret key"):
        load_key(env={"OSML_SECRET_KEY": "short"})
    assert text not in repr(key)
    assert key_id_of(encrypt(PLAIN, key)) == key.key_id


def test_decrypted_values_are_scrubbed_from_text(key: SecretKey) -> None:
    secret = decrypt(encrypt(PLAIN, key), key)
    assert scrub(f"server said: bad key {secret.reveal()}!") == "server said: bad key (sensitive)!"


def test_a_key_file_that_is_not_text_is_a_secret_error(tmp_path) -> None:
    path = tmp_path / "k"
    path.write_bytes(b"\xff\xfe not a key")
    with pytest.raises(SecretError, match=r"cannot read key file .*: not UTF-8 text"):
        load_key(key_file=path, env={})
