"""ML tasks: the documents register and deploy leave behind, and the task endpoints (§7).

Model handlers call `create` and `finish` to record REGISTER_MODEL and DEPLOY_MODEL tasks in
`.plugins-ml-task` (persisted, never auto-deleted); `register` adds GET, search and DELETE.
The GET body is the task object in the `MLTask` key order, without its ID. This module must
not change model documents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.sandbox.http import Response
from reconciler.sandbox.ml import failures, indices

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request, Router

BASE = "/_plugins/_ml/tasks"
ORDER = (
    "model_id",
    "task_type",
    "function_name",
    "state",
    "input_type",
    "progress",
    "output_index",
    "worker_node",
    "create_time",
    "last_update_time",
    "error",
    "user",
    "is_async",
    "remote_job",
    "response",
    "tenant_id",
)
RUNNING_STATES = ("CREATED", "RUNNING")


def register(router: Router) -> None:
    """Add the task routes."""
    router.add("GET", f"{BASE}/_search", search)
    router.add("POST", f"{BASE}/_search", search)
    router.add("GET", f"{BASE}/{{task_id}}", get)
    router.add("DELETE", f"{BASE}/{{task_id}}", delete)


def create(
    ctx: Context,
    *,
    task_type: str,
    state: str,
    is_async: bool,
    model_id: str | None = None,
    worker_node: list[str] | None = None,
) -> str:
    """Store a new remote-model task; returns its ID."""
    now = indices.now_ms(ctx)
    doc: dict[str, Any] = {
        "model_id": model_id,
        "task_type": task_type,
        "function_name": "REMOTE",
        "state": state,
        "worker_node": worker_node if worker_node is not None else [indices.node_id(ctx)],
        "create_time": now,
        "last_update_time": now,
        "is_async": is_async,
    }
    return indices.put(ctx, indices.TASKS, indices.ordered(doc, ORDER))


def finish(ctx: Context, task_id: str, *, state: str, **fields: Any) -> None:
    """Move a task to `state` (with e.g. `model_id` or `error`) and stamp `last_update_time`."""
    partial = {"state": state, "last_update_time": indices.now_ms(ctx), **fields}
    ctx.store.update(indices.TASKS, task_id, partial)


def _missing(ctx: Context) -> Exception:
    text = ctx.profile.task_not_found
    if ctx.profile.modern_status_codes:
        return failures.status(404, text)
    return failures.ml_not_found(text)


def get(ctx: Context, request: Request, *, task_id: str) -> Response:
    """GET /tasks/{id}: the task object without its ID."""
    doc = indices.get_doc(ctx, indices.TASKS, task_id)
    if doc is None:
        raise _missing(ctx)
    return Response(200, indices.ordered(doc.source, ORDER))


def search(ctx: Context, request: Request) -> Response:
    """GET|POST /tasks/_search."""
    return Response(200, indices.search(ctx, request, indices.TASKS))


def delete(ctx: Context, request: Request, *, task_id: str) -> Response:
    """DELETE /tasks/{id}: refused while the task runs."""
    with ctx.lock:
        doc = indices.get_doc(ctx, indices.TASKS, task_id)
        if doc is None:
            raise _missing(ctx)
        if doc.source.get("state") in RUNNING_STATES:
            raise failures.ml_validation(
                "Task cannot be deleted in running state. Try after some time."
            )
        return Response(200, ctx.store.delete(indices.TASKS, task_id))
