"""The reliability suites at full size, with their figures printed for docs/reliability.md.

CI runs tests/reliability with small budgets. Here the same properties run with large
ones (set by the environment, so the CI default stays small):

    OSML_RELIABILITY_BENCH=1 OSML_RELIABILITY_EXAMPLES=200 OSML_RELIABILITY_RANDOM=1 \\
        pytest tests/bench/test_reliability_bench.py -s --timeout=0

and each test prints one `figures:` line: scenarios run, applies under faults, how many
clean applies convergence took, duplicates, orphans and leaks (zero where they must be).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from hypothesis import given, settings

from reconciler.errors import ManifestError
from reconciler.manifests.loading import load_manifests
from tests.reliability import test_convergence
from tests.reliability.test_bad_input import huge
from tests.reliability.test_convergence import FIGURES, PROPERTY_SETTINGS, run_scenario, scenarios
from tests.reliability.test_crash_safety import CASES, baseline, crash_and_recover, steps_of
from tests.reliability.worlds import PROFILES

pytestmark = [
    pytest.mark.bench,
    pytest.mark.skipif(
        not os.environ.get("OSML_RELIABILITY_BENCH"),
        reason="set OSML_RELIABILITY_BENCH=1 (CI runs tests/reliability at its own budget)",
    ),
]
MOMENTS = int(os.environ.get("OSML_RELIABILITY_MOMENTS", "10"))


def test_convergence_figures(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The random convergence property at the bench budget, shared evenly among the
    profiles (a drawn profile leans to the ends of the list); prints its figures."""
    FIGURES.clear()
    started = time.monotonic()
    each = -(-PROPERTY_SETTINGS.max_examples // len(PROFILES))
    for profile in PROFILES:

        @settings(PROPERTY_SETTINGS, max_examples=each)
        @given(scenario=scenarios(profiles=(profile,)))
        def explore(scenario: test_convergence.Scenario) -> None:
            run_scenario(scenario, tmp_path_factory.mktemp("world"))

        explore()
    clean = {k: v for k, v in sorted(FIGURES.items()) if k.startswith("clean_applies_")}
    profiles = {k: v for k, v in sorted(FIGURES.items()) if k.startswith("profile_")}
    print(
        f"\nfigures: convergence examples={FIGURES['examples']} profiles={profiles} "
        f"fault_free_steps={FIGURES['fault_free_steps']} (each converged in one apply) "
        f"faulty_applies={FIGURES['faulty_applies']} clean_applies={clean} "
        f"duplicates=0 orphans=0 leaks=0 seconds={time.monotonic() - started:.0f}"
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_crash_figures(case: str, tmp_path: Path) -> None:
    """Every step boundary plus `MOMENTS` random moments; prints how many kills."""
    profile, worlds = CASES[case]
    base = baseline(profile, worlds[:-1], tmp_path / "base")
    steps = steps_of(profile, base, worlds[-1], tmp_path / "count")
    secrets = {w.secret for w in worlds}
    kills = 0
    for step in range(1, steps + 1):
        directory = tmp_path / f"step{step}"
        kills += crash_and_recover(profile, base, worlds[-1], directory, step=step, secrets=secrets)
    rng = random.Random(case)
    for moment in range(MOMENTS):
        directory = tmp_path / f"moment{moment}"
        after = rng.uniform(0.01, 0.5)
        kills += crash_and_recover(
            profile, base, worlds[-1], directory, step=None, secrets=secrets, after=after
        )
    print(f"\nfigures: crash {case} steps={steps} moments={MOMENTS} kills={kills} duplicates=0")


@pytest.mark.parametrize("scale", [1, 5, 25])
def test_hostile_file_times(scale: int, tmp_path: Path) -> None:
    """How long the loader takes to refuse each hostile document, at growing sizes."""
    times = {}
    for name, text in huge(scale).items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, "utf-8", errors="surrogateescape")
        started = time.monotonic()
        with pytest.raises(ManifestError):
            load_manifests([path])
        times[name] = (path.stat().st_size, round(time.monotonic() - started, 2))
    print(f"\nfigures: hostile scale={scale} (bytes, seconds) {times}")
