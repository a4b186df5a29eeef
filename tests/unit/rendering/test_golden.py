"""Every view of every sample plan, compared with a golden file.

Set OSML_UPDATE_GOLDEN=1 to rewrite the files after an intended change, then read the
diff before committing it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.plans import Plan
from reconciler.rendering import render_json, render_markdown, render_text
from tests.unit.rendering.samples import PLANS

GOLDEN = Path(__file__).parent / "golden"
VIEWS: dict[str, tuple[str, Callable[[Plan], str]]] = {
    "text": ("txt", render_text),
    "color": ("ansi.txt", lambda plan: render_text(plan, color=True)),
    "json": ("json", render_json),
    "markdown": ("md", render_markdown),
}
# Colour codes are checked on the richest plan only; the other views on every plan.
CASES = [(n, v) for n in sorted(PLANS) for v in ("text", "json", "markdown")]
CASES.append(("every_action", "color"))


@pytest.mark.parametrize(("name", "view"), CASES)
def test_matches_golden(name: str, view: str) -> None:
    suffix, render = VIEWS[view]
    output = render(PLANS[name]())
    path = GOLDEN / f"{name}.{suffix}"
    if os.environ.get("OSML_UPDATE_GOLDEN") == "1":
        path.write_text(output, "utf-8")
    assert output == path.read_text("utf-8")
