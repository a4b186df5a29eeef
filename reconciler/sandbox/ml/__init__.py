"""The ML Commons API of the sandbox: connectors, model groups, models, tasks, predict and
agents.

The sandbox server calls `register(router)` once at start; each resource module adds its
routes (exact paths of reference §2.1, §5.1, §6.1, §7). Behaviour that differs per release is
read from `ctx.profile` (`profiles.py`). Like the rest of the sandbox, nothing here imports
from the rest of osml.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.sandbox.http import Router


def register(router: Router) -> None:
    """Add every ML route to `router`."""
    # Imported here, not at the top, so that `ml.profiles` (which the core imports at start)
    # stays importable without loading every handler module.
    from reconciler.sandbox.ml import (  # noqa: PLC0415
        agent_executing,
        agents,
        connectors,
        deploying,
        model_groups,
        model_updating,
        models,
        predicting,
        tasks,
    )

    for module in (
        connectors,
        model_groups,
        models,
        model_updating,
        deploying,
        tasks,
        predicting,
        agents,
        agent_executing,
    ):
        module.register(router)
