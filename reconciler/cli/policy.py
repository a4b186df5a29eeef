"""The policy options and exit code shared by `osml validate`, `plan` and `apply`.

`@policy_file_option` adds `--policy-file` (default: the `osml.yaml` found beside or
above the manifests, `reconciler.policy.find_project_file`); `@allow_policy_option` adds
`apply --allow-policy RULE[,RULE...]`, the explicit override for a plan with error
findings. `check_findings` refuses such a plan, or returns the lines that record the
override in the apply output. An error finding makes `validate` and `plan` exit
`EXIT_POLICY` (3), distinct from 1 (error) and 2 (`--detailed-exitcode`: changes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.errors import PlanError
from reconciler.findings import Finding, errors
from reconciler.policy import PROJECT_FILE, Policy, find_project_file, load_policy

F = TypeVar("F", bound=Callable[..., Any])

EXIT_POLICY = 3
"""`validate` and `plan`: a policy finding of error severity (after 1, before 2)."""


def policy_file_option(fn: F) -> F:
    """Add `--policy-file`; the command receives `policy_file: Path | None`."""
    option = click.option(
        "--policy-file",
        envvar="OSML_POLICY_FILE",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help=f"The project file whose `policy:` section sets the rules (default: the first "
        f"{PROJECT_FILE} in the manifests' directory or above it, up to the current "
        "directory).",
    )
    return option(fn)


def _rule_ids(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> frozenset[str]:
    return frozenset(part.strip() for value in values for part in value.split(",") if part.strip())


def allow_policy_option(fn: F) -> F:
    """Add `--allow-policy`; the command receives `allow_policy: frozenset[str]`."""
    option = click.option(
        "--allow-policy",
        multiple=True,
        metavar="RULE[,RULE...]",
        callback=_rule_ids,
        help="Apply although the plan has error findings of these policy rules (repeatable); "
        "the override is recorded in the output.",
    )
    return option(fn)


def policy_for(paths: Sequence[str | Path], policy_file: Path | None) -> Policy:
    """The policy of a run: `--policy-file`, else the project file found, else defaults."""
    return load_policy(policy_file or find_project_file(paths))


def check_findings(findings: Sequence[Finding], *, allowed: frozenset[str]) -> list[str]:
    """Lines recording an override; PlanError when an error finding is not allowed."""
    blocking = errors(findings)
    refused = [f for f in blocking if f.rule not in allowed]
    if refused:
        rules = ", ".join(sorted({f.rule for f in refused}))
        listed = "\n".join(f"  {f}" for f in refused)
        raise PlanError(
            f"the plan has {len(refused)} policy error finding(s), so it is not applied:\n"
            f"{listed}\nfix them and plan again, or name the rules with --allow-policy {rules}"
        )
    if not blocking:
        return []
    rules = ", ".join(sorted({f.rule for f in blocking}))
    return [
        f"Policy override: applying despite {len(blocking)} error finding(s) of {rules} "
        "(--allow-policy):",
        *(f"  {f}" for f in blocking),
    ]
