"""The sandbox's own control plane under `/_sandbox/`: the request log, runtime fault
injection and a state dump. Real clusters have none of this; tests and newcomers use it.

The server records every request in a `RequestLog` (kept on `ctx.extras`) and registers the
routes with `register(router)`. Admin routes bypass fault injection, so a test can always
repair a sandbox it broke; with security on they need an admin user (role `all_access`),
since they show every stored document and can break the cluster at will. The state dump
never shows the ML master key or any other document of `.plugins-ml-config`.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import threading
import time
from collections.abc import Mapping
from typing import Any

from reconciler.sandbox.faults import FaultSpecError
from reconciler.sandbox.http import ApiError, Context, Handler, Request, Response, Router

LOG_KEY = "sandbox.request_log"
"""Where the server keeps the RequestLog in `ctx.extras`."""
_SECRET_INDICES = (".plugins-ml-config",)
_MAX_ENTRIES = 100_000


@dataclasses.dataclass(frozen=True)
class Entry:
    """One served request."""

    method: str
    path: str
    route: str | None
    """The matched route pattern, e.g. `/{index}/_doc/{id}`; None when nothing matched."""
    status: int
    """The HTTP status sent; 0 when the connection was reset without an answer."""
    action: str
    """`answer`, `reset` (closed before acting) or `lost` (acted, then closed)."""
    duration_ms: float
    at: float
    """Epoch seconds when the request ended."""


class RequestLog:
    """A bounded, thread-safe log of requests, with counters for tests."""

    def __init__(self) -> None:
        self._entries: collections.deque[Entry] = collections.deque(maxlen=_MAX_ENTRIES)
        self._lock = threading.Lock()

    def record(self, request: Request, *, status: int, action: str, duration: float) -> None:
        entry = Entry(
            request.method,
            request.path,
            request.route,
            status,
            action,
            round(duration * 1000, 3),
            time.time(),
        )
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def count(
        self, route: str | None = None, *, method: str | None = None, path: str | None = None
    ) -> int:
        """How many requests matched every given filter (route pattern, method, exact path)."""
        return sum(
            1
            for e in self.entries()
            if (route is None or e.route == route)
            and (method is None or e.method == method.upper())
            and (path is None or e.path == path)
        )

    def counts(self) -> dict[str, int]:
        """Requests per `METHOD route` (unmatched paths are counted under their path)."""
        counter = collections.Counter(f"{e.method} {e.route or e.path}" for e in self.entries())
        return dict(counter)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def register(router: Router) -> None:
    """Add the `/_sandbox/` routes."""
    router.add("GET", "/_sandbox/requests", admin_only(_get_requests))
    router.add("DELETE", "/_sandbox/requests", admin_only(_clear_requests))
    router.add("GET", "/_sandbox/faults", admin_only(_get_faults))
    router.add("PUT", "/_sandbox/faults", admin_only(_put_faults))
    router.add("DELETE", "/_sandbox/faults", admin_only(_clear_faults))
    router.add("GET", "/_sandbox/state", admin_only(_state))


def admin_only(handler: Handler) -> Handler:
    """`handler`, refused with 403 to an authenticated user who is not an admin.

    The server has already answered 401 to a request without valid credentials when
    security is on; without security there is no user and nothing to check.
    """

    @functools.wraps(handler)
    def guarded(ctx: Context, request: Request) -> Response:
        user = request.user
        if ctx.config.security and user is not None and not user.is_admin:
            raise ApiError(
                403,
                f"no permissions for [{request.method} {request.path}] and User "
                f"[name={user.name}, backend_roles={user.backend_roles}, requestedTenant=null]",
                error_type="security_exception",
            )
        return handler(ctx, request)

    return guarded


def _log(ctx: Context) -> RequestLog:
    log = ctx.extras.setdefault(LOG_KEY, RequestLog())
    assert isinstance(log, RequestLog)
    return log


def _get_requests(ctx: Context, request: Request) -> Response:
    log = _log(ctx)
    return Response(
        200,
        {
            "counts": log.counts(),
            "requests": [dataclasses.asdict(e) for e in log.entries()],
        },
    )


def _clear_requests(ctx: Context, request: Request) -> Response:
    _log(ctx).clear()
    return Response(200, {"acknowledged": True})


def _get_faults(ctx: Context, request: Request) -> Response:
    return Response(200, {"faults": ctx.faults.spec(), "injected": dict(ctx.faults.injected)})


def _put_faults(ctx: Context, request: Request) -> Response:
    if not isinstance(request.body, Mapping):
        raise ApiError(
            400, "a fault spec must be a JSON object", error_type="illegal_argument_exception"
        )
    try:
        ctx.faults.configure(request.body)
    except FaultSpecError as exc:
        raise ApiError(400, str(exc), error_type="illegal_argument_exception") from None
    return Response(200, {"acknowledged": True, "faults": ctx.faults.spec()})


def _clear_faults(ctx: Context, request: Request) -> Response:
    ctx.faults.clear()
    return Response(200, {"acknowledged": True})


def _state(ctx: Context, request: Request) -> Response:
    with_docs = request.flag("docs")
    indices: dict[str, Any] = {}
    for name in ctx.store.index_names():
        entry: dict[str, Any] = {"count": ctx.store.count(name)}
        if with_docs:
            entry["docs"] = {
                d.id: ("<redacted>" if name in _SECRET_INDICES else d.source)
                for d in ctx.store.docs(name)
            }
        indices[name] = entry
    return Response(
        200,
        {
            "profile": ctx.profile.name,
            "version": ctx.profile.version,
            "indices": indices,
            "settings": {
                "persistent": ctx.settings.explicit("persistent"),
                "transient": ctx.settings.explicit("transient"),
            },
            "faults": ctx.faults.spec(),
            "scheduled_jobs": ctx.scheduler.pending,
        },
    )
