"""The status listener: health, readiness and metrics over real HTTP on loopback."""

from __future__ import annotations

import logging
import socket
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from reconciler.watching.serving import StatusServer, parse_address


class State:
    alive = (True, "ok")
    ready = (False, "last cycle: error: cluster unreachable")


@pytest.fixture
def server() -> Iterator[tuple[StatusServer, type[State]]]:
    state = State
    running = StatusServer(
        ("127.0.0.1", 0),
        alive=lambda: state.alive,
        ready=lambda: state.ready,
        metrics=lambda: "osml_watch_lock_held 1\n",
    ).start()
    yield running, state
    running.stop()


def get(server: StatusServer, path: str) -> tuple[int, str, str]:
    host, port = server.address
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/healthz", 200, "ok\n"),
        ("/readyz", 503, "last cycle: error: cluster unreachable\n"),
        ("/metrics", 200, "osml_watch_lock_held 1\n"),
        ("/metrics?name[]=x", 200, "osml_watch_lock_held 1\n"),
        ("/secrets", 404, "not found\n"),
    ],
)
def test_endpoints_answer_from_the_current_state(
    server: tuple[StatusServer, type[State]], path: str, status: int, body: str
) -> None:
    assert get(server[0], path)[::2] == (status, body)


def test_metrics_use_the_text_exposition_media_type(
    server: tuple[StatusServer, type[State]],
) -> None:
    assert get(server[0], "/metrics")[1] == "text/plain; version=0.0.4; charset=utf-8"


def test_readiness_changes_with_the_state(server: tuple[StatusServer, type[State]]) -> None:
    running, state = server
    state.ready = (True, "last cycle: converged")
    assert get(running, "/readyz")[0] == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        (":9464", ("0.0.0.0", 9464)),
        ("[::1]:8080", ("::1", 8080)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_addresses_parse(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["9464", "host:", "host:port", "host:70000"])
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address(text)


def _hang_up(address: tuple[str, int], sent: bytes) -> None:
    """Connect, send `sent`, then close with a reset (RST) instead of a clean close."""
    sock = socket.create_connection(address, timeout=5)
    if sent:
        sock.sendall(sent)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_clients_that_reset_their_connection_leave_no_traceback(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler.watching.serving")
    # A large body, so that a client gone before reading makes the server's write fail.
    running = StatusServer(
        ("127.0.0.1", 0), alive=lambda: (True, "ok"), ready=lambda: (True, "ok"),
        metrics=lambda: "x" * 4_000_000,
    ).start()  # fmt: skip
    try:
        for sent in (b"GET /readyz HTTP/1.1\r\nHo", b"GET /metrics HTTP/1.1\r\n\r\n"):
            _hang_up(running.address, sent)
        deadline = time.monotonic() + 10
        while len(caplog.records) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert get(running, "/healthz")[0] == 200  # still serving
    finally:
        running.stop()
    assert capfd.readouterr().err == ""
    assert len(caplog.records) >= 2
    assert {r.levelno for r in caplog.records} == {logging.DEBUG}
