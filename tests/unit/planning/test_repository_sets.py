"""The repository's own manifest sets plan cleanly against an empty cluster of each profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cluster.snapshots import Snapshot
from reconciler.manifests.loading import load_manifests
from reconciler.planning import make_plan
from reconciler.plans import Action
from tests.manifest_sets import SETS

PROFILES = ["2.9.0", "2.11.0", "2.13.0", "2.19.0", "3.8.0"]


@pytest.mark.parametrize("folder", SETS, ids=lambda p: p.name)
@pytest.mark.parametrize("version", PROFILES)
def test_a_set_plans_creates_on_an_empty_cluster(folder: Path, version: str) -> None:
    desired = load_manifests([folder])
    plan = make_plan(desired, Snapshot(version=version), secrets={})
    documents = [c for c in plan.changes if not c.key.kind.is_setting]
    assert all(c.action is Action.CREATE for c in documents)
    assert len(documents) == sum(1 for d in desired if not d.key.kind.is_setting)
