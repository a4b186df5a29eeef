"""The SARIF 2.1.0 view of policy findings, for GitHub code scanning.

`osml validate --format sarif` and `osml plan --format sarif` (or `--sarif FILE`) print
one run of tool `osml`: a reporting descriptor per rule that found something (its ID,
rationale, fix hint and severity) and a result per finding, located at the manifest file
(relative URI against `%SRCROOT%`, the repository root when osml runs there) and line, so
code scanning annotates the lines of the pull request. Severities map to SARIF levels
(`info` -> `note`). Returns a string; never prints. Tests validate the output against
the OASIS 2.1.0 schema.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any

from reconciler import __version__
from reconciler.findings import Finding, FindingSeverity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {FindingSeverity.ERROR: "error", FindingSeverity.WARNING: "warning",
           FindingSeverity.INFO: "note"}  # fmt: skip


def render_sarif(findings: Sequence[Finding]) -> str:
    """The findings as a SARIF 2.1.0 log, ending with a newline."""
    return json.dumps(sarif_log(findings), indent=2, ensure_ascii=False) + "\n"


def sarif_log(findings: Sequence[Finding]) -> dict[str, Any]:
    """The SARIF document as data."""
    rules: dict[str, int] = {}
    descriptors: list[dict[str, Any]] = []
    for finding in findings:
        if finding.rule not in rules:
            rules[finding.rule] = len(descriptors)
            descriptors.append(_descriptor(finding))
    driver = {"name": "osml", "version": __version__, "semanticVersion": __version__,
              "rules": descriptors}  # fmt: skip
    results = [_result(f, index=rules[f.rule]) for f in findings]
    run = {"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _descriptor(finding: Finding) -> dict[str, Any]:
    descriptor: dict[str, Any] = {
        "id": finding.rule,
        "shortDescription": {"text": finding.rationale or finding.rule},
        "defaultConfiguration": {"level": _LEVELS[finding.severity]},
    }
    if finding.hint:
        descriptor["help"] = {"text": finding.hint}
    return descriptor


def _result(finding: Finding, *, index: int) -> dict[str, Any]:
    who = f"{finding.resource}: " if finding.resource else ""
    field = f"{finding.path}: " if finding.path else ""
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": index,
        "level": _LEVELS[finding.severity],
        "message": {"text": f"{who}{field}{finding.message}"},
    }
    if finding.file is not None:
        region = {"startLine": finding.line or 1}
        if finding.column is not None:
            region["startColumn"] = finding.column
        location = {"artifactLocation": _artifact(finding.file), "region": region}
        result["locations"] = [{"physicalLocation": location}]
    return result


def _artifact(file: str) -> dict[str, str]:
    path = PurePath(file)
    if path.is_absolute():
        return {"uri": Path(file).as_uri()}
    return {"uri": path.as_posix(), "uriBaseId": "%SRCROOT%"}
