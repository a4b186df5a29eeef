"""The JSON view of a Plan, for policy tools (OPA, conftest) and scripts.

The document is the saved-plan format of `Plan.to_dict` (docs/plan-format.md) run
through redaction, plus a `summary` of counts and `has_changes`. Its shape is versioned
by `format_version`; add keys freely, never rename or remove one without bumping it.
Called by the CLI for `osml plan --format json`. Returns a string; never prints.
Unlike a saved plan file, this view holds no secret marker internals: every credential
is the string `(sensitive)`, so it can be posted or stored anywhere.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.plans import Action, Plan
from reconciler.rendering.redacting import redact_plan


def plan_document(plan: Plan) -> dict[str, Any]:
    """The redacted plan as a JSON-ready dict, `summary` right after `token`."""
    safe = redact_plan(plan)
    document = safe.to_dict()
    ordered: dict[str, Any] = {}
    for key, value in document.items():
        ordered[key] = value
        if key == "token":
            ordered["has_changes"] = safe.has_changes
            ordered["summary"] = summary(safe)
    return ordered


def summary(plan: Plan) -> dict[str, int]:
    """One count per action (zeros included), plus `changes` and `orphans` totals."""
    counts = plan.counts()
    result = {action.value: counts[action] for action in Action}
    result["changes"] = sum(1 for c in plan.changes if c.is_change)
    result["orphans"] = len(plan.orphans)
    return result


def render_json(plan: Plan, *, indent: int | None = 2) -> str:
    """The plan document as JSON text, ending with a newline."""
    return json.dumps(plan_document(plan), indent=indent, ensure_ascii=False) + "\n"
