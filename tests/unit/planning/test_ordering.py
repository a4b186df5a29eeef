"""Execution order, dependencies and `--target` narrowing."""

from __future__ import annotations

import pytest

from reconciler.errors import PlanError
from reconciler.planning.ordering import order
from reconciler.plans import Action, Change
from reconciler.resources import Kind, ResourceKey


def key(text: str) -> ResourceKey:
    return ResourceKey.parse(text)


def change(text: str, action: Action, *deps: str) -> Change:
    return Change(key(text), action, depends_on=tuple(key(d) for d in deps))


def names(changes: tuple[Change, ...]) -> list[str]:
    return [f"{c.action.value} {c.key}" for c in changes]


def test_creates_then_deploys_then_deletes_in_reverse() -> None:
    changes = [
        change("ModelGroup/old", Action.DELETE, "Model/old"),
        change("Connector/old", Action.DELETE, "Model/old"),
        change("Model/old", Action.DELETE),
        change("Model/stop", Action.UNDEPLOY),
        change("Model/a", Action.DEPLOY, "Connector/a"),
        change("Model/b", Action.CREATE, "Connector/a", "ModelGroup/g"),
        change("Connector/a", Action.UPDATE),
        change("ModelGroup/g", Action.CREATE),
        change("TrustedEndpoints/t", Action.UPDATE),
        change("AccessControl/s", Action.NOOP),
    ]
    assert names(order(changes)) == [
        "noop AccessControl/s",
        "update TrustedEndpoints/t",
        "create ModelGroup/g",
        "update Connector/a",
        "create Model/b",
        "deploy Model/a",
        "undeploy Model/stop",
        "delete Model/old",
        "delete Connector/old",
        "delete ModelGroup/old",
    ]


def test_document_changes_wait_for_settings_changes_and_noops_wait_for_nothing() -> None:
    ordered = order([
        change("TrustedEndpoints/t", Action.UPDATE),
        change("Connector/a", Action.CREATE),
        change("Model/m", Action.NOOP, "Connector/a"),
    ])  # fmt: skip
    by_key = {c.key: c for c in ordered}
    assert by_key[key("Connector/a")].depends_on == (key("TrustedEndpoints/t"),)
    assert by_key[key("Model/m")].depends_on == ()


def test_dependencies_on_unchanged_resources_are_dropped() -> None:
    ordered = order(
        [change("Connector/a", Action.NOOP), change("Model/m", Action.UPDATE, "Connector/a")]
    )
    assert ordered[1].depends_on == ()


def test_a_dependency_can_pull_a_change_before_its_phase() -> None:
    # Deletes normally follow creates; a create that waits for a delete comes after it.
    ordered = order(
        [change("Model/new", Action.CREATE, "Model/old"), change("Model/old", Action.DELETE)]
    )
    assert names(ordered) == ["delete Model/old", "create Model/new"]


@pytest.mark.parametrize(
    ("targets", "kept"),
    [
        (["Model/m"], ["TrustedEndpoints/t", "Connector/c", "Model/m"]),
        (["Connector/c"], ["TrustedEndpoints/t", "Connector/c"]),
        (["Model/other"], ["Model/other"]),
    ],
)
def test_targets_keep_their_dependencies(targets: list[str], kept: list[str]) -> None:
    changes = [
        change("TrustedEndpoints/t", Action.UPDATE),
        change("Connector/c", Action.UPDATE),
        change("Model/m", Action.UPDATE, "Connector/c"),
        change("Model/other", Action.NOOP),
    ]
    ordered = order(changes, targets=[key(t) for t in targets])
    assert [str(c.key) for c in ordered] == kept


def test_unknown_target_is_an_error() -> None:
    with pytest.raises(PlanError, match="Model/nope"):
        order([change("Model/m", Action.NOOP)], targets=[key("Model/nope")])


def test_a_cycle_is_an_error() -> None:
    with pytest.raises(PlanError, match="cycle"):
        order(
            [
                change("Model/a", Action.UPDATE, "Model/b"),
                change("Model/b", Action.UPDATE, "Model/a"),
            ]
        )


def test_order_is_deterministic_by_name_within_a_phase() -> None:
    changes = [change(f"Connector/{name}", Action.CREATE) for name in "cab"]
    assert [c.key.name for c in order(changes)] == ["a", "b", "c"]
    assert all(c.key.kind is Kind.CONNECTOR for c in order(changes))


def test_a_target_brings_in_what_it_retires_after_and_unchanged_ones_are_dropped() -> None:
    connector = Change(
        key("Connector/c"),
        Action.REPLACE,
        retire_after=(key("Model/m"), key("Model/current")),
    )
    changes = [
        connector,
        change("Model/m", Action.REPLACE, "Connector/c"),
        change("Model/current", Action.NOOP),
        change("Model/other", Action.UPDATE),
    ]
    ordered = order(changes, targets=[key("Connector/c")])
    assert [str(c.key) for c in ordered] == ["Connector/c", "Model/m"]
    assert ordered[0].retire_after == (key("Model/m"),)
