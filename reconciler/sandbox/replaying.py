"""`POST /_sandbox/replay`: many API requests sent as one, to fill a sandbox fast.

Creating tens of thousands of resources one HTTP request at a time costs the client
and the server far more than the API's work: the benchmarks at 20,000 and 50,000
resources fill their sandbox this way instead. Each request of the batch goes to the
very route and handler the HTTP server would call, in order, as the same user, so what
is stored is exactly what the API stores; only the HTTP layer is skipped, and with it
fault injection and the request log (a replayed request is not counted as served).

Body: `{"requests": [{"method": "POST", "path": "/_plugins/_ml/...", "body": {...}}]}`
(`path` may carry a query string; `raw` instead of `body` sends text as it is, for the
NDJSON routes). Answer: `{"responses": [{"status": 200, "body": {...}}]}`, one per
request in the same order; a refused request answers its error envelope there and the
batch goes on. An admin route like the others of `admin.py`.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from reconciler.sandbox.admin import admin_only
from reconciler.sandbox.http import ApiError, Context, Request, Response, Router

_log = logging.getLogger("reconciler.sandbox")

ROUTE = "/_sandbox/replay"


def register(router: Router) -> None:
    """Add `POST /_sandbox/replay`, replaying through `router` itself."""
    router.add("POST", ROUTE, admin_only(functools.partial(_replay, router)))


def _replay(router: Router, ctx: Context, request: Request) -> Response:
    batch = request.body.get("requests") if isinstance(request.body, Mapping) else None
    if not isinstance(batch, list):
        raise ApiError(
            400, 'a replay body is {"requests": [...]}', error_type="illegal_argument_exception"
        )
    answers = [_one(router, ctx, request, item, n) for n, item in enumerate(batch)]
    return Response(200, {"responses": answers})


def _one(router: Router, ctx: Context, outer: Request, item: Any, n: int) -> dict[str, Any]:
    try:
        inner = _request(item, n, user=outer)
        if inner.path.startswith("/_sandbox"):
            raise ApiError(
                400, f"requests[{n}]: admin routes are not replayed",
                error_type="illegal_argument_exception",
            )  # fmt: skip
        match = router.resolve(inner.method, inner.raw_path)
        inner.route = match.route.pattern
        if match.route.raw_body:
            inner.body = None
        response = match.route.handler(ctx, inner, **match.params)
    except ApiError as exc:
        response = exc.to_response()
    except Exception:
        # As the server answers a handler bug: 500, with the traceback in the log.
        _log.exception("sandbox handler failed in a replay: requests[%d]", n)
        response = ApiError(500, "sandbox internal error", error_type="exception").to_response()
    return {"status": response.status, "body": response.body}


def _request(item: Any, n: int, *, user: Request) -> Request:
    if not isinstance(item, Mapping) or not isinstance(item.get("path"), str):
        raise ApiError(
            400, f"requests[{n}] needs a method and a path", error_type="illegal_argument_exception"
        )
    split = urlsplit(str(item["path"]))
    raw_text = item.get("raw")
    body = item.get("body")
    raw = raw_text.encode() if isinstance(raw_text, str) else b""
    if body is not None and not raw:
        raw = json.dumps(body).encode()
    return Request(
        method=str(item.get("method", "GET")).upper(),
        path=unquote(split.path) or "/",
        params=dict(parse_qsl(split.query, keep_blank_values=True)),
        headers={"content-type": "application/json"},
        body=body,
        raw=raw,
        user=user.user,
        raw_path=split.path or "/",
    )
