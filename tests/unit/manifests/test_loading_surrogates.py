"""UTF-16 surrogates in manifests: JSON's escape of an emoji is the emoji, half of one is a
located problem, wherever the string sits (value or key, any depth, any kind)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifests.loading import load_manifests, read_manifests
from reconciler.manifests.models import ConnectorManifest, ModelGroupManifest

EMOJI = "\U0001f600"
JSON_EMOJI = json.dumps(EMOJI)[1:-1]
"""`\\ud83d\\ude00`: what json.dumps writes for the emoji."""

CONNECTOR = {
    "apiVersion": "osml/v1",
    "kind": "Connector",
    "metadata": {"name": "c1"},
    "spec": {
        "version": 1,
        "protocol": "http",
        "description": "chat",
        "parameters": {"endpoint": "api.example.com", "prompt": "hi"},
        "actions": [
            {
                "action_type": "predict",
                "method": "POST",
                "url": "https://${parameters.endpoint}/v1",
                "headers": {"content-type": "application/json"},
                "request_body": '{"p": "${parameters.prompt}"}',
            }
        ],
    },
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_a_json_escaped_pair_is_joined_into_its_character() -> None:
    text = (
        "apiVersion: osml/v1\nkind: ModelGroup\nmetadata: {name: g}\n"
        f'spec: {{description: "smile {JSON_EMOJI}"}}\n'
    )
    Path("m.yaml").write_text(text, encoding="utf-8")
    [loaded] = load_manifests(["m.yaml"])
    assert isinstance(loaded.manifest, ModelGroupManifest)
    assert loaded.manifest.spec.description == f"smile {EMOJI}"


def test_a_json_file_written_by_json_dumps_loads_with_its_emoji() -> None:
    doc = json.loads(json.dumps(CONNECTOR))
    doc["spec"]["parameters"]["prompt"] = f"hi {EMOJI}"
    doc["spec"]["actions"][0]["headers"][f"x-{EMOJI}"] = EMOJI
    Path("c.json").write_text(json.dumps(doc), encoding="ascii")  # every emoji escaped
    [loaded] = load_manifests(["c.json"])
    assert isinstance(loaded.manifest, ConnectorManifest)
    assert loaded.manifest.spec.parameters["prompt"] == f"hi {EMOJI}"
    assert loaded.manifest.spec.actions[0].headers == {
        "content-type": "application/json",
        f"x-{EMOJI}": EMOJI,
    }


def _every_string_path(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Paths of every string value, and of every key (as the path ending in `key:`)."""
    found: list[tuple[object, ...]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((*prefix, f"key:{key}"))
            found += _every_string_path(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _every_string_path(item, (*prefix, index))
    elif isinstance(value, str):
        found.append(prefix)
    return found


PATHS = _every_string_path(CONNECTOR)


@pytest.mark.parametrize("lone", ["\ud800", "\udcff", "\ude00"])
@pytest.mark.parametrize("path", PATHS, ids=[".".join(map(str, p)) for p in PATHS])
def test_a_lone_surrogate_anywhere_is_a_located_problem(
    path: tuple[object, ...], lone: str
) -> None:
    doc = json.loads(json.dumps(CONNECTOR))
    target = doc
    for part in path[:-1]:
        target = target[part]
    last = path[-1]
    if isinstance(last, str) and last.startswith("key:"):
        key = last.removeprefix("key:")
        target[key + lone] = target.pop(key)
    else:
        target[last] = str(target[last]) + lone
    Path("c.json").write_text(json.dumps(doc), encoding="ascii")

    reading = read_manifests(["c.json"])

    found = [p for p in reading.problems if "lone UTF-16 surrogate" in p.message]
    assert len(found) == 1, reading.problems
    [problem] = found
    assert problem.file == "c.json" and problem.line == 1 and problem.column
    assert f"\\u{ord(lone):04x}" in problem.message
    assert len(reading.manifests) == 0
    # What is shown of the document holds no surrogate: every printer can write it.
    for shown in reading.problems:
        str(shown).encode("utf-8")


def test_the_problem_points_at_the_line_of_the_value() -> None:
    text = 'apiVersion: osml/v1\nkind: ModelGroup\nmetadata:\n  name: g\nspec:\n  description: "a\\ud800"\n'
    Path("m.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifests(["m.yaml"])
    [problem] = caught.value.problems
    assert str(problem) == (
        "m.yaml:6:16: ModelGroup/g: spec.description: this value holds a lone UTF-16 "
        "surrogate \\ud800, which is not a character (half of a \\uXXXX\\uXXXX pair?); "
        "write the character itself"
    )
