"""Default trusted endpoints per version and the server's full-match rule (§3.1)."""

from __future__ import annotations

import pytest

from reconciler.mlcommons.endpoints import (
    allows_plain_http,
    default_trusted_endpoints,
    effective_patterns,
    is_anchored,
    is_catch_all,
    pattern_error,
    url_is_trusted,
    validator_error,
)
from reconciler.mlcommons.versions import Version

HOSTS_AT_HEAD = [
    "runtime.sagemaker",
    "api.sagemaker",
    "api.openai.com",
    "api.cohere.ai",
    "api.deepseek.com",
    "generativelanguage.googleapis.com",
    "bedrock-runtime",
    "bedrock-agent-runtime",
    "bedrock.",
    "textract",
    "comprehend",
    "rekognition",
]


@pytest.mark.parametrize(
    ("version", "count"),
    [("2.9", 3), ("2.10", 3), ("2.11", 4), ("2.15", 4), ("2.16", 6), ("2.17", 6),
     ("2.18", 9), ("2.19", 11), ("3.4", 11), ("3.5", 12), ("3.8", 12)],
)  # fmt: skip
def test_default_count_per_version(version: str, count: int) -> None:
    assert len(default_trusted_endpoints(Version.parse(version))) == count


def test_head_order_and_escaping() -> None:
    patterns = default_trusted_endpoints(Version.parse("3.8"))
    for host, pattern in zip(HOSTS_AT_HEAD, patterns, strict=True):
        assert host.replace(".", r"\.") in pattern
    assert patterns[2] == r"^https://api\.openai\.com/.*$"


def test_older_lists_keep_head_order() -> None:
    assert default_trusted_endpoints(Version.parse("2.9")) == (
        r"^https://runtime\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$",
        r"^https://api\.openai\.com/.*$",
        r"^https://api\.cohere\.ai/.*$",
    )


@pytest.mark.parametrize(
    ("url", "version", "trusted"),
    [
        ("https://api.openai.com/v1/chat/completions", "2.9", True),
        ("https://api.openai.com", "3.8", False),  # the pattern needs a path
        ("http://api.openai.com/v1", "3.8", False),
        ("https://api.openai.com.evil.example/v1", "3.8", False),
        ("https://bedrock-runtime.us-east-1.amazonaws.com/model/x/invoke", "2.9", False),
        ("https://bedrock-runtime.us-east-1.amazonaws.com/model/x/invoke", "2.11", True),
        ("https://textract.us-east-1.amazonaws.com", "2.18", True),
        ("https://textract.us-east-1.amazonaws.com/x", "2.18", False),  # host only
        ("https://rekognition-fips.us-east-1.amazonaws.com", "2.19", True),
        ("https://api.deepseek.com/chat", "2.18", False),
        ("https://api.deepseek.com/chat", "2.19", True),
        ("https://generativelanguage.googleapis.com/v1beta/x", "3.4", False),
        ("https://generativelanguage.googleapis.com/v1beta/x", "3.5", True),
    ],
)
def test_url_is_trusted_by_defaults(url: str, version: str, trusted: bool) -> None:
    assert url_is_trusted(url, default_trusted_endpoints(Version.parse(version))) is trusted


def test_full_match_not_search() -> None:
    # Java Matcher.matches(): an unanchored pattern must still cover the whole URL.
    assert not url_is_trusted("https://x.example/a", [r"x\.example"])
    assert url_is_trusted("https://x.example/a", [r"https://x\.example/.*"])


def test_uncompilable_pattern_is_reported_not_raised() -> None:
    assert pattern_error(r"^https://(") is not None
    assert pattern_error(r"\p{L}+") is not None  # Java-only syntax
    assert pattern_error(r"^https://a\.example/.*$") is None
    assert url_is_trusted("https://a.example/x", [r"(", r"^https://a\.example/.*$"])
    assert not url_is_trusted("https://a.example/x", [r"("])


@pytest.mark.parametrize(
    ("declared", "mode", "version", "expected_count", "first"),
    [
        ([], None, "2.9", 3, r"^https://runtime\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$"),
        ([r"^https://a\.example/.*$"], "merge", "2.9", 4, None),
        ([r"^https://api\.openai\.com/.*$"], "merge", "2.9", 3, None),  # no duplicates
        ([r"^https://a\.example/.*$"], "exact", "3.8", 1, r"^https://a\.example/.*$"),
    ],
)
def test_effective_patterns(
    declared: list[str], mode: str | None, version: str, expected_count: int, first: str | None
) -> None:
    patterns = effective_patterns(declared, mode=mode, version=Version.parse(version))
    assert len(patterns) == expected_count
    if first is not None:
        assert patterns[0] == first
    assert set(declared) <= set(patterns)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"^https://a\.example/.*$", None),
        ("^https://" + "a" * 260 + "$", "Regex pattern too long (max 256 chars): "),
        (r"^https://(a+)+\.example$", "Regex pattern contains nested quantifiers"),
        (r"^https://(.*)*$", "Regex pattern contains nested quantifiers"),
        (r"^https://(a)\1$", "Regex pattern contains nested quantifiers or backreferences"),
        (r"^https://(a{2})+$", None),  # the server only looks for *, + or ? inside
        (r"^https://(a?)?x$", "Regex pattern contains nested quantifiers"),
        (r"^https://rekognition(-fips)?\..*$", None),
        ("(a+)+" + "b" * 300, "Regex pattern contains nested quantifiers"),  # checked first
        (r"^https://(", "Invalid regex pattern: ^https://("),
    ],
)
def test_validator_error(pattern: str, message: str | None) -> None:
    error = validator_error(pattern)
    if message is None:
        assert error is None
    else:
        assert error is not None and error.startswith(message)


@pytest.mark.parametrize(
    ("pattern", "catch_all", "anchored", "plain_http"),
    [
        (".*", True, False, True),
        ("^.*$", True, True, True),
        ("^https://.*$", True, True, False),
        (r"^https://api\.openai\.com/.*$", False, True, False),
        (r"^https?://a\.example/.*$", False, True, True),
        (r"^http://a\.example/.*$", False, True, True),
        (r"https://a\.example/.*", False, False, False),
    ],
)
def test_breadth(pattern: str, catch_all: bool, anchored: bool, plain_http: bool) -> None:
    assert is_catch_all(pattern) is catch_all
    assert is_anchored(pattern) is anchored
    assert allows_plain_http(pattern) is plain_http
