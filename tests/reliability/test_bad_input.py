"""Bad input at the command line: malformed YAML, huge and deeply nested documents, wrong
types, hostile strings in names and templates, and random argument lists. osml answers
each with a clear error and a non-zero exit (or a clean success), never a traceback,
never a hang, with bounded memory.

The loader's own fuzz test (tests/unit/manifests/test_fuzz_loading.py) checks problems
at the API; these go through click as a user does, so the one `except ReconcilerError`
in the CLI is what is under test.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from reconciler.sandbox.server import Sandbox
from tests.reliability.schedules import budget, fixed_seed
from tests.reliability.worlds import (
    SECRET_VARIABLE,
    Connector,
    Group,
    Model,
    connector_doc,
    group_doc,
    model_doc,
)

DEAD_CLUSTER = "http://127.0.0.1:1"
"""Nothing listens there: every cluster command fails at once with a connection error."""
CLEAN_EXITS = (0, 1, 2)
"""0 fine, 1 an error osml explained, 2 a usage error (click) or `--detailed-exitcode`."""

HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "\x1b[31mred\x1b[0m",
        "\x00nul",
        "line\nbreak",
        "../../etc/passwd",
        "名前",
        "a" * 5000,
        "${credential.openAI_key}",
        "${parameters.${parameters.x}}",
        "{{7*7}}",
        "'; DROP TABLE models; --",
        "%s%n%x",
        "\u202eevil",
        "*",
        "-1",
        "1e309",
        "\ud800",  # a lone surrogate: no encoding can write it
        "lone \udcff low",
        "\ud83d\ude00",  # JSON's escape of 😀: joined on load
        "\U0001f600",
        "\ufeffbom",
    ]
)
YAMLISH = st.text(alphabet=":-[]{}&*!|>'\"#?,<%@`\t\n ab0yno~.=\\\x00é", max_size=300)
ANY_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | HOSTILE,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE, inner, max_size=3),
    max_leaves=8,
)
VALID: list[dict[str, Any]] = [
    group_doc(Group("g0")),
    connector_doc(Connector("c0")),
    model_doc(Model("m0", "c0", "g0")),
]
FUZZ = settings(
    max_examples=budget(25),
    deadline=5000,
    derandomize=fixed_seed(),
    suppress_health_check=list(HealthCheck),
)


def invoke(args: list[str], *, env: dict[str, str] | None = None) -> Result:
    """Run osml in-process as a user would; the result of a clean exit."""
    runner = CliRunner()
    result = runner.invoke(main, args, env={SECRET_VARIABLE: "sk-fuzz-0001", **(env or {})})
    assert_clean(result)
    return result


def assert_clean(result: Result) -> None:
    """No traceback: either no exception or click's own SystemExit, with a known code."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"osml crashed: {result.exception!r}\n{result.output}")
    assert result.exit_code in CLEAN_EXITS, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert result.output.strip(), "an error exit must say why"


@st.composite
def mangled(draw: st.DrawFn) -> str:
    """Valid manifests with one value replaced, or a field of the wrong type."""
    docs = copy.deepcopy(VALID)
    doc = draw(st.sampled_from(docs))
    path = draw(st.sampled_from(_paths(doc)))
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = draw(ANY_VALUE)
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def hostile_names(draw: st.DrawFn) -> str:
    """Manifests whose names and templates carry hostile strings."""
    name = draw(HOSTILE)
    docs = copy.deepcopy(VALID)
    docs[draw(st.integers(0, 2))]["metadata"]["name"] = name
    action = docs[1]["spec"]["actions"][0]
    action[draw(st.sampled_from(["url", "request_body"]))] = draw(HOSTILE)
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True)


@st.composite
def json_style(draw: st.DrawFn) -> str:
    """Mangled or hostile manifests written as `json.dumps` writes them: every character
    past ASCII escaped, an emoji as a surrogate pair `\\ud83d\\ude00`."""
    docs = yaml.safe_load_all(draw(mangled() | hostile_names()))
    return "\n---\n".join(json.dumps(doc) for doc in docs)


LONE = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "\ude00"])


@st.composite
def lone_surrogate(draw: st.DrawFn) -> tuple[str, str]:
    """Valid manifests with a lone surrogate added to one string value or key, dumped as
    YAML or as JSON; and the surrogate."""
    docs = copy.deepcopy(VALID)
    doc = draw(st.sampled_from(docs))
    path = draw(st.sampled_from([p for p in _paths(doc) if _is_string_or_key(doc, p)]))
    lone = draw(LONE)
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()) and isinstance(parent, dict):
        parent[path[-1] + lone] = parent.pop(path[-1])  # in the key
    elif isinstance(parent[path[-1]], str):
        parent[path[-1]] = parent[path[-1]] + lone
    else:
        parent[path[-1]] = lone
    if draw(st.booleans()):
        return "\n---\n".join(json.dumps(d) for d in docs), lone
    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True), lone


def _is_string_or_key(doc: dict[str, Any], path: tuple[Any, ...]) -> bool:
    value: Any = doc
    for part in path:
        value = value[part]
    return isinstance(path[-1], str) or isinstance(value, str)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox("3.x") as running:
        yield running


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad")


@FUZZ
@given(content=YAMLISH | mangled() | hostile_names() | json_style())
def test_validate_answers_any_file_cleanly(content: str, folder: Path) -> None:
    path = folder / "m.yaml"
    path.write_text(content, "utf-8")
    invoke(["validate", str(path)])
    invoke(["validate", "--format", "json", str(path)])


@FUZZ
@given(case=lone_surrogate())
def test_a_lone_surrogate_anywhere_is_a_located_error(case: tuple[str, str], folder: Path) -> None:
    content, lone = case
    path = folder / "s.yaml"
    path.write_text(content, "ascii")  # the dumps escape every surrogate
    result = invoke(["validate", str(path)])
    assert result.exit_code == 1, result.output
    escape = f"\\u{ord(lone):04x}"
    located = [
        line
        for line in result.output.splitlines()
        if "lone UTF-16 surrogate" in line and escape in line
    ]
    assert located and all(re.match(rf"{re.escape(str(path))}:\d+:\d+: ", line) for line in located)
    result = invoke(["validate", "--format", "json", str(path)])
    problems = json.loads(result.output)["problems"]
    assert any("lone UTF-16 surrogate" in p["message"] and p["line"] for p in problems)


@FUZZ
@given(content=mangled() | hostile_names() | json_style())
def test_plan_answers_hostile_manifests_cleanly(
    content: str, folder: Path, sandbox: Sandbox
) -> None:
    path = folder / "p.yaml"
    path.write_text(content, "utf-8")
    for view in ("text", "markdown"):
        result = invoke(["plan", "--format", view, "--cluster", sandbox.url, str(path)])
        # Control characters from names reach no terminal (the ESC of a colour code).
        assert "\x1b[31m" not in result.output


_COMMANDS = [
    ["validate"], ["plan"], ["apply"], ["schema"], ["state", "list"], ["state", "show"],
    ["state", "rm"], ["lock", "status"], ["lock", "force-unlock"], ["import"],
    ["secrets", "keygen"], ["secrets", "encrypt"],
]  # fmt: skip
_TOKENS = st.sampled_from(
    [
        "--format", "json", "text", "markdown", "--out", "--target", "Model/x", "Nope/x",
        "--prune", "--auto-approve", "--parallelism", "0", "-5", "1000000", "--timeout",
        "nan", "inf", "--lock-timeout", "--cluster", DEAD_CLUSTER, "ftp://x", "http://",
        "--request-timeout", "--header", "X", "X: y", "--state-index", "UPPER", "..",
        "--cluster-version", "9.9", "2.x", "--key-file", "/dev/null", "/nonexistent",
        "--detailed-exitcode", "--help", "--", "-", ".", "\x1b[2J", "名前", "a" * 300,
        # An undecodable argument byte arrives as \udc80-\udcff (surrogateescape), the only
        # surrogates an argv can hold.
        "\udcff", "Model/\udc80", "\U0001f600", "--interval", "90s", "1m30", "--no-color",
    ]
)  # fmt: skip


@FUZZ
@given(command=st.sampled_from(_COMMANDS), tokens=st.lists(_TOKENS, max_size=6))
def test_random_arguments_get_a_clean_answer(
    command: list[str], tokens: list[str], folder: Path
) -> None:
    runner = CliRunner()
    # Relative paths (`--out`, `--sandbox`'s data file) land in a scratch folder.
    with contextlib.chdir(folder):
        result = runner.invoke(
            main,
            [*command, *tokens],
            env={"OSML_CLUSTER": DEAD_CLUSTER, SECRET_VARIABLE: "sk-fuzz-0001"},
            input="",
        )
    assert_clean(result)


STREAMS = {
    "ascii": {"PYTHONIOENCODING": "ascii"},
    "latin-1": {"PYTHONIOENCODING": "latin-1"},
    "LANG=C": {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
}
"""Standard streams that cannot write every character (UTF-8 ones, which cannot write a
lone surrogate, are what every in-process test above runs with)."""


def run_osml(
    args: list[str], *, streams: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[bytes]:
    """osml in a child process whose stdout and stderr have the given encoding."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONIO", "LC_", "LANG"))}
    env.update(streams, **{SECRET_VARIABLE: "sk-fuzz-0001"})
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], env=env, cwd=cwd, capture_output=True,
        timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("streams", list(STREAMS.values()), ids=list(STREAMS))
def test_any_string_prints_on_any_stream_encoding(streams: dict[str, str], tmp_path: Path) -> None:
    docs = copy.deepcopy(VALID)
    parameters = docs[1]["spec"]["parameters"]
    parameters["greeting"] = "smile \U0001f600 名前 café"
    parameters["pair"] = "\ud83d\ude00"  # json.dumps escapes it as a pair, joined on load
    good = tmp_path / "good"
    good.mkdir()
    (good / "m.yaml").write_text("\n---\n".join(json.dumps(d) for d in docs), "ascii")
    bad = tmp_path / "bad"
    bad.mkdir()
    docs[2]["metadata"]["name"] = "m\ud800"
    (bad / "m.yaml").write_text("\n---\n".join(json.dumps(d) for d in docs), "ascii")
    (bad / os.fsdecode(b"\xff-undecodable.yaml")).write_text("kind: Nope\n", "utf-8")

    for args, code in [
        (["validate", "bad"], 1),
        (["apply", "--sandbox", "sandbox.json", "--auto-approve", "good"], 0),
        (["plan", "--sandbox", "sandbox.json", "--format", "markdown", "good"], 0),
        (["plan", "--sandbox", "sandbox.json", "--target", "Model/\udcff", "good"], 1),
    ]:
        done = run_osml(args, streams=streams, cwd=tmp_path)
        output = (done.stdout + done.stderr).decode("utf-8", "replace")
        assert b"Traceback" not in done.stderr, output
        assert done.returncode == code, (args, output)
        if code == 1:
            assert "lone UTF-16 surrogate" in output or "Error:" in output, output


def _deep_block(depth: int) -> str:
    return "".join(" " * i + "a:\n" for i in range(depth))


def huge(scale: float = 1.0) -> dict[str, str]:
    """Hostile documents; `scale` 1 is what CI runs, the bench runs larger ones (only the
    kinds whose size stays near the 5 MiB file limit grow)."""
    n = lambda count: max(1, int(count * scale))  # noqa: E731
    return {
        "deep-flow": "[" * n(200_000) + "]" * n(200_000),
        "deep-block": _deep_block(2000),  # fixed: its size grows with the square
        "alias-bomb": "\n".join(
            [f"l0: &l0 [{', '.join(['x'] * 10)}]"]
            + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
        ),
        "huge-string": "kind: Connector\nspec: {description: " + "x" * (8 << 20) + "}\n",
        "many-documents": "---\nkind: Nope\n" * n(2_000),
        "long-line-of-keys": "{" + ", ".join(f"k{i}: {i}" for i in range(n(10_000))) + "}",
        "binary": "\x00\x01\x02\xff" * n(10_000),
    }


HUGE = huge()
SECONDS = 20.0
"""A hostile file is answered within this; docs/reliability.md has the measured times."""


@pytest.mark.parametrize("name", sorted(HUGE))
def test_huge_and_deep_documents_fail_fast_with_bounded_memory(name: str, tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(HUGE[name], "utf-8", errors="surrogateescape")
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = invoke(["validate", str(path)])
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 1, result.output
    assert "m.yaml" in result.output
    assert elapsed < SECONDS, f"{name}: {elapsed:.1f}s"
    assert peak < 300 * 1024 * 1024, f"{name}: peak {peak / 1048576:.0f} MiB"
