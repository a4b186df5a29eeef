"""The watcher parses manifests again only when a file or the cluster version changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.mlcommons.versions import Version
from reconciler.watching.cycle import ManifestCache

GROUP = """apiVersion: osml/v1
kind: ModelGroup
metadata: {name: team}
spec: {description: %s}
"""


def _write(path: Path, text: str, *, tick: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))


def test_same_files_same_objects_until_something_changes(tmp_path: Path) -> None:
    file = tmp_path / "group.yaml"
    _write(file, GROUP % "one", tick=1)
    cache = ManifestCache([tmp_path])
    v = Version.parse("3.8")
    first = cache.get(v)
    assert cache.get(v) is first

    _write(file, GROUP % "two", tick=2)
    second = cache.get(v)
    assert second is not first
    assert second[0].documents[0].manifest.spec.description == "two"
    assert cache.get(Version.parse("2.19")) is not second

    (tmp_path / "more.yaml").write_text(GROUP.replace("team", "other") % "three")
    assert len(cache.get(v)[0]) == 2


def test_a_broken_file_is_reported_every_time_until_fixed(tmp_path: Path) -> None:
    file = tmp_path / "group.yaml"
    _write(file, "kind: [", tick=1)
    cache = ManifestCache([tmp_path])
    for _ in range(2):
        with pytest.raises(ManifestError):
            cache.get(Version.parse("3.8"))
    _write(file, GROUP % "fixed", tick=2)
    assert len(cache.get(Version.parse("3.8"))[0]) == 1
