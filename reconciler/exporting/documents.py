"""What an export is made of: documents with their comments, credential variables, notes.

A kind exporter turns part of a live Snapshot into `Exported` documents; `Context` gives
it what every exporter shares (the snapshot, the version, the manifest names of every
exported resource so references read by name, and the registry of credential variables).
Data and small helpers only: no I/O, no YAML text (that is `writing`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap

from reconciler.cluster.snapshots import Snapshot
from reconciler.manifests.models import ADOPT_ANNOTATION, API_VERSION
from reconciler.mlcommons.settings import PREFIX
from reconciler.mlcommons.versions import Version
from reconciler.resources import Kind, ResourceKey


@dataclasses.dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable a credential of the export reads (`fromEnv`)."""

    name: str
    resource: ResourceKey
    path: str
    """The credential's field, `credential.openAI_key` or `connector.credential.x`."""


@dataclasses.dataclass(frozen=True, slots=True)
class Exported:
    """One manifest document, ready to be written."""

    key: ResourceKey
    document: CommentedMap
    header: str
    """The comment above the document: where it came from."""
    folder: str
    """The folder of the export the file goes to (`connectors`, `settings`, ...)."""


@dataclasses.dataclass
class Context:
    """What every kind exporter reads and adds to."""

    snapshot: Snapshot
    version: Version
    kinds: frozenset[Kind]
    """The kinds being exported: references to other kinds stay raw IDs."""
    names: Mapping[Kind, Mapping[str, str]]
    """Per document kind: live ID -> `metadata.name`."""
    variables: list[Variable] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    """What the README should tell: fields left out, settings not exported."""
    taken_variables: set[str] = dataclasses.field(default_factory=set)

    def name_of(self, kind: Kind, live_id: Any) -> str | None:
        """The exported manifest name of a live ID, if that resource is exported."""
        if kind not in self.kinds or not isinstance(live_id, str):
            return None
        return self.names.get(kind, {}).get(live_id)


def envelope(kind: Kind, name: str, *, live_id: str | None = None) -> CommentedMap:
    """`apiVersion`, `kind` and `metadata` (with the adoption annotation for documents)."""
    metadata = CommentedMap(name=name)
    if live_id is not None:
        metadata["annotations"] = CommentedMap({ADOPT_ANNOTATION: live_id})
    return CommentedMap(apiVersion=API_VERSION, kind=kind.value, metadata=metadata)


def commented(values: Mapping[str, Any], comments: Mapping[str, str]) -> CommentedMap:
    """A mapping with an end-of-line comment on some of its keys."""
    result = CommentedMap(values)
    for key, text in comments.items():
        if key in result:
            result.yaml_add_eol_comment(text, key)
    return result


def quoted(name: str | None) -> str:
    """A server name in double quotes, for headers and notes."""
    return '"' + (name or "").replace('"', '\\"') + '"'


def access_control_on(ctx: Context, flag: str) -> bool:
    """Whether an access-control flag is on, as the cluster has it (default off, §9)."""
    value = ctx.snapshot.settings.get(PREFIX + flag)
    return str(value).lower() == "true"
