"""Checks of one connector body against the target version: standalone or inline in a model.

Called by `manifests.checking` for each Connector manifest and each Model with an inline
connector. Covers protocol, credentials, AWS SigV4 needs, actions (type, method, name,
functions, trusted URL, templates), `client_config` and version-gated fields (reference
§2.2-§2.5, §3.1, §4). Access control and names are checked by `manifests.checking`, which
knows the document around the body. Reports through a Reporter; no I/O.
"""

from __future__ import annotations

from reconciler.errors import SecretError
from reconciler.manifests.contexts import CheckContext, Reporter, did_you_mean, needs
from reconciler.manifests.models import ConnectorAction, ConnectorSpec, Encrypted
from reconciler.manifests.template_checking import (
    check_action_templates,
    check_header_placeholders,
)
from reconciler.mlcommons.defaults import CLIENT_CONFIG_SINCE, client_config_field
from reconciler.mlcommons.endpoints import url_is_trusted
from reconciler.mlcommons.flavors import (
    MANAGED_CREDENTIALS,
    ROLE_ARN,
    Flavor,
    arn_error,
    needs_managed,
)
from reconciler.mlcommons.functions import (
    FunctionKind,
    builtin_function,
    closest_builtin,
    looks_builtin,
)
from reconciler.mlcommons.templates import stringify_parameters, substitute, unresolved
from reconciler.mlcommons.versions import (
    ACTION_TYPE_SINCE,
    HTTP_METHOD_SINCE,
    MCP_PROTOCOLS,
    PROTOCOL_SINCE,
)
from reconciler.resources import Kind
from reconciler.secrets.encrypting import key_id_of
from reconciler.secrets.headers import is_literal_credential

_ACTION_ENUM = "org.opensearch.ml.common.connector.ConnectorAction.ActionType"
_ACTION_NAME_MAX = 64


def check_connector(
    spec: ConnectorSpec, report: Reporter, *, context: CheckContext, inline: bool
) -> None:
    """Report every problem of a connector body; `report` is at the body (`spec`)."""
    _check_protocol(spec, report, context)
    _check_credential(spec, report, context, inline=inline)
    _check_managed_forms(spec, report, context)
    _check_aws(spec, report)
    _check_client_config(spec, report, context)
    _check_mcp_fields(spec, report, context)
    if spec.provisioned_by is not None and not context.capabilities.provisioned_by:
        report.error(needs("provisioned_by", "3.7", version=context.version), "provisioned_by")
    _check_action_list(spec, report, inline=inline)
    _check_parameter_values(spec, report, context)
    _check_shadowed_actions(spec, report)
    parameters = stringify_parameters(spec.parameters)
    credentials = frozenset(spec.credential)
    _check_literal_headers(spec.headers, report.at("headers"))
    for index, action in enumerate(spec.actions):
        at = report.at("actions", index)
        _check_action(action, at, context)
        _check_literal_headers(action.headers, at.at("headers"))
        check_action_templates(
            action,
            at,
            parameters=parameters,
            credentials=credentials,
            context=context,
            mcp=spec.protocol in MCP_PROTOCOLS,
        )
        _check_url(action.url, at, context, parameters=parameters)


def _check_protocol(spec: ConnectorSpec, report: Reporter, context: CheckContext) -> None:
    if spec.protocol not in context.capabilities.protocols:
        since = PROTOCOL_SINCE[spec.protocol].short
        report.error(needs(f"protocol {spec.protocol}", since, version=context.version), "protocol")


def _check_credential(
    spec: ConnectorSpec, report: Reporter, context: CheckContext, *, inline: bool
) -> None:
    _check_ciphertexts(spec, report)
    # §2.2: required on 2.19+ for non-MCP protocols; register with an inline connector
    # does not run that check (§6.2).
    if spec.credential or inline or spec.protocol in MCP_PROTOCOLS:
        return
    if context.capabilities.credential_required:
        report.error(
            "credential is required for non-MCP connectors on ML Commons 2.19+; the server "
            'refuses the connector with "Connector credential is null or empty list"',
            "credential",
        )


def _check_ciphertexts(spec: ConnectorSpec, report: Reporter) -> None:
    """An `encrypted` value that is no osml ciphertext fails now, not at apply time."""
    for name, ref in spec.credential.items():
        if not isinstance(ref, Encrypted):
            continue
        try:
            key_id_of(ref.encrypted)
        except SecretError as exc:
            report.error(
                f"{exc}; make one with `osml secrets encrypt`", "credential", name, "encrypted"
            )


def _check_managed_forms(spec: ConnectorSpec, report: Reporter, context: CheckContext) -> None:
    """roleArn and secretArn exist on managed domains only (`mlcommons.flavors`); there an
    ARN written out must be one, and elsewhere the form is refused with what to use."""
    for key in sorted(MANAGED_CREDENTIALS & set(spec.credential)):
        value = spec.credential[key]
        if context.flavor is not Flavor.AWS_MANAGED:
            report.error(needs_managed(key), "credential", key)
        elif isinstance(value, str) and (error := arn_error(key, value)):
            report.error(error, "credential", key)


def _check_aws(spec: ConnectorSpec, report: Reporter) -> None:
    """§2.2 `AwsConnector`: keys in credential, region and service name anywhere; a managed
    domain signs with the role of credential.roleArn instead of keys."""
    if spec.protocol != "aws_sigv4":
        return
    missing = [key for key in ("access_key", "secret_key") if key not in spec.credential]
    # With a roleArn the domain signs with that role; on a self-managed target the roleArn
    # is reported by _check_managed_forms with what to write instead.
    if missing and ROLE_ARN not in spec.credential:
        wanted = " and ".join(f"credential.{key}" for key in missing)
        report.error(
            f'aws_sigv4 needs {wanted}; the server refuses the connector with "Missing credential"',
            "credential",
        )
    for key, server in (("service_name", "Missing service name"), ("region", "Missing region")):
        if key not in spec.parameters and key not in spec.credential:
            report.error(
                f"aws_sigv4 needs {key} in parameters or credential; the server refuses "
                f'the connector with "{server}"',
                "parameters",
            )


def _check_client_config(spec: ConnectorSpec, report: Reporter, context: CheckContext) -> None:
    if spec.client_config is None:
        return
    if not context.capabilities.client_config:
        since = CLIENT_CONFIG_SINCE.short
        report.error(needs("client_config", since, version=context.version), "client_config")
        return
    for name in sorted(spec.client_config.model_fields_set):
        field = client_config_field(name)
        if field is not None and field.since > context.version.line:
            message = needs(f"client_config.{name}", field.since.short, version=context.version)
            report.error(message, "client_config", name)


def _check_mcp_fields(spec: ConnectorSpec, report: Reporter, context: CheckContext) -> None:
    if spec.protocol not in MCP_PROTOCOLS:
        for field in ("url", "headers"):
            if getattr(spec, field) is not None:
                report.warning(
                    f"{field} is only used by MCP connectors; the server ignores it for "
                    f"protocol {spec.protocol}",
                    field,
                )
        return
    url = spec.url or ""
    if not url.strip():
        report.error(
            "an MCP connector needs url; the server refuses it with "
            '"MCP Connector url is null or blank"',
            "url",
        )
    elif url.startswith("http://"):
        report.warning(_PLAIN_HTTP, "url")
    for name, value in (spec.headers or {}).items():
        check_header_placeholders(name, value, report.at("headers"), context=context, mcp=True)


def _check_literal_headers(headers: dict[str, str] | None, report: Reporter) -> None:
    """A credential written into a header is stored in clear on the server (§2.7)."""
    for name, value in (headers or {}).items():
        if is_literal_credential(name, value):
            report.warning(
                f"header {name} holds a literal credential; the server stores headers in "
                "clear and shows them to everyone who can read the connector: put the value "
                "in credential (fromEnv, fromFile or encrypted) and write "
                "${credential.<key>} here",
                name,
            )


def _check_action_list(spec: ConnectorSpec, report: Reporter, *, inline: bool) -> None:
    if spec.protocol in MCP_PROTOCOLS:
        return
    if not spec.actions:
        report.error(
            "a connector needs at least one action: without any, no model can call it, and "
            'the server refuses a connector sent without actions ("No actions configured '
            'for this connector")',
            "actions",
        )
    elif inline and not any(a.action_type.upper() == "PREDICT" for a in spec.actions):
        # §6.4: register looks for the PREDICT action's url.
        report.error(
            "an inline connector needs a PREDICT action; the server refuses the model with "
            '"Connector endpoint is required when creating a remote model without connector id!"',
            "actions",
        )


def _check_parameter_values(spec: ConnectorSpec, report: Reporter, context: CheckContext) -> None:
    """§2.2: 2.9 reads parameters with `mapStrings()`, which refuses nested values."""
    if context.capabilities.parameters_any_json:
        return
    for key, value in spec.parameters.items():
        if isinstance(value, dict | list):
            report.error(
                f"ML Commons {context.version.short} accepts only strings, numbers and booleans "
                "as connector parameters (2.10+ stores any JSON as a string)",
                "parameters",
                key,
            )


def _check_shadowed_actions(spec: ConnectorSpec, report: Reporter) -> None:
    """§2.3: no duplicate check exists, and at call time the first matching action wins."""
    first: dict[tuple[str, str | None], int] = {}
    for index, action in enumerate(spec.actions):
        key = (action.action_type.upper(), action.name)
        earlier = first.setdefault(key, index)
        if earlier != index:
            report.warning(
                f"actions[{earlier}] is also a {key[0]} action"
                + (f" named {action.name}" if action.name else "")
                + "; the server always uses the first one, so this one is never called",
                "actions",
                index,
            )


# --- one action ----------------------------------------------------------------------

_PLAIN_HTTP = "url uses plain http://; requests and their headers travel unencrypted"


def _check_action(action: ConnectorAction, report: Reporter, context: CheckContext) -> None:
    _check_action_type(action.action_type, report, context)
    _check_method(action.method, report, context)
    if action.name is not None:
        _check_action_name(action.name, report, context)
    if action.supports_structured_output is not None and not context.capabilities.structured_output:
        message = needs("supports_structured_output", "3.7", version=context.version)
        report.error(message, "supports_structured_output")
    for field, kind in (
        ("pre_process_function", FunctionKind.PRE),
        ("post_process_function", FunctionKind.POST),
    ):
        value = getattr(action, field)
        if value is not None:
            _check_function(value, report.at(field), context, kind=kind, field=field)


def _check_action_type(raw: str, report: Reporter, context: CheckContext) -> None:
    upper = raw.upper()
    since = ACTION_TYPE_SINCE.get(upper)
    if since is None:
        close = did_you_mean(upper, ACTION_TYPE_SINCE)
        hint = f"; did you mean {close}?" if close else ""
        report.error(
            f"action_type {raw} is not an action type{hint} (the server says "
            f'"No enum constant {_ACTION_ENUM}.{upper}")',
            "action_type",
        )
    elif upper not in context.capabilities.action_types:
        report.error(
            needs(f"action_type {upper}", since.short, version=context.version), "action_type"
        )


def _check_method(raw: str, report: Reporter, context: CheckContext) -> None:
    upper = raw.upper()
    since = HTTP_METHOD_SINCE.get(upper)
    if since is not None and upper in context.capabilities.http_methods:
        return
    allowed = ", ".join(sorted(context.capabilities.http_methods))
    when = f" before ML Commons {since.short}" if since else ""
    report.error(
        f"method {raw} is not supported{when} (use {allowed}); the server fails at predict "
        'with "unsupported http method"',
        "method",
    )


def _check_action_name(name: str, report: Reporter, context: CheckContext) -> None:
    """§2.3: named actions are 3.5+; the server's rules, in its order, first failure only."""
    if not context.capabilities.named_actions:
        report.error(needs("action name", "3.5", version=context.version), "name")
        return
    error = action_name_error(name)
    if error is not None:
        report.error(error, "name")


def action_name_error(name: str) -> str | None:
    """The server's refusal of an action name (`ConnectorAction.validateName`), if any."""
    if any(ord(char) < 32 for char in name):
        return "Action name must not contain control characters"
    if len(name) > _ACTION_NAME_MAX:
        return f"Action name exceeds maximum length of {_ACTION_NAME_MAX} characters"
    if not name or not all(char.isascii() and (char.isalnum() or char in "_-") for char in name):
        return (
            "Action name contains invalid characters. Only alphanumeric characters, "
            "hyphens, and underscores are allowed"
        )
    if name.upper() in ACTION_TYPE_SINCE:
        return f"name can't be one of action type [{', '.join(ACTION_TYPE_SINCE)}]"
    return None


def _check_function(
    value: str, report: Reporter, context: CheckContext, *, kind: FunctionKind, field: str
) -> None:
    """§4.2: an unknown `connector.` name is run as Painless and fails only at predict."""
    if not looks_builtin(value):
        return
    known = builtin_function(value)
    if known is None:
        close = closest_builtin(value, version=context.version, kind=kind)
        hint = f"; did you mean {close}?" if close else ""
        report.error(
            f"{value} is not a built-in {kind.value}-process function on ML Commons "
            f"{context.version.short}{hint} (the server would run it as a Painless script "
            "and fail at predict)"
        )
    elif known.kind is not kind:
        report.error(
            f"{value} is a {known.kind.value}-process function; it does not belong in {field}"
        )
    elif known.since > context.version.line:
        report.error(needs(value, known.since.short, version=context.version))


def _check_url(
    url: str, report: Reporter, context: CheckContext, *, parameters: dict[str, str]
) -> None:
    """§3.1: the URL with connector parameters filled must match a trusted regex."""
    rendered = substitute(url, parameters)
    if rendered.startswith("http://"):
        report.warning(_PLAIN_HTTP, "url")
    if Kind.TRUSTED_ENDPOINTS in context.unknown_settings:
        return  # the trusted list of this run is not known
    if url_is_trusted(rendered, context.trusted_patterns):
        return
    message = (
        f"url {rendered} does not match any trusted endpoint regex (add a TrustedEndpoints pattern)"
    )
    left = unresolved(rendered)
    if left:
        message += (
            f"; {left[0].text} is not a connector parameter, so the server checks the url "
            "with it unfilled"
        )
    report.error(message, "url")
