"""`osml validate` and `osml schema` end to end through click, plus their option wiring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.cli import validate as validate_module
from reconciler.errors import Problem, Severity
from reconciler.manifests.loading import ManifestSet
from reconciler.manifests.models import ClientConfig, ModelGroupSpec
from reconciler.mlcommons.flavors import Flavor
from reconciler.mlcommons.versions import LATEST, Version
from reconciler.resources import Kind

CONNECTOR = """\
apiVersion: osml/v1
kind: Connector
metadata:
  name: openai-chat
spec:
  version: 1
  protocol: http
  parameters: {endpoint: api.openai.com}
  credential:
    openAI_key: {fromEnv: OPENAI_API_KEY}
  actions:
    - action_type: predict
      method: POST
      url: https://${parameters.endpoint}/v1/chat/completions
      headers: {Authorization: "Bearer ${credential.openAI_key}"}
"""

SECRET_VALUE = "sk-validate-secret-0001"

GROUP = "apiVersion: osml/v1\nkind: ModelGroup\nmetadata: {name: chat-models}\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_VALUE)
    monkeypatch.delenv("OSML_SECRET_KEY", raising=False)
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "connector.yaml").write_text(CONNECTOR)
    (tmp_path / "manifests" / "group.yaml").write_text(GROUP)
    return tmp_path


def osml(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    # Never a traceback: either a clean return or an exit with a code.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_valid_manifests_exit_0_with_a_summary(repo: Path) -> None:
    result = osml("validate", "manifests/")

    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "manifests/ is valid: 2 resources."


def test_paths_default_to_the_manifests_folder(repo: Path) -> None:
    result = osml("validate")

    assert result.exit_code == 0
    assert result.output.endswith("manifests/ is valid: 2 resources.\n")


def test_several_paths(repo: Path) -> None:
    Path("extra.yaml").write_text(GROUP.replace("chat-models", "other"))

    result = osml("validate", "manifests", "extra.yaml")

    assert result.output.endswith("manifests, extra.yaml are valid: 3 resources.\n")


def test_an_empty_folder_is_valid(repo: Path) -> None:
    Path("empty").mkdir()

    assert osml("validate", "empty").output == "empty is valid: 0 resources.\n"


@pytest.mark.parametrize(
    ("file", "text", "expected", "summary"),
    [
        pytest.param(
            "manifests/connector.yaml",
            CONNECTOR.replace("  version: 1\n", "  version: 1\n  descripton: chat\n"),
            "manifests/connector.yaml:7:3: Connector/openai-chat: spec.descripton: "
            "unknown field 'descripton'; did you mean 'description'?",
            "1 error in 2 resources.",
            id="typo",
        ),
        pytest.param(
            "manifests/group.yaml",
            GROUP + "spec: {description: [\n",
            "manifests/group.yaml:5:1: YAML syntax error: expected the node content, but "
            "found '<stream end>' (while parsing a flow node)",
            "1 error in 1 resource.",  # the broken document cannot be counted
            id="bad-yaml",
        ),
        pytest.param(
            "manifests/z-copy.yaml",
            CONNECTOR,
            "manifests/z-copy.yaml:4:9: Connector/openai-chat: metadata.name: duplicate "
            "resource; first defined at manifests/connector.yaml:4:9",
            "1 error in 3 resources.",
            id="duplicate",
        ),
    ],
)
def test_invalid_manifests_exit_1_with_located_problems(
    repo: Path, file: str, text: str, expected: str, summary: str
) -> None:
    Path(file).write_text(text)

    result = osml("validate", "manifests/")

    assert result.exit_code == 1
    assert result.output.splitlines() == [expected, summary]


def test_a_missing_path_is_reported_not_raised(repo: Path) -> None:
    result = osml("validate", "nowhere")

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "nowhere: no such file or directory",
        "1 error in 0 resources.",
    ]


def test_json_output(repo: Path) -> None:
    Path("manifests/group.yaml").write_text(GROUP.replace("ModelGroup", "ModelGroops"))

    result = osml("validate", "--format", "json")

    assert result.exit_code == 1
    assert json.loads(result.output) == {
        "valid": False,
        "resources": 2,
        "problems": [
            {
                "severity": "error",
                "file": "manifests/group.yaml",
                "line": 2,
                "column": 7,
                "resource": None,
                "path": "kind",
                "message": "unknown kind 'ModelGroops'; did you mean 'ModelGroup'?",
            }
        ],
        "findings": [],
    }


def test_json_output_when_valid(repo: Path) -> None:
    result = osml("validate", "--format", "json", "manifests")

    document = json.loads(result.output)
    assert result.exit_code == 0
    assert (document["valid"], document["resources"]) == (True, 2)


# --- wiring to the checks, with the checks replaced by a recorder ----------------------


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record each call of the semantic checks and answer with one warning."""
    calls: list[dict[str, Any]] = []
    flavors = FLAVORS_SEEN
    flavors.clear()

    def fake_check(
        manifests: ManifestSet,
        *,
        version: Version,
        declared: Any = (),
        flavor: Flavor = Flavor.OPENSEARCH,
    ) -> list[Problem]:
        calls.append({"kinds": [d.key.kind for d in manifests], "version": version})
        flavors.append(flavor)
        return [manifests.documents[0].problem("looks odd", "spec", severity=Severity.WARNING)]

    monkeypatch.setattr(validate_module, "check", fake_check)
    return calls


@pytest.mark.parametrize(
    ("args", "version"),
    [
        ([], LATEST),
        (["--cluster-version", "2.19"], Version(2, 19)),
        (["--cluster-version", "3.0.1"], Version(3, 0, 1)),
    ],
)
def test_the_checks_get_the_manifests_and_the_version(
    repo: Path, checks: list[dict[str, Any]], args: list[str], version: Version
) -> None:
    osml("validate", *args)

    assert checks == [{"kinds": [Kind.CONNECTOR, Kind.MODEL_GROUP], "version": version}]


FLAVORS_SEEN: list[Flavor] = []
"""The flavor each recorded check was called with."""


@pytest.mark.parametrize(
    ("args", "project", "expected"),
    [
        ([], None, Flavor.OPENSEARCH),
        (["--flavor", "aws-managed"], None, Flavor.AWS_MANAGED),
        ([], "flavor: aws-managed\n", Flavor.AWS_MANAGED),
        (["--flavor", "opensearch"], "flavor: aws-managed\n", Flavor.OPENSEARCH),
    ],
)
def test_the_checks_get_the_declared_flavor(
    repo: Path,
    checks: list[dict[str, Any]],
    args: list[str],
    project: str | None,
    expected: Flavor,
) -> None:
    if project is not None:
        Path("osml.yaml").write_text(project)

    osml("validate", *args)

    assert [expected] == FLAVORS_SEEN


def test_a_project_file_flavor_that_is_none_is_an_error_at_its_line(repo: Path) -> None:
    Path("osml.yaml").write_text("policy: {}\nflavor: aws\n")

    result = osml("validate")

    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "osml.yaml:2:9: flavor: 'aws' is not a flavor (one of opensearch, aws-managed)"
    )


def test_the_version_comes_from_the_environment(
    repo: Path, checks: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OSML_VALIDATE_CLUSTER_VERSION", "2.13")

    osml("validate")

    assert checks[0]["version"] == Version(2, 13)


def test_warnings_are_printed_and_exit_0(repo: Path, checks: list[dict[str, Any]]) -> None:
    result = osml("validate")

    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "manifests/connector.yaml:6:3: warning: Connector/openai-chat: spec: looks odd",
        "manifests/ is valid: 2 resources (1 warning).",
    ]


def test_checks_run_on_the_valid_documents_when_others_failed(
    repo: Path, checks: list[dict[str, Any]]
) -> None:
    Path("manifests/bad.yaml").write_text("kind: Nope\n")

    result = osml("validate")

    assert result.exit_code == 1
    assert checks[0]["kinds"] == [Kind.CONNECTOR, Kind.MODEL_GROUP]
    assert "manifests/bad.yaml:1:7: kind: unknown kind 'Nope'" in result.output
    assert "warning: Connector/openai-chat: spec: looks odd" in result.output


MODEL = """\
apiVersion: osml/v1
kind: Model
metadata: {name: chat}
spec:
  function_name: remote
  connector: openai-chat
  model_group: chat-modles
"""


def test_a_schema_error_does_not_hide_a_dangling_reference_elsewhere(repo: Path) -> None:
    # The connector has a typo (its own schema fails); the model's group is misspelt.
    Path("manifests/connector.yaml").write_text(CONNECTOR + "  descripton: x\n")
    Path("manifests/model.yaml").write_text(MODEL)

    result = osml("validate")

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any("Connector/openai-chat: spec.descripton: unknown field" in line for line in lines)
    assert (
        "manifests/model.yaml:7:16: Model/chat: spec.model_group: model_group 'chat-modles' "
        "is not defined; did you mean 'chat-models'?"
    ) in lines
    # The connector exists, it is only invalid: the model's reference to it is not dangling.
    assert not any("connector 'openai-chat' is not defined" in line for line in lines)
    assert lines[-1] == "2 errors in 3 resources."


def test_an_invalid_settings_document_suspends_the_checks_that_depend_on_it(repo: Path) -> None:
    connector = CONNECTOR.replace("api.openai.com", "models.example.com")
    Path("manifests/connector.yaml").write_text(connector)
    assert "does not match any trusted endpoint" in osml("validate").output
    Path("manifests/trusted.yaml").write_text(
        "apiVersion: osml/v1\nkind: TrustedEndpoints\nmetadata: {name: ours}\n"
        "spec: {patterns: ['^https://models\\.example\\.com/.*$'], mdoe: merge}\n"
    )

    result = osml("validate")

    assert "unknown field 'mdoe'" in result.output
    assert "does not match any trusted endpoint" not in result.output


def test_plan_and_apply_report_every_problem_too(repo: Path) -> None:
    from reconciler.errors import ManifestError
    from reconciler.reconciling import load_checked

    Path("manifests/connector.yaml").write_text(CONNECTOR + "  descripton: x\n")
    Path("manifests/model.yaml").write_text(MODEL)

    with pytest.raises(ManifestError) as caught:
        load_checked(["manifests"], version=LATEST)

    messages = [p.message for p in caught.value.problems]
    assert any(m.startswith("unknown field 'descripton'") for m in messages)
    assert any(m.startswith("model_group 'chat-modles' is not defined") for m in messages)
    assert not any("connector 'openai-chat' is not defined" in m for m in messages)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("three", "'three' is not a version"),
        ("1.0", "1.0 is not supported; osml knows 2.9 to 3.8"),
    ],
)
def test_a_bad_cluster_version_is_a_usage_error(repo: Path, version: str, message: str) -> None:
    result = osml("validate", "--cluster-version", version)

    assert result.exit_code == 2
    assert message in result.output


# --- the summary line -------------------------------------------------------------------


def _problems(errors: int, warnings: int) -> list[Problem]:
    return [Problem("e")] * errors + [Problem("w", severity=Severity.WARNING)] * warnings


@pytest.mark.parametrize(
    ("errors", "warnings", "resources", "text"),
    [
        (3, 1, 5, "3 errors, 1 warning in 5 resources."),
        (1, 0, 1, "1 error in 1 resource."),
        (2, 2, 0, "2 errors, 2 warnings in 0 resources."),
        (0, 0, 7, "manifests/ is valid: 7 resources."),
        (0, 2, 7, "manifests/ is valid: 7 resources (2 warnings)."),
        (0, 1, 1, "manifests/ is valid: 1 resource (1 warning)."),
    ],
)
def test_summary(errors: int, warnings: int, resources: int, text: str) -> None:
    problems = _problems(errors, warnings)

    assert validate_module.summary(problems, resources=resources, paths=["manifests/"]) == text


# --- osml schema ----------------------------------------------------------------------


def test_schema_is_a_draft_2020_12_union_of_the_kinds() -> None:
    result = osml("schema")

    schema = json.loads(result.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    kinds = [
        schema["$defs"][ref["$ref"].removeprefix("#/$defs/")]["properties"]["kind"]["const"]
        for ref in schema["oneOf"]
    ]
    assert sorted(kinds) == sorted(kind.value for kind in Kind)


def test_schema_carries_field_descriptions_and_aliases() -> None:
    definitions = json.loads(osml("schema").output)["$defs"]

    assert "credential" in definitions["ConnectorSpec"]["properties"]
    assert definitions["FromEnv"]["properties"]["fromEnv"]["type"] == "string"
    assert "model_config" in definitions["ModelSpec"]["properties"]
    assert definitions["ConnectorAction"]["properties"]["url"]["description"].startswith("May hold")
    assert definitions["ConnectorManifest"]["properties"]["kind"]["description"]


def test_schema_references_all_resolve() -> None:
    text = osml("schema").output
    definitions = json.loads(text)["$defs"]

    refs = {part.split('"')[0] for part in text.split('"$ref": "#/$defs/')[1:]}
    assert refs <= set(definitions)


def test_schema_out_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "osml.schema.json"

    result = osml("schema", "--out", str(target))

    assert result.exit_code == 0
    assert json.loads(target.read_text())["title"] == "osml manifest"


def _enum(prop: dict[str, Any]) -> list[str]:
    options = [prop, *prop.get("anyOf", [])]
    return [value for option in options for value in option.get("enum", [])]


def test_schema_allows_upper_case_exactly_where_osml_reads_any_case() -> None:
    definitions = json.loads(osml("schema").output)["$defs"]

    group_access = _enum(definitions["ModelGroupSpec"]["properties"]["access_mode"])
    policy = _enum(definitions["ClientConfig"]["properties"]["retry_backoff_policy"])
    function = _enum(definitions["ModelSpec"]["properties"]["function_name"])
    assert {"public", "PUBLIC", "restricted", "RESTRICTED"} <= set(group_access)
    assert {"exponential_full_jitter", "EXPONENTIAL_FULL_JITTER"} <= set(policy)
    assert function == ["remote", "REMOTE"]
    # What the schema allows, the models accept (and store lower-case).
    assert ModelGroupSpec.model_validate({"access_mode": "PUBLIC"}).access_mode == "public"
    config = ClientConfig.model_validate({"retry_backoff_policy": "CONSTANT"})
    assert config.retry_backoff_policy == "constant"
    # A connector's access_mode is not lower-cased by osml: no upper case offered.
    connector_access = _enum(definitions["ConnectorSpec"]["properties"]["access_mode"])
    assert connector_access == ["public", "private", "restricted"]


# --- secret references: warned by default, errors with --check-secrets --------------


def _with_credentials(tmp: Path, ciphertext: str) -> None:
    text = CONNECTOR.replace(
        "    openAI_key: {fromEnv: OPENAI_API_KEY}\n",
        "    openAI_key: {fromEnv: OPENAI_API_KEY}\n"
        "    file_key: {fromFile: ../secrets/missing.txt}\n"
        f"    sealed_key: {{encrypted: '{ciphertext}'}}\n",
    )
    (tmp / "manifests" / "connector.yaml").write_text(text)


def test_an_unset_variable_or_missing_file_is_a_warning_by_default(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.secrets.encrypting import SecretKey, encrypt

    monkeypatch.delenv("OPENAI_API_KEY")
    _with_credentials(repo, encrypt(SECRET_VALUE, SecretKey.generate()))

    result = osml("validate")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "manifests/connector.yaml:10:17: warning: Connector/openai-chat: "
        "spec.credential.openAI_key: environment variable OPENAI_API_KEY is not set; "
        "plan and apply will refuse it",
        "manifests/connector.yaml:11:15: warning: Connector/openai-chat: "
        "spec.credential.file_key: cannot read secret file ../secrets/missing.txt: "
        "No such file or directory; plan and apply will refuse it",
        "manifests/ is valid: 2 resources (2 warnings).",
    ]


def test_check_secrets_makes_them_errors_and_decrypts(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.secrets.encrypting import SecretKey, encrypt

    used, other = SecretKey.generate(), SecretKey.generate()
    monkeypatch.delenv("OPENAI_API_KEY")
    _with_credentials(repo, encrypt(SECRET_VALUE, used))
    Path("other.key").write_text(other.to_text())

    result = osml("validate", "--check-secrets", "--key-file", "other.key")

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].endswith("environment variable OPENAI_API_KEY is not set")
    assert lines[1].endswith("No such file or directory")
    assert lines[2].startswith("manifests/connector.yaml:12:17: Connector/openai-chat: ")
    assert f"encrypted with key {used.key_id}, but the key given is {other.key_id}" in lines[2]
    assert lines[-1] == "3 errors in 2 resources."
    # Without a key at all, the ciphertext cannot be checked: that is said, not skipped.
    result = osml("validate", "--check-secrets")
    assert "an encrypted value needs a key" in result.output


def test_check_secrets_passes_when_everything_resolves_and_prints_no_value(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.secrets.encrypting import SecretKey, encrypt

    key = SecretKey.generate()
    _with_credentials(repo, encrypt(SECRET_VALUE, key))
    Path("secrets").mkdir()
    Path("secrets/missing.txt").write_text(SECRET_VALUE + "\n")
    monkeypatch.setenv("OSML_SECRET_KEY", key.to_text())

    for args in (["--check-secrets"], ["--check-secrets", "--format", "json"]):
        result = osml("validate", *args)
        assert result.exit_code == 0, result.output
        assert SECRET_VALUE not in result.output
    assert osml("validate").output.endswith("is valid: 2 resources.\n")
