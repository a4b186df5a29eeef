"""Text and Markdown views of policy findings (`reconciler.findings`).

The CLI prints `finding_lines` after a text plan and after `osml validate`'s problems;
the Markdown plan includes `markdown_section` as its "Policy" section. Finding messages
never hold a secret value (rules name a header, never its value), and Markdown escapes
user text as the rest of the comment does. Returns strings; never prints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reconciler.findings import Finding, FindingSeverity

_MARKS = {FindingSeverity.ERROR: ":x:", FindingSeverity.WARNING: ":warning:",
          FindingSeverity.INFO: ":information_source:"}  # fmt: skip


def count_text(findings: Sequence[Finding]) -> str:
    """`2 errors, 1 warning` (zero counts left out); `no findings` when empty."""
    parts = []
    for severity in FindingSeverity:
        n = sum(1 for f in findings if f.severity is severity)
        if n:
            parts.append(f"{n} {severity.value}{'' if n == 1 else 's'}")
    return ", ".join(parts) or "no findings"


def finding_lines(findings: Sequence[Finding]) -> list[str]:
    """`Policy: ...` and one line per finding with its fix hint; empty when none."""
    if not findings:
        return []
    lines = [f"Policy: {count_text(findings)}."]
    for finding in findings:
        lines.append(f"  {finding}")
        if finding.hint:
            lines.append(f"      fix: {finding.hint}")
    return lines


def markdown_section(findings: Sequence[Finding], *, md: Callable[[str], str]) -> list[str]:
    """The `### Policy` section: a table of findings, errors first; empty when none.
    `md` is the comment's escaping function for user text."""
    if not findings:
        return []
    escape = md
    rows = ["| | Rule | Resource | Where | Finding |", "| --- | --- | --- | --- | --- |"]
    order = list(FindingSeverity)
    for f in sorted(findings, key=lambda f: order.index(f.severity)):
        hint = f" _Fix: {escape(f.hint)}_" if f.hint else ""
        rows.append(
            f"| {_MARKS[f.severity]} {f.severity.value} | `{escape(f.rule)}` | "
            f"{escape(f.resource or '')} | {escape(f.where())} | {escape(f.message)}{hint} |"
        )
    blocking = sum(1 for f in findings if f.is_error)
    note = (
        f"\n{blocking} error finding(s): `osml apply` refuses this plan unless "
        "`--allow-policy` names their rules."
        if blocking
        else ""
    )
    return ["", f"### Policy ({count_text(findings)})", "", *rows, *([note] if note else [])]
