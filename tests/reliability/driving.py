"""Run osml the way a user does (load, plan, apply under the lock) and keep every word it
says, so the suites can check convergence and search the output for secrets.

`Driver` wraps one sandbox URL: `apply` and `plan` go through `reconciler.reconciling`
exactly as the CLI does; every rendered plan, progress line and error text is kept in
`outputs`. `converge` applies until a plan is empty and counts the applies it took.
Test support only: it never asserts on the cluster (see `invariants`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from reconciler.applying.executing import Settings
from reconciler.cluster.connecting import Connection, ConnectionSettings, connect
from reconciler.cluster.locking import force_unlock, lock_status
from reconciler.errors import ReconcilerError
from reconciler.mlcommons.versions import Version
from reconciler.outcomes import ApplyResult
from reconciler.planning import PlanOptions
from reconciler.plans import Plan
from reconciler.reconciling import ApplyOptions, apply_checked, plan_against, read_desired
from reconciler.rendering.jsonview import render_json
from reconciler.rendering.progress import TextProgress
from reconciler.rendering.text import render_text
from reconciler.retrying import Backoff

STATE_INDEX = "osml-state"


def _plan_options(prune: bool) -> PlanOptions:
    """The suites' worlds may rename every resource at once, which prunes all the old
    ones: allowed here, as an operator would with `--allow-prune-all`."""
    return PlanOptions(prune=prune, allow_prune_all=True)


def quick_settings(*, deploy_timeout: float = 2.0) -> Settings:
    """Short waits: the sandbox answers in milliseconds and searches see writes at once."""
    return Settings(
        deploy_timeout=deploy_timeout,
        backoff=Backoff(initial=0.005, maximum=0.05, attempts=8),
        refresh_wait=0.0,
    )


@dataclasses.dataclass
class Driver:
    """osml against one cluster, with its outputs kept."""

    url: str
    settings: Settings = dataclasses.field(default_factory=quick_settings)
    lock_timeout: float = 0.0
    """Seconds an apply waits for a lock another run holds."""
    outputs: list[str] = dataclasses.field(default_factory=list)
    """Every plan (text and JSON), progress line and error message, in order."""

    def connection(self) -> Connection:
        return connect(ConnectionSettings(url=self.url, timeout=10))

    def plan(self, paths: Path, *, env: Mapping[str, str], prune: bool = True) -> Plan:
        """Plan `paths` against the cluster; the plan's text and JSON go to `outputs`."""
        with self.connection() as conn:
            desired = read_desired([paths], version=Version.parse(conn.version), env=env)
            plan = plan_against(
                conn, desired, options=_plan_options(prune), state_index=STATE_INDEX
            ).plan
        self.outputs += [render_text(plan), render_json(plan)]
        return plan

    def apply(self, paths: Path, *, env: Mapping[str, str], prune: bool = True) -> ApplyResult:
        """Plan and apply `paths`, as `osml apply --auto-approve` does."""
        with self.connection() as conn:
            desired = read_desired([paths], version=Version.parse(conn.version), env=env)
            planned = plan_against(
                conn, desired, options=_plan_options(prune), state_index=STATE_INDEX
            )
            self.outputs += [render_text(planned.plan), render_json(planned.plan)]
            return apply_checked(
                conn,
                planned.plan,
                desired,
                observer=TextProgress(self.outputs.append),
                options=ApplyOptions(settings=self.settings, lock_timeout=self.lock_timeout),
                seen=planned.snapshot,
            )

    def converge(self, paths: Path, *, env: Mapping[str, str], attempts: int = 10) -> int:
        """Apply until a plan has nothing to do; the number of applies that took.

        Errors (a failed change, a cluster error, a held lock) count as an attempt and
        are kept in `outputs`, like a CI job that runs apply again.
        """
        for run in range(1, attempts + 1):
            try:
                result = self.apply(paths, env=env)
                if result.ok and not self.plan(paths, env=env).has_changes:
                    return run
            except ReconcilerError as exc:
                self.outputs.append(str(exc))
        raise AssertionError(f"no convergence after {attempts} applies:\n" + self.tail())

    def break_stale_lock(self) -> None:
        """What an operator does after a crash: force-unlock the dead run's lock."""
        with self.connection() as conn:
            held = lock_status(conn, index=STATE_INDEX)
            if held is not None:
                force_unlock(conn, held.lock_id, index=STATE_INDEX)

    def tail(self, lines: int = 40) -> str:
        """The last output lines, for failure messages."""
        return "\n".join("\n".join(self.outputs).splitlines()[-lines:])
