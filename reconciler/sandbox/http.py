"""The sandbox's request model: requests, responses, the error envelope, routing and
the context every handler receives.

The server (`server.py`) parses each HTTP request into a `Request`, resolves it with the
`Router` and calls the handler as `handler(ctx, request, **path_params) -> Response`.
Handlers raise `ApiError` for every refusal; the server renders it as the OpenSearch error
envelope of reference §1.3. This module speaks no sockets and holds no state of its own,
and, like the whole sandbox, imports nothing from the rest of osml.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from reconciler.sandbox.clustersettings import ClusterSettings
    from reconciler.sandbox.faults import Faults
    from reconciler.sandbox.ml.profiles import Profile
    from reconciler.sandbox.pipelines import Pipelines
    from reconciler.sandbox.store import Store

_log = logging.getLogger("reconciler.sandbox")


@dataclasses.dataclass
class User:
    """An authenticated caller, as the Security plugin would describe it."""

    name: str
    backend_roles: list[str] = dataclasses.field(default_factory=list)
    """Roles from the authentication backend; ML access control compares these."""
    roles: list[str] = dataclasses.field(default_factory=list)
    """Security roles; a user whose roles contain `all_access` is an admin (§1.6)."""

    @property
    def is_admin(self) -> bool:
        """True for a super user: its roles contain `all_access`."""
        return "all_access" in self.roles


@dataclasses.dataclass
class Request:
    """One parsed HTTP request as a handler sees it."""

    method: str
    """Upper-case HTTP method; HEAD requests reach GET handlers when no HEAD route exists."""
    path: str
    """The URL path without the query string, percent-decoded per segment."""
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    """Query string parameters (last value wins, as in OpenSearch)."""
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Request headers with lower-case names."""
    body: Any | None = None
    """The parsed JSON body, or None when the body is empty or the route takes raw bytes."""
    raw: bytes = b""
    """The body exactly as received (NDJSON routes such as `_bulk` read this)."""
    user: User | None = None
    """The authenticated user; None when the sandbox runs without security."""
    raw_path: str = ""
    """The path as sent (percent-encoded); routing splits this so `%2F` stays inside an ID."""
    route: str | None = None
    """The matched route pattern, set by the server once routing succeeded (for the log)."""

    def flag(self, name: str, *, default: bool = False) -> bool:
        """A boolean query parameter: present without a value or `true` means True."""
        value = self.params.get(name)
        if value is None:
            return default
        return value in ("", "true")


@dataclasses.dataclass
class Response:
    """What a handler answers; the server serializes `body` as JSON unless it is str/bytes."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


class ApiError(Exception):
    """A refusal rendered as the OpenSearch error envelope (reference §1.3).

    `extra` adds fields to the root cause, as OpenSearch does for `index` or `index_uuid`.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        error_type: str = "status_exception",
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {error_type}: {reason}")
        self.status = status
        self.reason = reason
        self.error_type = error_type
        self.extra = dict(extra or {})

    def envelope(self) -> dict[str, Any]:
        """The JSON body OpenSearch would send for this error."""
        cause = {"type": self.error_type, "reason": self.reason, **self.extra}
        return {"error": {"root_cause": [cause], **cause}, "status": self.status}

    def to_response(self) -> Response:
        """The whole HTTP answer for this error."""
        return Response(self.status, self.envelope())


Handler = Callable[..., Response]
"""A route handler: `handler(ctx, request, **path_params) -> Response`; path parameters are
keyword arguments named as in the pattern, so handlers may declare them keyword-only."""


@dataclasses.dataclass(frozen=True)
class Route:
    """One registered route: a method, a path pattern and its handler."""

    method: str
    pattern: str
    handler: Handler
    raw_body: bool = False
    """True when the handler reads `Request.raw` itself (NDJSON): the server parses no JSON."""

    @property
    def segments(self) -> tuple[str, ...]:
        return _split(self.pattern)


@dataclasses.dataclass(frozen=True)
class Match:
    """A resolved request: the route and the values of its `{params}`."""

    route: Route
    params: dict[str, str]


class Router:
    """Maps (method, path) to handlers; literal segments win over `{params}`.

    Unknown paths answer 400 `no handler found for uri [...] and method [...]` and a known
    path with the wrong method answers 405, as OpenSearch's RestController does.
    """

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def route(
        self, method: str, pattern: str, *, raw_body: bool = False
    ) -> Callable[[Handler], Handler]:
        """Decorator registering `handler` for `method` and `pattern` like `/{index}/_doc/{id}`."""

        def register(handler: Handler) -> Handler:
            self.add(method, pattern, handler, raw_body=raw_body)
            return handler

        return register

    def add(self, method: str, pattern: str, handler: Handler, *, raw_body: bool = False) -> None:
        """Register `handler`; a later registration of the same method and pattern replaces it."""
        method = method.upper()
        self._routes = [r for r in self._routes if (r.method, r.pattern) != (method, pattern)]
        self._routes.append(Route(method, pattern, handler, raw_body))

    def resolve(self, method: str, path: str) -> Match:
        """The best route for the request, or ApiError 400/405 as OpenSearch answers."""
        segments = _split(path)
        candidates = [m for m in (self._match(r, segments) for r in self._routes) if m]
        if not candidates:
            raise NoHandlerError(path, method)
        # Most literal segments first, so `/connectors/_search` beats `/connectors/{id}`.
        candidates.sort(key=lambda m: _specificity(m.route.segments), reverse=True)
        for wanted in (method, "GET") if method == "HEAD" else (method,):
            for match in candidates:
                if match.route.method == wanted:
                    return match
        # OpenSearch prints a Java set of methods: `[GET, POST]`.
        allowed = ", ".join(sorted({m.route.method for m in candidates}))
        raise ApiError(
            405,
            f"Incorrect HTTP method for uri [{path}] and method [{method}], allowed: [{allowed}]",
            error_type="illegal_argument_exception",
        )

    @staticmethod
    def _match(route: Route, segments: tuple[str, ...]) -> Match | None:
        pattern = route.segments
        if len(pattern) != len(segments):
            return None
        params: dict[str, str] = {}
        for want, raw in zip(pattern, segments, strict=True):
            got = unquote(raw)
            if want.startswith("{") and want.endswith("}"):
                params[want[1:-1]] = got
            elif want != got:
                return None
        return Match(route, params)


class NoHandlerError(ApiError):
    """OpenSearch's answer to an unknown path: 400 and a bare `error` string, not the envelope."""

    def __init__(self, path: str, method: str) -> None:
        super().__init__(400, f"no handler found for uri [{path}] and method [{method}]")

    def envelope(self) -> dict[str, Any]:
        # RestController.handleBadRequest writes {"error": "<text>"} only (OpenSearch 1.x-3.x).
        return {"error": self.reason}


def _split(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part)


def _specificity(segments: tuple[str, ...]) -> tuple[bool, ...]:
    return tuple(not s.startswith("{") for s in segments)


@dataclasses.dataclass
class SandboxConfig:
    """Start-up options every handler may read through `ctx.config`."""

    deploy_delay: float = 0.05
    """Seconds a deploy task takes before the model is DEPLOYED (B's task runner)."""
    security: bool = False
    """Whether the Security plugin is emulated (basic auth, users with roles)."""
    users: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Internal users: name -> {"password", "backend_roles", "roles"}; admin/admin is added."""
    seed: int = 0
    """Seed for every random choice (fault decisions, generated IDs when deterministic)."""
    emulators: bool = True
    """Whether predict calls to well-known provider hosts are answered by the built-in
    provider emulators (`providers/`) instead of the network."""
    offline: bool = False
    """Whether predict may only reach emulated providers: any other host fails like an
    unreachable one, and no real call leaves the sandbox."""
    emulate_hosts: dict[str, str] = dataclasses.field(default_factory=dict)
    """`host` or `host:port` -> emulator family (`providers.emulating.FAMILIES`): predicts to
    these hosts are answered by that emulator, e.g. a self-hosted OpenAI-compatible server."""
    flavor: str = "opensearch"
    """`opensearch`, or `aws-managed` for an Amazon OpenSearch Service domain (`managed`)."""


class Scheduler:
    """Runs callables later on one background thread; tests may drive it with `run_due`."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def call_later(self, delay_seconds: float, fn: Callable[[], None]) -> None:
        """Run `fn` on the scheduler thread after `delay_seconds`."""
        with self._cond:
            entry = (self._clock() + max(delay_seconds, 0.0), next(self._counter), fn)
            heapq.heappush(self._queue, entry)
            self._cond.notify()

    def cancel_all(self) -> None:
        """Forget every pending call (used when the sandbox stops)."""
        with self._cond:
            self._queue.clear()
            self._cond.notify()

    @property
    def pending(self) -> int:
        """How many calls wait to run."""
        with self._cond:
            return len(self._queue)

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        if self._thread is None:
            self._stopped = False
            self._thread = threading.Thread(
                target=self._loop, name="sandbox-scheduler", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread and drop pending calls."""
        with self._cond:
            self._stopped = True
            self._queue.clear()
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def run_due(self) -> int:
        """Run every call that is due now, on the calling thread; return how many ran."""
        ran = 0
        while (fn := self._pop_due()) is not None:
            _run_safely(fn)
            ran += 1
        return ran

    def _pop_due(self) -> Callable[[], None] | None:
        with self._cond:
            if self._queue and self._queue[0][0] <= self._clock():
                return heapq.heappop(self._queue)[2]
            return None

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                wait = self._queue[0][0] - self._clock() if self._queue else None
                if wait is None or wait > 0:
                    # Wake at least every 50 ms: the clock may be a test clock that jumps.
                    self._cond.wait(timeout=min(wait, 0.05) if wait is not None else 0.05)
                    continue
            self.run_due()


def _run_safely(fn: Callable[[], None]) -> None:
    # A failing background job must not kill the scheduler thread; it is logged instead.
    try:
        fn()
    except Exception:
        _log.exception("sandbox background job failed")


@dataclasses.dataclass
class Context:
    """Everything a handler may use; one per running sandbox."""

    store: Store
    profile: Profile
    settings: ClusterSettings
    faults: Faults
    clock: Callable[[], float]
    """Epoch seconds; tests may inject a fake clock."""
    scheduler: Scheduler
    config: SandboxConfig
    pipelines: Pipelines
    """Ingest and search pipelines (cluster metadata, `pipelines.py`)."""
    lock: threading.RLock = dataclasses.field(default_factory=threading.RLock)
    """Taken by handlers for multi-step operations (e.g. register model + create task)."""
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Room for subsystems (B's ML state) to keep per-sandbox objects without new fields."""

    def now_millis(self) -> int:
        """The clock in epoch milliseconds, the unit of ML Commons timestamps."""
        return int(self.clock() * 1000)
