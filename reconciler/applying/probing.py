"""What a probe's answer shows: the `expect` checks and the short description apply prints.

`deploying.run_probe` sends the predict (§8.1) and hands the answer here. `problems` lists
every expectation the answer misses (an embedding dimension, a JSONPath that selects
nothing); `describe` says in a few words what came back, such as `embedding of 1024
dimensions` or `"The first words of the answer ..."`, for the progress line and the apply
summary. `agent_problems` and `describe_agent` do the same for the execute answer that
`agent_probing.run_probe` gets from an agent (CONS §4.8). Pure: no I/O; callers scrub the
text of known secrets before showing it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.manifests import jsonpaths

_WORDS = 8
"""How many words of a generated text the description quotes."""
_TEXT_KEYS = ("content", "text", "completion", "outputText", "generated_text", "response")
"""Where providers put generated text, in the order they are looked for."""


def problems(answer: Mapping[str, Any], expect: Mapping[str, Any]) -> list[str]:
    """Every way `answer` misses `expect` (the manifest's `lifecycle.probe.expect`)."""
    found: list[str] = []
    wanted = expect.get("embedding_dimension")
    if wanted is not None:
        dimensions = embedding_dimensions(answer)
        if not dimensions:
            found.append(f"expected an embedding of {wanted} dimensions, the answer has none")
        elif any(d != wanted for d in dimensions):
            shown = ", ".join(str(d) for d in sorted(set(dimensions)))
            found.append(f"expected embeddings of {wanted} dimensions, got {shown}")
    for path in expect.get("exists") or []:
        if not jsonpaths.find(answer, path):
            found.append(f"expected {path} in the answer, it selects nothing")
    return found


def agent_problems(answer: Mapping[str, Any], expect: Mapping[str, Any]) -> list[str]:
    """Every way an execute answer (CONS §4.8) misses an agent probe's `expect`."""
    found: list[str] = []
    if expect.get("outputs") and not agent_results(answer):
        found.append("expected an output with a result, the answer has none")
    for path in expect.get("exists") or []:
        if not jsonpaths.find(answer, path):
            found.append(f"expected {path} in the answer, it selects nothing")
    return found


def agent_results(answer: Mapping[str, Any]) -> list[str]:
    """The non-empty `result` of every output tensor of an execute answer."""
    results = (tensor.get("result") for tensor in _tensors(answer))
    return [r for r in results if isinstance(r, str) and r.strip()]


def describe_agent(answer: Mapping[str, Any]) -> str:
    """A few words on what the agent answered."""
    results = agent_results(answer)
    if not results:
        return "answered with no output"
    return _quoted(_generated_text(results[-1]))


def _generated_text(result: str) -> str:
    """A tool's result, or the generated text inside it when it is a provider's JSON (an
    MLModelTool whose `response_field` is `choices`)."""
    try:
        data = json.loads(result)
    except ValueError:
        return result
    found = (_find_text(data, key) for key in _TEXT_KEYS)
    return next((text for text in found if text), result)


def embedding_dimensions(answer: Mapping[str, Any]) -> list[int]:
    """The length of every embedding in a predict answer: tensors with a shape, else the
    first array of numbers inside each `dataAsMap` (a raw provider answer)."""
    tensors = list(_tensors(answer))
    shaped = [_length(t) for t in tensors if isinstance(t.get("shape"), list) and t["shape"]]
    if shaped:
        return shaped
    raw = (_first_vector(t.get("dataAsMap")) for t in tensors)
    return [len(vector) for vector in raw if vector is not None]


def describe(answer: Mapping[str, Any]) -> str:
    """A few words on what the model answered."""
    dimensions = embedding_dimensions(answer)
    if dimensions:
        count = len(dimensions)
        size = "/".join(str(d) for d in sorted(set(dimensions)))
        return (
            f"{count} embeddings of {size} dimensions"
            if count > 1
            else (f"embedding of {size} dimensions")
        )
    text = next((t for t in map(_first_text, _tensors(answer)) if t), None)
    if text is not None:
        return _quoted(text)
    return "answered"


def _quoted(text: str) -> str:
    words = text.split()
    quoted = " ".join(words[:_WORDS]) + (" ..." if len(words) > _WORDS else "")
    return f'"{quoted}"'


def _tensors(answer: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for result in answer.get("inference_results") or []:
        for tensor in (result or {}).get("output") or []:
            if isinstance(tensor, Mapping):
                yield tensor


def _length(tensor: Mapping[str, Any]) -> int:
    return int(tensor["shape"][-1])


def _first_vector(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        if value and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return value
        items: Iterator[Any] = iter(value)
    elif isinstance(value, Mapping):
        items = iter(value.values())
    else:
        return None
    return next((v for v in map(_first_vector, items) if v is not None), None)


def _first_text(tensor: Mapping[str, Any]) -> str | None:
    data = tensor.get("dataAsMap")
    for key in _TEXT_KEYS:
        text = _find_text(data, key)
        if text:
            return text
    return None


def _find_text(value: Any, key: str) -> str | None:
    if isinstance(value, Mapping):
        if isinstance(value.get(key), str) and value[key].strip():
            return str(value[key])
        children: Iterator[Any] = iter(value.values())
    elif isinstance(value, list):
        children = iter(value)
    else:
        return None
    return next((t for t in (_find_text(c, key) for c in children) if t), None)
