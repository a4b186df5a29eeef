"""What the semantic checks say per flavor, beyond the blueprint walk."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.validate import run_validation
from reconciler.mlcommons.flavors import Flavor
from reconciler.mlcommons.versions import LATEST

CONNECTOR = """\
apiVersion: osml/v1
kind: Connector
metadata: {{name: c}}
spec:
  version: 1
  protocol: http
  credential:
{credential}
  actions:
    - action_type: predict
      method: POST
      url: https://api.openai.com/v1/embeddings
      headers: {{Authorization: "Bearer ${{credential.{header}}}"}}
"""
ROLE = "arn:aws:iam::123456789012:role/r"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:s"


def errors(tmp_path: Path, text: str, flavor: Flavor) -> list[str]:
    file = tmp_path / "m.yaml"
    file.write_text(text)
    found, _ = run_validation([str(file)], version=LATEST, flavor=flavor)
    return [str(p).split(": ", 2)[-1] for p in found if p.severity.value == "error"]


def connector(credential: str, header: str) -> str:
    return CONNECTOR.format(credential=credential, header=header)


def test_a_secret_arn_key_needs_the_secret_arn(tmp_path: Path) -> None:
    text = connector(f"    roleArn: {ROLE}", "secretArn.openai_key")
    assert errors(tmp_path, text, Flavor.AWS_MANAGED) == [
        "spec.actions[0].headers.Authorization: placeholder ${credential.secretArn.openai_key} "
        "is not defined (not a key of credential)"
    ]
    both = connector(f"    roleArn: {ROLE}\n    secretArn: {SECRET}", "secretArn.openai_key")
    assert errors(tmp_path, both, Flavor.AWS_MANAGED) == []


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("roleArn", "my-role", "must be an ARN such as arn:aws:iam::123456789012:role/NAME"),
        ("secretArn", ROLE, "must be an ARN such as arn:aws:secretsmanager:REGION:"),
    ],
)
def test_an_arn_has_the_shape_of_its_kind(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    text = connector(f"    {key}: {value}\n    k: {{fromEnv: K}}", "k")
    found = errors(tmp_path, text, Flavor.AWS_MANAGED)
    assert len(found) == 1 and found[0].startswith(f"spec.credential.{key}: credential.{key} ")
    assert message in found[0]


def test_a_plain_value_is_still_refused_for_other_keys(tmp_path: Path) -> None:
    text = connector(f"    roleArn: {ROLE}\n    k: sk-plain", "k")
    found = errors(tmp_path, text, Flavor.AWS_MANAGED)
    assert len(found) == 1 and "credential.k is a plain value" in found[0]


def test_settings_the_service_keeps_are_errors_on_aws_managed_only(tmp_path: Path) -> None:
    text = (
        "apiVersion: osml/v1\nkind: AccessControl\nmetadata: {name: ac}\nspec:\n"
        "  settings:\n    allow_registering_model_via_local_file: true\n"
    )
    assert errors(tmp_path, text, Flavor.OPENSEARCH) == []
    [found] = errors(tmp_path, text, Flavor.AWS_MANAGED)
    assert "cannot be set on Amazon OpenSearch Service" in found
