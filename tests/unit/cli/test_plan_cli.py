"""`osml plan` option wiring, without a cluster: what reaches the core, what is refused."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.cli.plan import render, use_color
from reconciler.plans import ClusterIdentity, Plan


def osml(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_sandbox_emulate_needs_the_sandbox(command: str) -> None:
    # Refused before any connection: the default cluster URL is never contacted.
    result = osml(command, "--sandbox-emulate", "10.0.0.12:8000=openai", "examples/deploy")
    assert result.exit_code == 2, result.output
    assert "--sandbox-emulate needs --sandbox (or plan --probe-offline)" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target", "Widget/x"), "is not a kind"),
        (("--target", "Connector"), "not of the form KIND/NAME"),
        (("--format", "yaml"), "'yaml' is not one of"),
    ],
)
def test_bad_options_are_usage_errors(args: tuple[str, ...], message: str) -> None:
    result = osml("plan", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_help_lists_the_plan_options() -> None:
    result = osml("plan", "--help")
    for option in ("--format", "--out", "--detailed-exitcode", "--target", "--prune",
                   "--allow-prune-all", "--sandbox"):  # fmt: skip
        assert option in result.stdout


@pytest.mark.parametrize(
    ("output_format", "start"),
    [("text", "osml plan for"), ("json", "{"), ("markdown", "<!-- osml-plan -->")],
)
def test_render_picks_the_view(output_format: str, start: str) -> None:
    plan = Plan(changes=(), cluster=ClusterIdentity(url="http://x", version="3.1.0"), token="t")
    assert render(plan, output_format=output_format).startswith(start)


def test_no_color_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color() is False
