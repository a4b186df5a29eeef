"""`format_text`: the canonical form, comments kept, meaning never changed, idempotent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from reconciler.errors import ManifestError
from reconciler.manifests.formatting import format_text
from reconciler.manifests.loading import find_manifest_files, load_manifests
from tests.manifest_sets import ROOT, SETS

MESSY = """\
---
# Head comment.
kind: Connector   # the kind
spec:
    name: "x"
    version: 1
    protocol: http
    actions:
    -   action_type: predict   # inline
        method: POST
        url: 'https://a/${parameters.x}'
        request_body: >-
          { "a": 1 }
    parameters: {a: 1, b: "2"}
lifecycle:
      prevent_destroy: true
metadata:
   name: c
apiVersion: osml/v1
---
---
apiVersion: osml/v1
kind: ModelGroup
metadata: {name: g}
spec:
  name: g
...
"""

CANONICAL = """\
# Head comment.
apiVersion: osml/v1
kind: Connector   # the kind
metadata:
  name: c
spec:
  name: "x"
  version: 1
  protocol: http
  actions:
    - action_type: predict     # inline
      method: POST
      url: 'https://a/${parameters.x}'
      request_body: >-
        { "a": 1 }
  parameters: {a: 1, b: "2"}
lifecycle:
  prevent_destroy: true
---
apiVersion: osml/v1
kind: ModelGroup
metadata: {name: g}
spec:
  name: g
"""


def test_messy_manifests_take_the_canonical_form() -> None:
    assert format_text(MESSY) == CANONICAL


def test_the_canonical_form_is_a_fixed_point() -> None:
    assert format_text(CANONICAL) == CANONICAL


def _repository_files() -> list[str]:
    files, problems = find_manifest_files([ROOT / "manifests", ROOT / "examples"])
    assert not problems and files
    return files


@pytest.mark.parametrize("file", _repository_files(), ids=lambda f: str(Path(f).relative_to(ROOT)))
def test_every_repository_file_means_the_same_and_formats_once(file: str) -> None:
    text = Path(file).read_text("utf-8")
    formatted = format_text(text, file=file)
    assert list(yaml.safe_load_all(formatted)) == [
        d for d in yaml.safe_load_all(text) if d is not None
    ]
    assert format_text(formatted, file=file) == formatted


@pytest.mark.parametrize("folder", SETS, ids=lambda p: p.name)
def test_formatting_a_manifest_set_loads_equal_manifests(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    for file in copy.rglob("*.yaml"):
        file.write_text(format_text(file.read_text("utf-8")), "utf-8")
    before = [d.manifest for d in load_manifests([folder])]
    after = [d.manifest for d in load_manifests([copy])]
    assert before and after == before


def test_messy_and_canonical_load_the_same(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MESSY, "utf-8")
    messy = load_manifests([tmp_path])
    (tmp_path / "a.yaml").write_text(format_text((tmp_path / "a.yaml").read_text()), "utf-8")
    assert [d.manifest for d in load_manifests([tmp_path])] == [d.manifest for d in messy]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a: [1, 2\nb: 3\n", "m.yaml:2:"),
        ("a: 1\na: 2\n", "m.yaml:2:"),
        ("a: 'open\n", "m.yaml:2:"),
    ],
    ids=["unclosed-flow", "duplicate-key", "unclosed-quote"],
)
def test_text_that_is_not_yaml_is_a_located_error(text: str, where: str) -> None:
    with pytest.raises(ManifestError) as caught:
        format_text(text, file="m.yaml")
    assert where in str(caught.value)


def test_a_file_of_comments_only_is_kept() -> None:
    assert format_text("# nothing yet\n\n") == "# nothing yet\n"
    assert format_text("") == ""
