"""Version profiles: every ML Commons behaviour that differs between releases, as data.

There is one profile per ML Commons minor release from 2.9 to 3.8 (`3.x` and `latest` name
the newest). The sandbox core builds one `Profile` at start (`get_profile(name)`) and puts it
in the request context; every ML handler reads its behaviour from the profile's fields instead
of comparing version numbers itself, so a version difference lives in exactly one place. Each
gate below cites the reference section it comes from (the timeline is §11); where the
reference is silent or the release tags say otherwise, the comment names the source read and
docs/sandbox.md lists it. This module holds data only: it imports nothing of the sandbox but
the settings and consumer tables and does no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from reconciler.sandbox.ml.consumers import ConsumerProfile, consumer_profile
from reconciler.sandbox.ml.settings import MLSetting, registered

# Reference §3.1: default trusted endpoints, in the order the source declares them, with the
# release (major, minor) that introduced each pattern.
_TRUSTED: tuple[tuple[tuple[int, int], str], ...] = (
    ((2, 9), r"^https://runtime\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$"),
    ((2, 16), r"^https://api\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$"),
    ((2, 9), r"^https://api\.openai\.com/.*$"),
    ((2, 9), r"^https://api\.cohere\.ai/.*$"),
    ((2, 19), r"^https://api\.deepseek\.com/.*$"),
    ((3, 5), r"^https://generativelanguage\.googleapis\.com/.*$"),
    ((2, 11), r"^https://bedrock-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$"),
    ((2, 16), r"^https://bedrock-agent-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$"),
    ((2, 18), r"^https://bedrock\..*[a-z0-9-]\.amazonaws\.com/.*$"),
    ((2, 18), r"^https://textract\..*[a-z0-9-]\.amazonaws\.com$"),
    ((2, 18), r"^https://comprehend\..*[a-z0-9-]\.amazonaws\.com$"),
    ((2, 19), r"^https://rekognition(-fips)?\..*[a-z0-9-]\.amazonaws\.com$"),
)

# Reference §2.3: action types and the release that introduced each.
_ACTION_TYPES: tuple[tuple[tuple[int, int], str], ...] = (
    ((2, 9), "PREDICT"),
    ((2, 15), "EXECUTE"),
    ((2, 16), "BATCH_PREDICT"),
    ((2, 17), "CANCEL_BATCH_PREDICT"),
    ((2, 17), "BATCH_PREDICT_STATUS"),
)

# Reference §2.2: connector protocols.
_PROTOCOLS: tuple[tuple[tuple[int, int], str], ...] = (
    ((2, 9), "aws_sigv4"),
    ((2, 9), "http"),
    ((3, 0), "mcp_sse"),
    ((3, 3), "mcp_streamable_http"),
)

# Reference §4.1: built-in pre/post-process functions and the release that introduced each.
_FUNCTIONS: tuple[tuple[tuple[int, int], str], ...] = (
    ((2, 9), "connector.pre_process.openai.embedding"),
    ((2, 9), "connector.pre_process.cohere.embedding"),
    ((2, 9), "connector.post_process.openai.embedding"),
    ((2, 9), "connector.post_process.cohere.embedding"),
    ((2, 11), "connector.pre_process.default.embedding"),
    ((2, 11), "connector.post_process.default.embedding"),
    ((2, 12), "connector.pre_process.bedrock.embedding"),
    ((2, 12), "connector.post_process.bedrock.embedding"),
    ((2, 12), "connector.pre_process.cohere.rerank"),
    ((2, 12), "connector.pre_process.default.rerank"),
    ((2, 12), "connector.post_process.cohere.rerank"),
    ((2, 12), "connector.post_process.default.rerank"),
    ((2, 16), "connector.pre_process.bedrock.multimodal_embedding"),
    ((2, 18), "connector.post_process.bedrock.batch_job_arn"),
    ((2, 19), "connector.pre_process.bedrock.rerank"),
    ((2, 19), "connector.post_process.bedrock.rerank"),
    ((2, 19), "connector.pre_process.cohere.multimodal_embedding"),
    ((3, 0), "connector.post_process.cohere_v2.embedding.float"),
    ((3, 0), "connector.post_process.cohere_v2.embedding.int8"),
    ((3, 0), "connector.post_process.cohere_v2.embedding.uint8"),
    ((3, 0), "connector.post_process.cohere_v2.embedding.binary"),
    ((3, 0), "connector.post_process.cohere_v2.embedding.ubinary"),
    ((3, 0), "connector.post_process.bedrock_v2.embedding.float"),
    ((3, 0), "connector.post_process.bedrock_v2.embedding.binary"),
    ((3, 3), "connector.post_process.mlcommons.passthrough"),
    ((3, 4), "connector.post_process.bedrock.nova.embedding"),
    ((3, 4), "connector.pre_process.bedrock.nova.text_embedding"),
    ((3, 4), "connector.pre_process.bedrock.nova.image_embedding"),
    ((3, 4), "connector.pre_process.bedrock.nova.video_embedding"),
    ((3, 4), "connector.pre_process.bedrock.nova.audio_embedding"),
    ((3, 5), "connector.pre_process.bedrock.nova.embedding"),
)


@dataclasses.dataclass(frozen=True)
class Profile:
    """The behaviour of one ML Commons release line, field by field (reference §11)."""

    name: str
    """The release, `2.9` ... `3.8` (`3.x` and `latest` are aliases of the newest)."""
    version: str
    """The OpenSearch version the sandbox reports in `GET /`."""
    release: tuple[int, int]
    """(major, minor) of `version`; handlers should prefer the named fields below."""
    settings: Mapping[str, MLSetting]
    """Every `plugins.ml_commons.*` setting the release registers, by full key (§9, §3.1)."""
    setting_defaults: Mapping[str, Any]
    """The same keys with their default values for this release."""
    trusted_endpoints: tuple[str, ...]
    """Default of `trusted_connector_endpoints_regex` (§3.1)."""
    protocols: tuple[str, ...]
    """Connector protocols accepted (§2.2)."""
    action_types: tuple[str, ...]
    """Connector action types accepted (§2.3)."""
    functions: frozenset[str]
    """Built-in pre/post-process function names known to this release (§4.1)."""
    client_config_defaults: Mapping[str, Any]
    """Defaults filled into a supplied `client_config`; empty before 2.13 (field unknown, §2.4)."""
    parameters_any_json: bool
    """2.10+: connector parameter values of any JSON type are stringified; 2.9 reads them with
    `mapStrings()`, which fails on objects and arrays (§2.2)."""
    search_missing_index_empty: bool
    """2.12+: search on a missing ML index answers an empty result instead of 404 (§2.8)."""
    modern_status_codes: bool
    """2.12+: not-found/conflict paths answer 404/409/400 instead of 500/400 (§1.3)."""
    update_connector: str
    """`absent` (2.9-2.10), `flag` (2.11, behind `update_connector.enabled`), `always` (2.12+)."""
    update_model: bool
    """2.12+: `PUT /models/{id}` exists (§6.8)."""
    get_model_group: bool
    """2.12+: `GET /model_groups/{id}` exists (§5.1)."""
    consumers: ConsumerProfile
    """Pipelines' processors and the agent APIs of this release (`consumers.py`,
    docs/reference/consumers.md)."""
    sync_register: bool
    """2.11+: remote register answers with `model_id` and a COMPLETED task (§6.5)."""
    sync_deploy: bool
    """2.11+: deploy answers `task_type` + `COMPLETED` (§6.9)."""
    action_null_wording: str
    """`can't be null` (2.19+) or `can't null` (2.9-2.18) in action missing-field errors (§2.3)."""
    group_name_taken: str
    """Register-group collision text with `{id}` placeholder (§5.3)."""
    trusted_message_has_url: bool
    """2.9-3.1: the trusted-endpoint error ends with `, URL is: <url>` (§2.5)."""
    safe_text: bool
    """3.1+: names/descriptions must match the safe-text pattern (§2.5)."""
    credential_required: bool
    """2.19+: a connector needs a non-empty `credential` (§2.2)."""
    protocol_checked_at_input: bool
    """3.5+: an unknown protocol fails at parse time with the list of protocols (§2.5)."""
    remote_inference_disabled_status: int
    """500 (2.10-3.4) or 400 (3.5+) when remote inference is disabled (§2.5)."""
    parameters_merge_on_update: bool
    """2.16+: update-connector parameters are merged into the old ones (§2.9)."""
    connector_timestamps: bool
    """2.18+: connectors carry `created_time`/`last_updated_time` (§2.7)."""
    group_auto_delete: bool
    """2.9-2.10: deleting the last model of a group deletes the group (§5.7)."""
    group_reuse_by_name: bool
    """2.11+: register without `model_group_id` joins a group with the model's name (§6.3)."""
    group_delete_conflict: bool
    """2.19+: deleting a non-empty model group answers 409 instead of 500 (§5.7)."""
    group_index_missing: tuple[int, str]
    """GET model group on a missing index: status and text (§5.4)."""
    is_hidden: bool
    """2.12+: models are written with `is_hidden: false` and hidden ones are not searchable."""
    model_enable_fields: bool
    """2.12+: `is_enabled` and `rate_limiter` exist on models (§6.2)."""
    deploy_setting: bool
    """2.13+: `deploy_setting` and `guardrails` exist on models (§6.2)."""
    deploy_setting_ttl: bool
    """2.14+: `deploy_setting.model_ttl_minutes` is defaulted to -1 (§6.2)."""
    model_interface: bool
    """2.14+: models carry `interface` (§6.2)."""
    preset_interface: bool
    """2.16+: register fetches the connector (404 when missing) and presets an interface (§6.4)."""
    auto_deploy_on_predict: bool
    """2.13+: predict deploys an undeployed remote model (§6.9)."""
    model_not_ready: str
    """Predict on an undeployed model without auto-deploy; `{id}` placeholder (§6.9)."""
    force_undeploy: bool
    """2.19+: undeploy force-sets UNDEPLOYED even if no node had the model (§6.10)."""
    private_ip_setting: bool
    """2.15+: `connector.private_ip_enabled` can allow private addresses (§3.2)."""
    private_ip_message: bool
    """2.14+: a private address is refused with `Remote inference host name has private ip
    address: <host>`; 2.9-2.13 name only the host (§3.2)."""
    predict_status_code: bool
    """2.11+: predict output carries `status_code` and remote non-2xx fails (§8.1)."""
    invalid_payload_check: bool
    """2.12+: a rendered body that is not JSON fails with `Invalid payload` (§8.2)."""
    skip_missing_parameters: bool
    """2.17+: `skip_validating_missing_parameters=true` disables the placeholder check (§8.2)."""
    trusted_check_at_predict: bool
    """3.7+: the resolved URL is re-checked against trusted regexes at predict (§3.1)."""
    connector_not_found_status: int
    """GET connector on an unknown ID: 400 (2.9-2.11) or 404 (§2.7)."""
    connector_delete_lists_ids: bool
    """2.11+: the connector-in-use delete error ends with `: [<ids>]` instead of `!` (§2.10)."""
    model_delete_status: int
    """Delete of a deployed model: 500 plain `Exception` (2.9-2.11) or 400 (§6.11)."""
    connector_timeouts_in_seconds: bool
    """3.7+: `client_config` timeouts are seconds, not milliseconds (§2.4)."""
    name_missing_group: tuple[int, str]
    """Register model group without `name`: (status, text) per §5.2."""
    embedding_config_check: bool
    """3.1+: a remote `text_embedding` model_config needs dimension, framework, space type."""
    embedding_config_check_on_update: bool
    """3.2+: the same model_config check runs on Update Model (§6.8)."""
    task_not_found: str
    """Text of a missing task (§7)."""
    http_methods: tuple[str, ...]
    """Action methods allowed at call time: POST/GET, plus PUT/DELETE on 3.5+ (§2.3)."""
    wraps_transport_errors: bool
    """3.0+: network failures read `Error communicating with remote model: <msg>` (§8.1)."""
    empty_body_errors: bool
    """3.2+: empty remote bodies get their own errors instead of passing through (§8.1)."""
    action_names: bool
    """3.5+: actions may carry a validated `name` (§2.3)."""
    header_parameters: bool
    """3.7+: `${parameters.*}` allowed in headers except sensitive ones (§2.3, §8.2 rule 9)."""
    private_endpoint_settings: bool
    """3.7+: private endpoints regex and restricted IP patterns apply at call time (§3.2)."""
    provisioned_by: bool
    """3.7+: connectors and models keep a safe-text `provisioned_by` (§2.2, §2.5, §6.2)."""
    structured_output: bool
    """3.7+: actions keep `supports_structured_output` when it is true (§2.3)."""
    escape_helper: bool
    """2.12+: a process-function script may call the server's `escape(def)` helper (§4.2)."""
    quoted_function_parameters: bool
    """2.12+: `${parameters.x}` in a function string is filled as a JSON string literal."""
    response_filter_fallback: bool
    """3.7+: a `response_filter` that finds nothing falls back to the whole response."""


def _since(table: tuple[tuple[tuple[int, int], str], ...], release: tuple[int, int]) -> list[str]:
    return [value for since, value in table if since <= release]


_TRUSTED_KEY = "plugins.ml_commons.trusted_connector_endpoints_regex"


def _settings(release: tuple[int, int]) -> dict[str, MLSetting]:
    rows = registered(release)
    # The trusted-endpoint default grows per release (§3.1); the table leaves it to us.
    rows[_TRUSTED_KEY] = dataclasses.replace(rows[_TRUSTED_KEY], default=_since(_TRUSTED, release))
    return rows


def _client_config(release: tuple[int, int]) -> dict[str, Any]:
    if release < (2, 13):
        return {}
    # §2.4 gives 3.7 for the seconds-based defaults of #4759; ConnectorClientConfig.java at
    # tag 3.6.0.0 already has CONNECTION_TIMEOUT_DEFAULT_VALUE = 30 (3.5.0.0: 30000).
    timeout = 30 if release >= (3, 6) else 30000
    config: dict[str, Any] = {
        "max_connection": 30,
        "connection_timeout": timeout,
        "read_timeout": timeout,
    }
    if release >= (2, 15):
        config |= {
            "retry_backoff_millis": 200,
            "retry_timeout_seconds": 30,
            "max_retry_times": 0,
            "retry_backoff_policy": "constant",
        }
    if release >= (3, 5):
        config["skip_ssl_verification"] = False
    return config


def _wordings(release: tuple[int, int]) -> dict[str, Any]:
    old_group = (
        "The name you provided is already being used by another model with ID: {id}. "
        "Please provide a different name"
    )
    new_group = "The name you provided is already being used by a model group with ID: {id}."
    deploy_hint = (
        "Model not ready yet. Please run this first: POST /_plugins/_ml/models/{id}/_deploy"
    )
    return {
        "action_null_wording": "can't be null" if release >= (2, 19) else "can't null",
        "group_name_taken": new_group if release >= (2, 10) else old_group,
        "model_not_ready": (
            "Model not ready yet. Please deploy the model first."
            if release >= (2, 14)
            else deploy_hint
        ),
        "group_index_missing": (
            (404, "Failed to find model group index")
            if release >= (2, 19)
            else (500, "Fail to find model group index")
        ),
        "task_not_found": "Failed to find task" if release >= (2, 12) else "Fail to find task",
    }


# Boolean behaviour fields of `Profile`: (field, first release, last release or None), each
# with the reference section (and §11 timeline row) it comes from.
_SWITCHES: tuple[tuple[str, tuple[int, int], tuple[int, int] | None], ...] = (
    ("parameters_any_json", (2, 10), None),  # §2.2; §11 2.10
    ("search_missing_index_empty", (2, 12), None),  # §2.8, §6.7; §11 2.12
    ("modern_status_codes", (2, 12), None),  # §1.3, §2.7, §6.11; §11 2.12
    ("update_model", (2, 12), None),  # §6.1, §6.8; §11 2.12
    ("get_model_group", (2, 12), None),  # §5.1; §11 2.12
    ("sync_register", (2, 11), None),  # §6.5; §11 2.11
    ("sync_deploy", (2, 11), None),  # §6.9; §11 2.11
    ("trusted_message_has_url", (2, 9), (3, 1)),  # §2.5 step 5; §11 3.2
    ("safe_text", (3, 1), None),  # §2.5 step 3, §5.2, §6.2; §11 3.1
    ("credential_required", (2, 19), None),  # §2.2, §2.5 step 2; §11 2.19
    ("protocol_checked_at_input", (3, 5), None),  # §2.5 step 2; §11 3.5
    ("parameters_merge_on_update", (2, 16), None),  # §2.9; §11 2.16
    ("connector_timestamps", (2, 18), None),  # §2.7; §11 2.18
    ("group_auto_delete", (2, 9), (2, 10)),  # §5.7; §11 2.11
    ("group_reuse_by_name", (2, 11), None),  # §6.3; §11 2.11
    ("group_delete_conflict", (2, 19), None),  # §5.7; §11 2.19
    ("is_hidden", (2, 12), None),  # §6.6, §6.7; §11 2.12
    ("model_enable_fields", (2, 12), None),  # §6.2; §11 2.12
    ("deploy_setting", (2, 13), None),  # §6.2; §11 2.13
    ("deploy_setting_ttl", (2, 14), None),  # §6.2
    ("model_interface", (2, 14), None),  # §6.2; §11 2.14
    ("preset_interface", (2, 16), None),  # §6.4; §11 2.16
    ("auto_deploy_on_predict", (2, 13), None),  # §6.9; §11 2.13
    ("force_undeploy", (2, 19), None),  # §6.10; §11 2.19
    ("private_ip_setting", (2, 15), None),  # §3.2; §11 2.15
    # §3.2 gives the 2.14+ text; MLHttpClientFactory.validateIp at tags 2.9.0.0-2.13.0.0
    # throws `IllegalArgumentException(hostName)`, so the reason is the host alone.
    ("private_ip_message", (2, 14), None),
    ("predict_status_code", (2, 11), None),  # §8.1; §11 2.11
    ("invalid_payload_check", (2, 12), None),  # §8.2 rule 7; §11 2.12
    ("skip_missing_parameters", (2, 17), None),  # §8.2 rule 6; §11 2.17
    ("trusted_check_at_predict", (3, 7), None),  # §3.1; §11 3.7
    ("connector_delete_lists_ids", (2, 11), None),  # §2.10
    # §8.1 and §11 say 3.0; the wrapper is in MLSdkAsyncHttpResponseHandler.onError from tag
    # 2.14.0.0, where HTTP connectors moved to the async client.
    ("wraps_transport_errors", (2, 14), None),
    ("empty_body_errors", (3, 2), None),  # §8.1; §11 3.2
    ("action_names", (3, 5), None),  # §2.3; §11 3.5
    ("header_parameters", (3, 7), None),  # §2.3, §8.2 rule 9; §11 3.7
    ("private_endpoint_settings", (3, 7), None),  # §3.2; §11 3.7
    ("provisioned_by", (3, 7), None),  # §2.2, §2.5 step 3, §6.2; §11 3.7
    ("structured_output", (3, 7), None),  # §2.3, §8.2 rule 8; §11 3.7
    # §2.4 and §11 say 3.7; ConnectorClientConfig.java at tag 3.6.0.0 already has the
    # seconds-based defaults (see `_client_config`).
    ("connector_timeouts_in_seconds", (3, 6), None),
    ("embedding_config_check", (3, 1), None),  # §6.2; §11 3.1
    ("embedding_config_check_on_update", (3, 2), None),  # §6.8; §11 3.2
    ("escape_helper", (2, 12), None),  # §4.2
    ("quoted_function_parameters", (2, 12), None),  # §4.2
    ("response_filter_fallback", (3, 7), None),  # §8.1; §11 3.7
)


def _build(name: str, version: str) -> Profile:
    major, minor = (int(part) for part in version.split(".")[:2])
    release = (major, minor)
    switches: dict[str, Any] = {
        field: since <= release and (until is None or release <= until)
        for field, since, until in _SWITCHES
    }
    settings = _settings(release)
    return Profile(
        name=name,
        version=version,
        release=release,
        settings=MappingProxyType(settings),
        setting_defaults=MappingProxyType({key: row.default for key, row in settings.items()}),
        trusted_endpoints=tuple(_since(_TRUSTED, release)),
        protocols=tuple(_since(_PROTOCOLS, release)),
        action_types=tuple(_since(_ACTION_TYPES, release)),
        functions=frozenset(_since(_FUNCTIONS, release)),
        client_config_defaults=MappingProxyType(_client_config(release)),
        consumers=consumer_profile(release),
        **switches,
        **_wordings(release),
        **_statuses(release),
    )


def _statuses(release: tuple[int, int]) -> dict[str, Any]:
    modern = release >= (2, 12)
    return {
        "update_connector": "always" if modern else "flag" if release >= (2, 11) else "absent",
        "remote_inference_disabled_status": 400 if release >= (3, 5) else 500,
        "connector_not_found_status": 404 if modern else 400,
        "model_delete_status": 400 if modern else 500,
        "http_methods": ("POST", "GET", "PUT", "DELETE") if release >= (3, 5) else ("POST", "GET"),
        "name_missing_group": (
            (500, "model group name must not be null")
            if modern
            else (400, "model group name is null")
        ),
    }


# The OpenSearch version each profile reports in `GET /`: the release's first patch, except
# where the patch release users run most was already the sandbox's choice.
_VERSIONS: tuple[str, ...] = (
    "2.9.0",
    "2.10.0",
    "2.11.1",
    "2.12.0",
    "2.13.0",
    "2.14.0",
    "2.15.0",
    "2.16.0",
    "2.17.1",
    "2.18.0",
    "2.19.1",
    "3.0.0",
    "3.1.0",
    "3.2.0",
    "3.3.0",
    "3.4.0",
    "3.5.0",
    "3.6.0",
    "3.7.0",
    "3.8.0",
)

PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        name: _build(name, version)
        for name, version in ((".".join(v.split(".")[:2]), v) for v in _VERSIONS)
    }
)
"""Every release profile by name, oldest first."""

NEWEST: str = ".".join(_VERSIONS[-1].split(".")[:2])
"""The newest release the reference was read from (3.8)."""

ALIASES: Mapping[str, str] = MappingProxyType({"3.x": NEWEST, "latest": NEWEST, "3": NEWEST})
"""Other names a user may give: `3.x` (and `latest`) follow the newest release."""


def get_profile(name: str) -> Profile:
    """The profile called `name` (a release or an alias); ValueError for unknown names."""
    key = ALIASES.get(name, name)
    if key not in PROFILES:
        known = ", ".join(profile_names())
        raise ValueError(f"unknown sandbox profile {name!r}; known: {known}")
    return PROFILES[key]


def profile_names() -> tuple[str, ...]:
    """Every name `get_profile` accepts: the releases, then the aliases."""
    return (*PROFILES, *ALIASES)
