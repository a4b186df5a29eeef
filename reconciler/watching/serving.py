"""The watcher's HTTP listener: `/healthz`, `/readyz` and Prometheus `/metrics`.

`StatusServer` answers GET requests on a small threaded HTTP server in a daemon thread:
`/healthz` is 200 while the loop runs, `/readyz` is 200 when the last cycle succeeded
(503 with the reason otherwise), `/metrics` is the text exposition of `WatchMetrics`.
It reads state through callables given by `watching.running` and changes nothing; it
serves no manifest, plan or secret. A client that hangs up mid-request is normal on an
open port and worth one debug line, never a traceback on stderr. Bind to loopback
unless a scraper needs more.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.watching.metrics import CONTENT_TYPE

_log = logging.getLogger(__name__)

Probe = Callable[[], tuple[bool, str]]
"""A health check: (healthy, one line of detail)."""


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `:PORT` (all interfaces) or `[::1]:PORT`; ValueError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    host = host.strip("[]") or "0.0.0.0"  # `:PORT` asks for every interface
    return host, int(port)


class StatusServer:
    """Serves the three endpoints until `stop()`."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        alive: Probe,
        ready: Probe,
        metrics: Callable[[], str],
    ) -> None:
        self._routes: dict[str, Callable[[], tuple[int, str, str]]] = {
            "/healthz": lambda: _probe(alive),
            "/readyz": lambda: _probe(ready),
            "/metrics": lambda: (200, CONTENT_TYPE, metrics()),
        }
        try:
            self._server = _Server(address, _Handler)
        except OSError as exc:
            raise ReconcilerError(f"cannot listen on {address[0]}:{address[1]}: {exc}") from exc
        self._server.routes = self._routes
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port (the real port when 0 was asked)."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> StatusServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="osml-status-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()


def _probe(check: Probe) -> tuple[int, str, str]:
    ok, detail = check()
    return (200 if ok else 503), "text/plain; charset=utf-8", detail + "\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Callable[[], tuple[int, str, str]]]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Not socketserver's traceback on stderr: anyone who reaches the port could
        flood it by resetting connections. A hang-up is a debug line; anything else is
        a bug of ours and logged as an error, still without a traceback on stderr."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # resets, broken pipes, timeouts, TLS probes
            _log.debug("status client %s hung up: %s", client_address[0], error)
        else:
            _log.error("status request from %s failed: %r", client_address[0], error)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path.split("?", 1)[0])
        status, content_type, body = route() if route else (404, "text/plain", "not found\n")
        payload = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: scrapes every few seconds would drown the event log."""
