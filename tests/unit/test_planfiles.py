"""The saved-plan file: what is verified on reading, and every way an edit is caught."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import PlanError
from reconciler.planfiles import canonical, read_document, read_plan_file, write_plan_file
from reconciler.secrets.encrypting import SecretKey
from tests.unit.rendering.samples import every_action_plan

Edit = Callable[[dict[str, Any]], None]


def _body(doc: dict[str, Any]) -> None:
    change = next(c for c in doc["changes"] if c["after"])
    change["after"]["description"] = "something else"


def _endpoint(doc: dict[str, Any]) -> None:
    change = next(c for c in doc["changes"] if c["kind"] == "Connector" and c["after"])
    change["after"].setdefault("parameters", {})["endpoint"] = "evil.example.com"


def _order(doc: dict[str, Any]) -> None:
    doc["changes"].reverse()


def _added(doc: dict[str, Any]) -> None:
    extra = json.loads(json.dumps(doc["changes"][0]))
    extra["name"], extra["key"] = "extra", f"{extra['kind']}/extra"
    doc["changes"].append(extra)


def _removed(doc: dict[str, Any]) -> None:
    doc["changes"].pop()


def _token(doc: dict[str, Any]) -> None:
    doc["token"] = "sha256:" + "0" * 64


EDITS: dict[str, Edit] = {
    "body": _body,
    "endpoint": _endpoint,
    "order": _order,
    "added change": _added,
    "removed change": _removed,
    "token": _token,
}


def _saved(tmp_path: Path, *, key: SecretKey | None = None) -> Path:
    path = tmp_path / "plan.json"
    write_plan_file(every_action_plan(), path, key=key)
    return path


def _edit(path: Path, edit: Edit, *, recompute: bool = False) -> None:
    """Apply `edit` to the file; `recompute=True` also fixes the digest as a forger would."""
    doc = json.loads(path.read_text("utf-8"))
    edit(doc)
    if recompute:
        body = {k: v for k, v in doc.items() if k != "integrity"}
        doc["integrity"]["digest"] = "sha256:" + hashlib.sha256(canonical(body)).hexdigest()
    path.write_text(json.dumps(doc, indent=2), "utf-8")


def test_an_unsigned_file_reads_back_as_the_same_plan(tmp_path: Path) -> None:
    plan, integrity = read_plan_file(_saved(tmp_path))
    assert plan == every_action_plan()
    assert integrity.key_id is None and not integrity.verified
    assert "not signed" in integrity.describe()


def test_a_signed_file_is_verified_with_its_key(tmp_path: Path) -> None:
    key = SecretKey.generate()
    path = _saved(tmp_path, key=key)
    plan, integrity = read_plan_file(path, key=key)
    assert plan == every_action_plan()
    assert (integrity.key_id, integrity.verified) == (key.key_id, True)
    assert "signature verified" in integrity.describe()
    assert key.to_text() not in path.read_text("utf-8")


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_any_edit_is_refused(tmp_path: Path, edit: str, signed: bool) -> None:
    key = SecretKey.generate() if signed else None
    path = _saved(tmp_path, key=key)
    _edit(path, EDITS[edit])
    with pytest.raises(PlanError, match=r"changed after it was made .*does not match its digest"):
        read_plan_file(path, key=key)


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_forger_who_recomputes_the_digest_is_caught_by_the_signature(
    tmp_path: Path, edit: str
) -> None:
    key = SecretKey.generate()
    path = _saved(tmp_path, key=key)
    _edit(path, EDITS[edit], recompute=True)
    with pytest.raises(PlanError, match="its signature does not match"):
        read_plan_file(path, key=key)


def test_a_removed_signature_is_refused_where_a_key_is_set(tmp_path: Path) -> None:
    key = SecretKey.generate()
    path = _saved(tmp_path, key=key)

    def strip(doc: dict[str, Any]) -> None:
        _body(doc)
        del doc["integrity"]["signature"], doc["integrity"]["key_id"]

    _edit(path, strip, recompute=True)
    with pytest.raises(PlanError, match="not signed, but a plan key is configured"):
        read_plan_file(path, key=key)


def test_a_recomputed_digest_passes_without_a_key(tmp_path: Path) -> None:
    """What a plain digest does not protect against, stated as a test: without a plan
    key, someone who recomputes the digest is not detected (docs/plan-format.md)."""
    path = _saved(tmp_path)
    _edit(path, _body, recompute=True)
    plan, _ = read_plan_file(path)
    assert any((c.after or {}).get("description") == "something else" for c in plan.changes)


def test_a_signed_file_needs_its_key_to_be_applied(tmp_path: Path) -> None:
    key = SecretKey.generate()
    path = _saved(tmp_path, key=key)
    with pytest.raises(PlanError, match=f"signed with plan key {key.key_id}; give that key"):
        read_plan_file(path)
    _, integrity = read_plan_file(path, require_verified=False)
    assert (integrity.key_id, integrity.verified) == (key.key_id, False)
    assert "signature not verified" in integrity.describe()


def test_another_key_is_named(tmp_path: Path) -> None:
    key, other = SecretKey.generate(), SecretKey.generate()
    path = _saved(tmp_path, key=key)
    with pytest.raises(PlanError, match=f"{key.key_id}, but the key given is {other.key_id}"):
        read_plan_file(path, key=other)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (1, "version 1 carries no integrity digest"),
        (2, "version 2 is not supported .*saved by an older osml"),
        (4, r"version 4 is not supported \(expected 3\)$"),
    ],
)
def test_other_format_versions_are_refused(tmp_path: Path, version: int, message: str) -> None:
    path = _saved(tmp_path)
    doc = json.loads(path.read_text("utf-8"))
    doc["format_version"] = version
    doc.pop("integrity")
    path.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(PlanError, match=message):
        read_plan_file(path)


def test_a_missing_integrity_block_is_refused(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _edit(path, lambda doc: doc.pop("integrity"))
    with pytest.raises(PlanError, match="has no integrity digest"):
        read_plan_file(path)


@pytest.mark.parametrize("text", ["apiVersion: osml/v1\n", "[1, 2]", '{"kind": "x"}'])
def test_other_files_are_not_plan_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(text, "utf-8")
    assert read_document(path) is None
    with pytest.raises(PlanError, match="not an osml plan file"):
        read_plan_file(path)


def test_a_truncated_plan_file_is_named_as_such(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    path.write_text(path.read_text("utf-8")[:300], "utf-8")
    with pytest.raises(PlanError, match="the plan file is damaged"):
        read_document(path)
