"""The cluster-connection options shared by every command that talks to a cluster.

`@cluster_options` adds `--cluster`, the auth and TLS options, `--state-index` and
`--sandbox` to a click command and hands the command one `cluster: ClusterOptions`
argument instead of a dozen. `open_cluster(options)` turns that into a live `Connection`,
starting (and afterwards stopping) the built-in sandbox when `--sandbox` was given.
Every option also reads an environment variable. Passwords, tokens and header values
become `Secret`s at once: click never shows them as defaults and no repr reveals them.
This module maps options to arguments; it does not print, plan or apply.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from reconciler.cli.params import DURATION_HELP, DataFile, Duration, PemFile
from reconciler.cluster.connecting import AwsSigV4, Connection, ConnectionSettings, connect
from reconciler.cluster.state import STATE_INDEX
from reconciler.secrets import Secret

DEFAULT_SANDBOX_FILE = ".osml/sandbox.json"
"""Where `--sandbox` without a value keeps the sandbox's data."""
DEFAULT_SANDBOX_VERSION = "3.x"
SANDBOX_ADMIN = "admin"
"""The sandbox's admin user, as in the Security plugin's demo configuration."""
SANDBOX_ADMIN_ROLES = {"backend_roles": ["admin"], "roles": ["all_access"]}

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    _ParamType = click.ParamType[Any]
else:  # click < 8.4 has no generic ParamType
    _ParamType = click.ParamType


@dataclasses.dataclass(frozen=True, slots=True)
class ClusterOptions:
    """What the connection options said, as one value."""

    settings: ConnectionSettings
    """How to reach the cluster (ignored for the URL when `sandbox` is set)."""
    state_index: str = STATE_INDEX
    """The state index name."""
    sandbox: str | None = None
    """The sandbox data file when `--sandbox` was given, else None."""
    sandbox_version: str = DEFAULT_SANDBOX_VERSION
    """The ML Commons version profile the sandbox emulates."""
    sandbox_emulators: bool = True
    """Whether the sandbox answers predicts to well-known provider hosts itself."""
    sandbox_security: bool = False
    """Whether the sandbox runs with its Security mode on (osml connects as its admin)."""
    sandbox_emulate: tuple[tuple[str, str], ...] = ()
    """(`host[:port]`, emulator family) pairs the sandbox answers as that provider."""


class HeaderType(_ParamType):
    """`Name: value`, the value kept secret; one per line when read from the environment."""

    name = "header"
    envvar_list_splitter = "\n"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        name, sep, text = str(value).partition(":")
        if not sep or not name.strip() or not text.strip():
            self.fail("expected `Name: value`", param, ctx)
        secret = Secret(text.strip(), source=f"header {name.strip()}")
        scheme, _, credential = text.strip().partition(" ")
        if credential.strip() and scheme.isalpha():
            # `Bearer <token>`: a server may quote the token alone; scrub() learns it too.
            Secret(credential.strip(), source=f"header {name.strip()}")
        return (name.strip(), secret)


class EmulateType(_ParamType):
    """`HOST[:PORT]=FAMILY` as (host, family); space- or comma-separated in the environment."""

    name = "emulate"

    def split_envvar_value(self, rv: str) -> Any:
        return [part for part in rv.replace(",", " ").split() if part]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        # Imported here: only `--sandbox` runs need the sandbox code.
        from reconciler.sandbox.providers.emulating import parse_host  # noqa: PLC0415

        try:
            return parse_host(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class SecretType(_ParamType):
    """A string that becomes a Secret as soon as click reads it."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Secret):
            return value
        return Secret(str(value), source=f"option --{param.name if param else 'secret'}")


_OPTIONS: tuple[Callable[[F], F], ...] = (
    click.option(
        "--cluster",
        "cluster_url",
        envvar="OPENSEARCH_URL",
        default="http://localhost:9200",
        show_default=True,
        metavar="URL",
        help="The cluster's base URL.",
    ),
    click.option("--username", envvar="OPENSEARCH_USERNAME", help="Basic-auth user."),
    click.option(
        "--password",
        envvar="OPENSEARCH_PASSWORD",
        type=SecretType(),
        show_default=False,
        help="Basic-auth password (prefer the environment variable).",
    ),
    click.option(
        "--ca-certs",
        envvar="OSML_CA_CERTS",
        type=PemFile(),
        help="PEM bundle of CAs to trust.",
    ),
    click.option(
        "--client-cert",
        envvar="OSML_CLIENT_CERT",
        type=PemFile(),
        help="PEM client certificate (mutual TLS).",
    ),
    click.option(
        "--client-key",
        envvar="OSML_CLIENT_KEY",
        type=PemFile(),
        help="Private key of --client-cert.",
    ),
    click.option(
        "--insecure",
        envvar="OSML_INSECURE",
        is_flag=True,
        help="Do not verify the server's TLS certificate.",
    ),
    click.option(
        "--request-timeout",
        "timeout",
        envvar="OSML_REQUEST_TIMEOUT",
        type=Duration(minimum=0.1),
        default="30s",
        show_default=True,
        help=f"How long to wait for each response ({DURATION_HELP}).",
    ),
    click.option(
        "--header",
        "headers",
        envvar="OSML_HEADERS",
        type=HeaderType(),
        multiple=True,
        metavar="'NAME: VALUE'",
        help="Extra request header, e.g. a bearer token (repeatable).",
    ),
    click.option(
        "--aws-sigv4",
        "aws_region",
        envvar="OSML_AWS_SIGV4",
        metavar="REGION",
        help="Sign requests with AWS SigV4 for this region (needs osml[aws]).",
    ),
    click.option(
        "--aws-service",
        envvar="OSML_AWS_SERVICE",
        type=click.Choice(["es", "aoss"]),
        default="es",
        show_default=True,
        help="SigV4 service: es (managed) or aoss (serverless).",
    ),
    click.option(
        "--state-index",
        envvar="OSML_STATE_INDEX",
        default=STATE_INDEX,
        show_default=True,
        help="The index where osml keeps its state.",
    ),
    click.option(
        "--sandbox",
        envvar="OSML_SANDBOX",
        type=DataFile(),
        is_flag=False,
        flag_value=DEFAULT_SANDBOX_FILE,
        default=None,
        metavar="[DATA_FILE]",
        help=f"Use the built-in sandbox cluster, persisted in DATA_FILE "
        f"(default {DEFAULT_SANDBOX_FILE}).",
    ),
    click.option(
        "--sandbox-version",
        envvar="OSML_SANDBOX_VERSION",
        default=DEFAULT_SANDBOX_VERSION,
        show_default=True,
        help="ML Commons release the sandbox emulates: 2.9 ... 3.8, or 3.x / latest (newest).",
    ),
    click.option(
        "--sandbox-emulators/--no-sandbox-emulators",
        envvar="OSML_SANDBOX_EMULATORS",
        default=True,
        show_default=True,
        help="Answer predicts to well-known provider hosts (OpenAI, Cohere, Bedrock, ...) "
        "with the sandbox's emulators instead of the network.",
    ),
    click.option(
        "--sandbox-security/--no-sandbox-security",
        envvar="OSML_SANDBOX_SECURITY",
        default=False,
        show_default=True,
        help="Run the sandbox with security on (basic auth, connector and model access "
        "control) and connect as its admin user (all_access).",
    ),
    click.option(
        "--sandbox-emulate",
        "sandbox_emulate",
        envvar="OSML_SANDBOX_EMULATE",
        type=EmulateType(),
        multiple=True,
        metavar="HOST[:PORT]=FAMILY",
        help="Answer predicts to this host (e.g. a self-hosted server) with the sandbox's "
        "emulator of FAMILY: openai or ollama (repeatable).",
    ),
)

_NAMES = (
    "cluster_url", "username", "password", "ca_certs", "client_cert", "client_key",
    "insecure", "timeout", "headers", "aws_region", "aws_service", "state_index",
    "sandbox", "sandbox_version", "sandbox_emulators", "sandbox_security", "sandbox_emulate",
)  # fmt: skip


def cluster_options(fn: F) -> F:
    """Add the connection options to a command; it receives them as `cluster=ClusterOptions`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _NAMES}
        return fn(*args, cluster=cluster_options_from(**values), **kwargs)

    decorated: Any = wrapper
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return cast(F, decorated)


def cluster_options_from(
    *,
    cluster_url: str,
    username: str | None = None,
    password: Secret | None = None,
    ca_certs: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    insecure: bool = False,
    timeout: float = 30.0,
    headers: tuple[tuple[str, Secret], ...] = (),
    aws_region: str | None = None,
    aws_service: str = "es",
    state_index: str = STATE_INDEX,
    sandbox: str | None = None,
    sandbox_version: str = DEFAULT_SANDBOX_VERSION,
    sandbox_emulators: bool = True,
    sandbox_security: bool = False,
    sandbox_emulate: tuple[tuple[str, str], ...] = (),
) -> ClusterOptions:
    """The ClusterOptions for parsed option values; UsageError on contradictions."""
    if password is not None and username is None:
        raise click.UsageError("--password needs --username")
    if sandbox_security and sandbox is None:
        raise click.UsageError("--sandbox-security needs --sandbox")
    if aws_region and username:
        raise click.UsageError("--aws-sigv4 and --username are alternatives; give one")
    settings = ConnectionSettings(
        url=cluster_url.rstrip("/"),
        username=username,
        password=password,
        ca_certs=ca_certs,
        client_cert=client_cert,
        client_key=client_key,
        verify=not insecure,
        timeout=timeout,
        headers=dict(headers),
        aws_sigv4=_sigv4(aws_region, aws_service),
    )
    return ClusterOptions(
        settings=settings,
        state_index=state_index,
        sandbox=sandbox,
        sandbox_version=sandbox_version,
        sandbox_emulators=sandbox_emulators,
        sandbox_security=sandbox_security,
        sandbox_emulate=sandbox_emulate,
    )


def _sigv4(region: str | None, service: str) -> AwsSigV4 | None:
    if not region:
        return None
    return AwsSigV4(region=region, service="aoss" if service == "aoss" else "es")


@contextlib.contextmanager
def open_cluster(options: ClusterOptions) -> Iterator[Connection]:
    """A connection for the options: to the sandbox when asked (started and stopped here)."""
    if options.sandbox_emulate and options.sandbox is None:
        raise click.UsageError("--sandbox-emulate needs --sandbox (or plan --probe-offline)")
    with contextlib.ExitStack() as stack:
        settings = options.settings
        if options.sandbox is not None:
            # With security on, osml is the sandbox's `admin` (all_access), with a password
            # made for this run only: it reaches no output and no file.
            admin = (
                Secret(secrets.token_urlsafe(24), source="sandbox admin password")
                if options.sandbox_security
                else None
            )
            url = stack.enter_context(
                running_sandbox(
                    options.sandbox,
                    options.sandbox_version,
                    emulators=options.sandbox_emulators,
                    admin_password=admin,
                    emulate_hosts=dict(options.sandbox_emulate),
                )
            )
            settings = ConnectionSettings(
                url=url,
                timeout=settings.timeout,
                username=SANDBOX_ADMIN if admin is not None else None,
                password=admin,
            )
        conn = stack.enter_context(connect(settings))
        yield conn


@contextlib.contextmanager
def connected(options: ClusterOptions) -> Iterator[Connection]:
    """`open_cluster` for commands that print: transport warnings (plain http to a remote
    host, verification off) go to stderr first. `osml watch` logs them as JSON instead."""
    with open_cluster(options) as conn:
        for warning in conn.warnings:
            click.echo(f"Warning: {warning}", err=True)
        yield conn


@contextlib.contextmanager
def running_sandbox(
    data_file: str,
    version: str,
    *,
    emulators: bool = True,
    admin_password: Secret | None = None,
    emulate_hosts: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run the built-in sandbox persisted in `data_file`; yields its URL. With an
    `admin_password` the sandbox runs with security on and its `admin` user has it."""
    # Imported here: only `--sandbox` runs need the server code.
    from reconciler.sandbox.server import Sandbox  # noqa: PLC0415

    users = (
        {SANDBOX_ADMIN: {**SANDBOX_ADMIN_ROLES, "password": admin_password.reveal()}}
        if admin_password is not None
        else None
    )
    try:
        sandbox = Sandbox(
            version=version,
            port=0,
            data=data_file,
            emulators=emulators,
            security=admin_password is not None,
            users=users,
            emulate_hosts=emulate_hosts,
        )
    except ValueError as exc:  # an unknown profile name
        raise click.BadParameter(str(exc), param_hint="'--sandbox-version'") from exc
    try:
        Path(data_file).parent.mkdir(parents=True, exist_ok=True)
        sandbox.start()
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise click.ClickException(f"--sandbox: cannot use {data_file}: {exc}") from exc
    with sandbox:
        yield str(sandbox.url)
