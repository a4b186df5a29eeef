"""Planning rules seen through the CLI against the sandbox: `--target` with dependencies,
lifecycle changes recorded in state, summary counts, and the refusal to prune everything.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from opensearchpy import OpenSearch

from reconciler.cli import main
from reconciler.watching import CycleSettings, Mode, Watcher, WatchOptions
from tests.integration import support
from tests.integration.support import ENV, SECRET, connector, group, model, write


def _docs(
    *, group_description: str = "A test group", description: str = "A test connector"
) -> list[dict[str, Any]]:
    return [
        group("team", description=group_description),
        connector("chat", description=description),
        model("chat-model", connector_name="chat", group_name="team"),
    ]


@pytest.fixture
def url(sandbox_factory: Callable[..., Any]) -> str:
    return str(sandbox_factory("3.x").url)


def osml(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env={**ENV, "NO_COLOR": ""})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.stdout
    assert SECRET not in result.output
    return result


def test_a_target_includes_the_pending_changes_it_depends_on(url: str, tmp_path: Path) -> None:
    paths = write(tmp_path / "m", _docs())
    assert support.apply(url, paths).ok
    write(paths, _docs(group_description="Edited group", description="Edited connector"))
    result = osml("plan", str(paths), "--cluster", url, "--target", "Model/chat-model",
                  "--format", "json", "--detailed-exitcode")  # fmt: skip
    assert result.exit_code == 2, result.stdout
    document = json.loads(result.stdout)
    acting = {c["key"]: c["action"] for c in document["changes"] if c["action"] != "noop"}
    assert acting == {"ModelGroup/team": "update", "Connector/chat": "update"}


@pytest.mark.parametrize("profile", ["2.9", "3.x"])
def test_prevent_destroy_added_later_is_recorded_without_a_cluster_call(
    sandbox_factory: Callable[..., Any], tmp_path: Path, profile: str
) -> None:
    sandbox = sandbox_factory(profile)
    docs = _docs()
    paths = write(tmp_path / "m", docs)
    assert support.apply(sandbox.url, paths).ok
    docs[2]["lifecycle"]["prevent_destroy"] = True
    write(paths, docs)

    planned = osml("plan", str(paths), "--cluster", sandbox.url, "--detailed-exitcode")
    assert planned.exit_code == 2, planned.stdout
    assert "~ Model/chat-model" in planned.stdout
    assert "lifecycle.prevent_destroy: false -> true" in planned.stdout
    sandbox.requests.clear()
    assert support.apply(sandbox.url, paths).ok
    ml_writes = [r for r in sandbox.requests.counts() if "_ml" in r and "_search" not in r]
    assert ml_writes == [], sandbox.requests.counts()  # the snapshot's reads only
    shown = osml("state", "show", "Model/chat-model", "--cluster", sandbox.url)
    lifecycle = json.loads(shown.stdout)["applied"]["lifecycle"]
    assert lifecycle == {"prevent_destroy": True, "deployed": True}
    again = osml("plan", str(paths), "--cluster", sandbox.url, "--detailed-exitcode")
    assert again.exit_code == 0, again.stdout

    write(paths, docs[:2])
    pruned = osml("plan", str(paths), "--cluster", sandbox.url, "--prune", "--format", "json")
    document = json.loads(pruned.stdout)
    assert [c["key"] for c in document["changes"] if c["action"] == "delete"] == []
    assert [o["key"] for o in document["orphans"]] == ["Model/chat-model"]


def _live_names(url: str) -> list[str]:
    client = OpenSearch(url)
    searches = (
        client.plugins.ml.search_model_group,
        client.plugins.ml.search_connectors,
        client.plugins.ml.search_models,
    )
    body = {"query": {"match_all": {}}, "size": 100}
    return sorted(h["_source"]["name"] for s in searches for h in s(body=body)["hits"]["hits"])


EVERYTHING = ["chat connector", "chat-model model", "team group"]


@pytest.fixture
def emptied(url: str, tmp_path: Path) -> Path:
    """Everything applied, then an empty manifest folder (a wrong path, a bad checkout)."""
    assert support.apply(url, write(tmp_path / "m", _docs())).ok
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_plan_refuses_to_prune_everything_unless_allowed(url: str, emptied: Path) -> None:
    refused = osml("plan", str(emptied), "--cluster", url, "--prune", "--detailed-exitcode")
    assert refused.exit_code == 1
    assert "Error:" in refused.stderr and "--allow-prune-all" in refused.stderr
    assert "Traceback" not in refused.output
    allowed = osml("plan", str(emptied), "--cluster", url, "--prune", "--allow-prune-all",
                   "--format", "json")  # fmt: skip
    assert allowed.exit_code == 0, allowed.stderr
    assert json.loads(allowed.stdout)["summary"]["delete"] == 3
    assert osml("plan", str(emptied), "--cluster", url).exit_code == 0  # no prune: no risk


def test_apply_refuses_to_prune_everything_unless_allowed(url: str, emptied: Path) -> None:
    refused = osml("apply", str(emptied), "--cluster", url, "--prune", "--auto-approve")
    assert refused.exit_code == 1
    assert "--allow-prune-all" in refused.stderr
    assert _live_names(url) == EVERYTHING
    allowed = osml("apply", str(emptied), "--cluster", url, "--prune", "--allow-prune-all",
                   "--auto-approve")  # fmt: skip
    assert allowed.exit_code == 0, allowed.output
    assert _live_names(url) == []


def test_watch_refuses_to_prune_everything_unless_allowed(url: str, emptied: Path) -> None:
    def cycle(**options: Any) -> Any:
        settings = CycleSettings(paths=(emptied,), mode=Mode.HEAL, prune=True, env=ENV,
                                 apply=support.fast_settings(), **options)  # fmt: skip
        lines: list[str] = []
        with support.open_connection(url) as conn:
            watcher = Watcher(conn, WatchOptions(cycle=settings, listen=None, watch_files=False),
                              sink=lines.append, stop=threading.Event())  # fmt: skip
            try:
                return watcher.run_cycle(), lines
            finally:
                watcher.close()

    report, lines = cycle()
    assert _live_names(url) == EVERYTHING
    assert any("--allow-prune-all" in line for line in lines), lines
    assert report.status.value != "converged"
    cycle(allow_prune_all=True)
    assert _live_names(url) == []


VERBS = {"created": "create", "updated": "update", "replaced": "replace", "deleted": "delete",
         "deployed": "deploy", "undeployed": "undeploy", "redeployed": "redeploy",
         "adopted": "adopt"}  # fmt: skip


def _summaries(output: str) -> tuple[dict[str, int], dict[str, int]]:
    """The plan's and the apply's summary lines of `osml apply`, as verb -> count."""
    plan_line = next(line for line in output.splitlines() if line.startswith("Plan: "))
    apply_line = next(line for line in output.splitlines() if line.startswith("Apply complete"))
    planned = re.findall(r"(\d+) to (\w+)", plan_line.split(";")[0])
    applied = re.findall(r"(\d+) (\w+)", apply_line.split(":", 1)[1])
    return (
        {verb: int(n) for n, verb in planned},
        {VERBS[word]: int(n) for n, word in applied if word in VERBS},
    )


def test_plan_and_apply_summaries_count_the_same_things(url: str, tmp_path: Path) -> None:
    docs = [*_docs(), model("idle", connector_name="chat", group_name="team", deployed=False)]
    paths = write(tmp_path / "m", docs)
    created = osml("apply", str(paths), "--cluster", url, "--auto-approve")
    assert created.exit_code == 0, created.output
    planned, applied = _summaries(created.stdout)
    assert planned == applied
    assert (planned["create"], planned["deploy"]) == (4, 1)  # the create (then deploy)

    docs[1]["spec"]["description"] = "Swapped under the deployed model"
    docs[3]["spec"]["description"] = "Idle, and deployed now"
    docs[3]["lifecycle"]["deployed"] = True
    write(paths, docs)
    swapped = osml("apply", str(paths), "--cluster", url, "--auto-approve")
    assert swapped.exit_code == 0, swapped.output
    planned, applied = _summaries(swapped.stdout)
    assert planned == applied
    assert (planned["replace"], planned["update"], planned["deploy"]) == (1, 1, 1)


def test_resources_left_for_prune_are_counted_beside_no_changes(url: str, tmp_path: Path) -> None:
    docs = _docs()
    paths = write(tmp_path / "m", docs)
    assert support.apply(url, paths).ok
    write(paths, docs[:2])
    result = osml("plan", str(paths), "--cluster", url, "--detailed-exitcode")
    assert result.exit_code == 0, result.stdout  # nothing to apply without --prune
    assert "No changes. The cluster matches the manifests; 1 left for --prune." in result.stdout
    document = json.loads(osml("plan", str(paths), "--cluster", url, "--format", "json").stdout)
    assert (document["has_changes"], document["summary"]["orphans"]) == (False, 1)
    pruning = osml("plan", str(paths), "--cluster", url, "--prune", "--detailed-exitcode")
    assert pruning.exit_code == 2
    assert "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete, 0 to deploy." in (
        pruning.stdout
    )
