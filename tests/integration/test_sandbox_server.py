"""The server itself: routing rules, HTTP details, background jobs and lifecycle."""

from __future__ import annotations

import gc
import http.client
import logging
import socket
import ssl
import struct
import time
from collections.abc import Callable

import pytest
from opensearchpy import OpenSearch

from reconciler.sandbox.http import ApiError, Context, Request, Response, Router, Scheduler
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.serving import HttpServer
from reconciler.sandbox.testing import client_for

Factory = Callable[..., Sandbox]


def _named(name: str) -> Callable[..., Response]:
    def handler(ctx: Context, request: Request, **params: str) -> Response:
        return Response(200, {"handler": name, **params})

    return handler


@pytest.fixture
def router() -> Router:
    router = Router()
    router.add("GET", "/_plugins/_ml/connectors/{connector_id}", _named("get"))
    router.add("POST", "/_plugins/_ml/connectors/_search", _named("search"))
    router.add("GET", "/_plugins/_ml/connectors/_search", _named("search"))
    router.add("DELETE", "/_plugins/_ml/connectors/{connector_id}", _named("delete"))
    return router


@pytest.mark.parametrize(
    ("method", "path", "handler", "params"),
    [
        ("GET", "/_plugins/_ml/connectors/_search", "search", {}),
        ("GET", "/_plugins/_ml/connectors/abc", "get", {"connector_id": "abc"}),
        ("GET", "/_plugins/_ml/connectors/a%2Fb", "get", {"connector_id": "a/b"}),
        ("HEAD", "/_plugins/_ml/connectors/abc", "get", {"connector_id": "abc"}),
        ("DELETE", "/_plugins/_ml/connectors/_search", "delete", {"connector_id": "_search"}),
    ],
)
def test_literal_segments_win_over_params(
    router: Router, method: str, path: str, handler: str, params: dict[str, str]
) -> None:
    match = router.resolve(method, path)
    assert match.route.handler(None, None, **match.params).body == {"handler": handler, **params}  # type: ignore[arg-type]


def test_unknown_path_and_wrong_method(router: Router) -> None:
    with pytest.raises(ApiError) as unknown:
        router.resolve("GET", "/_plugins/_ml/nothing")
    assert unknown.value.status == 400
    assert unknown.value.envelope() == {
        "error": "no handler found for uri [/_plugins/_ml/nothing] and method [GET]"
    }
    with pytest.raises(ApiError) as wrong:
        router.resolve("PUT", "/_plugins/_ml/connectors/_search")
    assert (wrong.value.status, wrong.value.error_type) == (405, "illegal_argument_exception")
    # A Java set of the allowed methods, as OpenSearch's RestController prints it.
    assert wrong.value.reason == (
        "Incorrect HTTP method for uri [/_plugins/_ml/connectors/_search] and method [PUT], "
        "allowed: [DELETE, GET, POST]"
    )


def test_scheduler_runs_due_jobs_on_an_injected_clock() -> None:
    now = [100.0]
    scheduler = Scheduler(clock=lambda: now[0])
    ran: list[str] = []
    scheduler.call_later(5, lambda: ran.append("late"))
    scheduler.call_later(1, lambda: ran.append("early"))
    assert scheduler.run_due() == 0
    now[0] += 2
    assert scheduler.run_due() == 1
    now[0] += 10
    scheduler.run_due()
    assert ran == ["early", "late"]
    scheduler.call_later(1, lambda: ran.append("never"))
    scheduler.cancel_all()
    now[0] += 10
    assert scheduler.run_due() == 0


def test_head_root_and_keep_alive(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory()
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    for _ in range(3):  # one connection, three requests
        connection.request("HEAD", "/")
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 200
    connection.close()
    assert sandbox.requests.count("/", method="HEAD") == 3


def test_gzip_request_bodies(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory()
    client = OpenSearch(sandbox.url, http_compress=True)
    client.index(index="i", id="a", body={"v": "compressed"})
    assert client.get(index="i", id="a")["_source"] == {"v": "compressed"}


def test_malformed_json_is_400(sandbox_factory: Factory) -> None:
    sandbox = sandbox_factory()
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    connection.request(
        "PUT", "/i/_doc/a", body=b"{nope", headers={"Content-Type": "application/json"}
    )
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    assert answer.status == 400
    assert b"parse_exception" in body


def test_stop_closes_keep_alive_connections() -> None:
    sandbox = Sandbox().start()
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    connection.request("GET", "/")
    connection.getresponse().read()
    sandbox.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        connection.request("GET", "/")
        connection.getresponse().read()
    connection.close()


def test_every_profile_starts_and_reports_its_version(sandbox_factory: Factory) -> None:
    for name, number in (("2.9", "2.9."), ("2.11", "2.11."), ("2.17", "2.17."), ("3.8", "3.")):
        sandbox = sandbox_factory(name)
        assert client_for(sandbox).info()["version"]["number"].startswith(number)


def _hang_up(port: int, sent: bytes) -> None:
    """Connect, send `sent`, then close with a reset (RST) instead of a clean close."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if sent:
        sock.sendall(sent)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_connection_reset_after_it_was_accepted_is_still_wrapped_for_tls() -> None:
    # The race the test below hits now and then: the reset lands between the accept and
    # the wrap. Python's own SSLSocket raises from inside its constructor then, holding
    # the connection's descriptor where nothing can close it; the sandbox's completes
    # the wrap, and the handshake that follows fails and closes it.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server = HttpServer(("127.0.0.1", 0), dispatch=_unused, record=_unused, tls=context)
    try:
        client = socket.create_connection(server.server_address[:2], timeout=5)
        accepted, _ = server.socket.accept()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        time.sleep(0.05)  # the reset has arrived
        wrapped = context.wrap_socket(accepted, server_side=True, do_handshake_on_connect=False)
        with pytest.raises(OSError):
            wrapped.do_handshake()
        wrapped.close()
    finally:
        server.server_close()


def _unused(*args: object, **kwargs: object) -> object:
    raise AssertionError("no request is served")


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_clients_that_reset_their_connection_leave_no_traceback(
    sandbox_factory: Factory,
    tls: bool,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="reconciler.sandbox")
    sandbox = sandbox_factory(tls=tls)
    with client_for(sandbox) as client:  # a large answer, so that writing it can fail
        client.index(index="big", id="1", body={"text": "x" * 4_000_000})
    sent = [b"", b"GET /big/_doc/1 HTTP/1.1\r\nHo", b"GET /big/_doc/1 HTTP/1.1\r\n\r\n"]
    for each in sent * 10:  # some reset before the server accepts them, some after
        _hang_up(sandbox.port, each)
    with client_for(sandbox) as client:
        # Still serving; connections are accepted in order, so every one above was too.
        assert client.info()["cluster_name"] == "osml-sandbox"
    deadline = time.monotonic() + 10
    while sandbox.open_connections and time.monotonic() < deadline:
        time.sleep(0.02)
    gc.collect()  # a socket left unclosed warns now, within this test, not in a later one
    assert capfd.readouterr().err == ""
    assert {r.levelno for r in caplog.records} == {logging.DEBUG}
