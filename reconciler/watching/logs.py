"""JSON log lines for `osml watch`: one object per line, one line per event.

`EventLog.event("change_finished", key=..., outcome="done")` writes
`{"ts": ..., "level": "info", "event": "change_finished", "resource": "Model/chat",
"kind": "Model", "name": "chat", "outcome": "done"}` to the sink the CLI gives it (its
stdout), so log collectors can filter by event and by resource. `JsonLogHandler` routes
the records of osml's own Python loggers (the lock renewal thread, the connection) into
the same stream. Every string is scrubbed of known secret values before it is encoded.
This module formats; it decides nothing and never opens a file or a socket.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.resources import ResourceKey
from reconciler.secrets import scrub

Sink = Callable[[str], None]
"""Where finished lines go (one call per line, without the newline)."""


class EventLog:
    """Writes one JSON line per event; safe to call from several threads."""

    def __init__(self, sink: Sink, *, wall: Callable[[], float] = time.time) -> None:
        self._sink = sink
        self._wall = wall
        # Reentrant: the CLI's signal handler logs on the main thread, which may be
        # inside `event` at that moment.
        self._lock = threading.RLock()

    def event(
        self, event: str, *, level: str = "info", key: ResourceKey | None = None, **fields: Any
    ) -> None:
        """Log `event`; `key` adds `resource`, `kind` and `name`; None fields are left out."""
        record: dict[str, Any] = {"ts": _timestamp(self._wall()), "level": level, "event": event}
        if key is not None:
            record.update(resource=str(key), kind=key.kind.value, name=key.name)
        record.update({name: value for name, value in fields.items() if value is not None})
        line = json.dumps(_scrubbed(record), default=str, ensure_ascii=False)
        with self._lock:
            self._sink(line)


class JsonLogHandler(logging.Handler):
    """A logging handler that turns records into `log` events of an EventLog."""

    def __init__(self, log: EventLog, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string must not kill the watcher
            message = str(record.msg)
        self._log.event("log", level=record.levelname.lower(), logger=record.name, message=message)


def _timestamp(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _scrubbed(value: Any) -> Any:
    """Scrub each string before encoding: JSON escaping could hide a secret from a scrub of
    the encoded line."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {str(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return scrub(str(value))
