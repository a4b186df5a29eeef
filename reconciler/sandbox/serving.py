"""The sandbox's HTTP transport: a threaded HTTP/1.1 server (keep-alive, optional TLS),
turning each request into a `Request` and each answer back into bytes.

`server.Sandbox` creates one `HttpServer` with a `dispatch` function and a `record`
function; this module owns sockets only: no routing, auth or faults are decided here. It
acts on the transport verdict of `dispatch`: answer, reset the connection, or reset it
after the work was done (a lost response).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from reconciler.sandbox.http import Request, Response
from reconciler.sandbox.security import peer_common_name

_log = logging.getLogger("reconciler.sandbox")

Dispatch = Callable[..., tuple[Response, str]]
"""`dispatch(request, *, peer_cn) -> (response, action)`; action is answer, reset or lost."""
Record = Callable[..., None]
"""`record(request, *, status, action, duration)`: the request log."""


class HttpServer(ThreadingHTTPServer):
    """One listening socket; a thread per connection."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        dispatch: Dispatch,
        record: Record,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.dispatch, self.record = dispatch, record
        if tls is not None:
            tls.sslsocket_class = _ServerSSLSocket
        self._tls = tls
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        """Accept one connection and wrap it for TLS (the handshake is in the handler).

        Not a wrapped listening socket: its `accept` wraps a connection the client has
        already reset, fails, and leaves that SSLSocket unclosed (a ResourceWarning, and
        a file descriptor until the garbage collector runs). A connection that is gone
        is closed here instead, and socketserver drops it quietly.
        """
        sock, client_address = self.socket.accept()
        if self._tls is None:
            return sock, client_address
        try:
            sock.getpeername()  # OSError (ENOTCONN) when the client already reset
            wrapped = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        except OSError:
            sock.close()
            raise
        return wrapped, client_address

    @property
    def open_connections(self) -> int:
        """Connections being served now (keep-alive ones included)."""
        with self._connections_lock:
            return len(self._connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open keep-alive connection (after `shutdown`, so none are served)."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (resets, TLS probes) are normal for a test server; log quietly.
        _log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _ServerSSLSocket(ssl.SSLSocket):
    """An SSLSocket that a client's reset cannot leave unclosed while it is wrapped.

    Wrapping a socket the client reset after `get_request` looked at it (ENOTCONN),
    `SSLSocket` reads one byte to tell whether data came before TLS; that read fails with
    ECONNRESET, which it raises from inside its constructor, with the connection's file
    descriptor already its own and the object out of reach: a ResourceWarning later, in
    whatever runs then. Before the handshake, that reset reads as no data here, so the
    wrap completes, the handshake in the handler fails and socketserver closes it.
    """

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        if getattr(self, "_sslobj", None) is None:  # not yet TLS: the constructor's probe
            try:
                return super().recv(buflen, flags)
            except ConnectionResetError:
                return b""
        return super().recv(buflen, flags)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A buffered writer sends headers and body in one segment; with TCP_NODELAY this avoids
    # the 40 ms Nagle/delayed-ACK stall of keep-alive clients.
    wbufsize = -1
    server: HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s - " + format, self.address_string(), *args)

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        do_handshake = getattr(self.connection, "do_handshake", None)
        if do_handshake is not None:
            self.connection.settimeout(10)
            do_handshake()
            self.connection.settimeout(None)

    def _serve(self) -> None:
        started = time.perf_counter()
        request = self._request()
        response, action = self.server.dispatch(request, peer_cn=self._peer_cn())
        duration = time.perf_counter() - started
        self.server.record(request, status=response.status, action=action, duration=duration)
        if action in ("reset", "lost"):
            self._reset()
            return
        self._write(response)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve  # noqa: N815

    def _request(self) -> Request:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if raw and self.headers.get("Content-Encoding", "").lower() == "gzip":
            # opensearch-py with http_compress=True gzips request bodies.
            raw = gzip.decompress(raw)
        return Request(
            method=self.command.upper(),
            path=unquote(split.path) or "/",
            params=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw=raw,
            raw_path=split.path or "/",
        )

    def _peer_cn(self) -> str | None:
        getpeercert = getattr(self.connection, "getpeercert", None)
        return peer_common_name(getpeercert()) if getpeercert is not None else None

    def _write(self, response: Response) -> None:
        payload, content_type = _encode(response.body)
        headers = {"Content-Type": content_type, **response.headers}
        self.send_response(response.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST: the client sees a reset.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()


def _encode(body: Any) -> tuple[bytes, str]:
    if body is None:
        return b"", "application/json; charset=UTF-8"
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=UTF-8"
    return json.dumps(body).encode("utf-8"), "application/json; charset=UTF-8"
