"""Apply progress: the lines TextProgress writes and the events RecordingObserver keeps."""

from __future__ import annotations

import threading

import pytest

from reconciler.outcomes import ApplyObserver, ApplyResult, ChangeResult, Outcome
from reconciler.plans import Action, Change, Strategy
from reconciler.rendering.progress import (
    RecordingObserver,
    TextProgress,
    duration_text,
    interrupted_lines,
    summary_line,
)
from reconciler.resources import Kind, ResourceKey

CHAT = ResourceKey(Kind.CONNECTOR, "openai-chat")
MODEL = ResourceKey(Kind.MODEL, "chat")


def _change(action: Action, **extra: object) -> Change:
    key = MODEL if action in (Action.DEPLOY, Action.UNDEPLOY, Action.REDEPLOY) else CHAT
    return Change(key=key, action=action, **extra)  # type: ignore[arg-type]


def _result(*pairs: tuple[Action, Outcome]) -> ApplyResult:
    return ApplyResult(tuple(ChangeResult(CHAT, a, o) for a, o in pairs))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_change(Action.CREATE), "Connector/openai-chat: creating..."),
        (
            _change(Action.REPLACE, strategy=Strategy.SWAP),
            "Connector/openai-chat: replacing (swap)...",
        ),
        (_change(Action.DEPLOY), "Model/chat: deploying..."),
        (_change(Action.ADOPT), "Connector/openai-chat: adopting..."),
    ],
)
def test_start_lines(change: Change, expected: str) -> None:
    lines: list[str] = []
    TextProgress(lines.append).on_start(change)
    assert lines == [expected]


@pytest.mark.parametrize(
    ("change", "outcome", "duration", "error", "live_id", "expected"),
    [
        (_change(Action.CREATE), Outcome.DONE, 1.23, None, "abc",
         "Connector/openai-chat: created (id abc) [1.2s]"),
        (_change(Action.UPDATE, live_id="old"), Outcome.DONE, 0.4, None, None,
         "Connector/openai-chat: updated (id old) [0.4s]"),
        (_change(Action.DELETE), Outcome.DONE, 125.0, None, None,
         "Connector/openai-chat: deleted [2m05s]"),
        (_change(Action.UPDATE), Outcome.FAILED, 0.4,
         "Connector/openai-chat: update failed (409): still in use", None,
         "Connector/openai-chat: update failed (409): still in use [0.4s]"),
        (_change(Action.DEPLOY), Outcome.FAILED, 30.0, None, None,
         "Model/chat: deploy failed [30.0s]"),
        (_change(Action.DEPLOY), Outcome.FAILED, 30.0, "timed out", None,
         "Model/chat: deploy failed: timed out [30.0s]"),
        (_change(Action.DEPLOY), Outcome.SKIPPED, 0.0, None, None,
         "Model/chat: skipped: a change it depends on failed"),
    ],
)  # fmt: skip
def test_finish_lines(
    change: Change,
    outcome: Outcome,
    duration: float,
    error: str | None,
    live_id: str | None,
    expected: str,
) -> None:
    lines: list[str] = []
    TextProgress(lines.append).on_finish(
        change, outcome=outcome, duration=duration, error=error, live_id=live_id
    )
    assert lines == [expected]


def test_wait_line() -> None:
    lines: list[str] = []
    TextProgress(lines.append).on_wait(_change(Action.DEPLOY), "waiting for DEPLOYED (10s)")
    assert lines == ["Model/chat: waiting for DEPLOYED (10s)"]


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            _result(
                (Action.CREATE, Outcome.DONE),
                (Action.CREATE, Outcome.DONE),
                (Action.UPDATE, Outcome.DONE),
                (Action.REPLACE, Outcome.DONE),
                (Action.DEPLOY, Outcome.DONE),
            ),
            "Apply complete: 2 created, 1 updated, 1 replaced, 1 deployed, 0 deleted, 0 failed.",
        ),
        (
            _result((Action.UNDEPLOY, Outcome.DONE), (Action.ADOPT, Outcome.DONE)),
            "Apply complete: 0 created, 0 updated, 0 replaced, 0 deployed, 0 deleted, "
            "1 undeployed, 1 adopted, 0 failed.",
        ),
        (
            _result((Action.UPDATE, Outcome.FAILED), (Action.DEPLOY, Outcome.SKIPPED)),
            "Apply finished with errors: 0 created, 0 updated, 0 replaced, 0 deployed, "
            "0 deleted, 1 failed, 1 skipped.",
        ),
        (ApplyResult(()), "Apply complete: 0 created, 0 updated, 0 replaced, 0 deployed, "
         "0 deleted, 0 failed."),
    ],
)  # fmt: skip
def test_summary_line(result: ApplyResult, expected: str) -> None:
    assert summary_line(result) == expected


def test_summary_lists_failures() -> None:
    failed = ChangeResult(CHAT, Action.UPDATE, Outcome.FAILED, error="Connector/openai-chat: boom")
    lines: list[str] = []
    TextProgress(lines.append).on_summary(ApplyResult((failed,)))
    assert lines[0].splitlines()[1] == "  Connector/openai-chat: update failed: boom"


def test_summary_lists_passed_probes_after_failures() -> None:
    lines: list[str] = []
    progress = TextProgress(lines.append)
    progress.on_wait(_change(Action.DEPLOY), "waiting for DEPLOYED")
    progress.on_wait(_change(Action.DEPLOY), "probe passed: embedding of 1024 dimensions")
    failed = ChangeResult(CHAT, Action.UPDATE, Outcome.FAILED, error="boom")
    progress.on_summary(ApplyResult((failed,)))
    assert lines[-1].splitlines()[1:] == [
        "  Connector/openai-chat: update failed: boom",
        "  Model/chat: probe passed: embedding of 1024 dimensions",
    ]


@pytest.mark.parametrize(
    ("seconds", "expected"), [(0.0, "0.0s"), (1.25, "1.2s"), (59.9, "59.9s"), (61, "1m01s")]
)
def test_duration_text(seconds: float, expected: str) -> None:
    assert duration_text(seconds) == expected


def test_recording_observer_counts_events_from_many_threads() -> None:
    observer = RecordingObserver()
    change = _change(Action.CREATE)

    def work() -> None:
        for _ in range(50):
            observer.on_start(change)
            observer.on_wait(change, "waiting")
            observer.on_finish(change, outcome=Outcome.DONE, duration=0.0)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    observer.on_summary(_result((Action.CREATE, Outcome.DONE)))
    assert observer.counts == {"start": 200, "wait": 200, "finish": 200, "summary": 1}
    assert observer.outcomes() == {CHAT: Outcome.DONE}
    assert len(observer.results) == 1


@pytest.mark.parametrize(
    "observer", [RecordingObserver(), TextProgress(lambda line: None)]
)
def test_observers_satisfy_the_protocol(observer: ApplyObserver) -> None:
    change = _change(Action.CREATE)
    observer.on_start(change)
    observer.on_wait(change, "waiting")
    observer.on_finish(change, outcome=Outcome.FAILED, duration=1.0, error="x")
    observer.on_summary(ApplyResult(()))


def test_text_progress_neutralises_control_sequences() -> None:
    lines: list[str] = []
    TextProgress(lines.append).on_wait(_change(Action.DEPLOY), "state \x1b[2JDEPLOYING")
    assert lines == ["Model/chat: state \\x1b[2JDEPLOYING"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_tick_says_what_is_still_running_and_for_how_long() -> None:
    lines: list[str] = []
    clock = FakeClock()
    progress = TextProgress(lines.append, clock=clock)
    deploy, create = _change(Action.DEPLOY), _change(Action.CREATE)
    progress.on_start(deploy)
    progress.on_wait(deploy, "waiting for DEPLOYED")
    clock.now += 5
    progress.on_start(create)
    clock.now += 15
    progress.tick()
    progress.on_finish(create, outcome=Outcome.DONE, duration=15.0, live_id="abc")
    clock.now += 45
    progress.tick()
    assert lines[3:] == [  # in create order, like the plan
        "Connector/openai-chat: still creating... [15s elapsed]",
        "Model/chat: still deploying (waiting for DEPLOYED)... [20s elapsed]",
        "Connector/openai-chat: created (id abc) [15.0s]",
        "Model/chat: still deploying (waiting for DEPLOYED)... [1m05s elapsed]",
    ]


def test_the_ticker_writes_every_interval_and_stops_with_the_summary() -> None:
    lines: list[str] = []
    ticked = threading.Event()

    def sink(line: str) -> None:
        lines.append(line)
        if "still" in line:
            ticked.set()

    progress = TextProgress(sink, every=0.01)
    change = _change(Action.DEPLOY)
    progress.on_start(change)
    assert ticked.wait(10), "no progress line"
    progress.on_finish(change, outcome=Outcome.DONE, duration=1.0)
    progress.on_summary(_result((Action.DEPLOY, Outcome.DONE)))
    written = len(lines)
    progress.tick()  # nothing runs any more: nothing to say
    assert len(lines) == written and lines[-1].startswith("Apply complete")
    assert not [t for t in threading.enumerate() if t.name == "osml-progress"]


def test_without_an_interval_no_ticker_starts() -> None:
    progress = TextProgress(lambda line: None)
    progress.on_start(_change(Action.CREATE))
    assert not [t for t in threading.enumerate() if t.name == "osml-progress"]


def test_an_interrupted_apply_says_what_was_done_and_what_not() -> None:
    group = ResourceKey(Kind.MODEL_GROUP, "team")
    result = ApplyResult(
        (
            ChangeResult(group, Action.CREATE, Outcome.DONE),
            ChangeResult(CHAT, Action.CREATE, Outcome.DONE),
            ChangeResult(MODEL, Action.CREATE, Outcome.SKIPPED, error="apply was stopped"),
        )
    )
    assert interrupted_lines(result) == [
        "Interrupted: 2 done, 1 not started. The changes in flight were finished and "
        "recorded; the state lock was released.",
        "  done: ModelGroup/team, Connector/openai-chat",
        "  not started: Model/chat",
        "Run the apply again to do the rest.",
    ]
