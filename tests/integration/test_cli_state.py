"""`osml lock`, `osml state` and `osml import` end to end with click's runner."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from opensearchpy import OpenSearch

from reconciler.cli import main
from reconciler.cli import state as state_cli
from reconciler.cluster.locking import acquire_lock
from tests.integration import support
from tests.integration.support import ENV, SECRET, connector, group, model, write


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=ENV, catch_exceptions=False)
    return result.exit_code, result.output


def _docs() -> list:
    return [
        group("team"),
        connector("chat"),
        model("bot", connector_name="chat", group_name="team"),
    ]


def test_lock_status_and_force_unlock(sandbox_factory) -> None:
    sandbox = sandbox_factory("3.x")
    code, out = _run("lock", "status", "--cluster", sandbox.url)
    assert (code, out.strip()) == (0, "The state lock is free.")
    with support.open_connection(sandbox.url) as conn:
        lease = acquire_lock(conn, operation="apply", holder="bob@laptop:7")
    code, out = _run("lock", "status", "--cluster", sandbox.url)
    assert code == 0 and "Held by bob@laptop:7" in out and lease.info.lock_id in out
    code, out = _run("lock", "force-unlock", "nope", "--cluster", sandbox.url)
    assert code == 1
    # The lease is live and there is no terminal to ask: refused, and nothing removed.
    result = CliRunner().invoke(
        main, ["lock", "force-unlock", lease.info.lock_id, "--cluster", sandbox.url], env=ENV
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: the lock {lease.info.lock_id} of bob@laptop:7")
    assert "is live" in result.output and "refusing without --force" in result.output
    assert "Held by bob@laptop:7" in _run("lock", "status", "--cluster", sandbox.url)[1]
    args = ("lock", "force-unlock", lease.info.lock_id, "--force", "--cluster", sandbox.url)
    code, out = _run(*args)
    assert code == 0 and "Removed lock" in out
    assert _run("lock", "status", "--cluster", sandbox.url)[1].strip() == "The state lock is free."


@pytest.mark.parametrize(("answer", "removed"), [("y\n", True), ("n\n", False), ("\n", False)])
def test_force_unlock_of_a_live_lock_asks_on_a_terminal(
    sandbox_factory, monkeypatch: pytest.MonkeyPatch, answer: str, removed: bool
) -> None:
    sandbox = sandbox_factory("3.x")
    monkeypatch.setattr(state_cli, "_on_terminal", lambda: True)
    with support.open_connection(sandbox.url) as conn:
        lease = acquire_lock(conn, operation="watch", holder="watcher@pod-0:1")
    result = CliRunner().invoke(
        main, ["lock", "force-unlock", lease.info.lock_id, "--cluster", sandbox.url],
        env=ENV, input=answer,
    )  # fmt: skip
    assert "Remove it anyway?" in result.output and "is live" in result.output
    assert result.exit_code == (0 if removed else 1)
    status = _run("lock", "status", "--cluster", sandbox.url)[1].strip()
    assert (status == "The state lock is free.") is removed


def test_force_unlock_of_an_expired_lock_asks_nothing(sandbox_factory) -> None:
    sandbox = sandbox_factory("3.x")
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    with support.open_connection(sandbox.url) as conn:
        lease = acquire_lock(conn, operation="apply", holder="gone@ci:9", clock=lambda: long_ago)
    code, out = _run("lock", "force-unlock", lease.info.lock_id, "--cluster", sandbox.url)
    assert code == 0 and "Removed lock" in out


def test_state_list_show_rm_and_import(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _docs())
    code, out = _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
    assert code == 0, out
    assert SECRET not in out

    code, out = _run("state", "list", "--cluster", sandbox.url)
    assert out.splitlines()[0] == "RESOURCE\tSTATUS\tLIVE ID\tUPDATED"
    assert [line.split("\t")[:2] for line in out.splitlines()[1:]] == [
        ["ModelGroup/team", "managed"],
        ["Connector/chat", "managed"],
        ["Model/bot", "managed"],
    ]
    code, out = _run("state", "show", "Connector/chat", "--cluster", sandbox.url)
    assert code == 0 and '"credential.openAI_key": "hmac-sha256:' in out
    assert SECRET not in out

    client = OpenSearch(sandbox.url)
    connector_id = client.plugins.ml.search_connectors(body={"query": {"match_all": {}}})["hits"][
        "hits"
    ][0]["_id"]
    code, out = _run("state", "rm", "Connector/chat", "--cluster", sandbox.url)
    assert code == 0 and connector_id in out
    assert _run("state", "show", "Connector/chat", "--cluster", sandbox.url)[0] == 1

    code, out = _run("import", "Connector/chat", connector_id, "--cluster", sandbox.url)
    assert code == 0, out
    code, out = _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
    assert code == 0, out
    # The credential cannot be read back, so it is sent again; the model using the
    # connector is deployed, so that update is a zero-downtime swap to a new ID.
    hits = client.plugins.ml.search_connectors(body={"query": {"match_all": {}}})["hits"]["hits"]
    assert len(hits) == 1
    assert not support.plan(sandbox.url, paths).has_changes

    code, out = _run("import", "Connector/chat", "no-such-id", "--cluster", sandbox.url)
    assert code == 1 and "Error:" in out


def test_import_takes_a_live_id_that_starts_with_a_dash(sandbox_factory, tmp_path: Path) -> None:
    # ML Commons IDs are random URL-safe base64: about one in 64 starts with `-`. It is an
    # ID, not options: a missing one is looked up (exit 1), never a usage error (exit 2).
    sandbox = sandbox_factory("3.x")
    for args in (
        ("import", "Connector/chat", "-fmEaiGeDvZ4cqwu6SR0", "--cluster", sandbox.url),
        ("import", "--cluster", sandbox.url, "Connector/chat", "-fmEaiGeDvZ4cqwu6SR0"),
        ("import", "--cluster", sandbox.url, "Connector/chat", "--", "-fmEaiGeDvZ4cqwu6SR0"),
    ):
        code, out = _run(*args)
        assert code == 1 and "-fmEaiGeDvZ4cqwu6SR0" in out, (args, out)
    code, out = _run("import", "Connector/chat", "-fmEaiGeDvZ4cqwu6SR0", "--nope")
    assert code == 2 and "--nope" in out


def test_import_refuses_an_id_another_resource_manages(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _docs())
    assert _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)[0] == 0
    client = OpenSearch(sandbox.url)
    [hit] = client.plugins.ml.search_connectors(body={"query": {"match_all": {}}})["hits"]["hits"]
    before = _run("state", "list", "--cluster", sandbox.url)[1]

    result = CliRunner().invoke(
        main, ["import", "Connector/other", hit["_id"], "--cluster", sandbox.url], env=ENV
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: Connector/other: live ID {hit['_id']} is already managed as Connector/chat; "
        "run `osml state rm Connector/chat` first to move it"
    )
    assert _run("state", "list", "--cluster", sandbox.url)[1] == before
    # Importing the ID again under the name that manages it is still allowed.
    assert _run("import", "Connector/chat", hit["_id"], "--cluster", sandbox.url)[0] == 0
