"""Predict on remote models (reference §8): render the connector action and call its URL.

Registered by `ml.register` on both predict routes. The handler checks the model (enabled,
deployed or auto-deployable, §6.9), merges and escapes parameters, renders the request body
and URL (`templating.py`), fills `${credential.*}` in headers only from the decrypted
credential, enforces the private-address and (3.7+) trusted-endpoint rules of §3, hands the
call to `sending.py` (SigV4 signing, the provider emulators, or a real HTTP call) and wraps
the answer as `inference_results` (§8.1). Decrypted credentials live only in local variables
and are never logged or echoed.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.sandbox import managed
from reconciler.sandbox.http import ApiError, Response
from reconciler.sandbox.ml import connector_parsing as parsing
from reconciler.sandbox.ml import (
    crypto,
    deploying,
    failures,
    indices,
    processing,
    sending,
    templating,
)
from reconciler.sandbox.ml.builtin_functions import Inputs

if TYPE_CHECKING:
    from reconciler.sandbox.http import Context, Request, Router
    from reconciler.sandbox.store import Doc

_PRIVATE_NETS = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fe80::/10")
)
_AUTO_DEPLOY = "plugins.ml_commons.model_auto_deploy.enable"
_PRIVATE_IP = "plugins.ml_commons.connector.private_ip_enabled"
_PRIVATE_TRUSTED = "plugins.ml_commons.trusted_connector_private_endpoints_regex"
_RESTRICTED_IPS = "plugins.ml_commons.connector.restricted_ip_patterns"


def register(router: Router) -> None:
    """Add the predict routes."""
    router.add("POST", "/_plugins/_ml/models/{model_id}/_predict", predict)
    router.add("POST", "/_plugins/_ml/_predict/{algorithm}/{model_id}", predict_algorithm)


def predict(ctx: Context, request: Request, *, model_id: str) -> Response:
    """POST /models/{id}/_predict with `{"parameters": {...}}`."""
    return Response(200, run(ctx, model_id, indices.body_object(request)))


def predict_algorithm(ctx: Context, request: Request, *, algorithm: str, model_id: str) -> Response:
    """POST /_predict/{algorithm}/{id}; `text_docs` input goes through the pre-process function."""
    body = indices.body_object(request)
    return Response(200, run(ctx, model_id, body, algorithm=algorithm.upper()))


def run(
    ctx: Context, model_id: str, body: Mapping[str, Any], *, algorithm: str | None = None
) -> dict[str, Any]:
    """The whole predict: checks, one remote call per batch of documents (§4), the answers."""
    model = _ready_model(ctx, model_id)
    connector = _connector(ctx, model)
    action = _predict_action(connector)
    inputs = _inputs(body)
    connector_params = connector.get("parameters") or {}
    pre = action.get("pre_process_function")
    batches = processing.batches(pre, inputs, connector_params, profile=ctx.profile)
    kind = algorithm or _ALGORITHMS[inputs.kind]
    return {
        "inference_results": [
            _invoke(ctx, connector, action, body, inputs=batch, algorithm=kind) for batch in batches
        ]
    }


_ALGORITHMS = {
    "parameters": "REMOTE",
    "text_docs": "TEXT_EMBEDDING",
    "text_similarity": "TEXT_SIMILARITY",
}


def _inputs(body: Mapping[str, Any]) -> Inputs:
    docs = body.get("text_docs")
    if not isinstance(docs, list):
        return Inputs("parameters")
    texts = tuple(str(doc) for doc in docs)
    if "query_text" in body:
        return Inputs("text_similarity", texts, str(body.get("query_text")))
    return Inputs("text_docs", texts)


def _invoke(
    ctx: Context,
    connector: Mapping[str, Any],
    action: Mapping[str, Any],
    body: Mapping[str, Any],
    *,
    inputs: Inputs,
    algorithm: str,
) -> dict[str, Any]:
    """One remote call: rendering, the outbound request and the post-processed answer."""
    params = _parameters(ctx, connector, action, body, inputs=inputs, algorithm=algorithm)
    payload = _payload(ctx, action, params)
    url = templating.render(str(action.get("url", "")), params)
    _check_url(ctx, url)
    credential = crypto.decrypt_map(ctx, connector.get("credential") or {})
    if ctx.config.flavor == managed.AWS_MANAGED:
        credential = managed.for_call(credential, headers=action.get("headers") or {})
    headers = _headers(ctx, action, params, credential=credential)
    status, answer = _call(
        ctx, connector, action, url=url, payload=payload, headers=headers, credential=credential
    )
    tensors = processing.post_process(
        action.get("post_process_function"), answer, parameters=params, profile=ctx.profile
    )
    result: dict[str, Any] = {"output": tensors}
    if ctx.profile.predict_status_code:
        result["status_code"] = status
    return result


def _ready_model(ctx: Context, model_id: str) -> Doc:
    doc = indices.get_doc(ctx, indices.MODELS, model_id)
    if doc is None:
        raise failures.status(404, f"Failed to find model with the provided model id: {model_id}")
    if ctx.profile.model_enable_fields and doc.source.get("is_enabled") is False:
        raise failures.status(403, "Model is disabled.")
    if doc.source.get("model_state") in deploying.DEPLOYED_STATES:
        return doc
    _auto_deploy(ctx, model_id, doc)
    return indices.get_doc(ctx, indices.MODELS, model_id) or doc


def _auto_deploy(ctx: Context, model_id: str, doc: Doc) -> None:
    opted_out = (doc.source.get("deploy_setting") or {}).get("is_auto_deploy_enabled") is False
    enabled = ctx.profile.auto_deploy_on_predict and ctx.settings.get(_AUTO_DEPLOY) is not False
    if enabled and opted_out:
        raise failures.status(
            400, "Auto deployment disabled for this model, please deploy model first"
        )
    if not enabled:
        raise failures.status(400, ctx.profile.model_not_ready.format(id=model_id))
    if not deploying.deploy_now(ctx, model_id):
        raise failures.status(400, ctx.profile.model_not_ready.format(id=model_id))


def _connector(ctx: Context, model: Doc) -> dict[str, Any]:
    inline = model.source.get("connector")
    if isinstance(inline, Mapping):
        return dict(inline)
    connector_id = str(model.source.get("connector_id"))
    doc = indices.get_doc(ctx, indices.CONNECTORS, connector_id)
    if doc is None:
        raise failures.status(404, f"Failed to find connector:{connector_id}")
    return doc.source


def _predict_action(connector: Mapping[str, Any]) -> dict[str, Any]:
    for action in connector.get("actions") or []:
        if action.get("action_type") == "PREDICT":
            return dict(action)
    raise failures.illegal_argument("no PREDICT action found")


def _parameters(
    ctx: Context,
    connector: Mapping[str, Any],
    action: Mapping[str, Any],
    body: Mapping[str, Any],
    *,
    inputs: Inputs,
    algorithm: str,
) -> dict[str, str]:
    requested = templating.request_parameters(body.get("parameters"))
    params = templating.merge_parameters(connector.get("parameters") or {}, requested)
    produced = processing.pre_process(
        action.get("pre_process_function"),
        inputs=inputs,
        parameters=params,
        algorithm=algorithm,
        profile=ctx.profile,
    )
    # Request parameters are re-applied after pre-processing so they always win (§8.2).
    return {**params, **produced, **requested}


def _payload(ctx: Context, action: Mapping[str, Any], params: Mapping[str, str]) -> str:
    template = action.get("request_body")
    if template is None:
        return ""
    payload = templating.render(str(template), params)
    missing = templating.leftover_placeholders(payload)
    skip = (
        ctx.profile.skip_missing_parameters
        and params.get("skip_validating_missing_parameters") == "true"
    )
    if missing and not skip:
        raise failures.illegal_argument(
            f"Some parameter placeholder not filled in payload: {', '.join(missing)}"
        )
    if ctx.profile.invalid_payload_check and not templating.is_json_payload(payload):
        raise failures.illegal_argument(f"Invalid payload: {payload}")
    return processing.clean_payload(payload, params)


def _check_url(ctx: Context, url: str) -> None:
    """The call-time URL rules of §3.1 (3.7+ re-check) and §3.2 (addresses)."""
    if ctx.profile.trusted_check_at_predict:
        patterns = parsing.trusted_patterns(ctx)
        if not parsing.url_is_trusted(url, patterns):
            raise parsing.untrusted(ctx.profile, url)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise failures.illegal_argument(f"Protocol is not http or https: {parts.scheme}")
    try:
        parts.port  # noqa: B018 (urllib validates the port range on access)
    except ValueError:
        raise failures.illegal_argument(f"Port out of range: {parts.netloc}") from None
    _check_address(ctx, url, parts.hostname or "")


def _check_address(ctx: Context, url: str, host: str) -> None:
    addresses = _addresses(host)
    if ctx.profile.private_endpoint_settings:
        for pattern in ctx.settings.get(_RESTRICTED_IPS) or []:
            if any(re.fullmatch(str(pattern), address) for address in addresses):
                raise failures.illegal_argument(
                    f"Remote inference host name has restricted ip address: {host}"
                )
    if not any(_private(address) for address in addresses):
        return
    if not (ctx.profile.private_ip_setting and ctx.settings.get(_PRIVATE_IP) is True):
        raise failures.illegal_argument(
            f"Remote inference host name has private ip address: {host}"
            if ctx.profile.private_ip_message
            else host
        )
    private_patterns = ctx.settings.get(_PRIVATE_TRUSTED) or []
    allowed = [str(p) for p in private_patterns]
    if (
        ctx.profile.private_endpoint_settings
        and allowed
        and not parsing.url_is_trusted(url, allowed)
    ):
        raise failures.illegal_argument(
            "Connector URL is not matching the trusted connector private endpoint regex"
        )


def _addresses(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return []
    return [str(info[4][0]).split("%")[0] for info in infos]


def _private(text: str) -> bool:
    address = ipaddress.ip_address(text)
    if address.is_loopback or address.is_unspecified:
        return True
    return any(address in net for net in _PRIVATE_NETS if net.version == address.version)


def _headers(
    ctx: Context,
    action: Mapping[str, Any],
    params: Mapping[str, str],
    *,
    credential: Mapping[str, str],
) -> dict[str, str]:
    """Headers with credentials (all versions) and, 3.7+, parameters filled (§8.2 5, 9)."""
    headers = templating.render_headers(action.get("headers") or {}, credential=credential)
    if not ctx.profile.header_parameters:
        return headers
    rendered = {name: templating.render(value, params) for name, value in headers.items()}
    for name, value in rendered.items():
        if templating.leftover_placeholders(value):
            raise failures.illegal_argument(
                f"Header '{name}' contains unresolved placeholder. Required parameter is missing."
            )
    return rendered


def _timeout(ctx: Context, connector: Mapping[str, Any]) -> float:
    config = connector.get("client_config") or {}
    seconds_unit = ctx.profile.connector_timeouts_in_seconds
    raw = config.get("read_timeout", 30 if seconds_unit else 30000)
    return float(raw) if seconds_unit else float(raw) / 1000.0


def _call(
    ctx: Context,
    connector: Mapping[str, Any],
    action: Mapping[str, Any],
    *,
    url: str,
    payload: str,
    headers: Mapping[str, str],
    credential: Mapping[str, str],
) -> tuple[int, Any]:
    method = str(action.get("method", "POST")).upper()
    if method not in ctx.profile.http_methods:
        raise failures.illegal_argument("unsupported http method")
    if method == "POST" and not payload:
        raise failures.illegal_argument("Content length is 0. Aborting request to remote model")
    try:
        status, raw = sending.send(
            ctx,
            connector,
            method=method,
            url=url,
            payload=payload,
            headers=headers,
            credential=credential,
            timeout=_timeout(ctx, connector),
        )
    except sending.SendError as err:
        raise _network_error(ctx, str(err)) from None
    return _answer(ctx, status, raw)


def _network_error(ctx: Context, message: str) -> ApiError:
    if ctx.profile.wraps_transport_errors:
        return failures.ml_exception(f"Error communicating with remote model: {message}")
    # 2.9-2.13: the sync client's IOException reaches `HttpJsonConnectorExecutor` wrapped in a
    # PrivilegedActionException, which it rethrows as `MLException("Fail to execute http
    # connector", e)`.
    return failures.ml_exception("Fail to execute http connector")


def _answer(ctx: Context, status: int, raw: bytes) -> tuple[int, Any]:
    text = raw.decode("utf-8", errors="replace")
    modern = ctx.profile.empty_body_errors
    if not 200 <= status < 300 and ctx.profile.predict_status_code:
        if modern and not text.strip():
            raise failures.status(
                status, f"Remote service returned error status {status} with empty body"
            )
        raise failures.status(status, f"Error from remote service: {text}")
    if modern and not text.strip():
        raise failures.status(502, "Remote service returned empty response body")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {"response": text}
