"""Benchmark fleets: mixed manifest sets of a given size, and a sandbox in its own process.

The plan and apply benchmarks build a fleet (model groups, connectors, models in fixed
proportions), bring a sandbox to it, then measure osml. The sandbox runs as a separate
`python -m reconciler sandbox` process so that the CPU time of the benchmark process is
osml's own: HTTP parsing, searching and encrypting on the server side never count.
The benchmarks talk to that process through opensearch-py (osml) and its `/_sandbox/`
admin API (request log, latency), which this module wraps with the standard library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.integration.support import connector, group, model

LADDER = (10, 100, 1000, 5000)
"""Fleet sizes of the recorded figures."""
LATENCIES = tuple(float(s) for s in os.environ.get("OSML_BENCH_LATENCY", "0.005").split(","))
"""Per-request latency of the sandbox, seconds; `0.005,0.05` for both recorded figures."""
DEPLOY_DELAY = float(os.environ.get("OSML_BENCH_DEPLOY_DELAY", "0.2"))
"""Seconds a deploy takes in the sandbox before the model is DEPLOYED."""
ADMIN = "/_sandbox/"
DOCS_PER_FILE = 2_000
"""Manifests per file of `write_fleet`: about 0.5 MiB, well below the loader's 5 MiB cap
on one file (a fleet of 50,000 in one file is 11 MiB and refused)."""


def ladder() -> tuple[int, ...]:
    """The fleet sizes to run: the ladder up to `OSML_BENCH_SIZE` (default 10, for CI)."""
    largest = int(os.environ.get("OSML_BENCH_SIZE", "10"))
    return tuple(n for n in LADDER if n <= largest) or (largest,)


@dataclass(frozen=True)
class Fleet:
    """How many resources of each kind a fleet of `size` holds."""

    size: int

    @property
    def groups(self) -> int:
        return max(1, self.size // 10)

    @property
    def connectors(self) -> int:
        return max(1, self.size // 5)

    @property
    def models(self) -> int:
        return self.size - self.groups - self.connectors

    def docs(self, *, drifted: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
        """The manifests; models whose index is in `drifted` get another description."""
        docs = [group(f"g{i}") for i in range(self.groups)]
        docs += [connector(f"c{i}") for i in range(self.connectors)]
        docs += [
            model(
                f"m{i}",
                connector_name=f"c{i % self.connectors}",
                group_name=f"g{i % self.groups}",
                description="drifted" if i in drifted else "A test model",
            )
            for i in range(self.models)
        ]
        return docs

    def drift(self, percent: float) -> frozenset[int]:
        """Indices of `percent`% of the models, spread evenly, at least one."""
        count = max(1, round(self.models * percent / 100))
        step = self.models / count
        return frozenset(int(n * step) for n in range(count))


def write_fleet(directory: Path, docs: list[dict[str, Any]]) -> Path:
    """Write `docs` as multi-document YAML files of `DOCS_PER_FILE` each, as an operator
    splits a large fleet; returns the directory (its old YAML files removed)."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    for number, start in enumerate(range(0, len(docs), DOCS_PER_FILE)):
        chunk = docs[start : start + DOCS_PER_FILE]
        text = yaml.safe_dump_all(chunk, sort_keys=False)
        (directory / f"fleet-{number:03d}.yaml").write_text(text, "utf-8")
    return directory


class RemoteSandbox:
    """A sandbox running in a child process; `url` is where osml connects."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def admin(self, method: str, path: str, body: Any = None, *, timeout: float = 60) -> Any:
        return self._call(method, ADMIN + path, body, timeout=timeout)

    def search(self, index: str, body: Any) -> Any:
        """A search of `index` (counted in the request log like any other request)."""
        return self._call("POST", f"/{index}/_search", body, timeout=60)

    def _call(self, method: str, path: str, body: Any, *, timeout: float) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.loads(answer.read())

    def set_latency(self, seconds: float) -> None:
        """Every non-admin request waits `seconds` before it is answered."""
        self.admin("PUT", "faults", {"rules": [{"route": "*", "latency": seconds}]})

    def clear_requests(self) -> None:
        self.admin("DELETE", "requests")

    def requests(self) -> list[dict[str, Any]]:
        """Requests served since the last clear, admin requests left out."""
        entries = self.admin("GET", "requests")["requests"]
        return [e for e in entries if not str(e["path"]).startswith(ADMIN)]


@contextmanager
def remote_sandbox(*, deploy_delay: float = DEPLOY_DELAY) -> Iterator[RemoteSandbox]:
    """Start `osml sandbox --port 0` in a child process; stop it on exit."""
    command = [sys.executable, "-m", "reconciler", "sandbox", "--port", "0"]
    command += ["--deploy-delay", str(deploy_delay)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the sandbox did not start: {url!r}")
        yield RemoteSandbox(process, url)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
