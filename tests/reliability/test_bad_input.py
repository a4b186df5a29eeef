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


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox("3.x") as running:
        yield running


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad")


@FUZZ
@given(content=YAMLISH | mangled() | hostile_names())
def test_validate_answers_any_file_cleanly(content: str, folder: Path) -> None:
    path = folder / "m.yaml"
    path.write_text(content, "utf-8")
    invoke(["validate", str(path)])
    invoke(["validate", "--format", "json", str(path)])


@FUZZ
@given(content=mangled() | hostile_names())
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
