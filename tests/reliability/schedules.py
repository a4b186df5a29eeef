"""Random fault schedules for the sandbox's injector (`reconciler/sandbox/faults.py`).

A schedule is a sandbox fault spec: error statuses at a rate, connection resets, lost
responses (the server acted, the client saw a reset), latency, and deploy outcomes
(failed, partial, stuck) for some models. `budget()` says how many hypothesis examples a
suite runs: small in CI, larger in tests/bench via `OSML_RELIABILITY_EXAMPLES`.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import strategies as st

TRANSIENT = (429, 502, 503, 504)
"""Statuses osml retries."""
ALL_STATUSES = (*TRANSIENT, 500)
"""500 is permanent for osml: the change fails and the next apply must pick it up."""


def budget(default: int) -> int:
    """Hypothesis examples per property: `OSML_RELIABILITY_EXAMPLES`, else `default`."""
    return int(os.environ.get("OSML_RELIABILITY_EXAMPLES", default))


def fixed_seed() -> bool:
    """CI replays the same examples every run; `OSML_RELIABILITY_RANDOM=1` explores anew."""
    return not os.environ.get("OSML_RELIABILITY_RANDOM")


@st.composite
def schedules(draw: st.DrawFn, *, max_rate: float = 0.15) -> dict[str, Any]:
    """A fault spec with every kind of fault at random, bounded rates."""
    rate = st.floats(0, max_rate).map(lambda r: round(r, 3))
    rules: list[dict[str, Any]] = [
        {
            "route": "*",
            "error_rate": draw(rate),
            "status": draw(st.sampled_from(ALL_STATUSES)),
            "reset_rate": draw(rate),
            "latency": draw(st.sampled_from([0.0, 0.001, 0.003])),
        }
    ]
    for method in draw(st.sets(st.sampled_from(["POST", "PUT", "DELETE"]))):
        # Mutations whose answer never arrives: the worst case for duplicates.
        rules.insert(0, {"route": f"{method} /_plugins/_ml/*", "lost_rate": draw(rate)})
    deploy = [
        {"model": f"m{draw(st.integers(0, 4))} model", "outcome": outcome}
        for outcome in draw(st.lists(st.sampled_from(["failed", "partial", "stuck"]), max_size=2))
    ]
    return {"seed": draw(st.integers(0, 2**16)), "rules": rules, "deploy": deploy}
