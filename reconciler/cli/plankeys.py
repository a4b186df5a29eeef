"""The plan key option shared by `osml plan`, `osml apply` and `osml show`.

`@plan_key_option` adds `--plan-key-file` (or `OSML_PLAN_KEY_FILE`); `plan_key` turns it,
or else the `OSML_PLAN_KEY` variable, into the key that signs and verifies saved plan
files (`reconciler.planfiles`). The key itself is never printed or written to a plan.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler.cli.params import KeyFile
from reconciler.planfiles import PLAN_KEY_ENV
from reconciler.secrets.encrypting import SecretKey, load_key

F = TypeVar("F", bound=Callable[..., Any])

PLAN_KEY_FILE_ENV = "OSML_PLAN_KEY_FILE"


def plan_key_option(fn: F) -> F:
    """Add `--plan-key-file`; the command receives `plan_key_file: Path | None`."""
    option = click.option(
        "--plan-key-file",
        envvar=PLAN_KEY_FILE_ENV,
        type=KeyFile(),
        help=f"Key that signs and verifies plan files (default: the {PLAN_KEY_ENV} variable).",
    )
    return option(fn)


def plan_key(key_file: Path | None) -> SecretKey | None:
    """The plan key from `key_file`, else from `OSML_PLAN_KEY`, else None (unsigned plans)."""
    return load_key(key_file=key_file, env_var=PLAN_KEY_ENV)
