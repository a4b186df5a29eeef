import json
import pickle

import pytest

from reconciler.secrets import REDACTED, Secret

VALUE = "sk-test-0123456789abcdef"


def test_every_text_form_is_redacted() -> None:
    secret = Secret(VALUE, source="env OPENAI_API_KEY")
    for text in (str(secret), repr(secret), f"{secret}", f"{secret!r}", "%s" % secret, str([secret])):  # noqa: UP031
        assert VALUE not in text
        assert REDACTED in text
    assert secret.reveal() == VALUE


def test_secrets_cannot_be_pickled_or_dumped() -> None:
    secret = Secret(VALUE)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        json.dumps({"k": secret})


def test_fingerprint_is_keyed_and_stable() -> None:
    a, b = Secret(VALUE).fingerprint(b"k1"), Secret(VALUE).fingerprint(b"k2")
    assert a != b
    assert a == Secret(VALUE).fingerprint(b"k1")
    assert VALUE not in a
