"""Offline semantic checks of a loaded manifest set against a target ML Commons version.

`check(manifests, version=...)` is called by `osml validate`, `plan` and `apply` after
loading and before anything touches a cluster. It reports every problem of the run (never
only the first), each located at its file:line:col and resource. References between
manifests, names, model settings, trusted endpoints and AccessControl settings are checked
here; connector bodies in `connector_checking`, their templates in `template_checking`,
pipelines and agents in `consumer_checking`,
access fields in `access_checking` and cross-manifest group names in `group_checking`.
The rules come from the reference (sections cited inline). Pure: no network, no secrets
resolved, nothing printed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from reconciler.errors import Problem
from reconciler.manifests.access_checking import check_connector_access, check_group_access
from reconciler.manifests.aws_source_checking import check_aws_sources
from reconciler.manifests.connector_checking import check_connector
from reconciler.manifests.consumer_checking import (
    check_agent,
    check_ingest_pipeline,
    check_search_pipeline,
)
from reconciler.manifests.contexts import (
    CheckContext,
    Reporter,
    did_you_mean,
    needs,
)
from reconciler.manifests.group_checking import check_group_names
from reconciler.manifests.loading import LoadedManifest, ManifestSet
from reconciler.manifests.models import (
    AccessControlManifest,
    ConnectorManifest,
    ModelConfig,
    ModelGroupManifest,
    ModelManifest,
    ModelSpec,
    TrustedEndpointsManifest,
    server_name,
)
from reconciler.mlcommons import endpoints, names, settings
from reconciler.mlcommons.flavors import Flavor, unsettable
from reconciler.mlcommons.versions import MCP_PROTOCOLS, Version, capabilities
from reconciler.resources import Kind, ResourceKey


def check(
    manifests: ManifestSet,
    *,
    version: Version,
    declared: Iterable[ResourceKey] = (),
    flavor: Flavor = Flavor.OPENSEARCH,
) -> list[Problem]:
    """Every semantic problem of `manifests` for a cluster running `version`.

    `manifests` may be the valid part of a run whose other documents failed their own
    schema (`Reading.manifests`); `declared` then names every resource of the run, so
    that a reference to an invalid one is not reported as dangling: it exists, and its
    own problems are reported where it stands.
    """
    context = build_context(manifests.documents, version=version, declared=declared, flavor=flavor)
    problems: list[Problem] = []
    for document in manifests.documents:
        checker = _CHECKS.get(document.key.kind)
        if checker is not None:
            checker(document.manifest, Reporter(document, problems), context)
    check_group_names(manifests.documents, problems, context=context)
    return problems


def build_context(
    documents: Sequence[LoadedManifest],
    *,
    version: Version,
    declared: Iterable[ResourceKey] = (),
    flavor: Flavor = Flavor.OPENSEARCH,
) -> CheckContext:
    """What the per-document checks need to know about the whole set."""
    manifests = [document.manifest for document in documents]
    named = list(declared)
    connectors = [m for m in manifests if isinstance(m, ConnectorManifest)]
    access = [m.spec for m in manifests if isinstance(m, AccessControlManifest)]
    trusted = [m.spec for m in manifests if isinstance(m, TrustedEndpointsManifest)]
    mode = None
    if trusted:
        mode = "exact" if any(spec.mode == "exact" for spec in trusted) else "merge"
    patterns = [pattern for spec in trusted for pattern in spec.patterns]
    valid = {document.key for document in documents}
    return CheckContext(
        version=version,
        capabilities=capabilities(version),
        connectors=frozenset(m.metadata.name for m in connectors) | _names(named, Kind.CONNECTOR),
        model_groups=frozenset(
            m.metadata.name for m in manifests if isinstance(m, ModelGroupManifest)
        )
        | _names(named, Kind.MODEL_GROUP),
        connector_access_control=_enabled(access, "connector_access_control_enabled"),
        model_access_control=_enabled(access, "model_access_control_enabled"),
        trusted_patterns=endpoints.effective_patterns(patterns, mode=mode, version=version),
        flavor=flavor,
        mcp_connectors=frozenset(
            m.metadata.name for m in connectors if m.spec.protocol in MCP_PROTOCOLS
        ),
        unknown_settings=frozenset(
            key.kind for key in named if key.kind.is_setting and key not in valid
        ),
        declared={
            kind: frozenset(key.name for key in (*valid, *named) if key.kind is kind)
            for kind in Kind
        },
    )


def _names(keys: Sequence[ResourceKey], kind: Kind) -> frozenset[str]:
    return frozenset(key.name for key in keys if key.kind is kind)


def _enabled(specs: Sequence[Any], flag: str) -> bool:
    # The flag may be written as a field of the spec or among its settings, short or full (§9).
    for spec in specs:
        given = {settings.short_key(key): value for key, value in spec.settings.items()}
        if getattr(spec, flag) is True or given.get(flag) is True:
            return True
    return False


# --- connectors ----------------------------------------------------------------------


def _check_connector_manifest(
    manifest: ConnectorManifest, report: Reporter, context: CheckContext
) -> None:
    spec = manifest.spec
    check_connector(spec, report.at("spec"), context=context, inline=False)
    check_aws_sources(spec, report.at("spec"))
    if context.capabilities.safe_text_names:
        _check_name(manifest, report, label=names.CONNECTOR_NAME)
        _check_description(spec.description, report, label=names.CONNECTOR_DESCRIPTION)
    if context.capabilities.provisioned_by:
        _check_provisioned_by(spec.provisioned_by, report, label=names.CONNECTOR_PROVISIONED_BY)
    check_connector_access(spec, report.at("spec"), context=context)
    if spec.access_mode == "public" and spec.credential:
        report.warning(
            "access_mode public lets every user of the cluster call this connector with its "
            "credentials",
            "spec",
            "access_mode",
        )


# --- model groups --------------------------------------------------------------------


def _check_group_manifest(
    manifest: ModelGroupManifest, report: Reporter, context: CheckContext
) -> None:
    if context.capabilities.safe_text_names:
        _check_name(manifest, report, label=names.MODEL_GROUP_NAME)
        _check_description(manifest.spec.description, report, label=names.MODEL_GROUP_DESCRIPTION)
    check_group_access(manifest.spec, report.at("spec"), context=context)


# --- models --------------------------------------------------------------------------

# Model fields a version may not know; the server skips unknown fields silently (§1.4),
# which would leave a perpetual difference in every plan.
_MODEL_FIELDS_SINCE = (
    ("is_enabled", "model_enable_and_rate_limit", "2.12"),
    ("rate_limiter", "model_enable_and_rate_limit", "2.12"),
    ("deploy_setting", "deploy_setting", "2.13"),
    ("guardrails", "deploy_setting", "2.13"),
    ("interface", "model_interface", "2.14"),
    ("provisioned_by", "provisioned_by", "3.7"),
)


_FRAMEWORKS = (
    "HUGGINGFACE_TRANSFORMERS",
    "SENTENCE_TRANSFORMERS",
    "HUGGINGFACE_TRANSFORMERS_NEURON",
)
"""`model_config.framework_type` values, read case-insensitively (`BaseModelConfig`)."""
_TIME_UNITS = ("NANOSECONDS", "MICROSECONDS", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS")
"""`rate_limiter.unit` is a java.util.concurrent.TimeUnit name (§6.2)."""


def _check_model_manifest(manifest: ModelManifest, report: Reporter, context: CheckContext) -> None:
    spec = manifest.spec
    if context.capabilities.safe_text_names:
        _check_name(manifest, report, label=names.MODEL_NAME)
        _check_description(spec.description, report, label=names.MODEL_DESCRIPTION)
    if context.capabilities.provisioned_by:
        _check_provisioned_by(spec.provisioned_by, report, label=names.MODEL_PROVISIONED_BY)
    _check_references(spec, report, context)
    if spec.inline_connector is not None:
        check_connector(
            spec.inline_connector, report.at("spec", "connector"), context=context, inline=True
        )
        check_aws_sources(spec.inline_connector, report.at("spec", "connector"))
    _check_model_fields(spec, report, context)
    _check_model_config(spec, report, context)
    _check_model_access(spec, report, context)


def _check_references(spec: ModelSpec, report: Reporter, context: CheckContext) -> None:
    ref = spec.connector_ref
    if ref is not None:
        _check_reference("connector", ref, context.connectors, report)
        if ref in context.mcp_connectors:
            report.error(
                f"connector '{ref}' uses an MCP protocol; the server refuses the model with "
                '"Cannot Create a Model from MCP Connector"',
                "spec",
                "connector",
            )
    if spec.model_group is not None:
        _check_reference("model_group", spec.model_group, context.model_groups, report)


def _check_reference(field: str, name: str, defined: frozenset[str], report: Reporter) -> None:
    if name in defined:
        return
    close = did_you_mean(name, defined)
    hint = f"; did you mean '{close}'?" if close else ""
    report.error(f"{field} '{name}' is not defined{hint}", "spec", field)


def _check_model_fields(spec: ModelSpec, report: Reporter, context: CheckContext) -> None:
    caps = context.capabilities
    for field, capability, since in _MODEL_FIELDS_SINCE:
        if getattr(spec, field) is not None and not getattr(caps, capability):
            report.error(needs(field, since, version=context.version), "spec", field)
    limiter = spec.rate_limiter
    if limiter is not None and limiter.unit.upper() not in _TIME_UNITS:
        close = did_you_mean(limiter.unit.upper(), _TIME_UNITS)
        hint = f"; did you mean {close}?" if close else f" ({', '.join(_TIME_UNITS)})"
        report.error(f"{limiter.unit} is not a time unit{hint}", "spec", "rate_limiter", "unit")
    setting = spec.deploy_setting
    if setting is not None and setting.model_ttl_minutes is not None and not caps.model_interface:
        message = needs("deploy_setting.model_ttl_minutes", "2.14", version=context.version)
        report.error(message, "spec", "deploy_setting", "model_ttl_minutes")


def _check_model_config(spec: ModelSpec, report: Reporter, context: CheckContext) -> None:
    """§6.2: a known framework type; on 3.1+ a remote text-embedding model must say its shape."""
    config = spec.model_config_
    if config is None:
        return
    if config.framework_type is not None and config.framework_type.upper() not in _FRAMEWORKS:
        report.error(
            f"framework_type {config.framework_type} is not one of {', '.join(_FRAMEWORKS)}; "
            'the server refuses it with "Wrong framework type"',
            "spec",
            "model_config",
            "framework_type",
        )
    if context.capabilities.text_embedding_config_checked:
        error = _embedding_config_error(config)
        if error is not None:
            report.error(error, "spec", "model_config")


def _embedding_config_error(config: ModelConfig) -> str | None:
    # `RemoteModelConfig.validateTextEmbeddingConfig`: the first missing piece only.
    if (config.model_type or "").lower() != "text_embedding":
        return None
    if config.embedding_dimension is None:
        return "Embedding dimension must be provided for remote text embedding model"
    if config.framework_type is None:
        return "Framework type must be provided for remote text embedding model"
    if "space_type" not in (config.additional_config or {}):
        return "Space type must be provided in additional_config for remote text embedding model"
    return None


def _check_model_access(spec: ModelSpec, report: Reporter, context: CheckContext) -> None:
    """§6.2: the access fields of a model only shape a group the server creates for it."""
    given = [
        field
        for field in ("access_mode", "backend_roles", "add_all_backend_roles")
        if getattr(spec, field) is not None
    ]
    if not given:
        return
    if spec.model_group is not None or spec.model_group_id is not None:
        report.warning(
            f"{' and '.join(given)} are ignored: the server only uses them when it creates "
            "a group for the model, and this model names its group",
            "spec",
            given[0],
        )
        return
    check_group_access(spec, report.at("spec"), context=context)


# --- names ---------------------------------------------------------------------------


def _check_name(
    manifest: ConnectorManifest | ModelGroupManifest | ModelManifest,
    report: Reporter,
    *,
    label: str,
) -> None:
    """§2.5, §5.2, §6.2 (3.1+): the name sent to the server must be safe text."""
    error = names.name_error(server_name(manifest), label=label)
    if error is not None:
        path = ("spec", "name") if manifest.spec.name is not None else ("metadata", "name")
        report.error(error, *path)


def _check_description(description: str | None, report: Reporter, *, label: str) -> None:
    error = names.description_error(description, label=label)
    if error is not None:
        report.error(error, "spec", "description")


def _check_provisioned_by(value: str | None, report: Reporter, *, label: str) -> None:
    # 3.7+: validated like a description (optional, safe text when not blank).
    error = names.description_error(value, label=label)
    if error is not None:
        report.error(error, "spec", "provisioned_by")


# --- trusted endpoints ---------------------------------------------------------------


def _check_trusted_manifest(
    manifest: TrustedEndpointsManifest, report: Reporter, context: CheckContext
) -> None:
    for index, pattern in enumerate(manifest.spec.patterns):
        _check_pattern(pattern, report.at("spec", "patterns", index), context)


def _check_pattern(pattern: str, report: Reporter, context: CheckContext) -> None:
    error = endpoints.pattern_error(pattern)
    if error is not None:
        report.error(f"pattern {pattern} is not a valid regex: {error}")
        return
    refusal = endpoints.validator_error(pattern)
    if refusal is not None and context.capabilities.trusted_regex_validator:
        # §3.1: 3.7+ refuses the whole settings update for one such pattern.
        report.error(f'the server refuses this pattern: "{refusal}"')
    if endpoints.is_catch_all(pattern):
        report.warning(f"pattern {pattern} matches any host; it trusts every connector URL")
    if not endpoints.is_anchored(pattern):
        report.warning(f"pattern {pattern} is not anchored with ^ and $")
    if endpoints.allows_plain_http(pattern):
        report.warning(f"pattern {pattern} allows plain http://")


# --- access control settings ---------------------------------------------------------


def _check_access_control_manifest(
    manifest: AccessControlManifest, report: Reporter, context: CheckContext
) -> None:
    for key, value in manifest.spec.settings.items():
        _check_setting(key, value, report.at("spec", "settings", key), context)


def _check_setting(key: str, value: Any, report: Reporter, context: CheckContext) -> None:
    """§9: the key exists on the target version, can be set at runtime, has the right type."""
    setting = settings.lookup(key)
    version = context.version
    if setting is None:
        close = settings.closest_key(key, version=version)
        hint = f"; did you mean {close}?" if close else ""
        report.error(f"unknown setting {key}{hint}", key=True)
        return
    if setting.key == "trusted_connector_endpoints_regex":
        report.error(
            "trusted endpoints are set with a TrustedEndpoints manifest, not here", key=True
        )
        return
    if not setting.exists_in(version):
        if setting.until is not None and version.line > setting.until:
            last = setting.until.short
            report.error(f"setting {setting.key} was removed after ML Commons {last}", key=True)
        else:
            report.error(
                needs(f"setting {setting.key}", setting.since.short, version=version), key=True
            )
        return
    if unsettable(setting.key, context.flavor):
        report.error(
            f"setting {setting.key} cannot be set on Amazon OpenSearch Service (flavor "
            "aws-managed): the service manages it and refuses the settings update",
            key=True,
        )
        return
    if setting.scope is not settings.Scope.DYNAMIC:
        report.error(
            f"setting {setting.key} is {setting.scope.value}: it can only be set in "
            "opensearch.yml before the node starts, not through the cluster settings API"
        )
    error = settings.type_error(settings.at_version(setting, version=version), value)
    if error is not None:
        report.error(f"setting {setting.key} {error}")


_CHECKS: dict[Kind, Callable[[Any, Reporter, CheckContext], None]] = {
    Kind.CONNECTOR: _check_connector_manifest,
    Kind.MODEL_GROUP: _check_group_manifest,
    Kind.MODEL: _check_model_manifest,
    Kind.TRUSTED_ENDPOINTS: _check_trusted_manifest,
    Kind.ACCESS_CONTROL: _check_access_control_manifest,
    Kind.INGEST_PIPELINE: check_ingest_pipeline,
    Kind.SEARCH_PIPELINE: check_search_pipeline,
    Kind.AGENT: check_agent,
}
