"""Built-in pre/post-process function names and their versions (§4.1)."""

from __future__ import annotations

import pytest

from reconciler.mlcommons.functions import (
    BUILTIN_FUNCTIONS,
    FunctionKind,
    builtin_function,
    builtin_names,
    closest_builtin,
    looks_builtin,
    provided_parameters,
)
from reconciler.mlcommons.versions import Version

PRE, POST = FunctionKind.PRE, FunctionKind.POST


@pytest.mark.parametrize(
    ("name", "kind", "since"),
    [
        ("connector.pre_process.openai.embedding", PRE, "2.9"),
        ("connector.post_process.cohere.embedding", POST, "2.9"),
        ("connector.pre_process.default.embedding", PRE, "2.11"),
        ("connector.post_process.default.rerank", POST, "2.12"),
        ("connector.pre_process.bedrock.multimodal_embedding", PRE, "2.16"),
        ("connector.post_process.bedrock.batch_job_arn", POST, "2.18"),
        ("connector.pre_process.cohere.multimodal_embedding", PRE, "2.19"),
        ("connector.post_process.cohere_v2.embedding.ubinary", POST, "3.0"),
        ("connector.post_process.bedrock_v2.embedding.binary", POST, "3.0"),
        ("connector.post_process.mlcommons.passthrough", POST, "3.3"),
        ("connector.pre_process.bedrock.nova.audio_embedding", PRE, "3.4"),
        ("connector.pre_process.bedrock.nova.embedding", PRE, "3.5"),
    ],
)
def test_table(name: str, kind: FunctionKind, since: str) -> None:
    function = builtin_function(name)
    assert function is not None
    assert function.kind is kind and function.since == Version.parse(since)


def test_names_are_unique_and_prefixed() -> None:
    names = [f.name for f in BUILTIN_FUNCTIONS]
    assert len(names) == len(set(names)) == 31
    assert all(n.startswith("connector.") for n in names)


@pytest.mark.parametrize(
    ("version", "pre", "post"),
    [("2.9", 2, 2), ("2.11", 3, 3), ("2.12", 6, 6), ("2.19", 9, 8), ("3.8", 14, 17)],
)
def test_names_per_version(version: str, pre: int, post: int) -> None:
    v = Version.parse(version)
    assert len(builtin_names(v, kind=PRE)) == pre
    assert len(builtin_names(v, kind=POST)) == post


@pytest.mark.parametrize(
    ("text", "builtin"),
    [
        ("connector.pre_process.openai.embedding", True),
        ("connector.pre_process.whatever", True),
        ("connector.${parameters.kind}", False),
        ("def x = params.text; return x;", False),
        ('\n    def name = "sentence_embedding";\n', False),
    ],
)
def test_looks_builtin(text: str, builtin: bool) -> None:
    assert looks_builtin(text) is builtin


def test_closest_builtin() -> None:
    v = Version.parse("3.8")
    assert (
        closest_builtin("connector.post_process.openai.embeding", version=v, kind=POST)
        == "connector.post_process.openai.embedding"
    )
    assert closest_builtin("connector.post_process.zzz", version=v, kind=POST) is None


@pytest.mark.parametrize(
    ("name", "provides"),
    [
        ("connector.pre_process.openai.embedding", {"input"}),
        ("connector.pre_process.default.embedding", {"input"}),
        ("connector.pre_process.cohere.embedding", {"texts"}),
        ("connector.pre_process.bedrock.embedding", {"inputText"}),
        ("connector.pre_process.default.rerank", {"query", "documents", "top_n"}),
        ("connector.post_process.openai.embedding", set()),
        ("def x = 1; return x;", set()),
        (None, set()),
    ],
)
def test_provided_parameters(name: str | None, provides: set[str]) -> None:
    assert provided_parameters(name) == provides


def test_only_pre_process_functions_provide() -> None:
    assert all(f.kind is PRE for f in BUILTIN_FUNCTIONS if f.provides)
