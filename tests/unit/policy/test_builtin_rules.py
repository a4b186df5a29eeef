"""Every built-in rule: docs/policy.md's example triggers it, and the fixed example does not.

The examples are read from the document itself, so the document cannot drift from the
rules: each rule's section (its ID as a heading) holds a manifest (and, where the rule needs one, an
`# osml.yaml` block); FIXES says how each example is corrected, and the corrected
manifest must not trigger the rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.findings import FindingSeverity
from reconciler.policy import BUILTIN_RULES, RULES_BY_ID
from tests.unit.policy.support import findings_of

DOC = Path(__file__).parents[3] / "docs" / "policy.md"
_SECTION = re.compile(r"^### `([a-z0-9-]+)`\n(.*?)(?=^#{2,3} |\Z)", re.S | re.M)
_YAML = re.compile(r"```yaml\n(.*?)```", re.S)

FIXES = {
    "trusted-endpoint-any-host": ("'.*'", r"'^https://api\.openai\.com/v1/.*$'"),
    "connector-plain-http": ("url: http://", "url: https://"),
    "connector-private-address": ("10.0.0.12:8000", "llm.example.com"),
    "connector-host-not-allowed": ("api.example.net", "api.openai.com"),
    "credential-in-header": ("Bearer sk-not-a-real-key", "Bearer ${credential.key}"),
    "connector-skip-ssl-verification": ("skip_ssl_verification: true", "read_timeout: 30"),
    "access-public": ("access_mode: public", "access_mode: private"),
    "add-all-backend-roles": ("add_all_backend_roles: true", "backend_roles: [search-team]"),
    "access-control-disabled": ("enabled: false", "enabled: true"),
    "private-ip-enabled": ("private_ip_enabled: true", "private_ip_enabled: false"),
    "lifecycle-required": ("  deployed: true", "  deployed: true\n  prevent_destroy: true"),
}


def _examples() -> dict[str, tuple[str, str | None]]:
    found: dict[str, tuple[str, str | None]] = {}
    for rule_id, body in _SECTION.findall(DOC.read_text("utf-8")):
        blocks = _YAML.findall(body)
        policy = next((b for b in blocks if b.startswith("# osml.yaml")), None)
        manifests = [b for b in blocks if not b.startswith("# osml.yaml")]
        assert len(manifests) == 1, f"{rule_id}: one example manifest expected"
        found[rule_id] = (manifests[0], policy)
    return found


EXAMPLES = _examples()


def test_the_document_lists_every_rule_in_order() -> None:
    assert list(EXAMPLES) == [rule.id for rule in BUILTIN_RULES]
    assert set(FIXES) == set(RULES_BY_ID)


@pytest.mark.parametrize("rule_id", list(RULES_BY_ID))
def test_the_example_triggers_its_rule(tmp_path: Path, rule_id: str) -> None:
    manifest, policy = EXAMPLES[rule_id]
    found = findings_of(tmp_path, manifest, policy=policy, environment="production")
    hits = [f for f in found if f.rule == rule_id]
    assert len(hits) == 1, found
    hit, rule = hits[0], RULES_BY_ID[rule_id]
    assert hit.severity is rule.severity
    assert (hit.rationale, hit.hint) == (rule.rationale, rule.hint)
    # The finding points at the line that holds the fix.
    old, _ = FIXES[rule_id]
    lines = manifest.splitlines()
    expected = next(i for i, line in enumerate(lines, 1) if old.strip() in line)
    if rule_id == "lifecycle-required":  # the field is missing: its parent is meant
        expected = lines.index("lifecycle:") + 1
    assert (hit.file, hit.line) == (str(tmp_path / "manifest.yaml"), expected)


@pytest.mark.parametrize("rule_id", list(RULES_BY_ID))
def test_the_fixed_example_does_not(tmp_path: Path, rule_id: str) -> None:
    manifest, policy = EXAMPLES[rule_id]
    old, new = FIXES[rule_id]
    assert old in manifest
    fixed = manifest.replace(old, new)
    found = findings_of(tmp_path, fixed, policy=policy, environment="production")
    assert [f for f in found if f.rule == rule_id] == []


@pytest.mark.parametrize("rule_id", list(RULES_BY_ID))
def test_a_rule_turned_off_finds_nothing(tmp_path: Path, rule_id: str) -> None:
    manifest, _ = EXAMPLES[rule_id]
    policy = f"policy:\n  builtin:\n    {rule_id}: off\n"
    found = findings_of(tmp_path, manifest, policy=policy, environment="production")
    assert [f for f in found if f.rule == rule_id] == []


def test_a_severity_can_be_changed(tmp_path: Path) -> None:
    manifest, _ = EXAMPLES["connector-plain-http"]
    policy = "policy:\n  builtin:\n    connector-plain-http: {severity: error}\n"
    (hit,) = [f for f in findings_of(tmp_path, manifest, policy=policy) if f.rule.endswith("http")]
    assert hit.severity is FindingSeverity.ERROR


def test_lifecycle_fields_follow_the_environment(tmp_path: Path) -> None:
    manifest, _ = EXAMPLES["lifecycle-required"]
    policy = (
        "policy:\n  builtin:\n    lifecycle-required:\n      fields:\n"
        "        staging: [probe]\n        '*': [prevent_destroy]\n"
    )
    def rules(environment: str | None) -> list[str]:
        found = findings_of(tmp_path, manifest, policy=policy, environment=environment)
        return sorted(f.message for f in found if f.rule == "lifecycle-required")

    assert rules(None) == ["lifecycle.prevent_destroy is not set (required)"]
    assert rules("staging") == [
        "lifecycle.prevent_destroy is not set (required in staging)",
        "lifecycle.probe is not set (required in staging)",
    ]
    # By default only production requires prevent_destroy.
    assert [f for f in findings_of(tmp_path, manifest) if f.rule == "lifecycle-required"] == []


def test_a_rule_limited_to_environments_runs_only_there(tmp_path: Path) -> None:
    manifest, _ = EXAMPLES["access-public"]
    policy = "policy:\n  builtin:\n    access-public: {environments: [production]}\n"
    assert not findings_of(tmp_path, manifest, policy=policy, environment="staging")
    assert findings_of(tmp_path, manifest, policy=policy, environment="production")


@pytest.mark.parametrize(
    ("url", "private"),
    [
        ("https://127.0.0.1/v1", True),
        ("https://localhost:8080/v1", True),
        ("https://169.254.169.254/latest", True),
        ("https://[::1]/v1", True),
        ("https://[fe80::1]/v1", True),
        ("https://192.168.1.10/v1", True),
        ("https://172.20.0.1/v1", True),
        ("https://8.8.8.8/v1", False),
        ("https://api.openai.com/v1", False),
        ("https://${parameters.host}/v1", False),
    ],
)
def test_private_addresses(tmp_path: Path, url: str, private: bool) -> None:
    manifest, _ = EXAMPLES["connector-private-address"]
    found = findings_of(tmp_path, manifest.replace("https://10.0.0.12:8000/v1/chat/completions", url))
    assert any(f.rule == "connector-private-address" for f in found) is private


def test_a_secret_value_never_reaches_a_finding(tmp_path: Path) -> None:
    manifest, _ = EXAMPLES["credential-in-header"]
    for finding in findings_of(tmp_path, manifest):
        assert "sk-not-a-real-key" not in str(finding.to_dict())
