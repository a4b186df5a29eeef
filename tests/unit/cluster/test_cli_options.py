"""The shared connection options arrive as the right ClusterOptions (kopf test_options style)."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from reconciler.cli.options import DEFAULT_SANDBOX_FILE, ClusterOptions, cluster_options
from reconciler.cluster.connecting import AwsSigV4, ConnectionSettings
from reconciler.secrets import Secret

ENV_NAMES = (
    "OPENSEARCH_URL",
    "OPENSEARCH_USERNAME",
    "OPENSEARCH_PASSWORD",
    "OSML_CA_CERTS",
    "OSML_CLIENT_CERT",
    "OSML_CLIENT_KEY",
    "OSML_INSECURE",
    "OSML_REQUEST_TIMEOUT",
    "OSML_HEADERS",
    "OSML_AWS_SIGV4",
    "OSML_AWS_SERVICE",
    "OSML_STATE_INDEX",
    "OSML_SANDBOX",
    "OSML_SANDBOX_VERSION",
    "OSML_SANDBOX_SECURITY",
    "OSML_SANDBOX_EMULATE",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def _parse(args: list[str], env: dict[str, str] | None = None) -> tuple[ClusterOptions, str]:
    seen: dict[str, Any] = {}

    @click.command()
    @cluster_options
    def probe(cluster: ClusterOptions) -> None:
        seen["cluster"] = cluster

    result = CliRunner().invoke(probe, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seen["cluster"], result.output


def test_defaults() -> None:
    options, _ = _parse([])
    assert options == ClusterOptions(settings=ConnectionSettings(url="http://localhost:9200"))


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--cluster", "https://os:9200/"], {}, {"url": "https://os:9200"}),
        ([], {"OPENSEARCH_URL": "https://env:9200"}, {"url": "https://env:9200"}),
        (
            ["--username", "admin", "--password", "pw"],
            {},
            {"username": "admin", "password": Secret("pw")},
        ),
        (
            [],
            {"OPENSEARCH_USERNAME": "admin", "OPENSEARCH_PASSWORD": "pw"},
            {"username": "admin", "password": Secret("pw")},
        ),
        (["--insecure"], {}, {"verify": False}),
        ([], {"OSML_INSECURE": "1"}, {"verify": False}),
        (["--request-timeout", "5"], {}, {"timeout": 5.0}),
        (
            ["--header", "Authorization: Bearer t1", "--header", "X-Api-Key:k2"],
            {},
            {"headers": {"Authorization": Secret("Bearer t1"), "X-Api-Key": Secret("k2")}},
        ),
        (
            [],
            {"OSML_HEADERS": "Authorization: Bearer t1\nX-Api-Key: k2"},
            {"headers": {"Authorization": Secret("Bearer t1"), "X-Api-Key": Secret("k2")}},
        ),
        (["--aws-sigv4", "eu-west-1"], {}, {"aws_sigv4": AwsSigV4("eu-west-1", "es")}),
        (
            ["--aws-sigv4", "us-east-1", "--aws-service", "aoss"],
            {},
            {"aws_sigv4": AwsSigV4("us-east-1", "aoss")},
        ),
    ],
)
def test_connection_settings(
    args: list[str], env: dict[str, str], expected: dict[str, Any]
) -> None:
    options, _ = _parse(args, env)
    assert options.settings == ConnectionSettings(**{"url": "http://localhost:9200", **expected})


def test_tls_files(tmp_path: Any) -> None:
    ca, cert, key = (tmp_path / n for n in ("ca.pem", "cert.pem", "key.pem"))
    for path in (ca, cert, key):
        path.write_text("-----BEGIN CERTIFICATE-----\n")
    options, _ = _parse(
        ["--ca-certs", str(ca), "--client-cert", str(cert), "--client-key", str(key)]
    )
    assert (options.settings.ca_certs, options.settings.client_cert) == (str(ca), str(cert))
    assert options.settings.client_key == str(key)


@pytest.mark.parametrize(
    ("args", "env", "sandbox", "version", "index"),
    [
        ([], {}, None, "3.x", "osml-state"),
        (["--sandbox"], {}, DEFAULT_SANDBOX_FILE, "3.x", "osml-state"),
        (["--sandbox", "data/sb.json"], {}, "data/sb.json", "3.x", "osml-state"),
        (["--sandbox", "--sandbox-version", "2.9"], {}, DEFAULT_SANDBOX_FILE, "2.9", "osml-state"),
        (["--state-index", "my-state"], {}, None, "3.x", "my-state"),
        (
            [],
            {"OSML_STATE_INDEX": "env-state", "OSML_SANDBOX_VERSION": "2.13"},
            None,
            "2.13",
            "env-state",
        ),
    ],
)
def test_sandbox_and_state_index(
    args: list[str], env: dict[str, str], sandbox: str | None, version: str, index: str
) -> None:
    options, _ = _parse(args, env)
    assert (options.sandbox, options.sandbox_version, options.state_index) == (
        sandbox,
        version,
        index,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--password", "pw"],
        ["--aws-sigv4", "eu-west-1", "--username", "u"],
        ["--header", "no-colon"],
        ["--aws-service", "s3"],
        ["--sandbox-security"],
    ],
)
def test_usage_errors(args: list[str]) -> None:
    @click.command()
    @cluster_options
    def probe(cluster: ClusterOptions) -> None:
        raise AssertionError("not reached")

    result = CliRunner().invoke(probe, args)
    assert result.exit_code == 2


@pytest.mark.parametrize(
    ("args", "env", "security"),
    [
        (["--sandbox"], {}, False),
        (["--sandbox", "--sandbox-security"], {}, True),
        (["--sandbox"], {"OSML_SANDBOX_SECURITY": "true"}, True),
    ],
)
def test_sandbox_security(args: list[str], env: dict[str, str], security: bool) -> None:
    options, _ = _parse(args, env)
    assert options.sandbox_security is security


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--sandbox"], {}, ()),
        (
            ["--sandbox", "--sandbox-emulate", "10.0.0.12:8000=openai"],
            {},
            (("10.0.0.12:8000", "openai"),),
        ),
        (
            [
                "--sandbox",
                "--sandbox-emulate",
                "Llm.Internal=OpenAI",
                "--sandbox-emulate",
                "gpu-1=ollama",
            ],
            {},
            (("llm.internal", "openai"), ("gpu-1", "ollama")),
        ),
        (
            ["--sandbox"],
            {"OSML_SANDBOX_EMULATE": "10.0.0.12:8000=openai, gpu-1:11434=ollama"},
            (("10.0.0.12:8000", "openai"), ("gpu-1:11434", "ollama")),
        ),
        (
            ["--sandbox"],
            {"OSML_SANDBOX_EMULATE": "a=openai b=ollama"},
            (("a", "openai"), ("b", "ollama")),
        ),
    ],
)
def test_sandbox_emulate(
    args: list[str], env: dict[str, str], expected: tuple[tuple[str, str], ...]
) -> None:
    options, _ = _parse(args, env)
    assert options.sandbox_emulate == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.0.0.12:8000=vllm", "unknown emulator family 'vllm' (known: openai, ollama)"),
        ("10.0.0.12:8000", "expected HOST[:PORT]=FAMILY, got '10.0.0.12:8000'"),
        ("http://10.0.0.12=openai", "expected HOST[:PORT]=FAMILY"),
        ("=openai", "expected HOST[:PORT]=FAMILY"),
        ("10.0.0.12:0=openai", "expected a port from 1 to 65535"),
        ("10.0.0.12:http=openai", "expected a port from 1 to 65535"),
    ],
)
def test_sandbox_emulate_usage_errors(value: str, message: str) -> None:
    @click.command()
    @cluster_options
    def probe(cluster: ClusterOptions) -> None:
        raise AssertionError("not reached")

    result = CliRunner().invoke(probe, ["--sandbox", "--sandbox-emulate", value])
    assert result.exit_code == 2
    assert "Invalid value for '--sandbox-emulate'" in result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_help_never_shows_the_password_from_the_environment() -> None:
    @click.command()
    @cluster_options
    def probe(cluster: ClusterOptions) -> None:
        raise AssertionError("not reached")

    result = CliRunner().invoke(probe, ["--help"], env={"OPENSEARCH_PASSWORD": "hunter2"})
    assert result.exit_code == 0
    assert "hunter2" not in result.output
    assert "--sandbox [DATA_FILE]" in result.output
