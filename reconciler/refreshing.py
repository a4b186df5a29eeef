"""Refresh-only runs: bring the state's view up to date with the cluster, nothing else.

`read_refresh` reads one snapshot and compares every state record with the live resource
(`planning.refreshing`); `osml plan --refresh-only` shows that. `apply_refresh` takes the
state lock, reads again, refuses when what it would write is not what the caller showed
(the cluster moved on), then forgets the records whose live resource vanished and writes
the live values of hand-edited fields into the others, each write conditional on the
record as read. No connector, model group, model or setting is ever changed.
Nothing here prints.
"""

from __future__ import annotations

import dataclasses

from reconciler.cluster.connecting import Connection
from reconciler.cluster.reading import read_snapshot
from reconciler.cluster.state import RecordWrite, write_records
from reconciler.errors import ClusterError, StalePlanError
from reconciler.planning.refreshing import Refresh, refresh
from reconciler.reconciling import ApplyOptions, release, wait_for_lock
from reconciler.secrets import scrub


@dataclasses.dataclass(frozen=True)
class Refreshed:
    """What `apply_refresh` wrote."""

    refresh: Refresh
    forgotten: int = 0
    updated: int = 0
    failed: tuple[str, ...] = ()
    """One message per record write that failed (a conflict: another run wrote it)."""

    @property
    def ok(self) -> bool:
        """Whether every write landed."""
        return not self.failed


def read_refresh(conn: Connection, *, state_index: str) -> Refresh:
    """Compare the state records with the cluster, as read now."""
    return refresh(read_snapshot(conn, state_index=state_index, scrub=scrub))


def apply_refresh(
    conn: Connection, *, options: ApplyOptions, expected: Refresh | None = None
) -> Refreshed:
    """Under the lock, write what a refresh finds; StalePlanError when it is not
    `expected` (what the caller showed and had confirmed)."""
    index = options.settings.state_index
    lease = wait_for_lock(conn, options=dataclasses.replace(options, operation="refresh"))
    try:
        found = read_refresh(conn, state_index=index)
        if expected is not None and _writes(found) != _writes(expected):
            raise StalePlanError(
                "the refresh is stale: the cluster or the state changed since it was shown",
                differences=["run `osml plan --refresh-only` again"],
            )
        writes = [RecordWrite(r, r) for r in found.rewrite]
        writes += [RecordWrite(r, r, delete=True) for r in found.forget]
        if not writes:
            return Refreshed(found)
        lease.check()
        outcomes = write_records(conn, writes, index=index, refresh="wait_for").records
    finally:
        release(lease, timing=options.settings.timing)
    failed = tuple(scrub(str(o)) for o in outcomes if isinstance(o, ClusterError))
    forgotten = sum(1 for w, o in zip(writes, outcomes, strict=True) if w.delete and o is None)
    updated = sum(1 for w, o in zip(writes, outcomes, strict=True) if not w.delete and _ok(o))
    return Refreshed(found, forgotten=forgotten, updated=updated, failed=failed)


def _ok(outcome: object) -> bool:
    return outcome is not None and not isinstance(outcome, ClusterError)


def _writes(found: Refresh) -> tuple[frozenset[str], frozenset[str]]:
    return (
        frozenset(str(r.key) for r in found.forget),
        frozenset(str(r.key) for r in found.rewrite),
    )
