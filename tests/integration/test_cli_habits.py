"""Small habits of a command-line tool: colour switches, machine-readable state, and a
quickstart whose demo key is the one the demo's own walk-through uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.cli import plan as plan_module
from tests.integration.support import ENV, connector, group, model, write

ROOT = Path(__file__).resolve().parents[2]
COLOUR = "\x1b["


def _docs() -> list[dict[str, object]]:
    return [
        group("team"),
        connector("chat"),
        model("bot", connector_name="chat", group_name="team"),
    ]


def test_state_list_has_a_header_in_text_and_an_array_in_json(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _docs())
    runner = CliRunner()
    applied = runner.invoke(
        main, ["apply", str(paths), "--auto-approve", "--cluster", sandbox.url], env=ENV
    )
    assert applied.exit_code == 0, applied.output

    text = runner.invoke(main, ["state", "list", "--cluster", sandbox.url], env=ENV)
    lines = text.output.splitlines()
    assert lines[0] == "RESOURCE\tSTATUS\tLIVE ID\tUPDATED"
    assert [line.split("\t")[0] for line in lines[1:]] == [
        "ModelGroup/team",
        "Connector/chat",
        "Model/bot",
    ]

    listed = runner.invoke(
        main, ["state", "list", "--format", "json", "--cluster", sandbox.url], env=ENV
    )
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [row["key"] for row in rows] == ["ModelGroup/team", "Connector/chat", "Model/bot"]
    assert {tuple(sorted(row)) for row in rows} == {("key", "live_id", "status", "updated_at")}
    assert all(row["status"] == "managed" and row["live_id"] for row in rows)


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        ([], {}, True),
        (["--no-color"], {}, False),
        ([], {"NO_COLOR": "1"}, False),
        ([], {"TERM": "dumb"}, False),
    ],
    ids=["terminal", "--no-color", "NO_COLOR", "TERM=dumb"],
)
@pytest.mark.parametrize("command", ["plan", "apply"])
def test_colour_can_be_turned_off(
    sandbox_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    command: str, args: list[str], env: dict[str, str], coloured: bool,
) -> None:  # fmt: skip
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", _docs())
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # CliRunner's stdout is no terminal: use_color() is shown one instead, and click is
    # told to keep colour codes, as it does on a terminal.
    monkeypatch.setattr(plan_module, "sys", _System())
    extra = ["--auto-approve"] if command == "apply" else []
    result = CliRunner().invoke(
        main, [command, str(paths), *extra, *args, "--cluster", sandbox.url], env=ENV, color=True
    )
    assert result.exit_code == 0, result.output
    assert (COLOUR in result.output) is coloured


class _Tty:
    """Stands in for a terminal's stdout where only `isatty` is asked."""

    def isatty(self) -> bool:
        return True


class _System:
    """`sys` as `use_color` sees it: stdout is a terminal."""

    stdout = _Tty()


def test_the_quickstart_key_is_the_demo_walkthroughs_key(tmp_path: Path) -> None:
    quickstart = re.search(r"OPENAI_API_KEY=(\S+) \S*osml apply", (ROOT / "README.md").read_text())
    demo = re.search(
        r"export OPENAI_API_KEY=(\S+)", (ROOT / "examples/sandbox-demo/README.md").read_text()
    )
    assert quickstart and demo
    assert quickstart.group(1) == demo.group(1)
    # What the walk-through promises after the quickstart: "no changes".
    data = str(tmp_path / "sandbox.json")
    runner = CliRunner()
    demo_dir = str(ROOT / "examples/sandbox-demo")
    env = {"OPENAI_API_KEY": quickstart.group(1)}
    first = runner.invoke(main, ["apply", demo_dir, "--auto-approve", "--sandbox", data], env=env)
    assert first.exit_code == 0, first.output
    env = {"OPENAI_API_KEY": demo.group(1)}
    again = runner.invoke(main, ["plan", demo_dir, "--sandbox", data], env=env)
    assert again.exit_code == 0, again.output
    assert "No changes" in again.output
