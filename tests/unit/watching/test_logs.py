"""JSON event lines: one object per line, resource fields, no secrets."""

from __future__ import annotations

import json
import logging

from reconciler.resources import Kind, ResourceKey
from reconciler.secrets import Secret
from reconciler.watching.logs import EventLog, JsonLogHandler


def test_an_event_is_one_json_line_with_the_resource_key() -> None:
    lines: list[str] = []
    log = EventLog(lines.append, wall=lambda: 1_700_000_000.25)
    log.event("drift", key=ResourceKey(Kind.MODEL, "chat"), action="deploy", fields=None)
    assert len(lines) == 1 and "\n" not in lines[0]
    assert json.loads(lines[0]) == {
        "ts": "2023-11-14T22:13:20.250Z",
        "level": "info",
        "event": "drift",
        "resource": "Model/chat",
        "kind": "Model",
        "name": "chat",
        "action": "deploy",
    }


def test_known_secret_values_never_reach_a_line() -> None:
    secret = Secret('sk-"very"-secret\\value', source="test")
    secret.reveal()  # values become known to the scrubber once created
    lines: list[str] = []
    log = EventLog(lines.append)
    log.event("cluster_error", message=f"refused: {secret.reveal()}", extra=[secret.reveal()])
    assert "very" not in lines[0]
    assert json.loads(lines[0])["message"].startswith("refused: ")


def test_python_log_records_become_log_events() -> None:
    lines: list[str] = []
    logger = logging.getLogger("reconciler.test_watch_logs")
    handler = JsonLogHandler(EventLog(lines.append))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.warning("renewing the state lock failed: %s", "timeout")
        logger.debug("not shown")
    finally:
        logger.removeHandler(handler)
    [event] = [json.loads(line) for line in lines]
    assert event["event"] == "log"
    assert event["level"] == "warning"
    assert event["logger"] == "reconciler.test_watch_logs"
    assert event["message"] == "renewing the state lock failed: timeout"
