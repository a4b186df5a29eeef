"""Connecting over TLS and with basic auth, against the sandbox's security modes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

from reconciler.cli.options import ClusterOptions, open_cluster
from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import ConnectionSettings, connect
from reconciler.cluster.reading import read_snapshot
from reconciler.errors import ClusterError
from reconciler.secrets import Secret
from tests.integration.support import consumer_reads


def test_tls_with_the_sandbox_ca(sandbox_factory: Callable[..., Any]) -> None:
    sandbox = sandbox_factory("3.x", tls=True)
    settings = ConnectionSettings(url=sandbox.url, ca_certs=str(sandbox.ca_file))
    with connect(settings) as conn:
        assert conn.version.startswith("3.")
        assert read_snapshot(conn).requests == 5 + consumer_reads(conn.version)


def test_tls_without_the_ca_fails_clearly(sandbox_factory: Callable[..., Any]) -> None:
    sandbox = sandbox_factory("3.x", tls=True)
    with pytest.raises(ClusterError, match=r"`GET /` failed \(TLS\): .*certificate"):
        connect(ConnectionSettings(url=sandbox.url, timeout=5))


def test_insecure_tls_works_without_any_warning(sandbox_factory: Callable[..., Any]) -> None:
    # pytest turns warnings into errors: an InsecureRequestWarning would fail this test.
    sandbox = sandbox_factory("3.x", tls=True)
    with connect(ConnectionSettings(url=sandbox.url, verify=False)) as conn:
        read_snapshot(conn)
        assert any("verification is off" in w for w in conn.warnings)


def test_basic_auth(sandbox_factory: Callable[..., Any]) -> None:
    sandbox = sandbox_factory("2.19", security=True)
    good = ConnectionSettings(url=sandbox.url, username="admin", password=Secret("admin"))
    with connect(good) as conn:
        assert conn.version.startswith("2.19")
    bad = ConnectionSettings(url=sandbox.url, username="admin", password=Secret("wrong-pw-7"))
    with pytest.raises(ClusterError, match=r"failed \(401\)") as caught:
        connect(bad)
    assert "wrong-pw-7" not in str(caught.value)


def test_open_cluster_runs_a_persistent_sandbox(tmp_path: Path) -> None:
    data = tmp_path / "state" / "sandbox.json"
    options = ClusterOptions(
        settings=ConnectionSettings(url="http://unused.invalid:1"),
        sandbox=str(data),
        sandbox_version="2.13",
    )
    with open_cluster(options) as conn:
        assert conn.version.startswith("2.13")
        MlCalls(conn).register_model_group({"name": "kept"})
    assert data.exists()
    with open_cluster(options) as conn:
        assert [g.name for g in read_snapshot(conn).model_groups] == ["kept"]


def test_unknown_sandbox_version_is_a_usage_error(tmp_path: Path) -> None:
    options = ClusterOptions(
        settings=ConnectionSettings(), sandbox=str(tmp_path / "sb.json"), sandbox_version="1.0"
    )
    with pytest.raises(click.BadParameter, match="unknown sandbox profile"), open_cluster(options):
        pass


@pytest.mark.parametrize(
    ("given", "reported"), [("2.16", "2.16"), ("3.7", "3.7"), ("latest", "3.8")]
)
def test_sandbox_version_takes_any_release(tmp_path: Path, given: str, reported: str) -> None:
    options = ClusterOptions(
        settings=ConnectionSettings(), sandbox=str(tmp_path / "sb.json"), sandbox_version=given
    )
    with open_cluster(options) as conn:
        assert conn.version.startswith(reported + ".")
