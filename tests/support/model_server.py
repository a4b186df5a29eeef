"""A tiny OpenAI-compatible model server on loopback, the far end of sandbox predict tests.

Predict and conformance tests start it, point a connector's action URL at it (which needs
`plugins.ml_commons.connector.private_ip_enabled` and a trusted-endpoint regex for loopback)
and then check what arrived: every request is recorded with its headers and body, so a test
can assert that `${credential.*}` was substituted in headers and never in the body. It answers
`POST /v1/chat/completions` and `POST /v1/embeddings` (and the same paths by GET, PUT and
DELETE); `Behaviour` makes it answer an error status, slowly, or with no body. It is test support only: it knows nothing about the sandbox.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EMBEDDING_DIM = 4


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    """Parsed JSON, or the raw text when it is not JSON."""


@dataclasses.dataclass
class Behaviour:
    """How the server answers; tests change it between calls."""

    status: int = 200
    """Status of every answer; non-2xx answers carry `error_body`."""
    error_body: Any = dataclasses.field(
        default_factory=lambda: {"error": {"message": "stub failure", "type": "invalid_request"}}
    )
    latency: float = 0.0
    """Seconds to wait before answering (exercises client timeouts)."""
    success_body: Any = None
    """When set, every 2xx answer is this body instead of the path's usual one."""
    empty: bool = False
    """Answer with the status but no body at all (exercises the 3.2 empty-body errors)."""


def chat_answer(body: Any) -> dict[str, Any]:
    """An OpenAI chat completion echoing the last user message."""
    messages = body.get("messages", []) if isinstance(body, dict) else []
    last = messages[-1].get("content", "") if messages and isinstance(messages[-1], dict) else ""
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "model": body.get("model", "stub") if isinstance(body, dict) else "stub",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": f"echo: {last}"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def embedding_answer(body: Any) -> dict[str, Any]:
    """OpenAI embeddings: one deterministic vector per input text."""
    raw = body.get("input", []) if isinstance(body, dict) else []
    texts = raw if isinstance(raw, list) else [raw]
    data = [
        {"object": "embedding", "index": i, "embedding": vector(str(text))}
        for i, text in enumerate(texts)
    ]
    return {"object": "list", "data": data, "model": "stub-embedding"}


def vector(text: str) -> list[float]:
    """A deterministic EMBEDDING_DIM-long vector for `text`."""
    return [float((len(text) + i) % 7) / 7.0 for i in range(EMBEDDING_DIM)]


class ModelServer:
    """The stub server; use as a context manager or call start()/stop()."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.behaviour = Behaviour()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:43123`."""
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> ModelServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def answer(self, path: str, body: Any) -> tuple[int, Any]:
        """Status and JSON body for one request."""
        if self.behaviour.latency:
            time.sleep(self.behaviour.latency)
        if not 200 <= self.behaviour.status < 300:
            return self.behaviour.status, self.behaviour.error_body
        if self.behaviour.success_body is not None:
            return self.behaviour.status, self.behaviour.success_body
        if path.endswith("/chat/completions"):
            return 200, chat_answer(body)
        if path.endswith("/embeddings"):
            return 200, embedding_answer(body)
        return 404, {"error": {"message": f"unknown path {path}"}}


def _handler_for(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            text = self.rfile.read(length).decode("utf-8") if length else ""
            try:
                body: Any = json.loads(text) if text else None
            except ValueError:
                body = text
            headers = {name.lower(): value for name, value in self.headers.items()}
            server.record(Recorded(self.command, self.path, headers, body))
            status, answer = server.answer(self.path, body)
            payload = b"" if server.behaviour.empty else json.dumps(answer).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        # The names http.server dispatches to; PUT and DELETE actions exist from 3.5.
        do_GET = do_PUT = do_DELETE = do_POST  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output clean

    return Handler
