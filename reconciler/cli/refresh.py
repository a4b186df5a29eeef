"""`osml plan --refresh-only` and `osml apply --refresh-only`: the state's view, refreshed.

`plan` and `apply` call these when given `--refresh-only`. The report shows how the
cluster differs from what the state index records (`planning.refreshing`): records whose
live resource vanished, fields edited by hand, models out of the deploy state osml left
them in or with a failed probe, interrupted creates. No change to the cluster is ever
proposed. `apply --refresh-only` then asks (refusing without `--auto-approve` when there
is no terminal) and, under the lock, forgets the vanished records and writes the live
values into the edited ones (`reconciler.refreshing`). Exit codes: 0 done, 1 error or a
failed write, 2 drift found with `plan --detailed-exitcode`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from reconciler.cluster.connecting import Connection
from reconciler.errors import PlanError
from reconciler.planning.refreshing import Drift, DriftKind, Refresh
from reconciler.reconciling import ApplyOptions
from reconciler.refreshing import apply_refresh, read_refresh
from reconciler.rendering import formatting
from reconciler.rendering.redacting import safe_url
from reconciler.secrets import scrub

NO_DRIFT = "No drift. The state matches the cluster."
_SYMBOLS = {
    DriftKind.VANISHED: "-",
    DriftKind.EDITED: "~",
    DriftKind.DEPLOY_STATE: "!",
    DriftKind.INTENT: "?",
}
_BLOCK = " " * 6


def show_refresh(
    conn: Connection, *, state_index: str, output_format: str, detailed_exitcode: bool
) -> None:
    """`osml plan --refresh-only`: print the report; exit 2 on drift if asked."""
    found = read_refresh(conn, state_index=state_index)
    click.echo(render_refresh(found, url=conn.url, output_format=output_format), nl=False)
    if detailed_exitcode and found.drifts:
        raise SystemExit(2)


def run_refresh(conn: Connection, *, options: ApplyOptions, auto_approve: bool) -> None:
    """`osml apply --refresh-only`: report, confirm, write the state records."""
    shown = read_refresh(conn, state_index=options.settings.state_index)
    click.echo(render_refresh(shown, url=conn.url, output_format="text"), nl=False)
    if not shown.changes_state:
        return
    if not auto_approve:
        if not sys.stdin.isatty():
            raise PlanError(
                "refusing to refresh without --auto-approve: there is no terminal to ask"
            )
        if not click.confirm("Update the state records (the cluster is not changed)?"):
            raise click.Abort
    done = apply_refresh(conn, options=options, expected=shown)
    click.echo(
        f"Refresh complete: {done.forgotten} record(s) forgotten, {done.updated} updated"
        f"{f', {len(done.failed)} failed' if done.failed else ''}."
    )
    for failure in done.failed:
        click.echo(f"  {failure}", err=True)
    if not done.ok:
        raise SystemExit(1)


def render_refresh(found: Refresh, *, url: str, output_format: str) -> str:
    """The report as text or JSON; values are live or recorded, never secrets."""
    if output_format == "json":
        return scrub(json.dumps(_as_json(found), indent=2)) + "\n"
    lines = [f"osml refresh-only plan for {safe_url(url)}", ""]
    if not found.drifts:
        lines.append(NO_DRIFT)
    else:
        lines.append("Changes outside of osml since it last applied (the cluster is not changed):")
        lines.append("")
        for drift in found.drifts:
            lines += _block(drift)
        lines.append(_summary(found))
    return scrub(formatting.printable("\n".join(lines))) + "\n"


def _block(drift: Drift) -> list[str]:
    where = f" (id {drift.live_id})" if drift.live_id else ""
    lines = [f"  {_SYMBOLS[drift.kind]} {drift.key}{where}: {drift.note}"]
    for field in drift.fields:
        before = formatting.value_text(field.before) if field.before is not None else "(none)"
        after = formatting.value_text(field.after) if field.after is not None else "(none)"
        lines.append(f"{_BLOCK}{field.path}: {before} -> {after}")
    return [*lines, ""]


def _summary(found: Refresh) -> str:
    reported = len(found.drifts) - len(found.forget) - len(found.rewrite)
    return (
        f"Refresh: {len(found.forget)} record(s) to forget, {len(found.rewrite)} to update, "
        f"{reported} reported only."
    )


def _as_json(found: Refresh) -> dict[str, Any]:
    return {
        "drift": [
            {
                "key": str(d.key),
                "kind": d.kind.value,
                "live_id": d.live_id,
                "note": d.note,
                "fields": [
                    {"path": f.path, "recorded": f.before, "live": f.after} for f in d.fields
                ],
            }
            for d in found.drifts
        ],
        "forget": [str(r.key) for r in found.forget],
        "update": [str(r.key) for r in found.rewrite],
    }
