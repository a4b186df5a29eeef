"""`osml export`: write manifests for what a live cluster already holds.

Registered on the root group by importing this module from `reconciler.cli`. Reads one
snapshot (`cluster.reading`), turns it into files (`reconciler.exporting`) and writes them
under `--out` (default `manifests/`), one file per resource and a folder per kind, plus a
README.md listing the credential variables. A folder that already holds files is refused
unless `--force`, which replaces the export's own folders (`connectors/`, `model-groups/`,
`models/`, `settings/`) and README.md and leaves everything else alone. `--env NAME` reads
the cluster of that environment (its file beside `--out`, or in `--env-dir`) and writes
plain manifests: live values, no `${env.*}` values and no overrides put back. Nothing is
written to the cluster, and no secret is ever read: the server does not return credentials.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click

from reconciler.cli.base import main
from reconciler.cli.environments import env_options, for_environment, selected
from reconciler.cli.options import ClusterOptions, cluster_options, connected
from reconciler.cli.params import OutputFolder
from reconciler.cluster.reading import read_snapshot
from reconciler.exporting import EXPORTABLE, Export, export_snapshot
from reconciler.resources import Kind

FOLDERS = ("connectors", "model-groups", "models", "settings")
"""The folders an export owns (what `--force` replaces)."""


def _parse_kinds(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    """`--kinds Connector,Model` (repeatable, any case) as Kinds; all when not given."""
    if not values:
        return EXPORTABLE
    by_name = {kind.value.lower(): kind for kind in EXPORTABLE}
    chosen: list[Kind] = []
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            kind = by_name.get(part.lower())
            if kind is None:
                known = ", ".join(kind.value for kind in EXPORTABLE)
                raise click.BadParameter(f"{part!r} is not an exportable kind ({known})")
            chosen.append(kind)
    return tuple(dict.fromkeys(chosen))


@main.command("export")
@click.option(
    "--out",
    default="manifests",
    show_default=True,
    type=OutputFolder(),
    help="The folder to write the manifests to (created if missing).",
)
@click.option(
    "--kinds",
    multiple=True,
    callback=_parse_kinds,
    metavar="KIND[,KIND...]",
    help="Export only these kinds (Connector, ModelGroup, Model, TrustedEndpoints, "
    "AccessControl, IngestPipeline, SearchPipeline, Agent); references to kinds not "
    "exported stay raw IDs.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Write into a folder that is not empty, replacing a previous export's folders.",
)
@env_options()
@cluster_options
def export_command(
    *,
    out: Path,
    kinds: tuple[Kind, ...],
    force: bool,
    env: str | None,
    env_dir: Path | None,
    cluster: ClusterOptions,
) -> None:
    """Write manifests for the connectors, model groups, models and settings of the
    cluster, so that `osml plan` on them adopts what exists (docs/export.md). With
    --env NAME, the cluster is that environment's (environments/NAME.yaml beside --out);
    the manifests are written plain, with the live values and no overrides."""
    environment = selected((out,), env=env, env_dir=env_dir)
    cluster = for_environment(cluster, environment)
    _check_target(out, force=force)
    with connected(cluster) as conn:
        snapshot = read_snapshot(conn, state_index=cluster.state_index)
    result = export_snapshot(snapshot, kinds=kinds)
    _write(out, result, force=force)
    _summary(out, result)


def _check_target(out: Path, *, force: bool) -> None:
    """Refuse a file, or a folder with anything in it unless `force`; before reading."""
    if out.exists() and not out.is_dir():
        raise click.ClickException(f"--out {out}: not a folder")
    if out.is_dir() and not force and any(out.iterdir()):
        raise click.ClickException(
            f"--out {out}: the folder is not empty; choose another or pass --force "
            "(which replaces a previous export)"
        )


def _write(out: Path, result: Export, *, force: bool) -> None:
    try:
        if force:
            for folder in FOLDERS:
                if (out / folder).is_dir():
                    shutil.rmtree(out / folder)
        for relative, text in result.files.items():
            path = out / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        raise click.ClickException(f"--out {out}: cannot write: {exc.strerror or exc}") from exc


def _summary(out: Path, result: Export) -> None:
    counts: dict[Kind, int] = {}
    for document in result.documents:
        counts[document.key.kind] = counts.get(document.key.kind, 0) + 1
    listed = ", ".join(f"{n} {kind.value}" for kind, n in counts.items()) or "nothing"
    click.echo(f"Exported {listed} to {out}/ (see {out}/README.md).")
    if result.variables:
        click.echo("Set these variables to the credentials the cluster holds before `osml plan`:")
        for variable in result.variables:
            click.echo(f"  {variable.name}  ({variable.resource} {variable.path})")
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
