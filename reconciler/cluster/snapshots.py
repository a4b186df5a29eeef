"""What osml knows of a cluster at one moment: the live snapshot and the state records.

Data only, no I/O. `cluster.reading` fills a Snapshot with a handful of requests;
`planning` consumes it without ever calling the network; a saved plan keeps the
snapshot's `token()` so that apply can refuse when the cluster moved on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from reconciler.resources import ResourceKey

RecordStatus = Literal["intent", "managed"]
ProbeOutcome = Literal["pending", "passed", "failed"]


@dataclasses.dataclass(frozen=True, slots=True)
class LiveObject:
    """One connector, model group, model, pipeline or agent as the server returned it."""

    id: str
    """The server's `_id`."""
    source: Mapping[str, Any]
    """The `_source` of the search hit (credentials are never included, §2.8)."""
    seq_no: int | None = None
    primary_term: int | None = None

    @property
    def name(self) -> str | None:
        """The server-side `name`, which need not be unique (§1.2)."""
        value = self.source.get("name")
        return value if isinstance(value, str) else None

    @property
    def model_state(self) -> str | None:
        """`model_state` for models (§6.6); None for other kinds."""
        value = self.source.get("model_state")
        return value if isinstance(value, str) else None


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeResult:
    """How the last `lifecycle.probe` of a deployed model ended (a predict, §8.1).

    Kept in the model's state record so that a probe that failed, or never finished,
    is planned again instead of being forgotten. Never holds the predict's payload.
    """

    outcome: ProbeOutcome
    """`pending`: a deploy that is to be probed started and no probe ended since;
    `passed`: the model answered 2xx; `failed`: it did not."""
    at: str
    """ISO-8601 time the outcome was recorded."""
    failures: int = 0
    """Probes failed in a row (0 after a pass); `lifecycle.probe.redeploy_after` counts
    these."""
    error: str = ""
    """Why the last probe failed, scrubbed of secret values and cut short."""

    def to_dict(self) -> dict[str, Any]:
        """The `probe` object of a state document (docs/state.md)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ProbeResult | None:
        """A stored `probe` object; None when absent or not one this osml wrote."""
        if not isinstance(data, Mapping) or data.get("outcome") not in _OUTCOMES:
            return None
        failures = data.get("failures", 0)
        return cls(
            outcome=data["outcome"],
            at=str(data.get("at", "")),
            failures=failures if isinstance(failures, int) and failures >= 0 else 0,
            error=str(data.get("error", "")),
        )


_OUTCOMES = ("pending", "passed", "failed")


@dataclasses.dataclass(frozen=True, slots=True)
class StateRecord:
    """osml's memory of one managed resource, one document in the state index."""

    key: ResourceKey
    status: RecordStatus
    """`intent`: a create was about to be sent (the ID may be unknown); `managed`: done."""
    id: str | None
    """The live ID; None for settings kinds and for intents whose create never answered."""
    spec_hash: str
    """Hash of the last applied desired body (secrets as fingerprints)."""
    applied: Mapping[str, Any]
    """The fields osml last applied, normalised, credentials as fingerprints."""
    fingerprints: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Credential key -> HMAC-SHA256 fingerprint of the value last sent."""
    leases: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    """Credential prefix (`credential`, `connector.credential`) -> the lease of the minted
    keys last sent there (`secrets.leases.Lease.to_dict`: source, issued, expires)."""
    updated_at: str = ""
    """ISO-8601 time of the last write of this record."""
    probe: ProbeResult | None = None
    """For models with `lifecycle.probe`: how the last probe ended."""
    seq_no: int | None = None
    primary_term: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LockInfo:
    """The holder of the state lock, as read from the state index."""

    holder: str
    """Who holds it: `user@host:pid` plus a random suffix."""
    lock_id: str
    """The ID to pass to `osml lock force-unlock`."""
    operation: str
    """`apply` or `watch`."""
    acquired_at: str
    expires_at: str


@dataclasses.dataclass(frozen=True, slots=True)
class StateSnapshot:
    """Every state record plus the state index's own metadata."""

    records: Mapping[ResourceKey, StateRecord] = dataclasses.field(default_factory=dict)
    exists: bool = False
    """Whether the state index exists yet (it is created on the first apply)."""
    fingerprint_key: bytes | None = dataclasses.field(default=None, repr=False)
    """The random HMAC key kept in the state index; never serialised into a plan."""
    lock: LockInfo | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """The live cluster as read for one plan."""

    version: str
    """The server version number, such as `2.19.1`."""
    cluster_name: str = ""
    cluster_uuid: str = ""
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Effective `plugins.ml_commons.*` settings (flat keys, defaults included)."""
    explicit_settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Only the persistent and transient values (flat keys); absent means default."""
    connectors: tuple[LiveObject, ...] = ()
    model_groups: tuple[LiveObject, ...] = ()
    models: tuple[LiveObject, ...] = ()
    """Remote, non-hidden models only."""
    ingest_pipelines: tuple[LiveObject, ...] = ()
    """Every ingest pipeline: the ID, and the body as stored (CONS §1.2)."""
    search_pipelines: tuple[LiveObject, ...] = ()
    """Every search pipeline (CONS §2.2)."""
    agents: tuple[LiveObject, ...] = ()
    """Every agent (2.12+, CONS §4.3)."""
    index_pipelines: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    """Index -> the pipeline settings it sets (`index.default_pipeline` ...), flat keys;
    only indices that set one (CONS §3.1)."""
    unread: tuple[str, ...] = ()
    """Consumer kinds the cluster would not let osml read, with why (the agent framework
    switched off, CONS §4.1): their consumers are unknown, not absent."""
    state: StateSnapshot = dataclasses.field(default_factory=StateSnapshot)
    requests: int = 0
    """How many HTTP requests reading this snapshot took."""

    def token(self) -> str:
        """A staleness token: changes whenever anything a plan depends on changes."""
        payload = {
            "version": self.version,
            "cluster": self.cluster_uuid,
            "settings": self.explicit_settings,
            "objects": [
                [kind, o.id, o.seq_no, o.primary_term, o.source.get("model_state")]
                for kind, objects in (
                    ("connector", self.connectors),
                    ("model_group", self.model_groups),
                    ("model", self.models),
                    ("agent", self.agents),
                )
                for o in sorted(objects, key=lambda o: o.id)
            ],
            # Pipelines have no `_seq_no`: their bodies are the token.
            "pipelines": [
                [kind, o.id, o.source]
                for kind, objects in (
                    ("ingest", self.ingest_pipelines),
                    ("search", self.search_pipelines),
                )
                for o in sorted(objects, key=lambda o: o.id)
            ],
            "index_pipelines": self.index_pipelines,
            "state": sorted(
                [str(r.key), r.status, r.id, r.spec_hash, r.seq_no, r.primary_term]
                for r in self.state.records.values()
            ),
        }
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
