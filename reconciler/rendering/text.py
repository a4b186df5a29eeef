"""The text view of a Plan: what `osml plan` prints on a terminal.

Terraform-like: one block per change with its symbol, key and live ID, then the
reasons (`# ...`), review notes (`! ...`), connector strategy and downtime, the references
of a pipeline or agent and the IDs they resolve to, the consumers a change affects, changed
dependencies and field-level `before -> after` lines; then the resources left out of
the manifests, the warnings and the summary line. Called by the CLI, which decides on
colour (a TTY without NO_COLOR). Returns a string; never prints, never sees a secret
(the plan is redacted first: only the part it shows, since no-op changes print nothing).
"""

from __future__ import annotations

import dataclasses

from reconciler.plans import Action, Change, FieldChange, Plan
from reconciler.rendering import formatting
from reconciler.rendering.redacting import redact_plan

_ANSI = {
    "green": "32",
    "yellow": "33",
    "red": "31",
    "magenta": "35",
    "cyan": "36",
    "bold": "1",
    "dim": "2",
}
_ACTION_COLOURS = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.REPLACE: "magenta",
    Action.DELETE: "red",
    Action.DEPLOY: "cyan",
    Action.UNDEPLOY: "red",
    Action.REDEPLOY: "magenta",
    Action.ADOPT: "cyan",
    Action.PROBE: "cyan",
}
_FIELD_COLOURS = {"+": "green", "-": "red", "~": "yellow"}
_BLOCK = " " * 6
"""Indent of the lines inside a change block, past the 3-wide symbol column."""


class _Painter:
    """Wraps text in ANSI codes, or leaves it alone when colour is off."""

    def __init__(self, *, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str | None) -> str:
        if not self.color or style is None:
            return text
        return f"\x1b[{_ANSI[style]}m{text}\x1b[0m"


def render_text(plan: Plan, *, color: bool = False) -> str:
    """The whole plan as terminal text, ending with the summary line and a newline."""
    # No-op changes print nothing and count toward nothing (neither the summary line
    # nor `depends on:` lists them): left out before redacting, so that a large plan
    # with few changes redacts only those, and nothing unredacted is held here.
    # The no-ops a shown consumer references stay, for the IDs its references resolve to.
    named = formatting.referenced(c for c in plan.changes if c.is_change)
    kept = tuple(c for c in plan.changes if c.is_change or c.key in named)
    plan = redact_plan(dataclasses.replace(plan, changes=kept))
    paint = _Painter(color=color)
    sections = [_title(plan)]
    shown = [c for c in plan.changes if c.is_change]
    if shown:
        blocks = ["\n".join(_change_block(c, plan, paint)) for c in shown]
        sections.append(_legend(shown))
        sections.append("osml will perform the following actions:\n\n" + "\n\n".join(blocks))
    if plan.orphans:
        sections.append(_orphans(plan, paint))
    if plan.warnings:
        sections.append("Warnings:\n" + "\n".join(f"  {w}" for w in plan.warnings))
    sections.append(paint(formatting.summary_line(plan), "bold"))
    # Live data (descriptions, request bodies, server messages) reaches a terminal here.
    return formatting.printable("\n\n".join(sections), keep_colour=color) + "\n"


def _title(plan: Plan) -> str:
    version = f", OpenSearch {plan.cluster.version}" if plan.cluster.version else ""
    lines = [f"osml plan for {formatting.cluster_title(plan.cluster)}{version}"]
    if plan.targets:
        lines.append("Targeted: " + ", ".join(str(t) for t in plan.targets))
    return "\n".join(lines)


def _legend(changes: list[Change]) -> str:
    present = {c.action for c in changes}
    used = [f"{formatting.SYMBOLS[a]} {a.value}" for a in Action if a in present]
    return "Symbols: " + ", ".join(used)


def _change_block(change: Change, plan: Plan, paint: _Painter) -> list[str]:
    symbol = formatting.SYMBOLS[change.action]
    style = _ACTION_COLOURS.get(change.action)
    head = f"{paint(f'{symbol:>3}', style)} {formatting.header(change)}"
    lines = [head]
    lines += [f"{_BLOCK}# {reason}" for reason in change.reasons]
    lines += [f"{_BLOCK}{paint('! ' + note, 'yellow')}" for note in change.review]
    lines += [f"{_BLOCK}{line}" for line in formatting.detail_lines(change)]
    refs = formatting.reference_lines(change, plan)
    if refs:
        lines += [f"{_BLOCK}references:", *(f"{_BLOCK}  {line}" for line in refs)]
    if change.consumers:
        lines += [
            f"{_BLOCK}consumers:",
            *(f"{_BLOCK}{line}" for line in formatting.consumer_lines(change)),
        ]
    pending = formatting.pending_dependencies(change, plan)
    if pending:
        lines.append(f"{_BLOCK}depends on: {', '.join(pending)}")
    for field in formatting.displayed_fields(change):
        lines += _field_lines(field, paint)
    return lines


def _field_lines(field: FieldChange, paint: _Painter) -> list[str]:
    symbol = formatting.field_symbol(field)
    mark = paint(symbol, _FIELD_COLOURS[symbol])
    if field.sensitive:
        return [f"{_BLOCK}{mark} {field.path}: (sensitive, changed)"]
    if formatting.is_multiline(field):
        hunks = formatting.text_diff(field.before, field.after)
        return [f"{_BLOCK}{mark} {field.path}:", *(_diff_line(h, paint) for h in hunks)]
    if formatting.is_list_change(field):
        return _list_lines(field, mark, paint)
    return [f"{_BLOCK}{mark} {field.path}: {_values(field)}"]


def _list_lines(field: FieldChange, mark: str, paint: _Painter) -> list[str]:
    items, kept = formatting.list_diff(field.before, field.after)
    unchanged = f" ({kept} unchanged)" if kept else ""
    lines = [f"{_BLOCK}{mark} {field.path}{unchanged}:"]
    lines += [f"{_BLOCK}    {paint(sign, _FIELD_COLOURS[sign])} {text}" for sign, text in items]
    return lines


def _values(field: FieldChange) -> str:
    if field.before is None:
        return formatting.value_text(field.after)
    if field.after is None:
        return formatting.value_text(field.before)
    before = formatting.value_text(field.before)
    return f"{before} -> {formatting.value_text(field.after)}"


def _diff_line(line: str, paint: _Painter) -> str:
    style = {"+": "green", "-": "red", "@": "dim"}.get(line[:1])
    return f"{_BLOCK}    {paint(line, style)}"


def _orphans(plan: Plan, paint: _Painter) -> str:
    lines = ["Not in the manifests (managed by osml, left in place):"]
    for orphan in plan.orphans:
        lines.append(f"  {formatting.header(orphan)}: {formatting.orphan_note(plan)}")
        lines += [f"{_BLOCK}# {reason}" for reason in orphan.reasons]
    return paint(lines[0], "bold") + "\n" + "\n".join(lines[1:])
