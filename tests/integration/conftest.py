"""Fixtures shared by the integration tests of `reconciler.cluster`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.cluster.connecting import Connection, attach


@pytest.fixture
def conn(cluster: Any) -> Connection:
    """osml's connection to the test cluster."""
    return attach(cluster.client, url=cluster.url)


@pytest.fixture
def index(conn: Connection, request: pytest.FixtureRequest) -> Iterator[str]:
    """A state index of this test's own, deleted afterwards."""
    name = f"osml-state-test-{abs(hash(request.node.nodeid)) % 10**8}"
    yield name
    conn.client.indices.delete(index=name, params={"ignore_unavailable": "true"})
