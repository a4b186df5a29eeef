"""Consumer manifests (IngestPipeline, SearchPipeline, Agent) through click: `osml
validate` checks them and their references (planning them: tests/integration/test_consumers.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from reconciler.cli import main
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
