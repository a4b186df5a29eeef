"""`osml apply`: plan and apply after confirmation, or apply a saved, reviewed plan.

`osml apply [PATHS]` plans, shows the plan, asks (refusing without `--auto-approve`
when there is no terminal), takes the lock and executes that plan; when the cluster
moved before the lock was had (another apply ran), it plans again under the lock, shows
the new plan and asks again if it differs. `osml apply PLANFILE` executes a plan saved
by `osml plan --out`: its file is verified first (digest, and signature with a plan
key), then it is refused if the cluster has moved on; secrets are resolved now, from the
manifest paths the plan records unless `--manifests` says otherwise, and every one must
match the plan's fingerprints before the first change. Long changes say every few
seconds that they still run; Ctrl-C finishes what is in flight, releases the lock and
says what was not done (`cli.interrupting`). A plan with policy findings of error
severity (recorded in the plan file, or found now on the plan just made) is refused
before the cluster is changed unless `--allow-policy` names every such rule; the
override is printed with the findings it let through (`cli.policy`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from reconciler.applying.executing import Settings
from reconciler.cli.base import main
from reconciler.cli.environments import env_options, for_environment, loaded, selected
from reconciler.cli.fleet import apply_all_envs
from reconciler.cli.interrupting import INTERRUPTED, interrupts, progress_every
from reconciler.cli.options import ClusterOptions, cluster_options, connected
from reconciler.cli.params import InputPath, KeyFile, run_options
from reconciler.cli.plan import no_color_option, use_color
from reconciler.cli.plankeys import plan_key, plan_key_option
from reconciler.cli.policy import (
    allow_policy_option,
    check_findings,
    policy_file_option,
    policy_for,
)
from reconciler.cli.refresh import run_refresh
from reconciler.errors import LockError, PlanError
from reconciler.findings import Finding
from reconciler.manifests.environments import Environment
from reconciler.mlcommons.versions import Version
from reconciler.planfiles import read_document, read_plan_file
from reconciler.planning import PlanOptions
from reconciler.plans import Plan
from reconciler.policy import Policy, evaluate
from reconciler.reconciling import (
    ApplyOptions,
    Desired,
    Review,
    apply_checked,
    apply_current,
    detected_flavor,
    plan_against,
    read_desired,
)
from reconciler.rendering.findings import finding_lines
from reconciler.rendering.progress import TextProgress, interrupted_lines
from reconciler.rendering.text import render_text
from reconciler.resources import ResourceKey
from reconciler.secrets import scrub


def _echo(line: str) -> None:
    click.echo(scrub(line))


@main.command()
@click.argument("paths", nargs=-1, type=InputPath())
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@run_options(waits_for="deploy or undeploy")
@click.option("--prune", is_flag=True, help="Delete managed resources that left the manifests.")
@click.option(
    "--allow-prune-all",
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
@click.option("--target", "targets", multiple=True, help="Only KIND/NAME and its dependencies.")
@click.option(
    "--manifests",
    "manifest_paths",
    multiple=True,
    type=InputPath(),
    help="With a plan file: where the manifests are, for their secrets (default: the paths "
    "recorded in the plan).",
)
@click.option(
    "--refresh-only",
    is_flag=True,
    help="Only update the state records to what exists; the cluster is not changed.",
)
@click.option("--key-file", type=KeyFile())
@plan_key_option
@policy_file_option
@allow_policy_option
@env_options(fleet="apply")
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
    allow_prune_all: bool,
    allow_breaking_consumers: bool,
    targets: tuple[str, ...],
    manifest_paths: tuple[Path, ...],
    refresh_only: bool,
    key_file: Path | None,
    plan_key_file: Path | None,
    env: str | None,
    env_dir: Path | None,
    all_envs: bool,
    plan_dir: Path | None,
    policy_file: Path | None,
    allow_policy: frozenset[str],
    cluster: ClusterOptions,
) -> None:
    """Apply the manifests in PATHS (default manifests/), or a saved PLANFILE."""
    if all_envs or plan_dir is not None:
        apply_all_envs(
            tuple(str(p) for p in paths) or ("manifests",), env=env, env_dir=env_dir,
            plan_dir=plan_dir, all_envs=all_envs, refresh_only=refresh_only,
            auto_approve=auto_approve, cluster=cluster, key_file=key_file,
            plan_key_file=plan_key_file,
            plan_options=PlanOptions(prune=prune, targets=_keys(targets),
                                     allow_prune_all=allow_prune_all,
                                     allow_breaking_consumers=allow_breaking_consumers),
            apply_options=ApplyOptions(parallelism=parallelism, lock_timeout=lock_timeout,
                                       settings=Settings(deploy_timeout=deploy_timeout)),
            policy=policy_for(tuple(str(p) for p in paths) or ("manifests",), policy_file),
            allow_policy=allow_policy,
        )  # fmt: skip
        return
    # A plan file is verified, and its policy findings checked, before the cluster is
    # even reached.
    saved = _saved_plan(paths, plan_key_file=plan_key_file)
    overrides = check_findings(saved.findings, allowed=allow_policy) if saved else []
    policy = policy_for(paths or ("manifests",), policy_file) if saved is None else None
    environment = selected(paths or ("manifests",), env=env, env_dir=env_dir)
    if saved is not None and saved.environment is not None:
        if environment is not None and environment.file != saved.environment:
            raise PlanError(
                f"the plan was made for the environment file {saved.environment}, "
                f"not {environment.file}"
            )
        environment = loaded(saved.environment)
    cluster = for_environment(cluster, environment)
    options = ApplyOptions(
        parallelism=parallelism,
        lock_timeout=lock_timeout,
        settings=Settings(deploy_timeout=deploy_timeout, state_index=cluster.state_index),
    )
    if refresh_only:
        if saved is not None:
            raise click.UsageError("--refresh-only takes no plan file")
        with connected(cluster) as conn:
            run_refresh(conn, options=options, auto_approve=auto_approve)
        return
    with connected(cluster) as conn:
        version = Version.parse(conn.version)
        if saved is not None:
            sources = manifest_paths or _recorded(saved)
            desired = read_desired(
                sources, version=version, key_file=key_file, environment=environment,
                detected=detected_flavor(conn),
            )  # fmt: skip
        else:
            desired = read_desired(
                paths or ("manifests",), version=version, key_file=key_file,
                environment=environment, detected=detected_flavor(conn),
            )  # fmt: skip
            plan_options = PlanOptions(
                prune=prune,
                targets=_keys(targets),
                allow_prune_all=allow_prune_all,
                allow_breaking_consumers=allow_breaking_consumers,
            )
            planned = plan_against(
                conn, desired, options=plan_options, state_index=cluster.state_index
            )
            _echo(render_text(planned.plan, color=use_color()))
            findings = _findings(policy, desired, planned.plan, environment=environment)
            if not planned.plan.has_changes:
                return
            overrides = check_findings(findings, allowed=allow_policy)
            _confirm(auto_approve)
        for line in overrides:
            _echo(line)
        progress = TextProgress(_echo, every=progress_every())
        with interrupts() as stop, contextlib.closing(progress):
            try:
                if saved is not None:
                    result = apply_checked(
                        conn, saved, desired, observer=progress, options=options, stop=stop
                    )
                else:
                    result = apply_current(
                        conn, planned, desired, plan_options=plan_options, observer=progress,
                        options=options, stop=stop,
                        review=_policed(
                            _review(planned.plan, auto_approve=auto_approve),
                            lambda plan: _findings(policy, desired, plan, environment=environment),
                            allowed=allow_policy,
                        ),
                    )  # fmt: skip
            except LockError:
                if not stop.is_set():
                    raise
                _echo("Interrupted while waiting for the state lock: nothing was changed.")
                sys.exit(INTERRUPTED)
    if stop.is_set():
        for line in interrupted_lines(result):
            _echo(line)
        sys.exit(INTERRUPTED)
    if not result.ok:
        sys.exit(1)


def _findings(
    policy: Policy | None, desired: Desired, plan: Plan, *, environment: Environment | None
) -> tuple[Finding, ...]:
    """The policy's findings on a plan just made, printed after it."""
    name = environment.name if environment is not None else None
    findings = evaluate(policy or Policy(), desired.manifests, plan=plan, environment=name)
    for line in finding_lines(findings):
        _echo(line)
    return findings


def _saved_plan(paths: tuple[Path, ...], *, plan_key_file: Path | None) -> Plan | None:
    """The verified plan when PATHS is one plan file; None when PATHS are manifests."""
    if len(paths) != 1 or not paths[0].is_file() or read_document(paths[0]) is None:
        return None
    plan, integrity = read_plan_file(paths[0], key=plan_key(plan_key_file))
    click.echo(integrity.describe(), err=True)
    return plan


def _recorded(plan: Plan) -> tuple[str, ...]:
    """The manifest paths the plan was made from (default manifests/), all present."""
    sources = plan.manifests or ("manifests",)
    missing = [p for p in sources if not Path(p).exists()]
    if missing:
        raise PlanError(
            f"the manifests this plan was made from are not here: {', '.join(missing)} "
            "(their secrets are needed); give their location with --manifests"
        )
    return sources


def _review(shown: Plan, *, auto_approve: bool) -> Review:
    """What an apply does with a plan made again under the lock: show it, and ask again
    when it would do something other than the plan that was confirmed."""

    def review(plan: Plan) -> None:
        _echo("The cluster changed since the plan was made; planned again under the state lock.")
        if _changes(plan) == _changes(shown):
            _echo("The plan is the same as the one shown.")
            return
        _echo(render_text(plan, color=use_color()))
        if plan.has_changes:
            _confirm(auto_approve)

    return review


def _policed(
    review: Review, findings: Callable[[Plan], Sequence[Finding]], *, allowed: frozenset[str]
) -> Review:
    """`review`, after the policy has judged the plan made again under the lock: a plan
    that gained an error finding `--allow-policy` does not name is refused, unapplied."""

    def policed(plan: Plan) -> None:
        if plan.has_changes:
            for line in check_findings(findings(plan), allowed=allowed):
                _echo(line)
        review(plan)

    return policed


def _changes(plan: Plan) -> list[object]:
    return [c for c in plan.to_dict()["changes"] if c["action"] != "noop"]


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
