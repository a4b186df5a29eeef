"""Randomised convergence: random manifest sets and edit sequences, applied against the
sandbox under a random fault schedule; once the faults stop, osml converges and every
invariant of `invariants.assert_converged` holds.

Each hypothesis example starts one sandbox (a random version profile), then for the
initial world and each edited world: applies under faults (errors, resets, lost
responses, latency, failed/partial/stuck deploys), clears the faults, and applies until
the plan is empty. The number of clean applies that took is recorded in `FIGURES` (the
bench prints them). The sandbox clock runs ten minutes behind, so a deploy left stuck by
the faults is already past the server's task timeout and osml redeploys it.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ReconcilerError
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from tests.reliability.driving import Driver, quick_settings
from tests.reliability.invariants import assert_converged
from tests.reliability.schedules import budget, fixed_seed, schedules
from tests.reliability.worlds import PROFILES, World, edited, worlds

CLOCK_LAG = 700.0
"""Seconds the sandbox clock lags: more than the 600 s after which DEPLOYING is stuck."""
CLEAN_APPLIES = 3
"""Applies allowed to converge once the faults stop; one should do, a second may prune."""

FIGURES: collections.Counter[str] = collections.Counter()
"""`faulty_applies`, `clean_applies_N` (how many clean applies convergence took),
`steps`, `examples`: read by the bench to report."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    profile: str
    steps: tuple[tuple[World, dict[str, Any], tuple[str, ...]], ...]
    """(desired world, fault schedule, edits that led to it)."""
    faulty_applies: int


@st.composite
def scenarios(draw: st.DrawFn, *, max_steps: int = 3) -> Scenario:
    world = draw(worlds())
    steps = [(world, draw(schedules()), ())]
    for _ in range(draw(st.integers(0, max_steps - 1))):
        world, edits = draw(edited(world))
        steps.append((world, draw(schedules()), tuple(edits)))
    return Scenario(draw(st.sampled_from(PROFILES)), tuple(steps), draw(st.integers(1, 2)))


def run_scenario(scenario: Scenario, directory: Path) -> list[int]:
    """Play `scenario` on a fresh sandbox; clean applies each step needed to converge."""
    lagging = lambda: time.time() - CLOCK_LAG  # noqa: E731
    needed: list[int] = []
    with Sandbox(scenario.profile, deploy_delay=0.01, clock=lagging) as sandbox:
        driver = Driver(sandbox.url, settings=quick_settings(deploy_timeout=1.0))
        client = client_for(sandbox)
        used: set[str] = set()
        for world, schedule, _edits in scenario.steps:
            paths = world.write(directory)
            used.add(world.secret)
            sandbox.faults.configure(schedule)
            for _ in range(scenario.faulty_applies):
                try:
                    driver.apply(paths, env=world.env())
                except ReconcilerError as exc:
                    driver.outputs.append(str(exc))
            sandbox.faults.clear()
            applies = driver.converge(paths, env=world.env(), attempts=CLEAN_APPLIES)
            assert_converged(client, world, outputs=driver.outputs, secrets=used)
            needed.append(applies)
        client.close()
    FIGURES["examples"] += 1
    FIGURES["faulty_applies"] += scenario.faulty_applies * len(scenario.steps)
    FIGURES.update(f"clean_applies_{n}" for n in needed)
    return needed


PROPERTY_SETTINGS = settings(
    max_examples=budget(6),
    deadline=None,
    derandomize=fixed_seed(),
    suppress_health_check=list(HealthCheck),
)


@PROPERTY_SETTINGS
@given(scenario=scenarios())
def test_random_edits_under_random_faults_converge(scenario: Scenario, tmp_path_factory) -> None:
    run_scenario(scenario, tmp_path_factory.mktemp("world"))
