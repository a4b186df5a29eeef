"""The sandbox server: the `Sandbox` Python API, its lifecycle, and request dispatch
(authentication, fault injection, routing, the error envelope).

Used by `osml sandbox`, by `osml apply --sandbox` and by the test fixtures of `testing.py`.
Sockets live in `serving.py`, the data file in `persisting.py`, and every endpoint in a
sibling module (`documents`, `clustersettings`, `security`, `admin`, `ml/`); this module
wires them. It holds no endpoint semantics of its own beyond `/` and `/_cluster/health`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from reconciler.sandbox import (
    admin,
    clustersettings,
    documents,
    faults,
    managed,
    pipelining,
    replaying,
    security,
)
from reconciler.sandbox.http import (
    ApiError,
    Context,
    Request,
    Response,
    Router,
    SandboxConfig,
    Scheduler,
)
from reconciler.sandbox.ml import register as register_ml
from reconciler.sandbox.ml.profiles import Profile, get_profile
from reconciler.sandbox.persisting import Saver
from reconciler.sandbox.pipelines import Pipelines
from reconciler.sandbox.providers import emulating
from reconciler.sandbox.serving import HttpServer
from reconciler.sandbox.store import Store

_log = logging.getLogger("reconciler.sandbox")


class Sandbox:
    """A running (or startable) sandbox cluster; use as a context manager."""

    def __init__(
        self,
        version: str = "3.x",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data: str | Path | None = None,
        security: bool = False,
        faults: Mapping[str, Any] | str | None = None,
        deploy_delay: float = 0.05,
        seed: int = 0,
        tls: bool = False,
        client_certs: bool = False,
        users: Mapping[str, Mapping[str, Any]] | None = None,
        clock: Callable[[], float] | None = None,
        emulators: bool = True,
        offline: bool = False,
        emulate_hosts: Mapping[str, str] | None = None,
        flavor: str = managed.OPENSEARCH,
    ) -> None:
        if flavor not in managed.FLAVORS:
            raise ValueError(f"unknown flavor {flavor!r}; one of {', '.join(managed.FLAVORS)}")
        self.profile: Profile = get_profile(version)
        self.host, self._wanted_port = host, port
        self.data = Path(data) if data is not None else None
        spec = fault_spec(faults)
        config = SandboxConfig(
            deploy_delay=deploy_delay,
            security=security,
            users={k: dict(v) for k, v in (users or {}).items()},
            seed=seed,
            emulators=emulators,
            offline=offline,
            emulate_hosts=emulating.check_hosts(emulate_hosts or {}),
            flavor=flavor,
        )
        self.context = _build_context(self.profile, config, spec=spec, clock=clock or time.time)
        self.requests = admin.RequestLog()
        """Every request served, with counters (`requests.count(route, method=...)`)."""
        self.context.extras[admin.LOG_KEY] = self.requests
        self._tls_dir = tempfile.TemporaryDirectory(prefix="osml-sandbox-tls-") if tls else None
        self.security = security_for(config, tls_dir=self._tls_dir, client_certs=client_certs)
        self.router = build_router()
        self._saver = (
            Saver(
                self.data,
                store=self.context.store,
                settings=self.context.settings,
                pipelines=self.context.pipelines,
                profile=self.profile.name,
            )
            if self.data is not None
            else None
        )
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Load the data file (if any), bind the port and serve on a background thread."""
        if self._server is not None:
            return self
        if self._saver is not None:
            self._saver.load()
        tls = self.security.server_context() if self.security is not None else None
        self._server = HttpServer(
            (self.host, self._wanted_port),
            dispatch=self.dispatch,
            record=self.requests.record,
            tls=tls,
        )
        self.context.scheduler.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cancel background jobs and flush the data file."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        # Keep-alive connections would otherwise still be served after the stop.
        self._server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.context.scheduler.stop()
        if self._saver is not None:
            self._saver.stop()
        self._server = self._thread = None
        if self._tls_dir is not None:
            self._tls_dir.cleanup()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.security is not None and self.security.certificates else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        """Client connections being served now; 0 when stopped."""
        return self._server.open_connections if self._server is not None else 0

    @property
    def faults(self) -> faults.Faults:
        """Runtime control of fault injection."""
        return self.context.faults

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate to trust when the sandbox runs with TLS."""
        certs = self.security.certificates if self.security is not None else None
        return certs.ca_file if certs is not None else None

    def issue_client_certificate(self, name: str, *, directory: Path) -> tuple[Path, Path]:
        """A client certificate for `name` signed by the sandbox CA: (cert, key) files."""
        if self.security is None:
            raise RuntimeError("client certificates need tls=True")
        return self.security.issue_client_certificate(name, directory=directory)

    def flush(self) -> None:
        """Write the data file now (no-op without `data`)."""
        if self._saver is not None:
            self._saver.save()

    # -- dispatch --------------------------------------------------------------------
    def dispatch(self, request: Request, *, peer_cn: str | None = None) -> tuple[Response, str]:
        """Answer one request; returns the response and the transport action
        (`answer`, `reset` = close without answering, `lost` = act, then close)."""
        admin = request.path.startswith("/_sandbox/") or request.path == "/_sandbox"
        try:
            # Admin routes too: with security on they need the admin user (`admin`).
            if self.security is not None:
                request.user = self.security.authenticate(request.headers, peer_cn=peer_cn)
            decision = (
                faults.Decision() if admin else self.faults.decide(request.method, request.path)
            )
            if decision.delay:
                time.sleep(decision.delay)
            if decision.action == "reset":
                return Response(0), "reset"
            if decision.action == "error":
                body, headers = faults.error_body(decision.status)
                return Response(decision.status, body, headers), "answer"
            response = self._route(request)
            return response, "lost" if decision.action == "lost" else "answer"
        except ApiError as exc:
            return exc.to_response(), "answer"

    def _route(self, request: Request) -> Response:
        match = self.router.resolve(request.method, request.raw_path or request.path)
        request.route = match.route.pattern
        if not match.route.raw_body:
            request.body = parse_json(request.raw)
        try:
            return match.route.handler(self.context, request, **match.params)
        except ApiError:
            raise
        except Exception:
            # A handler bug must answer 500 like a server would, and keep the traceback in the log.
            _log.exception("sandbox handler failed: %s %s", request.method, request.path)
            raise ApiError(500, "sandbox internal error", error_type="exception") from None


def fault_spec(value: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """A fault spec from a mapping, a JSON string or `@file`."""
    if value is None:
        return {}
    return faults.load_spec(value) if isinstance(value, str) else dict(value)


def security_for(
    config: SandboxConfig, *, tls_dir: tempfile.TemporaryDirectory[str] | None, client_certs: bool
) -> security.Security | None:
    """The Security object for these options, or None when neither auth nor TLS is on."""
    if not config.security and tls_dir is None:
        return None
    return security.Security(
        config.users,
        basic_auth=config.security,
        tls_directory=Path(tls_dir.name) if tls_dir is not None else None,
        client_certs=client_certs,
    )


def build_router() -> Router:
    """Every route of the sandbox: root, documents, settings, security, ML and admin."""
    router = Router()
    router.add("GET", "/", _root)
    router.add("GET", "/_cluster/health", _health)
    documents.register(router)
    pipelining.register(router)
    clustersettings.register(router)
    security.register(router)
    admin.register(router)
    replaying.register(router)
    register_ml(router)
    return router


def parse_json(raw: bytes) -> Any:
    """A request body as JSON; None when empty; 400 when malformed, as OpenSearch answers."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(
            400, f"Failed to parse content to map: {exc}", error_type="parse_exception"
        ) from None


def _build_context(
    profile: Profile, config: SandboxConfig, *, spec: Mapping[str, Any], clock: Callable[[], float]
) -> Context:
    return Context(
        store=Store(clock=clock),
        profile=profile,
        settings=clustersettings.ClusterSettings(profile.settings),
        faults=faults.Faults(spec, seed=config.seed),
        clock=clock,
        scheduler=Scheduler(clock=clock),
        config=config,
        pipelines=Pipelines(),
    )


def _root(ctx: Context, request: Request) -> Response:
    version = ctx.profile.version
    return Response(
        200,
        {
            "name": "sandbox-node-1",
            "cluster_name": managed.cluster_name(ctx.config.flavor),
            "cluster_uuid": "osml-sandbox-cluster-uuid0",
            "version": {
                "distribution": "opensearch",
                "number": version,
                "build_type": "tar",
                "build_hash": "sandbox",
                "build_date": "2026-01-01T00:00:00.000000Z",
                "build_snapshot": False,
                "lucene_version": "9.12.0" if version.startswith("2.") else "10.2.1",
                "minimum_wire_compatibility_version": "7.10.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "The OpenSearch Project: https://opensearch.org/",
        },
    )


def _health(ctx: Context, request: Request) -> Response:
    indices = len(ctx.store.index_names())
    return Response(
        200,
        {
            "cluster_name": managed.cluster_name(ctx.config.flavor),
            "status": "green",
            "timed_out": False,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": indices,
            "active_shards": indices,
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": 0,
        },
    )
