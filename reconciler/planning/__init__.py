"""The pure planner: (desired manifests, live snapshot, state, secrets) -> Plan.

Pairing, normalizing, diffing, deciding, reviewing and ordering live in their own modules;
`make_plan` runs them in that order. Nothing in this package speaks to the network, reads
files or prints (docs/planning.md).
"""

from reconciler.planning.making import PlanOptions, make_plan

__all__ = ["PlanOptions", "make_plan"]
