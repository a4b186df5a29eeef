"""Pytest support: fixtures that start sandboxes, or point at a real cluster.

`tests/conftest.py` loads this module as a plugin. Fixtures:

* `sandbox_factory(**options)` starts a `Sandbox` (stopped at teardown);
* `cluster` yields a `TestCluster`: a fresh sandbox per test, parametrized over the
  profiles `2.9`, `2.13`, `2.19` and `3.x`, or, when `OSML_TEST_CLUSTER_URL` is set, that
  real cluster once (basic auth from `OSML_TEST_CLUSTER_USER`/`OSML_TEST_CLUSTER_PASSWORD`,
  certificate verification off for https).

A version gate (a behaviour that starts at one release) is tested on the two releases around
it rather than on every profile: `@pytest.mark.gates("3.2", ...)` runs a test on 3.1 and 3.2
(and so on for each gate), and `gate_cases(rows)` pairs each row of a table with the
releases around its own `gates` (rows without gates get the default profiles).

This is test support: it may import opensearch-py, which the sandbox proper never does.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import pytest
from opensearchpy import OpenSearch

from reconciler.sandbox.ml.profiles import PROFILES as RELEASES
from reconciler.sandbox.server import Sandbox

PROFILES = ("2.9", "2.13", "2.19", "3.x")
"""The profiles every `cluster` test runs against when no real cluster is configured."""
URL_VARIABLE = "OSML_TEST_CLUSTER_URL"


@dataclasses.dataclass
class TestCluster:
    """What a test gets from the `cluster` fixture."""

    __test__ = False  # not a test class, despite the name

    client: OpenSearch
    url: str
    version: str
    """The server's version number, e.g. `2.19.1`."""
    profile: str | None
    """The sandbox profile name, or None on a real cluster."""
    sandbox: Sandbox | None
    """The running sandbox, or None on a real cluster."""

    def require_sandbox(self) -> Sandbox:
        """The sandbox; skips the test on a real cluster (for sandbox-only features)."""
        if self.sandbox is None:
            pytest.skip("needs the sandbox (runs against a real cluster)")
        return self.sandbox


def client_for(sandbox: Sandbox, **options: Any) -> OpenSearch:
    """An opensearch-py client for `sandbox` (admin credentials when security is on)."""
    defaults: dict[str, Any] = {"timeout": 10}
    if sandbox.context.config.security:
        defaults["http_auth"] = ("admin", "admin")
    if sandbox.ca_file is not None:
        defaults.update(use_ssl=True, verify_certs=True, ca_certs=str(sandbox.ca_file))
    return OpenSearch(sandbox.url, **{**defaults, **options})


def real_cluster_client(url: str) -> OpenSearch:
    """A client for the cluster named by the environment."""
    user = os.environ.get("OSML_TEST_CLUSTER_USER")
    password = os.environ.get("OSML_TEST_CLUSTER_PASSWORD", "")
    options: dict[str, Any] = {"timeout": 30}
    if user:
        options["http_auth"] = (user, password)
    if url.startswith("https"):
        options.update(use_ssl=True, verify_certs=False, ssl_show_warn=False)
    return OpenSearch(url, **options)


def around(*gates: str) -> tuple[str, ...]:
    """The releases either side of each gate, oldest first: for `3.2`, `3.1` and `3.2`.

    A gate is the first release with a behaviour; a behaviour that ends is gated on the first
    release without it. The oldest release (2.9) has no release before it.
    """
    names = list(RELEASES)
    chosen: set[int] = set()
    for gate in gates:
        if gate not in RELEASES:
            raise ValueError(f"gate {gate!r} is not a release; known: {', '.join(names)}")
        index = names.index(gate)
        chosen.update({max(index - 1, 0), index})
    return tuple(names[index] for index in sorted(chosen))


def targets(*gates: str) -> list[str]:
    """The `cluster` targets of a test: the real cluster, or the profiles around `gates`
    (the default profiles when there are none)."""
    if os.environ.get(URL_VARIABLE):
        return ["real"]
    return list(around(*gates)) if gates else list(PROFILES)


class GatedRow(Protocol):
    """A conformance-table row: an `id` and the releases where its expectation changes."""

    @property
    def id(self) -> str: ...

    @property
    def gates(self) -> tuple[str, ...]: ...


def gate_cases(rows: Iterable[GatedRow]) -> list[Any]:
    """`pytest.param(target, row)` for every row and every target around its gates.

    Use with `@pytest.mark.parametrize(("cluster", "row"), gate_cases(ROWS), indirect=["cluster"])`.
    """
    return [
        pytest.param(target, row, id=f"cluster={target}-{row.id}")
        for row in rows
        for target in targets(*row.gates)
    ]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "gates(*releases): run the `cluster` test on the releases around each gate"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `cluster` over the profiles (those around the test's `gates` marker, if
    any), or over the one real cluster; tables parametrized with `gate_cases` are left alone."""
    if "cluster" not in metafunc.fixturenames or _parametrized(metafunc, "cluster"):
        return
    marker = metafunc.definition.get_closest_marker("gates")
    chosen = targets(*(marker.args if marker else ()))
    metafunc.parametrize("cluster", chosen, indirect=True, ids=[f"cluster={t}" for t in chosen])


def _parametrized(metafunc: pytest.Metafunc, name: str) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [part.strip() for part in names.split(",")]
        if name in names:
            return True
    return False


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with any `Sandbox` options; all are stopped at teardown."""
    started: list[Sandbox] = []

    def start(version: str = "3.x", **options: Any) -> Sandbox:
        sandbox = Sandbox(version, **options).start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in reversed(started):
        sandbox.stop()


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest, sandbox_factory: Callable[..., Sandbox]
) -> Iterator[TestCluster]:
    """A cluster to test against: a fresh sandbox of one profile, or the real cluster."""
    target = getattr(request, "param", "3.x")
    url = os.environ.get(URL_VARIABLE)
    if target == "real" and url:
        client = real_cluster_client(url)
        version = str(client.info()["version"]["number"])
        yield TestCluster(client, url, version, None, None)
        client.close()
        return
    sandbox = sandbox_factory(target)
    client = client_for(sandbox)
    yield TestCluster(client, sandbox.url, sandbox.profile.version, sandbox.profile.name, sandbox)
    client.close()
