"""Export model groups (§5), with their access mode while model access control is on.

`access` is stored for every group; it is exported as `access_mode` (and the backend
roles of a restricted group) only when `model_access_control_enabled` is on, because the
server refuses those fields otherwise (§5.3). `add_all_backend_roles` is not stored:
its effect, the roles, is. Called through the registry in `exporting`; pure.
"""

from __future__ import annotations

from typing import Any

from reconciler.exporting.documents import (
    Context,
    Exported,
    access_control_on,
    commented,
    envelope,
    quoted,
)
from reconciler.mlcommons.fields import stored_access
from reconciler.resources import Kind, ResourceKey

FOLDER = "model-groups"


class ModelGroupExporter:
    """ModelGroup manifests, one per model group."""

    kind = Kind.MODEL_GROUP

    def export(self, ctx: Context) -> list[Exported]:
        """Every model group of the snapshot, in name order."""
        found = []
        access = access_control_on(ctx, "model_access_control_enabled")
        for obj in ctx.snapshot.model_groups:
            name = ctx.names[Kind.MODEL_GROUP][obj.id]
            document = envelope(Kind.MODEL_GROUP, name, live_id=obj.id)
            spec: dict[str, Any] = {"name": obj.name}
            if obj.source.get("description"):
                spec["description"] = obj.source["description"]
            mode = obj.source.get("access")
            if access and isinstance(mode, str):
                spec["access_mode"] = stored_access(mode)
                roles = obj.source.get("backend_roles")
                if spec["access_mode"] == "restricted" and isinstance(roles, list) and roles:
                    spec["backend_roles"] = list(roles)
            document["spec"] = commented(spec, {})
            key = ResourceKey(Kind.MODEL_GROUP, name)
            header = f"Model group {quoted(obj.name)} ({obj.id})"
            found.append(Exported(key, document, header, FOLDER))
        return sorted(found, key=lambda e: e.key)
