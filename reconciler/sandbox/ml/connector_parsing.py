"""Parsing, validating and normalising connector bodies (reference §2.2-§2.5, §2.9, §3.1).

Used by `connectors.py` for create/update and by the model handlers for inline connectors
(§6.4, §6.8). Checks run in the reference's order and raise its exact texts; the result is the
document as the server stores it (stringified version and parameters, upper-cased action
types, filled `client_config`). Credentials are NOT encrypted here: callers do that, so this
module never needs the master key. It must not write to the store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox import managed
from reconciler.sandbox.ml import failures, templating

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context
    from reconciler.sandbox.ml.profiles import Profile

TRUSTED_SETTING = "plugins.ml_commons.trusted_connector_endpoints_regex"
_ACTION_ORDER = (
    "action_type",
    "method",
    "url",
    "headers",
    "request_body",
    "pre_process_function",
    "post_process_function",
)
# §2.5 step 3: the safe-text alphabet of 3.1+ (`StringUtils.SAFE_INPUT_REGEX`).
_SAFE_TEXT = re.compile(r"^[\w\s.,!?():@\-/'\"]*$")
_ACTION_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
# §2.3 (3.7+): headers that must take secrets from `${credential.*}`, never from parameters.
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "x-auth-token",
        "x-auth-header",
        "x-forwarded-for",
        "x-real-ip",
        "x-client-ip",
        "cf-connecting-ip",
        "true-client-ip",
        "x-originating-ip",
        "host",
        "x-forwarded-host",
        "x-forwarded-server",
        "forwarded",
    }
)
_BACKOFF = ("constant", "exponential_equal_jitter", "exponential_full_jitter")


def text(body: Mapping[str, Any], key: str) -> str | None:
    """A text field as `parser.text()` reads it: numbers stringified (§1.4)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else templating.stringify(value)


def unsafe(value: str) -> bool:
    """Whether `value` has characters outside the 3.1+ safe-text alphabet (`_` counts as \\w)."""
    return _SAFE_TEXT.fullmatch(value) is None


def check_safe_text(profile: Profile, label: str, value: str | None, *, required: bool) -> None:
    """§2.5 step 3 / §5.2 / §6.2: the 3.1+ `validate()` messages for names and descriptions."""
    if not profile.safe_text:
        return
    if required and (value is None or not value.strip()):
        raise failures.validation_failed(f"{label} is required and cannot be null or blank")
    if value and value.strip() and unsafe(value):
        raise failures.validation_failed(
            f"{label} can only contain letters, numbers, spaces, and basic punctuation "
            "(.,!?():@-_'/\")"
        )


def parse_action(profile: Profile, raw: Mapping[str, Any]) -> dict[str, Any]:
    """One action object normalised (§2.3), or the Java constructor's errors."""
    wording = profile.action_null_wording
    action_type = text(raw, "action_type")
    if action_type is None:
        raise failures.illegal_argument(f"action type {wording}")
    upper = action_type.upper()
    if upper not in profile.action_types:
        enum = "org.opensearch.ml.common.connector.ConnectorAction.ActionType"
        raise failures.illegal_argument(f"No enum constant {enum}.{upper}")
    if raw.get("method") is None:
        raise failures.illegal_argument(f"method {wording}")
    if raw.get("url") is None:
        raise failures.illegal_argument(f"url {wording}")
    action = {key: raw[key] for key in _ACTION_ORDER if raw.get(key) is not None}
    action["action_type"] = upper
    if profile.action_names and raw.get("name") is not None:
        action["name"] = check_action_name(profile, str(raw["name"]))
    if profile.structured_output and raw.get("supports_structured_output") is True:
        # 3.7+: written only when true (§2.3); earlier releases skip the unknown field.
        action["supports_structured_output"] = True
    for key in ("method", "url", "request_body", "pre_process_function", "post_process_function"):
        if key in action:
            action[key] = text(action, key)
    if isinstance(action.get("headers"), Mapping):
        action["headers"] = templating.stringify_parameters(action["headers"])
    order = (*_ACTION_ORDER, "name", "supports_structured_output")
    return {key: action[key] for key in order if key in action}


def check_action_name(profile: Profile, name: str) -> str:
    """The 3.5+ action-name rules of §2.3."""
    if len(name) > 64:
        raise failures.illegal_argument("Action name exceeds maximum length of 64 characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise failures.illegal_argument("Action name must not contain control characters")
    if not _ACTION_NAME.fullmatch(name):
        raise failures.illegal_argument(
            "Action name contains invalid characters. Only alphanumeric characters, hyphens, "
            "and underscores are allowed"
        )
    if name.upper() in profile.action_types:
        raise failures.illegal_argument(
            "name can't be one of action type [PREDICT, EXECUTE, BATCH_PREDICT, "
            "CANCEL_BATCH_PREDICT, BATCH_PREDICT_STATUS]"
        )
    return name


def check_header_placeholders(profile: Profile, actions: list[dict[str, Any]]) -> None:
    """3.7+: sensitive headers must not be filled from `${parameters.*}` (§2.3)."""
    if not profile.header_parameters:
        return
    for action in actions:
        for name, value in (action.get("headers") or {}).items():
            if name.lower() in SENSITIVE_HEADERS and "${parameters." in str(value):
                raise failures.illegal_argument(
                    f"Header '{name}' cannot use ${{parameters.*}} placeholders for security "
                    "reasons. Use ${credential.*} instead."
                )


def parse_actions(profile: Profile, raw: Any) -> list[dict[str, Any]] | None:
    """The `actions` array normalised, None when absent."""
    if raw is None:
        return None
    return [parse_action(profile, item) for item in raw if isinstance(item, Mapping)]


def client_config(profile: Profile, raw: Any) -> dict[str, Any] | None:
    """`client_config` with every omitted field defaulted (§2.4); None when absent/unknown."""
    if raw is None or not isinstance(raw, Mapping) or not profile.client_config_defaults:
        return None
    config = dict(profile.client_config_defaults)
    config.update({key: raw[key] for key in config if raw.get(key) is not None})
    if "retry_backoff_policy" in config:
        policy = str(config["retry_backoff_policy"]).lower()
        if policy not in _BACKOFF:
            raise failures.illegal_argument("Unsupported retry backoff policy")
        config["retry_backoff_policy"] = policy
    return config


def check_required(profile: Profile, body: Mapping[str, Any]) -> None:
    """§2.5 step 2: the input constructor's required-field checks."""
    if text(body, "name") is None:
        raise failures.illegal_argument("Connector name is null")
    if text(body, "version") is None:
        raise failures.illegal_argument("Connector version is null")
    protocol = text(body, "protocol")
    if protocol is None:
        raise failures.illegal_argument("Connector protocol is null")
    if (
        profile.credential_required
        and not protocol.startswith("mcp")
        and not body.get("credential")
    ):
        raise failures.illegal_argument("Connector credential is null or empty list")
    if (
        is_mcp(protocol)
        and "mcp_streamable_http" in profile.protocols
        and not (text(body, "url") or "").strip()
    ):
        # 3.3+ (the release that added mcp_streamable_http) checks the MCP url at input.
        raise failures.illegal_argument("MCP Connector url is null or blank")
    if profile.protocol_checked_at_input and protocol not in profile.protocols:
        allowed = ", ".join(sorted(profile.protocols))
        raise failures.illegal_argument(
            f"Unsupported connector protocol. Please use one of [{allowed}]"
        )


def is_mcp(protocol: str | None) -> bool:
    """Whether `protocol` is one of the MCP protocols (3.0+), which have no actions."""
    return protocol in ("mcp_sse", "mcp_streamable_http")


def check_protocol_class(profile: Profile, protocol: str | None) -> None:
    """Pre-3.5: an unknown protocol fails when the connector class is looked up (§2.5)."""
    if protocol is not None and protocol not in profile.protocols:
        raise failures.illegal_argument(f"Can't find class for type {protocol}")


def check_aws(
    doc: Mapping[str, Any], *, plain_credential: Mapping[str, Any], flavor: str = "opensearch"
) -> None:
    """`AwsConnector` checks: keys, service name, region (§2.2, all versions); a managed
    domain signs with the role of a roleArn instead of keys (`sandbox.managed`)."""
    if doc.get("protocol") != "aws_sigv4":
        return
    params = doc.get("parameters") or {}
    role = flavor == managed.AWS_MANAGED and managed.has_role(plain_credential)
    keys = "access_key" in plain_credential and "secret_key" in plain_credential
    if not (keys or role):
        raise failures.illegal_argument("Missing credential")
    if "service_name" not in params and "service_name" not in plain_credential:
        raise failures.illegal_argument("Missing service name")
    if "region" not in params and "region" not in plain_credential:
        raise failures.illegal_argument("Missing region")


def trusted_patterns(ctx: Context) -> list[str]:
    """The effective trusted-endpoint regex list (setting, else profile default)."""
    value = ctx.settings.get(TRUSTED_SETTING)
    if value is None:
        return list(ctx.profile.trusted_endpoints)
    return [value] if isinstance(value, str) else [str(item) for item in value]


def url_is_trusted(url: str, patterns: list[str]) -> bool:
    """Java `Matcher.matches()` against any pattern; a broken pattern matches nothing."""
    for pattern in patterns:
        try:
            if re.fullmatch(pattern, url):
                return True
        except re.error:
            continue
    return False


def check_trusted(ctx: Context, doc: Mapping[str, Any]) -> None:
    """§3.1: each action URL, rendered with the connector's own parameters, must be trusted."""
    actions = doc.get("actions") or []
    if not actions:
        raise failures.illegal_argument("No actions configured for this connector")
    patterns = trusted_patterns(ctx)
    if ctx.profile.trusted_check_at_predict and not patterns:
        raise failures.illegal_argument(
            "Trusted connector endpoints regex is not configured. Please set "
            "plugins.ml_commons.trusted_connector_endpoints_regex."
        )
    for action in actions:
        url = templating.render(str(action.get("url")), doc.get("parameters") or {})
        if not url_is_trusted(url, patterns):
            raise untrusted(ctx.profile, url)


def untrusted(profile: Profile, url: str) -> Exception:
    """The §2.5 step 5 error, with the URL before 3.2."""
    message = "Connector URL is not matching the trusted connector endpoint regex"
    if profile.trusted_message_has_url:
        message += f", URL is: {url}"
    return failures.illegal_argument(message)


def check_parameter_values(profile: Profile, body: Mapping[str, Any], *, raw: bytes) -> None:
    """2.9 reads `parameters` with `mapStrings()`: `parser.text()` on an object or array value
    throws Jackson's IllegalStateException, at the value's line:column in the request (§2.2)."""
    parameters = body.get("parameters")
    if profile.parameters_any_json or not isinstance(parameters, Mapping):
        return
    for key, value in parameters.items():
        if isinstance(value, Mapping | list):
            token = "START_OBJECT" if isinstance(value, Mapping) else "START_ARRAY"
            where = _value_location(raw, key)
            raise failures.illegal_state(f"Can't get text on a {token} at {where}")


def _value_location(raw: bytes, key: str) -> str:
    # Jackson's token location: 1-based line and column of the value's first byte. The body
    # is searched for `"parameters"` and then for the key; a body the sandbox cannot match
    # (escaped keys, say) reports 1:1.
    start = raw.find(b'"parameters"')
    pattern = re.compile(re.escape(json.dumps(key, ensure_ascii=False).encode()) + rb"\s*:\s*[\[{]")
    match = pattern.search(raw, max(start, 0))
    if start < 0 or match is None:
        return "1:1"
    offset = match.end() - 1
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - raw.rfind(b"\n", 0, offset)
    return f"{line}:{column}"


def normalise(profile: Profile, body: Mapping[str, Any]) -> dict[str, Any]:
    """The connector fields of `body` as stored, credential still in plain text."""
    doc: dict[str, Any] = {
        "name": text(body, "name"),
        "version": text(body, "version"),
        "description": text(body, "description"),
        "protocol": text(body, "protocol"),
        "parameters": templating.stringify_parameters(body.get("parameters")),
        "credential": templating.stringify_parameters(body.get("credential")),
        "actions": parse_actions(profile, body.get("actions")),
        "client_config": client_config(profile, body.get("client_config")),
    }
    if profile.provisioned_by:
        doc["provisioned_by"] = text(body, "provisioned_by")
    if is_mcp(doc["protocol"]):
        doc["url"] = text(body, "url")
        doc["headers"] = body.get("headers")
    return {key: value for key, value in doc.items() if value is not None}
