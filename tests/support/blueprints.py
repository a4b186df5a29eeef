"""The corpus of official ML Commons connector blueprints under tests/data/blueprints/.

Each JSON file holds one connector body copied from the ML Commons repository
(`docs/remote_inference_blueprints/`, source path and line in `source`), the placeholders that
were filled (`filled`) and any repair of the blueprint's text (`edits`), the predict request
the blueprint shows (`probe`), a recorded provider answer (`sample.response`) with what the
server builds from it (`sample.request`, `sample.tensors`), the first release the blueprint
can work on (`since`) and, where the blueprint itself is wrong for a release, `wrong`
(profiles and the reason). `offline` runs a blueprint's process functions and request
template through the sandbox's own modules, with no cluster and no network.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from reconciler.sandbox.http import ApiError
from reconciler.sandbox.ml import processing, templating
from reconciler.sandbox.ml.builtin_functions import Inputs
from reconciler.sandbox.ml.profiles import Profile

ROOT = Path(__file__).resolve().parent.parent / "data" / "blueprints"


@dataclasses.dataclass(frozen=True)
class Blueprint:
    """One corpus entry."""

    name: str
    """Path under tests/data/blueprints/ without `.json`."""
    data: dict[str, Any]

    @property
    def connector(self) -> dict[str, Any]:
        """The connector body (inline in a register-model body for some blueprints)."""
        body = self.data["body"]
        return body if "actions" in body else dict(body["connector"])

    @property
    def predict_action(self) -> dict[str, Any]:
        """The connector's PREDICT action."""
        actions = self.connector["actions"]
        return next(a for a in actions if str(a["action_type"]).upper() == "PREDICT")

    @property
    def host(self) -> str:
        """The host of the PREDICT URL, connector parameters filled in."""
        params = templating.stringify_parameters(self.connector.get("parameters"))
        url = templating.render(str(self.predict_action["url"]), params)
        return url.split("://", 1)[-1].split("/", 1)[0]

    @property
    def since(self) -> str:
        """First release the blueprint can work on."""
        return str(self.data.get("since", "2.9"))

    def wrong_on(self, profile: str) -> str | None:
        """Why the blueprint is wrong on `profile`, or None."""
        wrong = self.data.get("wrong") or {}
        # Without a list of profiles the blueprint is wrong on every release.
        if wrong and profile in wrong.get("profiles", [profile]):
            return str(wrong["reason"])
        return None


def load_all() -> list[Blueprint]:
    """Every corpus entry, sorted by name."""
    return [
        Blueprint(str(path.relative_to(ROOT).with_suffix("")), json.loads(path.read_text()))
        for path in sorted(ROOT.rglob("*.json"))
    ]


def inputs_of(probe_body: dict[str, Any]) -> Inputs:
    """The predict input the probe sends, as predicting classifies it."""
    docs = probe_body.get("text_docs")
    if not isinstance(docs, list):
        return Inputs("parameters")
    if "query_text" in probe_body:
        return Inputs("text_similarity", tuple(docs), str(probe_body["query_text"]))
    return Inputs("text_docs", tuple(str(d) for d in docs))


def offline(blueprint: Blueprint, profile: Profile) -> dict[str, Any]:
    """What the server would send and answer for the blueprint's probe and sample response:
    `request` (the rendered body, parsed when it is JSON) and `tensors`, or `error`."""
    probe = blueprint.data["probe"]["body"]
    action = blueprint.predict_action
    connector_params = templating.stringify_parameters(blueprint.connector.get("parameters"))
    requested = templating.request_parameters(probe.get("parameters"))
    params = templating.merge_parameters(connector_params, requested)
    inputs = inputs_of(probe)
    batch = processing.batches(
        action.get("pre_process_function"), inputs, connector_params, profile=profile
    )[0]
    try:
        produced = processing.pre_process(
            action.get("pre_process_function"),
            inputs=batch,
            parameters=params,
            algorithm="REMOTE" if batch.kind == "parameters" else "TEXT_EMBEDDING",
            profile=profile,
        )
        params = {**params, **produced, **requested}
        rendered = templating.render(str(action.get("request_body", "")), params)
        missing = templating.leftover_placeholders(rendered)
        if missing and params.get("skip_validating_missing_parameters") != "true":
            reason = f"Some parameter placeholder not filled in payload: {', '.join(missing)}"
            return {"error": {"type": "illegal_argument_exception", "reason": reason}}
        result: dict[str, Any] = {"request": _parsed(processing.clean_payload(rendered, params))}
        tensors = processing.post_process(
            action.get("post_process_function"),
            blueprint.data["sample"]["response"],
            parameters=params,
            profile=profile,
        )
    except ApiError as err:
        return {"error": {"type": err.error_type, "reason": err.reason}}
    result["tensors"] = tensors
    return result


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


MANAGED_KEYS = ("roleArn", "secretArn")
"""Credential keys of the Amazon OpenSearch Service form: their values stay ARNs."""


def written_for(blueprint: Blueprint) -> str:
    """The flavor the blueprint was written for: `aws-managed` when its connector uses a
    roleArn or a secretArn, `opensearch` otherwise."""
    credential = blueprint.connector.get("credential") or {}
    return "aws-managed" if any(k in credential for k in MANAGED_KEYS) else "opensearch"


def credential_variable(key: str) -> str:
    """The environment variable a pasted blueprint's credential `key` reads."""
    return "BLUEPRINT_" + "".join(c if c.isalnum() else "_" for c in key).upper()


def as_manifests(blueprint: Blueprint) -> list[dict[str, Any]]:
    """The blueprint pasted into osml manifests as a new user would: the connector body as
    a Connector spec (or the register body as a Model with its inline connector), each
    secret credential read from the environment, ARNs kept as written, and the
    TrustedEndpoints pattern the blueprint tells its readers to add for its host."""
    name = blueprint.name.replace("/", "-").replace(".", "-").replace("_", "-").lower()
    body = json.loads(json.dumps(blueprint.data["body"]))
    connector = body if "actions" in body else body["connector"]
    connector["credential"] = {
        key: value if key in MANAGED_KEYS else {"fromEnv": credential_variable(key)}
        for key, value in (connector.get("credential") or {}).items()
    }
    host = re.escape(blueprint.host)
    trusted = {
        "apiVersion": "osml/v1",
        "kind": "TrustedEndpoints",
        "metadata": {"name": "blueprint-host"},
        "spec": {"patterns": [f"^https?://{host}.*$"]},
    }
    kind = "Connector" if "actions" in body else "Model"
    resource = {"apiVersion": "osml/v1", "kind": kind, "metadata": {"name": name}, "spec": body}
    return [trusted, resource]
