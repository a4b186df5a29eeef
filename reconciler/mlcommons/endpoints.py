"""Trusted connector endpoints: the default regexes per version and the server's match rule.

Reference §3.1: every connector action URL, after substituting the connector's own
parameters, must fully match (Java `Matcher.matches()`, Python `re.fullmatch`) one regex of
`plugins.ml_commons.trusted_connector_endpoints_regex`. Used by the manifest checks, the
planner (merge mode keeps the defaults) and the renderers. Pure: no I/O; a pattern Python
cannot compile is reported as a string, never raised.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable

from reconciler.mlcommons.versions import Version

SETTING_KEY = "plugins.ml_commons.trusted_connector_endpoints_regex"

MAX_PATTERN_LENGTH = 256
"""3.7+ settings validator: `Regex pattern too long (max 256 chars): <regex>` (§3.1)."""


@dataclasses.dataclass(frozen=True, slots=True)
class DefaultEndpoint:
    """One default trusted regex and the release that added it."""

    pattern: str
    """The regex as Python reads it (the Java source's `\\\\.` is the regex `\\.`)."""
    since: Version


def _entry(pattern: str, since: str) -> DefaultEndpoint:
    return DefaultEndpoint(pattern, Version.parse(since))


# In the order of the list at HEAD (§3.1), which is the order the server reports.
_DEFAULTS: tuple[DefaultEndpoint, ...] = (
    _entry(r"^https://runtime\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$", "2.9"),
    _entry(r"^https://api\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$", "2.16"),
    _entry(r"^https://api\.openai\.com/.*$", "2.9"),
    _entry(r"^https://api\.cohere\.ai/.*$", "2.9"),
    _entry(r"^https://api\.deepseek\.com/.*$", "2.19"),
    _entry(r"^https://generativelanguage\.googleapis\.com/.*$", "3.5"),
    _entry(r"^https://bedrock-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$", "2.11"),
    _entry(r"^https://bedrock-agent-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$", "2.16"),
    _entry(r"^https://bedrock\..*[a-z0-9-]\.amazonaws\.com/.*$", "2.18"),
    # textract, comprehend and rekognition end at the host: no path is allowed.
    _entry(r"^https://textract\..*[a-z0-9-]\.amazonaws\.com$", "2.18"),
    _entry(r"^https://comprehend\..*[a-z0-9-]\.amazonaws\.com$", "2.18"),
    _entry(r"^https://rekognition(-fips)?\..*[a-z0-9-]\.amazonaws\.com$", "2.19"),
)


def default_trusted_endpoints(version: Version) -> tuple[str, ...]:
    """The server's default list for `version`, in HEAD order (§3.1 table)."""
    return tuple(entry.pattern for entry in _DEFAULTS if entry.since <= version.line)


def pattern_error(pattern: str) -> str | None:
    """Why Python cannot compile `pattern` (e.g. Java-only syntax), or None if it can."""
    try:
        _compile(pattern)
    except re.error as exc:
        return str(exc)
    return None


def url_is_trusted(url: str, patterns: Iterable[str]) -> bool:
    """Whether `url` fully matches one of `patterns`; uncompilable patterns match nothing."""
    for pattern in patterns:
        try:
            compiled = _compile(pattern)
        except re.error:
            continue
        if compiled.fullmatch(url):
            return True
    return False


def effective_patterns(
    declared: Iterable[str], *, mode: str | None, version: Version
) -> tuple[str, ...]:
    """The list a connector URL is checked against once osml has applied its setting.

    `mode` is the TrustedEndpoints mode: `merge` adds the declared patterns to the version
    defaults, `exact` uses only them, and None (no TrustedEndpoints manifest) leaves the
    defaults alone (§3.1: setting the list replaces the whole default list).
    """
    defaults = default_trusted_endpoints(version)
    ours = tuple(declared)
    if mode is None:
        return defaults
    if mode == "exact":
        return _unique(ours)
    return _unique(defaults + ours)


def _unique(patterns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(patterns))


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    # Cached: the same few patterns are matched against every action URL of a repository.
    return re.compile(pattern)


# --- the 3.7+ settings validator and osml's own breadth warnings ---------------------

# `MLCommonsSettings.validateRegexSafety` (3.7+), reproduced rule for rule: a group whose
# last character is a quantifier, quantified again (`(a+)+`, `(.*)*`), or a backreference.
_NESTED_QUANTIFIER = re.compile(r"\([^)]*[*+?]\)[*+?{]")
_BACKREFERENCE = re.compile(r"\\[1-9]")


def validator_error(pattern: str) -> str | None:
    """The message the 3.7+ settings validator refuses `pattern` with, if any (§3.1).

    Its checks run in the server's order, so the first failing one is the one reported.
    """
    # Java's String.matches(".*X.*") is a search for X (patterns hold no line breaks).
    if _NESTED_QUANTIFIER.search(pattern) or _BACKREFERENCE.search(pattern):
        return (
            "Regex pattern contains nested quantifiers or backreferences that may cause "
            f"ReDoS: {pattern}"
        )
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"Regex pattern too long (max {MAX_PATTERN_LENGTH} chars): {pattern}"
    if pattern_error(pattern) is not None:
        return f"Invalid regex pattern: {pattern}"
    return None


# Hosts no sensible pattern should accept together; matching all of them means "any host".
_UNRELATED_URLS = (
    "https://attacker.example/steal",
    "https://169.254.169.254/latest/meta-data",
    "https://a.b.example.org/",
)


def is_catch_all(pattern: str) -> bool:
    """Whether `pattern` accepts arbitrary hosts, like `.*` or `^https://.*$`."""
    return all(url_is_trusted(url, [pattern]) for url in _UNRELATED_URLS)


def is_anchored(pattern: str) -> bool:
    """Whether `pattern` starts with `^` and ends with `$`.

    The server full-matches anyway, so this is about intent: an anchored pattern says the
    same thing wherever it is reused.
    """
    return pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$")


def allows_plain_http(pattern: str) -> bool:
    """Whether `pattern` admits URLs over unencrypted `http://`."""
    return (
        "http://" in pattern
        or "https?" in pattern
        or url_is_trusted("http://attacker.example/", [pattern])
    )
