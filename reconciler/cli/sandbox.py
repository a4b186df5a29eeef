"""`osml sandbox`: run the built-in ML Commons-compatible cluster in the foreground.

Registered on the root group by importing this module from `reconciler.cli`. The command
maps its options to one `Sandbox(...)`, prints the URL (and the CA file under TLS), then
waits for SIGINT or SIGTERM and stops cleanly, flushing `--data`. It never prints secrets:
with `--security` it names the demo admin user but not the password of configured users.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from reconciler.cli.base import main
from reconciler.cli.options import EmulateType
from reconciler.cli.params import DURATION_HELP, DataFile, Duration, InputPath
from reconciler.sandbox.managed import FLAVORS, OPENSEARCH
from reconciler.sandbox.ml.profiles import get_profile
from reconciler.sandbox.server import Sandbox


def _check_version(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        get_profile(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


@main.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9200, show_default=True, help="Port to listen on (0 = any).")
@click.option(
    "--version",
    "version",
    default="3.x",
    show_default=True,
    callback=_check_version,
    help="ML Commons release profile: any of 2.9 ... 2.19, 3.0 ... 3.8, or 3.x / latest "
    "(the newest).",
)
@click.option(
    "--data",
    type=DataFile(path_type=Path),
    help="JSON file that keeps every resource across restarts.",
)
@click.option("--security", is_flag=True, help="Require HTTP basic auth (admin/admin).")
@click.option(
    "--users",
    type=InputPath(dir_okay=False),
    help='JSON file of extra users: {"name": {"password", "backend_roles", "roles"}}.',
)
@click.option("--tls", is_flag=True, help="Serve HTTPS with a generated CA.")
@click.option("--faults", "faults", help="Fault-injection spec: JSON or @file (docs/sandbox.md).")
@click.option(
    "--deploy-delay",
    type=Duration(zero=True),
    default="50ms",
    show_default=True,
    help=f"How long a model deploy takes ({DURATION_HELP}).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of every random choice.")
@click.option(
    "--emulators/--no-emulators",
    default=True,
    show_default=True,
    help="Answer predicts to well-known provider hosts with the built-in provider emulators.",
)
@click.option(
    "--emulate",
    "emulate",
    type=EmulateType(),
    multiple=True,
    metavar="HOST[:PORT]=FAMILY",
    help="Answer predicts to this host (e.g. a self-hosted server) with the emulator of "
    "FAMILY: openai or ollama (repeatable).",
)
@click.option(
    "--flavor",
    type=click.Choice(list(FLAVORS)),
    default=OPENSEARCH,
    show_default=True,
    help="opensearch, or aws-managed to behave as an Amazon OpenSearch Service domain "
    "(roleArn/secretArn connectors; service-managed settings refused).",
)
def sandbox_command(
    *,
    host: str,
    port: int,
    version: str,
    data: Path | None,
    security: bool,
    users: Path | None,
    tls: bool,
    faults: str | None,
    deploy_delay: float,
    seed: int,
    emulators: bool,
    emulate: tuple[tuple[str, str], ...],
    flavor: str,
) -> None:
    """Run a local ML Commons-compatible cluster until Ctrl-C."""
    try:
        sandbox = Sandbox(
            version,
            host=host,
            port=port,
            data=data,
            security=security,
            users=_read_users(users),
            tls=tls,
            faults=faults,
            deploy_delay=deploy_delay,
            seed=seed,
            emulators=emulators,
            emulate_hosts=dict(emulate),
            flavor=flavor,
        ).start()
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"sandbox: cannot start: {exc}") from exc
    stop = threading.Event()
    _on_signals(stop)
    try:
        _announce(sandbox)
        stop.wait()
    finally:
        sandbox.stop()
    click.echo("osml sandbox stopped", err=True)


def _read_users(path: Path | None) -> dict[str, dict[str, Any]] | None:
    # Users come from a file, never from arguments, so passwords stay out of `ps`.
    if path is None:
        return None
    try:
        users = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError too
        raise click.ClickException(f"--users: cannot read {path}: {exc}") from None
    if not isinstance(users, dict) or not all(isinstance(v, dict) for v in users.values()):
        raise click.ClickException(f"--users: {path}: expected a JSON object of users")
    return users


def _on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _announce(sandbox: Sandbox) -> None:
    # The URL goes to stdout alone on its line so scripts can read it.
    click.echo(sandbox.url)
    details = [
        f"osml sandbox: OpenSearch {sandbox.profile.version} (profile {sandbox.profile.name})"
    ]
    if sandbox.context.config.security:
        details.append("basic auth required; demo user: admin")
    if sandbox.ca_file is not None:
        details.append(f"CA certificate: {sandbox.ca_file}")
    if sandbox.data is not None:
        details.append(f"data file: {sandbox.data}")
    click.echo("; ".join(details), err=True)
