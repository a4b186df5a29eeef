"""User-facing messages carry no internal "§" reference numbers.

The reference's section numbers belong in code comments and docs; a user reading an error,
a warning, a plan reason or a review note gets the rule in words. Three nets: every string
literal of osml that is not a docstring (the sandbox, which answers with the server's own
texts, aside); every problem the manifest check tables produce; every planning case's plan.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from reconciler.rendering import render_json, render_text
from tests.unit.manifests import test_checking, test_checking_connectors
from tests.unit.manifests.checkcases import run
from tests.unit.planning.casefiles import CASES, case_names, run_case

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
MARK = "§"


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (also attribute docstrings)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            for statement in node.body:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    found.add(id(statement.value))
    return found


def literals_with_the_mark() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "sandbox" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text("utf-8"))
        docs = _docstrings(tree)
        found += [
            f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and MARK in node.value
            and id(node) not in docs
        ]
    return found


def test_no_string_literal_of_osml_holds_a_section_mark() -> None:
    assert literals_with_the_mark() == []


def test_the_scan_would_see_one() -> None:
    tree = ast.parse('def f():\n    """See §2.9."""\n    return "refused (§2.9)"\n')
    docs = _docstrings(tree)
    messages = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]
    assert messages == ["refused (§2.9)"]


TABLES = [*test_checking.CASES, *test_checking_connectors.CASES]


@pytest.mark.parametrize(
    ("documents", "version"),
    [(documents, versions[-1]) for _, versions, documents, _ in TABLES],
    ids=[name for name, *_ in TABLES],
)
def test_no_check_message_holds_a_section_mark(
    tmp_path: Path, documents: list[dict[str, object]], version: str
) -> None:
    assert [row for row in run(tmp_path, documents, version) if MARK in row[2]] == []


@pytest.mark.parametrize("name", case_names())
def test_no_plan_text_holds_a_section_mark(name: str) -> None:
    dumped, plan, _ = run_case(CASES / name)
    assert MARK not in dumped
    if plan is not None:
        assert MARK not in render_text(plan)
        assert MARK not in render_json(plan)
