"""Resource identity inside a manifest repository: kinds, their order, and keys.

A ResourceKey (kind, name) names a resource by its `metadata.name`; the server's random
IDs never appear here. Kind ranks give the create order (settings first, models last);
deletes run in reverse. Data only: no I/O, no imports from the rest of osml.
"""

from __future__ import annotations

import dataclasses
import enum


class Kind(enum.StrEnum):
    """The manifest kinds osml manages, in create order."""

    ACCESS_CONTROL = "AccessControl"
    """`plugins.ml_commons.*` cluster settings (reference §9)."""
    TRUSTED_ENDPOINTS = "TrustedEndpoints"
    """The trusted connector endpoint regexes (reference §3.1)."""
    MODEL_GROUP = "ModelGroup"
    """A model group (reference §5)."""
    CONNECTOR = "Connector"
    """A standalone connector (reference §2)."""
    MODEL = "Model"
    """A remote model, registered and optionally deployed (reference §6)."""
    INGEST_PIPELINE = "IngestPipeline"
    """An ingest pipeline; its processors may name models (consumers reference §1, §5.1)."""
    SEARCH_PIPELINE = "SearchPipeline"
    """A search pipeline (consumers reference §2, §5.2)."""
    AGENT = "Agent"
    """An ML Commons agent; its LLM and tools name models (consumers reference §4, §5.3)."""

    @property
    def rank(self) -> int:
        """Position in create order; deletes go in the reverse order."""
        return _RANKS[self]

    @property
    def is_setting(self) -> bool:
        """Cluster-wide singletons kept in cluster settings, not as documents."""
        return self in (Kind.ACCESS_CONTROL, Kind.TRUSTED_ENDPOINTS)

    @property
    def is_pipeline(self) -> bool:
        """Ingest and search pipelines: their ID is the user's `metadata.name`."""
        return self in (Kind.INGEST_PIPELINE, Kind.SEARCH_PIPELINE)

    @property
    def is_consumer(self) -> bool:
        """Pipelines and agents: resources that use models by ID."""
        return self in (Kind.INGEST_PIPELINE, Kind.SEARCH_PIPELINE, Kind.AGENT)


_RANKS = {kind: rank for rank, kind in enumerate(Kind)}
_BY_LOWER_NAME = {kind.value.lower(): kind for kind in Kind}
"""Kinds by lower-case name: `parse` runs for every reference of a large plan, and an
enum's member access is slow."""


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class ResourceKey:
    """The identity of a managed resource: its kind and `metadata.name`."""

    kind: Kind
    """What sort of resource this is."""
    name: str
    """The manifest's `metadata.name`, unique per kind within a repository."""

    def __str__(self) -> str:
        return f"{self.kind.value}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> ResourceKey:
        """Read `Kind/name` as written on the command line; raise ValueError if malformed."""
        kind_text, sep, name = text.partition("/")
        if not sep or not name:
            raise ValueError(f"{text!r} is not of the form KIND/NAME")
        kind = _BY_LOWER_NAME.get(kind_text.lower())
        if kind is not None:
            return cls(kind, name)
        known = ", ".join(k.value for k in Kind)
        raise ValueError(f"{kind_text!r} is not a kind; expected one of {known}")

    @property
    def sort_key(self) -> tuple[int, str]:
        """Create order: by kind rank, then name."""
        return (self.kind.rank, self.name)
