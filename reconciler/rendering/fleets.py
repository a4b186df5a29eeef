"""Views of a fleet run (`--all-envs`): one section per environment, one summary.

`cli/fleet.py` runs every environment and hands the outcomes here as `Member`s, each
with its plan, its apply result or its error. The text view prints each environment's
plan under a heading, then a summary line per environment; the Markdown view is one
pull-request comment (the same hidden marker as a single plan's) with a summary table
and a section per environment; the JSON view is one document with each environment's
plan document (`plan_document`) or error. Like every view, these redact before reading
and never print.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from reconciler.findings import errors
from reconciler.outcomes import ApplyResult
from reconciler.plans import Plan
from reconciler.rendering import formatting
from reconciler.rendering.findings import count_text, finding_lines
from reconciler.rendering.jsonview import plan_document
from reconciler.rendering.markdown import GITHUB_LIMIT, MARKER, render_markdown
from reconciler.rendering.progress import summary_line as apply_summary_line
from reconciler.rendering.text import render_text

FLEET_FORMAT = 1
"""`format_version` of the fleet JSON document; keys may be added, never renamed."""


@dataclasses.dataclass(frozen=True)
class Member:
    """What one environment of a fleet run came to."""

    name: str
    """The environment's name (its file's stem)."""
    file: str
    """Its environment file."""
    plan: Plan | None = None
    """The plan made (or applied), when it got that far."""
    result: ApplyResult | None = None
    """The apply's result, for `apply --all-envs` when something was applied."""
    error: str | None = None
    """Why it failed, when it did (already scrubbed of secrets)."""

    @property
    def ok(self) -> bool:
        """No error, and no failed change."""
        return self.error is None and (self.result is None or self.result.ok)

    def summary(self) -> str:
        """One line: the plan's or the apply's summary, or the error."""
        if self.error is not None:
            return f"failed: {self.error.splitlines()[0]}"
        if self.result is not None:
            return apply_summary_line(self.result)
        if self.plan is not None:
            blocking = errors(self.plan.findings)
            policy = f" Policy: {count_text(self.plan.findings)}." if blocking else ""
            return formatting.summary_line(self.plan) + policy
        return "nothing was done"


def failed_names(members: Sequence[Member]) -> list[str]:
    """The environments that failed, in order."""
    return [m.name for m in members if not m.ok]


def render_fleet_summary(members: Sequence[Member]) -> str:
    """`Fleet: 2 environments, 1 failed (prod).` and a line per environment."""
    width = max((len(m.name) for m in members), default=0)
    lines = [f"  {m.name.ljust(width)}  {formatting.printable(m.summary())}" for m in members]
    failed = failed_names(members)
    head = f"Fleet: {_count(len(members), 'environment')}, {len(failed)} failed"
    head += f" ({', '.join(failed)})." if failed else "."
    return "\n".join([head, *lines]) + "\n"


def render_fleet_text(members: Sequence[Member], *, color: bool = False) -> str:
    """Each environment's plan under a heading, then the fleet summary."""
    parts = []
    for member in members:
        parts.append(f"=== Environment {member.name} ({member.file})\n")
        if member.plan is not None:
            parts.append(render_text(member.plan, color=color))
            parts.extend(f"{line}\n" for line in finding_lines(member.plan.findings))
        if member.error is not None:
            parts.append(f"Error: {formatting.printable(member.error)}\n")
        parts.append("\n")
    parts.append(render_fleet_summary(members))
    return "".join(parts)


def render_fleet_markdown(members: Sequence[Member], *, limit: int = GITHUB_LIMIT) -> str:
    """One comment: the marker, a summary table, then a section per environment."""
    failed = failed_names(members)
    head = [
        MARKER,
        f"## osml plan for {_count(len(members), 'environment')}",
        "",
        f"**{len(failed)} failed: {', '.join(failed)}**" if failed else "**All planned.**",
        "",
        "| Environment | Cluster | Plan |",
        "| --- | --- | --- |",
        *(_row(m) for m in members),
    ]
    room = max(2048, (limit - sum(len(h) + 1 for h in head)) // max(len(members), 1) - 128)
    sections = [_section(m, limit=room) for m in members]
    return "\n".join([*head, "", *sections]).rstrip("\n") + "\n"


def render_fleet_json(members: Sequence[Member]) -> str:
    """The fleet document: `ok`, `failed` and each environment's plan document or error."""
    document: dict[str, Any] = {
        "format_version": FLEET_FORMAT,
        "ok": not failed_names(members),
        "failed": failed_names(members),
        "environments": [_member_document(m) for m in members],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _member_document(member: Member) -> dict[str, Any]:
    document: dict[str, Any] = {"name": member.name, "file": member.file, "ok": member.ok}
    if member.error is not None:
        document["error"] = member.error
    document["plan"] = plan_document(member.plan) if member.plan is not None else None
    if member.result is not None:
        document["apply"] = {
            "ok": member.result.ok,
            "summary": apply_summary_line(member.result),
            "counts": dict(sorted(member.result.counts().items())),
        }
    return document


def _row(member: Member) -> str:
    cluster = _cell(formatting.cluster_title(member.plan.cluster)) if member.plan else ""
    return f"| `{member.name}` | {cluster} | {_cell(member.summary())} |"


def _section(member: Member, *, limit: int) -> str:
    title = f"### Environment `{member.name}` ({_cell(member.file)})"
    if member.plan is None:
        return f"{title}\n\n**Failed:** {_cell(member.error or '')}\n"
    body = render_markdown(member.plan, limit=limit).removeprefix(MARKER + "\n")
    # The plan's own title becomes a line under the environment's heading.
    body = body.replace("## osml plan for ", "Plan for ", 1)
    failure = f"\n**Failed:** {_cell(member.error)}\n" if member.error else ""
    return f"{title}\n\n{body}{failure}"


def _cell(text: str) -> str:
    return formatting.printable(text).replace("|", "\\|").replace("\n", " ")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
