"""The Markdown view of a Plan: a pull-request comment.

Layout: a hidden `<!-- osml-plan -->` marker (so a CI job can find and update its own
comment), a title with the cluster and its version, the summary line and an
action | count table, a "Review carefully" list of every security-relevant note and of the
pipelines, agents and indices that use what a change deletes, re-IDs or takes offline, the
"Policy" table of the policy findings (`rendering.findings`), one
collapsible `<details>` per change with a ```diff block, then orphans and warnings.
The comment stays under GitHub's 65,536-character limit: change details are dropped,
last first, into a one-line list, with a note saying so. Called by the CLI for
`osml plan --format markdown`. Returns a string; never prints; the plan is redacted
first.
"""

from __future__ import annotations

import html
import re

from reconciler.outcomes import PARTICIPLES
from reconciler.plans import Action, Change, FieldChange, Plan
from reconciler.rendering import formatting
from reconciler.rendering.findings import markdown_section
from reconciler.rendering.redacting import redact_plan

MARKER = "<!-- osml-plan -->"
"""The first line of every comment; CI jobs search for it to update in place."""
GITHUB_LIMIT = 65_536
"""The largest comment body GitHub accepts, in characters."""

_TRUNCATED = (
    "\n_The plan is too long for one comment: {n} change(s) are listed without "
    "details. Run `osml plan` for the full plan._\n"
)
_MD_SPECIAL = re.compile(r"[\\`*_\[\]|~#$]")
_CUT = "\n_... the comment was cut here to fit the size limit. Run `osml plan`._\n"


def render_markdown(plan: Plan, *, limit: int = GITHUB_LIMIT) -> str:
    """The plan as a Markdown comment of at most `limit` characters."""
    plan = redact_plan(plan)
    shown = [c for c in plan.changes if c.is_change]
    policy = markdown_section(plan.findings, md=_md)
    head = "\n".join([MARKER, _title(plan), "", _summary(plan), *_review(shown), *policy])
    tail = "\n".join([*_orphans(plan), *_warnings(plan)])
    budget = limit - len(head) - len(tail) - len(_TRUNCATED) - 64
    body = _changes(shown, plan, budget=budget)
    document = "\n".join(part for part in (head, body, tail) if part) + "\n"
    if len(document) > limit:
        # Review notes or orphans alone overflow: cut hard rather than be refused.
        document = document[: limit - len(_CUT)] + _CUT
    return document


def _title(plan: Plan) -> str:
    cluster = plan.cluster
    version = f" (OpenSearch {_md(cluster.version)})" if cluster.version else ""
    name = cluster.cluster_name or formatting.cluster_title(cluster)
    title = f"## osml plan for {_md(name)}{version}"
    if cluster.cluster_name:
        title += f"\n\nCluster: `{cluster.url}`"
    if plan.targets:
        title += "\n\nTargeted: " + ", ".join(f"`{t}`" for t in plan.targets)
    return title


def _summary(plan: Plan) -> str:
    line = f"**{formatting.summary_line(plan)}**"
    counts = plan.counts()
    rows = [a for a in Action if a is not Action.NOOP and counts[a]]
    if not rows:
        return line
    table = ["| Action | Count |", "| --- | ---: |"]
    table += [f"| `{formatting.SYMBOLS[a]}` {a.value} | {counts[a]} |" for a in rows]
    return line + "\n\n" + "\n".join(table)


def _review(changes: list[Change]) -> list[str]:
    notes = [f"- **{_md(str(c.key))}**: {_md(n)}" for c in changes for n in c.review]
    for change in changes:
        if change.consumers:
            notes.append(f"- **{_md(str(change.key))}**: used by")
            notes += [f"  - {_md(line)}" for line in change.consumers]
    if not notes:
        return []
    return ["", "### :warning: Review carefully", "", *notes]


def _changes(changes: list[Change], plan: Plan, *, budget: int) -> str:
    """Details for as many changes as fit, then one line for each of the rest."""
    if not changes:
        return ""
    parts = ["", "### Changes", ""]
    used = sum(len(p) + 1 for p in parts)
    lines = [_line(c) for c in changes]
    # rest[i]: room the one-line list of changes[i:] needs, so details never crowd it out.
    rest = [0] * (len(lines) + 1)
    for i in range(len(lines) - 1, -1, -1):
        rest[i] = rest[i + 1] + len(lines[i]) + 1
    for index, change in enumerate(changes):
        block = _details(change, plan)
        if used + len(block) + 1 + rest[index + 1] > budget:
            parts += _short_list(lines[index:], room=budget - used)
            break
        parts.append(block)
        used += len(block) + 1
    return "\n".join(parts)


def _short_list(lines: list[str], *, room: int) -> list[str]:
    """One line per change while they fit; the note says how many lack details."""
    shown: list[str] = []
    for line in lines:
        if len(line) + 1 > room - 64:
            shown.append(f"- ... and {len(lines) - len(shown)} more")
            break
        shown.append(line)
        room -= len(line) + 1
    return [*shown, _TRUNCATED.format(n=len(lines))]


def _line(change: Change) -> str:
    return f"- `{formatting.SYMBOLS[change.action]}` {_key(change)}"


def _details(change: Change, plan: Plan) -> str:
    summary = f"<code>{_esc(formatting.SYMBOLS[change.action])}</code> {_key(change)}"
    notes = [f"- {_md(r)}" for r in change.reasons]
    notes += [f"- {_md(line)}" for line in formatting.detail_lines(change)]
    notes += [f"- references {_md(line)}" for line in formatting.reference_lines(change, plan)]
    pending = formatting.pending_dependencies(change, plan)
    if pending:
        notes.append(f"- depends on: {_md(', '.join(pending))}")
    lines = [f"<details><summary>{summary}</summary>", ""]
    if notes:
        lines += [*notes, ""]
    diff = [line for f in formatting.displayed_fields(change) for line in _diff_lines(f)]
    if diff:
        lines += [_fenced(diff), ""]
    lines.append("</details>")
    return "\n".join(lines)


def _key(change: Change) -> str:
    """`<b>Connector/x</b> will be updated (id abc)`, HTML-escaped for a summary."""
    verb = PARTICIPLES[change.action]
    extra = f" (id {_esc(change.live_id)})" if change.live_id else ""
    then = ", then deployed" if change.deploy_after and change.action is not Action.DEPLOY else ""
    first = "undeployed and " if change.undeploy_first else ""
    if change.state_only:
        verb = "recorded in the state only"
    return f"<b>{_esc(str(change.key))}</b> will be {first}{verb}{then}{extra}"


def _diff_lines(field: FieldChange) -> list[str]:
    """Diff-syntax lines: `-` old value, `+` new value, `!` for sensitive fields."""
    if field.sensitive:
        return [f"! {field.path}: (sensitive, changed)"]
    if formatting.is_multiline(field):
        hunks = formatting.text_diff(field.before, field.after)
        # Git style: the hunk header names its context, here the field's path.
        return [f"{h} {field.path}" if h.startswith("@@") else h for h in hunks]
    if formatting.is_list_change(field):
        items, _ = formatting.list_diff(field.before, field.after)
        return [f"{sign} {field.path}[]: {text}" for sign, text in items]
    lines = []
    if field.before is not None:
        lines.append(f"- {field.path}: {formatting.value_text(field.before)}")
    if field.after is not None:
        lines.append(f"+ {field.path}: {formatting.value_text(field.after)}")
    return lines


def _fenced(lines: list[str]) -> str:
    """A ```diff block whose fence is longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", "\n".join(lines))), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([f"{fence}diff", *lines, fence])


def _orphans(plan: Plan) -> list[str]:
    if not plan.orphans:
        return []
    lines = ["", "### Not in the manifests", ""]
    for orphan in plan.orphans:
        lines.append(f"- **{_md(formatting.header(orphan))}**: {_md(formatting.orphan_note(plan))}")
        lines += [f"  - {_md(r)}" for r in orphan.reasons]
    return lines


def _warnings(plan: Plan) -> list[str]:
    if not plan.warnings:
        return []
    return ["", "### Warnings", "", *(f"- {_md(w)}" for w in plan.warnings)]


def _esc(text: str) -> str:
    """For HTML blocks (`<summary>`), where Markdown is not interpreted."""
    # Names and server messages are user text: keep them from opening HTML tags.
    return html.escape(text, quote=False)


def _md(text: str) -> str:
    """For Markdown text: regexes and templates must show as written, not as markup."""
    return _esc(_MD_SPECIAL.sub(r"\\\g<0>", text))
