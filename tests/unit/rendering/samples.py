"""Hand-built plans shared by the rendering tests: every action, a swap with downtime,
orphans, sensitive changes, review notes, and the empty plan."""

from __future__ import annotations

from reconciler.plans import (
    Action,
    Change,
    ClusterIdentity,
    FieldChange,
    Plan,
    Strategy,
    ref_marker,
    secret_marker,
)
from reconciler.resources import Kind, ResourceKey

CLUSTER = ClusterIdentity(
    url="https://admin:hunter2@search.example.com:9200",
    version="2.17.0",
    cluster_name="prod-search",
    cluster_uuid="u-1",
)
SECRET_SOURCE = {"fromEnv": "OPENAI_API_KEY"}
FINGERPRINT = "hmac-sha256:0123456789abcdef"

GROUP = ResourceKey(Kind.MODEL_GROUP, "chat-models")
CHAT = ResourceKey(Kind.CONNECTOR, "openai-chat")
EMBED = ResourceKey(Kind.CONNECTOR, "bedrock-embed")
CHAT_MODEL = ResourceKey(Kind.MODEL, "chat")
EMBED_MODEL = ResourceKey(Kind.MODEL, "embed")

OLD_BODY = '{\n  "model": "${parameters.model}",\n  "messages": ${parameters.messages}\n}'
NEW_BODY = (
    '{\n  "model": "${parameters.model}",\n  "messages": ${parameters.messages},\n'
    '  "temperature": ${parameters.temperature}\n}'
)


def _plan(changes: tuple[Change, ...], **extra: object) -> Plan:
    return Plan(
        changes=changes,
        cluster=CLUSTER,
        token="tok-123",
        created_at="2026-01-02T03:04:05Z",
        osml_version="0.1.0",
        **extra,  # type: ignore[arg-type]
    )


def empty_plan() -> Plan:
    noop = Change(key=GROUP, action=Action.NOOP, live_id="g-1")
    return _plan((noop,))


def every_action_plan() -> Plan:
    changes = (
        Change(
            key=ResourceKey(Kind.ACCESS_CONTROL, "default"),
            action=Action.UPDATE,
            fields=(FieldChange("connector_access_control_enabled", True, False),),
            reasons=("setting changed: cluster-settings update",),
            review=("access control turned off: connector_access_control_enabled",),
        ),
        Change(
            key=ResourceKey(Kind.TRUSTED_ENDPOINTS, "default"),
            action=Action.UPDATE,
            fields=(
                FieldChange(
                    "patterns",
                    ["^https://api\\.openai\\.com/.*$", "^https://old\\.example\\.com/.*$"],
                    ["^https://api\\.openai\\.com/.*$", "^https://.*\\.example\\.com/.*$"],
                ),
            ),
            review=("trusted-endpoint pattern added: ^https://.*\\.example\\.com/.*$",),
        ),
        Change(
            key=GROUP,
            action=Action.CREATE,
            after={
                "name": "chat-models",
                "access_mode": "private",
                "backend_roles": ["ml-admins", "search"],
                "actions": [{"action_type": "PREDICT", "url": "https://x/${parameters.a}"}],
            },
        ),
        Change(
            key=CHAT,
            action=Action.UPDATE,
            live_id="c-abc123",
            before={"name": "OpenAI Chat", "parameters": {"model": "gpt-3.5-turbo"}},
            after={
                "name": "OpenAI Chat",
                "parameters": {"model": "gpt-4o"},
                "credential": {"openAI_key": secret_marker(SECRET_SOURCE, FINGERPRINT)},
            },
            fields=(
                FieldChange("parameters.model", "gpt-3.5-turbo", "gpt-4o"),
                FieldChange("description", None, "Chat completions for the help desk"),
                FieldChange("parameters.old", "x", None),
                FieldChange("credential.openAI_key", sensitive=True),
                FieldChange("actions[0].request_body", OLD_BODY, NEW_BODY),
            ),
            reasons=("parameters.model changed: update",),
            review=("credential changed: credential.openAI_key",),
        ),
        Change(
            key=EMBED,
            action=Action.REPLACE,
            live_id="c-def456",
            fields=(
                FieldChange("protocol", "http", "aws_sigv4"),
                FieldChange("parameters.endpoint", "api.openai.com", "bedrock.amazonaws.com"),
            ),
            reasons=("protocol changed (http -> aws_sigv4): replace",),
            strategy=Strategy.SWAP,
            affected=(EMBED_MODEL,),
            review=("endpoint host changed: api.openai.com -> bedrock.amazonaws.com",),
        ),
        Change(
            key=CHAT_MODEL,
            action=Action.CREATE,
            after={
                "name": "chat",
                "function_name": "remote",
                "connector_id": ref_marker(CHAT),
                "model_group_id": ref_marker(GROUP),
            },
            depends_on=(GROUP, CHAT),
            deploy_after=True,
            probe={"parameters": {"messages": [{"role": "user", "content": "ping"}]}},
        ),
        Change(key=EMBED_MODEL, action=Action.DEPLOY, live_id="m-2", depends_on=(EMBED,)),
        Change(
            key=ResourceKey(Kind.MODEL, "legacy"),
            action=Action.UNDEPLOY,
            live_id="m-3",
            reasons=("lifecycle.deployed is false",),
        ),
        Change(
            key=ResourceKey(Kind.MODEL, "flaky"),
            action=Action.REDEPLOY,
            live_id="m-4",
            reasons=("model_state is DEPLOY_FAILED",),
        ),
        Change(
            key=ResourceKey(Kind.MODEL, "found"),
            action=Action.ADOPT,
            live_id="m-5",
            reasons=("one unmanaged model named found: adopt",),
        ),
        Change(
            key=ResourceKey(Kind.MODEL, "unsure"),
            action=Action.PROBE,
            live_id="m-8",
            reasons=("its last probe failed (once, at 2026-11-22T08:30:00+00:00): timed out",),
            probe={"parameters": {"messages": []}},
        ),
        Change(key=ResourceKey(Kind.MODEL, "gone"), action=Action.DELETE, live_id="m-6"),
        Change(key=ResourceKey(Kind.CONNECTOR, "gone"), action=Action.DELETE, live_id="c-7"),
        Change(key=ResourceKey(Kind.MODEL_GROUP, "same"), action=Action.NOOP, live_id="g-9"),
    )
    return _plan(changes, prune=True)


def recreate_plan() -> Plan:
    change = Change(
        key=CHAT,
        action=Action.UPDATE,
        live_id="c-abc123",
        fields=(FieldChange("parameters.endpoint", "api.openai.com", "eu.api.openai.com"),),
        reasons=("Model/chat is deployed and this version cannot repoint it (2.11): recreate",),
        strategy=Strategy.RECREATE,
        affected=(CHAT_MODEL,),
        downtime="about 1 minute while Model/chat is undeployed and redeployed",
        review=("endpoint host changed: api.openai.com -> eu.api.openai.com",),
    )
    orphans = (
        Change(
            key=ResourceKey(Kind.CONNECTOR, "old-cohere"),
            action=Action.DELETE,
            live_id="c-old",
            reasons=("managed by osml since 2026-01-01",),
        ),
    )
    return _plan(
        (change,),
        orphans=orphans,
        warnings=("plugins.ml_commons.trusted_connector_endpoints_regex is set by someone else",),
        targets=(CHAT,),
    )


def prevent_destroy_plan() -> Plan:
    orphan = Change(key=GROUP, action=Action.DELETE, live_id="g-1")
    return _plan((), orphans=(orphan,), prune=True)


def _case_plan(name: str) -> Plan:
    """The plan of a planner case folder (tests/unit/planning/cases), dated like the rest."""
    from tests.unit.planning.casefiles import CASES, run_case

    _, plan, _ = run_case(CASES / name)
    assert plan is not None, name
    return plan


def consumers_created_plan() -> Plan:
    """Pipelines and an agent created against a model that exists: their references
    resolve to its live ID."""
    return _case_plan("consumers-create-3.8")


def consumers_rewired_plan() -> Plan:
    """A model replaced on 2.11; the two pipelines that reference it are rewired."""
    return _case_plan("consumers-rewire-2.11")


def consumers_breaking_plan() -> Plan:
    """A prune that breaks an unmanaged pipeline and an index, allowed by the flag."""
    return _case_plan("consumers-prune-allowed-3.8")


def reregister_plan() -> Plan:
    """A connector replaced on 2.11: its models register again on the new connector and
    the old connector is deleted after them; a pipeline follows the new model ID."""
    return _case_plan("consumers-connector-reregister-2.11")


def agent_retire_plan() -> Plan:
    """A model replaced on 2.19: its agent is registered again before the old model goes."""
    return _case_plan("consumers-agent-model-replace-2.19")


PLANS = {
    "reregister": reregister_plan,
    "agent_retire": agent_retire_plan,
    "consumers_created": consumers_created_plan,
    "consumers_rewired": consumers_rewired_plan,
    "consumers_breaking": consumers_breaking_plan,
    "empty": empty_plan,
    "every_action": every_action_plan,
    "recreate": recreate_plan,
    "prevent_destroy": prevent_destroy_plan,
}
