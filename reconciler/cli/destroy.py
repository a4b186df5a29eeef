"""`osml destroy`: plan and apply the removal of everything osml manages.

Registered on the root group by importing this module from `reconciler.cli`. The plan is
the one of no manifests with pruning on (every resource in the state index is deleted,
in reverse dependency order), less what must stay (`planning.destroying.protect`): a
`lifecycle.prevent_destroy` recorded at the last apply or set in the manifests of PATHS
(default manifests/, when it exists), and what a kept model uses. Resources osml never
managed are never touched. `--target KIND/NAME` destroys that resource and what depends
on it. Like `terraform destroy`, it shows the plan and asks for a typed `yes` on a
terminal; without one it refuses unless `--auto-approve`. Exit codes are apply's: 0 done
(or nothing to destroy), 1 refused, cancelled or failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.applying.executing import Settings
from reconciler.cli.base import main
from reconciler.cli.environments import env_options, for_environment, selected
from reconciler.cli.options import ClusterOptions, cluster_options, connected
from reconciler.cli.params import InputPath, run_options
from reconciler.cli.plan import use_color
from reconciler.errors import PlanError
from reconciler.manifests.environments import Environment
from reconciler.manifests.loading import ManifestSet, load_manifests
from reconciler.manifests.overlaying import Overlay
from reconciler.planning import PlanOptions
from reconciler.planning.destroying import protect
from reconciler.reconciling import ApplyOptions, Desired, apply_checked, plan_against
from reconciler.rendering.progress import TextProgress
from reconciler.rendering.text import render_text
from reconciler.resources import ResourceKey
from reconciler.secrets import scrub

DEFAULT_PATHS = ("manifests/",)
NOTHING = Desired(ManifestSet(), (), {})
"""What destroy plans towards: no manifests, so no secrets either."""


def _parse_targets(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[ResourceKey, ...]:
    try:
        return tuple(ResourceKey.parse(value) for value in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _echo(line: str) -> None:
    click.echo(scrub(line))


@main.command("destroy")
@click.argument("paths", nargs=-1, type=InputPath())
@click.option("--auto-approve", is_flag=True, help="Destroy without asking for confirmation.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="KIND/NAME",
    callback=_parse_targets,
    help="Destroy only this resource and what depends on it (repeatable).",
)
@run_options(waits_for="undeploy")
@env_options()
@cluster_options
def destroy(
    paths: tuple[Path, ...],
    *,
    auto_approve: bool,
    targets: tuple[ResourceKey, ...],
    parallelism: int,
    deploy_timeout: float,
    lock_timeout: float,
    env: str | None,
    env_dir: Path | None,
    cluster: ClusterOptions,
) -> None:
    """Delete every resource osml manages (those in its state index).

    PATHS (default manifests/, if present) are read only for `lifecycle.prevent_destroy`:
    a resource it protects there (with --env: with that environment's overrides), or when
    it was last applied, is kept.
    """
    environment = selected(paths or DEFAULT_PATHS, env=env, env_dir=env_dir)
    cluster = for_environment(cluster, environment)
    protected = _protected(paths, environment)
    options = ApplyOptions(
        parallelism=parallelism,
        lock_timeout=lock_timeout,
        settings=Settings(deploy_timeout=deploy_timeout, state_index=cluster.state_index),
        operation="destroy",
    )
    with connected(cluster) as conn:
        # Deleting everything is what destroy is for; it asks its own typed question.
        plan_options = PlanOptions(prune=True, targets=targets, allow_prune_all=True)
        planned = plan_against(conn, NOTHING, options=plan_options, state_index=cluster.state_index)
        plan = protect(planned.plan, planned.snapshot, protected=protected)
        _echo(render_text(plan, color=use_color()))
        if not plan.has_changes:
            return
        _confirm(auto_approve, targeted=bool(targets))
        result = apply_checked(
            conn, plan, NOTHING, observer=TextProgress(_echo), options=options,
            seen=planned.snapshot,
        )  # fmt: skip
    if not result.ok:
        sys.exit(1)


def _protected(paths: tuple[Path, ...], environment: Environment | None) -> frozenset[ResourceKey]:
    """The resources whose manifest sets `lifecycle.prevent_destroy`."""
    sources = paths or tuple(Path(p) for p in DEFAULT_PATHS if Path(p).exists())
    if not sources:
        return frozenset()
    return frozenset(
        document.key
        for document in load_manifests(sources, overlay=Overlay(environment))
        if document.manifest.lifecycle.prevent_destroy
    )


def _confirm(auto_approve: bool, *, targeted: bool) -> None:
    if auto_approve:
        return
    if not stdin_is_terminal():
        raise PlanError("refusing to destroy without --auto-approve: there is no terminal to ask")
    what = "these resources" if targeted else "all resources"
    click.echo(
        f"\nDo you really want to destroy {what}?\n"
        "  osml will delete everything shown above from the cluster. There is no undo.\n"
        "  Only 'yes' will be accepted to confirm.\n"
    )
    if click.prompt("  Enter a value", default="", show_default=False) != "yes":
        raise PlanError("destroy cancelled")


def stdin_is_terminal() -> bool:
    """Whether someone can be asked (tests replace this)."""
    return sys.stdin.isatty()
