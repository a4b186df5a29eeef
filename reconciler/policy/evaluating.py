"""Runs the policy over the manifests, and over a plan when there is one: the findings.

`osml validate` calls `evaluate(policy, manifests)`; `osml plan` and `osml apply` call it
with the plan as well, so that rules can speak of the change ("access widened from
restricted to public") and CEL rules see the change as the JSON plan shows it. One
Subject per manifest document, plus one per planned change without a manifest (a
prune's delete), which only CEL rules read. Each finding points at the manifest line
of the offending field; a CEL expression that fails at run time is an error finding at
its own line in the project file, naming the resource. Pure: no I/O, never prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from reconciler.findings import Finding, FindingSeverity
from reconciler.manifests.loading import ManifestSet, render_path
from reconciler.plans import Change, Plan
from reconciler.policy.configs import Policy, UserRule
from reconciler.policy.expressions import Failed
from reconciler.policy.expressions import evaluate as run_expression
from reconciler.policy.rules import BUILTIN_RULES, BuiltinRule, Hit
from reconciler.policy.subjects import Subject
from reconciler.rendering.jsonview import plan_document

_NAME = ("metadata", "name")


def evaluate(
    policy: Policy,
    manifests: ManifestSet,
    *,
    plan: Plan | None = None,
    environment: str | None = None,
) -> tuple[Finding, ...]:
    """Every finding of `policy` on `manifests` (and `plan`), by file and line."""
    findings: list[Finding] = []
    # Only CEL rules read a change as the JSON plan shows it (redacted); without one, no
    # change is redacted or turned into data.
    with_data = bool(policy.rules)
    active = _active(policy, environment)
    for subject in subjects(manifests, plan=plan, environment=environment, with_data=with_data):
        findings += _builtin(active, subject)
        findings += _user(policy.rules, subject)
    return tuple(sorted(findings, key=_order))


def subjects(
    manifests: ManifestSet,
    *,
    plan: Plan | None,
    environment: str | None,
    with_data: bool = True,
) -> Iterator[Subject]:
    """One Subject per manifest, with its change; then the changes without a manifest.

    `with_data=False` leaves `Subject.change_data` out (None), for rules that never read it.
    """
    changes: dict[str, Change] = {}
    data: dict[str, Mapping[str, Any]] = {}
    if plan is not None:
        changes = {str(c.key): c for c in (*plan.changes, *plan.orphans)}
        if with_data:
            document = plan_document(plan)
            data = {c["key"]: c for c in (*document["changes"], *document["orphans"])}
    declared = set()
    for doc in manifests:
        key = str(doc.key)
        declared.add(key)
        yield Subject(key, doc, changes.get(key), data.get(key), environment)
    for key, change in changes.items():
        if key not in declared and change.is_change:
            yield Subject(key, None, change, data.get(key), environment)


def _active(
    policy: Policy, environment: str | None
) -> list[tuple[BuiltinRule, FindingSeverity, Mapping[str, Any]]]:
    """The built-in rules that run in `environment`, with their severity and parameters:
    the same for every subject of one evaluation."""
    active = []
    for rule in BUILTIN_RULES:
        setting = policy.setting(rule.id)
        if setting.severity is None:
            continue
        if setting.environments is not None and environment not in setting.environments:
            continue
        active.append((rule, setting.severity, setting.params))
    return active


def _builtin(
    active: Iterable[tuple[BuiltinRule, FindingSeverity, Mapping[str, Any]]], subject: Subject
) -> Iterator[Finding]:
    for rule, severity, params in active:
        for hit in rule.check(subject, params):
            yield _located(rule, severity, hit, subject)


def _located(rule: BuiltinRule, severity: FindingSeverity, hit: Hit, subject: Subject) -> Finding:
    where = subject.document.locate(*hit.at, key=hit.key) if subject.document else None
    return Finding(
        rule=rule.id,
        severity=severity,
        message=hit.message,
        resource=subject.key,
        file=where.file if where else None,
        line=where.line if where else None,
        column=where.column if where else None,
        path=render_path(hit.at) or None,
        rationale=rule.rationale,
        hint=rule.hint,
    )


def _user(rules: Iterable[UserRule], subject: Subject) -> Iterator[Finding]:
    variables: dict[str, Any] | None = None
    for rule in rules:
        if not _applies(rule, subject):
            continue
        if variables is None:
            variables = {
                "resource": subject.resource_data(),
                "change": dict(subject.change_data) if subject.change_data else None,
                "environment": subject.environment,
            }
        outcome = run_expression(rule.deny, variables)
        if isinstance(outcome, Failed):
            yield _failed(rule, outcome, subject)
        elif outcome:
            yield _denied(rule, subject)


def _applies(rule: UserRule, subject: Subject) -> bool:
    if rule.kinds is not None and subject.kind not in rule.kinds:
        return False
    if rule.environments is not None and subject.environment not in rule.environments:
        return False
    # A rule about actions needs a plan to know them: `osml validate` skips it.
    return rule.actions is None or subject.action in rule.actions


def _denied(rule: UserRule, subject: Subject) -> Finding:
    document = subject.document
    where = document.locate(*_NAME) if document is not None else None
    return Finding(
        rule=rule.id,
        severity=rule.severity,
        message=rule.message,
        resource=subject.key,
        file=where.file if where else None,
        line=where.line if where else None,
        column=where.column if where else None,
        rationale=rule.description,
        hint=rule.hint,
    )


def _failed(rule: UserRule, failed: Failed, subject: Subject) -> Finding:
    """A rule that cannot decide blocks like a denial: an error, at the rule's line."""
    return Finding(
        rule=rule.id,
        severity=FindingSeverity.ERROR,
        message=f"the rule's expression failed: {failed.reason}",
        resource=subject.key,
        file=rule.file,
        line=rule.line,
        column=rule.column,
        rationale=rule.description,
        hint="Guard the fields the expression reads with has(...), or fix the expression.",
    )


def _order(finding: Finding) -> tuple[str, int, int, str]:
    return (finding.file or "\uffff", finding.line or 0, finding.column or 0, finding.rule)
