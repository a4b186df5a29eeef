"""The plan as inert data: Action, Change, Plan, and the plan document they make.

`planning` builds a Plan; `rendering` turns it into text, JSON or Markdown; `applying`
executes it without re-planning. A Plan never holds a secret value: credentials appear
as secret markers (the reference to the source plus a keyed fingerprint), and references
to resources that may not exist yet as reference markers resolved at apply time.
Reasons explain a change to a human; they never drive apply. The saved-plan file, the
document bound to its content by a digest, is `reconciler.planfiles`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.errors import PlanError
from reconciler.findings import Finding
from reconciler.resources import Kind, ResourceKey

FORMAT_VERSION = 3
"""Version of the saved-plan and JSON plan format (docs/plan-format.md). 2 added
`manifests` and the saved file's `integrity` block (`reconciler.planfiles`); 3 added a
change's `retire_after` and the connector strategy `reregister`."""



def version_problem(version: object, *, remedy: str = "make the plan again") -> str | None:
    """Why a plan document of format `version` cannot be read, or None when it can; an
    older version's message ends with `remedy`."""
    if version == FORMAT_VERSION:
        return None
    older = isinstance(version, int) and version < FORMAT_VERSION
    why = (
        "; it was saved by an older osml, which did not record when replaced resources "
        f"are retired: {remedy}"
        if older
        else ""
    )
    return f"plan format version {version!r} is not supported (expected {FORMAT_VERSION}){why}"


SECRET_MARKER = "$secret"
STATE_ONLY_PREFIX = "lifecycle."
"""Field paths of osml's own controls, which apply records without a cluster call."""
REF_MARKER = "$ref"


class Action(enum.StrEnum):
    """What apply does to one resource. Display symbols live in rendering."""

    CREATE = "create"
    """Create the resource (and deploy a model whose `deploy_after` is set)."""
    UPDATE = "update"
    """Change it in place; for settings kinds, a cluster-settings update."""
    REPLACE = "replace"
    """Delete and create again (or swap, for connectors in use), because update cannot."""
    DELETE = "delete"
    """Delete a managed resource that left the manifests (pruning)."""
    DEPLOY = "deploy"
    """Deploy a registered model that should be deployed."""
    UNDEPLOY = "undeploy"
    """Undeploy a model whose manifest says `deployed: false`."""
    REDEPLOY = "redeploy"
    """Undeploy then deploy a model stuck in DEPLOY_FAILED, PARTIALLY_DEPLOYED or DEPLOYING."""
    ADOPT = "adopt"
    """Take an unmanaged live resource of the same name under management (may also update)."""
    PROBE = "probe"
    """Run the `lifecycle.probe` of a deployed model again: its last probe failed or never
    finished (the outcome is kept in the state record)."""
    NOOP = "noop"
    """Nothing to do; kept so views can count unchanged resources."""


class Strategy(enum.StrEnum):
    """How a change to a standalone connector reaches the models that use it (§2.9)."""

    IN_PLACE = "in_place"
    """No deployed model uses the connector: update or replace it directly."""
    SWAP = "swap"
    """Create a new connector, repoint each model with Update Model (2.12+), delete the old."""
    RECREATE = "recreate"
    """Undeploy the models, change the connector, redeploy them: downtime."""
    REREGISTER = "reregister"
    """A replace before 2.12 (no Update Model, §6.8; a referenced connector cannot be
    deleted, §2.10): create the new connector, register each model again on it (its own
    replace), and delete the old connector after the last old model is gone."""


@dataclasses.dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs between live and desired."""

    path: str
    """Dotted path such as `parameters.model` or `actions[0].url`."""
    before: Any = None
    """Live value (normalised); None when absent or sensitive."""
    after: Any = None
    """Desired value (normalised); None when removed or sensitive."""
    sensitive: bool = False
    """A credential: values are never shown, only that it changed."""

    @property
    def state_only(self) -> bool:
        """One of osml's own controls (`lifecycle.*`): kept in the state record only,
        never sent to the server."""
        return self.path.startswith(STATE_ONLY_PREFIX)


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """The one decision the planner made about one resource."""

    key: ResourceKey
    action: Action
    live_id: str | None = None
    """The server ID the change acts on (None for creates and settings)."""
    before: Mapping[str, Any] | None = None
    """The live resource, normalised, as compared; None for creates."""
    after: Mapping[str, Any] | None = None
    """The body to send, with secret and reference markers; None for deletes of documents
    (a settings delete carries the `{"settings": ...}` body that resets its keys)."""
    fields: tuple[FieldChange, ...] = ()
    reasons: tuple[str, ...] = ()
    """Why, for humans: `protocol changed (http -> aws_sigv4): replace`."""
    depends_on: tuple[ResourceKey, ...] = ()
    """Changes that must succeed first."""
    strategy: Strategy | None = None
    """For connectors used by deployed models."""
    affected: tuple[ResourceKey, ...] = ()
    """Models repointed, undeployed or redeployed as a side effect of this change, and the
    managed pipelines and agents rewired to a new ID before the old resource goes."""
    retire_after: tuple[ResourceKey, ...] = ()
    """For a replace (or swap): the changes that must finish before the old resource is
    deleted. They wait only for the new resource (their `depends_on` names this change);
    everything else that depends on this change waits for the old one to be gone too."""
    downtime: str | None = None
    """Expected downtime in words; None when there is none."""
    deploy_after: bool = False
    """For models: deploy once created, replaced or updated."""
    undeploy_first: bool = False
    """For a model update or adoption: undeploy before updating (`deployed: false`), so
    one apply does both instead of leaving the undeploy to the next run."""
    probe_after: bool = False
    """For a model update or adoption of a deployed model whose last probe failed or never
    ended: probe it again once updated, in the same apply."""
    review: tuple[str, ...] = ()
    """Security-relevant notes for the reviewer (endpoint host, access, credentials)."""
    probe: Mapping[str, Any] | None = None
    """For models: the predict body (`{"parameters": ...}`) to send once deployed."""
    lifecycle: Mapping[str, Any] | None = None
    """osml's own controls from the manifest (`prevent_destroy`), kept in the state record
    so they still hold once the manifest is gone; never sent to the server."""
    consumers: tuple[str, ...] = ()
    """For a change that deletes, re-IDs or undeploys a model (or re-IDs a connector or
    agent, deletes a pipeline): each pipeline, agent or index that uses it, managed or
    not, and what happens to it (`IngestPipeline/nlp: processors[0]...model_id: rewired
    to the new ID`)."""

    @property
    def is_change(self) -> bool:
        """Whether apply has anything to do."""
        return self.action is not Action.NOOP

    @property
    def tally(self) -> tuple[Action, ...]:
        """What the change counts as in the plan's and the apply's summaries: what runs.

        A create or update that deploys after also counts a deploy, one that undeploys
        first an undeploy; a connector swap (a new connector takes the old one's place)
        counts as a replace; an adoption that also updates counts both.
        """
        if self.action not in (Action.CREATE, Action.UPDATE, Action.ADOPT, Action.REPLACE):
            return (self.action,)
        main = self.action
        if main is not Action.REPLACE and self.strategy is Strategy.SWAP:
            main = Action.REPLACE
        elif main is Action.ADOPT and any(not f.state_only for f in self.fields):
            main = Action.UPDATE
        adopting = self.action is Action.ADOPT and main is not Action.ADOPT
        adopted = (Action.ADOPT,) if adopting else ()
        first = (Action.UNDEPLOY,) if self.undeploy_first else ()
        then = (Action.DEPLOY,) if self.deploy_after else ()
        probed = (Action.PROBE,) if self.probe_after else ()
        return (*adopted, *first, main, *then, *probed)

    @property
    def state_only(self) -> bool:
        """An update that only records a `lifecycle` change: no cluster call."""
        return (
            self.action is Action.UPDATE
            and bool(self.fields)
            and all(f.state_only for f in self.fields)
            and not (self.deploy_after or self.undeploy_first or self.probe_after)
        )


@dataclasses.dataclass(frozen=True, slots=True)
class ClusterIdentity:
    """Which cluster a plan was made against."""

    url: str
    version: str
    cluster_name: str = ""
    cluster_uuid: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """An ordered tuple of Changes, plus what is needed to check it is still current."""

    changes: tuple[Change, ...]
    """In execution order; every change comes after the changes it depends on."""
    cluster: ClusterIdentity
    token: str
    """The snapshot's staleness token (Snapshot.token())."""
    orphans: tuple[Change, ...] = ()
    """Managed resources that left the manifests but are not planned for deletion
    (pruning off, or `prevent_destroy`): reported, never executed."""
    warnings: tuple[str, ...] = ()
    prune: bool = False
    targets: tuple[ResourceKey, ...] = ()
    created_at: str = ""
    osml_version: str = ""
    manifests: tuple[str, ...] = ()
    """The manifest paths the plan was made from, as given (relative where they were):
    where `osml apply PLANFILE` reads the secrets unless told otherwise."""
    findings: tuple[Finding, ...] = ()
    """What the policy rules found (`reconciler.policy`); recorded in a saved plan, whose
    digest covers them, so `osml apply PLANFILE` refuses one with an error finding."""
    environment: str | None = None
    """The environment file the plan was made for (`--env`), read again by `osml apply
    PLANFILE`; None without one."""

    @property
    def has_changes(self) -> bool:
        """Whether apply would do anything (drives `--detailed-exitcode`)."""
        return any(c.is_change for c in self.changes)

    def counts(self) -> Counter[Action]:
        """What the plan's changes count as (`Change.tally`), by action; the apply's
        summary counts the same things."""
        return Counter(action for c in self.changes for action in c.tally)

    def get(self, key: ResourceKey) -> Change | None:
        """The change planned for one resource, if any."""
        return next((c for c in self.changes if c.key == key), None)

    # --- the plan document ---------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this plan (docs/plan-format.md)."""
        return {
            "format_version": FORMAT_VERSION,
            "osml_version": self.osml_version,
            "created_at": self.created_at,
            "cluster": dataclasses.asdict(self.cluster),
            "token": self.token,
            "prune": self.prune,
            "targets": [str(t) for t in self.targets],
            "manifests": list(self.manifests),
            **({"environment": self.environment} if self.environment else {}),
            "warnings": list(self.warnings),
            "changes": [_change_to_dict(c) for c in self.changes],
            "orphans": [_change_to_dict(c) for c in self.orphans],
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Read a plan document; PlanError when it is not one this osml understands."""
        problem = version_problem(data.get("format_version"))
        if problem is not None:
            raise PlanError(problem)
        try:
            return cls(
                changes=tuple(_change_from_dict(c) for c in data["changes"]),
                orphans=tuple(_change_from_dict(c) for c in data.get("orphans", [])),
                cluster=ClusterIdentity(**data["cluster"]),
                token=str(data["token"]),
                warnings=tuple(data.get("warnings", [])),
                prune=bool(data.get("prune", False)),
                targets=tuple(ResourceKey.parse(t) for t in data.get("targets", [])),
                created_at=str(data.get("created_at", "")),
                osml_version=str(data.get("osml_version", "")),
                manifests=tuple(str(p) for p in data.get("manifests", [])),
                findings=tuple(Finding.from_dict(f) for f in data.get("findings", [])),
                environment=str(data["environment"]) if data.get("environment") else None,
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise PlanError(f"not a valid osml plan: {exc}") from exc


# --- markers -------------------------------------------------------------------------


def secret_marker(source: Mapping[str, str], fingerprint: str | None) -> dict[str, Any]:
    """The stand-in for a credential value inside `Change.after`."""
    return {SECRET_MARKER: dict(source), "fingerprint": fingerprint}


def is_secret_marker(value: Any) -> bool:
    """Whether a body value is a secret marker."""
    return isinstance(value, Mapping) and SECRET_MARKER in value


def ref_marker(key: ResourceKey) -> dict[str, str]:
    """The stand-in for the ID of a managed resource, resolved at apply time."""
    return {REF_MARKER: str(key)}


def ref_target(value: Any) -> ResourceKey | None:
    """The resource a reference marker points at, or None if `value` is not one."""
    if isinstance(value, Mapping) and isinstance(value.get(REF_MARKER), str):
        return ResourceKey.parse(value[REF_MARKER])
    return None


def references_in(value: Any, path: str = "") -> Iterator[tuple[str, ResourceKey]]:
    """Every reference marker in a body, depth first, with its path
    (`processors[0].text_embedding.model_id`)."""
    target = ref_target(value)
    if target is not None:
        yield path, target
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from references_in(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from references_in(item, f"{path}[{index}]")


def _change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "key": str(change.key),
        "kind": change.key.kind.value,
        "name": change.key.name,
        "action": change.action.value,
        "live_id": change.live_id,
        "before": change.before,
        "after": change.after,
        "fields": [dataclasses.asdict(f) for f in change.fields],
        "reasons": list(change.reasons),
        "depends_on": [str(k) for k in change.depends_on],
        "strategy": change.strategy.value if change.strategy else None,
        "affected": [str(k) for k in change.affected],
        "retire_after": [str(k) for k in change.retire_after],
        "downtime": change.downtime,
        "deploy_after": change.deploy_after,
        "undeploy_first": change.undeploy_first,
        "probe_after": change.probe_after,
        "review": list(change.review),
        "probe": change.probe,
        "lifecycle": change.lifecycle,
        "consumers": list(change.consumers),
    }


def _change_from_dict(data: Mapping[str, Any]) -> Change:
    return Change(
        key=ResourceKey(Kind(data["kind"]), data["name"]),
        action=Action(data["action"]),
        live_id=data.get("live_id"),
        before=data.get("before"),
        after=data.get("after"),
        fields=tuple(FieldChange(**f) for f in data.get("fields", [])),
        reasons=tuple(data.get("reasons", [])),
        depends_on=tuple(ResourceKey.parse(k) for k in data.get("depends_on", [])),
        strategy=Strategy(data["strategy"]) if data.get("strategy") else None,
        affected=tuple(ResourceKey.parse(k) for k in data.get("affected", [])),
        retire_after=tuple(ResourceKey.parse(k) for k in data.get("retire_after", [])),
        downtime=data.get("downtime"),
        deploy_after=bool(data.get("deploy_after", False)),
        undeploy_first=bool(data.get("undeploy_first", False)),
        probe_after=bool(data.get("probe_after", False)),
        review=tuple(data.get("review", [])),
        probe=data.get("probe"),
        lifecycle=data.get("lifecycle"),
        consumers=tuple(data.get("consumers", [])),
    )
