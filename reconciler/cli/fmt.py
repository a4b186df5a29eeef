"""`osml fmt`: rewrite manifest files in their canonical form, comments kept.

Registered on the root group by importing this module from `reconciler.cli`. Finds the
YAML files under PATHS as every command does (`find_manifest_files`), formats each with
`reconciler.manifests.formatting` and writes back those that change, naming each one.
`--check` writes nothing and exits 1 when a file would change (for CI); `--diff` also
prints what changes as a unified diff. A file that is not YAML is reported as
`Error: file:line:col: ...`, and no file is written. Nothing here talks to a cluster.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from reconciler.cli.base import main
from reconciler.errors import ManifestError, Problem
from reconciler.manifests.formatting import format_text
from reconciler.manifests.loading import find_manifest_files

DEFAULT_PATHS = ("manifests/",)


@main.command("fmt")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if any file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Print the changes as a unified diff.")
def fmt(paths: tuple[str, ...], *, check: bool, show_diff: bool) -> None:
    """Rewrite the manifests in PATHS (default: manifests/) in canonical form.

    Comments, key order inside `spec`, flow or block style and quoting are kept; the
    envelope keys come first, in order. Prints the files that changed (with --check:
    that would change).
    """
    files, problems = find_manifest_files(paths or DEFAULT_PATHS)
    formatted: dict[str, tuple[str, str]] = {}
    for file in files:
        try:
            original = Path(file).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(f"cannot read: {exc}", file=file))
            continue
        try:
            formatted[file] = (original, format_text(original, file=file))
        except ManifestError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ManifestError(problems)
    changed = [file for file, (before, after) in formatted.items() if before != after]
    for file in changed:
        before, after = formatted[file]
        if show_diff:
            click.echo(_diff(file, before, after), nl=False)
        if not check:
            Path(file).write_text(after, "utf-8", newline="")
        click.echo(file)
    if check and changed:
        raise SystemExit(1)


def _diff(file: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"{file} (as it is)",
        tofile=f"{file} (formatted)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
