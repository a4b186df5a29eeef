"""The status listener: health, readiness and metrics over real HTTP on loopback."""

from __future__ import annotations

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
