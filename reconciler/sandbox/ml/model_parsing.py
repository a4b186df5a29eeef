"""Parsing of the model-body fields shared by register (§6.2) and update (§6.8).

`models.py` and `model_updating.py` call these to turn `rate_limiter`, `deploy_setting` and
`interface` into their stored form, with the version rules of the profile. Pure functions over
the request body (plus the profile); they must not read or write the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.ml import failures
from reconciler.sandbox.ml.connector_parsing import text

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context


def rate_limiter(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """`rate_limiter` checked (§6.2): `limit` must be a positive number."""
    raw = body.get("rate_limiter")
    if not isinstance(raw, Mapping):
        return None
    limit = raw.get("limit")
    if limit is not None:
        try:
            positive = float(limit) > 0
        except (TypeError, ValueError):
            positive = False
        if not positive:
            raise failures.illegal_argument("Limit field must be a positive number.")
    return {k: text(raw, k) for k in ("limit", "unit") if raw.get(k) is not None}


def deploy_setting(ctx: Context, body: Mapping[str, Any]) -> dict[str, Any] | None:
    """`deploy_setting` with `model_ttl_minutes: -1` filled on 2.14+ (§6.2)."""
    raw = body.get("deploy_setting")
    if not isinstance(raw, Mapping):
        return None
    setting = {k: raw[k] for k in ("is_auto_deploy_enabled", "model_ttl_minutes") if k in raw}
    if ctx.profile.deploy_setting_ttl:
        setting.setdefault("model_ttl_minutes", -1)
    return setting


def interface(body: Mapping[str, Any]) -> dict[str, str] | None:
    """`interface` keeping only `input`/`output`, values stringified (§6.2)."""
    raw = body.get("interface")
    if not isinstance(raw, Mapping):
        return None
    return {k: text(raw, k) or "" for k in ("input", "output") if raw.get(k) is not None}


def check_model_config(config: Any) -> None:
    """§6.2 (3.1+): a remote text-embedding model must describe its vectors."""
    if not isinstance(config, Mapping):
        return
    if str(config.get("model_type", "")).lower() != "text_embedding":
        return
    if config.get("embedding_dimension") is None:
        raise failures.illegal_argument(
            "Embedding dimension must be provided for remote text embedding model"
        )
    if config.get("framework_type") is None:
        raise failures.illegal_argument(
            "Framework type must be provided for remote text embedding model"
        )
    additional = config.get("additional_config")
    if not isinstance(additional, Mapping) or additional.get("space_type") is None:
        raise failures.illegal_argument(
            "Space type must be provided in additional_config for remote text embedding model"
        )
