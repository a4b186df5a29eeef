"""The SARIF view validates against the OASIS SARIF 2.1.0 schema (tests/data/sarif/) and
its locations are the manifest lines of the findings; `osml validate --format sarif`
includes the manifest problems."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.rendering.sarif import render_sarif
from tests.unit.policy.support import findings_of

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "data" / "sarif" / "sarif-schema-2.1.0.json").read_text("utf-8")
)

MANIFESTS = """\
apiVersion: osml/v1
kind: ModelGroup
metadata:
  name: shared
spec:
  access_mode: public
---
apiVersion: osml/v1
kind: Connector
metadata:
  name: chat
spec:
  version: 1
  protocol: http
  actions:
    - action_type: predict
      method: POST
      url: http://10.1.2.3/v1/chat
"""
POLICY = """\
policy:
  builtin:
    connector-plain-http: error
  rules:
    - id: named-groups
      deny: resource.kind == "ModelGroup" && !has(resource.spec.description)
      message: every group says what it is for
      severity: info
"""


def _validate(document: object) -> None:
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft4Validator)


def _where(result: dict[str, object]) -> tuple[str, int, int]:
    location = result["locations"][0]["physicalLocation"]  # type: ignore[index]
    return (location["artifactLocation"]["uri"], location["region"]["startLine"],
            location["region"]["startColumn"])  # fmt: skip


def test_the_sarif_of_findings_is_valid_and_located(tmp_path: Path) -> None:
    findings = findings_of(tmp_path, MANIFESTS, policy=POLICY)
    document = json.loads(render_sarif(findings))
    _validate(document)
    run = document["runs"][0]
    results = {(r["ruleId"], r["level"]): _where(r) for r in run["results"]}
    uri = (tmp_path / "manifest.yaml").as_uri()
    assert results == {
        ("access-public", "warning"): (uri, 6, 16),
        ("named-groups", "note"): (uri, 4, 9),
        ("connector-plain-http", "error"): (uri, 18, 12),
        ("connector-private-address", "warning"): (uri, 18, 12),
    }
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["connector-plain-http"]["help"]["text"] == "Use an https:// URL."
    for result in run["results"]:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_validate_sarif_uses_relative_paths_and_includes_problems(
    tmp_path: Path, monkeypatch: object
) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "all.yaml").write_text(
        MANIFESTS + "---\napiVersion: osml/v1\nkind: Model\nmetadata: {name: m}\nspec: {}\n",
        "utf-8",
    )
    (tmp_path / "osml.yaml").write_text(POLICY, "utf-8")
    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    result = CliRunner().invoke(main, ["validate", "manifests", "--format", "sarif"])
    assert result.exit_code == 1, result.output  # the Model is invalid
    document = json.loads(result.stdout)
    _validate(document)
    found = {(r["ruleId"], _where(r)[1]) for r in document["runs"][0]["results"]}
    assert ("connector-plain-http", 18) in found and ("access-public", 6) in found
    assert any(rule == "manifest" and line == 23 for rule, line in found), found
    locations = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in document["runs"][0]["results"]]
    assert {loc["uri"] for loc in locations} == {"manifests/all.yaml"}
    assert {loc["uriBaseId"] for loc in locations} == {"%SRCROOT%"}


def test_an_empty_log_is_valid() -> None:
    document = json.loads(render_sarif([]))
    _validate(document)
    assert document["runs"][0]["results"] == []
