"""Crash safety of a connector replace before 2.12 (`Strategy.REREGISTER`): the new
connector first, each model registered again on it and deployed before its old one is
deleted, the old connector deleted after the last old model.

The apply is killed with SIGKILL after every mutating request of that flow. At the kill,
every model that was serving still has a deployed model of its name (the old one, or
its deployed replacement); after one more apply, the cluster is exactly as desired: one
connector and one model per manifest, on the new connector, no orphan, the state index
in agreement. See `test_crash_safety` for the machinery.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from reconciler.plans import Strategy
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.testing import client_for
from tests.reliability.crashing import Tripwire, apply_killed, install, was_killed
from tests.reliability.driving import Driver
from tests.reliability.invariants import assert_converged, live
from tests.reliability.worlds import Connector, Group, Model, World

BEFORE = World(
    (Group("g0"),),
    (Connector("c0", temperature=True),),
    (Model("m0", "c0", "g0"), Model("m1", "c0", "g0"), Model("m2", "c0", "g0", deployed=False)),
    secret="sk-reliability-retire-0101",
)
"""Three models on one connector, two of them deployed."""
AFTER = dataclasses.replace(BEFORE, connectors=(Connector("c0", temperature=False),))
"""The connector loses a parameter key: an update cannot remove it (§1.5), a replace."""
SLACK = 3
"""Steps by which two runs of the same apply may differ (polls, retries)."""


def _sandbox(profile: str, base: Path, directory: Path, tripwire: Tripwire) -> Sandbox:
    """A sandbox on a copy of `base`, its request log replaced by `tripwire`."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data.json"
    shutil.copyfile(base, data)
    sandbox = Sandbox(profile, deploy_delay=0.01, data=data)
    install(sandbox, tripwire)
    return sandbox


def _baseline(profile: str, directory: Path) -> Path:
    """A sandbox data file with BEFORE applied, to start each crash from."""
    data = directory / "baseline.json"
    with Sandbox(profile, deploy_delay=0.01, data=data) as sandbox:
        Driver(sandbox.url).converge(BEFORE.write(directory / "manifests"), env=BEFORE.env())
    return data


def _serving(sandbox: Sandbox) -> set[str]:
    """The model names that have a deployed model."""
    with client_for(sandbox) as client:
        models = live(client)["Model"]
    return {m["name"] for m in models if m.get("model_state") == "DEPLOYED"}


@pytest.mark.parametrize("profile", ["2.11", "2.9"])
def test_a_reregister_killed_at_every_step_keeps_serving_and_converges(
    profile: str, tmp_path: Path
) -> None:
    base = _baseline(profile, tmp_path / "base")
    with _sandbox(profile, base, tmp_path / "count", Tripwire()) as sandbox:
        paths = AFTER.write(tmp_path / "count" / "manifests")
        plan = Driver(sandbox.url).plan(paths, env=AFTER.env())
        (connector,) = [c for c in plan.changes if str(c.key) == "Connector/c0"]
        assert connector.strategy is Strategy.REREGISTER
        assert {str(k) for k in connector.retire_after} == {"Model/m0", "Model/m1", "Model/m2"}
        tripwire = sandbox.requests
        assert isinstance(tripwire, Tripwire)
        Driver(sandbox.url).apply(paths, env=AFTER.env())
        steps = tripwire.mutations
    assert steps > 8
    wanted = {f"{m.name} model" for m in BEFORE.models if m.deployed}
    for step in range(1, steps + SLACK):
        directory = tmp_path / f"step{step}"
        tripwire = Tripwire(at=step)
        with _sandbox(profile, base, directory, tripwire) as sandbox:
            paths = AFTER.write(directory / "manifests")
            code = apply_killed(tripwire, sandbox.url, paths, env=AFTER.env())
            killed = was_killed(tripwire, code)
            assert killed or code == 0, f"apply failed on its own: {code}"
            assert wanted <= _serving(sandbox), f"step {step}: a model stopped serving"
            driver = Driver(sandbox.url)
            driver.break_stale_lock()
            driver.converge(paths, env=AFTER.env(), attempts=3)
            with client_for(sandbox) as client:
                assert_converged(client, AFTER, outputs=driver.outputs, secrets={AFTER.secret})
        if not killed:
            assert step >= steps - SLACK, f"the apply made only {step - 1} of {steps} steps"
            break
