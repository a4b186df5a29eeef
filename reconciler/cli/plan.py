"""`osml plan`: show what apply would change, in text, JSON or Markdown.

Registered on the root group by importing this module from `reconciler.cli`. The flow is
the shared reconcile cycle (`reconciler.reconciling`): load and check the manifests for
the cluster's version, resolve secrets, read one snapshot, plan; then render the chosen
view to stdout (`--out` also saves the plan file for `osml apply FILE`). Warnings go to
stderr. Exit codes: 0 done, 1 error, 2 changes present with `--detailed-exitcode`.
Nothing here writes to the cluster.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.cli.base import main
from reconciler.cli.options import ClusterOptions, cluster_options, connected
from reconciler.cli.params import KeyFile
from reconciler.mlcommons.versions import Version
from reconciler.planning import PlanOptions
from reconciler.plans import Plan
from reconciler.reconciling import plan_against, read_desired
from reconciler.rendering import render_json, render_markdown, render_text
from reconciler.resources import ResourceKey
from reconciler.secrets.encrypting import KEY_ENV

DEFAULT_PATHS = ("manifests/",)
EXIT_CHANGES = 2
"""`--detailed-exitcode`: the plan has changes (Terraform's convention)."""
FORMATS = ("text", "json", "markdown")


def _parse_targets(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> tuple[ResourceKey, ...]:
    try:
        return tuple(ResourceKey.parse(value) for value in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


_NO_COLOR = "osml.no_color"
"""Where `--no-color` leaves its mark in the click context."""


def _no_color(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_NO_COLOR] = True


no_color_option = click.option(
    "--no-color",
    is_flag=True,
    expose_value=False,
    callback=_no_color,
    help="Plain text without colour codes (also when NO_COLOR is set or TERM=dumb).",
)
"""`--no-color` for a command that prints a plan; read back by `use_color()`."""


@main.command("plan")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--format",
    "output_format",
    envvar="OSML_PLAN_FORMAT",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for a terminal, json for policy tools, markdown for a pull request.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, readable=False, path_type=Path),
    help="Also save the plan to FILE, for `osml apply FILE`.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes (0 none, 1 error).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="KIND/NAME",
    callback=_parse_targets,
    help="Plan only this resource and what it depends on (repeatable).",
)
@click.option(
    "--prune",
    envvar="OSML_PRUNE",
    is_flag=True,
    help="Plan the deletion of managed resources that left the manifests.",
)
@click.option(
    "--key-file",
    envvar="OSML_SECRET_KEY_FILE",
    type=KeyFile(),
    help=f"Key for `encrypted:` credentials (default: the {KEY_ENV} variable).",
)
@no_color_option
@cluster_options
def plan(
    paths: tuple[str, ...],
    *,
    output_format: str,
    out: Path | None,
    detailed_exitcode: bool,
    targets: tuple[ResourceKey, ...],
    prune: bool,
    key_file: Path | None,
    cluster: ClusterOptions,
) -> None:
    """Show what `osml apply` would change to make the cluster match PATHS.

    PATHS are manifest files or directories (default: manifests/). Nothing is written
    to the cluster.
    """
    options = PlanOptions(prune=prune, targets=targets)
    with connected(cluster) as conn:
        version = Version.parse(conn.version)
        desired = read_desired(paths or DEFAULT_PATHS, version=version, key_file=key_file)
        made = plan_against(conn, desired, options=options, state_index=cluster.state_index)
    if out is not None:
        try:
            made.plan.save(out)
        except OSError as exc:
            raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from exc
        click.echo(f"Saved the plan to {out}", err=True)
    click.echo(render(made.plan, output_format=output_format, color=use_color()), nl=False)
    if detailed_exitcode and made.plan.has_changes:
        raise SystemExit(EXIT_CHANGES)


def render(plan: Plan, *, output_format: str, color: bool = False) -> str:
    """The chosen view of a plan (`text`, `json` or `markdown`)."""
    if output_format == "json":
        return render_json(plan)
    if output_format == "markdown":
        return render_markdown(plan)
    return render_text(plan, color=color)


def use_color() -> bool:
    """Colour on a terminal, unless `--no-color` was given, NO_COLOR is set to anything
    (no-color.org) or TERM is `dumb`."""
    context = click.get_current_context(silent=True)
    if context is not None and context.meta.get(_NO_COLOR):
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()
