"""ML Commons versions and what each one can do.

`Version` parses what a cluster reports (`2.19.1`) or a user types (`--cluster-version 3.8`);
`capabilities(version)` answers every version-dependent question the checks, the planner and
the renderers ask, from the timeline of reference §11. Pure data: no I/O, and nothing here
knows about manifests or plans. Callers compare capabilities, never version numbers, so a
rule lives in exactly one place.
"""

from __future__ import annotations

import dataclasses
import re

_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?(?:\.\d+)?(?:-[0-9A-Za-z.-]+)?")


@dataclasses.dataclass(frozen=True, order=True, slots=True)
class Version:
    """An OpenSearch / ML Commons release; the plugin tag `X.Y.Z.0` ships with `X.Y.Z`."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> Version:
        """Read `2.19`, `2.19.1`, `2.19.1.0` or `3.0.0-SNAPSHOT`; raise ValueError otherwise."""
        match = _VERSION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{text!r} is not a version such as 2.19 or 3.8.0")
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def short(self) -> str:
        """`major.minor`, the form used in messages (`needs 2.15+`)."""
        return f"{self.major}.{self.minor}"

    @property
    def line(self) -> Version:
        """The release line, patch dropped: behaviour changes only between minors."""
        return Version(self.major, self.minor)


def _v(text: str) -> Version:
    return Version.parse(text)


SUPPORTED: tuple[Version, ...] = tuple(
    [Version(2, minor) for minor in range(9, 20)] + [Version(3, minor) for minor in range(9)]
)
"""Every release line osml knows facts for: 2.9-2.19 and 3.0-3.8 (reference §0)."""

OLDEST: Version = SUPPORTED[0]
LATEST: Version = Version(3, 8, 0)
"""The newest release the reference was read from; the default target."""


def is_supported(version: Version) -> bool:
    """Whether osml has facts for this release line (patch releases share their line's)."""
    return version.line in SUPPORTED


# Protocols, action types and methods with the version that introduced them (§2.2, §2.3).
PROTOCOL_SINCE: dict[str, Version] = {
    "http": _v("2.9"),
    "aws_sigv4": _v("2.9"),
    "mcp_sse": _v("3.0"),
    "mcp_streamable_http": _v("3.3"),
}
MCP_PROTOCOLS = frozenset({"mcp_sse", "mcp_streamable_http"})
"""Protocols that carry a top-level url instead of actions; no credential required."""

ACTION_TYPE_SINCE: dict[str, Version] = {
    "PREDICT": _v("2.9"),
    "EXECUTE": _v("2.15"),
    "BATCH_PREDICT": _v("2.16"),
    "CANCEL_BATCH_PREDICT": _v("2.17"),
    "BATCH_PREDICT_STATUS": _v("2.17"),
}
HTTP_METHOD_SINCE: dict[str, Version] = {
    "POST": _v("2.9"),
    "GET": _v("2.9"),
    "PUT": _v("3.5"),
    "DELETE": _v("3.5"),
}


def _since(table: dict[str, Version], version: Version) -> frozenset[str]:
    return frozenset(name for name, since in table.items() if since <= version.line)


@dataclasses.dataclass(frozen=True, slots=True)
class Capabilities:
    """What one ML Commons version does; build it with `capabilities(version)`."""

    version: Version
    update_connector: bool
    """Update Connector API always available (2.12+, §2.9)."""
    update_connector_behind_flag: bool
    """Update Connector exists only behind `update_connector.enabled` (2.11, §2.9)."""
    update_model: bool
    """Update Model API (2.12+, §6.8)."""
    deployed_model_update: bool
    """Update Model works on deployed models and refreshes their cache (2.12+, §6.8)."""
    get_model_group: bool
    """GET model group by ID (2.12+, §5.1); earlier, search instead."""
    register_returns_model_id: bool
    """Remote register answers synchronously with `model_id` (2.11+, §6.5)."""
    deploy_sync_response: bool
    """Deploy answers `COMPLETED` with `task_type` (2.11+, §6.9)."""
    client_config: bool
    """Connector `client_config` accepted (2.13+, §2.4)."""
    client_config_retry_fields: bool
    """Retry fields of `client_config` (2.15+, §2.4)."""
    skip_ssl_verification: bool
    """`client_config.skip_ssl_verification` (3.5+, §2.4)."""
    client_config_timeouts_in_seconds: bool
    """Timeout defaults are 30 seconds rather than 30000 (3.6+: §2.4 says 3.7, but the
    3.6.0.0 tag already has the #4765 backport)."""
    safe_text_names: bool
    """Names and descriptions must be safe text (3.1+, §2.5)."""
    credential_required: bool
    """Non-MCP connectors need a non-empty credential (2.19+, §2.2)."""
    private_ip_setting: bool
    """`connector.private_ip_enabled` exists (2.15+, §3.2)."""
    search_missing_index_empty: bool
    """Search on a missing index answers an empty result, not 404 (2.12+, §2.8)."""
    groups_auto_deleted: bool
    """Deleting a group's last model deletes the group (2.9-2.10, §5.7)."""
    reuse_same_named_group: bool
    """Register without a group joins a same-named group (2.11+, §6.3)."""
    auto_deploy_on_predict: bool
    """Predict deploys an undeployed remote model (2.13+, §6.9)."""
    trusted_regex_checked_at_predict: bool
    """Trusted endpoints are re-checked at predict time (3.7+, §3.1)."""
    trusted_regex_validator: bool
    """The settings PUT rejects ReDoS-prone or over-long regexes (3.7+, §3.1)."""
    trusted_error_echoes_url: bool
    """The trusted-endpoint error names the URL (2.9-3.1, §2.5)."""
    parameters_any_json: bool
    """Connector parameter values may be any JSON, stringified (2.10+, §2.2); 2.9 refuses
    nested objects and lists."""
    parameters_merged_on_update: bool
    """Update Connector merges `parameters` instead of replacing them (2.16+, §2.9)."""
    connector_timestamps: bool
    """Connectors get `created_time`/`last_updated_time` (2.18+, §2.7)."""
    named_actions: bool
    """Connector actions may carry a `name` (3.5+, §2.3)."""
    structured_output: bool
    """Actions accept `supports_structured_output` (3.7+, §2.3)."""
    header_parameter_placeholders: bool
    """`${parameters.*}` are substituted in action headers, with a blocklist (3.7+, §2.3)."""
    provisioned_by: bool
    """`provisioned_by` attribution on connectors and models (3.7+, §2.2, §6.2)."""
    text_embedding_config_checked: bool
    """Remote text-embedding `model_config` is validated at register (3.1+, §6.2)."""
    model_enable_and_rate_limit: bool
    """Model `is_enabled` and `rate_limiter` (2.12+, §6.2)."""
    deploy_setting: bool
    """Model `deploy_setting` and `guardrails` (2.13+, §6.2)."""
    model_interface: bool
    """Model `interface` and `deploy_setting.model_ttl_minutes` (2.14+, §6.2)."""
    status_codes_4xx: bool
    """Not-found and conflict answers are 404/409/400 rather than 500 (2.12+, §1.3)."""
    model_group_delete_conflict: bool
    """Deleting a group that has models answers 409 (2.19+, §5.7)."""
    force_undeploy_state: bool
    """Undeploy with no cached node still marks the model UNDEPLOYED (2.19+, §6.10)."""
    protocols: frozenset[str]
    """Connector protocols the version accepts (§2.2)."""
    action_types: frozenset[str]
    """Connector action types, upper-case (§2.3)."""
    http_methods: frozenset[str]
    """Outbound methods an action may use, upper-case (§2.3)."""

    @property
    def mcp_connectors(self) -> bool:
        """MCP connector protocols exist (3.0+, §2.2)."""
        return bool(self.protocols & MCP_PROTOCOLS)


def capabilities(version: Version) -> Capabilities:
    """Everything version-dependent about `version`, from the timeline of §11."""
    at = version.line

    def since(text: str) -> bool:
        return at >= _v(text)

    return Capabilities(
        version=version,
        update_connector=since("2.12"),
        update_connector_behind_flag=at == _v("2.11"),
        update_model=since("2.12"),
        deployed_model_update=since("2.12"),
        get_model_group=since("2.12"),
        register_returns_model_id=since("2.11"),
        deploy_sync_response=since("2.11"),
        client_config=since("2.13"),
        client_config_retry_fields=since("2.15"),
        skip_ssl_verification=since("3.5"),
        client_config_timeouts_in_seconds=since("3.6"),
        safe_text_names=since("3.1"),
        credential_required=since("2.19"),
        private_ip_setting=since("2.15"),
        search_missing_index_empty=since("2.12"),
        groups_auto_deleted=not since("2.11"),
        reuse_same_named_group=since("2.11"),
        auto_deploy_on_predict=since("2.13"),
        trusted_regex_checked_at_predict=since("3.7"),
        trusted_regex_validator=since("3.7"),
        trusted_error_echoes_url=not since("3.2"),
        parameters_any_json=since("2.10"),
        parameters_merged_on_update=since("2.16"),
        connector_timestamps=since("2.18"),
        named_actions=since("3.5"),
        structured_output=since("3.7"),
        header_parameter_placeholders=since("3.7"),
        provisioned_by=since("3.7"),
        text_embedding_config_checked=since("3.1"),
        model_enable_and_rate_limit=since("2.12"),
        deploy_setting=since("2.13"),
        model_interface=since("2.14"),
        status_codes_4xx=since("2.12"),
        model_group_delete_conflict=since("2.19"),
        force_undeploy_state=since("2.19"),
        protocols=_since(PROTOCOL_SINCE, at),
        action_types=_since(ACTION_TYPE_SINCE, at),
        http_methods=_since(HTTP_METHOD_SINCE, at),
    )
