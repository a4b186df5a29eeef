"""Export the model consumers: ingest pipelines, search pipelines and agents.

A pipeline's manifest name is its ID (CONS §1.1, §2.1), so a pipeline whose ID is no valid
`metadata.name` cannot be managed and is left out with a note. Agents get names like the
other kinds with server names (`naming`). In a body, every string that is the live ID of an
exported model, connector or agent becomes `{ref: Kind/NAME}`, wherever it stands (CONS
§5-§6), so the next plan reads it as the reference it is and rewires it on a swap; other IDs
stay raw. Fields the server adds to a stored agent are dropped (CONS §4.3). Called through
the registry in `exporting`; pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.exporting.documents import Context, Exported, commented, envelope, quoted
from reconciler.manifests.models import NAME_PATTERN
from reconciler.manifests.references import REF, REFERABLE
from reconciler.mlcommons.consumers import AGENT_SERVER_FIELDS
from reconciler.resources import Kind, ResourceKey

_VALID = re.compile(NAME_PATTERN)
FOLDERS = {
    Kind.INGEST_PIPELINE: "ingest-pipelines",
    Kind.SEARCH_PIPELINE: "search-pipelines",
    Kind.AGENT: "agents",
}
_FIELDS = {Kind.INGEST_PIPELINE: "ingest_pipelines", Kind.SEARCH_PIPELINE: "search_pipelines"}
_WORDS = {Kind.INGEST_PIPELINE: "Ingest pipeline", Kind.SEARCH_PIPELINE: "Search pipeline"}


class PipelineExporter:
    """IngestPipeline or SearchPipeline manifests, one per pipeline."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind

    def export(self, ctx: Context) -> list[Exported]:
        """Every pipeline of the kind whose ID is a valid manifest name, in ID order."""
        found = []
        for obj in getattr(ctx.snapshot, _FIELDS[self.kind]):
            if not _VALID.fullmatch(obj.id):
                ctx.notes.append(
                    f"{_WORDS[self.kind]} {quoted(obj.id)} is not exported: its ID is not a "
                    "valid manifest name, and a pipeline's manifest name is its ID"
                )
                continue
            document = envelope(self.kind, obj.id)
            document["spec"] = commented(references(obj.source, ctx), {})
            header = f"{_WORDS[self.kind]} {quoted(obj.id)}"
            key = ResourceKey(self.kind, obj.id)
            found.append(Exported(key, document, header, FOLDERS[self.kind]))
        return sorted(found, key=lambda e: e.key)


class AgentExporter:
    """Agent manifests, one per agent."""

    kind = Kind.AGENT

    def export(self, ctx: Context) -> list[Exported]:
        """Every agent of the snapshot, in name order."""
        found = []
        for obj in ctx.snapshot.agents:
            name = ctx.names[Kind.AGENT][obj.id]
            document = envelope(Kind.AGENT, name, live_id=obj.id)
            body = {k: v for k, v in obj.source.items() if k not in AGENT_SERVER_FIELDS}
            document["spec"] = commented(references(body, ctx), {})
            header = f"Agent {quoted(obj.name)} ({obj.id})"
            found.append(Exported(ResourceKey(Kind.AGENT, name), document, header, "agents"))
        return sorted(found, key=lambda e: e.key)


def references(value: Any, ctx: Context) -> Any:
    """`value` with each live ID of an exported model, connector or agent as a reference."""
    if isinstance(value, str):
        for kind in REFERABLE:
            name = ctx.name_of(kind, value)
            if name is not None:
                return {REF: f"{kind.value}/{name}"}
        return value
    if isinstance(value, Mapping):
        return {k: references(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [references(v, ctx) for v in value]
    return value
