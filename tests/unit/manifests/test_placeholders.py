"""Blueprint placeholders left unfilled are reported as such, at their line, before any
other rule judges the field (any flavor)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli.validate import run_validation
from reconciler.manifests.placeholders import placeholder_in
from reconciler.mlcommons.flavors import Flavor
from reconciler.mlcommons.versions import LATEST
from tests.support import blueprints

FILLED = "is a blueprint placeholder left unfilled"

MANIFEST = """\
apiVersion: osml/v1
kind: Connector
metadata:
  name: bedrock
spec:
  name: <YOUR CONNECTOR NAME>
  version: <YOUR CONNECTOR VERSION>
  protocol: aws_sigv4
  parameters:
    region: <PLEASE ADD YOUR AWS REGION HERE>
    service_name: bedrock
  credential:
    roleArn: <PLEASE ADD YOUR AWS ROLE ARN HERE>
    api_key: <PLEASE ADD YOUR OPENAI API KEY HERE>
  actions:
    - action_type: predict
      method: POST
      url: https://{{endpoint_name}}.example.com/invoke
      request_body: '{"embedding_types": ["<float|int8>"], "text": "${parameters.text}"}'
"""


def problems(tmp_path: Path, text: str, *, flavor: Flavor) -> list[str]:
    file = tmp_path / "m.yaml"
    file.write_text(text)
    found, _ = run_validation([str(file)], version=LATEST, flavor=flavor)
    return [str(p).replace(str(file), "m.yaml") for p in found]


@pytest.mark.parametrize("flavor", list(Flavor))
def test_each_placeholder_is_reported_at_its_line_and_nothing_else_fires(
    tmp_path: Path, flavor: Flavor
) -> None:
    def at(line: int, column: int, path: str, text: str) -> str:
        return f"m.yaml:{line}:{column}: Connector/bedrock: {path}: {text} {FILLED}"

    found = problems(tmp_path, MANIFEST, flavor=flavor)
    assert [p.split(" is a blueprint")[0] + f" {FILLED}" for p in found] == [
        at(6, 9, "spec.name", "<YOUR CONNECTOR NAME>"),
        at(7, 12, "spec.version", "<YOUR CONNECTOR VERSION>"),
        at(10, 13, "spec.parameters.region", "<PLEASE ADD YOUR AWS REGION HERE>"),
        at(13, 14, "spec.credential.roleArn", "<PLEASE ADD YOUR AWS ROLE ARN HERE>"),
        at(14, 14, "spec.credential.api_key", "<PLEASE ADD YOUR OPENAI API KEY HERE>"),
        at(18, 12, "spec.actions[0].url", "{{endpoint_name}}"),
        at(19, 21, "spec.actions[0].request_body", "<float|int8>"),
    ]
    # Not "a plain value", not "needs a managed domain", not an untrusted url.
    assert not any("plain value" in p or "managed domain" in p or "trusted" in p for p in found)


def test_a_filled_manifest_is_judged_by_the_other_rules(tmp_path: Path) -> None:
    text = (
        MANIFEST.replace("<YOUR CONNECTOR NAME>", "bedrock")
        .replace("<YOUR CONNECTOR VERSION>", "1")
        .replace("<PLEASE ADD YOUR AWS REGION HERE>", "us-east-1")
        .replace("<PLEASE ADD YOUR AWS ROLE ARN HERE>", "arn:aws:iam::123456789012:role/r")
        .replace("<PLEASE ADD YOUR OPENAI API KEY HERE>", "{fromEnv: KEY}")
        .replace("{{endpoint_name}}", "bedrock-runtime.us-east-1.amazonaws")
        .replace("<float|int8>", "float")
    )
    assert [p for p in problems(tmp_path, text, flavor=Flavor.AWS_MANAGED) if FILLED in p] == []
    on_opensearch = problems(tmp_path, text, flavor=Flavor.OPENSEARCH)
    assert any(
        "spec.credential.roleArn: credential.roleArn is an Amazon" in p for p in on_opensearch
    )


def _corpus_forms() -> list[str]:
    forms = set()
    for blueprint in blueprints.load_all():
        for entry in blueprint.data.get("filled", []):
            forms.add(entry.split(": ", 1)[1].rsplit(" -> ", 1)[0])
    return sorted(forms)


@pytest.mark.parametrize("form", _corpus_forms())
def test_every_placeholder_form_of_the_corpus_is_found(form: str) -> None:
    assert placeholder_in(form) == form
    if not form.startswith("your_"):  # a written-out hint counts as a whole value only
        assert placeholder_in(f"https://{form}.example.com/x") == form or " " in form


@pytest.mark.parametrize(
    "value",
    [
        "${parameters.region}",
        "${credential.secretArn.openai_key}",
        '{ "input": ${parameters.input} }',
        "[INST] <<SYS>> be brief <</SYS>> [/INST]",
        "if (x < y && y > z) { return x; }",
        "List<String> names",
        "chat <v2>",
        "{x}",
        "Your connector for chat",
        "^https://[a-z]{2,5}\\.example\\.com/.*$",
    ],
)
def test_templates_and_markup_are_not_placeholders(value: str) -> None:
    assert placeholder_in(value) is None


def test_every_corpus_body_is_free_of_placeholders() -> None:
    for blueprint in blueprints.load_all():
        body = json.dumps(blueprint.data["body"])
        assert placeholder_in(body) is None, blueprint.name
