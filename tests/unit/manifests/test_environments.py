"""Environment files and their overlay on manifests (`manifests.environments`, `overlaying`).

Manifests and environment files are written to disk and read by the real loader; each
case checks what the validated manifest holds, or which problem is reported where.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifests.environments import environment_dir, load_environment
from reconciler.manifests.loading import read_manifests
from reconciler.manifests.overlaying import Overlay

MODEL = """\
apiVersion: osml/v1
kind: Model
metadata:
  name: chat
spec:
  name: Chat ${env.stage}
  description: literal $${env.stage}, ML Commons ${parameters.x}
  function_name: remote
  connector_id: abc
  model_group_id: ${env.group}
lifecycle:
  deployed: ${env.deployed}
"""


def _read(tmp_path: Path, environment: str | None, manifest: str = MODEL):
    (tmp_path / "manifests").mkdir(exist_ok=True)
    (tmp_path / "manifests" / "m.yaml").write_text(manifest)
    env = None
    if environment is not None:
        (tmp_path / "environments").mkdir(exist_ok=True)
        file = tmp_path / "environments" / "prod.yaml"
        file.write_text(environment)
        env = load_environment(file)
    overlay = Overlay(env)
    reading = read_manifests([tmp_path / "manifests"], overlay=overlay)
    return reading, overlay.annotate(reading.problems)


VALUES = "values:\n  stage: prod\n  group: g-1\n  deployed: false\n"


def test_values_are_substituted_with_their_types(tmp_path: Path) -> None:
    reading, problems = _read(tmp_path, VALUES)

    assert problems == []
    model = reading.manifests.documents[0].manifest
    assert model.spec.name == "Chat prod"
    assert model.spec.description == "literal ${env.stage}, ML Commons ${parameters.x}"
    assert model.lifecycle.deployed is False


def test_an_override_merges_and_null_removes(tmp_path: Path) -> None:
    env = VALUES + (
        "overrides:\n  Model/chat:\n    spec:\n      description: null\n"
        "      name: Big ${env.stage}\n    lifecycle:\n      prevent_destroy: true\n"
    )
    reading, problems = _read(tmp_path, env)

    assert problems == []
    model = reading.manifests.documents[0].manifest
    assert model.spec.name == "Big prod"
    assert model.spec.description is None
    assert model.lifecycle.prevent_destroy is True


def test_an_undefined_value_is_reported_at_the_manifest_line(tmp_path: Path) -> None:
    _, problems = _read(tmp_path, "values:\n  stage: prod\n  deployed: true\n")

    [problem] = [p for p in problems if "env.group" in p.message]
    assert (problem.line, problem.path) == (10, "spec.model_group_id")
    assert "not defined in environment prod" in problem.message


def test_without_an_environment_a_value_asks_for_one(tmp_path: Path) -> None:
    _, problems = _read(tmp_path, None)

    assert any("needs an environment: give --env NAME" in p.message for p in problems)


def test_a_bad_override_is_located_in_the_environment_file(tmp_path: Path) -> None:
    env = VALUES + "overrides:\n  Model/chat:\n    lifecycle:\n      deployed: maybe\n"
    _, problems = _read(tmp_path, env)

    [problem] = problems
    assert problem.file.endswith("prod.yaml")
    assert problem.line == 8
    assert "override of Model/chat declared at" in problem.message
    assert "m.yaml:4:" in problem.message


def test_an_override_of_nothing_is_an_error(tmp_path: Path) -> None:
    _, problems = _read(tmp_path, VALUES + "overrides:\n  Model/chta:\n    spec: {}\n")

    [problem] = problems
    assert "no manifest declares Model/chta" in problem.message
    assert "did you mean 'Model/chat'?" in problem.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cluster:\n  password: hunter2\n", "never holds secrets"),
        ("cluster:\n  urll: x\n", "urll"),
        ("overrides:\n  Model/chat:\n    metadata: {}\n", "patches only spec and lifecycle"),
        ("values:\n  bad-name: 1\n", "cannot be a value name"),
    ],
)
def test_bad_environment_files(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "prod.yaml"
    file.write_text(text)

    with pytest.raises(ManifestError) as raised:
        load_environment(file)

    assert any(message in str(p) for p in raised.value.problems), raised.value.problems
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("paths", "expected"),
    [(["manifests/"], "environments"), (["site/manifests"], "site/environments")],
)
def test_the_environments_folder_is_beside_the_manifests(paths: list[str], expected: str) -> None:
    assert environment_dir(paths) == Path(expected)
