"""Persistence: a restart with the same data file keeps every index, ID, version and setting."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for

Factory = Callable[..., Sandbox]
ACCESS = "plugins.ml_commons.connector_access_control_enabled"


def test_restart_keeps_documents_ids_versions_and_settings(tmp_path: Path) -> None:
    data = tmp_path / "sandbox.json"
    with Sandbox("2.19", data=data) as first:
        client = client_for(first)
        client.indices.create(
            index="state", body={"mappings": {"properties": {"k": {"type": "keyword"}}}}
        )
        auto = client.index(index="state", body={"k": "auto"})["_id"]
        client.index(index="state", id="lock", body={"k": "v1"})
        client.index(index="state", id="lock", body={"k": "v2"})
        client.index(index=".plugins-ml-config", id="master_key", body={"master_key": "k"})
        client.cluster.put_settings(
            body={"persistent": {ACCESS: True}, "transient": {ACCESS: False}}
        )
    with Sandbox("2.19", data=data) as second:
        client = client_for(second)
        lock = client.get(index="state", id="lock")
        assert (lock["_source"], lock["_version"], lock["_seq_no"]) == ({"k": "v2"}, 2, 2)
        assert client.get(index="state", id=auto)["_source"] == {"k": "auto"}
        assert client.get(index=".plugins-ml-config", id="master_key")["found"] is True
        assert client.indices.get(index="state")["state"]["mappings"]["properties"]["k"] == {
            "type": "keyword"
        }
        # Persistent settings survive a full restart; transient ones do not (as in OpenSearch).
        assert client.cluster.get_settings(flat_settings=True) == {
            "persistent": {ACCESS: "true"},
            "transient": {},
        }
        nxt = client.index(index="state", id="lock", body={"k": "v3"})
        assert (nxt["_version"], nxt["_seq_no"]) == (3, 3)


def test_writes_are_saved_without_stopping(sandbox_factory: Factory, tmp_path: Path) -> None:
    data = tmp_path / "live.json"
    sandbox = sandbox_factory(data=data)
    client_for(sandbox).index(index="state", id="x", body={"v": 1})
    sandbox.flush()
    saved = json.loads(data.read_text())
    # `3.x`, the default, names the newest release profile.
    assert saved["format"] == 1 and saved["profile"] == "3.8"
    assert saved["indices"]["state"]["docs"][0][0] == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["live.json"]  # no temp files left behind


def test_missing_data_file_starts_empty(sandbox_factory: Factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(data=tmp_path / "new" / "data.json")
    assert sandbox.context.store.index_names() == []
