"""`osml plan`: show what apply would change, in text, JSON or Markdown.

Registered on the root group by importing this module from `reconciler.cli`. The flow is
the shared reconcile cycle (`reconciler.reconciling`): load and check the manifests for
the cluster's version, resolve secrets, read one snapshot, plan; then render the chosen
view to stdout (`--out` also saves the plan file for `osml apply FILE`, with its digest,
signed with the plan key when one is set). Warnings go to stderr. `--probe-offline` then
runs every probe in a throwaway offline sandbox (`reconciler.rehearsing`) and reports
them. The policy rules run on the manifests and the plan (`reconciler.policy`); the plan
carries their findings (a saved plan records them), and `--format sarif` or `--sarif FILE`
gives them as SARIF. Exit codes: 0 done, 1 error (a failed offline probe too), 3 a policy
finding of error severity, 2 changes present with `--detailed-exitcode`. Nothing here
writes to the cluster.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.cli.base import main
from reconciler.cli.environments import env_options, every_environment, for_environment, selected
from reconciler.cli.fleet import fleet_of, plan_fleet
from reconciler.cli.options import ClusterOptions, cluster_options, connected
from reconciler.cli.params import KeyFile
from reconciler.cli.plankeys import plan_key, plan_key_option
from reconciler.cli.policy import EXIT_POLICY, policy_file_option, policy_for
from reconciler.cli.refresh import show_refresh
from reconciler.errors import PlanError
from reconciler.findings import errors
from reconciler.mlcommons.versions import Version
from reconciler.planfiles import write_plan_file
from reconciler.planning import PlanOptions
from reconciler.plans import Plan
from reconciler.policy import Policy, evaluate
from reconciler.reconciling import Desired, detected_flavor, plan_against, read_desired
from reconciler.rehearsing import rehearse
from reconciler.rendering import render_json, render_markdown, render_text
from reconciler.rendering.findings import finding_lines
from reconciler.rendering.probes import render_probe_runs
from reconciler.rendering.sarif import render_sarif
from reconciler.resources import ResourceKey
from reconciler.secrets.encrypting import KEY_ENV

DEFAULT_PATHS = ("manifests/",)
EXIT_CHANGES = 2
"""`--detailed-exitcode`: the plan has changes (Terraform's convention)."""
FORMATS = ("text", "json", "markdown", "sarif")


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
    help="text for a terminal, json for policy tools, markdown for a pull request, sarif "
    "for the policy findings only (SARIF 2.1.0, for code scanning).",
)
@click.option(
    "--sarif",
    "sarif_out",
    type=click.Path(dir_okay=False, writable=True, readable=False, path_type=Path),
    help="Also write the policy findings to FILE as SARIF 2.1.0 (beside any --format).",
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
    "--refresh-only",
    is_flag=True,
    help="Only show how the cluster differs from the state records; no manifests are read.",
)
@click.option(
    "--allow-prune-all",
    envvar="OSML_ALLOW_PRUNE_ALL",
    is_flag=True,
    help="With --prune: allow deleting every resource osml manages (refused otherwise).",
)
@click.option(
    "--allow-breaking-consumers",
    envvar="OSML_ALLOW_BREAKING_CONSUMERS",
    is_flag=True,
    help="Allow deleting or re-IDing models, connectors, agents and pipelines that "
    "pipelines, agents or indices osml does not manage still use (refused otherwise).",
)
@click.option(
    "--key-file",
    envvar="OSML_SECRET_KEY_FILE",
    type=KeyFile(),
    help=f"Key for `encrypted:` credentials (default: the {KEY_ENV} variable).",
)
@plan_key_option
@click.option(
    "--probe-offline",
    envvar="OSML_PROBE_OFFLINE",
    is_flag=True,
    help="Also apply the manifests to a throwaway in-process sandbox of the cluster's "
    "version (dummy secrets, provider emulators, no network) and run every probe there; "
    "a failed probe exits 1. The cluster is only read.",
)
@policy_file_option
@env_options(fleet="plan")
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
    refresh_only: bool,
    allow_prune_all: bool,
    allow_breaking_consumers: bool,
    key_file: Path | None,
    plan_key_file: Path | None,
    probe_offline: bool,
    sarif_out: Path | None,
    policy_file: Path | None,
    env: str | None,
    env_dir: Path | None,
    all_envs: bool,
    plan_dir: Path | None,
    cluster: ClusterOptions,
) -> None:
    """Show what `osml apply` would change to make the cluster match PATHS.

    PATHS are manifest files or directories (default: manifests/). Nothing is written
    to the cluster.
    """
    paths = paths or DEFAULT_PATHS
    if plan_dir is not None and not all_envs:
        raise click.UsageError("--out-dir goes with --all-envs; a single plan is saved with --out")
    if all_envs:
        _plan_fleet(
            paths, env=env, env_dir=env_dir, refresh_only=refresh_only, probe_offline=probe_offline,
            cluster=cluster, key_file=key_file,
            options=PlanOptions(prune=prune, targets=targets, allow_prune_all=allow_prune_all,
                                allow_breaking_consumers=allow_breaking_consumers),
            output_format=output_format, out=out, out_dir=plan_dir, detailed=detailed_exitcode,
            plan_key_file=plan_key_file, policy=policy_for(paths, policy_file), sarif_out=sarif_out,
        )  # fmt: skip
        return
    environment = selected(paths, env=env, env_dir=env_dir)
    cluster = for_environment(cluster, environment)
    if refresh_only:
        _plan_refresh(cluster, output_format=output_format, out=out, detailed=detailed_exitcode)
        return
    if output_format == "sarif" and probe_offline:
        raise click.UsageError("--format sarif prints only the findings; use --sarif FILE")
    options = PlanOptions(
        prune=prune,
        targets=targets,
        allow_prune_all=allow_prune_all,
        allow_breaking_consumers=allow_breaking_consumers,
    )
    key = plan_key(plan_key_file) if out is not None else None
    policy = policy_for(paths or DEFAULT_PATHS, policy_file)
    with connected(_cluster_to_plan(cluster, probe_offline=probe_offline)) as conn:
        version = Version.parse(conn.version)
        desired = read_desired(
            paths, version=version, key_file=key_file, environment=environment,
            detected=detected_flavor(conn),
        )  # fmt: skip
        made = plan_against(conn, desired, options=options, state_index=cluster.state_index)
    # The paths as given, relative where they were: `apply PLANFILE` reads them again.
    made_plan = dataclasses.replace(
        made.plan,
        manifests=tuple(paths),
        environment=environment.file if environment is not None else None,
    )
    name = environment.name if environment is not None else None
    findings = evaluate(policy, desired.manifests, plan=made_plan, environment=name)
    made_plan = dataclasses.replace(made_plan, findings=findings)
    if sarif_out is not None:
        _write(sarif_out, render_sarif(findings))
    if out is not None:
        try:
            integrity = write_plan_file(made_plan, out, key=key)
        except OSError as exc:
            raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from exc
        signed = f", signed with plan key {integrity.key_id}" if integrity.key_id else ""
        click.echo(f"Saved the plan to {out}{signed}", err=True)
    click.echo(render(made_plan, output_format=output_format, color=use_color()), nl=False)
    if probe_offline:
        _probe_offline(
            desired,
            version=version,
            output_format=output_format,
            emulate_hosts=dict(cluster.sandbox_emulate),
        )
    if errors(findings):
        raise SystemExit(EXIT_POLICY)
    if detailed_exitcode and made_plan.has_changes:
        raise SystemExit(EXIT_CHANGES)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc


def _plan_fleet(
    paths: Sequence[str], *, env: str | None, env_dir: Path | None, refresh_only: bool,
    probe_offline: bool, cluster: ClusterOptions, key_file: Path | None,
    options: PlanOptions, output_format: str, out: Path | None, out_dir: Path | None,
    detailed: bool, plan_key_file: Path | None, policy: Policy, sarif_out: Path | None,
) -> None:  # fmt: skip
    if env is not None or refresh_only or probe_offline or out is not None:
        raise click.UsageError(
            "--all-envs plans every environment: drop --env, --refresh-only and "
            "--probe-offline; save the plans with --out-dir DIR"
        )
    environments = every_environment(paths, env_dir=env_dir)
    fleet = fleet_of(environments, paths=paths, cluster=cluster, key_file=key_file, policy=policy)
    plan_fleet(
        fleet, options=options, output_format=output_format, out=out_dir,
        detailed_exitcode=detailed, plan_key_file=plan_key_file, color=use_color(),
        sarif_out=sarif_out,
    )  # fmt: skip


def _plan_refresh(
    cluster: ClusterOptions, *, output_format: str, out: Path | None, detailed: bool
) -> None:
    if out is not None or output_format in ("markdown", "sarif"):
        raise click.UsageError("--refresh-only prints text or json and saves no plan file")
    with connected(cluster) as conn:
        show_refresh(
            conn, state_index=cluster.state_index, output_format=output_format,
            detailed_exitcode=detailed,
        )  # fmt: skip


def _cluster_to_plan(cluster: ClusterOptions, *, probe_offline: bool) -> ClusterOptions:
    # `--sandbox-emulate` without `--sandbox` is for the offline rehearsal only.
    if probe_offline and cluster.sandbox is None:
        return dataclasses.replace(cluster, sandbox_emulate=())
    return cluster


def _probe_offline(
    desired: Desired, *, version: Version, output_format: str, emulate_hosts: dict[str, str]
) -> None:
    """Run the probes in an offline sandbox and report them: on stdout after a text or
    Markdown plan, on stderr after JSON so that stdout stays one JSON document."""
    rehearsal = rehearse(desired, version=version, emulate_hosts=emulate_hosts)
    report = render_probe_runs(
        rehearsal.probes, profile=rehearsal.profile, markdown=output_format == "markdown"
    )
    click.echo(
        ("\n" if output_format != "json" else "") + report, nl=False, err=output_format == "json"
    )
    if rehearsal.failed:
        count = len(rehearsal.failed)
        raise PlanError(f"{count} of {len(rehearsal.probes)} offline probes failed")


def render(plan: Plan, *, output_format: str, color: bool = False) -> str:
    """The chosen view of a plan (`text`, `json`, `markdown`, or `sarif`: its findings);
    the text view ends with the policy findings, when there are any."""
    if output_format == "sarif":
        return render_sarif(plan.findings)
    if output_format == "json":
        return render_json(plan)
    if output_format == "markdown":
        return render_markdown(plan)
    text = render_text(plan, color=color)
    lines = finding_lines(plan.findings)
    return text + "".join(f"\n{line}" for line in lines) + ("\n" if lines else "")


def use_color() -> bool:
    """Colour on a terminal, unless `--no-color` was given, NO_COLOR is set to anything
    (no-color.org) or TERM is `dumb`."""
    context = click.get_current_context(silent=True)
    if context is not None and context.meta.get(_NO_COLOR):
        return False
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()
