"""A proxy that truncates responses mid-body, for the one server fault the sandbox's
injector cannot make: it resets before answering or after acting, but always sends a
whole body when it answers.

`TruncatingProxy(upstream, rate=...)` forwards every request to the sandbox and, for a
seeded random share of them (never `GET /`), sends the status line, the headers and the
full `Content-Length`, then only half the body, and closes the connection. The server has
acted; the client sees an incomplete read. Test support only.
"""

from __future__ import annotations

import http.client
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class TruncatingProxy:
    """A running proxy; use as a context manager. `truncated` counts the cut answers."""

    def __init__(self, upstream: str, *, rate: float, seed: int = 0) -> None:
        self.upstream = urlsplit(upstream)
        self.rate = rate
        self.truncated = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def cut(self, method: str, path: str) -> bool:
        """Whether to truncate this answer (the cluster's identity is always whole)."""
        if path == "/":
            return False
        with self._lock:
            if self._random.random() >= self.rate:
                return False
            self.truncated += 1
            return True

    def forward(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        connection = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=10
        )
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        return response.status, response.getheaders(), payload

    def __enter__(self) -> TruncatingProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(proxy: TruncatingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            status, answer_headers, payload = proxy.forward(self.command, self.path, body, headers)
            cut = proxy.cut(self.command, self.path) and len(payload) > 1
            self.send_response(status)
            for name, value in answer_headers:
                if name.lower() not in _HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2] if cut else payload)
            self.wfile.flush()
            if cut:
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815

    return Handler
