"""CEL rules: deny, allow, bad syntax (an error at its line), a runtime error (an error
finding, never a traceback), `when`, and the change data of a plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.findings import FindingSeverity
from reconciler.plans import Action, Change, ClusterIdentity, Plan
from reconciler.policy import read_policy
from reconciler.resources import Kind, ResourceKey
from tests.unit.policy.support import findings_of, policy_from

GROUP = """\
apiVersion: osml/v1
kind: ModelGroup
metadata:
  name: shared
  labels: {team: search}
spec:
  description: Shared models
  access_mode: public
"""


def rule(deny: str, *, when: str = "", severity: str = "") -> str:
    lines = [
        "policy:",
        "  builtin: {access-public: off}",
        "  rules:",
        "    - id: custom",
        f"      deny: {deny}",
        "      message: denied by the custom rule",
    ]
    if severity:
        lines.append(f"      severity: {severity}")
    if when:
        lines.append(f"      when: {when}")
    return "\n".join(lines) + "\n"


def plan_with(*changes: Change) -> Plan:
    return Plan(changes=changes, cluster=ClusterIdentity("http://127.0.0.1:9200", "3.0.0"), token="t")


def test_deny(tmp_path: Path) -> None:
    (found,) = findings_of(tmp_path, GROUP, policy=rule("'resource.metadata.labels.team == \"search\"'"))
    assert (found.rule, found.severity, found.message) == (
        "custom", FindingSeverity.ERROR, "denied by the custom rule",
    )  # fmt: skip
    # At the resource's metadata.name.
    assert (found.line, found.column, found.resource) == (4, 9, "ModelGroup/shared")


def test_allow(tmp_path: Path) -> None:
    assert findings_of(tmp_path, GROUP, policy=rule("'resource.metadata.labels.team == \"ads\"'")) == ()


def test_severity_is_the_rules(tmp_path: Path) -> None:
    (found,) = findings_of(tmp_path, GROUP, policy=rule("'true'", severity="warning"))
    assert found.severity is FindingSeverity.WARNING


@pytest.mark.parametrize(
    "deny", ["'resource.spec.access_mode =='", "'resource.spec.(x'", "'\"unterminated'"]
)
def test_bad_syntax_is_an_error_at_its_line(tmp_path: Path, deny: str) -> None:
    path = tmp_path / "osml.yaml"
    path.write_text(rule(deny), "utf-8")
    _, problems = read_policy(path)
    (problem,) = problems
    assert (problem.file, problem.line, problem.column) == (str(path), 5, 13)
    assert problem.path == "policy.rules[0].deny"
    assert "rule custom: deny does not compile: syntax error at line 1, column" in problem.message
    with pytest.raises(ManifestError, match=r"osml\.yaml:5:13"):
        policy_from(tmp_path, rule(deny))


@pytest.mark.parametrize(
    ("deny", "reason"),
    [
        ("'resource.spec.backend_roles[0] == \"x\"'", "no matching overload"),
        ("'resource.metadata.name / 2 == 1'", ""),
        ("'resource.metadata.name'", "not a bool"),
        ("'1 / 0 == 1'", "divide by zero"),
    ],
)
def test_a_runtime_error_is_an_error_finding(tmp_path: Path, deny: str, reason: str) -> None:
    (found,) = findings_of(tmp_path, GROUP, policy=rule(deny, severity="info"))
    assert found.severity is FindingSeverity.ERROR  # whatever the rule's own severity
    assert found.message.startswith("the rule's expression failed: ")
    assert reason in found.message
    # At the expression, in the project file, naming the resource it ran on.
    assert (found.file, found.line, found.resource) == (str(tmp_path / "osml.yaml"), 5, "ModelGroup/shared")


def test_has_guards_a_missing_field(tmp_path: Path) -> None:
    guarded = "'has(resource.spec.backend_roles) && size(resource.spec.backend_roles) > 0'"
    assert findings_of(tmp_path, GROUP, policy=rule(guarded)) == ()


def test_when_kinds_and_environments(tmp_path: Path) -> None:
    assert findings_of(tmp_path, GROUP, policy=rule("'true'", when="{kinds: [Connector]}")) == ()
    assert findings_of(tmp_path, GROUP, policy=rule("'true'", when="{kinds: [ModelGroup]}"))
    envs = rule("'environment == \"production\"'", when="{environments: [production, staging]}")
    assert findings_of(tmp_path, GROUP, policy=envs, environment="production")
    assert findings_of(tmp_path, GROUP, policy=envs, environment="staging") == ()
    assert findings_of(tmp_path, GROUP, policy=envs) == ()


def test_actions_need_a_plan(tmp_path: Path) -> None:
    policy = rule("'change.after.access_mode == \"public\"'", when="{actions: [update]}")
    assert findings_of(tmp_path, GROUP, policy=policy) == ()  # validate: no plan
    key = ResourceKey(Kind.MODEL_GROUP, "shared")
    widened = Change(key, Action.UPDATE, live_id="g1", before={"access_mode": "restricted"},
                     after={"access_mode": "public"})  # fmt: skip
    (found,) = findings_of(tmp_path, GROUP, policy=policy, plan=plan_with(widened))
    assert found.rule == "custom"
    created = Change(key, Action.CREATE, after={"access_mode": "public"})
    assert findings_of(tmp_path, GROUP, policy=policy, plan=plan_with(created)) == ()


def test_a_change_without_a_manifest_is_seen_by_cel_rules(tmp_path: Path) -> None:
    policy = rule("'resource == null && change.action == \"delete\"'")
    gone = Change(ResourceKey(Kind.CONNECTOR, "old"), Action.DELETE, live_id="c1", before={})
    (found,) = findings_of(tmp_path, GROUP, policy=policy, plan=plan_with(gone))
    assert (found.resource, found.file) == ("Connector/old", None)


def test_the_change_is_redacted(tmp_path: Path) -> None:
    from reconciler.plans import secret_marker

    key = ResourceKey(Kind.CONNECTOR, "chat")
    after = {"credential": {"k": secret_marker({"fromEnv": "K"}, "fp")}}
    change = Change(key, Action.UPDATE, live_id="c1", before={}, after=after)
    manifest = GROUP.replace("ModelGroup", "Connector").replace("name: shared", "name: chat")
    manifest = manifest.replace("  access_mode: public\n", "  version: 1\n  protocol: http\n")
    policy = rule("'change.after.credential.k == \"(sensitive)\"'")
    (found,) = findings_of(tmp_path, manifest, policy=policy, plan=plan_with(change))
    assert found.rule == "custom"


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("policy:\n  builtin:\n    no-such-rule: error\n", "unknown built-in rule 'no-such-rule'", 3),
        ("policy:\n  builtin:\n    access-public: loud\n", "severity must be one of", 3),
        ("policy:\n  builtin:\n    access-public: {hosts: [x]}\n", "unknown key 'hosts'", 3),
        ("policy:\n  builtin:\n    connector-host-not-allowed: {hosts: x}\n", "expected a list of strings", 3),
        ("policy:\n  rules:\n    - {id: a, deny: 'true'}\n", "message is required", 3),
        ("policy:\n  rules:\n    - {id: access-public, deny: 'true', message: m}\n", "built-in rule", 3),
        ("policy:\n  rules:\n    - {id: a, deny: 'true', message: m, when: {kinds: [Pipeline]}}\n", "unknown kinds: Pipeline", 3),
        ("policy:\n  rules:\n    - {id: a, deny: 'true', message: m}\n    - {id: a, deny: 'true', message: m}\n", "duplicate rule id", 4),
        ("policy:\n  extra: 1\n", "unknown key 'extra'", 2),
        ("policy:\n  builtin:\n    lifecycle-required:\n      fields:\n        prod: [prevent_destroy,\n"
         "               prevent_destory]\n", "unknown value 'prevent_destory'", 6),
        ("policy:\n  builtin:\n    lifecycle-required: {kinds: [Models]}\n", "unknown value 'Models'", 3),
    ],
)
def test_project_file_mistakes_are_located(tmp_path: Path, text: str, message: str, line: int) -> None:
    path = tmp_path / "osml.yaml"
    path.write_text(text, "utf-8")
    _, problems = read_policy(path)
    assert len(problems) == 1, problems
    assert message in problems[0].message and problems[0].line == line


def test_other_top_level_keys_are_left_alone(tmp_path: Path) -> None:
    policy = policy_from(tmp_path, "flavor: aws-managed\nenvironments: {}\n")
    assert policy.rules == () and dict(policy.builtin) == {}
