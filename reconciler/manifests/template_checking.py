"""Checks of one connector action's templates: placeholders and the request body.

Called by `manifests.connector_checking` for every action of standalone and inline
connectors. Reference §8.2: `${parameters.x}` comes from connector parameters or predict
parameters, `${credential.x}` is filled in headers only, and the rendered body must be JSON.
Reports through a Reporter; never reads files, never sees a credential value.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping

from reconciler.manifests.contexts import CheckContext, Reporter, did_you_mean
from reconciler.manifests.models import ConnectorAction
from reconciler.mlcommons.flavors import SECRET_ARN
from reconciler.mlcommons.functions import provided_parameters
from reconciler.mlcommons.templates import (
    Namespace,
    Placeholder,
    find_placeholders,
    inside_json_string,
    replace_placeholders,
    substitute,
)

# 3.7+ refuses `${parameters.*}` in these headers (§2.3, `AbstractConnector`).
PROTECTED_HEADERS = frozenset(
    {
        "authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token",
        "x-auth-header", "x-forwarded-for", "x-real-ip", "x-client-ip", "cf-connecting-ip",
        "true-client-ip", "x-originating-ip", "host", "x-forwarded-host",
        "x-forwarded-server", "forwarded",
    }
)  # fmt: skip

_SAMPLE_TEXT = "sample"
# What a bare (unquoted) placeholder may stand for in a body: a number, a list, an object
# or a whole JSON string, as blueprints use all four.
_BARE_SAMPLES = ("1", "[]", "{}", '"sample"')
_MAX_COMBINED = 3
"""Up to this many bare placeholders, every combination of samples is tried."""


def check_action_templates(
    action: ConnectorAction,
    report: Reporter,
    *,
    parameters: Mapping[str, str],
    credentials: frozenset[str],
    context: CheckContext,
    mcp: bool,
) -> None:
    """Report placeholder and body problems of `action`; `report` is at the action."""
    # Parameters a built-in pre-process function fills in count as defined (§4.1).
    known = {**dict.fromkeys(provided_parameters(action.pre_process_function), ""), **parameters}
    _check_field(action.url, report, "url", parameters=known)
    # Before 3.7 headers are filled from the connector's own parameters only; from 3.7
    # from the predict-time parameters, blocklist permitting (§2.3, §8.2 rule 9).
    at_predict = context.capabilities.header_parameter_placeholders
    for name, value in (action.headers or {}).items():
        _check_header(
            name,
            value,
            report,
            parameters=known if at_predict else parameters,
            credentials=credentials,
            context=context,
            mcp=mcp,
        )
    if action.request_body is not None:
        _check_field(action.request_body, report, "request_body", parameters=known)
        error = body_error(action.request_body, parameters)
        if error is not None:
            report.error(error, "request_body")


def check_header_placeholders(
    name: str, value: str, report: Reporter, *, context: CheckContext, mcp: bool
) -> None:
    """Report `${parameters.*}` in a header the 3.7+ server refuses to fill (§2.3).

    `report` is at the headers mapping; also used for the top-level headers of MCP connectors.
    """
    if not any(p.namespace is Namespace.PARAMETERS for p in find_placeholders(value)):
        return
    if not context.capabilities.header_parameter_placeholders:
        return
    if mcp:
        report.error(
            f"Header '{name}' cannot use ${{parameters.*}} placeholders in MCP connectors.", name
        )
    elif name.lower() in PROTECTED_HEADERS:
        report.error(
            f"Header '{name}' cannot use ${{parameters.*}} placeholders for security reasons. "
            "Use ${credential.*} instead.",
            name,
        )


def _check_header(
    name: str,
    value: str,
    report: Reporter,
    *,
    parameters: Mapping[str, str],
    credentials: frozenset[str],
    context: CheckContext,
    mcp: bool,
) -> None:
    headers = report.at("headers")
    check_header_placeholders(name, value, headers, context=context, mcp=mcp)
    for placeholder in _distinct(value):
        if placeholder.namespace is Namespace.CREDENTIAL:
            _check_credential(placeholder, headers.at(name), credentials)
        else:
            at_predict = context.capabilities.header_parameter_placeholders
            late = None if at_predict else _HEADER_BEFORE_37.format(v=context.version.short)
            _check_parameter(placeholder, headers.at(name), parameters, late=late)


def _check_field(
    template: str, report: Reporter, field: str, *, parameters: Mapping[str, str]
) -> None:
    for placeholder in _distinct(template):
        if placeholder.namespace is Namespace.CREDENTIAL:
            # §8.2 rule 5: credentials are substituted in headers and nowhere else.
            report.error(
                f"placeholder {placeholder.text} is only substituted in headers; "
                f"in {field} the server sends it as written",
                field,
            )
        else:
            _check_parameter(placeholder, report.at(field), parameters)


_HEADER_BEFORE_37 = (
    "before ML Commons 3.7 headers are filled from connector parameters only, so {v} "
    "sends it as written"
)


def _check_parameter(
    placeholder: Placeholder,
    report: Reporter,
    parameters: Mapping[str, str],
    *,
    late: str | None = None,
) -> None:
    """Defined, defaulted, misspelt (error) or left to predict time (warning; `late` says
    what happens instead where predict-time parameters do not reach)."""
    if placeholder.default is not None or placeholder.name in parameters:
        return
    close = did_you_mean(placeholder.name, parameters, cutoff=0.8)
    if close is not None:
        report.error(
            f"placeholder {placeholder.text} is not defined; did you mean ${{parameters.{close}}}?"
        )
        return
    report.warning(
        f"placeholder {placeholder.text} is not a connector parameter; "
        + (late or "it must be supplied at predict time")
    )


def _check_credential(
    placeholder: Placeholder, report: Reporter, credentials: frozenset[str]
) -> None:
    if placeholder.name in credentials:
        return
    secret, dot, _ = placeholder.name.partition(".")
    if secret == SECRET_ARN and dot and SECRET_ARN in credentials:
        # A key of the Secrets Manager secret: filled by managed domains only; on a
        # self-managed target credential.secretArn itself is the error to fix.
        return
    close = did_you_mean(placeholder.name, credentials, cutoff=0.6)
    hint = f"; did you mean ${{credential.{close}}}?" if close else " (not a key of credential)"
    report.error(f"placeholder {placeholder.text} is not defined{hint}")


def _distinct(template: str) -> Iterator[Placeholder]:
    """Placeholders of `template`, each name once: one problem per field is enough."""
    seen: set[tuple[Namespace, str]] = set()
    for placeholder in find_placeholders(template):
        key = (placeholder.namespace, placeholder.name)
        if key not in seen:
            seen.add(key)
            yield placeholder


# --- request body ------------------------------------------------------------------


def body_error(template: str, parameters: Mapping[str, str]) -> str | None:
    """Why `template` cannot render to JSON (or NDJSON, §8.2 rule 7), or None.

    Connector parameters are filled as the server fills them; every other placeholder
    gets a sample: text inside quotes, a number, list, object or string outside.
    """
    text = substitute(template, parameters)
    bare = [p for p in find_placeholders(text) if not inside_json_string(text, p.start)]
    first_error: str | None = None
    for choice in _sample_choices(len(bare)):
        samples = dict(zip((p.start for p in bare), choice, strict=True))
        error = _json_error(_render(text, samples))
        if error is None:
            return None
        first_error = first_error or error
    return f"request_body is not valid JSON once its placeholders are filled: {first_error}"


def _sample_choices(count: int) -> Iterator[tuple[str, ...]]:
    if count <= _MAX_COMBINED:
        yield from itertools.product(_BARE_SAMPLES, repeat=count)
        return
    for sample in _BARE_SAMPLES:
        yield (sample,) * count


def _render(text: str, bare_samples: Mapping[int, str]) -> str:
    return replace_placeholders(text, lambda p: bare_samples.get(p.start, _SAMPLE_TEXT))


def _json_error(text: str) -> str | None:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        if _is_ndjson(text):
            return None
        return str(exc)
    return None


def _is_ndjson(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    try:
        for line in lines:
            json.loads(line)
    except json.JSONDecodeError:
        return False
    return True
