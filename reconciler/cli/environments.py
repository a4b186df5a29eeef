"""`--env NAME`, `--env-dir DIR` and `--all-envs`: which environment a command runs for.

`env_options` adds the options to `validate`, `plan`, `apply`, `watch` and the commands
that only select a cluster (`state`, `lock`, `import`, `destroy`); `selected` finds and
loads the environment file, `every_environment` all of them. `for_environment` turns the
file's `cluster:` block into the command's `ClusterOptions`: the file wins over osml's
defaults and over the OPENSEARCH_* / OSML_* variables, an option written on the command
line wins over the file, and the password is read from the variable `password_env`
names. This module maps options to values; it neither prints nor connects.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from reconciler.cli.options import ClusterOptions
from reconciler.cli.params import InputPath
from reconciler.cluster.connecting import AwsSigV4
from reconciler.durations import parse_duration
from reconciler.errors import ManifestError, Problem
from reconciler.manifests.environments import (
    Environment,
    environment_dir,
    find_environment,
    list_environments,
    load_environment,
)
from reconciler.secrets import Secret

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "env_options",
    "every_environment",
    "for_environment",
    "selected",
]


class OutDir(click.Path):
    """A folder a command writes files into: absent (then made) or a folder, in a folder
    that exists; checked while the options are parsed."""

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        if path.exists() and not path.is_dir():
            self.fail(f"'{click.format_filename(path)}' is not a directory.", param, ctx)
        if not path.exists() and not path.absolute().parent.is_dir():
            self.fail(f"the folder of '{click.format_filename(path)}' does not exist", param, ctx)
        return path


def env_options(*, fleet: str | None = None) -> Callable[[F], F]:
    """`--env NAME` and `--env-dir DIR`; with `fleet` ("plan" or "apply") also
    `--all-envs` and the folder of plan files (`--out-dir` or `--plan-dir`). The command
    receives `env`, `env_dir` (and `all_envs`, `plan_dir`)."""
    options = [
        click.option(
            "--env",
            envvar="OSML_ENV",
            metavar="NAME",
            help="Run for this environment (environments/NAME.yaml beside the manifests): "
            "its cluster, values and overrides.",
        ),
        click.option(
            "--env-dir",
            envvar="OSML_ENV_DIR",
            type=InputPath(file_okay=False),
            help="Where the environment files are (default: environments/ beside the "
            "manifests folder).",
        ),
    ]
    if fleet:
        folder = "--out-dir" if fleet == "plan" else "--plan-dir"
        what = (
            "save one plan file per environment in DIR (DIR/NAME.json)"
            if fleet == "plan"
            else "apply the plan files DIR/NAME.json saved by plan --all-envs --out-dir"
        )
        options += [
            click.option(
                "--all-envs",
                is_flag=True,
                help="Run for every environment in parallel, each against its own cluster.",
            ),
            click.option(
                folder,
                "plan_dir",
                metavar="DIR",
                type=OutDir() if fleet == "plan" else InputPath(file_okay=False),
                help=f"With --all-envs: {what}.",
            ),
        ]

    def decorate(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def env_cluster(fn: F) -> F:
    """`--env` and `--env-dir` for a command that only selects a cluster (`state`,
    `lock`, `import`): written under `@cluster_options`, it hands the command the
    `cluster` of the environment, found beside the default manifests/ folder."""

    @functools.wraps(fn)
    def wrapper(*args: Any, env: str | None, env_dir: Path | None, **kwargs: Any) -> Any:
        environment = selected(("manifests",), env=env, env_dir=env_dir)
        cluster = for_environment(kwargs.pop("cluster"), environment)
        return fn(*args, cluster=cluster, **kwargs)

    return env_options()(cast(F, wrapper))


def environment_folder(environment: Environment | None) -> tuple[Path, ...]:
    """The folder of the environment file, for `watch` to watch as well."""
    return () if environment is None else (Path(environment.file).parent,)


def selected(
    paths: Sequence[str | Path], *, env: str | None, env_dir: Path | None
) -> Environment | None:
    """The environment `--env` names (loaded and checked), or None without `--env`."""
    if env is None:
        return None
    directory = environment_dir(paths, given=env_dir)
    return load_environment(find_environment(directory, env))


def every_environment(paths: Sequence[str | Path], *, env_dir: Path | None) -> list[Environment]:
    """Every environment beside the manifests, loaded; ManifestError with every problem
    of every file, or when there is none."""
    directory = environment_dir(paths, given=env_dir)
    environments, problems = load_all(directory)
    if problems:
        raise ManifestError(problems)
    if not environments:
        where = "holds no environment file" if directory.is_dir() else "does not exist"
        raise ManifestError([Problem(f"--all-envs: {directory} {where} (give --env-dir)")])
    return environments


def load_all(directory: Path) -> tuple[list[Environment], list[Problem]]:
    """The environments in `directory` that load, and the problems of those that do not."""
    environments: list[Environment] = []
    problems: list[Problem] = []
    for file in list_environments(directory):
        try:
            environments.append(load_environment(file))
        except ManifestError as exc:
            problems.extend(exc.problems)
    return environments, problems


def for_validation(
    paths: Sequence[str | Path], *, env: str | None, env_dir: Path | None
) -> tuple[list[Environment], list[Problem]]:
    """What `osml validate` checks: the `--env` environment; without one, every
    environment beside the manifests (none when there is no environments folder)."""
    if env is not None:
        environment = selected(paths, env=env, env_dir=env_dir)
        return [environment] if environment is not None else [], []
    return load_all(environment_dir(paths, given=env_dir))


def across(
    environments: Sequence[Environment],
    run: Callable[[Environment], tuple[list[Problem], int]],
) -> tuple[list[Problem], int]:
    """`run` for each environment; each problem once, its message naming the
    environments it was found in (`(environments dev, prod)`), in first-seen order."""
    seen: dict[Problem, list[str]] = {}
    resources = 0
    for environment in environments:
        problems, count = run(environment)
        resources = max(resources, count)
        for problem in problems:
            seen.setdefault(problem, []).append(environment.name)
    tagged = []
    for problem, names in seen.items():
        label = "environment" if len(names) == 1 else "environments"
        message = f"{problem.message} ({label} {', '.join(names)})"
        tagged.append(dataclasses.replace(problem, message=message))
    return tagged, resources


def loaded(file: str | None) -> Environment | None:
    """The environment a saved plan records (its file), or None."""
    return None if file is None else load_environment(file)


_FROM_FILE = {
    "url": "cluster_url", "username": "username", "ca_certs": "ca_certs",
    "client_cert": "client_cert", "client_key": "client_key", "insecure": "insecure",
    "request_timeout": "timeout", "aws_sigv4": "aws_region", "aws_service": "aws_service",
    "state_index": "state_index", "sandbox": "sandbox", "sandbox_version": "sandbox_version",
}  # fmt: skip
"""Each `cluster:` key of an environment file and the option it stands for."""


def for_environment(
    cluster: ClusterOptions,
    environment: Environment | None,
    *,
    explicit: frozenset[str] | None = None,
) -> ClusterOptions:
    """`cluster` with the environment file's settings, where no option on the command
    line (`explicit`, default: read from click's context) says otherwise."""
    if environment is None:
        return cluster
    given = explicit if explicit is not None else given_on_command_line()
    settings = environment.cluster
    connection = cluster.settings
    changes: dict[str, Any] = {}
    paths = {"ca_certs", "client_cert", "client_key", "sandbox"}
    for field, option in _FROM_FILE.items():
        value = getattr(settings, field)
        if value is None or option in given:
            continue
        if field in paths:
            value = _existing(environment, field, value)
        changes[option] = value
    connection = dataclasses.replace(
        connection,
        url=str(changes.get("cluster_url", connection.url)).rstrip("/"),
        username=changes.get("username", connection.username),
        password=_password(environment, connection.password, given=given),
        ca_certs=changes.get("ca_certs", connection.ca_certs),
        client_cert=changes.get("client_cert", connection.client_cert),
        client_key=changes.get("client_key", connection.client_key),
        verify=not changes["insecure"] if "insecure" in changes else connection.verify,
        timeout=_timeout(environment, changes.get("timeout"), connection.timeout),
        aws_sigv4=_sigv4(changes, connection.aws_sigv4),
    )
    options = dataclasses.replace(cluster, settings=connection)
    for option in ("state_index", "sandbox", "sandbox_version"):
        if option in changes:
            options = dataclasses.replace(options, **{option: changes[option]})
    if "cluster_url" in given and "sandbox" in changes:
        options = dataclasses.replace(options, sandbox=None)
    return options


def given_on_command_line() -> frozenset[str]:
    """The parameters of the running command that were written on its command line."""
    context = click.get_current_context(silent=True)
    if context is None:
        return frozenset()
    return frozenset(
        name
        for name in context.params
        if context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    )


def _password(
    environment: Environment, current: Secret | None, *, given: frozenset[str]
) -> Secret | None:
    variable = environment.cluster.password_env
    if variable is None or "password" in given:
        return current
    value = os.environ.get(variable)
    if not value:
        raise ManifestError(
            [_problem(environment, "password_env", f"the variable {variable} is not set")]
        )
    return Secret(value, source=f"${variable}")


def _timeout(environment: Environment, value: Any, current: float) -> float:
    if value is None:
        return current
    seconds = value if isinstance(value, int | float) else parse_duration(str(value))
    if seconds is None or seconds <= 0:
        message = f"{value!r} is not a duration such as 30s or 2m"
        raise ManifestError([_problem(environment, "request_timeout", message)])
    return float(seconds)


def _sigv4(changes: dict[str, Any], current: AwsSigV4 | None) -> AwsSigV4 | None:
    region = changes.get("aws_region", current.region if current else None)
    if not region:
        return None
    service = changes.get("aws_service", current.service if current else "es")
    return AwsSigV4(region=region, service="aoss" if service == "aoss" else "es")


def _existing(environment: Environment, field: str, value: str) -> str:
    path = environment.relative(value)
    if field != "sandbox" and not Path(path).is_file():
        raise ManifestError([_problem(environment, field, f"no such file: {path}")])
    return path


def _problem(environment: Environment, field: str, message: str) -> Problem:
    where = environment.locate("cluster", field)
    return Problem(
        message, file=where.file, line=where.line, column=where.column,
        path=f"cluster.{field}", resource=f"environment {environment.name}",
    )  # fmt: skip
