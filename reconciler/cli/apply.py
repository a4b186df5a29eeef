"""`osml apply`: plan and apply after confirmation, or apply a saved, reviewed plan.

`osml apply [PATHS]` plans, shows the plan, asks (refusing without `--auto-approve`
when there is no terminal), then executes exactly that plan. `osml apply PLANFILE`
executes a plan saved by `osml plan --out` after checking that the cluster has not moved
on since; secrets are resolved now and must match the fingerprints in the plan.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reconciler.applying.executing import Settings
from reconciler.cli.base import main
from reconciler.cli.options import ClusterOptions, cluster_options, connected
from reconciler.cli.params import DURATION_HELP, Duration, InputPath, KeyFile
from reconciler.cli.plan import no_color_option, use_color
from reconciler.errors import PlanError
from reconciler.mlcommons.versions import Version
from reconciler.planning import PlanOptions
from reconciler.plans import Plan
from reconciler.reconciling import ApplyOptions, apply_checked, plan_against, read_desired
from reconciler.rendering.progress import TextProgress
from reconciler.rendering.text import render_text
from reconciler.resources import ResourceKey
from reconciler.secrets import scrub


def _echo(line: str) -> None:
    click.echo(scrub(line))


@main.command()
@click.argument("paths", nargs=-1, type=InputPath())
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option(
    "--timeout",
    "deploy_timeout",
    default="5m",
    show_default=True,
    type=Duration(minimum=1),
    help=f"How long to wait for each deploy or undeploy ({DURATION_HELP}).",
)
@click.option(
    "--lock-timeout",
    default="0s",
    show_default=True,
    type=Duration(zero=True),
    help=f"How long to wait for the state lock when another run holds it ({DURATION_HELP}).",
)
@click.option("--prune", is_flag=True, help="Delete managed resources that left the manifests.")
@click.option("--target", "targets", multiple=True, help="Only KIND/NAME and its dependencies.")
@click.option(
    "--manifests",
    "manifest_paths",
    multiple=True,
    type=InputPath(),
    help="With a plan file: where the manifests are, for their secrets (default manifests/).",
)
@click.option("--key-file", type=KeyFile())
@no_color_option
@cluster_options
def apply(
    paths: tuple[Path, ...],
    *,
    auto_approve: bool,
    parallelism: int,
    deploy_timeout: float,
    lock_timeout: float,
    prune: bool,
    targets: tuple[str, ...],
    manifest_paths: tuple[Path, ...],
    key_file: Path | None,
    cluster: ClusterOptions,
) -> None:
    """Apply the manifests in PATHS (default manifests/), or a saved PLANFILE."""
    saved = _saved_plan(paths)
    options = ApplyOptions(
        parallelism=parallelism,
        lock_timeout=lock_timeout,
        settings=Settings(deploy_timeout=deploy_timeout, state_index=cluster.state_index),
    )
    with connected(cluster) as conn:
        sources = manifest_paths if saved else paths
        desired = read_desired(
            sources or (Path("manifests"),), version=Version.parse(conn.version), key_file=key_file
        )
        seen = None
        if saved is None:
            plan_options = PlanOptions(prune=prune, targets=_keys(targets))
            planned = plan_against(
                conn, desired, options=plan_options, state_index=cluster.state_index
            )
            saved, seen = planned.plan, planned.snapshot
            _echo(render_text(saved, color=use_color()))
            if not saved.has_changes:
                return
            _confirm(auto_approve)
        result = apply_checked(
            conn, saved, desired, observer=TextProgress(_echo), options=options, seen=seen
        )
    if not result.ok:
        sys.exit(1)


def _saved_plan(paths: tuple[Path, ...]) -> Plan | None:
    """The plan when PATHS is one plan file; None when PATHS are manifests."""
    if len(paths) != 1 or not paths[0].is_file():
        return None
    try:
        head = json.loads(paths[0].read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(head, dict) or "format_version" not in head:
        return None
    return Plan.from_dict(head)


def _confirm(auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise PlanError("refusing to apply without --auto-approve: there is no terminal to ask")
    if not click.confirm("Apply these changes?", default=False):
        raise click.Abort


def _keys(targets: tuple[str, ...]) -> tuple[ResourceKey, ...]:
    try:
        return tuple(ResourceKey.parse(t) for t in targets)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--target") from exc
