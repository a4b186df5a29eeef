"""Behaviour of the three plan views beyond the golden files."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from reconciler.outcomes import PARTICIPLES, ApplyResult, ChangeResult, Outcome
from reconciler.plans import (
    FORMAT_VERSION,
    Action,
    Change,
    ClusterIdentity,
    FieldChange,
    Plan,
    Strategy,
    ref_marker,
)
from reconciler.rendering import plan_document, render_json, render_markdown, render_text
from reconciler.rendering.formatting import (
    NO_CHANGES,
    flatten,
    list_diff,
    summary_line,
    value_text,
)
from reconciler.rendering.markdown import GITHUB_LIMIT, MARKER
from reconciler.resources import Kind, ResourceKey
from tests.unit.rendering.samples import PLANS, every_action_plan, reregister_plan

CLUSTER = ClusterIdentity(url="http://localhost:9200", version="3.1.0")


def _plan(*actions: Action, **extra: object) -> Plan:
    changes = tuple(
        Change(key=ResourceKey(Kind.MODEL, f"m{i}"), action=a) for i, a in enumerate(actions)
    )
    return Plan(changes=changes, cluster=CLUSTER, token="t", **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ((), NO_CHANGES),
        ((Action.NOOP, Action.NOOP), NO_CHANGES),
        (
            (Action.CREATE, Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DEPLOY),
            "Plan: 2 to create, 1 to update, 1 to replace, 0 to delete, 1 to deploy.",
        ),
        (
            (Action.DELETE, Action.UNDEPLOY),
            "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete, 0 to deploy, "
            "1 to undeploy.",
        ),
        (
            (Action.ADOPT, Action.REDEPLOY, Action.NOOP),
            "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 0 to deploy, "
            "1 to redeploy, 1 to adopt.",
        ),
    ],
)
def test_summary_line(actions: tuple[Action, ...], expected: str) -> None:
    plan = _plan(*actions)
    assert summary_line(plan) == expected
    assert render_text(plan).rstrip().endswith(expected)
    assert expected in render_markdown(plan)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gpt-4o", '"gpt-4o"'),
        (None, "null"),
        (True, "true"),
        (1.5, "1.5"),
        ({"a": [1, "b"]}, '{"a": [1, "b"]}'),
        (ref_marker(ResourceKey(Kind.CONNECTOR, "c")), "(id of Connector/c)"),
        ("x" * 200, '"' + "x" * 116 + "..."),
        ("naïve", '"naïve"'),
    ],
)
def test_value_text(value: object, expected: str) -> None:
    assert value_text(value) == expected


def test_text_is_plain_without_color_and_ansi_with_it() -> None:
    plan = every_action_plan()
    assert "\x1b[" not in render_text(plan)
    coloured = render_text(plan, color=True)
    assert "\x1b[32m" in coloured
    assert "\x1b[0m" in coloured


def test_noop_changes_are_not_shown() -> None:
    plan = _plan(Action.NOOP, Action.CREATE)
    assert "Model/m0" not in render_text(plan)
    assert "Model/m0" not in render_markdown(plan)
    assert "Model/m1" in render_text(plan)


@pytest.mark.parametrize("name", sorted(PLANS))
def test_json_summary_matches_the_plan(name: str) -> None:
    plan = PLANS[name]()
    document = json.loads(render_json(plan))
    assert document["format_version"] == FORMAT_VERSION == 3
    assert document["has_changes"] == plan.has_changes
    for action in Action:
        assert document["summary"][action.value] == plan.counts()[action]
    assert document["summary"]["orphans"] == len(plan.orphans)
    assert [c["key"] for c in document["changes"]] == [str(c.key) for c in plan.changes]


def test_json_document_reads_back_as_a_plan() -> None:
    plan = every_action_plan()
    again = Plan.from_dict(plan_document(plan))
    assert [(c.key, c.action) for c in again.changes] == [(c.key, c.action) for c in plan.changes]


def test_retire_order_and_the_reregister_strategy_read_back() -> None:
    plan = reregister_plan()
    again = Plan.from_dict(plan_document(plan))
    connector = again.get(ResourceKey(Kind.CONNECTOR, "openai-chat"))
    assert connector is not None and connector.strategy is Strategy.REREGISTER
    assert [str(k) for k in connector.retire_after] == ["Model/chat", "Model/chat-b"]
    assert "old one deleted after: Model/chat, Model/chat-b" in render_text(plan)


def test_json_change_has_documented_keys() -> None:
    change = plan_document(every_action_plan())["changes"][0]
    documented = {
        "key", "kind", "name", "action", "live_id", "reasons", "strategy", "downtime",
        "affected", "depends_on", "fields", "review", "before", "after", "deploy_after",
        "retire_after",
    }  # fmt: skip
    assert documented <= set(change)


def _big_plan(count: int) -> Plan:
    field = FieldChange("actions[0].request_body", "a\n" * 40, "b\n" * 40)
    changes = tuple(
        Change(
            key=ResourceKey(Kind.CONNECTOR, f"c{i:04d}"),
            action=Action.UPDATE,
            live_id=f"id{i}",
            fields=(field,),
            review=(f"endpoint host changed {i}",),
        )
        for i in range(count)
    )
    return Plan(changes=changes, cluster=CLUSTER, token="t")


@pytest.mark.parametrize(("count", "limit"), [(300, GITHUB_LIMIT), (50, 4000), (3000, 20_000)])
def test_markdown_fits_the_comment_limit(count: int, limit: int) -> None:
    output = render_markdown(_big_plan(count), limit=limit)
    assert len(output) <= limit
    assert output.startswith(MARKER + "\n")
    assert "osml plan" in output.splitlines()[-1] or "Run `osml plan`" in output


def test_markdown_lists_changes_without_details_when_long() -> None:
    output = render_markdown(_big_plan(300))
    assert "listed without details" in output
    assert "Connector/c0299" in output
    assert output.count("<details>") < 300


def test_markdown_fence_outgrows_backticks_in_values() -> None:
    change = Change(
        key=ResourceKey(Kind.CONNECTOR, "c"),
        action=Action.UPDATE,
        fields=(FieldChange("description", "```", "````"),),
    )
    output = render_markdown(Plan(changes=(change,), cluster=CLUSTER, token="t"))
    assert "`````diff\n" in output


def test_markdown_escapes_names_and_notes() -> None:
    change = Change(
        key=ResourceKey(Kind.CONNECTOR, "<img src=x>"),
        action=Action.CREATE,
        review=("pattern added: .*_prod_*",),
    )
    output = render_markdown(Plan(changes=(change,), cluster=CLUSTER, token="t"))
    assert "<img" not in output
    assert r".\*\_prod\_\*" in output


@pytest.mark.parametrize("color", [False, True])
def test_text_neutralises_terminal_control_sequences(color: bool) -> None:
    change = Change(
        key=ResourceKey(Kind.CONNECTOR, "c"),
        action=Action.UPDATE,
        reasons=("evil\x1b[2J\rreason",),
        fields=(FieldChange("description", "a\x1b]0;x\x07", "b"),),
    )
    output = render_text(Plan(changes=(change,), cluster=CLUSTER, token="t"), color=color)
    assert "\x1b[2J" not in output
    assert "\r" not in output
    assert "\x07" not in output
    assert "evil\\x1b[2J\\x0dreason" in output
    assert ("\x1b[1m" in output) is color


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"a": {"b": 1, "c": [1, 2]}}, [("a.b", 1), ("a.c", [1, 2])]),
        (
            {"actions": [{"url": "u"}, {"url": "v"}]},
            [("actions[0].url", "u"), ("actions[1].url", "v")],
        ),
        ({"empty": {}, "none": None}, [("empty", {}), ("none", None)]),
        ({"c": {"$ref": "Connector/x"}}, [("c", {"$ref": "Connector/x"})]),
    ],
)
def test_flatten(body: dict[str, object], expected: list[tuple[str, object]]) -> None:
    assert list(flatten(body)) == expected


@pytest.mark.parametrize(
    ("before", "after", "expected", "kept"),
    [
        (["a", "b"], ["a", "b"], [], 2),
        (["a"], ["a", "b"], [("+", '"b"')], 1),
        (["a", "b", "c"], ["a", "c"], [("-", '"b"')], 2),
        ([1], [2], [("-", "1"), ("+", "2")], 0),
    ],
)
def test_list_diff(
    before: list[object], after: list[object], expected: list[tuple[str, str]], kept: int
) -> None:
    assert list_diff(before, after) == (expected, kept)


_KEY = ResourceKey(Kind.MODEL, "m")
_CONNECTOR = ResourceKey(Kind.CONNECTOR, "c")


@pytest.mark.parametrize(
    ("change", "tally"),
    [
        (Change(_KEY, Action.CREATE, deploy_after=True), (Action.CREATE, Action.DEPLOY)),
        (Change(_KEY, Action.REPLACE, deploy_after=True), (Action.REPLACE, Action.DEPLOY)),
        (Change(_KEY, Action.UPDATE, undeploy_first=True), (Action.UNDEPLOY, Action.UPDATE)),
        (Change(_CONNECTOR, Action.UPDATE, strategy=Strategy.SWAP), (Action.REPLACE,)),
        (Change(_CONNECTOR, Action.UPDATE, strategy=Strategy.RECREATE), (Action.UPDATE,)),
        (Change(_CONNECTOR, Action.ADOPT, strategy=Strategy.SWAP), (Action.ADOPT, Action.REPLACE)),
        (Change(_KEY, Action.ADOPT, fields=(FieldChange("description"),)),
         (Action.ADOPT, Action.UPDATE)),
        (Change(_KEY, Action.ADOPT), (Action.ADOPT,)),
        (Change(_KEY, Action.UPDATE, fields=(FieldChange("lifecycle.prevent_destroy"),)),
         (Action.UPDATE,)),
        (Change(_KEY, Action.REDEPLOY), (Action.REDEPLOY,)),
    ],
)  # fmt: skip
def test_plan_and_apply_summaries_count_what_runs(
    change: Change, tally: tuple[Action, ...]
) -> None:
    assert change.tally == tally
    plan = Plan(changes=(change,), cluster=CLUSTER, token="t")
    assert plan.counts() == Counter(tally)
    done = ChangeResult(change.key, change.action, Outcome.DONE, tally=change.tally)
    assert ApplyResult((done,)).counts() == Counter(PARTICIPLES[a] for a in tally)


def test_orphans_are_counted_beside_the_summary() -> None:
    orphan = Change(_KEY, Action.DELETE)
    assert summary_line(_plan(orphans=(orphan,))) == f"{NO_CHANGES[:-1]}; 1 left for --prune."
    kept = summary_line(_plan(Action.CREATE, orphans=(orphan,), prune=True))
    assert kept.endswith("0 to deploy; 1 kept by prevent_destroy.")


def test_a_state_only_change_says_so() -> None:
    change = Change(_KEY, Action.UPDATE, live_id="x",
                    fields=(FieldChange("lifecycle.prevent_destroy", False, True),))  # fmt: skip
    assert change.state_only
    text = render_text(Plan(changes=(change,), cluster=CLUSTER, token="t"))
    assert "~ Model/m (id x, state only)" in text
    assert "lifecycle.prevent_destroy: false -> true" in text
    markdown = render_markdown(Plan(changes=(change,), cluster=CLUSTER, token="t"))
    assert "<b>Model/m</b> will be recorded in the state only (id x)" in markdown
