"""The click parameter types osml's commands share: durations and the files they read.

`Duration` is the one syntax of every time option (`90`, `90s`, `2m`, `1m30s`, `500ms`,
`1h`), as Terraform's `-lock-timeout=90s`. `InputPath` is `click.Path` that also proves,
while the options are parsed, that a file can be opened for reading (a socket, a FIFO
without writer or a file root cannot read fails here, not halfway through a run);
`KeyFile`, `PemFile` and `DataFile` read their content too, so a corrupt key, certificate
or sandbox data file is named with its option before anything talks to a cluster. A bad
value is click's `BadParameter` naming the option; `cli.base` reports a bad file as
`Error:` with exit 1. `run_options` declares how a run that changes the cluster goes
(`--parallelism`, `--timeout`, `--lock-timeout`), once for `apply` and `destroy`.
This module parses values; it does not print, plan or connect.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from reconciler.durations import parse_duration
from reconciler.errors import SecretError
from reconciler.secrets.encrypting import SecretKey

if TYPE_CHECKING:
    _ParamType = click.ParamType[Any]
else:  # click < 8.4 has no generic ParamType
    _ParamType = click.ParamType

DURATION_HELP = "a duration: 90, 90s or 2m"

F = TypeVar("F", bound=Callable[..., Any])


def run_options(*, waits_for: str) -> Callable[[F], F]:
    """`--parallelism`, `--timeout` (each `waits_for`, e.g. "deploy or undeploy") and
    `--lock-timeout`; the command receives `parallelism`, `deploy_timeout`, `lock_timeout`."""
    options = (
        click.option("--parallelism", default=10, show_default=True, type=click.IntRange(1, 100)),
        click.option(
            "--timeout",
            "deploy_timeout",
            default="5m",
            show_default=True,
            type=Duration(minimum=1),
            help=f"How long to wait for each {waits_for} ({DURATION_HELP}).",
        ),
        click.option(
            "--lock-timeout",
            default="0s",
            show_default=True,
            type=Duration(zero=True),
            help=f"How long to wait for the state lock when another run holds it "
            f"({DURATION_HELP}).",
        ),
    )

    def decorate(fn: F) -> F:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


"""What every time option's help says it takes."""


class Duration(_ParamType):
    """A duration as float seconds: at least `minimum`; zero only when `zero` is set."""

    name = "duration"

    def __init__(self, *, minimum: float = 0.0, zero: bool = False) -> None:
        self.minimum = minimum
        self.zero = zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds: float | None = float(value)
        else:
            seconds = parse_duration(str(value))
        if seconds is None or not math.isfinite(seconds):
            self.fail(
                f"{value!r} is not a duration such as 90, 90s, 2m, 1m30s or 500ms", param, ctx
            )
        if seconds < self.minimum or (seconds == 0 and not self.zero):
            self.fail(f"{value!r} is too short: {self._least()}", param, ctx)
        return seconds

    def _least(self) -> str:
        if self.minimum > 0:
            return f"it must be at least {self.minimum:g}s"
        return "it must be more than zero"


class InputPath(click.Path):
    """`click.Path(exists=True)` that also opens a file once, to prove it is readable."""

    def __init__(self, *, file_okay: bool = True, dir_okay: bool = True) -> None:
        super().__init__(exists=True, file_okay=file_okay, dir_okay=dir_okay, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            return path
        if not self.file_okay:
            self.fail(f"{_quoted(path)} is not a directory.", param, ctx)
        if not stat.S_ISREG(mode):
            # Sockets, devices and FIFOs are no manifest, key or certificate; a FIFO
            # would also block the first read for ever.
            self.fail(f"{_quoted(path)} is not a regular file.", param, ctx)
        try:
            os.close(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)))
        except OSError as exc:
            self.fail(f"cannot read {_quoted(path)}: {exc.strerror or exc}", param, ctx)
        return path


class KeyFile(InputPath):
    """A file holding an osml secret key (`osml secrets keygen --out`), checked on parsing."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        try:
            text = path.read_text("utf-8")
            SecretKey.from_text(text, origin=f"key file {path}")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            self.fail(f"cannot read key file {_quoted(path)}: {reason}", param, ctx)
        except SecretError as exc:
            self.fail(str(exc), param, ctx)
        return path


class PemFile(InputPath):
    """A PEM file (CA bundle, certificate or private key); its content is checked on parsing
    (a corrupt one would otherwise surface as an ssl error at the first request)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        try:
            text = path.read_bytes()
        except OSError as exc:
            self.fail(f"cannot read {_quoted(path)}: {exc.strerror or exc}", param, ctx)
        if b"-----BEGIN " not in text:
            self.fail(f"{_quoted(path)} is not a PEM file (no -----BEGIN line).", param, ctx)
        return str(path)


class FlagFile(click.Path):
    """A file whose existence is the signal (`watch --pause-file`): its content is never
    read, but its folder must be there, or the file could never be made to say anything."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        flag = Path(os.fsdecode(path))
        if not flag.parent.is_dir():
            self.fail(f"the folder of {_quoted(flag)} does not exist", param, ctx)
        return path


class DataFile(click.Path):
    """A JSON data file a command reads if it exists and writes later (the sandbox's).

    Checked while parsing, so that a run does not fail at its end: an existing file must
    be a readable JSON object; a new one needs a place where its folder can be created.
    """

    def __init__(self, *, path_type: type[str] | type[Path] = str) -> None:
        super().__init__(dir_okay=False, path_type=path_type)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        given = super().convert(value, param, ctx)
        path = Path(os.fsdecode(given))
        try:
            if path.exists() or path.is_symlink():
                _read_json_object(path)
            else:
                _check_creatable(path.parent)
        except OSError as exc:
            self.fail(f"cannot use {_quoted(path)}: {exc.strerror or exc}", param, ctx)
        except ValueError as exc:
            self.fail(f"{_quoted(path)} is not a JSON data file: {exc}", param, ctx)
        return given


class OutputFolder(click.Path):
    """A folder a command writes into, created (as `mkdir -p` would) if it does not exist.

    Checked while parsing: an existing path must be a folder; a new one needs a place
    where it can be created.
    """

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        given = super().convert(value, param, ctx)
        folder = Path(os.fsdecode(given))
        try:
            _check_creatable(folder)
        except OSError as exc:
            self.fail(f"cannot use {_quoted(folder)}: {exc.strerror or exc}", param, ctx)
        return given


def _read_json_object(path: Path) -> None:
    """ValueError unless `path` holds a JSON object; OSError when it cannot be read."""
    if not path.is_file():
        raise OSError(f"{path} is not a regular file")
    data = json.loads(path.read_text("utf-8"))  # UnicodeDecodeError is a ValueError
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")


def _check_creatable(folder: Path) -> None:
    """OSError unless `folder` is, or can be created in, a directory."""
    for ancestor in (folder, *folder.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            return


def _quoted(path: Path) -> str:
    return f"'{click.format_filename(path)}'"
