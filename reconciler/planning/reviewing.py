"""Security notes for the reviewer of a plan (`Change.review`).

A reviewer must see at a glance what touches security: a connector endpoint host that
changes (where data and credentials are sent), access widened to public, a credential that
changes, a trusted-endpoint pattern added, access control turned off, private addresses
allowed (§3.2). Notes are facts about the change in one line each, never secret values.

Called by `planning.making` on every decided change; pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from reconciler.mlcommons.endpoints import SETTING_KEY
from reconciler.mlcommons.flavors import ROLE_ARN, SECRET_ARN
from reconciler.mlcommons.settings import PREFIX
from reconciler.mlcommons.templates import substitute
from reconciler.plans import Action, Change
from reconciler.resources import Kind

_ACCESS_FLAGS = (
    PREFIX + "connector_access_control_enabled",
    PREFIX + "model_access_control_enabled",
)
_PRIVATE_IP = PREFIX + "connector.private_ip_enabled"
_BROAD = (".*", ".+")
ROTATE_NOTE = "credentials rotate: "
"""How the planner's note on minted keys that are due starts (`deciding._rotations`)."""


def review(change: Change) -> Change:
    """`change` with its review notes filled in."""
    if not change.is_change or change.action in (Action.DEPLOY, Action.UNDEPLOY):
        return change
    notes = list(_notes(change))
    return dataclasses.replace(change, review=(*change.review, *notes)) if notes else change


def _notes(change: Change) -> Iterable[str]:
    kind = change.key.kind
    if kind is Kind.TRUSTED_ENDPOINTS:
        yield from _trusted(change)
    elif kind is Kind.ACCESS_CONTROL:
        yield from _access_control(change)
    else:
        yield from _hosts(change)
        yield from _public(change)
        rotating = " ".join(n for n in change.review if n.startswith(ROTATE_NOTE))
        yield from (
            _credential_note(f.path)
            for f in change.fields
            if f.sensitive and f"{f.path}," not in rotating and f"{f.path} (" not in rotating
        )


def _credential_note(path: str) -> str:
    """A changed credential; an ARN (managed domains) says what it grants."""
    key = path.rsplit(".", 1)[-1]
    if key == ROLE_ARN:
        return f"IAM role changed: {path} (the domain signs its calls with this role)"
    if key == SECRET_ARN:
        return f"Secrets Manager secret changed: {path} (the headers read their keys from it)"
    return f"credential changed: {path}"


def _hosts(change: Change) -> Iterable[str]:
    """Where a connector (or a model's inline connector) sends requests."""
    old, new = _connector_of(change.before), _connector_of(change.after)
    if new is None:
        return
    before, after = endpoint_hosts(old) if old is not None else set(), endpoint_hosts(new)
    if change.action is Action.CREATE or old is None:
        if after:
            yield f"calls {', '.join(sorted(after))}"
    elif before != after:
        yield f"endpoint host changed: {_list(before)} -> {_list(after)}"


def _connector_of(body: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if body is None:
        return None
    inline = body.get("connector")
    if isinstance(inline, Mapping):
        return inline
    return body if "actions" in body or "protocol" in body else None


def endpoint_hosts(connector: Mapping[str, Any]) -> set[str]:
    """The hosts of a connector's action URLs (and MCP url), parameters substituted."""
    parameters = connector.get("parameters") or {}
    urls = [a.get("url") for a in connector.get("actions") or [] if isinstance(a, Mapping)]
    urls.append(connector.get("url"))
    hosts = set()
    for url in urls:
        if isinstance(url, str):
            rendered = substitute(url, {str(k): str(v) for k, v in parameters.items()})
            hosts.add(urlsplit(rendered).netloc or rendered)
    return hosts


def _list(hosts: set[str]) -> str:
    return ", ".join(sorted(hosts)) or "(none)"


def _public(change: Change) -> Iterable[str]:
    after = (change.after or {}).get("access_mode")
    before = (change.before or {}).get("access_mode")
    if after == "public" and before != "public":
        yield f"access widened to public (was {before or 'unset'})"


def _trusted(change: Change) -> Iterable[str]:
    settings = (change.after or {}).get("settings") or {}
    new = settings.get(SETTING_KEY) or []
    old = (change.before or {}).get("patterns") or []
    for pattern in new:
        if pattern in old:
            continue
        note = " (matches any host)" if is_broad(pattern) else ""
        yield f"trusted endpoint pattern added: {pattern}{note}"


def is_broad(pattern: str) -> bool:
    """Whether a pattern lets any host through: no scheme, or a host part starting `.*`."""
    _, sep, rest = pattern.partition("://")
    if not sep:
        return True
    host = rest.split("/", 1)[0]
    return not host or host.startswith(_BROAD)


def _access_control(change: Change) -> Iterable[str]:
    settings = (change.after or {}).get("settings") or {}
    for field in change.fields:
        key = PREFIX + field.path
        value = settings.get(key)
        if key in _ACCESS_FLAGS and str(value).lower() == "false":
            yield f"access control turned off: {field.path}"
        if key == _PRIVATE_IP and str(value).lower() == "true":
            yield "connectors may call private addresses (connector.private_ip_enabled: true)"
