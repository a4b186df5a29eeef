"""`osml export`: write manifests for what a live cluster holds, so osml can adopt it.

`export_snapshot(snapshot, kinds=...)` turns one live Snapshot (read once by the CLI with
`cluster.reading`) into files: a manifest per resource under a folder per kind, and a
README listing the credential variables the manifests read (never values: the server does
not return them, §2.7). Each kind has its exporter in `EXPORTERS`, a registry the
consumer kinds are in `exporting.consumers`. Each document carries the live ID in the
`osml/adopt-id` annotation, so the next plan adopts exactly that resource even where
server names are not unique (§1.2). Output is deterministic: the same cluster gives the
same bytes.

Pure: no I/O (the CLI writes the files); never sees a secret.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Protocol

from reconciler.cluster.snapshots import Snapshot, StateRecord
from reconciler.exporting.connectors import ConnectorExporter
from reconciler.exporting.consumers import AgentExporter, PipelineExporter
from reconciler.exporting.documents import Context, Exported, Variable
from reconciler.exporting.groups import ModelGroupExporter
from reconciler.exporting.models import ModelExporter
from reconciler.exporting.naming import manifest_names
from reconciler.exporting.settings import AccessControlExporter, TrustedEndpointsExporter
from reconciler.exporting.writing import file_path, readme, render
from reconciler.mlcommons.versions import Version
from reconciler.resources import Kind


class KindExporter(Protocol):
    """Turns the snapshot's resources of one kind into documents."""

    kind: Kind

    def export(self, ctx: Context) -> list[Exported]:
        """The documents of this kind, in a fixed order."""
        ...


EXPORTERS: tuple[KindExporter, ...] = (
    AccessControlExporter(),
    TrustedEndpointsExporter(),
    ModelGroupExporter(),
    ConnectorExporter(),
    ModelExporter(),
    PipelineExporter(Kind.INGEST_PIPELINE),
    PipelineExporter(Kind.SEARCH_PIPELINE),
    AgentExporter(),
)
"""Every exportable kind, in create order."""

EXPORTABLE = tuple(exporter.kind for exporter in EXPORTERS)


@dataclasses.dataclass(frozen=True, slots=True)
class Export:
    """What `osml export` writes, as text by relative path."""

    files: Mapping[str, str]
    documents: tuple[Exported, ...]
    variables: tuple[Variable, ...]
    notes: tuple[str, ...]


def export_snapshot(snapshot: Snapshot, *, kinds: Iterable[Kind] = EXPORTABLE) -> Export:
    """The export of `snapshot` for `kinds` (all exportable kinds by default)."""
    selected = frozenset(kinds)
    version = Version.parse(snapshot.version)
    ctx = Context(snapshot, version, selected, names=_names(snapshot))
    documents = tuple(
        document
        for exporter in EXPORTERS
        if exporter.kind in selected
        for document in exporter.export(ctx)
    )
    files = {file_path(document): render(document, snapshot=snapshot) for document in documents}
    files["README.md"] = readme(snapshot, documents, ctx.variables, ctx.notes)
    return Export(dict(sorted(files.items())), documents, tuple(ctx.variables), tuple(ctx.notes))


def _names(snapshot: Snapshot) -> dict[Kind, dict[str, str]]:
    """Manifest names of every document resource, exported or not (names stay stable
    whichever kinds are chosen)."""
    records: dict[str, StateRecord] = {
        record.id: record for record in snapshot.state.records.values() if record.id
    }
    return {
        Kind.CONNECTOR: manifest_names(snapshot.connectors, kind=Kind.CONNECTOR, records=records),
        Kind.MODEL_GROUP: manifest_names(
            snapshot.model_groups, kind=Kind.MODEL_GROUP, records=records
        ),
        Kind.MODEL: manifest_names(snapshot.models, kind=Kind.MODEL, records=records),
        Kind.AGENT: manifest_names(snapshot.agents, kind=Kind.AGENT, records=records),
    }
