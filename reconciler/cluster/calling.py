"""One method per ML Commons operation osml performs, with errors in osml's own classes.

The applier and the snapshot reader call `MlCalls`; it wraps `client.plugins.ml` and the
cluster-settings, ingest, search-pipeline and index-settings APIs of opensearch-py; the one
route it lacks, Update Agent (3.1+), goes through the client's own transport. Each
opensearch-py exception leaves as a ClusterError,
TransientClusterError or ClusterNotFoundError (`raise ... from exc`) with the status, the
server's error `type` and its reason, in messages such as
`Connector/openai-chat: update failed (409): <server reason>`.

Request bodies may carry credential values. No message ever includes a request body, and
every server reason passes through the caller's `scrub` hook first, because some servers
echo the request in their reasons. This module decides nothing: no retries, no planning.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

from opensearchpy import exceptions as os_exc

from reconciler.cluster.connecting import Connection
from reconciler.cluster.failures import Scrub, cluster_error, keep
from reconciler.errors import ClusterError, ClusterNotFoundError
from reconciler.mlcommons.versions import LATEST, Capabilities, Version, capabilities
from reconciler.resources import Kind

Json = dict[str, Any]

EMPTY_SEARCH: Mapping[str, Any] = {"hits": {"total": {"value": 0}, "hits": []}}
"""What a search on a missing index answers from 2.12 on (§2.8); used for 2.9-2.11 too."""

_UPDATE_FLAG = "plugins.ml_commons.update_connector.enabled"

PIPELINE_SETTINGS = (
    "index.default_pipeline",
    "index.final_pipeline",
    "index.search.default_pipeline",
)
"""The index settings that name pipelines (CONS §3)."""


class MlCalls:
    """The ML Commons operations of one connection, errors classified and scrubbed."""

    def __init__(
        self,
        conn: Connection,
        *,
        scrub: Scrub = keep,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conn = conn
        self._ml = conn.client.plugins.ml
        self._scrub = scrub
        self._sleep = sleep
        self._clock = clock
        self.capabilities: Capabilities = _capabilities(conn.version)
        """What the connected version can do; routes are chosen from it."""

    # --- connectors (§2) ---------------------------------------------------------------

    def create_connector(self, body: Mapping[str, Any], *, subject: str = "Connector") -> str:
        """Create a standalone connector; its ID (§2.6)."""
        answer = self._call(subject, "create", self._ml.create_connector, body=body)
        return str(answer["connector_id"])

    def get_connector(self, connector_id: str, *, subject: str | None = None) -> Json:
        """The connector document, credentials never included (§2.7)."""
        who = subject or f"Connector {connector_id}"
        return self._call(who, "read", self._ml.get_connector, connector_id=connector_id)

    def search_connectors(self, body: Mapping[str, Any]) -> Json:
        """A raw search response over connectors; a missing index is an empty result."""
        return self._search("Connectors", self._ml.search_connectors, body)

    def update_connector(
        self, connector_id: str, body: Mapping[str, Any], *, subject: str | None = None
    ) -> Json:
        """Partial update of a connector (§2.9): 2.12+, or 2.11 with its setting on."""
        who = subject or f"Connector {connector_id}"
        caps = self.capabilities
        if not (caps.update_connector or caps.update_connector_behind_flag):
            raise ClusterError(
                f"{who}: update failed: OpenSearch {caps.version.short} has no Update "
                "Connector API (2.11 behind a setting, 2.12+ always); replace it instead"
            )
        try:
            return self._call(
                who, "update", self._ml.update_connector, connector_id=connector_id, body=body
            )
        except ClusterError as exc:
            if caps.update_connector_behind_flag and "currently disabled" in str(exc.reason):
                raise ClusterError(
                    f"{who}: update failed: on 2.11 Update Connector needs the cluster "
                    f"setting {_UPDATE_FLAG}=true",
                    status=exc.status,
                    error_type=exc.error_type,
                    reason=exc.reason,
                ) from exc
            raise

    def delete_connector(self, connector_id: str, *, subject: str | None = None) -> Json:
        """Delete a connector; refused while a model document references it (§2.10)."""
        who = subject or f"Connector {connector_id}"
        return self._call(who, "delete", self._ml.delete_connector, connector_id=connector_id)

    # --- model groups (§5) -------------------------------------------------------------

    def register_model_group(self, body: Mapping[str, Any], *, subject: str = "ModelGroup") -> str:
        """Register a model group; its ID (§5.3)."""
        answer = self._call(subject, "create", self._ml.register_model_group, body=body)
        return str(answer["model_group_id"])

    def get_model_group(self, group_id: str, *, subject: str | None = None) -> Json:
        """The group document; by search before 2.12, which has no GET route (§5.1)."""
        who = subject or f"ModelGroup {group_id}"
        if self.capabilities.get_model_group:
            return self._call(who, "read", self._ml.get_model_group, model_group_id=group_id)
        found = self.search_model_groups({"query": {"ids": {"values": [group_id]}}})
        hits = found["hits"]["hits"]
        if not hits:
            raise ClusterNotFoundError(f"{who}: read failed (404): no model group {group_id}")
        return dict(hits[0]["_source"])

    def search_model_groups(self, body: Mapping[str, Any]) -> Json:
        """A raw search response over model groups; a missing index is an empty result."""
        return self._search("ModelGroups", self._ml.search_model_group, body)

    def update_model_group(
        self, group_id: str, body: Mapping[str, Any], *, subject: str | None = None
    ) -> Json:
        """Update name, description or access of a group (§5.6)."""
        who = subject or f"ModelGroup {group_id}"
        return self._call(
            who, "update", self._ml.update_model_group, model_group_id=group_id, body=body
        )

    def delete_model_group(self, group_id: str, *, subject: str | None = None) -> Json:
        """Delete a group; refused while it has models (§5.7)."""
        who = subject or f"ModelGroup {group_id}"
        return self._call(who, "delete", self._ml.delete_model_group, model_group_id=group_id)

    # --- models (§6) -------------------------------------------------------------------

    def register_model(
        self,
        body: Mapping[str, Any],
        *,
        deploy: bool = False,
        subject: str = "Model",
        timeout: float = 60.0,
    ) -> str:
        """Register a remote model (optionally deploying it); its ID.

        2.11+ answers with `model_id`; 2.9-2.10 only with a task to poll (§6.5).
        """
        params = {"deploy": "true"} if deploy else None
        answer = self._call(subject, "register", self._ml.register_model, body=body, params=params)
        if answer.get("model_id"):
            return str(answer["model_id"])
        return self._await_model_id(str(answer["task_id"]), subject=subject, timeout=timeout)

    def get_model(self, model_id: str, *, subject: str | None = None) -> Json:
        """The model document (§6.6)."""
        who = subject or f"Model {model_id}"
        return self._call(who, "read", self._ml.get_model, model_id=model_id)

    def search_models(self, body: Mapping[str, Any]) -> Json:
        """A raw search response over models; a missing index is an empty result."""
        return self._search("Models", self._ml.search_models, body)

    def update_model(
        self, model_id: str, body: Mapping[str, Any], *, subject: str | None = None
    ) -> Json:
        """Update a model, deployed or not (2.12+, §6.8)."""
        who = subject or f"Model {model_id}"
        if not self.capabilities.update_model:
            raise ClusterError(
                f"{who}: update failed: OpenSearch {self.capabilities.version.short} has "
                "no Update Model API (2.12+); replace the model instead"
            )
        return self._call(who, "update", self._ml.update_model, model_id=model_id, body=body)

    def deploy_model(self, model_id: str, *, subject: str | None = None) -> Json:
        """Start a deploy; poll `get_model` for `model_state` afterwards (§6.9)."""
        who = subject or f"Model {model_id}"
        return self._call(who, "deploy", self._ml.deploy_model, model_id=model_id)

    def undeploy_model(self, model_id: str, *, subject: str | None = None) -> Json:
        """Undeploy from every node (§6.10)."""
        who = subject or f"Model {model_id}"
        return self._call(who, "undeploy", self._ml.undeploy_model, model_id=model_id)

    def delete_model(self, model_id: str, *, subject: str | None = None) -> Json:
        """Delete an undeployed model (§6.11)."""
        who = subject or f"Model {model_id}"
        return self._call(who, "delete", self._ml.delete_model, model_id=model_id)

    def predict(
        self,
        model_id: str,
        body: Mapping[str, Any],
        *,
        subject: str | None = None,
        timeout: float | None = None,
    ) -> Json:
        """Run one prediction, as a deploy probe (§8.1); `timeout` seconds for the answer
        (the connection's default when None)."""
        who = subject or f"Model {model_id}"
        return self._call(
            who, "predict", self._ml.predict_model, model_id=model_id, body=body,
            **_timeout(timeout),
        )  # fmt: skip

    def get_task(self, task_id: str, *, subject: str | None = None) -> Json:
        """The task document (§7)."""
        who = subject or f"Task {task_id}"
        return self._call(who, "read", self._ml.get_task, task_id=task_id)

    # --- consumers: pipelines, index defaults, agents (docs/reference/consumers.md) ------

    def get_pipelines(self, kind: Kind) -> Json:
        """Every pipeline of `kind` (IngestPipeline or SearchPipeline) by ID; `{}` when
        there are none, which the server answers as 404 `{}` (CONS §1.3, §2.3)."""
        try:
            api = self._pipelines(kind)
            return self._call(api.what, "read", api.get)
        except ClusterNotFoundError:
            return {}

    def put_pipeline(
        self, kind: Kind, pipeline_id: str, body: Mapping[str, Any], *, subject: str
    ) -> Json:
        """Create or replace a pipeline whole (CONS §1.1, §2.1)."""
        return self._call(subject, "put", self._pipelines(kind).put, id=pipeline_id, body=body)

    def delete_pipeline(self, kind: Kind, pipeline_id: str, *, subject: str) -> Json:
        """Delete a pipeline; 404 when it is gone (CONS §1.3, §2.3)."""
        return self._call(subject, "delete", self._pipelines(kind).delete, id=pipeline_id)

    def _pipelines(self, kind: Kind) -> _PipelineApi:
        client = self._conn.client
        if kind is Kind.INGEST_PIPELINE:
            ingest = client.ingest
            return _PipelineApi(
                "Ingest pipelines", ingest.get_pipeline, ingest.put_pipeline, ingest.delete_pipeline
            )
        search = client.search_pipeline
        return _PipelineApi("Search pipelines", search.get, search.put, search.delete)

    def index_pipelines(self) -> Json:
        """The pipeline settings of every index that sets one, flat (CONS §3.1)."""
        return self._call(
            "Index settings",
            "read",
            self._conn.client.indices.get_settings,
            index="_all",
            name=",".join(PIPELINE_SETTINGS),
            params={"flat_settings": "true"},
        )

    def register_agent(self, body: Mapping[str, Any], *, subject: str = "Agent") -> str:
        """Register an agent; its ID (CONS §4.1, 2.12+)."""
        answer = self._call(subject, "create", self._ml.register_agents, body=body)
        return str(answer["agent_id"])

    def get_agent(self, agent_id: str, *, subject: str | None = None) -> Json:
        """The stored agent (CONS §4.3)."""
        who = subject or f"Agent {agent_id}"
        return self._call(who, "read", self._ml.get_agent, agent_id=agent_id)

    def search_agents(self, body: Mapping[str, Any]) -> Json:
        """A raw search response over agents; a missing index is an empty result."""
        return self._search("Agents", self._ml.search_agents, body)

    def update_agent(
        self, agent_id: str, body: Mapping[str, Any], *, subject: str | None = None
    ) -> Json:
        """Update an agent in place (3.1+, CONS §4.6). opensearch-py has no method for this
        route, so it goes through the client's own transport (CONS §4.1)."""
        who = subject or f"Agent {agent_id}"
        transport = self._conn.client.transport
        return self._call(
            who, "update", transport.perform_request, method="PUT",
            url=f"/_plugins/_ml/agents/{agent_id}", body=body,
        )  # fmt: skip

    def execute_agent(
        self,
        agent_id: str,
        body: Mapping[str, Any],
        *,
        subject: str | None = None,
        timeout: float | None = None,
    ) -> Json:
        """Execute an agent, as its probe (CONS §4.8); `timeout` seconds for the answer."""
        who = subject or f"Agent {agent_id}"
        return self._call(
            who, "execute", self._ml.execute_agent, agent_id=agent_id, body=body,
            **_timeout(timeout),
        )  # fmt: skip

    def delete_agent(self, agent_id: str, *, subject: str | None = None) -> Json:
        """Delete an agent (CONS §4.1)."""
        who = subject or f"Agent {agent_id}"
        return self._call(who, "delete", self._ml.delete_agent, agent_id=agent_id)

    # --- cluster settings (§9) ---------------------------------------------------------

    def get_cluster_settings(self, *, include_defaults: bool = True) -> Json:
        """`GET /_cluster/settings` with flat keys: persistent, transient and defaults."""
        return self._call(
            "Cluster settings",
            "read",
            self._conn.client.cluster.get_settings,
            params={
                "include_defaults": "true" if include_defaults else "false",
                "flat_settings": "true",
            },
        )

    def put_cluster_settings(self, persistent: Mapping[str, Any]) -> Json:
        """Set persistent settings; a None value restores the default (§9)."""
        return self._call(
            "Cluster settings",
            "update",
            self._conn.client.cluster.put_settings,
            body={"persistent": dict(persistent)},
            params={"flat_settings": "true"},
        )

    # --- plumbing ----------------------------------------------------------------------

    def _call(self, subject: str, action: str, fn: Callable[..., Any], **kwargs: Any) -> Json:
        try:
            answer = fn(**kwargs)
        except (os_exc.TransportError, os_exc.SerializationError) as exc:
            raise cluster_error(exc, subject=subject, action=action, scrub=self._scrub) from exc
        return answer if isinstance(answer, dict) else {"result": answer}

    def _search(self, what: str, fn: Callable[..., Any], body: Mapping[str, Any]) -> Json:
        try:
            return self._call(what, "search", fn, body=body)
        except ClusterNotFoundError as exc:
            # 2.9-2.11 answer 404 index_not_found_exception before the first create (§2.8).
            if exc.error_type == "index_not_found_exception":
                return copy.deepcopy(dict(EMPTY_SEARCH))
            raise

    def _await_model_id(self, task_id: str, *, subject: str, timeout: float) -> str:
        deadline = self._clock() + timeout
        while True:
            task = self._task_or_none(task_id, subject=subject)
            if task is not None and task.get("model_id"):
                return str(task["model_id"])
            if task is not None and task.get("state") in ("FAILED", "CANCELLED"):
                reason = self._scrub(str(task.get("error", "")))
                raise ClusterError(
                    f"{subject}: register failed (task {task_id}): {reason}", reason=reason
                )
            if self._clock() >= deadline:
                raise ClusterError(
                    f"{subject}: register did not report a model ID within {timeout:g}s "
                    f"(task {task_id})"
                )
            self._sleep(0.5)

    def _task_or_none(self, task_id: str, *, subject: str) -> Json | None:
        try:
            return self.get_task(task_id, subject=subject)
        except ClusterNotFoundError:
            return None  # the task document may not be searchable yet


@dataclasses.dataclass(frozen=True, slots=True)
class _PipelineApi:
    """opensearch-py's methods for one pipeline kind (`client.ingest`, `client.search_pipeline`)."""

    what: str
    get: Callable[..., Any]
    put: Callable[..., Any]
    delete: Callable[..., Any]


def _timeout(seconds: float | None) -> dict[str, float]:
    """opensearch-py's per-request read timeout (`request_timeout`), when one is given."""
    return {} if seconds is None else {"request_timeout": seconds}


def _capabilities(version_text: str) -> Capabilities:
    try:
        return capabilities(Version.parse(version_text))
    except ValueError:
        return capabilities(LATEST)
