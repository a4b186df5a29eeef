"""`osml apply` decisions that need no cluster: what happens to a plan made again under
the lock, and how a plan file is told from manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.apply import _review, _saved_plan
from reconciler.errors import PlanError
from reconciler.planfiles import write_plan_file
from reconciler.plans import Action, Change, ClusterIdentity, Plan
from reconciler.resources import Kind, ResourceKey

CLUSTER = ClusterIdentity(url="http://x", version="3.1.0")


def _plan(*actions: Action) -> Plan:
    changes = tuple(
        Change(ResourceKey(Kind.CONNECTOR, f"c{i}"), action, after={"name": f"c{i}"})
        for i, action in enumerate(actions)
    )
    return Plan(changes=changes, cluster=CLUSTER, token="t")


def test_the_same_changes_run_without_asking_again(capsys: pytest.CaptureFixture[str]) -> None:
    _review(_plan(Action.CREATE), auto_approve=False)(_plan(Action.CREATE, Action.NOOP))
    assert "The plan is the same as the one shown." in capsys.readouterr().out


def test_other_changes_are_shown_and_asked_for_again(capsys: pytest.CaptureFixture[str]) -> None:
    review = _review(_plan(Action.CREATE), auto_approve=False)
    # No terminal here: the question cannot be asked, so the apply is refused.
    with pytest.raises(PlanError, match="without --auto-approve"):
        review(_plan(Action.ADOPT))
    assert "c0" in capsys.readouterr().out


def test_auto_approve_applies_other_changes(capsys: pytest.CaptureFixture[str]) -> None:
    _review(_plan(Action.CREATE), auto_approve=True)(_plan(Action.ADOPT))
    assert "planned again under the state lock" in capsys.readouterr().out


def test_nothing_to_do_is_shown_and_not_asked(capsys: pytest.CaptureFixture[str]) -> None:
    _review(_plan(Action.CREATE), auto_approve=False)(_plan())
    assert "No changes." in capsys.readouterr().out


def test_a_plan_file_is_told_from_manifests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OSML_PLAN_KEY", raising=False)
    manifest = tmp_path / "one.yaml"
    manifest.write_text("apiVersion: osml/v1\nkind: ModelGroup\n", "utf-8")
    assert _saved_plan((manifest,), plan_key_file=None) is None
    assert _saved_plan((tmp_path,), plan_key_file=None) is None
    saved = tmp_path / "plan.json"
    write_plan_file(_plan(Action.CREATE), saved)
    assert _saved_plan((saved,), plan_key_file=None) == _plan(Action.CREATE)
