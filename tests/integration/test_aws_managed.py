"""osml against an Amazon OpenSearch Service domain: the sandbox's `aws-managed` flavor.

Through the CLI and opensearch-py over real HTTP: a Bedrock connector with only a roleArn
(the managed form of the official blueprints) is planned and applied by osml, its model
deploys, its probe predicts through the sandbox's Bedrock emulator with the keys of the
assumed role; the TrustedEndpoints manifest is a check, never a settings write (the
domain would refuse it); a declaration that disagrees with the cluster is refused; and
the same manifests on a self-managed cluster fail at the roleArn line.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from opensearchpy import OpenSearch

from reconciler.cli import main
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for

ROLE = "arn:aws:iam::123456789012:role/bedrock-invoke"
SHORT = "trusted_connector_endpoints_regex"

DOCS = [
    {
        "apiVersion": "osml/v1",
        "kind": "TrustedEndpoints",
        "metadata": {"name": "bedrock"},
        "spec": {"patterns": [r"^https://bedrock-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$"]},
    },
    {
        "apiVersion": "osml/v1",
        "kind": "Connector",
        "metadata": {"name": "titan"},
        "spec": {
            "name": "Amazon Bedrock Connector: embedding",
            "version": 1,
            "protocol": "aws_sigv4",
            "parameters": {
                "region": "us-east-1",
                "service_name": "bedrock",
                "model": "amazon.titan-embed-text-v1",
            },
            "credential": {"roleArn": ROLE},
            "actions": [
                {
                    "action_type": "predict",
                    "method": "POST",
                    "url": "https://bedrock-runtime.${parameters.region}.amazonaws.com"
                    "/model/${parameters.model}/invoke",
                    "headers": {"content-type": "application/json"},
                    "request_body": '{ "inputText": "${parameters.inputText}" }',
                    "pre_process_function": "connector.pre_process.bedrock.embedding",
                    "post_process_function": "connector.post_process.bedrock.embedding",
                }
            ],
        },
    },
    {
        "apiVersion": "osml/v1",
        "kind": "Model",
        "metadata": {"name": "titan-model"},
        "spec": {"function_name": "remote", "connector": "titan"},
        "lifecycle": {
            "deployed": True,
            "probe": {
                "parameters": {"inputText": "hello"},
                "expect": {"embedding_dimension": 1536},
            },
        },
    },
]


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "bedrock.yaml").write_text(yaml.safe_dump_all(DOCS, sort_keys=False))
    return folder


def osml(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env={"NO_COLOR": ""})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_a_roleArn_bedrock_connector_is_planned_applied_deployed_and_predicts(
    sandbox_factory: Callable[..., Sandbox], manifests: Path
) -> None:
    sandbox = sandbox_factory("3.x", flavor="aws-managed")
    client = client_for(sandbox)
    assert client.info()["cluster_name"] == "123456789012:osml-sandbox"

    planned = osml("plan", str(manifests), "--cluster", sandbox.url, "--format", "json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    actions = {c["key"]: c["action"] for c in plan["changes"]}
    # No settings change: the domain manages the trusted list and would refuse the write.
    assert "TrustedEndpoints/bedrock" not in actions
    assert actions["Connector/titan"] == "create"
    assert any("TrustedEndpoints/bedrock: not written" in w for w in plan["warnings"])

    applied = osml("apply", str(manifests), "--cluster", sandbox.url, "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert sandbox.requests.count("/_cluster/settings", method="PUT") == 0

    models = client.plugins.ml.search_models(body={"query": {"match_all": {}}})["hits"]["hits"]
    model = next(h for h in models if h["_source"].get("name") == "titan-model")
    assert model["_source"]["model_state"] == "DEPLOYED"
    answer = client.transport.perform_request(
        "POST",
        f"/_plugins/_ml/models/{model['_id']}/_predict",
        body={"parameters": {"inputText": "What is the meaning of life?"}},
    )
    tensor = answer["inference_results"][0]["output"][0]
    assert tensor["name"] == "sentence_embedding" and len(tensor["data"]) == 1536

    again = osml("plan", str(manifests), "--cluster", sandbox.url, "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_a_changed_role_is_a_credential_change_in_the_plan(
    sandbox_factory: Callable[..., Sandbox], manifests: Path
) -> None:
    sandbox = sandbox_factory("3.x", flavor="aws-managed")
    assert osml("apply", str(manifests), "--cluster", sandbox.url, "--auto-approve").exit_code == 0
    file = manifests / "bedrock.yaml"
    file.write_text(file.read_text().replace("role/bedrock-invoke", "role/bedrock-other"))

    planned = osml("plan", str(manifests), "--cluster", sandbox.url, "--format", "json")

    plan = json.loads(planned.stdout)
    change = next(c for c in plan["changes"] if c["key"] == "Connector/titan")
    fields = {f["path"]: f for f in change["fields"]}
    assert fields["credential.roleArn"]["sensitive"] is True
    assert (
        "IAM role changed: credential.roleArn (the domain signs its calls with this role)"
        in change["review"]
    )


def test_the_managed_domain_refuses_the_settings_it_manages(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sandbox = sandbox_factory("3.x", flavor="aws-managed")
    client = OpenSearch(sandbox.url)
    request = urllib.request.Request(
        f"{sandbox.url}/_cluster/settings",
        data=json.dumps({"persistent": {"plugins": {"ml_commons": {SHORT: [".*"]}}}}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    assert json.loads(refused.value.read()) == {
        "Message": "Your request: '/_cluster/settings' payload is not allowed."
    }
    # Other settings are the user's to set.
    allowed = {"persistent": {"plugins.ml_commons.only_run_on_ml_node": False}}
    assert client.cluster.put_settings(body=allowed)["acknowledged"] is True


def test_a_declared_flavor_that_disagrees_with_the_cluster_is_refused(
    sandbox_factory: Callable[..., Sandbox], manifests: Path
) -> None:
    sandbox = sandbox_factory("3.x")  # self-managed
    (manifests / "osml.yaml").write_text("flavor: aws-managed\n")

    result = osml("plan", str(manifests), "--cluster", sandbox.url)

    assert result.exit_code == 1
    assert "the manifests declare flavor aws-managed (" in result.output
    assert "but the cluster is opensearch (GET / of a self-managed cluster)" in result.output


def test_on_a_self_managed_cluster_the_roleArn_is_an_error_at_its_line(
    sandbox_factory: Callable[..., Sandbox], manifests: Path
) -> None:
    sandbox = sandbox_factory("3.x")

    result = osml("plan", str(manifests), "--cluster", sandbox.url)

    assert result.exit_code == 1
    line = next(
        i + 1
        for i, text in enumerate((manifests / "bedrock.yaml").read_text().splitlines())
        if text.strip().startswith("roleArn:")
    )
    assert f"bedrock.yaml:{line}:" in result.output
    assert "credential.roleArn is an Amazon OpenSearch Service form" in result.output
    assert sandbox.requests.count("/_plugins/_ml/connectors/_create", method="POST") == 0
