"""Every file-path option of every command, pointed at a bad path: `Error:`, exit 1, no traceback.

The commands and their path parameters are found by walking the click command tree
(`reconciler.cli.main`), so a command added later is covered without being listed here;
one that needs other arguments to get as far as its paths gets them from `BASE`.
Each path parameter meets the paths that must fail:

- `missing-dir`: inside a folder that does not exist (`/nonexistent/dir/x.json`);
- `blocked-dir`: inside a "folder" that is a regular file, so it cannot be created either;
- `directory`: a folder, for a parameter that takes files only;
- `unreadable`: a Unix socket. Opening one fails (ENXIO) for every user, root included,
  where `chmod 000` stops no root; it is a real read (and write) error, never skipped;
- `corrupt`: bytes that are no UTF-8, YAML, JSON, key or PEM.

An output file (`writable` and not `readable`: `--out`) that exists already is simply
replaced, so `corrupt` is no error there: it must end cleanly, exit 0 or an `Error:`
(keygen refuses to overwrite a key). A bad path always exits 1 with `Error:`, also where
click itself finds it missing (`cli.base`): exit 2 stays for usage errors, and for
`plan --detailed-exitcode`'s "changes present".
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.cli.params import DataFile, OutputFolder
from reconciler.sandbox.server import Sandbox
from reconciler.secrets.encrypting import SecretKey

CASES = ("missing-dir", "blocked-dir", "directory", "unreadable", "corrupt")
CORRUPT = b"\xff\xfe{\x00 not: [valid\n"
GROUP = {"apiVersion": "osml/v1", "kind": "ModelGroup", "metadata": {"name": "g"}, "spec": {}}

BASE: dict[tuple[str, ...], tuple[list[str], list[str]]] = {
    ("state", "show"): ([], ["ModelGroup/g"]),
    ("state", "rm"): ([], ["ModelGroup/g"]),
    ("import",): ([], ["ModelGroup/g", "no-such-id"]),
    ("lock", "force-unlock"): ([], ["no-such-lock"]),
    ("secrets", "decrypt"): ([], ["osml:v1:00000000:AAAA"]),
    ("secrets", "rekey"): (["--key-file", "old.key", "--new-key-file", "new.key"], ["manifests"]),
    ("sandbox",): (["--port", "0"], []),
    ("watch",): (["--listen", "off", "--no-watch-files", "--interval", "1h"], ["manifests"]),
    ("plan",): ([], ["manifests"]),
    ("apply",): (["--auto-approve"], ["manifests"]),
    ("validate",): ([], ["manifests"]),
}
"""(options, arguments) that get each command as far as its paths; the rest is default."""
BASE_FOR_OPTION: dict[tuple[tuple[str, ...], str], tuple[list[str], list[str]]] = {
    (("apply",), "--manifests"): ([], ["saved.plan.json"]),
}
"""`--manifests` is read only when PATHS is a saved plan."""
NOT_A_FAILURE = {
    (("watch",), "paths", "corrupt"): "watch is a service: a bad manifest is a logged "
    "cycle failure, and the service waits for the fix (tests/integration/test_watch_*)",
    (("watch",), "--pause-file", "unreadable"): "a pause file is never read: the watcher "
    "is paused while it exists (tests/integration/test_watch_service.py)",
    (("watch",), "--pause-file", "corrupt"): "a pause file is never read: the watcher "
    "is paused while it exists (tests/integration/test_watch_service.py)",
}
"""Pairs whose bad path is, by design, not the end of the run; said here, not skipped."""


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> Iterator[
    tuple[tuple[str, ...], click.Command]
]:  # fmt: skip
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def is_output(param: click.Parameter) -> bool:
    kind = param.type
    return isinstance(kind, click.Path) and kind.writable and not kind.readable


def applies(param: click.Parameter, case: str) -> bool:
    kind = param.type
    assert isinstance(kind, click.Path)
    if case == "directory":
        return not kind.dir_okay  # a folder is what a manifest PATHS or --watch-dir wants
    # The sandbox creates the folder of its data file, and export its output folder,
    # as `mkdir -p` would.
    return not (case == "missing-dir" and isinstance(kind, DataFile | OutputFolder))


def path_cases() -> list[tuple[tuple[str, ...], str, str]]:
    found = []
    for path, command in commands():
        for param in command.params:
            if isinstance(param.type, click.Path):
                name = param.opts[0] if isinstance(param, click.Option) else str(param.name)
                found += [(path, name, case) for case in CASES if applies(param, case)]
    return found


PATH_CASES = path_cases()


def test_the_walk_finds_every_known_path_option() -> None:
    found = {(" ".join(path), name) for path, name, _ in PATH_CASES}
    for known in (
        ("validate", "paths"), ("validate", "--key-file"), ("schema", "--out"),
        ("plan", "paths"), ("plan", "--out"), ("plan", "--key-file"), ("plan", "--sandbox"),
        ("plan", "--ca-certs"), ("plan", "--client-cert"), ("plan", "--client-key"),
        ("apply", "paths"), ("apply", "--manifests"), ("apply", "--key-file"),
        ("watch", "paths"), ("watch", "--watch-dir"), ("watch", "--key-file"),
        ("state list", "--sandbox"), ("lock status", "--ca-certs"), ("import", "--sandbox"),
        ("secrets keygen", "--out"), ("secrets encrypt", "--key-file"),
        ("secrets rekey", "--new-key-file"), ("secrets rekey", "paths"),
        ("sandbox", "--data"), ("sandbox", "--users"),
    ):  # fmt: skip
        assert known in found


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox("3.x") as running:
        yield running


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, sandbox: Sandbox) -> Path:
    """A folder with valid manifests, two keys, a saved plan and one of each bad path."""
    root = tmp_path_factory.mktemp("paths")
    (root / "manifests").mkdir()
    (root / "manifests" / "group.yaml").write_text(yaml.safe_dump(GROUP))
    for name in ("old.key", "new.key"):
        (root / name).write_text(SecretKey.generate().to_text())
    (root / "a-file").write_text("not a folder\n")
    (root / "a-folder").mkdir()
    (root / "corrupt").write_bytes(CORRUPT)
    with contextlib.chdir(root):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind("unreadable")  # relative: socket paths are short
        listener.close()  # the socket file stays; opening it fails with ENXIO
        result = CliRunner().invoke(
            main, ["plan", "manifests", "--out", "saved.plan.json", "--cluster", sandbox.url]
        )
    assert result.exit_code == 0, result.output
    return root


BAD = {
    "missing-dir": "nowhere/x.json",
    "blocked-dir": "a-file/x.json",
    "directory": "a-folder",
    "unreadable": "unreadable",
    "corrupt": "corrupt",
}


def test_the_unreadable_path_really_cannot_be_read_or_written(workdir: Path) -> None:
    for mode in ("rb", "wb"):
        with pytest.raises(OSError), open(workdir / "unreadable", mode):
            pass


def arguments(command: tuple[str, ...], name: str, bad: str) -> list[str]:
    options, positional = BASE_FOR_OPTION.get((command, name), BASE.get(command, ([], [])))
    if not name.startswith("-"):  # the positional PATHS: the bad path replaces the base's
        return [*options, bad]
    options = list(options)
    if name in options:
        at = options.index(name)
        del options[at : at + 2]
    return [*options, name, bad, *positional]


def run(command: tuple[str, ...], args: list[str], *, workdir: Path, url: str) -> Result:
    with contextlib.chdir(workdir):
        return CliRunner().invoke(
            main, [*command, *args], env={"OPENSEARCH_URL": url, "NO_COLOR": "1"}, input=""
        )


@pytest.mark.parametrize(
    ("command", "name", "case"),
    PATH_CASES,
    ids=[f"{' '.join(c)}-{n}-{k}" for c, n, k in PATH_CASES],
)
def test_a_bad_path_is_an_error_line_and_exit_1(
    command: tuple[str, ...], name: str, case: str, workdir: Path, sandbox: Sandbox
) -> None:
    if (command, name, case) in NOT_A_FAILURE:
        pytest.skip(NOT_A_FAILURE[command, name, case])
    bad = BAD[case]
    (workdir / "corrupt").write_bytes(CORRUPT)  # an output case before may have replaced it
    args = arguments(command, name, bad)
    result = run(command, args, workdir=workdir, url=sandbox.url)
    said = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"osml {' '.join(command)} {' '.join(args)} crashed: {result.exception!r}\n{said}"
    )
    assert "Traceback" not in said
    param = next(
        p
        for p in dict(commands())[command].params
        if (p.opts[0] if isinstance(p, click.Option) else p.name) == name
    )
    if case == "corrupt" and is_output(param):
        # An existing output file is replaced; a command may also refuse to (keygen).
        assert result.exit_code == 0 or _error_line(said, bad), said
        return
    assert result.exit_code == 1, (args, said)
    assert _error_line(said, bad) or (command == ("validate",) and _problem_line(said, bad)), said


def _error_line(said: str, bad: str) -> bool:
    """An `Error:` line, and the bad path named in what follows it."""
    at = said.find("Error:")
    return at >= 0 and Path(bad).name in said[at:]


def _problem_line(said: str, bad: str) -> bool:
    """`osml validate` reports a path as one of its problems: `PATH: message`."""
    located = re.compile(rf"{re.escape(bad)}(?::\d+)*: ")
    return any(located.match(line) for line in said.splitlines())


def test_the_cases_not_counted_as_failures_are_real_pairs() -> None:
    for command, name, case in NOT_A_FAILURE:
        assert (command, name, case) in PATH_CASES


def test_a_saved_plan_that_is_not_json_is_an_error(workdir: Path, sandbox: Sandbox) -> None:
    """`plan --sandbox corrupt.json` and a plan file that is JSON but not a plan."""
    (workdir / "not-a-plan.json").write_text(json.dumps({"format_version": 99}))
    result = run(("apply",), ["not-a-plan.json"], workdir=workdir, url=sandbox.url)
    assert result.exit_code == 1, result.output
    assert "Error: not-a-plan.json: plan format version 99" in result.output
    result = run(("plan",), ["--sandbox", "corrupt", "manifests"], workdir=workdir, url="")
    assert result.exit_code == 1 and "Error:" in result.output and "corrupt" in result.output
