"""What a user reads when a manifest is wrong: located, named, human, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ManifestError, Severity
from reconciler.manifests.loading import load_manifests

HEAD = "apiVersion: osml/v1\nkind: Connector\nmetadata:\n  name: c1\n"
"""Four lines, so a spec starts on line 5."""

SPEC = "spec:\n  version: 1\n  protocol: http\n"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def problems_in(text: str, name: str = "m.yaml") -> list[str]:
    Path(name).write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifests([name])
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            HEAD + SPEC + "  descripton: chat\n",
            "m.yaml:8:3: Connector/c1: spec.descripton: unknown field 'descripton'; "
            "did you mean 'description'?",
            id="misspelt-field",
        ),
        pytest.param(
            HEAD + SPEC + "  zzz: 1\n",
            "m.yaml:8:3: Connector/c1: spec.zzz: unknown field 'zzz'",
            id="unknown-field-without-suggestion",
        ),
        pytest.param(
            HEAD + "spec:\n  version: 1\n",
            "m.yaml:6:3: Connector/c1: spec: missing required field 'protocol'",
            id="missing-field",
        ),
        pytest.param(
            HEAD,
            "m.yaml:1:1: Connector/c1: missing required field 'spec'",
            id="missing-spec",
        ),
        pytest.param(
            HEAD + "spec:\n  version: 1\n  protocol: htp\n",
            "m.yaml:7:13: Connector/c1: spec.protocol: expected 'http', 'aws_sigv4', "
            "'mcp_sse' or 'mcp_streamable_http', got 'htp'; did you mean 'http'?",
            id="literal",
        ),
        pytest.param(
            HEAD + SPEC + "  description: [a, b]\n",
            "m.yaml:8:16: Connector/c1: spec.description: expected a string, got a list",
            id="wrong-type",
        ),
        pytest.param(
            HEAD + "spec:\n  version: {major: 1}\n  protocol: http\n",
            "m.yaml:6:12: Connector/c1: spec.version: expected a string, an integer or a "
            "number, got a mapping",
            id="scalar-union",
        ),
        pytest.param(
            HEAD + SPEC + "  credential:\n    key: [a]\n",
            "m.yaml:9:10: Connector/c1: spec.credential.key: expected {fromEnv: VAR}, "
            "{fromFile: path}, {encrypted: ...}, {fromAwsRole: {role_arn: ...}} or "
            "{fromAwsProfile: {profile: ...}}, got a list",
            id="secret-ref-union",
        ),
        pytest.param(
            HEAD + SPEC + "  credential:\n    key: {fromEnvironment: X}\n",
            "m.yaml:9:10: Connector/c1: spec.credential.key: expected {fromEnv: VAR}, "
            "{fromFile: path}, {encrypted: ...}, {fromAwsRole: {role_arn: ...}} or "
            "{fromAwsProfile: {profile: ...}}, got a mapping",
            id="secret-ref-unknown-shape",
        ),
        pytest.param(
            HEAD + SPEC + "  credential:\n    key: {fromFile: ''}\n",
            "m.yaml:9:21: Connector/c1: spec.credential.key.fromFile: must not be empty",
            id="secret-ref-meant-one-member",
        ),
        pytest.param(
            HEAD + SPEC + "  credential:\n    key: sk-plain\n",
            "m.yaml:9:5: Connector/c1: spec.credential: credential.key is a plain value; "
            "secrets must come from {fromEnv: VAR}, {fromFile: path}, {encrypted: ...}, "
            "{fromAwsRole: ...} or {fromAwsProfile: ...}",
            id="plain-secret",
        ),
        pytest.param(
            HEAD + SPEC + "  credential:\n    access_key:\n      fromAwsRole:\n"
            "        role_arn: arn:aws:iam::12345:user/me\n",
            "m.yaml:11:19: Connector/c1: spec.credential.access_key.fromAwsRole.role_arn: "
            "role_arn is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)",
            id="aws-role-bad-arn",
        ),
        pytest.param(
            HEAD + SPEC + "  credential:\n    access_key:\n      fromAwsRole:\n"
            "        role_arn: arn:aws:iam::123456789012:role/r\n        duration: 5m\n",
            "m.yaml:12:19: Connector/c1: spec.credential.access_key.fromAwsRole.duration: "
            "duration '5m' is outside what STS AssumeRole accepts: whole seconds from 15m "
            "(900) to 12h (43200)",
            id="aws-role-short-duration",
        ),
        pytest.param(
            HEAD + SPEC + "  credential:\n    access_key:\n      fromAwsRole:\n"
            "        role_arn: arn:aws:iam::123456789012:role/r\n        duration: soon\n",
            "m.yaml:12:19: Connector/c1: spec.credential.access_key.fromAwsRole.duration: "
            "duration 'soon' is not a duration such as 900, 15m, 1h or 1h30m",
            id="aws-role-bad-duration",
        ),
        pytest.param(
            HEAD + SPEC + "  credential:\n    access_key:\n      fromAwsProfile: {profile: ''}\n",
            "m.yaml:10:33: Connector/c1: spec.credential.access_key.fromAwsProfile.profile: "
            "must not be empty",
            id="aws-profile-empty-name",
        ),
        pytest.param(
            HEAD + SPEC + "  client_config: {max_connection: 0}\n",
            "m.yaml:8:35: Connector/c1: spec.client_config.max_connection: should be "
            "greater than or equal to 1",
            id="constraint",
        ),
        pytest.param(
            "apiVersion: osml/v1\nkind: Model\nmetadata: {name: m}\nspec:\n"
            "  connector: {version: 1}\n",
            "m.yaml:5:14: Model/m: spec.connector: missing required field 'protocol'",
            id="inline-connector-meant",
        ),
        pytest.param(
            "apiVersion: osml/v1\nkind: Model\nmetadata: {name: m}\nspec:\n  connector: [x]\n",
            "m.yaml:5:14: Model/m: spec.connector: expected a string or an inline connector "
            "mapping, got a list",
            id="connector-union",
        ),
        pytest.param(
            "apiVersion: osml/v1\nkind: Model\nmetadata: {name: m}\nspec:\n  description: d\n",
            "m.yaml:5:3: Model/m: spec: exactly one of connector (a name or an inline object) "
            "or connector_id is required",
            id="model-validator",
        ),
        pytest.param(
            "apiVersion: osml/v2\nkind: ModelGroup\nmetadata: {name: g}\n",
            "m.yaml:1:13: ModelGroup/g: apiVersion: expected 'osml/v1', got 'osml/v2'; "
            "did you mean 'osml/v1'?",
            id="api-version",
        ),
        pytest.param(
            "apiVersion: osml/v1\nkind: ModelGroup\nmetadata: {name: Bad Name}\n",
            "m.yaml:3:18: ModelGroup/Bad Name: metadata.name: not a valid name: use 1-128 "
            "letters, digits, '.', '_' or '-', starting and ending with a letter or digit",
            id="bad-name",
        ),
        pytest.param(
            "apiVersion: osml/v1\nkind: ModelGroup\nmetadata: {labels: {}}\n",
            "m.yaml:3:11: metadata: missing required field 'name'",
            id="missing-name",
        ),
        pytest.param(
            "apiVersion: osml/v1\nkind: Conector\nmetadata: {name: c}\n",
            "m.yaml:2:7: kind: unknown kind 'Conector'; did you mean 'Connector'?",
            id="kind-typo",
        ),
        pytest.param(
            "apiVersion: osml/v1\nkind: Widget\n",
            "m.yaml:2:7: kind: unknown kind 'Widget'; expected one of AccessControl, "
            "TrustedEndpoints, ModelGroup, Connector, Model, IngestPipeline, SearchPipeline, Agent",
            id="kind-unknown",
        ),
        pytest.param(
            "apiVersion: osml/v1\nmetadata: {name: c}\n",
            "m.yaml:1:1: missing required field 'kind' (one of AccessControl, "
            "TrustedEndpoints, ModelGroup, Connector, Model, IngestPipeline, SearchPipeline, "
            "Agent)",
            id="kind-missing",
        ),
        pytest.param(
            "apiVersion: osml/v1\nkind: [Connector]\n",
            "m.yaml:2:7: kind: expected a string, got a list",
            id="kind-not-a-string",
        ),
        pytest.param(
            "- just\n- a list\n",
            "m.yaml:1:1: a manifest must be a mapping with apiVersion, kind, metadata and "
            "spec, got a list",
            id="not-a-mapping",
        ),
        pytest.param(
            "just text\n",
            "m.yaml:1:1: a manifest must be a mapping with apiVersion, kind, metadata and "
            "spec, got a string",
            id="scalar-document",
        ),
        pytest.param(
            "apiVersion: osml/v1\nkind: ModelGroup\nmetadata:\n  name: a\n  name: b\n",
            "m.yaml:5:3: ModelGroup/b: metadata.name: duplicate key 'name' (first defined at "
            "line 4)",
            id="duplicate-key",
        ),
        pytest.param(
            "apiVersion: osml/v1\nkind: ModelGroup\nmetadata: {name: g}\nspec: {name: !Ref x}\n",
            "m.yaml:4:14: ModelGroup/g: spec.name: unsupported YAML tag !Ref",
            id="custom-tag",
        ),
        pytest.param(
            "apiVersion: osml/v1\nkind: ModelGroup\nmetadata: {name: g}\nspec: {description: [\n",
            "m.yaml:5:1: YAML syntax error: expected the node content, but found '<stream end>' "
            "(while parsing a flow node)",
            id="syntax-error",
        ),
        pytest.param(
            "a: 1\n\tb: 2\n",
            "m.yaml:2:1: YAML syntax error: found character '\\t' that cannot start any "
            "token (while scanning for the next token)",
            id="tab",
        ),
        pytest.param(
            "a: b\x07\n",
            "m.yaml:1:5: character U+0007 is not allowed in YAML",
            id="control-character",
        ),
    ],
)
def test_problem_text(text: str, expected: str) -> None:
    assert problems_in(text) == [expected]


def test_every_problem_of_every_file_is_reported_together() -> None:
    Path("a.yaml").write_text(HEAD + SPEC + "  descripton: x\n---\nkind: Nope\n")
    Path("b.yaml").write_text("a: [\n")

    with pytest.raises(ManifestError) as caught:
        load_manifests(["a.yaml", "b.yaml"])

    assert [(p.file, p.line) for p in caught.value.problems] == [
        ("a.yaml", 8),
        ("a.yaml", 10),
        ("b.yaml", 2),
    ]
    assert all(p.severity is Severity.ERROR for p in caught.value.problems)


def test_problems_within_a_file_are_in_line_order() -> None:
    problems = problems_in(HEAD + "spec:\n  version: [1]\n  protocol: htp\n  zzz: 1\n")

    assert [p.split(":")[1] for p in problems] == ["6", "7", "8"]


def test_documents_before_a_syntax_error_are_still_checked() -> None:
    problems = problems_in(HEAD + SPEC + "  zzz: 1\n---\na: [\n")

    assert [p.split(": ")[1] for p in problems] == ["Connector/c1", "YAML syntax error"]


def test_duplicate_resources_name_the_first_location() -> None:
    Path("m").mkdir()
    Path("m/a.yaml").write_text(HEAD + SPEC)
    Path("m/b.yaml").write_text("# other\n" + HEAD + SPEC + "---\n" + HEAD + SPEC)

    with pytest.raises(ManifestError) as caught:
        load_manifests(["m"])

    assert [str(p) for p in caught.value.problems] == [
        "m/b.yaml:5:9: Connector/c1: metadata.name: duplicate resource; first defined at "
        "m/a.yaml:4:9",
        "m/b.yaml:13:9: Connector/c1: metadata.name: duplicate resource; first defined at "
        "m/a.yaml:4:9",
    ]


def test_same_name_in_different_kinds_is_fine() -> None:
    Path("m.yaml").write_text(
        "apiVersion: osml/v1\nkind: ModelGroup\nmetadata: {name: c1}\n---\n" + HEAD + SPEC
    )

    assert len(load_manifests(["m.yaml"])) == 2


def test_a_directory_of_bad_files_reports_each_file() -> None:
    Path("m").mkdir()
    for name in ("a.yaml", "b.yaml", "c.yaml"):
        Path("m", name).write_text("kind: Nope\n")

    files = [p.split(":")[0] for p in problems_in_dir("m")]

    assert files == ["m/a.yaml", "m/b.yaml", "m/c.yaml"]


def problems_in_dir(path: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifests([path])
    return [str(p) for p in caught.value.problems]


def test_secret_values_never_appear_in_problems() -> None:
    secret = "sk-live-0123456789abcdef"
    text = (
        HEAD
        + "spec:\n  version: 1\n  protocol: http\n"
        + f"  credential:\n    a: {secret}\n    b: !!int {secret}\n"
        + f"    c: {{encrypted: [{secret}]}}\n"
        + f"  headers: {{Authorization: [{secret}]}}\n"
    )

    problems = problems_in(text)

    assert problems
    assert not [p for p in problems if secret in p]
