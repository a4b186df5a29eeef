"""Redaction: the one pass every view runs over a Plan before turning it into text.

The text, JSON and Markdown views call `redact_plan` first and render only its result,
so a secret cannot reach any output even when the planner misbehaves: a secret marker
or a `Secret` object anywhere in a value becomes `Redacted` (`(sensitive)`), a field
marked sensitive loses its values, a literal credential in a credential-like header
(`Authorization: Bearer sk-...`) is hidden by the header's name, and a cluster URL loses
its user name and password.
Credentials are write-only on the server (reference §2.7), so nothing a view could show
about them beyond "changed" is worth the risk. This module never prints and never
reveals a Secret.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from reconciler.plans import (
    REF_MARKER,
    Change,
    FieldChange,
    Plan,
    is_secret_marker,
)
from reconciler.secrets.headers import replace_literal_headers
from reconciler.secrets.values import REDACTED, Secret


class Redacted(str):
    """A value that was hidden; views show it bare (`(sensitive)`), JSON as a string."""

    __slots__ = ()

    def __new__(cls) -> Redacted:
        return super().__new__(cls, REDACTED)

    def __reduce__(self) -> tuple[type[Redacted], tuple[()]]:
        # copy.deepcopy (used by dataclasses.asdict) rebuilds it without arguments.
        return (Redacted, ())


SENSITIVE = Redacted()
"""The single stand-in for every hidden value."""


def redact_value(value: Any) -> Any:
    """A JSON-ready copy of `value` with every secret replaced by `SENSITIVE`.

    Mappings and sequences are copied; reference markers are kept (they name a
    resource, not a secret); anything that is not plain JSON data becomes its `str`,
    which for a `Secret` is already the redaction marker.
    """
    if isinstance(value, Secret) or is_secret_marker(value):
        return SENSITIVE
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return redact_value(value.value)
    if isinstance(value, Mapping):
        return {str(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    # Unknown objects are shown by their text form, never by repr or their attributes.
    return str(value)


def redact_field(field: FieldChange) -> FieldChange:
    """A field change safe to show: sensitive fields carry no values at all."""
    path = str(field.path)
    if field.sensitive:
        return FieldChange(path=path, sensitive=True)
    return FieldChange(
        path=path,
        before=_hide_literal_headers(redact_value(field.before), path=path),
        after=_hide_literal_headers(redact_value(field.after), path=path),
    )


def redact_change(change: Change) -> Change:
    """A copy of `change` whose bodies, fields and notes hold no secret."""
    return dataclasses.replace(
        change,
        live_id=None if change.live_id is None else str(change.live_id),
        before=_redact_body(change.before),
        after=_redact_body(change.after),
        fields=tuple(redact_field(f) for f in change.fields),
        reasons=_texts(change.reasons),
        review=_texts(change.review),
        downtime=None if change.downtime is None else str(change.downtime),
        probe=_redact_body(change.probe),
    )


def redact_plan(plan: Plan) -> Plan:
    """A copy of `plan` that every view may render without further care."""
    return dataclasses.replace(
        plan,
        changes=tuple(redact_change(c) for c in plan.changes),
        orphans=tuple(redact_change(c) for c in plan.orphans),
        warnings=_texts(plan.warnings),
        cluster=dataclasses.replace(plan.cluster, url=safe_url(plan.cluster.url)),
    )


def safe_url(url: str) -> str:
    """The URL without `user:password@`, which a cluster URL sometimes carries."""
    parts = urlsplit(str(url))
    if parts.username is None and parts.password is None:
        return str(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit(parts._replace(netloc=netloc))


def ref_text(value: Any) -> str | None:
    """`Kind/name` when `value` is a reference marker, else None."""
    if isinstance(value, Mapping) and isinstance(value.get(REF_MARKER), str):
        return str(value[REF_MARKER])
    return None


def _redact_body(body: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if body is None:
        return None
    redacted = _hide_literal_headers(redact_value(body))
    # A whole body that is a secret marker is not a body; keep the type honest.
    return redacted if isinstance(redacted, dict) else {"value": redacted}


def _hide_literal_headers(value: Any, *, path: str = "") -> Any:
    # A credential written into a header (the server keeps headers in clear, §2.7) that
    # the reconcile cycle did not seal: hidden by its name.
    return replace_literal_headers(value, lambda *_: SENSITIVE, path=path)


def _texts(items: tuple[Any, ...]) -> tuple[str, ...]:
    # str() on a Secret yields the marker, so a Secret slipped into notes stays hidden.
    return tuple(str(item) for item in items)
