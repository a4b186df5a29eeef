"""Manifest builders and a runner shared by the checking tests.

Each builder returns a clean document for every supported version; a test changes only
what it is about (a value of None removes the key), so each table row shows exactly the
problems its change causes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.manifests.checking import check
from reconciler.manifests.loading import load_manifests
from reconciler.mlcommons.versions import Version

Row = tuple[str, str, str]
"""(path, severity, message) of one problem."""

ALL_VERSIONS = ("2.9", "2.13", "2.19", "3.1", "3.8")


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def envelope(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "osml/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def action(**changes: Any) -> dict[str, Any]:
    base = {
        "action_type": "predict",
        "method": "POST",
        "url": "https://${parameters.endpoint}/v1/chat/completions",
        "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
        "request_body": '{"model": "${parameters.model}", "input": "${parameters.input:-hi}"}',
    }
    return _merge(base, changes)


def connector_spec(**changes: Any) -> dict[str, Any]:
    base = {
        "name": "OpenAI Chat",
        "version": 1,
        "protocol": "http",
        "parameters": {"endpoint": "api.openai.com", "model": "gpt-4"},
        "credential": {"openAI_key": {"fromEnv": "OPENAI_API_KEY"}},
        "actions": [action()],
    }
    return _merge(base, changes)


def connector(meta: str = "openai-chat", **changes: Any) -> dict[str, Any]:
    return envelope("Connector", meta, connector_spec(**changes))


def aws_connector(meta: str = "bedrock", **changes: Any) -> dict[str, Any]:
    base = {
        "name": "Bedrock",
        "version": "1",
        "protocol": "aws_sigv4",
        "parameters": {"region": "us-east-1", "service_name": "bedrock"},
        "credential": {
            "access_key": {"fromEnv": "AWS_ACCESS_KEY_ID"},
            "secret_key": {"fromEnv": "AWS_SECRET_ACCESS_KEY"},
        },
        "actions": [
            action(
                url="https://bedrock-runtime.${parameters.region}.amazonaws.com/model/x/invoke",
                headers={"content-type": "application/json"},
                request_body='{"inputText": "${parameters.inputText:-x}"}',
            )
        ],
    }
    return envelope("Connector", meta, _merge(base, changes))


def model(meta: str = "chat", **changes: Any) -> dict[str, Any]:
    return envelope("Model", meta, _merge({"connector": "openai-chat"}, changes))


def group(meta: str = "team", **changes: Any) -> dict[str, Any]:
    return envelope("ModelGroup", meta, _merge({"description": "Team models"}, changes))


def trusted(*patterns: str, mode: str = "merge") -> dict[str, Any]:
    return envelope("TrustedEndpoints", "endpoints", {"mode": mode, "patterns": list(patterns)})


def access(meta: str = "access", **spec: Any) -> dict[str, Any]:
    return envelope("AccessControl", meta, spec)


def run(tmp_path: Path, documents: list[dict[str, Any]], version: str) -> list[Row]:
    """Load `documents` from a real YAML file and check them; (path, severity, message)."""
    file = tmp_path / "manifests.yaml"
    file.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    problems = check(load_manifests([file]), version=Version.parse(version))
    return [(p.path or "", p.severity.value, p.message) for p in problems]


Case = tuple[str, tuple[str, ...], list[dict[str, Any]], list[Row]]
"""(name, target versions, documents, expected problems) of one table row."""


def case_params(cases: list[Case]) -> list[Any]:
    """One pytest param per row and version, named `row @version`."""
    return [
        pytest.param(documents, version, expected, id=f"{name} @{version}")
        for name, versions, documents, expected in cases
        for version in versions
    ]


def assert_case(
    tmp_path: Path, documents: list[dict[str, Any]], version: str, expected: list[Row]
) -> None:
    """The check finds exactly `expected` (with `{v}` standing for the version)."""
    wanted = [(path, sev, message.replace("{v}", version)) for path, sev, message in expected]
    assert run(tmp_path, documents, version) == wanted


def error(path: str, message: str) -> Row:
    return (path, "error", message)


def warning(path: str, message: str) -> Row:
    return (path, "warning", message)
