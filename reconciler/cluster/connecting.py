"""Open a connection to an OpenSearch cluster and learn who it is.

`connect(settings)` builds one `opensearchpy.OpenSearch` client (pooled connections, no
compression, no retries: osml's applier retries with its own backoff and error classes)
and reads `GET /` once for the version and the cluster identity. `attach(client)` does
the same for a client someone else built (the test fixtures). The CLI builds the
settings (`cli.options`) and prints `Connection.warnings`; this module never prints, and
never logs or echoes a password, token or request body: settings keep them as `Secret`s,
and the HTTP connection class below logs method, path and status only.
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import logging
import ssl
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import urllib3
from opensearchpy import OpenSearch, Urllib3HttpConnection
from opensearchpy import exceptions as os_exc

from reconciler.cluster.failures import cluster_error
from reconciler.errors import ClusterError, TransientClusterError
from reconciler.mlcommons.flavors import Flavor, flavor_of_root, flavor_of_service
from reconciler.retrying import Backoff, retry
from reconciler.secrets import Secret

logger = logging.getLogger(__name__)

AwsService = Literal["es", "aoss"]

CONNECT_RETRY = Backoff(initial=0.1, maximum=1.0, attempts=3)
"""`GET /` is retried briefly on resets and 502-504, not long: a wrong URL should fail fast."""


@dataclasses.dataclass(frozen=True, slots=True)
class AwsSigV4:
    """Sign every request with AWS SigV4, credentials from boto3's default chain."""

    region: str
    """The AWS region of the domain, such as `eu-west-1`."""
    service: AwsService = "es"
    """`es` for Amazon OpenSearch Service, `aoss` for OpenSearch Serverless."""


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Everything needed to reach a cluster; secrets stay wrapped so reprs are redacted."""

    url: str = "http://localhost:9200"
    """Base URL of the cluster, scheme included."""
    username: str | None = None
    """Basic-auth user; needs `password`."""
    password: Secret | None = None
    """Basic-auth password."""
    ca_certs: str | None = None
    """A PEM bundle of CAs to trust instead of the system store."""
    client_cert: str | None = None
    """A PEM client certificate for mutual TLS."""
    client_key: str | None = None
    """The private key of `client_cert`, when not in the same file."""
    verify: bool = True
    """Verify the server certificate; False only on `--insecure`."""
    timeout: float = 30.0
    """Seconds to wait for any single response."""
    headers: Mapping[str, Secret] = dataclasses.field(default_factory=dict)
    """Extra headers sent with every request (bearer token, API key); values are secret."""
    aws_sigv4: AwsSigV4 | None = None
    """Sign requests with SigV4 instead of basic auth."""
    pool_size: int = 16
    """Kept-alive connections, enough for the applier's default parallelism of 10."""


@dataclasses.dataclass(frozen=True, eq=False)
class Connection:
    """A connected client and what `GET /` said about the cluster."""

    client: OpenSearch
    """The opensearch-py client; only `reconciler.cluster` modules use it."""
    url: str
    """The base URL, for messages."""
    version: str
    """The server version number, such as `2.19.1`."""
    cluster_name: str = ""
    cluster_uuid: str = ""
    flavor: Flavor = Flavor.OPENSEARCH
    """What the cluster is (`mlcommons.flavors`): told by the SigV4 service or `GET /`."""
    flavor_shown_by: str = "GET / of a self-managed cluster"
    """How `flavor` was told, for the message of a declaration that disagrees."""
    warnings: tuple[str, ...] = ()
    """Things the user should know (plain http to a remote host); the CLI prints them."""

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self.client.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(settings: ConnectionSettings) -> Connection:
    """Build the client for `settings` and identify the cluster; ClusterError if we cannot."""
    client = build_client(settings)
    try:
        url = redacted_url(settings.url)
        service = settings.aws_sigv4.service if settings.aws_sigv4 is not None else None
        return attach(client, url=url, warnings=_transport_warnings(settings), service=service)
    except BaseException:
        client.close()
        raise


def attach(
    client: OpenSearch,
    *,
    url: str,
    warnings: tuple[str, ...] = (),
    service: str | None = None,
) -> Connection:
    """Identify the cluster behind an existing client with one `GET /`; `service` is the
    SigV4 service the client signs for, if any."""
    info = _server_info(client, url=url)
    version = info.get("version") or {}
    flavor, shown_by = _flavor(info, service=service)
    return Connection(
        client=client,
        url=url,
        version=str(version.get("number", "")),
        cluster_name=str(info.get("cluster_name", "")),
        cluster_uuid=str(info.get("cluster_uuid", "")),
        flavor=flavor,
        flavor_shown_by=shown_by,
        warnings=warnings,
    )


def _flavor(info: Mapping[str, Any], *, service: str | None) -> tuple[Flavor, str]:
    """The flavor and how it shows: a SigV4 service of the managed services says so; else
    the `GET /` answer (a domain's cluster name is `<account id>:<domain name>`)."""
    by_service = flavor_of_service(service)
    if by_service is not None:
        return by_service, f"SigV4 service {service}"
    flavor = flavor_of_root(info)
    if flavor is Flavor.AWS_MANAGED:
        return flavor, f"GET / cluster_name {info.get('cluster_name')}"
    return flavor, "GET / of a self-managed cluster"


def build_client(settings: ConnectionSettings) -> OpenSearch:
    """The opensearch-py client for `settings`, without contacting the cluster."""
    kwargs: dict[str, Any] = {
        "hosts": [settings.url],
        "connection_class": QuietConnection,
        "http_compress": False,
        "max_retries": 0,
        "retry_on_timeout": False,
        "retry_on_status": (),
        "timeout": settings.timeout,
        "pool_maxsize": settings.pool_size,
        "headers": {name: value.reveal() for name, value in settings.headers.items()},
    }
    if urlsplit(settings.url).scheme == "https":
        kwargs["ssl_context"] = _ssl_context(settings)
    auth = _http_auth(settings)
    if auth is not None:
        kwargs["http_auth"] = auth
    return OpenSearch(**kwargs)


class _QuietHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    """An HTTPS pool that does not warn about unverified certificates.

    Used only when the user asked for `--insecure`: the warning would repeat on every
    request, and `urllib3.disable_warnings()` would silence it for the whole process.
    """

    def _validate_conn(self, conn: Any) -> None:
        urllib3.HTTPConnectionPool._validate_conn(self, conn)
        closed = conn.is_closed if hasattr(conn, "is_closed") else conn.sock is None
        if closed:
            conn.connect()


class QuietConnection(Urllib3HttpConnection):
    """opensearch-py's urllib3 connection, minus body logging and insecure-TLS warnings.

    opensearch-py logs request bodies at DEBUG and traces them as curl commands; our
    bodies carry connector credentials, so we log the method, path and status only.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        context = kwargs.get("ssl_context")
        if self.use_ssl and context is not None and context.verify_mode == ssl.CERT_NONE:
            self._urllib3_pool_factory = lambda: _QuietHTTPSConnectionPool(
                self.hostname, port=self.port, timeout=self.timeout, ssl_context=context
            )
            self._create_urllib3_pool()

    def log_request_success(  # noqa: PLR0917 (opensearch-py's signature)
        self,
        method: str,
        full_url: str,
        path: str,
        body: Any,
        status_code: int,
        response: str,
        duration: float,
    ) -> None:
        logger.debug("%s %s [status:%s %.3fs]", method, path, status_code, duration)

    def log_request_fail(  # noqa: PLR0917 (opensearch-py's signature)
        self,
        method: str,
        full_url: str,
        path: str,
        body: Any,
        duration: float,
        status_code: int | None = None,
        response: str | None = None,
        exception: Exception | None = None,
    ) -> None:
        logger.debug("%s %s [status:%s %.3fs]", method, path, status_code or "N/A", duration)


def _ssl_context(settings: ConnectionSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.ca_certs)
    if settings.client_cert:
        context.load_cert_chain(settings.client_cert, keyfile=settings.client_key)
    if not settings.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _http_auth(settings: ConnectionSettings) -> Any:
    if settings.aws_sigv4 is not None:
        return _sigv4_auth(settings.aws_sigv4)
    if settings.username is not None:
        password = settings.password.reveal() if settings.password is not None else ""
        # The Authorization header carries base64(user:password); a server that echoes
        # request headers must not reveal it, so scrub() learns that form too.
        token = base64.b64encode(f"{settings.username}:{password}".encode()).decode("ascii")
        Secret(token, source="basic auth header")
        return (settings.username, password)
    return None


def _sigv4_auth(sigv4: AwsSigV4) -> Any:
    # boto3 is an optional dependency (`osml[aws]`): import it only when asked for SigV4.
    try:
        import boto3  # noqa: PLC0415
    except ImportError as exc:
        raise ClusterError(
            "AWS SigV4 signing needs boto3: install it with `pip install 'osml[aws]'`"
        ) from exc
    from opensearchpy import Urllib3AWSV4SignerAuth  # noqa: PLC0415

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ClusterError(
            "AWS SigV4: no AWS credentials found (environment, profile, or instance role)"
        )
    return Urllib3AWSV4SignerAuth(credentials, sigv4.region, sigv4.service)


def _transport_warnings(settings: ConnectionSettings) -> tuple[str, ...]:
    parts = urlsplit(settings.url)
    shown = redacted_url(settings.url)
    found: list[str] = []
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        found.append(
            f"{shown} is plain http to a remote host: passwords, tokens and "
            "connector credentials travel unencrypted; use https"
        )
    if parts.scheme == "https" and not settings.verify:
        found.append(f"{shown}: TLS certificate verification is off (--insecure)")
    return tuple(found)


def redacted_url(url: str) -> str:
    """`url` fit for messages: any `user:password@` replaced by `***@`."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"***@{host}").geturl()


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine (plain http to it is acceptable)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _server_info(client: OpenSearch, *, url: str) -> Mapping[str, Any]:
    try:
        info = retry(lambda: _info_once(client, url=url), backoff=CONNECT_RETRY)
    except TransientClusterError as exc:
        if isinstance(exc.__cause__, os_exc.ConnectionError):
            raise ClusterError(f"{url}: cannot reach the cluster: {exc.reason}") from exc
        raise
    if not isinstance(info, Mapping) or not is_opensearch(info):
        raise ClusterError(
            f"{url}: this is not an OpenSearch cluster (`GET /` answered {info!r:.200})"
        )
    return info


def _info_once(client: OpenSearch, *, url: str) -> Any:
    try:
        return client.info()
    except os_exc.TransportError as exc:
        raise cluster_error(exc, subject=url, action="`GET /`") from exc


def is_opensearch(info: Mapping[str, Any]) -> bool:
    """Whether a `GET /` answer comes from OpenSearch (not Elasticsearch, not a proxy page)."""
    version = info.get("version")
    if not isinstance(version, Mapping) or not version.get("number"):
        return False
    distribution = version.get("distribution")
    if distribution is not None:
        return str(distribution).lower() == "opensearch"
    # OpenSearch always sends a distribution; its absence means Elasticsearch (or an
    # emulator of it) unless the tagline names OpenSearch.
    return "opensearch" in str(info.get("tagline", "")).lower()
