"""Planner cases: desired manifests + a live snapshot -> the expected plan dump.

Each folder under `cases/` is one scenario (gitops-engine `pkg/diff/testdata` style). Set
`OSML_UPDATE_GOLDEN=1` to rewrite `expected.txt` from the current planner, then review the
diff before committing.
"""

from __future__ import annotations

import json
import os

import pytest

from reconciler.plans import Plan
from tests.unit.planning.casefiles import CASES, case_names, run_case

UPDATE = os.environ.get("OSML_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("name", case_names())
def test_case(name: str) -> None:
    folder = CASES / name
    text, _, _ = run_case(folder)
    expected = folder / "expected.txt"
    if UPDATE or not expected.exists():
        expected.write_text(text, "utf-8")
    assert text == expected.read_text("utf-8")


@pytest.mark.parametrize("name", case_names())
def test_case_plan_never_holds_a_secret_and_round_trips(name: str) -> None:
    _, plan, data = run_case(CASES / name)
    if plan is None:
        return
    document = json.dumps(plan.to_dict())
    for value in data.get("secrets", {}).values():
        assert value not in document
    assert Plan.from_dict(json.loads(document)) == plan


@pytest.mark.parametrize("name", case_names())
def test_case_changes_come_after_their_dependencies(name: str) -> None:
    _, plan, _ = run_case(CASES / name)
    if plan is None:
        return
    seen = set()
    for change in plan.changes:
        assert set(change.depends_on) <= seen, change.key
        seen.add(change.key)
