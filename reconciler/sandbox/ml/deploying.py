"""Deploy and undeploy of remote models, with the asynchronous state machine of §6.9/§6.10.

`models.register` hooks the routes in here; register (`?deploy=true`) and predict (auto-deploy,
2.13+) call `start`. A deploy sets the model DEPLOYING, records a DEPLOY_MODEL task and, after
`ctx.config.deploy_delay` on `ctx.scheduler`, applies the outcome chosen by
`ctx.faults.deploy_outcome` (deployed, failed, partial or stuck); `ctx.faults.undeploy_later`
may then flip a deployed model back to UNDEPLOYED. A generation counter per model makes a
late completion harmless after an undeploy or a newer deploy. No HTTP here besides handlers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.http import Response
from reconciler.sandbox.ml import access, failures, indices, model_groups, tasks
from reconciler.sandbox.ml.connectors import check_remote_inference

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request, Router

BASE = "/_plugins/_ml/models"
DEPLOYED_STATES = ("DEPLOYED", "PARTIALLY_DEPLOYED")
UNDELETABLE = (
    "LOADED",
    "LOADING",
    "PARTIALLY_LOADED",
    "DEPLOYED",
    "DEPLOYING",
    "PARTIALLY_DEPLOYED",
)
_OUTCOMES = {
    "deployed": ("DEPLOYED", "COMPLETED"),
    "partial": ("PARTIALLY_DEPLOYED", "COMPLETED_WITH_ERROR"),
    "failed": ("DEPLOY_FAILED", "FAILED"),
}
_GENERATIONS = "ml.deploy_generations"


def register(router: Router) -> None:
    """Add deploy/undeploy routes and their legacy `_load`/`_unload` aliases."""
    for verb in ("_deploy", "_load"):
        router.add("POST", f"{BASE}/{{model_id}}/{verb}", deploy)
    for verb in ("_undeploy", "_unload"):
        router.add("POST", f"{BASE}/{{model_id}}/{verb}", undeploy_one)
        router.add("POST", f"{BASE}/{verb}", undeploy_many)


def _generation(ctx: Context, model_id: str, *, bump: bool = False) -> int:
    generations: dict[str, int] = ctx.extras.setdefault(_GENERATIONS, {})
    if bump:
        generations[model_id] = generations.get(model_id, 0) + 1
    return generations.get(model_id, 0)


def deploy(ctx: Context, request: Request, *, model_id: str) -> Response:
    """POST /models/{id}/_deploy (§6.9)."""
    check_remote_inference(ctx, always_400=True)
    body = indices.body_object(request)
    if body.get("node_ids") and not ctx.settings.get(
        "plugins.ml_commons.allow_custom_deployment_plan"
    ):
        raise failures.illegal_argument("Don't allow custom deployment plan")
    with ctx.lock:
        doc = indices.get_doc(ctx, indices.MODELS, model_id)
        if doc is None:
            raise failures.status(
                404, f"Failed to find model with the provided model id: {model_id}"
            )
        model_groups.check_model_access(ctx, request, doc.source)
        task_id = start(ctx, model_id)
    if ctx.profile.sync_deploy:
        return Response(
            200, {"task_id": task_id, "task_type": "DEPLOY_MODEL", "status": "COMPLETED"}
        )
    return Response(200, {"task_id": task_id, "status": "CREATED"})


def start(ctx: Context, model_id: str, *, later: bool = True) -> str:
    """Begin deploying `model_id`; returns the DEPLOY_MODEL task ID. Idempotent when deployed."""
    node = indices.node_id(ctx)
    with ctx.lock:
        doc = ctx.store.get(indices.MODELS, model_id)
        state = doc.source.get("model_state") if doc else None
        task_id = tasks.create(
            ctx,
            task_type="DEPLOY_MODEL",
            state="CREATED",
            is_async=True,
            model_id=model_id,
            worker_node=[node],
        )
        if state == "DEPLOYED":
            # The node short-circuits a model it already serves (MLModelManager.deployModel).
            tasks.finish(ctx, task_id, state="COMPLETED")
            return task_id
        generation = _mark_deploying(ctx, model_id, task_id, node=node)
    if not later:
        return task_id
    ctx.scheduler.call_later(
        ctx.config.deploy_delay, lambda: _complete(ctx, model_id, task_id, generation)
    )
    return task_id


def _mark_deploying(ctx: Context, model_id: str, task_id: str, *, node: str) -> int:
    """Model DEPLOYING, task RUNNING; returns the new deploy generation of the model."""
    planning = {
        "model_state": "DEPLOYING",
        "planning_worker_node_count": 1,
        "planning_worker_nodes": [node],
        "deploy_to_all_nodes": True,
    }
    ctx.store.update(indices.MODELS, model_id, planning)
    tasks.finish(ctx, task_id, state="RUNNING")
    return _generation(ctx, model_id, bump=True)


def deploy_now(ctx: Context, model_id: str) -> bool:
    """Deploy synchronously, as predict's auto-deploy does (2.13+); True when it is serving."""
    with ctx.lock:
        task_id = start(ctx, model_id, later=False)
        _complete(ctx, model_id, task_id, _generation(ctx, model_id))
        doc = indices.get_doc(ctx, indices.MODELS, model_id)
    return doc is not None and doc.source.get("model_state") in DEPLOYED_STATES


def _complete(ctx: Context, model_id: str, task_id: str, generation: int) -> None:
    with ctx.lock:
        if _generation(ctx, model_id) != generation:
            return
        doc = indices.get_doc(ctx, indices.MODELS, model_id)
        if doc is None:
            return
        outcome, why = _outcome(ctx, model_id, doc.source)
        if outcome not in _OUTCOMES:
            return  # "stuck": the model stays DEPLOYING and the task RUNNING
        model_state, task_state = _OUTCOMES[outcome]
        partial: dict[str, Any] = {"model_state": model_state}
        if outcome != "failed":
            partial.update(last_deployed_time=indices.now_ms(ctx), current_worker_node_count=1)
        ctx.store.update(indices.MODELS, model_id, partial)
        extra: dict[str, Any] = {}
        if why:
            # The task's `error` is a JSON string mapping node ID to message (§7).
            extra["error"] = json.dumps({indices.node_id(ctx): why})
        tasks.finish(ctx, task_id, state=task_state, **extra)
    if outcome != "failed":
        _schedule_fall(ctx, model_id, generation)


def _outcome(ctx: Context, model_id: str, source: Mapping[str, Any]) -> tuple[str, str | None]:
    """The deploy outcome: a missing standalone connector fails it, else the fault rules."""
    connector_id = source.get("connector_id")
    if connector_id and indices.get_doc(ctx, indices.CONNECTORS, str(connector_id)) is None:
        return "failed", f"Failed to find connector:{connector_id}"
    outcome = ctx.faults.deploy_outcome(model_id, name=source.get("name"))
    return outcome, None if outcome == "deployed" else f"sandbox fault: deploy {outcome}"


def _schedule_fall(ctx: Context, model_id: str, generation: int) -> None:
    doc = indices.get_doc(ctx, indices.MODELS, model_id)
    name = doc.source.get("name") if doc else None
    delay = ctx.faults.undeploy_later(model_id, name=name)
    if delay is None:
        return

    def fall() -> None:
        with ctx.lock:
            if _generation(ctx, model_id) == generation:
                mark_undeployed(ctx, model_id)

    ctx.scheduler.call_later(delay, fall)


def mark_undeployed(ctx: Context, model_id: str) -> None:
    """Write the undeployed state of §6.10 (and invalidate pending deploy completions)."""
    _generation(ctx, model_id, bump=True)
    if indices.get_doc(ctx, indices.MODELS, model_id) is None:
        return
    ctx.store.update(
        indices.MODELS,
        model_id,
        {
            "model_state": "UNDEPLOYED",
            "planning_worker_nodes": [],
            "planning_worker_node_count": 0,
            "current_worker_node_count": 0,
            "last_undeployed_time": indices.now_ms(ctx),
        },
    )


def _undeploy(ctx: Context, model_ids: list[str]) -> dict[str, Any]:
    stats: dict[str, str] = {}
    with ctx.lock:
        for model_id in model_ids:
            doc = indices.get_doc(ctx, indices.MODELS, model_id)
            state = doc.source.get("model_state") if doc else None
            cached = state in (*DEPLOYED_STATES, "DEPLOYING")
            stats[model_id] = "undeployed" if cached else "not_found"
            if cached or (doc is not None and ctx.profile.force_undeploy):
                mark_undeployed(ctx, model_id)
    return {indices.node_id(ctx): {"stats": stats}}


def undeploy_one(ctx: Context, request: Request, *, model_id: str) -> Response:
    """POST /models/{id}/_undeploy (§6.10)."""
    return Response(200, _undeploy(ctx, [model_id]))


def undeploy_many(ctx: Context, request: Request) -> Response:
    """POST /models/_undeploy with `{"model_ids": [...]}` (§6.10)."""
    model_ids = [str(i) for i in indices.body_object(request).get("model_ids") or []]
    if not model_ids:
        raise failures.illegal_argument("Must set specific model ids to undeploy")
    if len(model_ids) > 1 and access.model_control(ctx, request):
        raise failures.illegal_argument("only support undeploy one model")
    return Response(200, _undeploy(ctx, model_ids))
