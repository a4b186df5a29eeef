"""The fast fill leaves what an `osml apply` through the API leaves (`filling.py`).

The same fleet goes into two sandboxes, once applied by osml request by request and once
filled in bulk; every document of every index osml and ML Commons write must be the
same, IDs (random) and times aside, and the filled cluster must plan with no change.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.bench.filling import FillError, fast_fill
from tests.bench.fleets import Fleet, RemoteSandbox, remote_sandbox
from tests.integration import support

pytestmark = pytest.mark.bench
INDICES = (
    ".plugins-ml-connector", ".plugins-ml-model-group", ".plugins-ml-model",
    ".plugins-ml-task", "osml-state",
)  # fmt: skip
TIMES = {
    "created_time", "last_updated_time", "last_registered_time", "last_deployed_time",
    "create_time", "last_update_time", "updated_at",
}  # fmt: skip
"""Fields that hold the time of the write."""
RANDOM = {"credential", "fingerprint_key", "fingerprints", "fingerprint", "model_version"}
"""Fields that differ between two sandboxes or two keys by construction (ciphertexts
under another master key, HMACs under another fingerprint key, a record's hash of
those), or by order: a model's version in its group is its place in the order of
registers, which an apply sends side by side (`versions` compares those per group)."""


def stored(sandbox: RemoteSandbox) -> dict[str, list[str]]:
    """Every document of `INDICES`, IDs replaced by names, canonical JSON, sorted."""
    state = sandbox.admin("GET", "state?docs=true")["indices"]
    docs = {index: state.get(index, {}).get("docs", {}) for index in INDICES}
    names = {
        doc_id: f"<{source['name']}>"
        for index in INDICES[:3]
        for doc_id, source in docs[index].items()
    }
    return {
        index: sorted(
            json.dumps(_neutral(source, names), sort_keys=True) for source in found.values()
        )
        for index, found in docs.items()
    }


def versions(sandbox: RemoteSandbox) -> dict[str, list[str]]:
    """Each group's model versions (by group name), sorted."""
    state = sandbox.admin("GET", "state?docs=true")["indices"]
    groups = {i: s["name"] for i, s in state[".plugins-ml-model-group"]["docs"].items()}
    found: dict[str, list[str]] = {}
    for model in state[".plugins-ml-model"]["docs"].values():
        found.setdefault(groups[model["model_group_id"]], []).append(model["model_version"])
    return {group: sorted(v) for group, v in found.items()}


def hashed(sandbox: RemoteSandbox) -> bool:
    """Whether every record's `spec_hash` is the hash of what it says was applied (the
    lifecycle aside): it hashes IDs and fingerprints, so only this can be compared."""
    records = sandbox.admin("GET", "state?docs=true")["indices"]["osml-state"]["docs"]
    for source in records.values():
        if source.get("doc_type") != "record":
            continue
        applied = {k: v for k, v in source["applied"].items() if k != "lifecycle"}
        canonical = json.dumps(applied, sort_keys=True, separators=(",", ":"))
        if source["spec_hash"] != "sha256:" + hashlib.sha256(canonical.encode()).hexdigest():
            return False
    return True


def _neutral(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict) and "spec_hash" in value:
        value = {**value, "spec_hash": "<hash>"}  # checked by `hashed`
    if isinstance(value, dict):
        return {
            k: ("<time>" if k in TIMES else "<random>" if k in RANDOM else _neutral(v, names))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_neutral(v, names) for v in value]
    if isinstance(value, str):
        return names.get(value, value)
    return value


def test_the_fill_stores_what_an_apply_stores(tmp_path: Path) -> None:
    fleet = Fleet(30)
    paths = support.write(tmp_path / "m", fleet.docs())
    with remote_sandbox() as applied, remote_sandbox() as filled:
        assert support.apply(applied.url, paths).ok
        assert fast_fill(filled, paths) == fleet.size
        expected, got = stored(applied), stored(filled)
        assert len(got[".plugins-ml-model"]) == fleet.models
        assert len(got["osml-state"]) == fleet.size + 1  # the records and the meta document
        for index in INDICES:
            assert got[index] == expected[index], index
        assert versions(filled) == versions(applied)
        assert hashed(applied) and hashed(filled)
        assert support.actions(support.plan(filled.url, paths)) == {}


def test_the_fill_refuses_anything_but_creates(tmp_path: Path) -> None:
    fleet = Fleet(10)
    paths = support.write(tmp_path / "m", fleet.docs())
    with remote_sandbox() as sandbox:
        fast_fill(sandbox, paths)
        drifted = support.write(tmp_path / "d", fleet.docs(drifted=fleet.drift(1)))
        with pytest.raises(FillError, match="only creates"):
            fast_fill(sandbox, drifted)
