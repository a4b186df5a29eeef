"""Randomised convergence: random manifest sets and edit sequences, applied against the
sandbox with or without a random fault schedule; osml converges and every invariant of
`invariants.assert_converged` holds.

Each hypothesis example starts one sandbox (a version profile), then for the initial
world and each edited world either
- applies once with no faults, and that one apply must converge (the plan after it is
  empty): one apply is what a CI job runs, so nothing may be left for "the next run"; or
- applies under faults (errors, resets, lost responses, latency, failed/partial/stuck
  deploys), clears the faults, and applies until the plan is empty. The number of clean
  applies that took is recorded in `FIGURES` (the bench prints them).
The sandbox clock runs ten minutes behind, so a deploy left stuck by the faults is already
past the server's task timeout and osml redeploys it.

CI runs every profile (`worlds.PROFILES`) with a fixed seed: the simplest scenario and one
drawn one each. The bench draws the profile too, at its own budget.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opensearchpy import OpenSearch

from reconciler.errors import ReconcilerError
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from tests.reliability.driving import Driver, quick_settings
from tests.reliability.invariants import assert_converged
from tests.reliability.schedules import budget, fixed_seed, schedules
from tests.reliability.worlds import FLAGGED, PROFILES, World, edited, worlds

CLOCK_LAG = 700.0
"""Seconds the sandbox clock lags: more than the 600 s after which DEPLOYING is stuck."""
CLEAN_APPLIES = 3
"""Applies allowed to converge once faults stop (a lock whose release the faults refused
expires first, a failed change is picked up by the next run); without faults, one."""
UPDATE_CONNECTOR_FLAG = "plugins.ml_commons.update_connector.enabled"

FIGURES: collections.Counter[str] = collections.Counter()
"""`faulty_applies`, `clean_applies_N` (how many clean applies convergence took after
faults), `fault_free_steps` (each converged in one apply), `profile_P`, `examples`: read
by the bench to report."""

Step = tuple[World, dict[str, Any] | None, tuple[str, ...]]
"""(desired world, fault schedule or None for a fault-free step, edits that led to it)."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    profile: str
    steps: tuple[Step, ...]
    faulty_applies: int
    """Applies under faults in each step that has a schedule."""


@st.composite
def scenarios(
    draw: st.DrawFn, *, max_steps: int = 3, profiles: tuple[str, ...] = PROFILES
) -> Scenario:
    def schedule() -> dict[str, Any] | None:
        return draw(st.none() | schedules())

    world = draw(worlds())
    steps: list[Step] = [(world, schedule(), ())]
    for _ in range(draw(st.integers(0, max_steps - 1))):
        world, edits = draw(edited(world))
        steps.append((world, schedule(), tuple(edits)))
    return Scenario(draw(st.sampled_from(profiles)), tuple(steps), draw(st.integers(1, 2)))


def run_scenario(scenario: Scenario, directory: Path) -> list[int]:
    """Play `scenario` on a fresh sandbox; the applies each step needed to converge."""
    lagging = lambda: time.time() - CLOCK_LAG  # noqa: E731
    needed: list[int] = []
    profile = scenario.profile.removesuffix("-flag")
    with Sandbox(profile, deploy_delay=0.01, clock=lagging) as sandbox:
        driver = Driver(sandbox.url, settings=quick_settings(deploy_timeout=1.0))
        client = client_for(sandbox)
        if scenario.profile == FLAGGED:
            _flag_on(client)
        used: set[str] = set()
        for world, schedule, _edits in scenario.steps:
            paths = world.write(directory)
            used.add(world.secret)
            if schedule is None:
                needed.append(driver.converge(paths, env=world.env(), attempts=1))
                FIGURES["fault_free_steps"] += 1
            else:
                _apply_under(schedule, scenario, paths, driver=driver, sandbox=sandbox,
                             env=world.env())  # fmt: skip
                applies = driver.converge(paths, env=world.env(), attempts=CLEAN_APPLIES)
                needed.append(applies)
                FIGURES[f"clean_applies_{applies}"] += 1
            assert_converged(client, world, outputs=driver.outputs, secrets=used)
        client.close()
    FIGURES["examples"] += 1
    FIGURES[f"profile_{scenario.profile}"] += 1
    FIGURES["faulty_applies"] += scenario.faulty_applies * sum(
        1 for _, schedule, _ in scenario.steps if schedule is not None
    )
    return needed


def _apply_under(
    schedule: dict[str, Any], scenario: Scenario, paths: Path, *, driver: Driver, sandbox: Sandbox,
    env: dict[str, str],
) -> None:  # fmt: skip
    """The scenario's faulty applies of one step; the faults are cleared afterwards."""
    sandbox.faults.configure(schedule)
    for _ in range(scenario.faulty_applies):
        try:
            driver.apply(paths, env=env)
        except ReconcilerError as exc:
            driver.outputs.append(str(exc))
    sandbox.faults.clear()


def _flag_on(client: OpenSearch) -> None:
    """2.11's Update Connector is off unless this setting is on (§2.9)."""
    client.cluster.put_settings(body={"persistent": {UPDATE_CONNECTOR_FLAG: "true"}})


PROPERTY_SETTINGS = settings(
    max_examples=budget(6),
    deadline=None,
    derandomize=fixed_seed(),
    suppress_health_check=list(HealthCheck),
)
PER_PROFILE_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=budget(2))
"""CI: the simplest scenario (hypothesis tries it first) and one drawn one, per profile."""


@pytest.mark.parametrize("profile", PROFILES)
def test_random_edits_converge_in_one_apply_without_faults_and_after_them(
    profile: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    @PER_PROFILE_SETTINGS
    @given(scenario=scenarios(profiles=(profile,)))
    def explore(scenario: Scenario) -> None:
        run_scenario(scenario, tmp_path_factory.mktemp("world"))

    explore()
