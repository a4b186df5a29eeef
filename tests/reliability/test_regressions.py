"""Regression tests: each scenario here is one the random suites found failing, shrunk
and kept, with the defect it exposed. They replay through `run_scenario` exactly as the
property does, so each stays a check of every invariant, not of one symptom.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.reliability.test_convergence import Scenario, run_scenario
from tests.reliability.worlds import Connector, Group, Model, World

NO_FAULTS: dict[str, Any] = {"rules": []}


def _world(connectors: list[Connector], models: list[Model], group: str = "g0") -> World:
    return World((Group(group, "alpha"),), tuple(connectors), tuple(models), secret="sk-rel-1")


def _connectors(*names: str) -> list[Connector]:
    return [Connector(name, "alpha") for name in names]


SCENARIOS = {
    # A model replace (2.9: no Update Model) whose new model failed to deploy recorded the
    # new ID first, so the old model was left behind for ever: two "m0 model".
    "replace-deploy-fails-2.9": Scenario(
        "2.9",
        (
            (
                _world(_connectors("c0", "c1", "c2"), [Model("m0", "c0", "g0", False)]),
                NO_FAULTS,
                (),
            ),
            (
                _world(_connectors("c0", "c1"), [Model("m0", "c1", "g0", True)]),
                {"rules": [], "deploy": [{"model": "m0 model", "outcome": "failed"}]},
                ("remove", "remove", "add_model"),
            ),
        ),
        faulty_applies=1,
    ),
    # A group rename with lost register answers on 2.9: the model registered twice.
    "group-rename-lost-registers-2.9": Scenario(
        "2.9",
        (
            (
                _world(_connectors("c0", "c1", "c2"), [Model("m0", "c0", "g0", True)]),
                {
                    "seed": 561,
                    "rules": [
                        {"route": "PUT /_plugins/_ml/*", "lost_rate": 0.126},
                        {"route": "POST /_plugins/_ml/*", "lost_rate": 0.054},
                        {"route": "*", "reset_rate": 0.032},
                    ],
                    "deploy": [{"model": "m0 model", "outcome": "failed"}],
                },
                (),
            ),
            (
                _world(
                    _connectors("c0", "c1", "c2", "c3"),
                    [Model("m0", "c0", "g0r", True)],
                    group="g0r",
                ),
                {
                    "seed": 285,
                    "rules": [
                        {"route": "POST /_plugins/_ml/*", "lost_rate": 0.132},
                        {
                            "route": "*",
                            "error_rate": 0.002,
                            "status": 504,
                            "reset_rate": 0.019,
                            "latency": 0.003,
                        },
                    ],
                    "deploy": [{"model": "m0 model", "outcome": "partial"}],
                },
                ("add_connector", "rename"),
            ),
        ),
        faulty_applies=1,
    ),
    # A key rotation on 2.9 replaces the connector, which deletes and re-registers both
    # models of g0; 2.9 deleted g0 with the last of them (§5.7), so the re-registrations
    # failed and only a second apply (creating g0 again) converged.
    "rotation-empties-the-group-2.9": Scenario(
        "2.9",
        (
            (
                World(
                    (Group("g0", "alpha"),),
                    tuple(_connectors("c0", "c1")),
                    (Model("m0", "c0", "g0", False), Model("m1", "c0", "g0", False)),
                    secret="sk-reliability-0000001",
                ),
                None,
                (),
            ),
            (
                World(
                    (Group("g0", "alpha"),),
                    tuple(_connectors("c0", "c1")),
                    (Model("m0", "c0", "g0", False), Model("m1", "c0", "g0", False)),
                    secret="sk-reliability-0000000",
                ),
                None,
                ("rotate",),
            ),
        ),
        faulty_applies=1,
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_found_scenario_converges(name: str, tmp_path: Path) -> None:
    run_scenario(SCENARIOS[name], tmp_path)
