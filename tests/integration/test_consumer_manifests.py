"""Consumer manifests (IngestPipeline, SearchPipeline, Agent) end to end through click:
`osml validate` checks them; `osml plan` and `osml apply` refuse a set that holds them,
naming each, because planning them is not built yet, and change nothing on the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.sandbox.testing import client_for
from tests.integration.support import ENV, connector, group, model, write

DOCS: list[dict[str, Any]] = [
    group("team"),
    connector("chat"),
    model("chat-model", connector_name="chat", group_name="team"),
    {
        "apiVersion": "osml/v1",
        "kind": "IngestPipeline",
        "metadata": {"name": "embed-docs"},
        "spec": {
            "processors": [
                {
                    "text_embedding": {
                        "model_id": {"ref": "Model/chat-model"},
                        "field_map": {"text": "vector"},
                    }
                }
            ]
        },
    },
    {
        "apiVersion": "osml/v1",
        "kind": "Agent",
        "metadata": {"name": "helper"},
        "spec": {
            "type": "flow",
            "tools": [
                {"type": "MLModelTool", "parameters": {"model_id": {"ref": "Model/chat-model"}}}
            ],
        },
    },
]


def osml(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env={**ENV, "NO_COLOR": ""})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_validate_accepts_consumers_with_resolvable_references(tmp_path: Path) -> None:
    manifests = write(tmp_path / "m", DOCS)
    result = osml("validate", str(manifests))
    assert result.exit_code == 0, result.output
    assert "5 resources" in result.output


def test_plan_and_apply_refuse_consumer_kinds_and_change_nothing(
    tmp_path: Path, sandbox_factory: Callable[..., Any]
) -> None:
    sandbox = sandbox_factory("3.x")
    manifests = write(tmp_path / "m", DOCS)
    for command in (("plan",), ("apply", "--auto-approve")):
        result = osml(*command, str(manifests), "--cluster", sandbox.url)
        assert result.exit_code == 1, result.output
        assert "IngestPipeline/embed-docs: kind IngestPipeline is not planned yet" in result.stderr
        assert "Agent/helper: kind Agent is not planned yet" in result.stderr
        assert f"{manifests / 'all.yaml'}:" in result.stderr  # located at the document
    client = client_for(sandbox)
    assert client.plugins.ml.search_models(body={"query": {"match_all": {}}})["hits"]["hits"] == []
