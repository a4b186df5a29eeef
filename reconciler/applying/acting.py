"""What each action of a plan change does, as cluster calls and state-index writes.

`begin_change(executor, change)` performs exactly what the change says, in a crash-safe
order: an intent record before every create (a crash between the create and its record
is resolved by adoption on the next plan, never by a duplicate; `writes_intent` tells
which changes create), each mutation followed by its record, a replaced resource's
record moved only once the old one is gone, an agent with a probe probed once it is sent
(`agent_probing`). A replace (or swap) stops before the old resource is retired and
hands back the rest, which the orchestrator runs at once, or once the change's
`retire_after` changes finished.
Called by `applying.orchestrating` from worker threads; never decides anything itself.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.applying import agent_probing, deploying
from reconciler.applying.executing import Executor
from reconciler.errors import ApplyError, TransientClusterError
from reconciler.plans import Action, Change, Strategy
from reconciler.resources import Kind, ResourceKey


def writes_intent(change: Change) -> bool:
    """Whether performing `change` creates a resource, so needs an intent first."""
    if change.key.kind.is_setting:
        return False
    if change.action is Action.CREATE or change.action is Action.REPLACE:
        return True
    return (
        change.action in (Action.UPDATE, Action.ADOPT)
        and change.key.kind is Kind.CONNECTOR
        and change.strategy is Strategy.SWAP
    )


Finish = Callable[[], "str | None"]
"""The rest of a change once its new resource is in place: retire the old one, record the
new one; returns the resource's live ID (None for settings)."""


def begin_change(ex: Executor, change: Change) -> Finish:
    """Perform `change` up to retiring the resource it replaces; the rest, to call later.

    A replace (or connector swap) creates the new resource, deploys it and rewires the
    consumers here, and from then on the new ID is what references to it resolve to
    (`Executor.begin`); the returned callable deletes the old resource and records the
    new one. Any other change runs whole here.
    """
    if change.key.kind.is_setting:
        ex.apply_settings(change)
        return _done(None)
    if _swaps(change):
        return _swap(ex, change)
    if change.action is Action.REPLACE:
        return _probed(ex, change, _replace(ex, change))
    return _probed(ex, change, _done(_HANDLERS[change.action](ex, change)))


def _done(live_id: str | None) -> Finish:
    return lambda: live_id


def _probed(ex: Executor, change: Change, finish: Finish) -> Finish:
    """`finish`, then the agent's probe when the change has one (`agent_probing`): a
    replaced agent is probed once the whole change is done."""
    if not agent_probing.probes_after(change):
        return finish

    def probed() -> str | None:
        live_id = finish()
        if live_id is not None:
            agent_probing.run_probe(ex, change, live_id)
        return live_id

    return probed


def _swaps(change: Change) -> bool:
    """A connector update (or adoption) done as a swap: a new connector takes over."""
    return (
        change.action in (Action.UPDATE, Action.ADOPT)
        and change.key.kind is Kind.CONNECTOR
        and change.strategy is Strategy.SWAP
    )


def _create(ex: Executor, change: Change) -> str:
    body = ex.body(change)
    interrupted = ex.intent(change)
    if change.key.kind.is_pipeline:
        # The ID is the pipeline's name and a PUT is idempotent: no lookup, no duplicate.
        new_id = change.key.name
        ex.retried(lambda: _put_pipeline(ex, change.key, body.body))
    else:
        new_id = _create_call(ex, change, body.body, look_first=interrupted)
    ex.record(change, new_id, body)
    if change.deploy_after:
        deploying.deploy_and_wait(ex, change, new_id)
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
    if change.key.kind is Kind.AGENT:
        return ex.calls.register_agent(body, subject=subject)
    return ex.calls.register_model(body, subject=subject, timeout=ex.settings.deploy_timeout)


def _put_pipeline(ex: Executor, key: ResourceKey, body: dict[str, Any]) -> Any:
    return ex.calls.put_pipeline(key.kind, key.name, body, subject=str(key))


def _unclaimed_by_name(ex: Executor, change: Change, name: str) -> str | None:
    query: dict[str, Any] = {"bool": {"filter": [{"term": {"name.keyword": name}}]}}
    search = {
        Kind.CONNECTOR: ex.calls.search_connectors,
        Kind.MODEL_GROUP: ex.calls.search_model_groups,
        Kind.MODEL: ex.calls.search_models,
        Kind.AGENT: ex.calls.search_agents,
    }[change.key.kind]
    if change.key.kind is Kind.MODEL:
        query["bool"]["filter"].append({"term": {"algorithm": "REMOTE"}})
    hits = search({"query": query, "size": 100, "_source": False})["hits"]["hits"]
    claimed = ex.records.claimed_ids()
    unclaimed = [str(h["_id"]) for h in hits if h["_id"] not in claimed]
    return unclaimed[0] if len(unclaimed) == 1 else None


def _update(ex: Executor, change: Change) -> str:
    live_id = _require_id(change)
    body = ex.body(change, sent=_sends(change))
    if change.undeploy_first:
        deploying.undeploy_and_wait(ex, change, live_id, subject=str(change.key))
    if _sends(change):
        if change.strategy is Strategy.RECREATE:
            _recreate(ex, change, lambda: _update_call(ex, change, live_id, body.body))
        else:
            ex.retried(lambda: _update_call(ex, change, live_id, body.body))
    ex.record(change, live_id, body)
    if change.deploy_after:
        deploying.deploy_and_wait(ex, change, live_id)
    elif change.probe_after and change.probe is not None and change.key.kind is Kind.MODEL:
        deploying.run_probe(ex, change, live_id)
    return live_id


def _sends(change: Change) -> bool:
    """Whether an update or adoption calls the cluster: not for `lifecycle` fields alone,
    which only the state record keeps."""
    if change.action is Action.UPDATE and not change.fields:
        return True
    return any(not f.state_only for f in change.fields)


def _update_call(ex: Executor, change: Change, live_id: str, body: dict[str, Any]) -> Any:
    subject = str(change.key)
    if change.key.kind is Kind.CONNECTOR:
        return ex.calls.update_connector(live_id, body, subject=subject)
    if change.key.kind is Kind.MODEL_GROUP:
        return ex.calls.update_model_group(live_id, body, subject=subject)
    if change.key.kind.is_pipeline:
        return _put_pipeline(ex, change.key, body)
    if change.key.kind is Kind.AGENT:
        return ex.calls.update_agent(live_id, body, subject=subject)
    return ex.calls.update_model(live_id, body, subject=subject)


def _replace(ex: Executor, change: Change) -> Finish:
    if change.key.kind is Kind.CONNECTOR:
        return _replace_connector(ex, change)
    old_id = _require_id(change)
    if change.key.kind is Kind.MODEL_GROUP:
        # Group names are unique (§5.3): the old group must go before the new one exists.
        subject = str(change.key)
        ex.retried_unless_gone(lambda: ex.calls.delete_model_group(old_id, subject=subject))
        return _done(_create(ex, dataclasses.replace(change, live_id=None)))
    # A model or agent: the new one is registered (and deployed) before the old one goes,
    # so the name keeps answering (models may share names, §1.2). The record moves to the
    # new ID only once the old one is gone: until then the intent keeps the old ID, so a
    # run cut short in between finishes the job instead of leaving the old one behind.
    body = ex.body(change)
    interrupted = ex.intent(change)
    new_id = _create_call(ex, change, body.body, look_first=interrupted)
    if change.deploy_after:
        deploying.deploy_and_wait(ex, change, new_id)
    rewire(ex, change, new_id)
    ex.begin(change.key, new_id)

    def retire() -> str:
        if change.key.kind is Kind.AGENT:
            subject = str(change.key)
            ex.retried_unless_gone(lambda: ex.calls.delete_agent(old_id, subject=subject))
        else:
            deploying.remove_model(ex, change, old_id)
        ex.record(change, new_id, body)
        return new_id

    return retire


def rewire(ex: Executor, change: Change, new_id: str) -> None:
    """Point the managed consumers of a resource being replaced at its new ID, before the
    old one is deleted (`planning.impacts`): each is sent the body its own change will
    send, with the new ID, so no moment has it naming a deleted resource. Their own
    changes run afterwards, send it again and record it."""
    for key in change.affected:
        planned = ex.planned.get(key)
        record = ex.records.get(key)
        if not key.kind.is_consumer or planned is None or record is None or record.id is None:
            continue  # not live yet (created later in this apply) or deleted meanwhile
        ex.observer.on_wait(change, f"rewiring {key} to the new ID")
        body = ex.body(planned, new_ids={change.key: new_id}).body
        ex.retried(functools.partial(_send_consumer, ex, key, record.id, body))


def _send_consumer(ex: Executor, key: ResourceKey, live_id: str, body: dict[str, Any]) -> Any:
    """Put a pipeline, or update an agent in place (3.1+, CONS §4.6)."""
    if key.kind.is_pipeline:
        return _put_pipeline(ex, key, body)
    return ex.calls.update_agent(live_id, body, subject=str(key))


def _replace_connector(ex: Executor, change: Change) -> Finish:
    """A connector that update cannot change (§1.5): a new one takes its place."""
    if change.strategy is not Strategy.RECREATE:
        return _swap(ex, change)
    # `recreate` asked for: the models stop answering while their connector changes.
    deployed = [(m, i) for m, i in _affected(ex, change) if deploying.is_deployed(ex, i)]
    for model, model_id in deployed:
        deploying.undeploy_and_wait(ex, change, model_id, subject=str(model))
    retire = _swap(ex, change)
    for model, model_id in deployed:
        deploying.deploy_and_wait(ex, change, model_id, subject=str(model))
    return retire


def _swap(ex: Executor, change: Change) -> Finish:
    """A new connector, every model repointed to it (§6.8), then the old one deleted.

    Before 2.12 (`Strategy.REREGISTER`) no model can be repointed: the models register
    again on the new connector through their own replaces, which run between this begin
    and the retirement (`Change.retire_after`), since the server refuses to delete a
    connector any model references (§2.10).

    The record moves to the new ID last: while the intent holds the old ID, a run cut
    short anywhere in between (a crash, a failed delete) is finished by the next one,
    which finds the new connector by name, and the old one is never left behind.
    """
    old_id = _require_id(change)
    body = ex.body(change)
    interrupted = ex.intent(change)
    new_id = _create_call(ex, change, body.body, look_first=interrupted)
    if change.strategy is not Strategy.REREGISTER:
        for model in change.affected:
            if model.kind is not Kind.MODEL:
                continue
            ex.observer.on_wait(change, f"repointing {model} to the new connector")
            _repoint(ex, model, connector_id=new_id)
    rewire(ex, change, new_id)
    ex.begin(change.key, new_id)

    def retire() -> str:
        subject = str(change.key)
        ex.retried_unless_gone(lambda: ex.calls.delete_connector(old_id, subject=subject))
        ex.record(change, new_id, body)
        return new_id

    return retire


def _repoint(ex: Executor, model: ResourceKey, *, connector_id: str) -> None:
    """Point a model at `connector_id`; a model pruned by this same apply is skipped."""
    record = ex.records.get(model)
    if record is None or record.id is None:
        return  # deleted meanwhile: a pruned model that used the old connector
    model_id, body = record.id, {"connector_id": connector_id}
    ex.retried_unless_gone(lambda: ex.calls.update_model(model_id, body, subject=str(model)))


def _recreate(ex: Executor, change: Change, apply: Callable[[], Any]) -> None:
    """Undeploy the deployed models using a connector, change it, deploy them again (§2.9)."""
    deployed = [
        (m, model_id)
        for m, model_id in _affected(ex, change)
        if deploying.is_deployed(ex, model_id)
    ]
    for model, model_id in deployed:
        ex.observer.on_wait(change, f"undeploying {model} for the connector update")
        deploying.undeploy_and_wait(ex, change, model_id, subject=str(model))
    ex.retried(apply)
    for model, model_id in deployed:
        ex.observer.on_wait(change, f"redeploying {model}")
        deploying.deploy_and_wait(ex, change, model_id, subject=str(model))


def _affected(ex: Executor, change: Change) -> list[tuple[ResourceKey, str]]:
    """The models a connector change affects (not the consumers it rewires)."""
    return [(m, ex.records.live_id(m)) for m in change.affected if m.kind is Kind.MODEL]


def _delete(ex: Executor, change: Change) -> None:
    """Delete a resource and its record; one already gone (a crash between the delete
    and the record's removal, a lost answer) only loses its record."""
    live_id = change.live_id
    subject = str(change.key)
    if live_id is None:
        pass  # an interrupted create's intent: nothing was ever recorded as live
    elif change.key.kind is Kind.MODEL:
        deploying.remove_model(ex, change, live_id)
    elif change.key.kind is Kind.CONNECTOR:
        ex.retried_unless_gone(lambda: ex.calls.delete_connector(live_id, subject=subject))
    elif change.key.kind.is_pipeline:
        kind = change.key.kind
        ex.retried_unless_gone(lambda: ex.calls.delete_pipeline(kind, live_id, subject=subject))
    elif change.key.kind is Kind.AGENT:
        ex.retried_unless_gone(lambda: ex.calls.delete_agent(live_id, subject=subject))
    else:
        ex.retried_unless_gone(lambda: ex.calls.delete_model_group(live_id, subject=subject))
    ex.forget(change.key)


def _deploy_change(ex: Executor, change: Change) -> str:
    live_id = _require_id(change)
    if change.action is Action.REDEPLOY:
        deploying.undeploy_and_wait(ex, change, live_id, subject=str(change.key))
    deploying.deploy_and_wait(ex, change, live_id)
    return live_id


def _probe_change(ex: Executor, change: Change) -> str:
    """Probe a deployed model, or an agent, again: its last probe failed or never ended."""
    live_id = _require_id(change)
    if change.probe is None:
        raise ApplyError(f"{change.key}: the plan holds no probe to run")
    if change.key.kind is Kind.AGENT:
        agent_probing.run_probe(ex, change, live_id)
    else:
        deploying.run_probe(ex, change, live_id)
    return live_id


def _undeploy_change(ex: Executor, change: Change) -> str:
    live_id = _require_id(change)
    deploying.undeploy_and_wait(ex, change, live_id, subject=str(change.key))
    return live_id


def _require_id(change: Change) -> str:
    if change.live_id is None:
        raise ApplyError(f"{change.key}: {change.action} needs a live ID and the plan has none")
    return change.live_id


_HANDLERS: Mapping[Action, Callable[[Executor, Change], str | None]] = {
    # A replace, and a connector swap, begin in `_replace` and `_swap` (`begin_change`).
    Action.CREATE: _create,
    Action.UPDATE: _update,
    Action.ADOPT: _update,
    Action.DELETE: _delete,
    Action.DEPLOY: _deploy_change,
    Action.REDEPLOY: _deploy_change,
    Action.UNDEPLOY: _undeploy_change,
    Action.PROBE: _probe_change,
    Action.NOOP: lambda ex, change: change.live_id,
}
