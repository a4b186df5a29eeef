"""The report of `osml plan --probe-offline`: each model's and agent's probe against the
offline sandbox.

`render_probe_runs` turns the `ProbeRun`s the rehearsal returns into text (after the plan
on a terminal) or Markdown (a section of a pull-request comment). Server and provider texts
were scrubbed of secrets before they got here; control characters are neutralised here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from reconciler.outcomes import ProbeRun
from reconciler.rendering import formatting


def render_probe_runs(runs: Sequence[ProbeRun], *, profile: str, markdown: bool = False) -> str:
    """The report; one line (text) or table row (Markdown) per probed model or agent."""
    passed = sum(1 for run in runs if run.passed)
    total = f"{passed} of {len(runs)} probes passed."
    where = f"sandbox {profile}, provider emulators, dummy secrets, nothing sent to the cluster"
    if markdown:
        rows = [
            f"| `{run.key}` | {'passed' if run.passed else '**failed**'} | {_cell(run.detail)} |"
            for run in runs
        ]
        # Markdown shows the reason of a failure as it is; the table says it failed.
        head = ["### Offline probes", "", f"{where}. {total}", ""]
        table = ["| Resource | Probe | Answer |", "|---|---|---|", *rows] if runs else []
        return "\n".join([*head, *table, ""])
    lines = [f"Offline probes ({where}):"]
    lines += [f"  {run.key}: {_outcome(run)}" for run in runs]
    lines.append(total if runs else "No model or agent has a probe.")
    return formatting.printable("\n".join(lines)) + "\n"


def _outcome(run: ProbeRun) -> str:
    """`probe passed: ...`, `probe failed (400): ...`, or why the probe never ran."""
    if run.passed:
        return f"probe passed: {run.detail}"
    if run.detail.startswith("probe failed"):
        return run.detail
    return f"probe not run: {run.detail}"


def _cell(text: str) -> str:
    flat = " ".join(formatting.printable(text).split())
    return html.escape(flat, quote=False).replace("|", "\\|")
