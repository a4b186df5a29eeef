"""Persistence of the sandbox: one JSON file written atomically, debounced after changes.

`server.Sandbox` creates a `Saver` when started with `data=FILE`: it loads the file at
start, listens to the store, the cluster settings and the pipelines, writes at most every
50 ms while they change and once more on stop. The file holds every index (mappings,
documents, IDs, versions, sequence numbers), the persistent settings and the pipelines
(cluster metadata), including the ML master key document, so it must stay private;
nothing here prints or logs its content.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from reconciler.sandbox.clustersettings import ClusterSettings
from reconciler.sandbox.pipelines import Pipelines
from reconciler.sandbox.store import Store

DATA_FORMAT = 1
"""Version of the file layout, written as `format`."""
SAVE_DEBOUNCE = 0.05
"""Seconds between a change and the write that saves it."""


def write_json_atomically(path: Path, data: Any) -> None:
    """Write JSON so a crash leaves either the old or the new file: tmp, fsync, os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Saver:
    """Debounced persistence: changes mark the state dirty; a timer writes it atomically."""

    def __init__(
        self,
        path: Path,
        *,
        store: Store,
        settings: ClusterSettings,
        profile: str,
        pipelines: Pipelines | None = None,
    ) -> None:
        self._path, self._store, self._settings, self._profile = path, store, settings, profile
        self._pipelines = pipelines
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        store.add_listener(self.mark)
        settings.add_listener(self.mark)
        if pipelines is not None:
            pipelines.add_listener(self.mark)

    def load(self) -> None:
        """Replace the store and settings with the file's content, if the file exists."""
        if not self._path.exists():
            return
        data = json.loads(self._path.read_text(encoding="utf-8"))
        self._store.load(data.get("indices", {}))
        self._settings.load(data.get("settings", {}))
        if self._pipelines is not None:
            self._pipelines.load(data.get("cluster_metadata", {}))

    def mark(self) -> None:
        """Schedule a save (at most one pending)."""
        with self._lock:
            if self._timer is None:
                self._timer = threading.Timer(SAVE_DEBOUNCE, self.save)
                self._timer.daemon = True
                self._timer.start()

    def save(self) -> None:
        """Write the whole state now."""
        with self._lock:
            self._timer = None
        data = {
            "format": DATA_FORMAT,
            "profile": self._profile,
            "indices": self._store.dump(),
            "settings": self._settings.dump(),
        }
        if self._pipelines is not None:
            data["cluster_metadata"] = self._pipelines.dump()
        write_json_atomically(self._path, data)

    def stop(self) -> None:
        """Cancel a pending save and write one last time."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.save()
