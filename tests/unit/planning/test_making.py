"""The entry point: plan metadata, secrets, and problems gathered into one PlanError."""

from __future__ import annotations

import json

import pytest

from reconciler.cluster.snapshots import Snapshot
from reconciler.errors import PlanError
from reconciler.manifests.loading import load_manifests
from reconciler.planning import PlanOptions, make_plan
from reconciler.plans import Action
from tests.unit.planning.casefiles import CASES, read_live, read_secrets

SWAP_CASE = CASES / "connector-update-swap-2.19"


def test_plan_carries_the_cluster_identity_token_and_options() -> None:
    data = json.loads((SWAP_CASE / "live.json").read_text("utf-8"))
    snapshot = read_live(data)
    options = PlanOptions(prune=True, cluster_url="https://c:9200")
    plan = make_plan(
        load_manifests([SWAP_CASE / "desired"]),
        snapshot,
        secrets=read_secrets(data),
        options=options,
        now="2026-01-01T00:00:00Z",
    )
    assert plan.token == snapshot.token()
    assert (plan.cluster.url, plan.cluster.version) == ("https://c:9200", "2.19.0")
    assert plan.prune and plan.created_at == "2026-01-01T00:00:00Z"
    assert plan.osml_version


def test_credentials_without_a_resolved_secret_count_as_changed() -> None:
    data = json.loads((SWAP_CASE / "live.json").read_text("utf-8"))
    data["secrets"] = {}  # nothing resolved: nothing to compare with
    plan = make_plan(
        load_manifests([SWAP_CASE / "desired"]), read_live(data), secrets=read_secrets(data)
    )
    change = plan.get(next(c.key for c in plan.changes if c.key.kind.value == "Connector"))
    assert change is not None
    assert [f.path for f in change.fields if f.sensitive] == ["credential.openAI_key"]
    assert all(f.before is None and f.after is None for f in change.fields if f.sensitive)


def test_every_problem_is_reported_in_one_error() -> None:
    data = json.loads((CASES / "adopt-ambiguous-error-3.8" / "live.json").read_text("utf-8"))
    data["model_groups"].append({"id": "g-2", "source": {"name": "generative"}})
    with pytest.raises(PlanError) as caught:
        make_plan(
            load_manifests([CASES / "adopt-ambiguous-error-3.8" / "desired"]),
            read_live(data),
            secrets={},
        )
    message = str(caught.value)
    assert "Connector/openai-chat: 2 live connectors" in message
    assert "ModelGroup/generative: 2 live model groups" in message


def test_an_empty_manifest_set_on_an_empty_cluster_plans_nothing() -> None:
    plan = make_plan(load_manifests([]), Snapshot(version="3.8.0"), secrets={})
    assert plan.changes == () and not plan.has_changes


def test_noop_resources_stay_in_the_plan_for_counting() -> None:
    data = json.loads((CASES / "noop-2.19" / "live.json").read_text("utf-8"))
    plan = make_plan(
        load_manifests([CASES / "noop-2.19" / "desired"]),
        read_live(data),
        secrets=read_secrets(data),
    )
    assert plan.counts() == {Action.NOOP: 3}
