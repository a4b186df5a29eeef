"""`osml apply --sandbox --auto-approve` on the repository's own manifest sets, with a dummy
value for every `fromEnv`: each apply must exit 0 with every probe passed, answered by the
sandbox's provider emulators without network access.

Sets that cannot pass yet are listed in KNOWN_FAILURES with the exact changes that fail and
why; the test checks that those, and only those, fail for that reason, so an entry must go
when its reason does. examples/access-control needs the Security plugin: it is applied with
`--sandbox-security`, which runs the sandbox with security on and connects as its admin.
examples/private-self-hosted calls a private server at 10.0.0.12 that is no well-known
provider: it is applied with `--sandbox-emulate 10.0.0.12:8000=openai`, so the sandbox's
OpenAI emulator answers that host after the private-address and trust rules ran.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from opensearchpy import AuthenticationException

from reconciler.cli import main, options
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from tests.manifest_sets import SETS

DUMMY = "dummy-value-for-the-sandbox"
KNOWN_FAILURES: dict[str, dict[str, str]] = {}
"""Set -> {change that fails: text its error contains}."""
NEEDS_SECURITY = {"access-control"}
"""Sets whose access fields need the Security plugin: applied with `--sandbox-security`."""
SECURITY_OFF = "the Security plugin or"
NOT_OFFLINE: dict[str, str] = {}
"""Set -> why its probes cannot be answered offline."""
EMULATE = {"private-self-hosted": ["--sandbox-emulate", "10.0.0.12:8000=openai"]}
"""Sets whose self-hosted servers the sandbox answers with a provider emulator."""


def env_names(folder: Path) -> set[str]:
    return set(
        re.findall(r"fromEnv: ([A-Z0-9_]+)", "".join(p.read_text() for p in folder.glob("*.yaml")))
    )


def probed_resources(folder: Path) -> set[str]:
    """`Kind/name` of every model and agent with a `lifecycle.probe`."""
    names = set()
    for path in folder.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            probed = doc and (doc.get("lifecycle") or {}).get("probe")
            if probed and doc.get("kind") in ("Model", "Agent"):
                names.add(f"{doc['kind']}/{doc['metadata']['name']}")
    return names


def summary_entries(output: str) -> list[tuple[str, str]]:
    """(Kind/name, text) of each entry under the summary line: failures, then passed probes."""
    start = re.search(r"^Apply (complete|finished with errors)", output, flags=re.M)
    assert start is not None, output
    return re.findall(r"^  ([A-Z][A-Za-z]+/[A-Za-z0-9._-]+): (.*)$", output[start.start() :], re.M)


@pytest.mark.parametrize(
    "folder", [f for f in SETS if f.name not in NOT_OFFLINE], ids=lambda f: f.name
)
def test_apply_sandbox_on_a_set_passes_every_probe(folder: Path, tmp_path: Path) -> None:
    env = {"NO_COLOR": "1", **dict.fromkeys(env_names(folder), DUMMY)}
    data = tmp_path / "sandbox.json"
    security = ["--sandbox-security"] if folder.name in NEEDS_SECURITY else []
    extra = [*security, *EMULATE.get(folder.name, [])]
    result = CliRunner().invoke(
        main, ["apply", "--sandbox", str(data), *extra, "--auto-approve", str(folder)], env=env
    )
    known = KNOWN_FAILURES.get(folder.name, {})
    entries = summary_entries(result.output)
    failed = {key for key, text in entries if not text.startswith("probe passed: ")}
    assert failed == set(known), result.output
    for key, reason in known.items():
        assert reason in result.output.split(f"\n  {key}: ", 1)[1], result.output
    assert result.exit_code == (1 if known else 0), result.output
    passed = {key for key, text in entries if text.startswith("probe passed: ")}
    assert passed == probed_resources(folder) - set(known)
    assert DUMMY not in result.output


ACCESS_CONTROL = next(f for f in SETS if f.name == "access-control")


def test_without_sandbox_security_the_access_fields_are_refused(tmp_path: Path) -> None:
    env = {"NO_COLOR": "1", "COHERE_API_KEY": DUMMY}
    args = ["apply", "--sandbox", str(tmp_path / "sb.json"), "--auto-approve", str(ACCESS_CONTROL)]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1, result.output
    failed = {key for key, text in summary_entries(result.output) if SECURITY_OFF in text}
    assert failed == {
        "ModelGroup/platform-experiments",
        "ModelGroup/search-relevance",
        "Connector/cohere-embed",
    }


def test_sandbox_security_applies_as_the_admin_with_a_password_made_for_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "per-run-admin-password-for-the-test"
    monkeypatch.setattr(options.secrets, "token_urlsafe", lambda n: password)
    data = tmp_path / "sb.json"
    env = {"NO_COLOR": "1", "COHERE_API_KEY": DUMMY}
    args = ["apply", "--sandbox", str(data), "--sandbox-security", "--auto-approve"]
    result = CliRunner().invoke(main, [*args, str(ACCESS_CONTROL)], env=env)
    assert result.exit_code == 0, result.output
    assert password not in result.output and password not in data.read_text()
    # The same data file under `osml sandbox --security`: the demo admin sees what osml
    # made, owned by `admin`, with the access the manifests ask for.
    with Sandbox("3.x", security=True, data=str(data)) as sandbox:
        client = client_for(sandbox)
        found = client.transport.perform_request(
            "POST",
            "/_plugins/_ml/model_groups/_search",
            body={"query": {"term": {"name.keyword": "Search relevance models"}}},
        )
        group = found["hits"]["hits"][0]["_source"]
        assert group["owner"]["name"] == "admin"
        assert group["access"] == "restricted"
        assert sorted(group["backend_roles"]) == ["ml-platform", "search-relevance"]
        # The run's password was the run's only: this sandbox has the demo one.
        with pytest.raises(AuthenticationException):
            client_for(sandbox, http_auth=("admin", password)).info()


def test_sandbox_security_needs_the_sandbox() -> None:
    result = CliRunner().invoke(main, ["plan", "--sandbox-security", str(ACCESS_CONTROL)])
    assert result.exit_code == 2
    assert "--sandbox-security needs --sandbox" in result.output


COHERE = """apiVersion: osml/v1
kind: Connector
metadata: {name: cohere}
spec:
  name: cohere
  description: cohere embeddings
  version: 1
  protocol: http
  parameters: {model: embed-english-v3.0, input_type: search_document}
  credential: {cohere_key: {fromEnv: COHERE_API_KEY}}
  actions:
    - action_type: predict
      method: POST
      url: https://api.cohere.ai/v1/embed
      headers: {Authorization: "Bearer ${credential.cohere_key}"}
      request_body: '{ "texts": ${parameters.texts}, "model": "${parameters.model}", "input_type": "${parameters.input_type}" }'
      post_process_function: connector.post_process.cohere.embedding
---
apiVersion: osml/v1
kind: ModelGroup
metadata: {name: group}
spec: {name: probe expectations, description: group}
---
apiVersion: osml/v1
kind: Model
metadata: {name: embed}
spec: {name: embed, description: embeddings, connector: cohere, model_group: group}
lifecycle:
  probe:
    parameters: {texts: [hello world]}
    expect:
      embedding_dimension: DIMENSION
      exists: ['$.inference_results[0].output[0].data']
"""


@pytest.mark.parametrize(("dimension", "code"), [(1024, 0), (768, 1)])
def test_a_probe_expectation_decides_the_apply(tmp_path: Path, dimension: int, code: int) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "all.yaml").write_text(COHERE.replace("DIMENSION", str(dimension)))
    env = {"NO_COLOR": "1", "COHERE_API_KEY": DUMMY}
    args = ["apply", "--sandbox", str(tmp_path / "sb.json"), "--auto-approve", str(folder)]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == code, result.output
    if code == 0:
        assert "Model/embed: probe passed: embedding of 1024 dimensions" in result.output
    else:
        assert (
            "Model/embed: create failed: probe failed: expected embeddings of 768 dimensions, "
            "got 1024" in result.output
        )
