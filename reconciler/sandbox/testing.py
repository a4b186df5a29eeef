"""Pytest support: fixtures that start sandboxes, or point at a real cluster.

`tests/conftest.py` loads this module as a plugin. Fixtures:

* `sandbox_factory(**options)` starts a `Sandbox` (stopped at teardown);
* `cluster` yields a `TestCluster`: a fresh sandbox per test, parametrized over the
  profiles `2.9`, `2.13`, `2.19` and `3.x`, or, when `OSML_TEST_CLUSTER_URL` is set, that
  real cluster once (basic auth from `OSML_TEST_CLUSTER_USER`/`OSML_TEST_CLUSTER_PASSWORD`,
  certificate verification off for https).

This is test support: it may import opensearch-py, which the sandbox proper never does.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch

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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `cluster` over the profiles, or over the one real cluster."""
    if "cluster" not in metafunc.fixturenames:
        return
    targets = ["real"] if os.environ.get(URL_VARIABLE) else list(PROFILES)
    metafunc.parametrize("cluster", targets, indirect=True, ids=[f"cluster={t}" for t in targets])


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
