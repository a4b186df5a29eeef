"""Property: whatever the file holds, loading returns or raises ManifestError, and every
problem it reports is located in the file. Never another exception, never a hang."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ManifestError
from reconciler.manifests.loading import load_manifests

VALID = """\
apiVersion: osml/v1
kind: Connector
metadata:
  name: openai-chat
  labels: {team: search}
spec:
  name: OpenAI Chat
  version: 1
  protocol: http
  parameters: {endpoint: api.openai.com, model: gpt-4o}
  credential:
    openAI_key: {fromEnv: OPENAI_API_KEY}
  actions:
    - action_type: predict
      method: POST
      url: https://${parameters.endpoint}/v1/chat/completions
      headers: {Authorization: "Bearer ${credential.openAI_key}"}
      request_body: '{"model": "${parameters.model}"}'
  client_config: {max_connection: 10, retry_backoff_policy: constant}
lifecycle: {prevent_destroy: true}
---
apiVersion: osml/v1
kind: Model
metadata: {name: chat}
spec:
  connector: openai-chat
  model_group: chat-models
  rate_limiter: {limit: 10, unit: MINUTES}
lifecycle:
  deployed: true
  probe: {parameters: {messages: []}, timeout: 5}
"""

YAMLISH = st.text(alphabet=":-[]{}&*!|>'\"#?,<%@`\t\n ab0yno~.=\\\x00é")
"""Text made of the characters that YAML's grammar cares about."""

ANY_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "m.yaml"


def assert_returns_or_reports(target: Path) -> None:
    try:
        load_manifests([target])
    except ManifestError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file == str(target)
            assert problem.line is not None
            assert problem.line >= 1


@SETTINGS
@given(text=st.text())
def test_any_text(target: Path, text: str) -> None:
    target.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_returns_or_reports(target)


@SETTINGS
@given(text=YAMLISH)
def test_yaml_punctuation(target: Path, text: str) -> None:
    target.write_text(text, encoding="utf-8")
    assert_returns_or_reports(target)


@SETTINGS
@given(data=st.data())
def test_edits_of_a_valid_manifest(target: Path, data: st.DataObject) -> None:
    documents = list(yaml.safe_load_all(VALID))
    index = data.draw(st.integers(0, len(documents) - 1))
    edit = data.draw(st.sampled_from(["delete", "rename", "retype", "duplicate"]))
    documents[index] = _edit(documents[index], edit=edit, data=data)
    if edit == "duplicate":
        documents.append(copy.deepcopy(documents[index]))
    target.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    assert_returns_or_reports(target)


@SETTINGS
@given(cut=st.integers(0, len(VALID)), junk=YAMLISH)
def test_truncated_or_spliced_valid_manifest(target: Path, cut: int, junk: str) -> None:
    target.write_text(VALID[:cut] + junk, encoding="utf-8")
    assert_returns_or_reports(target)


def test_the_unedited_manifest_is_valid(target: Path) -> None:
    target.write_text(VALID, encoding="utf-8")
    assert len(load_manifests([target])) == 2


def _edit(document: Any, *, edit: str, data: st.DataObject) -> Any:
    paths = list(_paths(document))
    parent_path, key = data.draw(st.sampled_from(paths))
    parent = _at(document, parent_path)
    if edit == "delete":
        del parent[key]
    elif edit == "rename" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=12))] = parent.pop(key)
    elif edit == "retype":
        parent[key] = data.draw(ANY_VALUE)
    return document


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Any:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield prefix, key
        if isinstance(value, dict | list) and value:
            yield from _paths(value, (*prefix, key))


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node
