"""A brownfield cluster: one filled by direct API calls, as scripts made it before osml.

`fill(sandbox, secret=...)` sends, with opensearch-py as the admin user and, for what an
admin may not do, as a user of the `analytics` backend role:

* ML settings that differ from the version's defaults (both access-control flags on, a
  retry count, the trusted endpoints with every blueprint host added);
* model groups in every access mode: public, private, restricted with backend roles, and
  restricted with `add_all_backend_roles` (refused for an admin, §5.3, so sent by the
  analyst);
* a standalone connector per blueprint of the corpus that works on the profile (every
  provider the sandbox emulates, `http` and `aws_sigv4`), in public, private and
  restricted modes, two of them with the same name, each credential set to `secret`;
* remote models on those connectors, every other one deployed, and models with an
  internal connector (the register bodies of the corpus, and one of our own).

The sandbox must run with `security=True` and `users=USERS`. Test support: it may import
opensearch-py; it imports nothing of osml but the sandbox's own test helpers.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import time
from collections.abc import Callable
from typing import Any

from opensearchpy import OpenSearch

from reconciler.sandbox.ml.profiles import get_profile
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from tests.support import blueprints
from tests.support.conformance import call

ML = "/_plugins/_ml"
ANALYST = ("analyst", "analyst-password-0")
USERS = {
    ANALYST[0]: {
        "password": ANALYST[1],
        "backend_roles": ["analytics"],
        "roles": ["ml_full_access"],
    },
}
"""Besides the admin: a user whose backend role a group can be shared with."""
TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"
SETTINGS = {
    "plugins.ml_commons.connector_access_control_enabled": True,
    "plugins.ml_commons.model_access_control_enabled": True,
    "plugins.ml_commons.model_auto_redeploy.lifetime_retry_times": 5,
}
"""Non-default ML settings every profile registers (§9)."""


@dataclasses.dataclass
class Filled:
    """What `fill` made, by kind: live IDs."""

    connectors: list[str] = dataclasses.field(default_factory=list)
    groups: list[str] = dataclasses.field(default_factory=list)
    models: list[str] = dataclasses.field(default_factory=list)
    deployed: list[str] = dataclasses.field(default_factory=list)
    internal: list[str] = dataclasses.field(default_factory=list)
    protocols: set[str] = dataclasses.field(default_factory=set)


def fill(sandbox: Sandbox, *, secret: str) -> Filled:
    """Fill `sandbox` (see the module docstring); what was made."""
    profile = sandbox.profile.name
    admin = client_for(sandbox)
    analyst = client_for(sandbox, http_auth=ANALYST)
    chosen = usable(profile)
    hosts = sorted({blueprint.host for blueprint in chosen} | {"llm.example.internal"})
    trusted = [*get_profile(profile).trusted_endpoints]
    trusted += [f"^https?://{re.escape(host)}.*$" for host in hosts]
    _ok(admin, "PUT", "/_cluster/settings", {"persistent": {**SETTINGS, TRUSTED: trusted}})
    filled = Filled()
    groups = {
        "public": _ok(admin, "POST", f"{ML}/model_groups/_register",
                      {"name": "Shared models", "access_mode": "public",
                       "description": "Everyone may use these"}),
        "private": _ok(admin, "POST", f"{ML}/model_groups/_register",
                       {"name": "Admin only", "access_mode": "private"}),
        "restricted": _ok(admin, "POST", f"{ML}/model_groups/_register",
                          {"name": "Search team", "access_mode": "restricted",
                           "backend_roles": ["search", "analytics"]}),
        "all-roles": _ok(analyst, "POST", f"{ML}/model_groups/_register",
                         {"name": "Analytics team", "access_mode": "restricted",
                          "add_all_backend_roles": True}),
    }  # fmt: skip
    filled.groups = [answer["model_group_id"] for answer in groups.values()]
    group_ids = list(filled.groups)
    modes = [
        {"access_mode": "public"},
        {},
        {"access_mode": "restricted", "backend_roles": ["search"]},
    ]
    for index, blueprint in enumerate(chosen):
        body = with_secret(blueprint.data["body"], secret)
        if "actions" not in body:
            body["model_group_id"] = group_ids[index % len(group_ids)]
            model_id = _register(admin, body)
            filled.internal.append(model_id)
            filled.models.append(model_id)
            continue
        body.update(modes[index % len(modes)])
        connector_id = _ok(admin, "POST", f"{ML}/connectors/_create", body)["connector_id"]
        filled.connectors.append(connector_id)
        filled.protocols.add(body["protocol"])
        model = {
            "name": f"{blueprint.name} model",
            "function_name": "remote",
            "connector_id": connector_id,
            "model_group_id": group_ids[index % len(group_ids)],
        }
        model_id = _register(admin, model)
        filled.models.append(model_id)
        if index % 2 == 0:
            _deploy(admin, model_id)
            filled.deployed.append(model_id)
    twin = with_secret(chosen[0].data["body"], secret)
    for _ in range(2):  # two connectors of one name: names are not unique (§1.2)
        twin["name"] = "Same name"
        filled.connectors.append(
            _ok(admin, "POST", f"{ML}/connectors/_create", twin)["connector_id"]
        )
    own = {
        "name": "Internal chat",
        "function_name": "remote",
        "model_group_id": groups["private"]["model_group_id"],
        "description": "A model with its own connector",
        "connector": {
            "name": "internal chat connector",
            "version": 2,
            "protocol": "http",
            "parameters": {"endpoint": "llm.example.internal", "temperature": 0.2},
            "credential": {"token": secret},
            "actions": [
                {
                    "action_type": "predict",
                    "method": "POST",
                    "url": "https://${parameters.endpoint}/v1/chat",
                    "headers": {"Authorization": "Bearer ${credential.token}"},
                    "request_body": '{"messages": ${parameters.messages}}',
                }
            ],
        },
    }
    model_id = _register(admin, own)
    _deploy(admin, model_id)
    filled.internal.append(model_id)
    filled.models.append(model_id)
    filled.deployed.append(model_id)
    release = get_profile(profile).release
    if release >= (2, 19):
        _rich(admin, filled, secret=secret, group=groups["public"]["model_group_id"])
    if release >= (3, 3):
        _mcp(admin, filled, secret=secret)
    admin.close()
    analyst.close()
    return filled


def _rich(admin: OpenSearch, filled: Filled, *, secret: str, group: str) -> None:
    """A connector with a tuned `client_config` (2.13+), and a model on it with the
    optional fields of 2.12-2.14: disabled, rate-limited, guarded, with an interface."""
    connector = {
        "name": "Tuned chat",
        "version": "3",
        "protocol": "http",
        "parameters": {"endpoint": "api.openai.com", "model": "gpt-4o", "max_tokens": 256},
        "credential": {"openAI_key": secret, "organization": secret},
        "client_config": {"max_connection": 50, "read_timeout": 60000, "max_retry_times": 2},
        "access_mode": "public",
        "actions": [
            {
                "action_type": "predict",
                "method": "POST",
                "url": "https://${parameters.endpoint}/v1/chat/completions",
                "headers": {
                    "Authorization": "Bearer ${credential.openAI_key}",
                    "OpenAI-Organization": "${credential.organization}",
                },
                "request_body": '{"model": "${parameters.model}", "messages": ${parameters.messages}}',
            }
        ],
    }
    connector_id = _ok(admin, "POST", f"{ML}/connectors/_create", connector)["connector_id"]
    filled.connectors.append(connector_id)
    schema = '{"type": "object", "properties": {"parameters": {"type": "object"}}}'
    model = {
        "name": "Tuned chat model",
        "function_name": "remote",
        "description": "Rate-limited and guarded",
        "connector_id": connector_id,
        "model_group_id": group,
        "is_enabled": False,
        "rate_limiter": {"limit": 10, "unit": "MINUTES"},
        "deploy_setting": {"is_auto_deploy_enabled": False, "model_ttl_minutes": 30},
        "guardrails": {
            "type": "local_regex",
            "input_guardrail": {"stop_words": [], "regex": ["(?i)password"]},
            "output_guardrail": {"stop_words": [], "regex": ["(?i)secret"]},
        },
        "interface": {"input": schema, "output": schema},
    }
    filled.models.append(_register(admin, model))


def _mcp(admin: OpenSearch, filled: Filled, *, secret: str) -> None:
    """An MCP connector of each protocol (3.0 `mcp_sse`, 3.3 `mcp_streamable_http`),
    with the setting that allows them (§2.5)."""
    settings = {"persistent": {"plugins.ml_commons.mcp_connector_enabled": True}}
    _ok(admin, "PUT", "/_cluster/settings", settings)
    for protocol in ("mcp_sse", "mcp_streamable_http"):
        body = {
            "name": f"Tools over {protocol}",
            "version": 1,
            "protocol": protocol,
            "url": "https://llm.example.internal/mcp",
            "headers": {"Authorization": "Bearer ${credential.mcp_token}"},
            "credential": {"mcp_token": secret},
        }
        connector_id = _ok(admin, "POST", f"{ML}/connectors/_create", body)["connector_id"]
        filled.connectors.append(connector_id)
        filled.protocols.add(protocol)


def usable(profile: str) -> list[blueprints.Blueprint]:
    """The corpus blueprints that work on `profile`, one per host and shape (connector
    or register body), so every emulated provider appears once."""
    release = get_profile(profile).release
    seen: set[tuple[str, bool]] = set()
    chosen = []
    for blueprint in blueprints.load_all():
        since = tuple(int(part) for part in blueprint.since.split(".")[:2])
        if since > release or blueprint.wrong_on(profile) or "/" in blueprint.name:
            continue
        shape = (blueprint.host, "actions" in blueprint.data["body"])
        if shape not in seen:
            seen.add(shape)
            chosen.append(blueprint)
    return chosen


def with_secret(body: dict[str, Any], secret: str) -> dict[str, Any]:
    """A deep copy of a create or register body with every credential value `secret`."""
    body = copy.deepcopy(body)
    holder = body if "actions" in body else body.get("connector", {})
    credential = holder.get("credential")
    if isinstance(credential, dict):
        holder["credential"] = {key: secret for key in credential}
    return body


def _ok(client: OpenSearch, method: str, path: str, body: Any = None) -> Any:
    status, answer = call(client, method, path, body)
    assert status == 200, (method, path, answer)
    return answer


def _register(client: OpenSearch, body: dict[str, Any]) -> str:
    answer = _ok(client, "POST", f"{ML}/models/_register", body)
    if answer.get("model_id"):
        return str(answer["model_id"])

    def done() -> Any:  # 2.9-2.10: the model ID comes with the task (§6.5)
        task = _ok(client, "GET", f"{ML}/tasks/{answer['task_id']}")
        return task.get("model_id") if task.get("state") == "COMPLETED" else None

    return str(_wait(done, what=f"register task {answer['task_id']}"))


def _deploy(client: OpenSearch, model_id: str) -> None:
    _ok(client, "POST", f"{ML}/models/{model_id}/_deploy")

    def deployed() -> bool:
        return _ok(client, "GET", f"{ML}/models/{model_id}").get("model_state") == "DEPLOYED"

    _wait(deployed, what=f"model {model_id} DEPLOYED")


def _wait(check: Callable[[], Any], *, what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
