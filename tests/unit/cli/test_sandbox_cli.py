"""`osml sandbox --version`: every release profile is accepted, unknown names are refused;
`--emulate HOST[:PORT]=FAMILY` is checked before the sandbox starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from reconciler.cli import main

# An address no socket can bind: the command gets past option parsing, then fails to start.
UNBINDABLE = ["--host", "256.256.256.256", "--port", "0"]


@pytest.mark.parametrize("version", ["2.10", "2.16", "3.1", "3.7", "3.x", "latest"])
def test_every_release_is_a_valid_version(version: str) -> None:
    result = CliRunner().invoke(main, ["sandbox", "--version", version, *UNBINDABLE])
    assert result.exit_code == 1, result.output
    assert "sandbox: cannot start" in result.output


@pytest.mark.parametrize("version", ["2.8", "3.9", "4.0", "3.x.1"])
def test_other_versions_are_usage_errors(version: str) -> None:
    result = CliRunner().invoke(main, ["sandbox", "--version", version, *UNBINDABLE])
    assert result.exit_code == 2
    assert "unknown sandbox profile" in result.output


def test_help_names_the_releases() -> None:
    result = CliRunner().invoke(main, ["sandbox", "--help"])
    assert "2.9 ... 2.19, 3.0 ... 3.8" in " ".join(result.output.split())


def test_emulate_is_accepted_per_host() -> None:
    args = ["sandbox", "--emulate", "10.0.0.12:8000=openai", "--emulate", "gpu-1=ollama"]
    result = CliRunner().invoke(main, [*args, *UNBINDABLE])
    assert result.exit_code == 1, result.output
    assert "sandbox: cannot start" in result.output


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.0.0.12:8000=tgi", "unknown emulator family 'tgi' (known: openai, ollama)"),
        ("10.0.0.12:8000", "expected HOST[:PORT]=FAMILY"),
        ("10.0.0.12:70000=openai", "expected a port from 1 to 65535"),
    ],
)
def test_a_bad_emulate_is_a_usage_error(value: str, message: str) -> None:
    result = CliRunner().invoke(main, ["sandbox", "--emulate", value, *UNBINDABLE])
    assert result.exit_code == 2
    assert "Invalid value for '--emulate'" in result.output
    assert message in result.output
