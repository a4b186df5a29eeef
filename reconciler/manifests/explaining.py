"""Turns pydantic validation errors into short human findings at data paths.

Called by `manifests.loading` when a document does not fit the model of its kind; the
loader turns each Finding into a located Problem. Pydantic's locations are walked
together with the model's annotations so that union choices (`FromEnv`, `str`, ...) are
told apart from real keys: a failed union becomes one message (`expected {fromEnv: VAR},
{fromFile: path} or {encrypted: ...}, got a string`) unless the input plainly meant one
member, whose own errors are then reported instead.

Must not print, read files, or echo input values that could be secrets: only literal
choices quote what was written, and those fields never hold credentials.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.errors import truncate
from reconciler.manifests.locating import FieldPath
from reconciler.manifests.models import (
    ConnectorSpec,
    Encrypted,
    FromAwsProfile,
    FromAwsRole,
    FromEnv,
    FromFile,
)

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}
"""What each pydantic type error expected, in words."""

_SHAPES: dict[Any, str] = {
    FromEnv: "{fromEnv: VAR}",
    FromFile: "{fromFile: path}",
    Encrypted: "{encrypted: ...}",
    FromAwsRole: "{fromAwsRole: {role_arn: ...}}",
    FromAwsProfile: "{fromAwsProfile: {profile: ...}}",
    ConnectorSpec: "an inline connector mapping",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    dict: "a mapping",
    list: "a list",
}
"""How union members are described when none of them fits."""

_NAME_RULE = (
    "use 1-128 letters, digits, '.', '_' or '-', starting and ending with a letter or digit"
)


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One readable validation problem, not yet located in a file."""

    path: FieldPath
    """Where in the document, as data keys and indexes."""
    message: str
    """What is wrong, in a sentence."""
    at_key: bool = False
    """Point at the mapping key rather than its value (unknown fields)."""


def explain_validation_error(
    exc: ValidationError, *, model: type[BaseModel], data: Any
) -> list[Finding]:
    """Readable findings for every error of `exc`, raised validating `data` as `model`."""
    entries = [_Entry(error, _walk(model, error["loc"])) for error in exc.errors(include_url=False)]
    findings = _explain(entries, level=0, data=data)
    return list(dict.fromkeys(findings))  # union branches can repeat one finding


def describe_value(value: Any) -> str:
    """`a list`, `a string`, `null`...: the YAML type of a value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: a bool is an int in Python
        return "a boolean"
    for kind in (str, int, float, dict, list):
        if isinstance(value, kind):
            return _SHAPES[kind]
    return f"a {type(value).__name__}"


# --- walking pydantic locations alongside the model --------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Union:
    prefix: FieldPath
    """The data path of the value that had to match one of the members."""
    members: tuple[Any, ...]
    chosen: Any
    """The member whose error this is, or None when its tag was not recognised."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Walk:
    path: FieldPath
    """Pydantic's location without the union tags: a path in the data."""
    unions: tuple[_Union, ...]
    parent: Any
    """The annotation of the value holding the error's last key (for suggestions)."""
    leaf: Any
    """The annotation at the error's location."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    error: ErrorDetails
    walk: _Walk


def _walk(model: type[BaseModel], loc: Sequence[str | int]) -> _Walk:
    path: list[str | int] = []
    unions: list[_Union] = []
    current: Any = model
    parent: Any = None
    for element in loc:
        current = _unwrap(current)
        members = _union_members(current)
        if members:
            # Pydantic inserts the tried member's name (`FromEnv`, `str`) into the loc.
            chosen = _member_named(members, element)
            unions.append(_Union(tuple(path), members, chosen))
            current = chosen if chosen is not None else Any
            continue
        parent = current
        path.append(element)
        current = _child(current, element)
    return _Walk(tuple(path), tuple(unions), parent, _unwrap(current))


def _unwrap(annotation: Any) -> Any:
    """Strip `Annotated[...]` and `| None`, which add no level to pydantic's loc."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return ()
    return tuple(a for a in typing.get_args(annotation) if a is not type(None))


def _member_named(members: tuple[Any, ...], tag: str | int) -> Any:
    for member in members:
        name = getattr(typing.get_origin(member) or member, "__name__", None)
        if isinstance(tag, str) and name is not None and tag.split("[")[0] == name:
            return member
    return None


def _child(annotation: Any, element: str | int) -> Any:
    if _is_model(annotation):
        for name, field in annotation.model_fields.items():
            if element in (name, field.alias):
                return field.annotation
        return Any
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin is list and args:
        return args[0]
    return Any


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field_names(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    names.update(f.alias for f in model.model_fields.values() if f.alias)
    return names


# --- explaining --------------------------------------------------------------------


def _explain(entries: list[_Entry], *, level: int, data: Any) -> list[Finding]:
    findings: list[Finding] = []
    groups: dict[FieldPath, list[_Entry]] = {}
    for entry in entries:
        if len(entry.walk.unions) > level:
            groups.setdefault(entry.walk.unions[level].prefix, []).append(entry)
        else:
            findings.append(_explain_one(entry))
    for prefix, group in groups.items():
        findings.extend(_explain_union(prefix, group, level=level, data=data))
    return findings


def _explain_union(
    prefix: FieldPath, group: list[_Entry], *, level: int, data: Any
) -> list[Finding]:
    """One message for a failed union, or the errors of the member the input meant."""
    members = group[0].walk.unions[level].members
    value = _value_at(data, prefix)
    intended = _intended_member(members, value)
    chosen = [e for e in group if e.walk.unions[level].chosen is intended]
    if intended is not None and chosen:
        return _explain(chosen, level=level + 1, data=data)
    if FromEnv in members:
        # A credential's plain string is only an ARN under roleArn or secretArn (flavors):
        # the secret sources are what a credential expects.
        members = tuple(m for m in members if m is not str)
    expected = _either(list(dict.fromkeys(_describe_member(m) for m in members)))
    return [Finding(prefix, f"expected {expected}, got {describe_value(value)}")]


def _intended_member(members: tuple[Any, ...], value: Any) -> Any:
    """The model member a mapping plainly meant: the only model, or the only one whose
    field names it uses (`{fromEnv: ...}` meant FromEnv)."""
    if not isinstance(value, dict):
        return None
    models = [m for m in members if _is_model(m)]
    if len(models) == 1:
        return models[0]
    named = [m for m in models if set(value) & _field_names(m)]
    return named[0] if len(named) == 1 else None


def _explain_one(entry: _Entry) -> Finding:
    error, walk = entry.error, entry.walk
    kind, path = error["type"], walk.path
    if kind == "missing" and path:
        return Finding(path[:-1], f"missing required field '{path[-1]}'")
    if kind == "extra_forbidden" and path:
        return Finding(path, _unknown_field(path[-1], walk.parent), at_key=True)
    if kind in _EXPECTED:
        return Finding(path, f"expected {_EXPECTED[kind]}, got {describe_value(error['input'])}")
    if kind == "literal_error":
        return Finding(path, _literal(error, walk.leaf))
    if kind == "string_too_short" and (error.get("ctx") or {}).get("min_length") == 1:
        return Finding(path, "must not be empty")
    if kind == "string_pattern_mismatch" and path[-2:] == ("metadata", "name"):
        return Finding(path, f"not a valid name: {_NAME_RULE}")
    return Finding(path, _sentence(error["msg"]))


def _unknown_field(name: str | int, parent: Any) -> str:
    message = f"unknown field '{truncate(str(name), 60)}'"
    if _is_model(parent):
        close = difflib.get_close_matches(str(name), sorted(_field_names(parent)), n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
    return message


def _literal(error: ErrorDetails, leaf: Any) -> str:
    value = error["input"]
    expected = (error.get("ctx") or {}).get("expected", "")
    got = repr(value) if isinstance(value, str) and len(value) <= 40 else describe_value(value)
    message = f"expected {expected}, got {got}"
    choices = [str(c) for c in typing.get_args(leaf)] if typing.get_origin(leaf) is Literal else []
    if isinstance(value, str) and choices:
        close = difflib.get_close_matches(value, choices, n=1)
        if close:
            message += f"; did you mean '{close[0]}'?"
    return message


def _sentence(text: str) -> str:
    """Pydantic's message as the tail of ours: no `Value error,` prefix, lower-case start."""
    text = text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    text = text.replace("Input should", "should")
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _describe_member(member: Any) -> str:
    shape = _SHAPES.get(typing.get_origin(member) or member)
    if shape is not None:
        return shape
    if _is_model(member):
        return f"a {member.__name__} mapping"
    return str(member)


def _either(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def _value_at(data: Any, path: FieldPath) -> Any:
    for element in path:
        try:
            data = data[element]
        except (KeyError, IndexError, TypeError):
            return None
    return data
