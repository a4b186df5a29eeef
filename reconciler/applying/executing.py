"""The steps of one plan change, as cluster calls and state-index writes.

`Executor.run(change)` performs exactly what the change says, in a crash-safe order:
an intent record is written before every create (so a crash between the create and
its record is resolved by adoption on the next plan, never by a duplicate), and each
mutation is followed at once by its record. Every cluster call is retried on
TransientClusterError with backoff. Register and deploy are followed by polling the
model state (reference §6.5, §6.9); a probe predict (§8.1) runs after each deploy.
Called by `applying.orchestrating` from worker threads; never decides anything itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from reconciler.applying.bodies import Materialized, SecretPath, materialize
from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import Connection
from reconciler.cluster.snapshots import StateRecord
from reconciler.cluster.state import delete_record, write_record
from reconciler.errors import (
    ApplyError,
    ClusterError,
    ClusterNotFoundError,
    TransientClusterError,
)
from reconciler.outcomes import ApplyObserver
from reconciler.plans import Action, Change, Strategy
from reconciler.resources import Kind, ResourceKey
from reconciler.retrying import Backoff, Timing, poll, retry
from reconciler.secrets import Secret

T = TypeVar("T")

DEPLOYED = "DEPLOYED"
FAILED_STATES = frozenset({"DEPLOY_FAILED", "PARTIALLY_DEPLOYED"})


class Records:
    """The state records as they stand during an apply; shared by worker threads."""

    def __init__(self, records: Mapping[ResourceKey, StateRecord]) -> None:
        self._records = dict(records)
        self._lock = threading.Lock()

    def get(self, key: ResourceKey) -> StateRecord | None:
        """The current record of `key`, if any."""
        with self._lock:
            return self._records.get(key)

    def put(self, record: StateRecord) -> None:
        """Remember a record just written."""
        with self._lock:
            self._records[record.key] = record

    def forget(self, key: ResourceKey) -> None:
        """Drop the record of a deleted resource."""
        with self._lock:
            self._records.pop(key, None)

    def claimed_ids(self) -> set[str]:
        """Every live ID some record points at."""
        with self._lock:
            return {r.id for r in self._records.values() if r.id is not None}

    def live_id(self, key: ResourceKey) -> str:
        """The live ID of a managed resource; ApplyError when it has none yet."""
        record = self.get(key)
        if record is None or record.status != "managed" or record.id is None:
            raise ApplyError(f"{key} has no live ID yet (was its create skipped or failed?)")
        return record.id


class DeployTimes:
    """How long deploys took in this apply, to wait that long before the first poll.

    Polling from the first moment costs several reads per model while the cluster is
    busy deploying (the first read is nearly always too early). Deploys of remote
    models on one cluster take about the same time, so after the first one the wait
    starts at a fraction of the shortest seen; backoff polling covers the rest.
    """

    SHARE = 0.8
    """Of the shortest deploy seen: short enough not to overshoot a faster deploy much."""

    def __init__(self) -> None:
        self._shortest: float | None = None
        self._lock = threading.Lock()

    def seen(self, seconds: float) -> None:
        """A deploy took `seconds` from its request to the first read showing it settled."""
        with self._lock:
            if self._shortest is None or seconds < self._shortest:
                self._shortest = seconds

    def first_wait(self) -> float:
        """Seconds to wait after a deploy request before reading the model's state."""
        with self._lock:
            return 0.0 if self._shortest is None else self._shortest * self.SHARE


@dataclasses.dataclass(frozen=True)
class Settings:
    """How patient an apply is."""

    deploy_timeout: float = 300.0
    """Seconds to wait for a model to reach DEPLOYED or UNDEPLOYED."""
    backoff: Backoff = dataclasses.field(default_factory=Backoff)
    """Retries of transient failures."""
    timing: Timing = dataclasses.field(default_factory=Timing)
    state_index: str = "osml-state"
    refresh_wait: float = 1.5
    """Seconds a search may lag a create (a real cluster refreshes every second, §10):
    waited before looking for a create whose answer was lost."""


class Executor:
    """Runs single changes against one cluster."""

    def __init__(
        self,
        *,
        calls: MlCalls,
        conn: Connection,
        records: Records,
        secrets: Mapping[SecretPath, Secret],
        fingerprint_key: bytes | None,
        observer: ApplyObserver,
        settings: Settings | None = None,
        parallelism: int = 10,
        guard: Callable[[], None] | None = None,
    ) -> None:
        self.calls = calls
        self.conn = conn
        self.records = records
        self.secrets = secrets
        self.fingerprint_key = fingerprint_key
        self.observer = observer
        self.settings = settings or Settings()
        self.slots = threading.BoundedSemaphore(parallelism)
        """ML Commons requests in flight; a change waiting for DEPLOYED or backing off
        holds none."""
        self.state_slots = threading.BoundedSemaphore(parallelism)
        """State-index writes in flight. They have their own bound: they load osml's own
        index, not ML Commons, and sharing the slots would make every change cost three
        turns of the pool instead of one (the apply benchmark, docs/performance.md)."""
        self.deploys = DeployTimes()
        self.guard = guard or _unguarded
        """Raises (LockError) once this run may no longer act: called before every
        request, so a run whose lock was taken over stops instead of racing the new
        holder."""

    def run(self, change: Change) -> str | None:
        """Perform `change`; the resource's live ID afterwards (None for settings)."""
        if change.key.kind.is_setting:
            self._settings(change)
            return None
        handler = _HANDLERS[change.action]
        return handler(self, change)

    # --- building blocks -------------------------------------------------------------

    def request(self, call: Callable[[], T]) -> T:
        """Run one request while holding a slot, so at most `parallelism` are in flight."""
        with self.slots:
            self.guard()
            return call()

    def bookkeeping(self, call: Callable[[], T]) -> T:
        """Run one state-index write while holding a state slot."""
        with self.state_slots:
            self.guard()
            return call()

    def retried(self, call: Callable[[], T]) -> T:
        """`call` retried on transient failures, each attempt in its own slot."""
        return retry(
            lambda: self.request(call), backoff=self.settings.backoff, timing=self.settings.timing
        )

    def body(self, change: Change) -> Materialized:
        """The change's `after` with IDs and secret values in place."""
        if change.after is None:
            raise ApplyError(f"{change.key}: the plan holds no body for {change.action}")
        return materialize(
            change.after,
            key=change.key,
            resolve_id=self.records.live_id,
            secrets=self.secrets,
            fingerprint_key=self.fingerprint_key,
        )

    def intent(self, change: Change) -> bool:
        """Record that a create is about to be sent, before sending it.

        The intent keeps the ID being replaced (if any) and what was applied before, so
        a crash right after the create leaves enough for the next plan to adopt the new
        resource instead of creating a duplicate. Returns whether the record was already
        an intent: an earlier run was cut short around this very create, which may have
        happened (the caller then looks for it before creating).
        """
        current = self.records.get(change.key)
        interrupted = current is not None and current.status == "intent"
        intent = StateRecord(
            key=change.key,
            status="intent",
            id=change.live_id,
            spec_hash=current.spec_hash if current else "",
            applied=current.applied if current else {},
            fingerprints=current.fingerprints if current else {},
        )
        stored = self.bookkeeping(
            lambda: write_record(
                self.conn, intent, expected=current, index=self.settings.state_index
            )
        )
        self.records.put(stored)
        return interrupted

    def record(self, change: Change, live_id: str | None, body: Materialized) -> None:
        """Write the managed record of what was just applied."""
        applied = dict(body.recordable)
        if change.lifecycle is not None:
            applied["lifecycle"] = dict(change.lifecycle)
        record = StateRecord(
            key=change.key,
            status="managed",
            id=live_id,
            spec_hash=body.spec_hash,
            applied=applied,
            fingerprints=body.fingerprints,
        )
        expected = self.records.get(change.key)
        stored = self.bookkeeping(
            lambda: write_record(
                self.conn, record, expected=expected, index=self.settings.state_index
            )
        )
        self.records.put(stored)

    def forget(self, key: ResourceKey) -> None:
        """Delete the record of a resource that no longer exists."""
        current = self.records.get(key)
        if current is not None:
            self.bookkeeping(
                lambda: delete_record(self.conn, current, index=self.settings.state_index)
            )
        self.records.forget(key)

    # --- settings --------------------------------------------------------------------

    def _settings(self, change: Change) -> None:
        """Settings kinds live in cluster settings (§9), not in documents.

        `after["settings"]` is the persistent-settings body (None resets a key to its
        default); the rest of `after` is what the next plan needs and goes to the record.
        """
        body = self.body(change)
        persistent = body.body.get("settings", {})
        if persistent:
            self.retried(lambda: self.calls.put_cluster_settings(persistent))
        if change.action is Action.DELETE:
            self.forget(change.key)
        else:
            self.record(change, None, body)


# --- per action --------------------------------------------------------------------------


def _create(ex: Executor, change: Change) -> str:
    body = ex.body(change)
    interrupted = ex.intent(change)
    new_id = _create_call(ex, change, body.body, look_first=interrupted)
    ex.record(change, new_id, body)
    if change.deploy_after:
        _deploy(ex, change, new_id)
    return new_id


def _create_call(
    ex: Executor, change: Change, body: dict[str, Any], *, look_first: bool = False
) -> str:
    """Create, retrying transient failures without ever creating twice.

    A create whose answer was lost (a reset, a 502 or 504 after the server acted) may
    have happened. Before each retry the resource is looked up by name among the live
    resources no record claims; one found is the lost create's, and is adopted. With
    `look_first` (an earlier run died around this create) the lookup also comes before
    the first attempt: a replace or swap keeps the old resource live under the same
    name, so the plan paired the old one and only this lookup finds the new one.
    """
    if look_first:
        found = ex.retried(lambda: _unclaimed_by_name(ex, change, str(body.get("name"))))
        if found is not None:
            return found
    attempts = ex.settings.backoff.attempts
    delays = ex.settings.backoff.delays(ex.settings.timing.rng)
    for attempt in range(1, attempts + 1):
        try:
            return ex.request(lambda: _send_create(ex, change, body))
        except TransientClusterError:
            if attempt == attempts:
                raise
            # Searches lag creates by up to a refresh interval (§1.5, §10): wait that out.
            ex.settings.timing.sleep(max(next(delays), ex.settings.refresh_wait))
            found = ex.retried(lambda: _unclaimed_by_name(ex, change, str(body.get("name"))))
            if found is not None:
                return found
    raise AssertionError("unreachable")  # pragma: no cover


def _send_create(ex: Executor, change: Change, body: dict[str, Any]) -> str:
    subject = str(change.key)
    if change.key.kind is Kind.CONNECTOR:
        return ex.calls.create_connector(body, subject=subject)
    if change.key.kind is Kind.MODEL_GROUP:
        return ex.calls.register_model_group(body, subject=subject)
    return ex.calls.register_model(body, subject=subject, timeout=ex.settings.deploy_timeout)


def _unclaimed_by_name(ex: Executor, change: Change, name: str) -> str | None:
    query: dict[str, Any] = {"bool": {"filter": [{"term": {"name.keyword": name}}]}}
    search = {
        Kind.CONNECTOR: ex.calls.search_connectors,
        Kind.MODEL_GROUP: ex.calls.search_model_groups,
        Kind.MODEL: ex.calls.search_models,
    }[change.key.kind]
    if change.key.kind is Kind.MODEL:
        query["bool"]["filter"].append({"term": {"algorithm": "REMOTE"}})
    hits = search({"query": query, "size": 100, "_source": False})["hits"]["hits"]
    claimed = ex.records.claimed_ids()
    unclaimed = [str(h["_id"]) for h in hits if h["_id"] not in claimed]
    return unclaimed[0] if len(unclaimed) == 1 else None


def _update(ex: Executor, change: Change) -> str:
    live_id = _require_id(change)
    if change.key.kind is Kind.CONNECTOR and change.strategy is Strategy.SWAP:
        return _swap(ex, change)
    body = ex.body(change)
    if change.action is Action.UPDATE or change.fields:
        if change.strategy is Strategy.RECREATE:
            _recreate(ex, change, lambda: _update_call(ex, change, live_id, body.body))
        else:
            ex.retried(lambda: _update_call(ex, change, live_id, body.body))
    ex.record(change, live_id, body)
    if change.deploy_after:
        _deploy(ex, change, live_id)
    return live_id


def _update_call(ex: Executor, change: Change, live_id: str, body: dict[str, Any]) -> Any:
    subject = str(change.key)
    if change.key.kind is Kind.CONNECTOR:
        return ex.calls.update_connector(live_id, body, subject=subject)
    if change.key.kind is Kind.MODEL_GROUP:
        return ex.calls.update_model_group(live_id, body, subject=subject)
    return ex.calls.update_model(live_id, body, subject=subject)


def _replace(ex: Executor, change: Change) -> str:
    if change.key.kind is Kind.CONNECTOR:
        return _replace_connector(ex, change)
    old_id = _require_id(change)
    if change.key.kind is Kind.MODEL_GROUP:
        # Group names are unique (§5.3): the old group must go before the new one exists.
        subject = str(change.key)
        _gone_ok(lambda: ex.retried(lambda: ex.calls.delete_model_group(old_id, subject=subject)))
        return _create(ex, dataclasses.replace(change, live_id=None))
    # A model: the new one is registered and deployed before the old one goes, so the
    # name keeps answering (models may share names, §1.2). The record moves to the new
    # ID only once the old one is gone: until then the intent keeps the old ID, so a run
    # cut short in between finishes the job instead of leaving the old model behind.
    body = ex.body(change)
    interrupted = ex.intent(change)
    new_id = _create_call(ex, change, body.body, look_first=interrupted)
    if change.deploy_after:
        _deploy(ex, change, new_id)
    _remove_model(ex, change, old_id)
    ex.record(change, new_id, body)
    return new_id


def _replace_connector(ex: Executor, change: Change) -> str:
    """A connector that update cannot change (§1.5): a new one takes its place."""
    if change.strategy is not Strategy.RECREATE:
        return _swap(ex, change)
    if not ex.calls.capabilities.update_model:
        return _replace_before_update_model(ex, change)
    # `recreate` asked for: the models stop answering while their connector changes.
    deployed = [(m, i) for m, i in _affected(ex, change) if _is_deployed(ex, i)]
    for model, model_id in deployed:
        _undeploy_and_wait(ex, change, model_id, subject=str(model))
    new_id = _swap(ex, change)
    for model, model_id in deployed:
        _deploy(ex, change, model_id, subject=str(model))
    return new_id


def _replace_before_update_model(ex: Executor, change: Change) -> str:
    """Before 2.12 no model can be repointed (§6.8) and a referenced connector cannot be
    deleted (§2.10): the models using it go first; their own replace changes, which
    depend on this one, register them again on the new connector."""
    old_id = _require_id(change)
    for model, model_id in _affected(ex, change):
        ex.observer.on_wait(change, f"removing {model}; it is registered again afterwards")
        _remove_model(ex, change, model_id, subject=str(model))
    _gone_ok(lambda: ex.retried(lambda: ex.calls.delete_connector(old_id, subject=str(change.key))))
    return _create(ex, dataclasses.replace(change, live_id=None))


def _gone_ok(call: Callable[[], Any]) -> None:
    """Run a delete-like call; the target already being gone is success."""
    with contextlib.suppress(ClusterNotFoundError):
        call()


def _swap(ex: Executor, change: Change) -> str:
    """A new connector, every model repointed to it (§6.8), then the old one deleted.

    The record moves to the new ID last: while the intent holds the old ID, a run cut
    short anywhere in between (a crash, a failed delete) is finished by the next one,
    which finds the new connector by name, and the old one is never left behind.
    """
    old_id = _require_id(change)
    body = ex.body(change)
    interrupted = ex.intent(change)
    new_id = _create_call(ex, change, body.body, look_first=interrupted)
    for model in change.affected:
        ex.observer.on_wait(change, f"repointing {model} to the new connector")
        _repoint(ex, model, connector_id=new_id)
    _gone_ok(lambda: ex.retried(lambda: ex.calls.delete_connector(old_id, subject=str(change.key))))
    ex.record(change, new_id, body)
    return new_id


def _repoint(ex: Executor, model: ResourceKey, *, connector_id: str) -> None:
    """Point a model at `connector_id`; a model pruned by this same apply is skipped."""
    record = ex.records.get(model)
    if record is None or record.id is None:
        return  # deleted meanwhile: a pruned model that used the old connector
    model_id, body = record.id, {"connector_id": connector_id}
    _gone_ok(lambda: ex.retried(lambda: ex.calls.update_model(model_id, body, subject=str(model))))


def _recreate(ex: Executor, change: Change, apply: Callable[[], Any]) -> None:
    """Undeploy the deployed models using a connector, change it, deploy them again (§2.9)."""
    deployed = [
        (m, model_id) for m, model_id in _affected(ex, change) if _is_deployed(ex, model_id)
    ]
    for model, model_id in deployed:
        ex.observer.on_wait(change, f"undeploying {model} for the connector update")
        _undeploy_and_wait(ex, change, model_id, subject=str(model))
    ex.retried(apply)
    for model, model_id in deployed:
        ex.observer.on_wait(change, f"redeploying {model}")
        _deploy(ex, change, model_id, subject=str(model))


def _affected(ex: Executor, change: Change) -> list[tuple[ResourceKey, str]]:
    return [(m, ex.records.live_id(m)) for m in change.affected]


def _is_deployed(ex: Executor, model_id: str) -> bool:
    model = ex.retried(lambda: ex.calls.get_model(model_id))
    return model.get("model_state") in (DEPLOYED, "DEPLOYING", "PARTIALLY_DEPLOYED")


def _delete(ex: Executor, change: Change) -> None:
    """Delete a resource and its record; one already gone (a crash between the delete
    and the record's removal, a lost answer) only loses its record."""
    live_id = change.live_id
    subject = str(change.key)
    if live_id is None:
        pass  # an interrupted create's intent: nothing was ever recorded as live
    elif change.key.kind is Kind.MODEL:
        _remove_model(ex, change, live_id)
    elif change.key.kind is Kind.CONNECTOR:
        _gone_ok(lambda: ex.retried(lambda: ex.calls.delete_connector(live_id, subject=subject)))
    else:
        _gone_ok(lambda: ex.retried(lambda: ex.calls.delete_model_group(live_id, subject=subject)))
    ex.forget(change.key)


def _remove_model(
    ex: Executor, change: Change, model_id: str, *, subject: str | None = None
) -> None:
    """Undeploy and delete a model; one already gone (a re-run, a lost answer) is fine."""
    who = subject or str(change.key)
    try:
        _undeploy_and_wait(ex, change, model_id, subject=who)
    except ClusterNotFoundError:
        return
    _gone_ok(lambda: ex.retried(lambda: ex.calls.delete_model(model_id, subject=who)))


def _deploy_change(ex: Executor, change: Change) -> str:
    live_id = _require_id(change)
    if change.action is Action.REDEPLOY:
        _undeploy_and_wait(ex, change, live_id, subject=str(change.key))
    _deploy(ex, change, live_id)
    return live_id


def _undeploy_change(ex: Executor, change: Change) -> str:
    live_id = _require_id(change)
    _undeploy_and_wait(ex, change, live_id, subject=str(change.key))
    return live_id


def _deploy(ex: Executor, change: Change, model_id: str, *, subject: str | None = None) -> None:
    """Deploy, wait for DEPLOYED (§6.9), then run the probe (§8.1)."""
    who = subject or str(change.key)
    ex.retried(lambda: ex.calls.deploy_model(model_id, subject=who))
    ex.observer.on_wait(change, "waiting for DEPLOYED")
    state = _await_settled(ex, model_id, who=who)
    if state is None:
        raise ApplyError(f"{who}: deploy timed out after {ex.settings.deploy_timeout:g}s")
    if state != DEPLOYED:
        raise ApplyError(f"{who}: deploy ended {state}")
    if change.probe is not None and subject is None:
        _probe(ex, change, model_id)


def _await_settled(ex: Executor, model_id: str, *, who: str) -> str | None:
    """The state a deploy ended in (§6.9), or None when it did not settle in time."""
    timing = ex.settings.timing
    started = timing.clock()
    timing.sleep(min(ex.deploys.first_wait(), ex.settings.deploy_timeout))
    remaining = ex.settings.deploy_timeout - (timing.clock() - started)
    state = poll(lambda: _settled_state(ex, model_id, who), timeout=remaining, timing=timing)
    if state is not None:
        ex.deploys.seen(timing.clock() - started)
    return state


def _settled_state(ex: Executor, model_id: str, who: str) -> str | None:
    model = ex.retried(lambda: ex.calls.get_model(model_id, subject=who))
    state = model.get("model_state")
    if state == DEPLOYED or state in FAILED_STATES:
        return str(state)
    return None


def _undeploy_and_wait(ex: Executor, change: Change, model_id: str, *, subject: str) -> None:
    ex.retried(lambda: ex.calls.undeploy_model(model_id, subject=subject))

    def undeployed() -> bool | None:
        model = ex.retried(lambda: ex.calls.get_model(model_id, subject=subject))
        return True if model.get("model_state") not in (DEPLOYED, "DEPLOYING") else None

    if poll(undeployed, timeout=ex.settings.deploy_timeout, timing=ex.settings.timing) is None:
        raise ApplyError(f"{subject}: undeploy timed out after {ex.settings.deploy_timeout:g}s")


def _probe(ex: Executor, change: Change, model_id: str) -> None:
    ex.observer.on_wait(change, "probing with a predict request")
    body = change.probe or {}
    try:
        answer = ex.request(lambda: ex.calls.predict(model_id, body, subject=str(change.key)))
    except ClusterError as exc:
        # The remote service's own message (§8.1: `Error from remote service: ...`).
        status = f" ({exc.status})" if exc.status else ""
        raise ApplyError(f"{change.key}: probe failed{status}: {exc.reason or exc}") from exc
    for result in answer.get("inference_results", []):
        status = result.get("status_code", 200)
        if not 200 <= int(status) < 300:
            raise ApplyError(f"{change.key}: probe failed: the remote service answered {status}")


def _require_id(change: Change) -> str:
    if change.live_id is None:
        raise ApplyError(f"{change.key}: {change.action} needs a live ID and the plan has none")
    return change.live_id


def _unguarded() -> None:
    """The guard of a run that holds no lease (tests of the executor alone)."""


_HANDLERS: Mapping[Action, Callable[[Executor, Change], str | None]] = {
    Action.CREATE: _create,
    Action.UPDATE: _update,
    Action.ADOPT: _update,
    Action.REPLACE: _replace,
    Action.DELETE: _delete,
    Action.DEPLOY: _deploy_change,
    Action.REDEPLOY: _deploy_change,
    Action.UNDEPLOY: _undeploy_change,
    Action.NOOP: lambda ex, change: change.live_id,
}
