"""Hostile or odd input: loading stays bounded and answers with a Problem, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifests import locating
from reconciler.manifests.loading import MAX_FILE_BYTES, load_manifests
from reconciler.manifests.locating import MAX_DEPTH, read_documents

BOMB = "\n".join(
    [
        "a: &a [x, x, x, x, x, x, x, x, x, x]",
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]",
        "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]",
    ]
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def only_problem(content: str | bytes) -> str:
    path = Path("m.yaml")
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifests(["m.yaml"])
    (problem,) = caught.value.problems
    return str(problem)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            BOMB, "m.yaml:1:20: the document expands to more than 100000 values", id="bomb"
        ),
        pytest.param(
            "[" * 100_000 + "]" * 100_000,
            f"m.yaml:1:{MAX_DEPTH + 1}: YAML syntax error: nested deeper than 64 levels",
            id="deep-flow",
        ),
        pytest.param(
            "".join(" " * i + "a:\n" for i in range(500)),
            "m.yaml:64:64: YAML syntax error: nested deeper than 64 levels",
            id="deep-block",
        ),
        pytest.param(
            "&a [*a]", "m.yaml:1:1: nested deeper than 64 levels (a recursive alias?)", id="cycle"
        ),
        pytest.param(
            "&a {<<: *a}",
            "m.yaml:1:1: nested deeper than 64 levels (a recursive alias?)",
            id="merge-cycle",
        ),
        pytest.param(
            "? [a, b]\n: c\n",
            "m.yaml:1:3: a mapping key must be a plain value, not a mapping or a list",
            id="complex-key",
        ),
        pytest.param(
            "a: {<<: [1, 2]}\n",
            "m.yaml:1:9: a merge key (<<) needs a mapping or a list of mappings",
            id="bad-merge",
        ),
        pytest.param(b"a: 1\nb: \xff\xfe\n", "m.yaml:2:4: not valid UTF-8 text", id="not-utf8"),
        pytest.param(
            "a: *nowhere\n",
            "m.yaml:1:4: YAML syntax error: found undefined alias 'nowhere'",
            id="alias",
        ),
    ],
)
def test_refused_with_a_located_problem(content: str | bytes, expected: str) -> None:
    assert only_problem(content) == expected


def test_files_over_the_size_limit_are_refused_unread() -> None:
    Path("big.yaml").write_bytes(b"#" * (MAX_FILE_BYTES + 1))

    with pytest.raises(ManifestError) as caught:
        load_manifests(["big.yaml"])

    assert [str(p) for p in caught.value.problems] == [
        "big.yaml: file is 5.0 MiB; manifest files over 5 MiB are refused"
    ]


def test_a_directory_named_like_a_manifest_is_not_read_as_a_file() -> None:
    Path("odd.yaml").mkdir()

    assert len(load_manifests(["."])) == 0


@pytest.mark.parametrize(
    ("text", "data"),
    [
        # Keys are kept as written: YAML 1.1 would make `on` a boolean and `1` an int.
        ("on: yes\n1: 2\nnull: ~\n", {"on": True, "1": 2, "null": None}),
        ("date: 2024-01-31\n", {"date": "2024-01-31"}),
        (
            "base: &b {x: 1, y: 2}\nm: {<<: *b, y: 3}\n",
            {"base": {"x": 1, "y": 2}, "m": {"x": 1, "y": 3}},
        ),
        ("a: &x [1]\nb: *x\n", {"a": [1], "b": [1]}),
        ("\ufeffa: 1\n", {"a": 1}),
    ],
)
def test_yaml_values_are_read_as_plain_data(text: str, data: object) -> None:
    documents, problems = read_documents(text, file="m.yaml")

    assert problems == []
    assert [d.data for d in documents] == [data]


def test_merged_values_are_located_where_they_were_written() -> None:
    (document,), _ = read_documents("base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n", file="m.yaml")

    assert document.positions.locate(("m", "x")).line == 1
    assert document.positions.locate(("m", "y")).line == 4


PARITY = [
    (
        "a: 1\nb: [x, {c: d}]\n---\n# only a comment\n---\ne: &e {f: g}\nh:\n  <<: *e\n  i: j\n",
        True,
    ),
    ("a: 1\na: 2\nb: !!binary aGk=\nc: 2001-12-14\n'on': yes\n", True),
    ("a: " + "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + "\n", False),
    (BOMB, False),
    ("a: 1\n---\nb: [unclosed\n", False),
]


@pytest.mark.parametrize(("text", "plain"), PARITY)
def test_libyaml_reads_a_file_as_the_pure_python_reader_does(text: str, plain: bool) -> None:
    # A file with no YAML error and no limit hit is read by libyaml alone (when present);
    # any other is read again by the pure-Python reader, whose messages are the reference.
    reference = locating._read(locating._BoundedLoader, text, file="f.yaml")
    assert read_documents(text, file="f.yaml") == reference[:2]
    for reader in (locating._c_loader(), locating._fast_loader()):
        if reader is not None:
            documents, problems, clean = locating._read(reader, text, file="f.yaml", fast=True)
            assert clean is plain
            if clean:
                assert (documents, problems) == reference[:2]
