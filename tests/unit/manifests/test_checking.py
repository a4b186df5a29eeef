"""Semantic checks across manifests: references, names, access control, models, groups,
trusted-endpoint patterns and AccessControl settings.

Each row: a small manifest set, the target versions, and the exact problems
(path, severity, message) it must produce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import Severity
from reconciler.manifests.checking import check
from reconciler.manifests.loading import load_manifests
from reconciler.mlcommons.versions import Version
from tests.unit.manifests.checkcases import (
    ALL_VERSIONS,
    Row,
    access,
    assert_case,
    case_params,
    connector,
    error,
    group,
    model,
    run,
    trusted,
    warning,
)

SAFE = "can only contain letters, numbers, spaces, and basic punctuation (.,!?():@-_'/\")"
CONNECTOR_OFF = (
    '(connector_access_control_enabled: true); the server says "You cannot specify connector '
    "access control parameters because the Security plugin or connector access control is "
    'disabled on your cluster."'
)
MODEL_OFF = (
    '(model_access_control_enabled: true); the server says "You cannot specify model access '
    "control parameters because the Security plugin or model access control is disabled on "
    'your cluster."'
)
CONNECTOR_ON = access(connector_access_control_enabled=True)
MODEL_ON = access(model_access_control_enabled=True)
MCP: dict[str, Any] = {
    "protocol": "mcp_sse",
    "url": "https://mcp.example/sse",
    "actions": None,
    "credential": None,
}
EMBEDDING = {
    "model_type": "text_embedding",
    "embedding_dimension": 1536,
    "framework_type": "sentence_transformers",
    "additional_config": {"space_type": "l2"},
}

CASES: list[tuple[str, tuple[str, ...], list[dict[str, Any]], list[Row]]] = [
    ("clean set", ALL_VERSIONS, [connector(), group(), model(model_group="team")], []),
    # --- references ---
    ("misspelt connector", ALL_VERSIONS, [connector(), model(connector="openai-chta")],
     [error("spec.connector", "connector 'openai-chta' is not defined; did you mean 'openai-chat'?")]),
    ("unknown connector and group", ("3.8",), [model(connector="nothing", model_group="nowhere")],
     [error("spec.connector", "connector 'nothing' is not defined"),
      error("spec.model_group", "model_group 'nowhere' is not defined")]),
    ("misspelt group", ("3.8",), [connector(), group(), model(model_group="tema")],
     [error("spec.model_group", "model_group 'tema' is not defined; did you mean 'team'?")]),
    ("raw ids are not references", ("3.8",), [model(connector=None, connector_id="abc", model_group_id="def")], []),
    ("model on an mcp connector", ("3.8",), [connector(**MCP), model()],
     [error("spec.connector", 'connector \'openai-chat\' uses an MCP protocol; the server refuses the model with "Cannot Create a Model from MCP Connector"')]),
    # --- names (3.1+, §2.5, §5.2, §6.2) ---
    ("unsafe names before 3.1", ("2.9", "2.19"),
     [connector(name="Chat; v2"), group(name="team #1"), model(name="chat <v2>")], []),
    ("unsafe names from 3.1", ("3.1", "3.8"),
     [connector(name="Chat; v2", description="50% cheaper"), group(name="team #1", description="a & b"),
      model(name="chat <v2>", description="{x}")],
     [error("spec.name", f"Model connector name {SAFE}"),
      error("spec.description", f"Model connector description {SAFE}"),
      error("spec.name", f"Model group name {SAFE}"),
      error("spec.description", f"Model group description {SAFE}"),
      error("spec.name", f"Model name {SAFE}"),
      error("spec.description", f"Model description {SAFE}")]),
    ("blank name", ("3.8",), [connector(name="  ")],
     [error("spec.name", "Model connector name is required and cannot be null or blank")]),
    ("unicode letters are safe", ("3.8",), [connector(name="Modèle d'été (v2)")], []),
    # --- model groups ---
    ("duplicate group names", ALL_VERSIONS,
     [group("a", name="Shared"), group("b", name="Shared"), group("c"), group("Shared")],
     [error("spec.name", "model group name 'Shared' is already used by ModelGroup/a; the server requires model-group names to be unique"),
      error("metadata.name", "model group name 'Shared' is already used by ModelGroup/a; the server requires model-group names to be unique")]),
    ("implicit group joins a same-named group", ("2.11", "3.8"),
     [connector(), group("team", name="chat"), model("chat")],
     [warning("metadata.name", "without model_group, the server adds this model to the model group named 'chat' (ModelGroup/team) because the names match; set model_group: team to say so")]),
    ("implicit group collides on 2.9", ("2.9", "2.10"),
     [connector(), group("team", name="chat"), model("chat"), model("other", name="Other"), model("again", name="Other")],
     [error("metadata.name", "without model_group, ML Commons {v} creates a model group named 'chat' for this model, but ModelGroup/team already takes that name; the server refuses the model because model-group names are unique"),
      error("spec.name", "without model_group, ML Commons {v} creates a model group named 'Other' for this model, but Model/other already takes that name; the server refuses the model because model-group names are unique")]),
    ("same connector and model names are fine", ("3.8",),
     [connector("a", name="Same"), connector("b", name="Same"), model("m1", name="Same", connector="a"),
      model("m2", name="Same", connector="b")], []),
    # --- connector access control (§2.5) ---
    ("connector access fields while off", ("2.9", "3.8"),
     [connector(access_mode="private")],
     [error("spec.access_mode", f"access_mode needs connector access control, which no AccessControl manifest enables {CONNECTOR_OFF}")]),
    ("add_all false still counts", ("3.8",),
     [connector(backend_roles=["ml"], add_all_backend_roles=False)],
     [error("spec.backend_roles", f"backend_roles and add_all_backend_roles need connector access control, which no AccessControl manifest enables {CONNECTOR_OFF}")]),
    ("empty backend_roles does not count", ("3.8",), [connector(backend_roles=[])], []),
    ("connector access on", ("3.8",),
     [CONNECTOR_ON, connector("a", access_mode="private"), connector("b", backend_roles=["ml"]),
      connector("c", access_mode="restricted", add_all_backend_roles=True)], []),
    ("enabled through settings", ("3.8",),
     [access(settings={"connector_access_control_enabled": True}), connector(access_mode="private")], []),
    ("connector access combinations", ("3.8",),
     [CONNECTOR_ON, connector("a", access_mode="private", backend_roles=["ml"]),
      connector("b", access_mode="restricted", backend_roles=["ml"], add_all_backend_roles=True),
      connector("c", access_mode="restricted")],
     [error("spec.backend_roles", "You can specify backend roles only for a connector with the restricted access mode."),
      error("spec.add_all_backend_roles", "You can't specify backend roles and add all backend roles to true at same time."),
      error("spec.access_mode", "You must specify at least one backend role or make the connector public/private for registering it.")]),
    # --- model-group access control (§5.3) ---
    ("group access fields while off", ("3.8",), [CONNECTOR_ON, group(access_mode="public")],
     [error("spec.access_mode", f"access_mode needs model access control, which no AccessControl manifest enables {MODEL_OFF}")]),
    ("group access on", ("2.9", "3.8"),
     [MODEL_ON, group("a", access_mode="PUBLIC"), group("b", backend_roles=["ml"]),
      group("c", access_mode="restricted", add_all_backend_roles=True)], []),
    ("group access combinations", ("3.8",),
     [MODEL_ON, group("a", access_mode="public", add_all_backend_roles=True),
      group("b", backend_roles=["ml"], add_all_backend_roles=True),
      group("c", access_mode="restricted"),
      group("d", access_mode="restricted", backend_roles=["ml"], add_all_backend_roles=True)],
     [error("spec.add_all_backend_roles", "You can specify backend roles only for a model group with the restricted access mode."),
      error("spec.add_all_backend_roles", "You cannot specify backend roles and add all backend roles at the same time."),
      error("spec.access_mode", "You must specify one or more backend roles or add all backend roles to register a restricted model group."),
      error("spec.add_all_backend_roles", "You cannot specify backend roles and add all backend roles at the same time.")]),
    ("model access fields with a named group", ("3.8",),
     [connector(), group(), model(model_group="team", access_mode="private", backend_roles=["ml"])],
     [warning("spec.access_mode", "access_mode and backend_roles are ignored: the server only uses them when it creates a group for the model, and this model names its group")]),
    ("model access fields for its own group", ("3.8",),
     [connector(), model(access_mode="private")],
     [error("spec.access_mode", f"access_mode needs model access control, which no AccessControl manifest enables {MODEL_OFF}")]),
    # --- model fields per version (§6.2) ---
    ("model fields on 2.9", ("2.9",),
     [connector(), model(is_enabled=True, rate_limiter={"limit": 5, "unit": "MINUTES"},
                         deploy_setting={"is_auto_deploy_enabled": False}, interface={"input": "{}"})],
     [error("spec.is_enabled", "is_enabled needs ML Commons 2.12+ (target is 2.9)"),
      error("spec.rate_limiter", "rate_limiter needs ML Commons 2.12+ (target is 2.9)"),
      error("spec.deploy_setting", "deploy_setting needs ML Commons 2.13+ (target is 2.9)"),
      error("spec.interface", "interface needs ML Commons 2.14+ (target is 2.9)")]),
    ("rate limiter unit", ("3.8",),
     [connector(), model("a", rate_limiter={"limit": 5, "unit": "MINUTE"}),
      model("b", rate_limiter={"limit": 5, "unit": "fortnights"}), model("c", rate_limiter={"limit": 1, "unit": "seconds"})],
     [error("spec.rate_limiter.unit", "MINUTE is not a time unit; did you mean MINUTES?"),
      error("spec.rate_limiter.unit", "fortnights is not a time unit (NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)")]),
    ("ttl before 2.14", ("2.13",),
     [connector(), model(deploy_setting={"is_auto_deploy_enabled": True, "model_ttl_minutes": 10}, guardrails={})],
     [error("spec.deploy_setting.model_ttl_minutes", "deploy_setting.model_ttl_minutes needs ML Commons 2.14+ (target is 2.13)")]),
    ("model provisioned_by", ("3.1",), [connector(), model(provisioned_by="ci")],
     [error("spec.provisioned_by", "provisioned_by needs ML Commons 3.7+ (target is 3.1)")]),
    # --- remote text-embedding model_config (3.1+, §6.2) ---
    ("incomplete embedding config before 3.1", ("2.19",),
     [connector(), model(model_config={"model_type": "text_embedding"})], []),
    ("incomplete embedding config from 3.1", ("3.1", "3.8"),
     [connector(), model(model_config={"model_type": "text_embedding"})],
     [error("spec.model_config", "Embedding dimension must be provided for remote text embedding model")]),
    ("embedding config without space type", ("3.8",),
     [connector(), model(model_config=EMBEDDING | {"additional_config": {}})],
     [error("spec.model_config", "Space type must be provided in additional_config for remote text embedding model")]),
    ("complete embedding config", ("3.8",), [connector(), model(model_config=EMBEDDING)], []),
    ("unknown framework type", ("2.19", "3.8"), [connector(), model(model_config={"framework_type": "pytorch"})],
     [error("spec.model_config.framework_type", 'framework_type pytorch is not one of HUGGINGFACE_TRANSFORMERS, SENTENCE_TRANSFORMERS, HUGGINGFACE_TRANSFORMERS_NEURON; the server refuses it with "Wrong framework type"')]),
    ("model provisioned_by safe text", ("3.8",), [connector(), model(provisioned_by="ci<prod>")],
     [error("spec.provisioned_by", f"Model provisioned_by field {SAFE}")]),
    # --- trusted endpoint patterns (§3.1) ---
    ("invalid pattern", ALL_VERSIONS, [trusted(r"^https://(")],
     [error("spec.patterns[0]", "pattern ^https://( is not a valid regex: missing ), unterminated subpattern at position 9")]),
    ("catch-all pattern", ("3.8",), [trusted(".*")],
     [warning("spec.patterns[0]", "pattern .* matches any host; it trusts every connector URL"),
      warning("spec.patterns[0]", "pattern .* is not anchored with ^ and $"),
      warning("spec.patterns[0]", "pattern .* allows plain http://")]),
    ("https catch-all", ("3.8",), [trusted("^https://.*$")],
     [warning("spec.patterns[0]", "pattern ^https://.*$ matches any host; it trusts every connector URL")]),
    ("unanchored pattern", ("3.8",), [trusted(r"https://a\.example/.*")],
     [warning("spec.patterns[0]", r"pattern https://a\.example/.* is not anchored with ^ and $")]),
    ("redos pattern before 3.7", ("3.1",), [trusted(r"^https://(a+)+\.example/.*$")], []),
    ("redos pattern from 3.7", ("3.8",), [trusted(r"^https://(a+)+\.example/.*$")],
     [error("spec.patterns[0]", r'the server refuses this pattern: "Regex pattern contains nested quantifiers or backreferences that may cause ReDoS: ^https://(a+)+\.example/.*$"')]),
    # --- AccessControl settings (§9) ---
    ("known settings", ("3.8",),
     [access(settings={"connector.private_ip_enabled": True, "plugins.ml_commons.max_model_on_node": 4,
                       "task_dispatcher.eligible_node_role.remote_model": ["ml"]})], []),
    ("misspelt setting", ("3.8",), [access(settings={"connector.private_ip_enable": True})],
     [error('spec.settings["connector.private_ip_enable"]', "unknown setting connector.private_ip_enable; did you mean connector.private_ip_enabled?")]),
    ("setting too new", ("2.13",), [access(settings={"connector.private_ip_enabled": True})],
     [error('spec.settings["connector.private_ip_enabled"]', "setting connector.private_ip_enabled needs ML Commons 2.15+ (target is 2.13)")]),
    ("setting removed", ("2.13", "3.8"), [access(settings={"update_connector.enabled": True})],
     [error('spec.settings["update_connector.enabled"]', "setting update_connector.enabled was removed after ML Commons 2.11")]),
    ("setting of the wrong type", ("3.8",), [access(settings={"connector.private_ip_enabled": "yes"})],
     [error('spec.settings["connector.private_ip_enabled"]', "setting connector.private_ip_enabled expects a boolean, not the string 'yes'")]),
    ("static and final settings", ("3.8",),
     [access(settings={"multi_tenancy_enabled": True, "connector.restricted_ip_patterns": []})],
     [error("spec.settings.multi_tenancy_enabled", "setting multi_tenancy_enabled is static: it can only be set in opensearch.yml before the node starts, not through the cluster settings API"),
      error('spec.settings["connector.restricted_ip_patterns"]', "setting connector.restricted_ip_patterns is final: it can only be set in opensearch.yml before the node starts, not through the cluster settings API")]),
    ("node-level settings beside access control", ("2.9", "3.8"),
     [access(settings={"native_memory_threshold": 95, "jvm_heap_memory_threshold": 90,
                       "allow_registering_model_via_local_file": True,
                       "model_access_control_enabled": True})], []),
    ("setting out of range", ("3.8",), [access(settings={"native_memory_threshold": 101})],
     [error("spec.settings.native_memory_threshold", "setting native_memory_threshold must be between 0 and 100, not 101")]),
    ("range of the target version", ("3.3",), [access(settings={"max_batch_inference_tasks": 600})],
     [error("spec.settings.max_batch_inference_tasks", "setting max_batch_inference_tasks must be between 0 and 500, not 600")]),
    ("range widened later", ("3.4",), [access(settings={"max_batch_inference_tasks": 600})], []),
    ("trusted list belongs elsewhere", ("3.8",),
     [access(settings={"trusted_connector_endpoints_regex": [".*"]})],
     [error("spec.settings.trusted_connector_endpoints_regex", "trusted endpoints are set with a TrustedEndpoints manifest, not here")]),
]  # fmt: skip


@pytest.mark.parametrize(("documents", "version", "expected"), case_params(CASES))
def test_checks(
    tmp_path: Path, documents: list[dict[str, Any]], version: str, expected: list[Row]
) -> None:
    assert_case(tmp_path, documents, version, expected)


LOCATED = """\
apiVersion: osml/v1
kind: Connector
metadata:
  name: openai-chat
spec:
  version: 1
  protocol: http
  parameters: {endpoint: api.openai.com}
  credential:
    key: {fromEnv: KEY}
  actions:
    - action_type: predict
      method: POST
      url: https://${parameters.endpont}/v1
---
apiVersion: osml/v1
kind: Model
metadata:
  name: chat
spec:
  connector: openai-chta
"""


def test_problems_are_located_and_all_reported(tmp_path: Path) -> None:
    file = tmp_path / "openai.yaml"
    file.write_text(LOCATED, encoding="utf-8")
    problems = check(load_manifests([file]), version=Version.parse("3.8"))
    lines = [str(p).replace(str(tmp_path), "m") for p in problems]
    assert lines == [
        "m/openai.yaml:14:12: Connector/openai-chat: spec.actions[0].url: placeholder "
        "${parameters.endpont} is not defined; did you mean ${parameters.endpoint}?",
        "m/openai.yaml:14:12: Connector/openai-chat: spec.actions[0].url: url "
        "https://${parameters.endpont}/v1 does not match any trusted endpoint regex (add a "
        "TrustedEndpoints pattern); ${parameters.endpont} is not a connector parameter, so the "
        "server checks the url with it unfilled",
        "m/openai.yaml:21:14: Model/chat: spec.connector: connector 'openai-chta' is not "
        "defined; did you mean 'openai-chat'?",
    ]
    assert all(p.severity is Severity.ERROR for p in problems)


def test_empty_set_has_no_problems(tmp_path: Path) -> None:
    assert run(tmp_path, [], "3.8") == []


SETTINGS_DOC = """\
apiVersion: osml/v1
kind: AccessControl
metadata:
  name: ml
spec:
  settings:
    connector.private_ip_enable: true
"""


def test_unknown_setting_points_at_its_key(tmp_path: Path) -> None:
    file = tmp_path / "settings.yaml"
    file.write_text(SETTINGS_DOC, encoding="utf-8")
    (problem,) = check(load_manifests([file]), version=Version.parse("3.8"))
    assert (problem.line, problem.column) == (7, 5)
    assert problem.resource == "AccessControl/ml"
