"""Loading manifest files: discovery, documents, positions, the ManifestSet API."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ManifestError, Problem, Severity
from reconciler.manifests.loading import (
    LoadedManifest,
    ManifestSet,
    SourceLocation,
    find_manifest_files,
    load_manifests,
    read_manifests,
)
from reconciler.manifests.locating import render_path
from reconciler.manifests.models import ConnectorManifest
from reconciler.resources import Kind, ResourceKey

CONNECTOR = """\
apiVersion: osml/v1
kind: Connector
metadata:
  name: openai-chat
spec:
  version: 1
  protocol: http
  parameters: {endpoint: api.openai.com}
  credential:
    openAI_key: {fromEnv: OPENAI_API_KEY}
  actions:
    - action_type: predict
      method: POST
      url: https://${parameters.endpoint}/v1/chat/completions
"""

GROUP = """\
apiVersion: osml/v1
kind: ModelGroup
metadata: {name: chat-models}
"""

MODEL = """\
apiVersion: osml/v1
kind: Model
metadata:
  name: chat
spec:
  connector: openai-chat
  model_group: chat-models
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory, so that paths stay relative as users type them."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(paths: list[str]) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifests(paths)
    return [str(p) for p in caught.value.problems]


# --- discovery -----------------------------------------------------------------------


def test_directory_is_read_recursively_in_sorted_order(repo: Path) -> None:
    write(repo / "m" / "b.yml", MODEL)
    write(repo / "m" / "a.yaml", CONNECTOR)
    write(repo / "m" / "sub" / "0.yaml", GROUP)
    write(repo / "m" / "notes.txt", "not: yaml manifests")
    write(repo / "m" / ".hidden" / "x.yaml", "garbage: [")
    write(repo / "m" / ".hidden.yaml", "garbage: [")

    loaded = load_manifests(["m/"])

    assert [doc.file for doc in loaded] == ["m/a.yaml", "m/b.yml", "m/sub/0.yaml"]
    assert [str(doc.key) for doc in loaded] == [
        "Connector/openai-chat",
        "Model/chat",
        "ModelGroup/chat-models",
    ]


def test_multi_document_files_skip_empty_documents(repo: Path) -> None:
    write(repo / "all.yaml", f"---\n{CONNECTOR}---\n# only a comment\n---\n{GROUP}---\n")

    loaded = load_manifests(["all.yaml"])

    assert [doc.key.kind for doc in loaded] == [Kind.CONNECTOR, Kind.MODEL_GROUP]


def test_an_explicit_file_is_read_whatever_its_suffix(repo: Path) -> None:
    write(repo / "connector.txt", CONNECTOR)

    assert len(load_manifests(["connector.txt"])) == 1


def test_the_same_file_given_twice_is_read_once(repo: Path) -> None:
    write(repo / "m" / "a.yaml", CONNECTOR)

    assert len(load_manifests(["m", "m/a.yaml", str(repo / "m")])) == 1


@pytest.mark.parametrize("paths", [[], ["empty"], ["empty.yaml"]])
def test_no_manifests_is_a_valid_empty_set(repo: Path, paths: list[str]) -> None:
    (repo / "empty").mkdir()
    write(repo / "empty.yaml", "# nothing yet\n")

    assert len(load_manifests(paths)) == 0


def test_a_missing_path_is_an_error(repo: Path) -> None:
    assert problems_of(["nowhere/"]) == ["nowhere/: no such file or directory"]


def test_find_manifest_files_lists_files_and_reports_missing_paths(repo: Path) -> None:
    write(repo / "m" / "b.yaml", GROUP)
    write(repo / "m" / "a" / "z.yml", GROUP)
    write(repo / "m" / "README.md", "# not a manifest")

    files, problems = find_manifest_files(["m", "gone.yaml"])

    assert files == ["m/a/z.yml", "m/b.yaml"]
    assert [str(p) for p in problems] == ["gone.yaml: no such file or directory"]


def test_an_absolute_path_stays_absolute(repo: Path) -> None:
    write(repo / "a.yaml", CONNECTOR)

    (doc,) = load_manifests([repo / "a.yaml"])

    assert doc.file == str(repo / "a.yaml")


# --- the set --------------------------------------------------------------------------


def test_manifest_set_lookups(repo: Path) -> None:
    write(repo / "m.yaml", "---\n".join([CONNECTOR, GROUP, MODEL]))

    loaded = load_manifests(["m.yaml"])

    connector = loaded.get(ResourceKey(Kind.CONNECTOR, "openai-chat"))
    assert connector is not None
    assert isinstance(connector.manifest, ConnectorManifest)
    assert loaded.get(ResourceKey(Kind.CONNECTOR, "chat")) is None
    assert [str(d.key) for d in loaded.of_kind(Kind.MODEL)] == ["Model/chat"]
    assert loaded.of_kind(Kind.TRUSTED_ENDPOINTS) == ()
    assert len(loaded) == 3
    assert ManifestSet().documents == ()


def test_read_manifests_returns_the_valid_documents_and_every_problem(repo: Path) -> None:
    write(repo / "m.yaml", "---\n".join([CONNECTOR, "kind: Nope\n", MODEL]))

    reading = read_manifests(["m.yaml"])

    assert [str(d.key) for d in reading.manifests] == ["Connector/openai-chat", "Model/chat"]
    assert reading.documents == 3
    assert len(reading.problems) == 1


# --- positions ------------------------------------------------------------------------


@pytest.fixture
def connector(repo: Path) -> LoadedManifest:
    write(repo / "c.yaml", "# leading comment\n" + CONNECTOR)
    (doc,) = load_manifests(["c.yaml"])
    return doc


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        ((), 2, 1),
        (("kind",), 3, 7),
        (("metadata", "name"), 5, 9),
        (("spec", "credential", "openAI_key"), 11, 17),
        (("spec", "credential", "openAI_key", "fromEnv"), 11, 27),
        (("spec", "actions", 0), 13, 7),
        (("spec", "actions", 0, "url"), 15, 12),
        # paths that do not exist fall back to the nearest ancestor in the file
        (("spec", "actions", 0, "headers", "x"), 13, 7),
        (("spec", "actions", 7, "url"), 13, 5),
        (("lifecycle", "prevent_destroy"), 2, 1),
    ],
)
def test_locate_points_at_the_node(
    connector: LoadedManifest, path: tuple[str | int, ...], line: int, column: int
) -> None:
    assert connector.locate(*path) == SourceLocation("c.yaml", line, column)


def test_locate_can_point_at_the_key(connector: LoadedManifest) -> None:
    assert connector.locate("spec", "protocol", key=True) == SourceLocation("c.yaml", 8, 3)
    assert connector.locate("spec", "protocol") == SourceLocation("c.yaml", 8, 13)


def test_problem_is_located_and_names_the_resource(connector: LoadedManifest) -> None:
    problem = connector.problem(
        "placeholder ${parameters.endpont} is not defined",
        "spec",
        "actions",
        0,
        "url",
        severity=Severity.WARNING,
    )

    assert problem == Problem(
        "placeholder ${parameters.endpont} is not defined",
        file="c.yaml",
        line=15,
        column=12,
        resource="Connector/openai-chat",
        path="spec.actions[0].url",
        severity=Severity.WARNING,
    )


def test_problem_without_a_path_points_at_the_document(connector: LoadedManifest) -> None:
    problem = connector.problem("something about the whole resource")

    assert (problem.line, problem.column, problem.path) == (2, 1, None)


def test_positions_of_later_documents(repo: Path) -> None:
    write(repo / "m.yaml", f"{CONNECTOR}---\n{GROUP}")

    group = load_manifests(["m.yaml"]).of_kind(Kind.MODEL_GROUP)[0]

    assert group.locate("metadata", "name") == SourceLocation("m.yaml", 18, 18)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("spec",), "spec"),
        (("spec", "actions", 0, "url"), "spec.actions[0].url"),
        (
            ("spec", "settings", "connector.private_ip_enabled"),
            'spec.settings["connector.private_ip_enabled"]',
        ),
        ((0, "a"), "[0].a"),
        (("headers", 'say "hi"'), 'headers["say \\"hi\\""]'),
    ],
)
def test_render_path(path: tuple[str | int, ...], text: str) -> None:
    assert render_path(path) == text


def test_source_location_text() -> None:
    assert str(SourceLocation("m/a.yaml", 3, 5)) == "m/a.yaml:3:5"
