"""Builds the JSON Schema (draft 2020-12) of the manifest format from the pydantic models.

Called by `osml schema`; editors use the result (through yaml-language-server) to complete
and check manifests as they are typed. The schema is a `oneOf` of the eight kinds told apart
by `kind`. Descriptions come from the models' docstrings: pydantic takes the class
docstrings itself, and the field docstrings (the string under each field) are read here
from the source, so the models stay the one place where a field is explained.

The schema only describes shape, like the models: version rules and references between
resources are for `osml validate`. Nothing here reads manifests or writes files.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from typing import Any

from pydantic import BaseModel, TypeAdapter

from reconciler.manifests import models

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:osml:schema:manifest:v1"
"""A stable identifier; editors find the schema by path or URL, not by this id."""

_ENVELOPE = {
    "apiVersion": "The manifest format version; always `osml/v1`.",
    "kind": "What the document declares: Connector, ModelGroup, Model, TrustedEndpoints, "
    "AccessControl, IngestPipeline, SearchPipeline or Agent.",
    "metadata": "Identity within the repository.",
    "spec": "The ML Commons request body for this kind, with references by manifest name.",
    "lifecycle": "What osml does with the resource; never sent to the server.",
}
"""Descriptions of the envelope fields, which are the same for every kind."""


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema of one manifest document, as a JSON-ready dict."""
    generated = TypeAdapter(models.Manifest).json_schema(by_alias=True, mode="validation")
    definitions: dict[str, Any] = generated.pop("$defs", {})
    for name, definition in definitions.items():
        model = getattr(models, name, None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            _describe_fields(definition, model)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "osml manifest",
        "description": "One document of an osml manifest file: a Kubernetes-style envelope "
        "(apiVersion, kind, metadata, spec, lifecycle) around an ML Commons request body.",
        **generated,
        "$defs": definitions,
    }


def _describe_fields(definition: dict[str, Any], model: type[BaseModel]) -> None:
    """Give each property of a model's definition the docstring of its field."""
    docstrings = _field_docstrings(model)
    properties: dict[str, Any] = definition.get("properties", {})
    for name, field in model.model_fields.items():
        prop = properties.get(field.alias or name)
        if prop is None or "description" in prop:
            continue
        text = docstrings.get(name) or _ENVELOPE.get(field.alias or name)
        if text:
            prop["description"] = text


def _field_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """Field docstrings of `model` and its bases, the nearest class winning."""
    found: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if issubclass(cls, BaseModel) and cls.__module__ == models.__name__:
            found.update(_class_docstrings(cls))
    return found


@functools.cache
def _class_docstrings(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}  # no source (a frozen build): descriptions are a nicety, not a need
    body = ast.parse(source).body[0]
    if not isinstance(body, ast.ClassDef):
        return {}
    found: dict[str, str] = {}
    for statement, following in zip(body.body, body.body[1:], strict=False):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            found[statement.target.id] = inspect.cleandoc(following.value.value)
    return found
