"""Built-in pre- and post-process functions of connector actions, with the version of each.

Reference §4.1 lists the names the server resolves to Java functions; any other string is
run as a Painless script (§4.2), so a misspelt `connector.` name only fails at predict time.
The manifest checks use this table to catch that early. Pure data: no I/O.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum

from reconciler.mlcommons.versions import Version

BUILTIN_PREFIX = "connector."
"""Every built-in name starts with this; other strings are scripts (§4.2)."""


class FunctionKind(enum.StrEnum):
    """Which action field a built-in belongs in."""

    PRE = "pre"
    """`pre_process_function`: shapes predict input into connector parameters."""
    POST = "post"
    """`post_process_function`: shapes the remote response into tensors."""


@dataclasses.dataclass(frozen=True, slots=True)
class BuiltinFunction:
    """One built-in function name."""

    name: str
    kind: FunctionKind
    since: Version
    provides: frozenset[str] = frozenset()
    """Pre-process only: the predict parameters the function fills in, which templates may
    use without defining them (read from the function classes of ML Commons)."""


def _table(*rows: tuple[str, str]) -> tuple[BuiltinFunction, ...]:
    functions = []
    for name, since in rows:
        kind = FunctionKind.PRE if name.startswith("connector.pre_process.") else FunctionKind.POST
        provides = frozenset(_PROVIDES.get(name, ()))
        functions.append(BuiltinFunction(name, kind, Version.parse(since), provides))
    return tuple(functions)


_PRE = "connector.pre_process."
_POST = "connector.post_process."

# What each built-in pre-process function puts into the predict parameters.
_PROVIDES: dict[str, tuple[str, ...]] = {
    _PRE + "openai.embedding": ("input",),
    _PRE + "default.embedding": ("input",),
    _PRE + "cohere.embedding": ("texts",),
    _PRE + "bedrock.embedding": ("inputText",),
    _PRE + "bedrock.nova.text_embedding": ("inputText",),
    _PRE + "bedrock.multimodal_embedding": ("inputText", "inputImage"),
    _PRE + "cohere.multimodal_embedding": ("images",),
    _PRE + "bedrock.nova.image_embedding": ("inputImage",),
    _PRE + "bedrock.nova.video_embedding": ("inputVideo",),
    _PRE + "bedrock.nova.audio_embedding": ("inputAudio",),
    _PRE + "bedrock.nova.embedding": ("text", "image", "video", "audio"),
    _PRE + "cohere.rerank": ("query", "documents", "top_n"),
    _PRE + "default.rerank": ("query", "documents", "top_n"),
    _PRE + "bedrock.rerank": ("queries", "sources", "numberOfResults"),
}

BUILTIN_FUNCTIONS: tuple[BuiltinFunction, ...] = _table(
    (_PRE + "openai.embedding", "2.9"),
    (_PRE + "cohere.embedding", "2.9"),
    (_POST + "openai.embedding", "2.9"),
    (_POST + "cohere.embedding", "2.9"),
    (_PRE + "default.embedding", "2.11"),
    (_POST + "default.embedding", "2.11"),
    (_PRE + "bedrock.embedding", "2.12"),
    (_POST + "bedrock.embedding", "2.12"),
    (_PRE + "cohere.rerank", "2.12"),
    (_PRE + "default.rerank", "2.12"),
    (_POST + "cohere.rerank", "2.12"),
    (_POST + "default.rerank", "2.12"),
    (_PRE + "bedrock.multimodal_embedding", "2.16"),
    (_POST + "bedrock.batch_job_arn", "2.18"),
    (_PRE + "bedrock.rerank", "2.19"),
    (_POST + "bedrock.rerank", "2.19"),
    (_PRE + "cohere.multimodal_embedding", "2.19"),
    (_POST + "cohere_v2.embedding.float", "3.0"),
    (_POST + "cohere_v2.embedding.int8", "3.0"),
    (_POST + "cohere_v2.embedding.uint8", "3.0"),
    (_POST + "cohere_v2.embedding.binary", "3.0"),
    (_POST + "cohere_v2.embedding.ubinary", "3.0"),
    (_POST + "bedrock_v2.embedding.float", "3.0"),
    (_POST + "bedrock_v2.embedding.binary", "3.0"),
    (_POST + "mlcommons.passthrough", "3.3"),
    (_POST + "bedrock.nova.embedding", "3.4"),
    (_PRE + "bedrock.nova.text_embedding", "3.4"),
    (_PRE + "bedrock.nova.image_embedding", "3.4"),
    (_PRE + "bedrock.nova.video_embedding", "3.4"),
    (_PRE + "bedrock.nova.audio_embedding", "3.4"),
    (_PRE + "bedrock.nova.embedding", "3.5"),
)
"""Reference §4.1, in the order the functions appeared."""

_BY_NAME = {function.name: function for function in BUILTIN_FUNCTIONS}


def builtin_function(name: str) -> BuiltinFunction | None:
    """The built-in called `name` in any version, or None."""
    return _BY_NAME.get(name)


def builtin_names(version: Version, *, kind: FunctionKind) -> tuple[str, ...]:
    """The built-in names of `kind` that `version` knows."""
    return tuple(f.name for f in BUILTIN_FUNCTIONS if f.kind is kind and f.since <= version.line)


def provided_parameters(pre_process_function: str | None) -> frozenset[str]:
    """The parameters a built-in pre-process function supplies; empty for scripts."""
    function = builtin_function(pre_process_function or "")
    return function.provides if function is not None else frozenset()


def looks_builtin(text: str) -> bool:
    """Whether `text` is meant as a built-in name rather than a Painless script."""
    return (
        text.startswith(BUILTIN_PREFIX) and "${" not in text and not any(c.isspace() for c in text)
    )


def closest_builtin(name: str, *, version: Version, kind: FunctionKind) -> str | None:
    """The known built-in of `kind` on `version` that `name` most likely misspells."""
    matches = difflib.get_close_matches(name, builtin_names(version, kind=kind), n=1, cutoff=0.8)
    return matches[0] if matches else None
