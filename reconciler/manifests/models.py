"""Pydantic models of the manifest format: the envelope and the eight kinds.

`spec` mirrors the ML Commons request bodies field for field (reference §2.2-2.4, §5.2,
§6.2, §9) so that a blueprint from the ML Commons documentation pastes in unchanged;
references by manifest name replace server IDs; osml's own controls live in `lifecycle`.
Every model forbids unknown fields: the server silently ignores them (§1.4), osml must not.

These models only describe shape. Version-dependent rules, references between resources
and templates are checked in `manifests.checking`; secret references are resolved later.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from reconciler.durations import parse_duration
from reconciler.manifests import jsonpaths
from reconciler.mlcommons.flavors import MANAGED_CREDENTIALS
from reconciler.resources import Kind, ResourceKey

API_VERSION = "osml/v1"

NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$"
"""`metadata.name`: letters, digits, `.`, `_`, `-`; starts and ends alphanumeric."""

ADOPT_ANNOTATION = "osml/adopt-id"
"""`metadata.annotations` key naming the live ID a resource not yet in the state adopts
(written by `osml export`): it pairs by ID where server names are ambiguous (§1.2)."""

AccessMode = Literal["public", "private", "restricted"]
Protocol = Literal["http", "aws_sigv4", "mcp_sse", "mcp_streamable_http"]
RetryBackoffPolicy = Literal["constant", "exponential_equal_jitter", "exponential_full_jitter"]


class Strict(BaseModel):
    """Base of every manifest model: unknown fields are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# --- secrets -----------------------------------------------------------------------


class FromEnv(Strict):
    """The secret is the value of an environment variable at plan/apply time."""

    from_env: Annotated[str, StringConstraints(min_length=1)] = Field(alias="fromEnv")


class FromFile(Strict):
    """The secret is the content of a file (trailing newline stripped)."""

    from_file: Annotated[str, StringConstraints(min_length=1)] = Field(alias="fromFile")


class Encrypted(Strict):
    """The secret is kept in Git as an osml ciphertext (`osml secrets encrypt`)."""

    encrypted: Annotated[str, StringConstraints(min_length=1)]


AWS_KEYS = ("access_key", "secret_key", "session_token")
"""The credential keys an AWS source fills, as the `aws_sigv4` protocol reads them (§2.2)."""

ROLE_ARN_PATTERN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
"""An IAM role ARN, `arn:aws:iam::123456789012:role/NAME` (also the GovCloud and China
partitions, and role paths)."""
SESSION_NAME_PATTERN = re.compile(r"[\w+=,.@-]{2,64}")
"""What STS AssumeRole accepts as `RoleSessionName`."""
ROLE_DURATIONS = (900.0, 43200.0)
"""The session lengths STS AssumeRole accepts (15m to 12h); a role's own maximum may be
lower, which only STS knows (it refuses the call)."""
DEFAULT_ROLE_DURATION = 3600
"""A session length of 1h when the manifest gives none (STS's own default)."""


class AwsRole(Strict):
    """Options of a `fromAwsRole` source: the role osml assumes with STS at apply time."""

    role_arn: str
    """The IAM role to assume, `arn:aws:iam::123456789012:role/NAME`."""
    session_name: str | None = None
    """`RoleSessionName` (2-64 of letters, digits and `+=,.@_-`); default `osml`."""
    duration: str | int | None = None
    """How long the keys live: a duration such as `1h` or `900` (15m to 12h); default 1h."""

    @field_validator("role_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if ROLE_ARN_PATTERN.fullmatch(value) is None:
            raise ValueError(
                "role_arn is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"
            )
        return value

    @field_validator("session_name")
    @classmethod
    def _session(cls, value: str | None) -> str | None:
        if value is not None and SESSION_NAME_PATTERN.fullmatch(value) is None:
            raise ValueError("session_name must be 2-64 letters, digits or any of + = , . @ _ -")
        return value

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            role_seconds(value)
        return value

    @property
    def seconds(self) -> int:
        """The session length asked of STS, in whole seconds."""
        return DEFAULT_ROLE_DURATION if self.duration is None else role_seconds(self.duration)


def role_seconds(value: str | int) -> int:
    """Seconds of a `fromAwsRole` duration; ValueError naming what STS accepts."""
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, int):
        seconds = float(value)
    else:
        seconds = parse_duration(value)
    if seconds is None:
        raise ValueError(f"duration {value!r} is not a duration such as 900, 15m, 1h or 1h30m")
    low, high = ROLE_DURATIONS
    if not low <= seconds <= high or seconds != int(seconds):
        raise ValueError(
            f"duration {value!r} is outside what STS AssumeRole accepts: whole seconds "
            "from 15m (900) to 12h (43200)"
        )
    return int(seconds)


class FromAwsRole(Strict):
    """The keys come from STS AssumeRole, asked at apply time; renewed before they expire."""

    from_aws_role: AwsRole = Field(alias="fromAwsRole")


class AwsProfile(Strict):
    """Options of a `fromAwsProfile` source."""

    profile: Annotated[str, StringConstraints(min_length=1)] | None = None
    """A named profile of the AWS config files; default: the standard credential chain
    (environment, `AWS_PROFILE`, SSO, container or instance role)."""


class FromAwsProfile(Strict):
    """The keys come from the AWS credential chain (or one named profile) at plan time."""

    from_aws_profile: AwsProfile = Field(alias="fromAwsProfile")


AwsSource = FromAwsRole | FromAwsProfile
"""The sources that fill `access_key`, `secret_key` and `session_token` through boto3."""

SecretRef = FromEnv | FromFile | Encrypted | FromAwsRole | FromAwsProfile
"""Where a credential comes from; a plain string is never accepted."""


# --- connectors (reference §2) -----------------------------------------------------


class ConnectorAction(Strict):
    """One connector action (reference §2.3)."""

    action_type: str
    """PREDICT, EXECUTE, BATCH_PREDICT, ...; case-insensitive, stored upper-case."""
    method: str
    """HTTP method used for the outbound call."""
    url: str
    """May hold `${parameters.x}` placeholders; must match a trusted endpoint (§3.1)."""
    headers: dict[str, str] | None = None
    """Outbound headers; `${credential.x}` is substituted here and only here (§8.2)."""
    request_body: str | None = None
    """A JSON template string (not an object)."""
    pre_process_function: str | None = None
    """A built-in function name (§4.1) or a Painless script."""
    post_process_function: str | None = None
    """A built-in function name (§4.1) or a Painless script."""
    name: str | None = None
    """3.5+: a name for the action."""
    supports_structured_output: bool | None = None
    """3.7+: the action accepts structured-output parameters."""


def _any_case(schema: dict[str, Any]) -> None:
    """The JSON Schema of a field the server reads in any case (its validator lower-cases):
    each allowed value in upper case too, so editors accept `PUBLIC` as osml does."""
    for option in [schema, *schema.get("anyOf", [])]:
        values = option.pop("enum", None) or ([option.pop("const")] if "const" in option else [])
        if values:
            option["enum"] = [*values, *(v.upper() for v in values)]


class ClientConfig(Strict):
    """Outbound HTTP client settings (reference §2.4, 2.13+)."""

    max_connection: int | None = Field(default=None, ge=1)
    connection_timeout: int | None = Field(default=None, ge=0)
    read_timeout: int | None = Field(default=None, ge=0)
    retry_backoff_millis: int | None = Field(default=None, ge=0)
    retry_timeout_seconds: int | None = Field(default=None, ge=0)
    max_retry_times: int | None = Field(default=None, ge=-1)
    retry_backoff_policy: RetryBackoffPolicy | None = Field(
        default=None, json_schema_extra=_any_case
    )
    skip_ssl_verification: bool | None = None

    @field_validator("retry_backoff_policy", mode="before")
    @classmethod
    def _lower_policy(cls, value: Any) -> Any:
        # The server upper-cases before lookup (§12.3): input is case-insensitive.
        return value.lower() if isinstance(value, str) else value


class ConnectorSpec(Strict):
    """The create-connector body (reference §2.2), with secret references for credentials."""

    name: str | None = None
    """Defaults to `metadata.name`."""
    description: str | None = None
    version: str | int | float
    """Required by the server; stored as a string."""
    protocol: Protocol
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Values of any JSON type; the server stores them as strings (§2.7)."""
    credential: dict[str, SecretRef | str] = Field(default_factory=dict)
    """Write-only on the server; each value comes from a secret source, except `roleArn`
    and `secretArn` (managed domains only), which are ARNs written out: not secrets."""
    actions: list[ConnectorAction] = Field(default_factory=list)
    backend_roles: list[str] | None = None
    add_all_backend_roles: bool | None = None
    access_mode: AccessMode | None = None
    client_config: ClientConfig | None = None
    url: str | None = None
    """MCP protocols only (3.0+)."""
    headers: dict[str, str] | None = None
    """MCP protocols only (3.0+)."""
    provisioned_by: str | None = None
    """3.7+ attribution tag."""

    @field_validator("credential", mode="before")
    @classmethod
    def _no_plain_secrets(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in MANAGED_CREDENTIALS and isinstance(item, str):
                    continue  # an ARN names a role or a secret; it is not one (flavors)
                if isinstance(item, str | int | float | bool):
                    raise ValueError(
                        f"credential.{key} is a plain value; secrets must come from "
                        "{fromEnv: VAR}, {fromFile: path}, {encrypted: ...}, {fromAwsRole: ...} "
                        "or {fromAwsProfile: ...}"
                    )
        return value


class ConnectorLifecycle(Strict):
    """What osml does with a connector; never sent to the server."""

    prevent_destroy: bool = False
    """Never delete or replace this connector; a plan that would is an error."""
    update_strategy: Literal["swap", "recreate"] = "swap"
    """How to change a connector used by a deployed model (§2.9): `swap` creates a new
    connector and repoints each model with no downtime (2.12+); `recreate` undeploys,
    updates and redeploys."""


# --- model groups (reference §5) ---------------------------------------------------


class ModelGroupSpec(Strict):
    """The register-model-group body (reference §5.2)."""

    name: str | None = None
    """Defaults to `metadata.name`; unique across the cluster (§5.3)."""
    description: str | None = None
    access_mode: AccessMode | None = Field(default=None, json_schema_extra=_any_case)
    backend_roles: list[str] | None = None
    add_all_backend_roles: bool | None = None

    @field_validator("access_mode", mode="before")
    @classmethod
    def _lower_access(cls, value: Any) -> Any:
        # Model groups lower-case access_mode before lookup (§1.4).
        return value.lower() if isinstance(value, str) else value


class Lifecycle(Strict):
    """What osml does with a resource; never sent to the server."""

    prevent_destroy: bool = False
    """Never delete or replace this resource; a plan that would is an error."""


# --- models (reference §6) ---------------------------------------------------------


class RateLimiter(Strict):
    """Model-level throttling (2.12+)."""

    limit: Annotated[float, Field(gt=0)]
    unit: str
    """A java.util.concurrent.TimeUnit name such as MINUTES."""


class ModelConfig(Strict):
    """`model_config` of a remote model (§6.2); text-embedding rules apply on 3.1+."""

    model_type: str | None = None
    embedding_dimension: int | None = Field(default=None, ge=1)
    framework_type: str | None = None
    pooling_mode: str | None = None
    normalize_result: bool | None = None
    all_config: str | None = None
    additional_config: dict[str, Any] | None = None


class DeploySetting(Strict):
    """`deploy_setting` (2.13+; `model_ttl_minutes` 2.14+)."""

    is_auto_deploy_enabled: bool | None = None
    model_ttl_minutes: int | None = None


class ModelInterface(Strict):
    """`interface` (2.14+): JSON schemas of the model's input and output."""

    input: str | dict[str, Any] | None = None
    output: str | dict[str, Any] | None = None


class ModelSpec(Strict):
    """The register-model body (reference §6.2) with references by manifest name."""

    name: str | None = None
    """Defaults to `metadata.name`."""
    function_name: Literal["remote"] = Field(default="remote", json_schema_extra=_any_case)
    description: str | None = None
    connector: str | ConnectorSpec | None = None
    """A Connector's `metadata.name` (standalone) or an inline connector object."""
    connector_id: str | None = None
    """A raw ID of a connector osml does not manage."""
    model_group: str | None = None
    """A ModelGroup's `metadata.name`."""
    model_group_id: str | None = None
    """A raw ID of a model group osml does not manage."""
    is_enabled: bool | None = None
    rate_limiter: RateLimiter | None = None
    model_config_: ModelConfig | None = Field(default=None, alias="model_config")
    deploy_setting: DeploySetting | None = None
    guardrails: dict[str, Any] | None = None
    interface: ModelInterface | None = None
    access_mode: AccessMode | None = None
    """Only used by the server when it creates a group for the model (§6.2)."""
    backend_roles: list[str] | None = None
    add_all_backend_roles: bool | None = None
    provisioned_by: str | None = None

    @field_validator("function_name", mode="before")
    @classmethod
    def _lower_function(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_connector(self) -> ModelSpec:
        given = [f for f in ("connector", "connector_id") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(
                "exactly one of connector (a name or an inline object) or connector_id is required"
            )
        if self.model_group is not None and self.model_group_id is not None:
            raise ValueError("model_group and model_group_id cannot both be set")
        return self

    @property
    def inline_connector(self) -> ConnectorSpec | None:
        """The internal connector, when the model has one."""
        return self.connector if isinstance(self.connector, ConnectorSpec) else None

    @property
    def connector_ref(self) -> str | None:
        """The standalone Connector's manifest name, when referenced by name."""
        return self.connector if isinstance(self.connector, str) else None


def _parsed(paths: list[str]) -> list[str]:
    for path in paths:
        jsonpaths.parse(path)
    return paths


JsonPaths = Annotated[
    list[Annotated[str, StringConstraints(min_length=1)]], AfterValidator(_parsed)
]
"""JSONPaths into a probe's answer, each one parsed when the manifest is read."""


class ProbeExpect(Strict):
    """What a probe's answer must show, so that a connector change that breaks the shape a
    pipeline reads fails apply before anything that depends on the model moves on."""

    embedding_dimension: Annotated[int, Field(gt=0)] | None = None
    """Every embedding in the answer has this many values: each tensor with a `shape`
    (`sentence_embedding`), or, without one, the first array of numbers in `dataAsMap`."""
    exists: JsonPaths = Field(default_factory=list)
    """JSONPaths into the predict answer (`$.inference_results[0].output[0].dataAsMap...`)
    that must each select at least one value: `.name`, `['name']`, `[0]` and `[*]`."""


class Probe(Strict):
    """A predict request run after deploy to prove the model answers."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    """The `parameters` of the predict body (§8.1)."""
    timeout: Annotated[float, Field(gt=0)] = 30.0
    """Seconds to wait for the answer."""
    redeploy_after: Annotated[int, Field(ge=1)] | None = None
    """After this many failed probes in a row the plan redeploys the model instead of
    only probing it again; unset: probe again, never redeploy for a probe."""
    expect: ProbeExpect | None = None
    """Assertions on the answer; without them any successful answer passes."""


class ModelLifecycle(Strict):
    """What osml does with a model; never sent to the server."""

    deployed: bool = True
    """The desired deploy state; a model that fell out of it is redeployed or undeployed."""
    prevent_destroy: bool = False
    probe: Probe | None = None
    allow_breaking_consumers: bool = False
    """Let a plan delete this model, or give it a new ID, while pipelines or agents osml
    does not manage still use it (they break); without it such a plan is refused."""


# --- cluster settings (reference §3.1, §9) -----------------------------------------


class TrustedEndpointsSpec(Strict):
    """Trusted connector endpoint regexes (reference §3.1)."""

    mode: Literal["merge", "exact"] = "merge"
    """`merge` adds these and keeps the version defaults and others' entries; `exact`
    owns the whole list."""
    patterns: list[Annotated[str, StringConstraints(min_length=1)]] = Field(min_length=1)
    """Java regexes; each connector URL must fully match one (`Matcher.matches()`)."""


class AccessControlSpec(Strict):
    """Access-control and other `plugins.ml_commons.*` settings (reference §9)."""

    connector_access_control_enabled: bool | None = None
    model_access_control_enabled: bool | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    """Further settings by key without the `plugins.ml_commons.` prefix, such as
    `connector.private_ip_enabled: true`; keys are checked per version."""


# --- consumers: pipelines and agents (docs/reference/consumers.md) -----------------
# `spec` is the server's request body. Processor and tool bodies stay open mappings: every
# processor has its own keys, and any value may be a reference `{ref: Model/NAME}` (also
# `Connector/NAME`, `Agent/NAME`) that osml replaces by the live ID. What the contract fixes
# about them is checked in `manifests.consumer_checking`.

Processors = list[dict[str, Any]]
"""Processors as the server takes them: a list of one-key mappings `{<type>: {config}}`."""


class IngestPipelineSpec(Strict):
    """The `PUT _ingest/pipeline/<id>` body (consumers reference §1.2); the ID is
    `metadata.name`."""

    description: str | None = None
    version: int | None = None
    processors: Processors
    """Required by the server, may be empty."""
    on_failure: Processors | None = None
    """Run when a processor fails; the server refuses an empty list."""


class SearchPipelineSpec(Strict):
    """The `PUT _search/pipeline/<id>` body (consumers reference §2.2, 2.9+); the ID is
    `metadata.name`."""

    description: str | None = None
    version: int | None = None
    request_processors: Processors | None = None
    response_processors: Processors | None = None
    phase_results_processors: Processors | None = None
    """2.10+ (`normalization-processor`)."""


class AgentSpec(Strict):
    """The `POST /_plugins/_ml/agents/_register` body (consumers reference §4.2, 2.12+)."""

    name: str | None = None
    """Defaults to `metadata.name`."""
    type: str
    """`flow`, `conversational`, `conversational_flow` (2.13+), `plan_execute_and_reflect`
    (3.0+), `ag_ui` (3.5+), `conversational_v2` (3.6+)."""
    description: str | None = None
    llm: dict[str, Any] | None = None
    """`{model_id, parameters}`; required for `conversational`."""
    tools: list[dict[str, Any]] | None = None
    """`{type, name, description, parameters, include_output_in_agent_response}` each."""
    parameters: dict[str, Any] | None = None
    memory: dict[str, Any] | None = None
    app_type: str | None = None
    model: dict[str, Any] | None = None
    """3.8: a model spec some agent types take instead of `llm`."""
    context_management_name: str | None = None
    context_management: dict[str, Any] | None = None


class AgentProbeExpect(Strict):
    """What an agent probe's answer must show (the execute answer, CONS §4.8)."""

    outputs: bool = False
    """`true`: the answer carries at least one output with a non-empty `result` (a flow
    agent whose model answered without the tool's `response_field` has none)."""
    exists: JsonPaths = Field(default_factory=list)
    """JSONPaths into the execute answer (`$.inference_results[0].output[0].result`) that
    must each select at least one value."""


class AgentProbe(Strict):
    """An execute request run after the agent is created, changed or rewired, to prove
    that it answers (CONS §4.8)."""

    parameters: dict[str, Any] = Field(min_length=1)
    """The `parameters` of the execute body (`{question: ...}`); the server refuses an
    empty one (`Agent input data can not be empty.`)."""
    timeout: Annotated[float, Field(gt=0)] = 30.0
    """Seconds to wait for the answer."""
    expect: AgentProbeExpect | None = None
    """Assertions on the answer; without them any successful answer passes."""


class AgentLifecycle(Lifecycle):
    """What osml does with an agent; never sent to the server."""

    probe: AgentProbe | None = None


# --- the envelope ------------------------------------------------------------------


class Metadata(Strict):
    """Identity within the repository."""

    name: Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
    """Unique per kind; never sent to the server (the spec name is)."""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


_KINDS: dict[str, Kind] = {kind.value: kind for kind in Kind}


class _Envelope(Strict):
    api_version: Literal["osml/v1"] = Field(alias="apiVersion")
    metadata: Metadata

    @functools.cached_property
    def key(self) -> ResourceKey:
        """The resource's identity, `Kind/name` (the model is frozen: computed once, as the
        planner asks for it many times per resource)."""
        return ResourceKey(_KINDS[getattr(self, "kind")], self.metadata.name)  # noqa: B009


class ConnectorManifest(_Envelope):
    kind: Literal["Connector"]
    spec: ConnectorSpec
    lifecycle: ConnectorLifecycle = Field(default_factory=ConnectorLifecycle)


class ModelGroupManifest(_Envelope):
    kind: Literal["ModelGroup"]
    spec: ModelGroupSpec = Field(default_factory=ModelGroupSpec)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class ModelManifest(_Envelope):
    kind: Literal["Model"]
    spec: ModelSpec
    lifecycle: ModelLifecycle = Field(default_factory=ModelLifecycle)


class TrustedEndpointsManifest(_Envelope):
    kind: Literal["TrustedEndpoints"]
    spec: TrustedEndpointsSpec
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class AccessControlManifest(_Envelope):
    kind: Literal["AccessControl"]
    spec: AccessControlSpec
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class IngestPipelineManifest(_Envelope):
    kind: Literal["IngestPipeline"]
    spec: IngestPipelineSpec
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class SearchPipelineManifest(_Envelope):
    kind: Literal["SearchPipeline"]
    spec: SearchPipelineSpec = Field(default_factory=SearchPipelineSpec)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)


class AgentManifest(_Envelope):
    kind: Literal["Agent"]
    spec: AgentSpec
    lifecycle: AgentLifecycle = Field(default_factory=AgentLifecycle)


ConsumerManifest = IngestPipelineManifest | SearchPipelineManifest | AgentManifest
"""The manifests of resources that use models by ID."""

Manifest = Annotated[
    ConnectorManifest
    | ModelGroupManifest
    | ModelManifest
    | TrustedEndpointsManifest
    | AccessControlManifest
    | IngestPipelineManifest
    | SearchPipelineManifest
    | AgentManifest,
    Field(discriminator="kind"),
]
"""Any manifest document, told apart by `kind`."""

MANIFEST_TYPES: dict[Kind, type[BaseModel]] = {
    Kind.CONNECTOR: ConnectorManifest,
    Kind.MODEL_GROUP: ModelGroupManifest,
    Kind.MODEL: ModelManifest,
    Kind.TRUSTED_ENDPOINTS: TrustedEndpointsManifest,
    Kind.ACCESS_CONTROL: AccessControlManifest,
    Kind.INGEST_PIPELINE: IngestPipelineManifest,
    Kind.SEARCH_PIPELINE: SearchPipelineManifest,
    Kind.AGENT: AgentManifest,
}


def server_name(
    manifest: ConnectorManifest | ModelGroupManifest | ModelManifest | ConsumerManifest,
) -> str:
    """The `name` sent to the server: `spec.name`, defaulting to `metadata.name`; for a
    pipeline, which has no name, its ID (`metadata.name`)."""
    name = getattr(manifest.spec, "name", None)
    return name if isinstance(name, str) and name else manifest.metadata.name
