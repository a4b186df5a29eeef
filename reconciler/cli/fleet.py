"""`osml plan --all-envs` and `osml apply --all-envs`: every environment, side by side.

Each environment runs in its own thread against its own cluster, under that cluster's
own lock and state: connect, read the manifests with the environment applied, plan, and
(for apply) apply. A failure in one environment (a bad override, an unreachable cluster,
a failed change) is recorded as that environment's outcome and never stops, waits for or
rolls back another. The views (`rendering.fleets`) print one section per environment and
one summary; the exit code is 1 when any environment failed (the summary names them),
else 3 when any plan has a policy finding of error severity, else, for `plan
--detailed-exitcode`, 2 when any has changes, else 0.

The policy (the project file's, the same for every environment) judges each
environment's plan with that environment's name, as `osml plan --env NAME` does; each
plan carries its findings (in its saved file too) and `--sarif FILE` writes them all,
each message prefixed with its environment. `apply --all-envs` refuses, in that
environment only, a plan with error findings `--allow-policy` does not name (also one
made again under the lock), and prints the override when it does.

`plan --all-envs --out-dir DIR` writes one plan file per environment, `DIR/NAME.json`;
`apply --all-envs --plan-dir DIR` applies each of them exactly, as `apply PLANFILE` does.
Called by `cli/plan.py` and `cli/apply.py`; the only printing is through `echo`.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from reconciler.cli.environments import every_environment, for_environment, given_on_command_line
from reconciler.cli.interrupting import INTERRUPTED, interrupts, progress_every
from reconciler.cli.options import ClusterOptions, open_cluster
from reconciler.cli.plankeys import plan_key
from reconciler.cli.policy import EXIT_POLICY, check_findings
from reconciler.cluster.connecting import Connection
from reconciler.errors import PlanError, ReconcilerError
from reconciler.findings import Finding, errors
from reconciler.manifests.environments import Environment
from reconciler.mlcommons.versions import Version
from reconciler.planfiles import read_plan_file, write_plan_file
from reconciler.planning import PlanOptions
from reconciler.plans import Plan
from reconciler.policy import Policy, evaluate
from reconciler.reconciling import (
    ApplyOptions,
    Desired,
    Planned,
    apply_checked,
    apply_current,
    detected_flavor,
    plan_against,
    read_desired,
)
from reconciler.rendering.findings import finding_lines
from reconciler.rendering.fleets import (
    Member,
    failed_names,
    render_fleet_json,
    render_fleet_markdown,
    render_fleet_summary,
    render_fleet_text,
)
from reconciler.rendering.progress import TextProgress
from reconciler.rendering.sarif import render_sarif
from reconciler.rendering.text import render_text
from reconciler.secrets import scrub
from reconciler.secrets.encrypting import SecretKey

EXIT_CHANGES = 2


@dataclasses.dataclass(frozen=True)
class Fleet:
    """What every environment of one run shares."""

    environments: tuple[Environment, ...]
    paths: tuple[str, ...]
    """The manifest paths, the same for every environment."""
    cluster: ClusterOptions
    """The connection options as parsed; each environment's file is applied to them."""
    given: frozenset[str]
    """The options written on the command line (they win over every file)."""
    key_file: Path | None = None
    policy: Policy = dataclasses.field(default_factory=Policy)
    """The rules every environment's plan is judged by."""
    allow_policy: frozenset[str] = frozenset()
    """`apply --allow-policy`: the rules whose error findings do not stop an apply."""

    def cluster_for(self, environment: Environment) -> ClusterOptions:
        """The connection options of one environment."""
        return for_environment(self.cluster, environment, explicit=self.given)


def fleet_of(
    environments: Sequence[Environment],
    *,
    paths: Sequence[str],
    cluster: ClusterOptions,
    key_file: Path | None,
    policy: Policy | None = None,
    allow_policy: frozenset[str] = frozenset(),
) -> Fleet:
    """The fleet of a command; UsageError for options that name one cluster."""
    given = given_on_command_line()
    single = sorted(given & {"cluster_url", "sandbox", "username", "password", "state_index"})
    if single:
        names = ", ".join("--" + n.replace("_url", "").replace("_", "-") for n in single)
        raise click.UsageError(f"--all-envs: each environment names its own cluster; drop {names}")
    return Fleet(
        tuple(environments), tuple(paths), cluster, given, key_file,
        policy=policy or Policy(), allow_policy=allow_policy,
    )  # fmt: skip


def run_parallel(fleet: Fleet, task: Callable[[Environment], Member]) -> list[Member]:
    """`task` for every environment at once; the members in environment order.

    A ReconcilerError (or click's refusal of a setting) becomes that member's error. Any
    other exception is a bug: it is raised once every environment has finished.
    """
    bugs: list[BaseException] = []

    def guarded(environment: Environment) -> Member:
        try:
            return task(environment)
        except (ReconcilerError, click.ClickException) as exc:
            message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
            return Member(environment.name, environment.file, error=scrub(message))
        except Exception as exc:
            bugs.append(exc)
            return Member(environment.name, environment.file, error=f"internal error: {exc!r}")

    workers = max(len(fleet.environments), 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="osml-env") as pool:
        members = list(pool.map(guarded, fleet.environments))
    if bugs:
        raise bugs[0]
    return members


# --- plan --all-envs -------------------------------------------------------------------


def plan_fleet(
    fleet: Fleet,
    *,
    options: PlanOptions,
    output_format: str,
    out: Path | None,
    detailed_exitcode: bool,
    plan_key_file: Path | None,
    color: bool,
    sarif_out: Path | None = None,
) -> None:
    """Plan every environment, print one view of them all, exit as the module says."""
    key = plan_key(plan_key_file) if out is not None else None
    if out is not None:
        _make_folder(out)

    def plan_one(environment: Environment) -> Member:
        with open_cluster(fleet.cluster_for(environment)) as conn:
            planned, _ = _plan(conn, fleet, environment, options=options)
        plan = planned.plan
        if out is not None:
            write_plan_file(plan, out / f"{environment.name}.json", key=key)
        return Member(environment.name, environment.file, plan=plan)

    members = run_parallel(fleet, plan_one)
    if out is not None:
        saved = [m.name for m in members if m.plan is not None]
        click.echo(f"Saved {len(saved)} plan(s) to {out}/: {', '.join(saved)}", err=True)
    if sarif_out is not None:
        _write(sarif_out, render_sarif(fleet_findings(members)))
    if output_format == "sarif":
        click.echo(render_sarif(fleet_findings(members)), nl=False)
    elif output_format == "json":
        click.echo(render_fleet_json(members), nl=False)
    elif output_format == "markdown":
        click.echo(render_fleet_markdown(members), nl=False)
    else:
        click.echo(render_fleet_text(members, color=color), nl=False)
    changes = detailed_exitcode and any(m.plan and m.plan.has_changes for m in members)
    _exit(members, changes=changes, policy=True)


def fleet_findings(members: Sequence[Member]) -> list[Finding]:
    """Every environment's findings, each message prefixed with `[NAME] `."""
    return [
        dataclasses.replace(finding, message=f"[{member.name}] {finding.message}")
        for member in members
        if member.plan is not None
        for finding in member.plan.findings
    ]


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc


def _plan(
    conn: Connection, fleet: Fleet, environment: Environment, *, options: PlanOptions
) -> tuple[Planned, Desired]:
    for warning in conn.warnings:
        click.echo(f"Warning: [{environment.name}] {warning}", err=True)
    version = Version.parse(conn.version)
    desired = read_desired(
        fleet.paths, version=version, key_file=fleet.key_file, environment=environment,
        detected=detected_flavor(conn),
    )  # fmt: skip
    made = plan_against(
        conn, desired, options=options, state_index=fleet.cluster_for(environment).state_index
    )
    plan = dataclasses.replace(made.plan, manifests=fleet.paths, environment=environment.file)
    plan = dataclasses.replace(plan, findings=_judge(fleet, desired, plan, environment))
    return dataclasses.replace(made, plan=plan), desired


def _judge(
    fleet: Fleet, desired: Desired, plan: Plan, environment: Environment
) -> tuple[Finding, ...]:
    return evaluate(fleet.policy, desired.manifests, plan=plan, environment=environment.name)


# --- apply --all-envs ------------------------------------------------------------------


def apply_all_envs(
    paths: tuple[str, ...],
    *,
    env: str | None,
    env_dir: Path | None,
    plan_dir: Path | None,
    all_envs: bool,
    refresh_only: bool,
    auto_approve: bool,
    cluster: ClusterOptions,
    key_file: Path | None,
    plan_key_file: Path | None,
    plan_options: PlanOptions,
    apply_options: ApplyOptions,
    policy: Policy | None = None,
    allow_policy: frozenset[str] = frozenset(),
) -> None:
    """`osml apply --all-envs [--plan-dir DIR]`, its options checked."""
    if not all_envs:
        raise click.UsageError("--plan-dir goes with --all-envs")
    if env is not None or refresh_only:
        raise click.UsageError(
            "--all-envs applies every environment: drop --env and --refresh-only"
        )
    environments = every_environment(paths, env_dir=env_dir)
    fleet = fleet_of(
        environments, paths=paths, cluster=cluster, key_file=key_file, policy=policy,
        allow_policy=allow_policy,
    )  # fmt: skip
    apply_fleet(
        fleet,
        plan_options=plan_options,
        apply_options=apply_options,
        plan_dir=plan_dir,
        plan_key_file=plan_key_file,
        auto_approve=auto_approve,
    )


def apply_fleet(
    fleet: Fleet,
    *,
    plan_options: PlanOptions,
    apply_options: ApplyOptions,
    plan_dir: Path | None,
    plan_key_file: Path | None,
    auto_approve: bool,
) -> None:
    """Apply every environment at once: its manifests, or its plan file in `plan_dir`.

    Output lines are prefixed with `[NAME] `; the fleet summary comes last.
    """
    if plan_dir is None and not auto_approve:
        raise click.UsageError(
            "apply --all-envs changes several clusters at once: give --auto-approve, or "
            "apply reviewed plans with --plan-dir DIR (from plan --all-envs --out DIR)"
        )
    key = plan_key(plan_key_file) if plan_dir is not None else None
    lock = threading.Lock()

    def echo_for(name: str) -> Callable[[str], None]:
        def echo(text: str) -> None:
            with lock:
                for line in scrub(text).rstrip("\n").splitlines() or [""]:
                    click.echo(f"[{name}] {line}")

        return echo

    with interrupts() as stop:

        def apply_one(environment: Environment) -> Member:
            echo = echo_for(environment.name)
            options = dataclasses.replace(
                apply_options,
                settings=dataclasses.replace(
                    apply_options.settings,
                    state_index=fleet.cluster_for(environment).state_index,
                ),
            )
            progress = TextProgress(echo, every=progress_every())
            try:
                with open_cluster(fleet.cluster_for(environment)) as conn:
                    if plan_dir is not None:
                        return _apply_saved(conn, fleet, environment, plan_dir=plan_dir,
                                            key=key, progress=progress, options=options,
                                            stop=stop, echo=echo)  # fmt: skip
                    planned, desired = _plan(conn, fleet, environment, options=plan_options)
                    echo(_text(planned.plan))
                    member = Member(environment.name, environment.file, plan=planned.plan)
                    if not planned.plan.has_changes:
                        return member
                    _allowed(planned.plan.findings, fleet, echo)

                    def review(plan: Plan) -> None:
                        # The plan made again under the lock is judged as the first was.
                        if plan.has_changes:
                            _allowed(_judge(fleet, desired, plan, environment), fleet, echo)
                        echo(render_text(plan))

                    result = apply_current(
                        conn, planned, desired, plan_options=plan_options, review=review,
                        observer=progress, options=options, stop=stop,
                    )  # fmt: skip
                    return dataclasses.replace(member, result=result)
            finally:
                progress.close()

        members = run_parallel(fleet, apply_one)
    click.echo("")
    click.echo(render_fleet_summary(members), nl=False)
    if stop.is_set():
        sys.exit(INTERRUPTED)
    _exit(members, changes=False)


def _apply_saved(
    conn: Connection,
    fleet: Fleet,
    environment: Environment,
    *,
    plan_dir: Path,
    key: SecretKey | None,
    progress: TextProgress,
    options: ApplyOptions,
    stop: threading.Event,
    echo: Callable[[str], None],
) -> Member:
    path = plan_dir / f"{environment.name}.json"
    if not path.is_file():
        raise PlanError(f"no plan file for environment {environment.name}: {path} is missing")
    plan, _ = read_plan_file(path, key=key)
    if plan.environment not in (None, environment.file):
        raise PlanError(
            f"{path} was made for the environment file {plan.environment}, not {environment.file}"
        )
    _allowed(plan.findings, fleet, echo)
    desired = read_desired(
        plan.manifests or fleet.paths, version=Version.parse(conn.version),
        key_file=fleet.key_file, environment=environment, detected=detected_flavor(conn),
    )  # fmt: skip
    result = apply_checked(conn, plan, desired, observer=progress, options=options, stop=stop)
    return Member(environment.name, environment.file, plan=plan, result=result)


def _allowed(findings: Sequence[Finding], fleet: Fleet, echo: Callable[[str], None]) -> None:
    """PlanError (this environment fails) for error findings `--allow-policy` does not
    name; otherwise the findings are printed, with the override when one was used."""
    for line in finding_lines(findings):
        echo(line)
    for line in check_findings(findings, allowed=fleet.allow_policy):
        echo(line)


def _text(plan: Plan) -> str:
    """The text view of one environment's plan, its findings after it."""
    lines = finding_lines(plan.findings)
    return render_text(plan) + "".join(f"{line}\n" for line in lines)


def _make_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise click.BadParameter(f"'{out}' is not a directory", param_hint="'--out'")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create {out}: {exc.strerror or exc}") from exc


def _exit(members: Sequence[Member], *, changes: bool, policy: bool = False) -> None:
    failed = failed_names(members)
    if failed:
        click.echo(f"Error: {len(failed)} environment(s) failed: {', '.join(failed)}", err=True)
        sys.exit(1)
    policed = [m.name for m in members if policy and m.plan and errors(m.plan.findings)]
    if policed:
        click.echo(
            f"Error: policy error findings in {len(policed)} environment(s): {', '.join(policed)}",
            err=True,
        )
        sys.exit(EXIT_POLICY)
    if changes:
        sys.exit(EXIT_CHANGES)
