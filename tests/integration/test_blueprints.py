"""Every official ML Commons connector blueprint on the sandbox (tests/data/blueprints/).

Each blueprint's connector is created (or its register-model body with an inline connector
sent), a remote model registered and deployed over real HTTP with opensearch-py, on the first
profile the blueprint can work on and on the newest one. Its process functions and request
template run offline against a recorded provider answer. The end-to-end probe (a predict
through the sandbox) runs against the provider emulator of the blueprint's host (every host
of the corpus is emulated, which the README test checks) and must give every field of the
recorded answer. A blueprint that is wrong for a release carries the reason and the error
in its file (`wrong`), and the test expects exactly that error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from opensearchpy import OpenSearch

from reconciler.sandbox.ml.profiles import PROFILES, get_profile
from reconciler.sandbox.providers import emulating
from reconciler.sandbox.providers.exchanges import Call
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from tests.support import blueprints
from tests.support.blueprints import Blueprint
from tests.support.conformance import call, reason

ML = "/_plugins/_ml"
ALL = blueprints.load_all()


def profile_for(since: str) -> str:
    """The oldest sandbox profile at or after release `since`."""
    wanted = tuple(int(part) for part in since.split(".")[:2])
    return next((n for n, p in PROFILES.items() if p.release >= wanted), "3.x")


def cases() -> list[Any]:
    rows = []
    for blueprint in ALL:
        for profile in dict.fromkeys([profile_for(blueprint.since), "3.x"]):
            rows.append(pytest.param(blueprint, profile, id=f"{blueprint.name}@{profile}"))
    return rows


def trust(client: OpenSearch, blueprint: Blueprint, profile: str) -> None:
    """The profile's default trusted endpoints plus the blueprint's own host, as the
    blueprints tell their readers to configure."""
    host = re.escape(blueprint.host)
    patterns = [*get_profile(profile).trusted_endpoints, f"^https?://{host}(/.*)?$"]
    key = "plugins.ml_commons.trusted_connector_endpoints_regex"
    client.cluster.put_settings(body={"persistent": {key: patterns}})


def wait_for(check: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def register(client: OpenSearch, blueprint: Blueprint) -> tuple[int, Any]:
    """Create the connector and register a model on it (or send the register body with its
    inline connector); (status, body) of the first refusal, or (200, model_id)."""
    body = blueprint.data["body"]
    if "actions" not in body:
        status, answer = call(client, "POST", f"{ML}/models/_register", body)
    else:
        status, answer = call(client, "POST", f"{ML}/connectors/_create", body)
        if status != 200:
            return status, answer
        model = {
            "name": f"{blueprint.name.replace('/', '_')} model",
            "function_name": "remote",
            "connector_id": answer["connector_id"],
        }
        status, answer = call(client, "POST", f"{ML}/models/_register", model)
    if status != 200:
        return status, answer
    return 200, answer.get("model_id") or _task_model(client, answer["task_id"])


def _task_model(client: OpenSearch, task_id: str) -> str:
    def done() -> Any:
        task = call(client, "GET", f"{ML}/tasks/{task_id}")[1]
        return task.get("model_id") if task.get("state") == "COMPLETED" else None

    return str(wait_for(done, what=f"register task {task_id}"))


def deploy(client: OpenSearch, model_id: str) -> None:
    status, answer = call(client, "POST", f"{ML}/models/{model_id}/_deploy")
    assert status == 200, answer

    def deployed() -> bool:
        return call(client, "GET", f"{ML}/models/{model_id}")[1].get("model_state") == "DEPLOYED"

    wait_for(deployed, what=f"model {model_id} DEPLOYED")


@pytest.mark.parametrize(("blueprint", "profile"), cases())
def test_blueprint_registers_and_deploys(
    sandbox_factory: Callable[..., Sandbox], blueprint: Blueprint, profile: str
) -> None:
    client = client_for(sandbox_factory(profile))
    trust(client, blueprint, profile)
    status, answer = register(client, blueprint)
    wrong = blueprint.wrong_on(profile)
    refusal = (blueprint.data.get("wrong") or {}).get("register_error")
    if wrong and refusal:
        assert (status, reason(answer)) == (refusal["status"], refusal["reason"])
        return
    assert status == 200, answer
    deploy(client, str(answer))


@pytest.mark.parametrize("blueprint", ALL, ids=[b.name for b in ALL])
def test_blueprint_process_functions_offline(blueprint: Blueprint) -> None:
    newest = get_profile("3.x")
    sample = blueprint.data["sample"]
    expected = {k: v for k, v in sample.items() if k in ("request", "tensors", "error")}
    assert blueprints.offline(blueprint, newest) == expected
    if "documents" in blueprint.data:
        with_documents = Blueprint(
            blueprint.name, {**blueprint.data, "probe": blueprint.data["documents"]}
        )
        assert blueprints.offline(with_documents, newest) == sample["documents"]


def test_the_readme_lists_every_blueprint_with_its_status() -> None:
    readme = (blueprints.ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \| ([^|]+) \| (.+) \|$", readme, flags=re.M)
    expected = []
    for blueprint in ALL:
        wrong = blueprint.wrong_on("3.x")
        assert wrong or emulated(blueprint.host), blueprint.name
        status = f"wrong: {wrong}" if wrong else "ok: probe passes end to end"
        registered = ", ".join(dict.fromkeys([profile_for(blueprint.since), "3.x"]))
        expected.append((blueprint.name, blueprint.since, registered, status))
    assert [tuple(cell.strip() for cell in row) for row in rows] == expected


def emulated(url_host: str) -> bool:
    """Whether the sandbox answers `url_host` with a provider emulator."""
    return emulating.find(Call("POST", f"https://{url_host}/", {}, b"")) is not None


@pytest.mark.parametrize("blueprint", ALL, ids=[b.name for b in ALL])
def test_blueprint_probe_end_to_end(
    sandbox_factory: Callable[..., Sandbox], blueprint: Blueprint
) -> None:
    if not emulated(blueprint.host):
        pytest.skip(f"no emulator for {blueprint.host}")
    profile = "3.x"
    if blueprint.wrong_on(profile):
        pytest.skip(f"blueprint wrong on {profile}: {blueprint.wrong_on(profile)}")
    client = client_for(sandbox_factory(profile))
    trust(client, blueprint, profile)
    if blueprint.host.startswith(("127.0.0.1", "localhost")):
        # A local server such as Ollama: the blueprint tells its readers to allow it.
        private = {
            "plugins.ml_commons.connector.private_ip_enabled": True,
            "plugins.ml_commons.trusted_connector_private_endpoints_regex": [r"^http://.*$"],
        }
        client.cluster.put_settings(body={"persistent": private})
    status, model_id = register(client, blueprint)
    assert status == 200, model_id
    deploy(client, str(model_id))
    outputs = []
    for probe in (blueprint.data["probe"], blueprint.data.get("documents")):
        if probe is None:
            continue
        path = probe["path"].replace("{model_id}", str(model_id))
        status, answer = call(client, "POST", path, probe["body"])
        assert status == 200, answer
        assert answer["inference_results"][0]["output"], answer
        outputs.append(answer["inference_results"][0]["output"])
    # The emulator answers at least the fields of the recorded answer, with their types.
    recorded = blueprint.data["sample"].get("tensors")
    if recorded is not None:
        assert fits(outputs[0], recorded), (outputs[0], recorded)


def fits(got: Any, want: Any) -> bool:
    """Whether `got` has every field of `want` with the same kind of value (values, list
    lengths and numbers' int/float form aside; a recorded null fits anything)."""
    if want is None:
        return True
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and fits(got[k], v) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and (not want or bool(got))
            and all(any(fits(g, w) for g in got) for w in want)
        )
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want)
    if isinstance(want, (int, float)):
        return isinstance(got, (int, float))
    return type(got) is type(want)


MANAGED = [b for b in ALL if blueprints.written_for(b) == "aws-managed"]


@pytest.mark.parametrize("blueprint", MANAGED, ids=[b.name for b in MANAGED])
def test_managed_blueprint_end_to_end_on_an_aws_managed_sandbox(
    sandbox_factory: Callable[..., Sandbox], blueprint: Blueprint
) -> None:
    """A roleArn/secretArn blueprint, as written, on a domain: it registers, deploys and
    predicts through the emulator of its host (signed with the assumed role's keys, or with
    the secret's value in its headers). The trusted list is the service's own: nothing is
    set, which the domain would refuse."""
    client = client_for(sandbox_factory("3.x", flavor="aws-managed"))
    status, model_id = register(client, blueprint)
    assert status == 200, model_id
    deploy(client, str(model_id))
    if own_fault := [r for r in (blueprint.wrong_on("3.x") or "").split("; and ")[1:] if r]:
        pytest.skip(f"blueprint wrong beyond its credential: {own_fault[0]}")
    probe = blueprint.data["probe"]
    path = probe["path"].replace("{model_id}", str(model_id))
    status, answer = call(client, "POST", path, probe["body"])
    assert status == 200, answer
    # The recorded samples were taken for the key-based variants' probes; the managed
    # variant's answer is checked for being one, from the emulator of its host.
    assert answer["inference_results"][0]["output"], answer
