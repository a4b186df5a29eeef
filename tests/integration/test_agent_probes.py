"""Agent probes end to end against the sandbox, over HTTP: `lifecycle.probe` of an Agent is
an execute request (docs/reference/consumers.md §4.8) run after the agent is created,
changed or rewired to a new model ID. Its outcome goes to the agent's state record: a
failed probe fails the apply for that agent, with no secret in the message, and the next
plan probes it again. The flow agent's MLModelTool runs its model's predict through the
sandbox, so a model whose provider errors makes the probe fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

from reconciler.cli import main
from reconciler.resources import Kind, ResourceKey
from tests.integration import support
from tests.integration.support import ENV, SECRET, connector, group, loopback_access, model, write
from tests.support.model_server import ModelServer

AGENT = ResourceKey(Kind.AGENT, "helper")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=ENV, catch_exceptions=False)
    assert SECRET not in result.output
    return result.exit_code, result.output


def agent(*, description: str = "Answers from the bot", **probe: Any) -> dict[str, Any]:
    """A flow agent whose one tool asks Model/bot, with a probe."""
    tool = {
        "type": "MLModelTool",
        "name": "ask",
        "parameters": {"model_id": {"ref": "Model/bot"}, "response_field": "choices"},
    }
    return {
        "apiVersion": "osml/v1",
        "kind": "Agent",
        "metadata": {"name": "helper"},
        "spec": {"type": "flow", "description": description, "tools": [tool]},
        "lifecycle": {
            "probe": {
                "parameters": {"question": "are you there"},
                "timeout": 10,
                "expect": {"outputs": True},
                **probe,
            }
        },
    }


def _docs(url: str | None = None, **bot: Any) -> list[dict[str, Any]]:
    """A group, a connector (to the sandbox's OpenAI emulator, or to `url`), Model/bot."""
    chat = connector("chat") if url is None else connector("chat", url=url)
    chat["spec"]["actions"][0]["request_body"] = (
        '{"model": "${parameters.model}", '
        '"messages": [{"role": "user", "content": "${parameters.question}"}]}'
    )
    bot_model = model("bot", connector_name="chat", group_name="team")
    bot_model["spec"].update(bot)
    access = loopback_access() if url is not None else []
    return [*access, group("team"), chat, bot_model]


def test_a_probe_that_passes_is_recorded_and_the_next_plan_is_empty(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", [*_docs(), agent()])
    recorder = support.Recorder()
    result = support.apply(sandbox.url, paths, observer=recorder)
    assert result.ok, support.actions(result)
    assert support.actions(result)["Agent/helper"] == "create:done"
    waits = [m for e, k, m in recorder.events if e == "wait" and k == AGENT]
    assert "probing with an execute request" in waits
    assert any(m.startswith("probe passed: ") and "You said" in m for m in waits), waits

    probe = support.state_record(sandbox.url, AGENT).probe
    assert probe is not None and (probe.outcome, probe.failures) == ("passed", 0)
    assert support.actions(support.plan(sandbox.url, paths)) == {}


def test_the_plan_shows_the_probe_after_apply(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", [*_docs(), agent()])
    code, out = _run("plan", str(paths), "--cluster", sandbox.url)
    assert code == 0, out
    assert "probe after apply: " in out and "are you there" in out and "timeout" in out


def test_a_failed_probe_fails_the_agent_and_the_next_plan_probes_again(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    with ModelServer() as remote:
        remote.behaviour.status = 401
        remote.behaviour.error_body = {"error": {"message": f"Incorrect API key: {SECRET}"}}
        paths = write(
            tmp_path / "m", [*_docs(f"{remote.url}/v1/chat/completions"), agent()]
        )
        code, out = _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 1, out
        assert "Agent/helper" in out and "probe failed (401)" in out

        record = support.state_record(sandbox.url, AGENT)
        assert record.probe is not None
        assert (record.probe.outcome, record.probe.failures) == ("failed", 1)
        assert "Incorrect API key" in record.probe.error
        assert SECRET not in support.stored_state_documents(sandbox.url)

        assert support.actions(support.plan(sandbox.url, paths)) == {"Agent/helper": "probe"}
        code, out = _run("plan", str(paths), "--detailed-exitcode", "--cluster", sandbox.url)
        assert code == 2 and "its last probe failed (once, at " in out, out

        remote.behaviour.status = 200
        result = support.apply(sandbox.url, paths)
        assert support.actions(result) == {"Agent/helper": "probe:done"}
        probe = support.state_record(sandbox.url, AGENT).probe
        assert probe is not None and (probe.outcome, probe.failures, probe.error) == (
            "passed",
            0,
            "",
        )
        assert support.actions(support.plan(sandbox.url, paths)) == {}


def test_an_expectation_the_answer_misses_fails_the_probe(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    missing = "$.inference_results[0].output[0].dataAsMap"
    paths = write(tmp_path / "m", [*_docs(), agent(expect={"exists": [missing]})])
    result = support.apply(sandbox.url, paths)
    assert not result.ok
    [failed] = [r for r in result.results if r.key == AGENT]
    assert f"expected {missing} in the answer, it selects nothing" in failed.error or ""
    probe = support.state_record(sandbox.url, AGENT).probe
    assert probe is not None and probe.outcome == "failed"


def test_an_agent_rewired_to_a_replaced_model_is_probed_again(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    paths = write(tmp_path / "m", [*_docs(provisioned_by="a"), agent()])
    assert support.apply(sandbox.url, paths).ok
    first = support.state_record(sandbox.url, AGENT).probe
    assert first is not None and first.outcome == "passed"

    # provisioned_by cannot be updated (reference §6.8): a new model ID, the agent rewired.
    write(tmp_path / "m", [*_docs(provisioned_by="b"), agent()])
    planned = support.plan(sandbox.url, paths)
    assert support.actions(planned) == {"Model/bot": "replace", "Agent/helper": "update"}
    recorder = support.Recorder()
    result = support.apply(sandbox.url, paths, observer=recorder)
    assert result.ok, support.actions(result)
    waits = [m for e, k, m in recorder.events if e == "wait" and k == AGENT]
    assert any(m.startswith("probe passed: ") for m in waits), waits
    again = support.state_record(sandbox.url, AGENT).probe
    assert again is not None and again.outcome == "passed" and again.at >= first.at
    assert support.actions(support.plan(sandbox.url, paths)) == {}


def test_a_model_probe_timeout_is_honoured(sandbox_factory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("3.x")
    with ModelServer() as remote:
        remote.behaviour.latency = 2.0
        docs = _docs(f"{remote.url}/v1/chat/completions")
        docs[-1]["lifecycle"]["probe"] = {"parameters": {"question": "x"}, "timeout": 0.5}
        paths = write(tmp_path / "m", docs)
        code, out = _run("plan", str(paths), "--cluster", sandbox.url)
        assert code == 0, out
        assert '"timeout": 0.5' in out or "timeout: 0.5" in out, out
        result = support.apply(sandbox.url, paths)
        [bot] = [r for r in result.results if str(r.key) == "Model/bot"]
        assert "probe failed" in (bot.error or "") and "timed out" in (bot.error or ""), bot.error


def test_a_probe_answer_that_quotes_the_key_never_shows_it(
    sandbox_factory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("3.x")
    with ModelServer() as remote:
        quoted = {"role": "assistant", "content": f"your key is {SECRET}"}
        remote.behaviour.success_body = {"choices": [{"index": 0, "message": quoted}]}
        paths = write(tmp_path / "m", [*_docs(f"{remote.url}/v1/chat/completions"), agent()])
        code, out = _run("apply", str(paths), "--auto-approve", "--cluster", sandbox.url)
        assert code == 0, out
        assert "Agent/helper: probe passed: " in out and "your key is" in out
        # `_run` asserts the key is absent from the output; the state never holds it either.
        assert SECRET not in support.stored_state_documents(sandbox.url)
