"""`osml plan --out` then `osml apply PLANFILE` and `osml show`, through click, over HTTP
to the sandbox: a plan file is applied exactly as reviewed or not at all.

Each refusal (an altered file, a stale plan, a changed secret, a held or lost lock, an
unreachable cluster) must leave the state index and the live resources exactly as they
were, and leave the reviewed plan applicable once the cause is gone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from opensearchpy import OpenSearch

from reconciler.cli import main
from reconciler.cluster.locking import acquire_lock, force_unlock
from reconciler.errors import LockError
from reconciler.mlcommons.versions import Version
from reconciler.planfiles import canonical, read_plan_file
from reconciler.reconciling import ApplyOptions, apply_under, read_desired, wait_for_lock
from reconciler.sandbox.server import Sandbox
from reconciler.secrets.encrypting import SecretKey
from tests.integration import support
from tests.integration.support import ENV, SECRET, connector, group, model, write

ROTATED = "sk-rotated-secret-5d1e0b77"


def _docs(*, changed: bool) -> list[dict[str, Any]]:
    """A deployed model on a connector; `changed` updates the group and makes the
    connector change a swap (a new connector is created while the model is deployed)."""
    return [
        group("team", description="Changed group" if changed else "A test group"),
        connector("chat", description="A better connector" if changed else "A test connector"),
        model("chat-model", connector_name="chat", group_name="team"),
    ]


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory("3.x")


@pytest.fixture
def manifests(tmp_path: Path, sandbox: Sandbox) -> Path:
    """Manifests applied once, then changed: `osml plan` now has two changes."""
    paths = write(tmp_path / "manifests", _docs(changed=False))
    assert support.apply(sandbox.url, paths).ok
    return write(paths, _docs(changed=True))


def osml(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), env={**ENV, "NO_COLOR": "1", **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert SECRET not in result.output and ROTATED not in result.output
    return result


def _plan_out(sandbox: Sandbox, manifests: Path, out: Path, **env: str) -> None:
    result = osml("plan", str(manifests), "--cluster", str(sandbox.url), "--out", str(out), env=env)
    assert result.exit_code == 0, result.output


def world(sandbox: Sandbox) -> dict[str, Any]:
    """Every state document (with its version) and every live ML object, as stored."""
    client = OpenSearch(str(sandbox.url))
    found: dict[str, Any] = {}
    if client.indices.exists(index="osml-state"):
        hits = client.search(
            index="osml-state",
            body={"query": {"match_all": {}}, "size": 100, "seq_no_primary_term": True},
        )["hits"]["hits"]
        found.update({f"state/{h['_id']}": (h["_source"], h["_seq_no"]) for h in hits})
    for kind, search in (
        ("connector", client.plugins.ml.search_connectors),
        ("group", client.plugins.ml.search_model_group),
        ("model", client.plugins.ml.search_models),
    ):
        hits = search(body={"query": {"match_all": {}}, "size": 100})["hits"]["hits"]
        found.update({f"{kind}/{h['_id']}": h["_source"] for h in hits})
    return found


# -- an altered plan file ---------------------------------------------------------------


def _description(doc: dict[str, Any]) -> None:
    connector_change = next(c for c in doc["changes"] if c["key"] == "Connector/chat")
    connector_change["after"]["description"] = "Changed in the artifact"
    connector_change["after"]["parameters"]["endpoint"] = "attacker.example.com"


def _order(doc: dict[str, Any]) -> None:
    doc["changes"].reverse()


def _added(doc: dict[str, Any]) -> None:
    extra = json.loads(json.dumps(next(c for c in doc["changes"] if c["key"] == "Connector/chat")))
    extra.update(key="Connector/extra", name="extra", action="create", live_id=None)
    extra["after"]["name"] = "extra connector"
    doc["changes"].append(extra)


def _removed(doc: dict[str, Any]) -> None:
    doc["changes"] = [c for c in doc["changes"] if c["key"] != "ModelGroup/team"]


EDITS = {"body": _description, "order": _order, "added": _added, "removed": _removed}


def _tamper(path: Path, edit: Callable[[dict[str, Any]], None], *, forge: bool) -> None:
    """Edit the plan file; `forge` recomputes the digest, as someone who read the format
    would (the signature, which needs the key, stays as it was)."""
    doc = json.loads(path.read_text("utf-8"))
    edit(doc)
    if forge:
        body = {k: v for k, v in doc.items() if k != "integrity"}
        doc["integrity"]["digest"] = "sha256:" + hashlib.sha256(canonical(body)).hexdigest()
    path.write_text(json.dumps(doc, indent=2), "utf-8")


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("forge", [False, True], ids=["edited", "forged"])
def test_an_altered_plan_file_is_refused_and_changes_nothing(
    sandbox: Sandbox, manifests: Path, tmp_path: Path, edit: str, forge: bool
) -> None:
    # A forger recomputes the digest, so only a signed plan can catch them.
    env = {"OSML_PLAN_KEY": SecretKey.generate().to_text()} if forge else {}
    saved = tmp_path / "plan.json"
    _plan_out(sandbox, manifests, saved, **env)
    before = world(sandbox)
    _tamper(saved, EDITS[edit], forge=forge)
    result = osml("apply", str(saved), "--cluster", str(sandbox.url), env=env)
    assert result.exit_code == 1
    what = "its signature does not match" if forge else "does not match its digest"
    assert "the plan file was changed after it was made" in result.stderr
    assert what in result.stderr
    assert "Traceback" not in result.output
    assert world(sandbox) == before


def test_an_untouched_signed_plan_applies(
    sandbox: Sandbox, manifests: Path, tmp_path: Path
) -> None:
    key = SecretKey.generate()
    key_file = tmp_path / "plan.key"
    key_file.write_text(key.to_text(), "utf-8")
    saved = tmp_path / "plan.json"
    result = osml(
        "plan", str(manifests), "--cluster", str(sandbox.url), "--out", str(saved),
        "--plan-key-file", str(key_file),
    )  # fmt: skip
    assert f"signed with plan key {key.key_id}" in result.stderr
    assert key.to_text() not in saved.read_text("utf-8")
    unverified = osml("apply", str(saved), "--cluster", str(sandbox.url))
    assert unverified.exit_code == 1
    assert "give that key" in unverified.stderr
    result = osml(
        "apply", str(saved), "--cluster", str(sandbox.url), "--plan-key-file", str(key_file)
    )
    assert result.exit_code == 0, result.output
    assert "signature verified" in result.stderr
    assert not support.plan(sandbox.url, manifests).has_changes


# -- the plan records its manifests; `osml show` needs no cluster ---------------------------


def test_apply_planfile_reads_the_manifests_the_plan_recorded(
    sandbox: Sandbox, manifests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(manifests.parent)
    result = osml("plan", "manifests", "--cluster", str(sandbox.url), "--out", "plan.json")
    assert result.exit_code == 0, result.output
    assert json.loads(Path("plan.json").read_text("utf-8"))["manifests"] == ["manifests"]
    result = osml("apply", "plan.json", "--cluster", str(sandbox.url))
    assert result.exit_code == 0, result.output
    assert not support.plan(sandbox.url, manifests).has_changes


def test_plan_records_the_default_manifests_path(
    sandbox: Sandbox, manifests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(manifests.parent)
    assert osml("plan", "--cluster", str(sandbox.url), "--out", "plan.json").exit_code == 0
    assert json.loads(Path("plan.json").read_text("utf-8"))["manifests"] == ["manifests/"]


def test_recorded_manifests_that_are_not_here_are_named(
    sandbox: Sandbox, manifests: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(manifests.parent)
    assert (
        osml("plan", "manifests", "--cluster", str(sandbox.url), "--out", "p.json").exit_code == 0
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    before = world(sandbox)
    result = osml("apply", "../p.json", "--cluster", str(sandbox.url))
    assert result.exit_code == 1
    assert "made from are not here: manifests" in result.stderr
    assert "--manifests" in result.stderr
    assert world(sandbox) == before
    result = osml(
        "apply", "../p.json", "--manifests", "../manifests", "--cluster", str(sandbox.url)
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("view", "start"),
    [("text", "osml plan for"), ("json", "{"), ("markdown", "<!-- osml-plan -->")],
)
def test_show_renders_a_saved_plan_without_a_cluster(
    sandbox: Sandbox, manifests: Path, tmp_path: Path, view: str, start: str
) -> None:
    saved = tmp_path / "plan.json"
    _plan_out(sandbox, manifests, saved)
    sandbox.stop()
    result = osml("show", str(saved), "--format", view)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(start)
    assert "Connector/chat" in result.stdout
    assert "Plan file intact (digest matches); not signed." in result.stderr
    if view == "json":
        assert json.loads(result.stdout)["summary"]["changes"] == 2


def test_show_says_whether_a_plan_was_signed_and_refuses_an_altered_one(
    sandbox: Sandbox, manifests: Path, tmp_path: Path
) -> None:
    key = SecretKey.generate()
    env = {"OSML_PLAN_KEY": key.to_text()}
    saved = tmp_path / "plan.json"
    _plan_out(sandbox, manifests, saved, **env)
    verified = osml("show", str(saved), env=env)
    assert verified.exit_code == 0
    assert f"signed with plan key {key.key_id}, signature verified" in verified.stderr
    unchecked = osml("show", str(saved))
    assert unchecked.exit_code == 0
    assert "signature not verified: no plan key given" in unchecked.stderr
    _tamper(saved, _description, forge=True)
    refused = osml("show", str(saved), env=env)
    assert refused.exit_code == 1
    assert "its signature does not match" in refused.stderr
    assert refused.stdout == ""


# -- a refused apply leaves everything as it was -----------------------------------------


def test_a_changed_secret_refuses_the_whole_plan_before_the_first_change(
    sandbox: Sandbox, manifests: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    _plan_out(sandbox, manifests, saved)
    before = world(sandbox)
    result = osml("apply", str(saved), "--cluster", str(sandbox.url), env={"TEST_API_KEY": ROTATED})
    assert result.exit_code == 1
    assert "Connector/chat: credential.openAI_key: the secret changed since the plan was made" in (
        result.stderr
    )
    assert "nothing was changed" in result.stderr
    # Not the group (first in the plan), not an intent of the swap's new connector.
    assert world(sandbox) == before
    assert "intent" not in osml("state", "list", "--cluster", str(sandbox.url)).stdout
    # The reviewed plan is still current, and applies once the secret is back.
    result = osml("apply", str(saved), "--cluster", str(sandbox.url))
    assert result.exit_code == 0, result.output
    assert not support.plan(sandbox.url, manifests).has_changes


@pytest.mark.parametrize("rotated", ["TEST_API_KEY", "OTHER_API_KEY"])
def test_any_one_changed_secret_stops_the_apply_before_anything(
    sandbox: Sandbox, tmp_path: Path, rotated: str
) -> None:
    def docs(*, changed: bool) -> list[dict[str, Any]]:
        other = connector("embed", description="Changed" if changed else "A test connector")
        other["spec"]["credential"]["openAI_key"] = {"fromEnv": "OTHER_API_KEY"}
        return [*_docs(changed=changed), other]

    env = {"OTHER_API_KEY": "sk-other-secret-93c0a1"}
    paths = write(tmp_path / "m", docs(changed=False))
    first = osml("apply", str(paths), "--cluster", str(sandbox.url), "--auto-approve", env=env)
    assert first.exit_code == 0, first.output
    write(paths, docs(changed=True))
    saved = tmp_path / "plan.json"
    _plan_out(sandbox, paths, saved, **env)
    before = world(sandbox)
    result = osml("apply", str(saved), "--cluster", str(sandbox.url), env={**env, rotated: ROTATED})
    assert result.exit_code == 1
    owner = "Connector/chat" if rotated == "TEST_API_KEY" else "Connector/embed"
    assert f"{owner}: credential.openAI_key: the secret changed" in result.stderr
    assert result.stderr.count("the secret changed") == 1
    assert world(sandbox) == before


def test_a_stale_plan_changes_nothing(sandbox: Sandbox, manifests: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    _plan_out(sandbox, manifests, saved)
    OpenSearch(str(sandbox.url)).plugins.ml.register_model_group(body={"name": "elsewhere"})
    before = world(sandbox)
    result = osml("apply", str(saved), "--cluster", str(sandbox.url))
    assert result.exit_code == 1
    assert "the plan is stale" in result.stderr
    assert world(sandbox) == before


def test_a_held_lock_changes_nothing(sandbox: Sandbox, manifests: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    _plan_out(sandbox, manifests, saved)
    with support.open_connection(str(sandbox.url)) as conn:
        lease = acquire_lock(conn, operation="apply", holder="alice@ci:42")
        before = world(sandbox)
        result = osml("apply", str(saved), "--cluster", str(sandbox.url))
        assert result.exit_code == 1
        assert "held by alice@ci:42" in result.stderr
        assert world(sandbox) == before
        force_unlock(conn, lease.info.lock_id)
    assert osml("apply", str(saved), "--cluster", str(sandbox.url)).exit_code == 0


def test_a_lost_lock_changes_nothing(sandbox: Sandbox, manifests: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    _plan_out(sandbox, manifests, saved)
    plan, _ = read_plan_file(saved)
    with support.open_connection(str(sandbox.url)) as conn:
        desired = read_desired([manifests], version=Version.parse(conn.version), env=ENV)
        lease = wait_for_lock(conn, options=ApplyOptions())
        # Someone removes our lock and takes it; our next renewal finds out.
        force_unlock(conn, lease.info.lock_id)
        other = acquire_lock(conn, operation="apply", holder="bob@ci:7")
        with pytest.raises(LockError):
            lease.renew()
        before = world(sandbox)
        with pytest.raises(LockError):
            apply_under(
                conn, plan, desired, lease=lease, observer=support.Recorder(),
                options=ApplyOptions(settings=support.fast_settings()),
            )  # fmt: skip
        assert world(sandbox) == before
        other.release()


def test_an_unreachable_cluster_changes_nothing(
    sandbox: Sandbox, manifests: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    _plan_out(sandbox, manifests, saved)
    before = world(sandbox)
    # The lock is taken, then every read of the cluster's ML objects is cut off.
    sandbox.faults.configure(
        {"rules": [{"route": "POST /_plugins/_ml/*/_search", "reset_rate": 1.0}]}
    )
    result = osml("apply", str(saved), "--cluster", str(sandbox.url))
    sandbox.faults.clear()
    assert result.exit_code == 1
    assert "Error: Connectors: search failed" in result.stderr
    assert world(sandbox) == before
    assert osml("lock", "status", "--cluster", str(sandbox.url)).exit_code == 0
    assert osml("apply", str(saved), "--cluster", str(sandbox.url)).exit_code == 0
