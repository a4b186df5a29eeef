"""The built-in rules: the classic ML Commons mistakes, each with an ID and a severity.

Each rule has a default severity, a one-line rationale, a fix hint and, where it takes
them, parameters with defaults; a repository changes any of that in its project file
(`policy.configs`). A rule reads one Subject (a manifest and, on a plan, its change) and
yields Hits: a message and the field path it points at, which `policy.evaluating` turns
into a located Finding. Defaults keep an existing repository's exit codes unless a rule
is a plain mistake (a trusted pattern that admits any host, TLS verification off).
docs/policy.md lists every rule with a manifest that triggers it; a test keeps the two
in step. Pure: no I/O, no DNS (a host name is judged as written), never a secret value.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from reconciler.findings import FindingSeverity
from reconciler.manifests.locating import FieldPath
from reconciler.manifests.models import (
    AccessControlManifest,
    ConnectorLifecycle,
    ConnectorManifest,
    Lifecycle,
    ModelGroupManifest,
    ModelLifecycle,
    ModelManifest,
    TrustedEndpointsManifest,
)
from reconciler.mlcommons.endpoints import is_catch_all
from reconciler.planning.reviewing import is_broad
from reconciler.plans import Action
from reconciler.policy.subjects import Subject, connector_bodies, endpoints, headers
from reconciler.resources import Kind
from reconciler.secrets.headers import is_literal_credential

_PRIVATE_IP_SETTING = "connector.private_ip_enabled"


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    """One thing a rule found in one resource."""

    message: str
    at: FieldPath
    """Where in the document (a path `LoadedManifest.locate` understands)."""
    key: bool = False
    """Point at the mapping key of `at` rather than its value (a field that is missing
    is reported at its parent's key)."""


Check = Callable[[Subject, Mapping[str, Any]], Iterable[Hit]]
"""(subject, parameters) -> hits."""


@dataclasses.dataclass(frozen=True)
class BuiltinRule:
    """One built-in rule and its defaults."""

    id: str
    severity: FindingSeverity
    """The default severity."""
    rationale: str
    hint: str
    check: Check = dataclasses.field(repr=False)
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Parameter defaults; a repository's values must have the same shape."""
    choices: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    """The strings a parameter may hold (in a list, or in the lists of a mapping);
    a parameter not named here takes any string."""


# --- connectors ---------------------------------------------------------------------


def _plain_http(subject: Subject, params: Mapping[str, Any]) -> Iterator[Hit]:
    for body in _bodies(subject):
        for endpoint in endpoints(body):
            if endpoint.scheme == "http":
                yield Hit(f"connector URL uses plain http: {endpoint.url}", endpoint.at)


def _private_address(subject: Subject, params: Mapping[str, Any]) -> Iterator[Hit]:
    for body in _bodies(subject):
        for endpoint in endpoints(body):
            host = endpoint.host
            if host is not None and _is_private(host):
                yield Hit(f"connector URL calls a private address: {host}", endpoint.at)


def _is_private(host: str) -> bool:
    """Loopback, private, link-local, unspecified or `localhost` (§3.2's list)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_reserved
    )


def _host_not_allowed(subject: Subject, params: Mapping[str, Any]) -> Iterator[Hit]:
    allowed = [str(h).lower() for h in params["hosts"]]
    if not allowed:  # not configured: the rule has nothing to compare with
        return
    for body in _bodies(subject):
        for endpoint in endpoints(body):
            host = endpoint.host
            if host is not None and not any(fnmatch.fnmatchcase(host, p) for p in allowed):
                yield Hit(f"connector host {host} is not in the allowed list", endpoint.at)


def _credential_header(subject: Subject, params: Mapping[str, Any]) -> Iterator[Hit]:
    for body in _bodies(subject):
        for name, value, at in headers(body):
            if is_literal_credential(name, value):
                # The header's name only: its value is a secret.
                yield Hit(
                    f"header {name} carries a credential written out, not ${{credential.*}}", at
                )


def _skip_ssl(subject: Subject, params: Mapping[str, Any]) -> Iterator[Hit]:
    for body in _bodies(subject):
        config = body.spec.client_config
        if config is not None and config.skip_ssl_verification:
            yield Hit(
                "client_config.skip_ssl_verification is true: the connector does not check "
                "the server's certificate",
                (*body.at, "client_config", "skip_ssl_verification"),
            )


def _bodies(subject: Subject) -> list[Any]:
    return connector_bodies(subject.document) if subject.document is not None else []


# --- access -------------------------------------------------------------------------


def _public(subject: Subject, params: Mapping[str, Any]) -> Iterator[Hit]:
    manifest = subject.document.manifest if subject.document is not None else None
    if not isinstance(manifest, ModelGroupManifest | ConnectorManifest | ModelManifest):
        return
    if manifest.spec.access_mode != "public":
        return
    yield Hit(_public_message(subject), ("spec", "access_mode"))


def _public_message(subject: Subject) -> str:
    """Speaks of the change when there is a plan: widened, created, or unchanged."""
    change = subject.change
    if change is None:
        return "access_mode is public: every user of the cluster can use it"
    if change.action is Action.CREATE:
        return "created with public access"
    before = (change.before or {}).get("access_mode") or (change.before or {}).get("access")
    if before != "public":
        return f"access widened from {before or 'unset'} to public"
    return "access is public (unchanged)"


def _add_all(subject: Subject, params: Mapping[str, Any]) -> Iterator[Hit]:
    manifest = subject.document.manifest if subject.document is not None else None
    kinds = ModelGroupManifest | ConnectorManifest | ModelManifest
    if isinstance(manifest, kinds) and manifest.spec.add_all_backend_roles:
        yield Hit(
            "add_all_backend_roles is true: every backend role of the applying user gets access",
            ("spec", "add_all_backend_roles"),
        )
    for body in _bodies(subject):
        if body.at != ("spec",) and body.spec.add_all_backend_roles:
            yield Hit(
                "the inline connector sets add_all_backend_roles",
                (*body.at, "add_all_backend_roles"),
            )


def _access_control_off(subject: Subject, params: Mapping[str, Any]) -> Iterator[Hit]:
    manifest = subject.document.manifest if subject.document is not None else None
    if not isinstance(manifest, AccessControlManifest):
        return
    for field in ("connector_access_control_enabled", "model_access_control_enabled"):
        if getattr(manifest.spec, field) is False:
            yield Hit(f"{field} is false: access control is off", ("spec", field))


def _private_ip_enabled(subject: Subject, params: Mapping[str, Any]) -> Iterator[Hit]:
    manifest = subject.document.manifest if subject.document is not None else None
    if not isinstance(manifest, AccessControlManifest):
        return
    value = manifest.spec.settings.get(_PRIVATE_IP_SETTING)
    if value is True or str(value).lower() == "true":
        yield Hit(
            f"{_PRIVATE_IP_SETTING} is true: connectors may call private addresses",
            ("spec", "settings", _PRIVATE_IP_SETTING),
        )


# --- trusted endpoints and lifecycle --------------------------------------------------


def _any_host(subject: Subject, params: Mapping[str, Any]) -> Iterator[Hit]:
    manifest = subject.document.manifest if subject.document is not None else None
    if not isinstance(manifest, TrustedEndpointsManifest):
        return
    for index, pattern in enumerate(manifest.spec.patterns):
        if is_catch_all(pattern) or is_broad(pattern):
            yield Hit(
                f"trusted endpoint pattern {pattern} admits any host",
                ("spec", "patterns", index),
            )


def _lifecycle(subject: Subject, params: Mapping[str, Any]) -> Iterator[Hit]:
    document, environment = subject.document, subject.environment
    if document is None or subject.kind not in params["kinds"]:
        return
    required: Mapping[str, list[str]] = params["fields"]
    fields = [*required.get("*", [])]
    if environment is not None:
        fields += required.get(environment, [])
    lifecycle = getattr(document.manifest, "lifecycle", None)
    where = f" in {environment}" if environment is not None else ""
    written = lifecycle.model_fields_set if lifecycle is not None else set()
    for field in dict.fromkeys(fields):
        if not getattr(lifecycle, field, None):
            message = f"lifecycle.{field} is not set (required{where})"
            if field in written:  # written as false or empty: point at it
                yield Hit(message, ("lifecycle", field))
            else:
                yield Hit(message, ("lifecycle",), key=True)


BUILTIN_RULES: tuple[BuiltinRule, ...] = (
    BuiltinRule(
        "trusted-endpoint-any-host",
        FindingSeverity.ERROR,
        "A trusted-endpoint pattern such as .* lets any connector send data and credentials "
        "to any host.",
        "Trust each provider's URL prefix, e.g. ^https://api\\.openai\\.com/v1/.*$.",
        _any_host,
    ),
    BuiltinRule(
        "connector-plain-http",
        FindingSeverity.WARNING,
        "A connector URL over plain http sends prompts, answers and header credentials "
        "unencrypted.",
        "Use an https:// URL.",
        _plain_http,
    ),
    BuiltinRule(
        "connector-private-address",
        FindingSeverity.WARNING,
        "A connector calling a private, loopback or link-local address reaches inside the "
        "cluster's network (metadata services, internal APIs).",
        "Call the service by its public https name, or allow this rule for a self-hosted model.",
        _private_address,
    ),
    BuiltinRule(
        "connector-host-not-allowed",
        FindingSeverity.ERROR,
        "A connector host outside the repository's allowed list is a path for data to leave.",
        "Use an allowed host, or add the host to policy.builtin.connector-host-not-allowed.hosts.",
        _host_not_allowed,
        params={"hosts": []},
    ),
    BuiltinRule(
        "credential-in-header",
        FindingSeverity.WARNING,
        "Connector headers are stored in clear and returned to every reader of the connector; "
        "only credential is encrypted.",
        "Move the value to spec.credential and write the header as ${credential.NAME}.",
        _credential_header,
    ),
    BuiltinRule(
        "connector-skip-ssl-verification",
        FindingSeverity.ERROR,
        "With skip_ssl_verification the connector accepts any certificate, so anyone on the "
        "path can read and change its traffic.",
        "Remove client_config.skip_ssl_verification, or trust the server's certificate.",
        _skip_ssl,
    ),
    BuiltinRule(
        "access-public",
        FindingSeverity.WARNING,
        "Public access lets every user of the cluster use the resource.",
        "Use access_mode: restricted with backend_roles, or private.",
        _public,
    ),
    BuiltinRule(
        "add-all-backend-roles",
        FindingSeverity.WARNING,
        "add_all_backend_roles grants whatever roles the applying user (often a CI account) "
        "happens to have, not the roles the repository names.",
        "List the backend_roles explicitly.",
        _add_all,
    ),
    BuiltinRule(
        "access-control-disabled",
        FindingSeverity.WARNING,
        "With access control off every user can use every connector or model.",
        "Set connector_access_control_enabled and model_access_control_enabled to true.",
        _access_control_off,
    ),
    BuiltinRule(
        "private-ip-enabled",
        FindingSeverity.WARNING,
        "connector.private_ip_enabled lets every connector call private addresses.",
        "Leave it false, or on 3.7+ restrict private endpoints with "
        "trusted_connector_private_endpoints_regex.",
        _private_ip_enabled,
    ),
    BuiltinRule(
        "lifecycle-required",
        FindingSeverity.ERROR,
        "A model that serves an environment's traffic must not be deleted or replaced by a "
        "plan by accident.",
        "Set the lifecycle field, e.g. lifecycle.prevent_destroy: true.",
        _lifecycle,
        params={"kinds": ["Model"], "fields": {"production": ["prevent_destroy"]}},
        choices={
            "kinds": frozenset(kind.value for kind in Kind),
            "fields": frozenset(
                name
                for model in (Lifecycle, ConnectorLifecycle, ModelLifecycle)
                for name in model.model_fields
            ),
        },
    ),
)
"""Every built-in rule, in the order docs/policy.md lists them."""

RULES_BY_ID: Mapping[str, BuiltinRule] = {rule.id: rule for rule in BUILTIN_RULES}
