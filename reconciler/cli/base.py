"""The root `osml` group and the one place where ReconcilerError becomes exit 1.

It also makes standard output and standard error able to carry any string before a
command runs: a character the stream's encoding cannot write (an emoji under
`PYTHONIOENCODING=ascii` or latin-1, a surrogate from an undecodable file name) is
written as a backslash escape instead of ending the run in UnicodeEncodeError.
"""

from __future__ import annotations

import io
import sys
from typing import Any

import click

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.secrets import scrub


class OsmlGroup(click.Group):
    """A click group that turns every ReconcilerError into `Error: ...` and exit 1."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        safe_streams()
        return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReconcilerError as exc:
            click.echo(f"Error: {scrub(str(exc))}", err=True)
            ctx.exit(1)
        except click.BadParameter as exc:
            if exc.param is None or not isinstance(exc.param.type, click.Path):
                raise
            # A file that is missing, a folder, unreadable or corrupt is bad input like a
            # bad manifest: `Error:` and exit 1, also where click found it. Exit 2 stays
            # for usage errors proper, and `plan --detailed-exitcode` keeps 2 for changes.
            click.echo(f"Error: {scrub(exc.format_message())}", err=True)
            ctx.exit(1)


@click.group(
    cls=OsmlGroup,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "OSML"},
)
@click.version_option(__version__, prog_name="osml")
def main() -> None:
    """osml: GitOps for OpenSearch ML Commons remote models.

    Manifests in Git describe connectors, model groups, remote models, trusted
    endpoints and access control; osml validates them, plans the changes against a
    cluster and applies them in order.
    """


def safe_streams() -> None:
    """Let stdout and stderr write what their encoding cannot, as backslash escapes."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
