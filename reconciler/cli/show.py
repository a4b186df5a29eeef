"""`osml show PLANFILE`: a saved plan in any view, as `terraform show` does; no cluster.

Registered on the root group by importing this module from `reconciler.cli`. The file is
verified first (`reconciler.planfiles`): an altered one is refused, exit 1. Whether it
was signed, and whether the signature was checked, goes to stderr; the view (the same
renderers as `osml plan`) goes to stdout, so it can be posted or piped as it is.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.base import main
from reconciler.cli.params import InputPath
from reconciler.cli.plan import FORMATS, render, use_color
from reconciler.cli.plankeys import plan_key, plan_key_option
from reconciler.planfiles import read_plan_file


@main.command("show")
@click.argument("planfile", type=InputPath(dir_okay=False))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for a terminal, json for policy tools, markdown for a pull request.",
)
@plan_key_option
def show(planfile: Path, *, output_format: str, plan_key_file: Path | None) -> None:
    """Show the plan saved in PLANFILE by `osml plan --out`, after verifying the file."""
    plan, integrity = read_plan_file(planfile, key=plan_key(plan_key_file), require_verified=False)
    click.echo(integrity.describe(), err=True)
    click.echo(render(plan, output_format=output_format, color=use_color()), nl=False)
