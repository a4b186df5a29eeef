"""Semantic checks of connector bodies: protocol, credentials, actions, templates, URLs.

Each row: a small change to a clean manifest set, the target versions, and the exact
problems (path, severity, message) it must produce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.manifests.checkcases import (
    ALL_VERSIONS,
    Row,
    access,
    action,
    aws_connector,
    connector,
    error,
    model,
    run,
    trusted,
    warning,
)

A0 = "spec.actions[0]"
NOT_TRUSTED = "does not match any trusted endpoint regex (add a TrustedEndpoints pattern)"
MCP: dict[str, Any] = {
    "protocol": "mcp_sse",
    "url": "https://mcp.example/sse",
    "actions": None,
    "credential": None,
}
SAFE = "can only contain letters, numbers, spaces, and basic punctuation (.,!?():@-_'/\")"

CASES: list[tuple[str, tuple[str, ...], list[dict[str, Any]], list[Row]]] = [
    ("clean", ALL_VERSIONS, [connector()], []),
    # --- protocol and MCP (§2.2) ---
    ("mcp before 3.0", ("2.19",), [connector(**MCP)],
     [error("spec.protocol", "protocol mcp_sse needs ML Commons 3.0+ (target is 2.19)")]),
    ("mcp on 3.x", ("3.1", "3.8"), [connector(**MCP)], []),
    ("streamable http before 3.3", ("3.1",),
     [connector(**(MCP | {"protocol": "mcp_streamable_http"}))],
     [error("spec.protocol", "protocol mcp_streamable_http needs ML Commons 3.3+ (target is 3.1)")]),
    ("mcp without url", ("3.8",), [connector(**(MCP | {"url": None}))],
     [error("spec.url", 'an MCP connector needs url; the server refuses it with "MCP Connector url is null or blank"')]),
    ("mcp over http", ("3.8",), [connector(**(MCP | {"url": "http://mcp.example/sse"}))],
     [warning("spec.url", "url uses plain http://; requests and their headers travel unencrypted")]),
    ("mcp header parameter", ("3.8",),
     [connector(**(MCP | {"headers": {"X-Tenant": "${parameters.tenant}"}}))],
     [error("spec.headers.X-Tenant", "Header 'X-Tenant' cannot use ${parameters.*} placeholders in MCP connectors.")]),
    ("url on an http connector", ("3.8",), [connector(url="https://x.example")],
     [warning("spec.url", "url is only used by MCP connectors; the server ignores it for protocol http")]),
    # --- credential (§2.2) ---
    ("no credential before 2.19", ("2.9", "2.13"),
     [connector(credential=None, actions=[action(headers=None)])], []),
    ("no credential from 2.19", ("2.19", "3.8"),
     [connector(credential=None, actions=[action(headers=None)])],
     [error("spec.credential", 'credential is required for non-MCP connectors on ML Commons 2.19+; the server refuses the connector with "Connector credential is null or empty list"')]),
    ("encrypted value that is no ciphertext", ("3.8",),
     [connector(credential={"openAI_key": {"encrypted": "sk-pasted-by-mistake"}})],
     [error("spec.credential.openAI_key.encrypted", "not an osml ciphertext (expected osml:v1:...); make one with `osml secrets encrypt`")]),
    ("encrypted value cut short", ("3.8",),
     [connector(credential={"openAI_key": {"encrypted": "osml:v1:0123abcd:AAAA"}})],
     [error("spec.credential.openAI_key.encrypted", "ciphertext is truncated or malformed; make one with `osml secrets encrypt`")]),
    ("aws clean", ("2.13", "3.8"), [aws_connector()], []),
    ("aws missing keys and region", ("2.19",),
     [aws_connector(
         credential={"access_key": {"fromEnv": "A"}},
         parameters={"service_name": "bedrock"},
         actions=[action(url="https://bedrock-runtime.us-east-1.amazonaws.com/m", headers=None, request_body=None)],
     )],
     [error("spec.credential", 'aws_sigv4 needs credential.secret_key; the server refuses the connector with "Missing credential"'),
      error("spec.parameters", 'aws_sigv4 needs region in parameters or credential; the server refuses the connector with "Missing region"')]),
    ("aws region and service in credential", ("2.19",),
     [aws_connector(
         credential={k: {"fromEnv": k.upper()} for k in ("access_key", "secret_key", "region", "service_name")},
         parameters=None,
         actions=[action(url="https://bedrock-runtime.us-east-1.amazonaws.com/m", headers=None, request_body=None)],
     )], []),
    ("aws nothing", ("2.13",),
     [aws_connector(credential=None, parameters=None,
                    actions=[action(url="https://bedrock-runtime.us-east-1.amazonaws.com/m", headers=None, request_body=None)])],
     [error("spec.credential", 'aws_sigv4 needs credential.access_key and credential.secret_key; the server refuses the connector with "Missing credential"'),
      error("spec.parameters", 'aws_sigv4 needs service_name in parameters or credential; the server refuses the connector with "Missing service name"'),
      error("spec.parameters", 'aws_sigv4 needs region in parameters or credential; the server refuses the connector with "Missing region"')]),
    # --- actions (§2.3) ---
    ("no actions", ("3.8",), [connector(actions=[])],
     [error("spec.actions", 'a connector needs at least one action: without any, no model can call it, and the server refuses a connector sent without actions ("No actions configured for this connector")')]),
    ("misspelt action type", ("3.8",), [connector(actions=[action(action_type="predit")])],
     [error(f"{A0}.action_type", 'action_type predit is not an action type; did you mean PREDICT? (the server says "No enum constant org.opensearch.ml.common.connector.ConnectorAction.ActionType.PREDIT")')]),
    ("execute before 2.15", ("2.9", "2.13"), [connector(actions=[action(action_type="execute")])],
     [error(f"{A0}.action_type", "action_type EXECUTE needs ML Commons 2.15+ (target is {v})")]),
    ("batch predict on 2.19", ("2.19", "3.8"), [connector(actions=[action(action_type="BATCH_PREDICT")])], []),
    ("put before 3.5", ("2.19", "3.1"), [connector(actions=[action(method="PUT")])],
     [error(f"{A0}.method", 'method PUT is not supported before ML Commons 3.5 (use GET, POST); the server fails at predict with "unsupported http method"')]),
    ("put and lower-case on 3.8", ("3.8",), [connector(actions=[action(method="put"), action(action_type="execute", method="post")])], []),
    ("shadowed action", ("3.8",), [connector(actions=[action(), action(action_type="PREDICT")])],
     [warning("spec.actions[1]", "actions[0] is also a PREDICT action; the server always uses the first one, so this one is never called")]),
    ("distinct names do not shadow", ("3.8",), [connector(actions=[action(name="a"), action(name="b"), action(name="b")])],
     [warning("spec.actions[2]", "actions[1] is also a PREDICT action named b; the server always uses the first one, so this one is never called")]),
    ("nested parameters on 2.9", ("2.9",), [connector(parameters={"endpoint": "api.openai.com", "model": "gpt-4", "stop": ["\\n"], "n": 1})],
     [error("spec.parameters.stop", "ML Commons 2.9 accepts only strings, numbers and booleans as connector parameters (2.10+ stores any JSON as a string)")]),
    ("nested parameters from 2.10", ("2.13", "3.8"), [connector(parameters={"endpoint": "api.openai.com", "model": "gpt-4", "stop": ["\\n"]})], []),
    ("patch never", ("3.8",), [connector(actions=[action(method="PATCH")])],
     [error(f"{A0}.method", 'method PATCH is not supported (use DELETE, GET, POST, PUT); the server fails at predict with "unsupported http method"')]),
    ("action name before 3.5", ("3.1",), [connector(actions=[action(name="chat")])],
     [error(f"{A0}.name", "action name needs ML Commons 3.5+ (target is 3.1)")]),
    ("action names on 3.8", ("3.8",),
     [connector(actions=[action(name="chat_v2-x"), action(name="bad name!"), action(name="Predict"), action(name="a!" * 40), action(name="a\tb")])],
     [error("spec.actions[1].name", "Action name contains invalid characters. Only alphanumeric characters, hyphens, and underscores are allowed"),
      error("spec.actions[2].name", "name can't be one of action type [PREDICT, EXECUTE, BATCH_PREDICT, CANCEL_BATCH_PREDICT, BATCH_PREDICT_STATUS]"),
      error("spec.actions[3].name", "Action name exceeds maximum length of 64 characters"),
      error("spec.actions[4].name", "Action name must not contain control characters")]),
    ("structured output before 3.7", ("3.1",), [connector(actions=[action(supports_structured_output=True)])],
     [error(f"{A0}.supports_structured_output", "supports_structured_output needs ML Commons 3.7+ (target is 3.1)")]),
    # --- client_config (§2.4) and other version-gated fields ---
    ("client_config before 2.13", ("2.9",), [connector(client_config={"max_connection": 5})],
     [error("spec.client_config", "client_config needs ML Commons 2.13+ (target is 2.9)")]),
    ("retry fields before 2.15", ("2.13",), [connector(client_config={"max_connection": 5, "max_retry_times": 3})],
     [error("spec.client_config.max_retry_times", "client_config.max_retry_times needs ML Commons 2.15+ (target is 2.13)")]),
    ("skip ssl before 3.5", ("3.1",), [connector(client_config={"skip_ssl_verification": True})],
     [error("spec.client_config.skip_ssl_verification", "client_config.skip_ssl_verification needs ML Commons 3.5+ (target is 3.1)")]),
    ("all client_config fields on 3.8", ("3.8",),
     [connector(client_config={"max_connection": 5, "retry_backoff_policy": "EXPONENTIAL_FULL_JITTER", "skip_ssl_verification": False})], []),
    ("provisioned_by before 3.7", ("3.1",), [connector(provisioned_by="team")],
     [error("spec.provisioned_by", "provisioned_by needs ML Commons 3.7+ (target is 3.1)")]),
    ("provisioned_by safe text", ("3.8",), [connector(provisioned_by="ci;prod")],
     [error("spec.provisioned_by", f"Model connector provisioned_by field {SAFE}")]),
    # --- placeholders (§8.2) ---
    ("misspelt url parameter", ("3.8",),
     [connector(actions=[action(url="https://${parameters.endpont}/v1/chat/completions")])],
     [error(f"{A0}.url", "placeholder ${parameters.endpont} is not defined; did you mean ${parameters.endpoint}?"),
      error(f"{A0}.url", f"url https://${{parameters.endpont}}/v1/chat/completions {NOT_TRUSTED}; ${{parameters.endpont}} is not a connector parameter, so the server checks the url with it unfilled")]),
    ("predict-time body parameter", ALL_VERSIONS,
     [connector(actions=[action(request_body='{"model": "${parameters.model}", "messages": ${parameters.messages}}')])],
     [warning(f"{A0}.request_body", "placeholder ${parameters.messages} is not a connector parameter; it must be supplied at predict time")]),
    ("parameters of a built-in pre-process function", ("2.19", "3.8"),
     [connector(actions=[action(pre_process_function="connector.pre_process.cohere.embedding",
                                request_body='{"texts": ${parameters.texts}, "x": ${parameters.text}}')])],
     [error(f"{A0}.request_body", "placeholder ${parameters.text} is not defined; did you mean ${parameters.texts}?")]),
    ("misspelt body parameter, reported once", ("3.8",),
     [connector(actions=[action(request_body='{"a": "${parameters.modle}", "b": "${parameters.modle}"}')])],
     [error(f"{A0}.request_body", "placeholder ${parameters.modle} is not defined; did you mean ${parameters.model}?")]),
    ("defaults and toString", ("3.8",),
     [connector(actions=[action(request_body='{"a": ${parameters.n:-1}, "b": "${parameters.model.toString()}"}')])], []),
    ("credential in url", ("3.8",),
     [connector(actions=[action(url="https://api.openai.com/v1?key=${credential.openAI_key}")])],
     [error(f"{A0}.url", "placeholder ${credential.openAI_key} is only substituted in headers; in url the server sends it as written")]),
    ("credential in body", ("3.8",),
     [connector(actions=[action(request_body='{"key": "${credential.openAI_key}"}')])],
     [error(f"{A0}.request_body", "placeholder ${credential.openAI_key} is only substituted in headers; in request_body the server sends it as written")]),
    ("unknown credential in header", ("3.8",),
     [connector(actions=[action(headers={"Authorization": "Bearer ${credential.openAI_kye}", "X-Org": "${credential.org}"})])],
     [error(f"{A0}.headers.Authorization", "placeholder ${credential.openAI_kye} is not defined; did you mean ${credential.openAI_key}?"),
      error(f"{A0}.headers.X-Org", "placeholder ${credential.org} is not defined (not a key of credential)")]),
    ("connector parameter in header", ALL_VERSIONS,
     [connector(actions=[action(headers={"X-Model": "${parameters.model}"})])], []),
    ("predict-time parameter in header before 3.7", ("2.9", "3.1"),
     [connector(actions=[action(headers={"X-User": "${parameters.user}"})])],
     [warning(f"{A0}.headers.X-User", "placeholder ${parameters.user} is not a connector parameter; before ML Commons 3.7 headers are filled from connector parameters only, so {v} sends it as written")]),
    ("predict-time parameter in header from 3.7", ("3.8",),
     [connector(actions=[action(headers={"X-User": "${parameters.user}"})])],
     [warning(f"{A0}.headers.X-User", "placeholder ${parameters.user} is not a connector parameter; it must be supplied at predict time")]),
    ("connector parameter in a protected header before 3.7", ("3.1",),
     [connector(actions=[action(headers={"Authorization": "Bearer ${parameters.model}"})])], []),
    ("parameter in a protected header", ("3.8",),
     [connector(actions=[action(headers={"Authorization": "Bearer ${parameters.model}"})])],
     [error(f"{A0}.headers.Authorization", "Header 'Authorization' cannot use ${parameters.*} placeholders for security reasons. Use ${credential.*} instead.")]),
    # --- request body JSON (§8.2 rule 7) ---
    ("bare placeholders of several shapes", ("3.8",),
     [connector(parameters={"endpoint": "api.openai.com", "model": "gpt-4", "n": 2},
                actions=[action(request_body='{"model": "${parameters.model}", "n": ${parameters.n}, "messages": ${parameters.messages:-[]}, "tools": ${parameters.tools:-{}}}')])], []),
    ("ndjson body", ("3.8",),
     [connector(actions=[action(request_body='{"index": {}}\n{"model": "${parameters.model}"}\n')])], []),
    ("invalid body", ("3.8",),
     [connector(actions=[action(request_body='{"model": "${parameters.model}",}')])],
     [error(f"{A0}.request_body", "request_body is not valid JSON once its placeholders are filled: Expecting property name enclosed in double quotes: line 1 column 19 (char 18)")]),
    ("invalid body whatever the samples", ("3.8",),
     [connector(actions=[action(request_body='{"a": ${parameters.p} ${parameters.q}}')])],
     [warning(f"{A0}.request_body", "placeholder ${parameters.p} is not a connector parameter; it must be supplied at predict time"),
      warning(f"{A0}.request_body", "placeholder ${parameters.q} is not a connector parameter; it must be supplied at predict time"),
      error(f"{A0}.request_body", "request_body is not valid JSON once its placeholders are filled: Expecting ',' delimiter: line 1 column 9 (char 8)")]),
    # --- built-in functions (§4) ---
    ("known functions and scripts", ("3.8",),
     [connector(actions=[action(pre_process_function="connector.pre_process.openai.embedding",
                                post_process_function="def x = params['a']; return x;")])], []),
    ("misspelt function", ("3.8",),
     [connector(actions=[action(post_process_function="connector.post_process.openai.embeding")])],
     [error(f"{A0}.post_process_function", "connector.post_process.openai.embeding is not a built-in post-process function on ML Commons 3.8; did you mean connector.post_process.openai.embedding? (the server would run it as a Painless script and fail at predict)")]),
    ("post function as pre", ("3.8",),
     [connector(actions=[action(pre_process_function="connector.post_process.openai.embedding")])],
     [error(f"{A0}.pre_process_function", "connector.post_process.openai.embedding is a post-process function; it does not belong in pre_process_function")]),
    ("function too new", ("2.13",),
     [connector(actions=[action(pre_process_function="connector.pre_process.bedrock.rerank")])],
     [error(f"{A0}.pre_process_function", "connector.pre_process.bedrock.rerank needs ML Commons 2.19+ (target is 2.13)")]),
    ("parameterised function name is not checked", ("3.8",),
     [connector(actions=[action(pre_process_function="connector.pre_process.${parameters.kind}.embedding")])], []),
    # --- trusted endpoints (§3.1) ---
    ("untrusted url", ALL_VERSIONS,
     [connector(actions=[action(url="https://api.example.com/v1")])],
     [error(f"{A0}.url", f"url https://api.example.com/v1 {NOT_TRUSTED}")]),
    ("trusted by a merged pattern", ALL_VERSIONS,
     [connector(actions=[action(url="https://api.example.com/v1")]), connector("openai"),
      trusted(r"^https://api\.example\.com/.*$")], []),
    ("exact mode drops the defaults", ("3.8",),
     [connector(), trusted(r"^https://api\.example\.com/.*$", mode="exact")],
     [error(f"{A0}.url", f"url https://api.openai.com/v1/chat/completions {NOT_TRUSTED}")]),
    ("plain http", ("3.8",),
     [connector(actions=[action(url="http://localhost:8080/v1")]), trusted(r"^http://localhost:8080/.*$")],
     [warning(f"{A0}.url", "url uses plain http://; requests and their headers travel unencrypted"),
      warning("spec.patterns[0]", r"pattern ^http://localhost:8080/.*$ allows plain http://")]),
    ("inline connector of a model", ("3.8",),
     [model(connector={"name": "inline", "version": 1, "protocol": "http",
                       "actions": [action(url="https://api.example.com/v1", headers=None, request_body=None)]})],
     [error("spec.connector.actions[0].url", f"url https://api.example.com/v1 {NOT_TRUSTED}")]),
    ("inline connector needs predict", ("3.8",),
     [model(connector={"name": "inline", "version": 1, "protocol": "http",
                       "actions": [action(action_type="execute", url="https://api.openai.com/v1", headers=None, request_body=None)]})],
     [error("spec.connector.actions", 'an inline connector needs a PREDICT action; the server refuses the model with "Connector endpoint is required when creating a remote model without connector id!"')]),
    ("public connector with credentials", ("3.8",),
     [access(connector_access_control_enabled=True), connector(access_mode="public")],
     [warning("spec.access_mode", "access_mode public lets every user of the cluster call this connector with its credentials")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("documents", "version", "expected"),
    [
        pytest.param(documents, version, expected, id=f"{name} @{version}")
        for name, versions, documents, expected in CASES
        for version in versions
    ],
)
def test_connector_checks(
    tmp_path: Path, documents: list[dict[str, Any]], version: str, expected: list[Row]
) -> None:
    wanted = [
        (path, severity, message.replace("{v}", version)) for path, severity, message in expected
    ]
    assert run(tmp_path, documents, version) == wanted
