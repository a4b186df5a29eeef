"""Crash safety: an apply killed with SIGKILL at every step boundary or at a random
moment, then run again, leaves the cluster exactly as desired: one resource per
manifest, no orphan, the state index in agreement, no lock left, no secret anywhere.

A step is one mutating request the server acted on (see `crashing.Tripwire`); the kill
lands after the server did the work and before osml hears of it. The operator's part
after a crash is what the docs say: force-unlock the dead run's lock, run apply again.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import types
from pathlib import Path

import pytest

from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from tests.reliability import crashing
from tests.reliability.crashing import Tripwire, apply_killed, install, was_killed
from tests.reliability.driving import Driver
from tests.reliability.invariants import assert_converged
from tests.reliability.worlds import Connector, World, fleet

FIRST = fleet(connectors=1, models=2)
"""A group, a connector, a deployed and an undeployed model."""
EDITED = dataclasses.replace(
    FIRST,
    connectors=(Connector("c0", "edited", temperature=True), Connector("c1")),
    models=(dataclasses.replace(FIRST.models[0], connector="c1", deployed=False),),
    secret="sk-reliability-rotated-0077",
)
"""An update, a new connector, a repointed and undeployed model, a pruned model, a new key."""


def baseline(profile: str, worlds: list[World], directory: Path) -> Path:
    """A sandbox data file with `worlds` applied, to start each crash from."""
    data = directory / "baseline.json"
    with Sandbox(profile, deploy_delay=0.01, data=data) as sandbox:
        driver = Driver(sandbox.url)
        for world in worlds:
            driver.converge(world.write(directory / "manifests"), env=world.env())
    return data


def steps_of(profile: str, base: Path, world: World, directory: Path) -> int:
    """How many mutating requests applying `world` makes from `base`."""
    tripwire = Tripwire()
    with _sandbox(profile, base, tripwire, directory=directory) as sandbox:
        Driver(sandbox.url).apply(world.write(directory), env=world.env())
        return tripwire.mutations


def crash_and_recover(
    profile: str,
    base: Path,
    world: World,
    directory: Path,
    *,
    step: int | None,
    secrets: set[str],
    after: float | None = None,
) -> bool:
    """From `base`, kill the apply of `world` at `step`, apply again, check every invariant.

    Returns whether the kill happened: retries and polls make the step count vary a
    little from run to run, so the apply may finish first.
    """
    tripwire = Tripwire(at=step)
    with _sandbox(profile, base, tripwire, directory=directory) as sandbox:
        paths = world.write(directory)
        code = apply_killed(tripwire, sandbox.url, paths, env=world.env(), after=after)
        killed = was_killed(tripwire, code)
        assert killed or code == 0, f"apply failed on its own: {code}"
        driver = Driver(sandbox.url)
        driver.break_stale_lock()
        driver.converge(paths, env=world.env(), attempts=3)
        with client_for(sandbox) as client:
            assert_converged(client, world, outputs=driver.outputs, secrets=secrets)
        return killed


def _sandbox(profile: str, base: Path, tripwire: Tripwire, *, directory: Path) -> Sandbox:
    """A sandbox on a copy of `base`, its request log replaced by `tripwire`."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data.json"
    if base.exists():
        shutil.copyfile(base, data)
    sandbox = Sandbox(profile, deploy_delay=0.01, data=data)
    install(sandbox, tripwire)
    return sandbox


RANDOM_MOMENTS = int(os.environ.get("OSML_RELIABILITY_MOMENTS", "3"))
"""Kills at random moments (a timer, not a request count); the bench runs more."""
SLACK = 3
"""Steps by which two runs of the same apply may differ (retries of §10 refusals, polls)."""

CASES = {
    "create-3.x": ("3.x", [FIRST]),
    "edit-3.x": ("3.x", [FIRST, EDITED]),
    "edit-2.9": ("2.9", [FIRST, EDITED]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_apply_killed_at_every_step_then_rerun_converges(case: str, tmp_path: Path) -> None:
    profile, worlds = CASES[case]
    base = baseline(profile, worlds[:-1], tmp_path / "base")
    steps = steps_of(profile, base, worlds[-1], tmp_path / "count")
    assert steps > 5
    secrets = {w.secret for w in worlds}
    for step in range(1, steps + SLACK):
        directory = tmp_path / f"step{step}"
        killed = crash_and_recover(profile, base, worlds[-1], directory, step=step, secrets=secrets)
        if not killed:
            assert step >= steps - SLACK, f"the apply made only {step - 1} of {steps} steps"
            break


@pytest.mark.parametrize("seed", range(RANDOM_MOMENTS))
def test_apply_killed_at_a_random_moment_then_rerun_converges(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    profile, worlds = CASES[rng.choice(sorted(CASES))]
    base = baseline(profile, worlds[:-1], tmp_path / "base")
    secrets = {w.secret for w in worlds}
    moment = rng.uniform(0.01, 0.4)
    crash_and_recover(
        profile, base, worlds[-1], tmp_path / "run", step=None, secrets=secrets, after=moment
    )


def test_the_tripwire_says_it_fired_before_its_kill_lands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent sees the child die as soon as the kill lands, perhaps before the
    server thread that sent it runs again: by then `fired` must already be set, or a
    kill under load reads as the apply failing on its own."""
    tripwire = Tripwire(at=1)
    tripwire.pid = 12345
    fired_at_kill: list[bool] = []
    monkeypatch.setattr(
        crashing.os, "kill", lambda pid, sig: fired_at_kill.append(tripwire.fired.is_set())
    )
    request = types.SimpleNamespace(method="PUT", path="/osml-state/_doc/lock", route=None)
    tripwire.record(request, status=201, action="answer", duration=0.0)
    assert fired_at_kill == [True]
    assert was_killed(tripwire, -signal.SIGKILL) and not was_killed(tripwire, 1)
