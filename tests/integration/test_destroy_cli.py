"""`osml destroy` end to end with click's runner against a sandbox.

Everything osml manages is deleted in reverse order; `prevent_destroy` (in the manifests
or recorded) keeps a resource and what a kept model uses; `--target` destroys one
resource and its dependents; resources osml never managed are never touched; without a
terminal it refuses unless `--auto-approve`, and on one only a typed `yes` confirms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from opensearchpy import OpenSearch

from reconciler.cli import destroy as destroy_module
from reconciler.cli import main
from reconciler.cluster.state import read_state
from tests.integration import support
from tests.integration.support import ENV, connector, group, model, write


def _run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=ENV, input=input, catch_exceptions=False)
    return result.exit_code, result.output


def _names(client: OpenSearch, kind: str) -> set[str]:
    path = {"connectors": "connectors", "groups": "model_groups", "models": "models"}[kind]
    body = {"query": {"match_all": {}}, "size": 100}
    answer = client.transport.perform_request("POST", f"/_plugins/_ml/{path}/_search", body=body)
    return {h["_source"]["name"] for h in answer["hits"]["hits"]}


def _managed(url: str) -> set[str]:
    with support.open_connection(url) as conn:
        return {str(k) for k in read_state(conn, index="osml-state").records}


def _docs(*, protect_bot: bool = False) -> list[dict[str, Any]]:
    bot = model("bot", connector_name="chat", group_name="team")
    if protect_bot:
        bot["lifecycle"]["prevent_destroy"] = True
    return [group("team"), connector("chat"), connector("spare"), bot]


def _foreign_connector(client: OpenSearch) -> None:
    body = connector("foreign")["spec"]
    body = {**body, "credential": {"openAI_key": "not-managed"}}
    client.plugins.ml.create_connector(body=body)


def test_destroy_deletes_everything_osml_manages_and_nothing_else(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    client = OpenSearch(sandbox.url)
    paths = write(tmp_path / "m", _docs())
    assert _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)[0] == 0
    _foreign_connector(client)

    code, out = _run("destroy", str(paths), "--cluster", sandbox.url)
    assert code == 1 and "refusing to destroy without --auto-approve" in out
    assert _names(client, "models") == {"bot model"}

    code, out = _run("destroy", str(paths), "--auto-approve", "--cluster", sandbox.url)
    assert code == 0, out
    assert "Plan: 0 to create, 0 to update, 0 to replace, 4 to delete, 0 to deploy." in out
    assert "# destroy: osml manages it" in out and "no manifest declares it" not in out
    assert "Apply complete" in out and "4 deleted" in out
    assert _names(client, "models") == set() and _names(client, "groups") == set()
    assert _names(client, "connectors") == {"foreign connector"}
    assert _managed(sandbox.url) == set()

    code, out = _run("destroy", "--auto-approve", "--cluster", sandbox.url)
    assert code == 0 and "No changes." in out


def test_prevent_destroy_keeps_the_model_and_what_it_uses(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    client = OpenSearch(sandbox.url)
    paths = write(tmp_path / "m", _docs())
    assert _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)[0] == 0

    # Set in the manifests only (not applied yet): destroy honours it all the same.
    write(paths, _docs(protect_bot=True))
    code, out = _run("destroy", str(paths), "--auto-approve", "--cluster", sandbox.url)
    assert code == 0, out
    assert "1 to delete" in out and "1 deleted" in out
    assert "kept: lifecycle.prevent_destroy is set in the manifests" in out
    assert "kept: Model/bot, which is kept, uses it" in out
    assert _names(client, "connectors") == {"chat connector"}
    assert _managed(sandbox.url) == {"ModelGroup/team", "Connector/chat", "Model/bot"}


def test_a_recorded_prevent_destroy_holds_without_the_manifests(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    client = OpenSearch(sandbox.url)
    paths = write(tmp_path / "m", _docs(protect_bot=True))
    assert _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)[0] == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = _run("destroy", str(empty), "--auto-approve", "--cluster", sandbox.url)
    assert code == 0, out
    assert "kept: prevent_destroy was set when it was last applied" in out
    assert "1 deleted" in out
    assert _names(client, "models") == {"bot model"}
    assert _names(client, "connectors") == {"chat connector"}


def test_target_destroys_the_resource_and_its_dependents(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    client = OpenSearch(sandbox.url)
    paths = write(tmp_path / "m", _docs())
    assert _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)[0] == 0
    code, out = _run(
        "destroy", str(paths), "--target", "Connector/chat", "--auto-approve",
        "--cluster", sandbox.url,
    )  # fmt: skip
    assert code == 0, out
    assert "2 deleted" in out
    assert _names(client, "models") == set()
    assert _names(client, "connectors") == {"spare connector"}
    assert _managed(sandbox.url) == {"ModelGroup/team", "Connector/spare"}

    code, out = _run("destroy", "--target", "Nope/x", "--auto-approve", "--cluster", sandbox.url)
    assert code != 0 and "Traceback" not in out


@pytest.mark.parametrize(("typed", "destroyed"), [("yes", True), ("y", False), ("", False)])
def test_on_a_terminal_only_a_typed_yes_confirms(
    sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, typed: str, destroyed: bool
) -> None:
    sandbox = sandbox_factory("3.x")
    client = OpenSearch(sandbox.url)
    paths = write(tmp_path / "m", [group("team")])
    assert _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)[0] == 0
    monkeypatch.setattr(destroy_module, "stdin_is_terminal", lambda: True)
    code, out = _run("destroy", str(paths), "--cluster", sandbox.url, input=f"{typed}\n")
    assert "Do you really want to destroy all resources?" in out
    assert "Only 'yes' will be accepted to confirm." in out
    assert (code == 0) is destroyed
    assert (_names(client, "groups") == set()) is destroyed
    if not destroyed:
        assert "destroy cancelled" in out
