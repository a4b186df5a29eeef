"""`osml validate` and `osml schema`: check manifests without a cluster; export their schema.

Registered on the root group by importing this module from `reconciler.cli`. `validate`
loads the manifests and runs the semantic checks for a target version, then prints every
problem (text or JSON) and exits 1 if any is an error. Problems are this command's output,
so they go to stdout, and a ManifestError is reported in the same format rather than as the
generic `Error:` line. Nothing here talks to a cluster; secret references are resolved
only to see that they can be (`--check-secrets`), and no value is kept or printed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.cli.base import main
from reconciler.cli.environments import across, env_options, for_validation, given_on_command_line
from reconciler.cli.params import KeyFile
from reconciler.cli.policy import EXIT_POLICY, policy_file_option, policy_for
from reconciler.errors import ManifestError, Problem, Severity
from reconciler.findings import Finding, FindingSeverity, errors
from reconciler.manifests import flavoring
from reconciler.manifests.checking import check
from reconciler.manifests.environments import Environment
from reconciler.manifests.loading import read_manifests
from reconciler.manifests.overlaying import Overlay
from reconciler.manifests.resolving import check_secrets
from reconciler.manifests.schema import manifest_schema
from reconciler.mlcommons import flavors
from reconciler.mlcommons.flavors import Flavor
from reconciler.mlcommons.versions import LATEST, SUPPORTED, Version, is_supported
from reconciler.policy import Policy, evaluate, find_project_file
from reconciler.rendering.findings import finding_lines
from reconciler.rendering.sarif import render_sarif
from reconciler.secrets.encrypting import KEY_ENV, load_key

DEFAULT_PATHS = ("manifests/",)


def _parse_version(ctx: click.Context, param: click.Parameter, value: str | None) -> Version:
    if value is None:
        return LATEST
    try:
        version = Version.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if not is_supported(version):
        known = f"{SUPPORTED[0].short} to {SUPPORTED[-1].short}"
        raise click.BadParameter(f"{version.short} is not supported; osml knows {known}")
    return version


@main.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--cluster-version",
    metavar="X.Y",
    callback=_parse_version,
    help=f"The ML Commons version to check against.  [default: {LATEST.short}]",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "sarif"]),
    default="text",
    show_default=True,
    help="How to print the problems and policy findings (sarif: SARIF 2.1.0).",
)
@click.option(
    "--check-secrets",
    envvar="OSML_CHECK_SECRETS",
    is_flag=True,
    help="Fail when a fromEnv variable is unset, a fromFile file unreadable or an "
    "encrypted value does not decrypt with the key (by default the first two only warn). "
    "No value is ever printed.",
)
@click.option(
    "--key-file",
    envvar="OSML_SECRET_KEY_FILE",
    type=KeyFile(),
    help=f"Key for `encrypted:` credentials, with --check-secrets (default: the {KEY_ENV} "
    "variable).",
)
@click.option(
    "--flavor",
    envvar="OSML_FLAVOR",
    type=click.Choice([f.value for f in Flavor]),
    callback=lambda _ctx, _param, value: Flavor(value) if value else None,
    help="The target's flavor: opensearch (self-managed) or aws-managed (Amazon OpenSearch "
    "Service).  [default: cluster.flavor of the environment, flavor: of osml.yaml, else "
    "opensearch]",
)
@env_options()
@policy_file_option
def validate(
    paths: tuple[str, ...],
    *,
    cluster_version: Version,
    output_format: str,
    check_secrets: bool,
    key_file: Path | None,
    flavor: Flavor | None,
    env: str | None,
    env_dir: Path | None,
    policy_file: Path | None,
) -> None:
    """Check manifests in PATHS (files or directories; default: manifests/).

    Every problem is reported with its file:line:column and resource. Exits 0 when there
    are no errors (warnings are printed), 1 otherwise. With an environments folder beside
    the manifests, every environment is checked (or only --env NAME). The policy rules
    run too: exit 3 when the manifests are valid but a rule found an error.
    """
    targets = paths or DEFAULT_PATHS
    policy = policy_for(targets, policy_file)
    secrets = Secrets(strict=check_secrets, key_file=key_file)
    project = policy_file or find_project_file(targets)
    environments, broken = for_validation(targets, env=env, env_dir=env_dir)
    if environments or broken:
        pinned = "cluster_version" in given_on_command_line()

        def run(environment: Environment) -> tuple[list[Problem], int]:
            try:
                version = _version_of(environment, cluster_version, pinned=pinned)
                target = flavoring.agree(
                    flavoring.declared(given=flavor, environment=environment, project_file=project),
                    None,
                )
            except ManifestError as exc:
                return list(exc.problems), 0
            return run_validation(
                targets, version=version, secrets=secrets, environment=environment,
                flavor=target,
            )  # fmt: skip

        problems, resources = across(environments, run)
        problems = [*broken, *problems]
    else:
        try:
            target = flavoring.agree(flavoring.declared(given=flavor, project_file=project), None)
        except ManifestError as exc:
            target, broken = flavors.DEFAULT, list(exc.problems)
        problems, resources = run_validation(
            targets, version=cluster_version, secrets=secrets, flavor=target
        )
        problems = [*broken, *problems]
    findings = policy_findings(targets, policy=policy, environments=environments)
    if output_format == "sarif":
        click.echo(render_sarif([*map(problem_finding, problems), *findings]), nl=False)
    elif output_format == "json":
        document = _as_json(problems, resources=resources)
        document["findings"] = [f.to_dict() for f in findings]
        click.echo(json.dumps(document, indent=2))
    else:
        for problem in problems:
            click.echo(str(problem))
        for line in finding_lines(findings):
            click.echo(line)
        names = [e.name for e in environments]
        click.echo(summary(problems, resources=resources, paths=targets, environments=names))
    if _errors(problems):
        raise SystemExit(1)
    if errors(findings):
        raise SystemExit(EXIT_POLICY)


def policy_findings(
    paths: Sequence[str], *, policy: Policy, environments: Sequence[Environment] = ()
) -> tuple[Finding, ...]:
    """The findings of `policy` on the valid manifests, once per environment (each with
    its overlay and its name), or once without one; the same finding is listed once."""
    if not environments:
        return evaluate(policy, read_manifests(paths).manifests)
    found: list[Finding] = []
    for environment in environments:
        reading = read_manifests(paths, overlay=Overlay(environment))
        found += evaluate(policy, reading.manifests, environment=environment.name)
    return tuple(dict.fromkeys(found))


def problem_finding(problem: Problem) -> Finding:
    """A manifest problem as a finding of rule `manifest`, for the SARIF view."""
    warning = problem.severity is Severity.WARNING
    return Finding(
        rule="manifest",
        severity=FindingSeverity.WARNING if warning else FindingSeverity.ERROR,
        message=problem.message,
        resource=problem.resource,
        file=problem.file,
        line=problem.line,
        column=problem.column,
        path=problem.path,
        rationale="The manifest is not valid for the target ML Commons version.",
        hint="See docs/manifests.md.",
    )


@main.command("schema")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, readable=False, path_type=Path),
    help="Write the schema to this file instead of standard output.",
)
def schema(out: Path | None) -> None:
    """Print the JSON Schema of the manifest format, for editors.

    Point yaml-language-server at it with a first line such as this in each
    manifest file (the path is relative to the manifest):

    \b
        # yaml-language-server: $schema=../osml.schema.json
    """
    text = json.dumps(manifest_schema(), indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from exc
    click.echo(f"Wrote the manifest schema to {out}", err=True)


@dataclasses.dataclass(frozen=True)
class Secrets:
    """How `validate` looks at secret references (`--check-secrets`, `--key-file`)."""

    strict: bool = False
    """Unresolvable references are errors and ciphertexts must decrypt."""
    key_file: Path | None = None
    env: Mapping[str, str] | None = None
    """The environment to resolve against; None for the process's."""


def run_validation(
    paths: Sequence[str],
    *,
    version: Version,
    secrets: Secrets | None = None,
    environment: Environment | None = None,
    flavor: Flavor = flavors.DEFAULT,
) -> tuple[list[Problem], int]:
    """Every problem of `paths` for `version` and `flavor`, and how many resources were read.

    The semantic checks run on every document whose own schema is valid, also when
    others failed theirs; a reference to a document that failed is not dangling (it is
    declared, and its own problems are reported). Secret references are tried without
    keeping a value (`Secrets`).
    """
    secrets = secrets or Secrets()
    env = os.environ if secrets.env is None else secrets.env
    overlay = Overlay(environment)
    try:
        reading = read_manifests(paths, overlay=overlay)
        found = check(reading.manifests, version=version, declared=reading.declared, flavor=flavor)
        key = load_key(key_file=secrets.key_file, env=env) if secrets.strict else None
        found += check_secrets(reading.manifests, key=key, env=env, strict=secrets.strict)
    except ManifestError as exc:
        return overlay.annotate(exc.problems), 0
    return overlay.annotate([*reading.problems, *found]), reading.documents


def _version_of(environment: Environment, given: Version, *, pinned: bool) -> Version:
    """The version an environment is checked for: `--cluster-version` when written on the
    command line, else the file's `cluster.version`, else the default."""
    text = environment.cluster.version
    if pinned or text is None:
        return given
    try:
        version = Version.parse(text)
    except ValueError as exc:
        raise _version_problem(environment, str(exc)) from exc
    if not is_supported(version):
        known = f"{SUPPORTED[0].short} to {SUPPORTED[-1].short}"
        raise _version_problem(environment, f"{version.short} is not supported; osml knows {known}")
    return version


def _version_problem(environment: Environment, message: str) -> ManifestError:
    where = environment.locate("cluster", "version")
    return ManifestError(
        [Problem(message, file=where.file, line=where.line, column=where.column,
                 path="cluster.version")]
    )  # fmt: skip


def summary(
    problems: Sequence[Problem],
    *,
    resources: int,
    paths: Sequence[str],
    environments: Sequence[str] = (),
) -> str:
    """`3 errors, 1 warning in 5 resources.` or `manifests/ is valid: 7 resources.`
    (`... is valid in environments dev, prod: 7 resources.` when they were checked)."""
    errors, warnings = len(_errors(problems)), len(problems) - len(_errors(problems))
    counted = _count(resources, "resource")
    if errors:
        warned = f", {_count(warnings, 'warning')}" if warnings else ""
        return f"{_count(errors, 'error')}{warned} in {counted}."
    warned = f" ({_count(warnings, 'warning')})" if warnings else ""
    verb = "is" if len(paths) == 1 else "are"
    label = "environment" if len(environments) == 1 else "environments"
    where = f" in {label} {', '.join(environments)}" if environments else ""
    return f"{', '.join(paths)} {verb} valid{where}: {counted}{warned}."


def _as_json(problems: Sequence[Problem], *, resources: int) -> dict[str, Any]:
    return {
        "valid": not _errors(problems),
        "resources": resources,
        "problems": [
            {
                "severity": p.severity.value,
                "file": p.file,
                "line": p.line,
                "column": p.column,
                "resource": p.resource,
                "path": p.path,
                "message": p.message,
            }
            for p in problems
        ],
    }


def _errors(problems: Sequence[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
