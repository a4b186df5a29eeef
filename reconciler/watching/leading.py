"""Which of several watchers acts: the one that holds the state lock for its cycle.

A heal-mode watcher takes the state lock (operation `watch`) at the start of each cycle
with `Leadership.hold()`, keeps its lease renewed in the background while the cycle runs
(so its applies need no lock of their own: `watching.cycle.apply_held` checks the lease)
and gives it back with `release()` when the cycle ends. Between cycles the lock is free:
an `osml apply --lock-timeout` by hand waits for the running cycle at most, and then has
the cluster to itself. A watcher that finds the lock held (another replica's cycle, an
apply) stands by for that cycle; when a holder dies, its lease expires and the next
attempt takes it over (`cluster.locking`). Called by `watching.running`; it logs changes
of leadership, and never plans or applies.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.cluster.connecting import Connection
from reconciler.cluster.locking import DEFAULT_LEASE_SECONDS, Lease, acquire_lock
from reconciler.cluster.state import STATE_INDEX
from reconciler.errors import ClusterError, LockError
from reconciler.watching.logs import EventLog
from reconciler.watching.metrics import WatchMetrics

Acquire = Callable[[], Lease]


class Leadership:
    """The state lock of one watcher: taken when free, renewed, released after a cycle."""

    def __init__(
        self,
        acquire: Acquire,
        *,
        log: EventLog,
        metrics: WatchMetrics,
        renew_every: float | None = None,
    ) -> None:
        self._acquire = acquire
        self._log = log
        self._metrics = metrics
        self._renew_every = renew_every
        self._lease: Lease | None = None
        self._standby_reason: str | None = None

    @classmethod
    def for_cluster(
        cls,
        conn: Connection,
        *,
        log: EventLog,
        metrics: WatchMetrics,
        index: str = STATE_INDEX,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> Leadership:
        """Leadership over the lock of `index` on `conn`, with leases of `lease_seconds`."""

        def acquire() -> Lease:
            return acquire_lock(conn, operation="watch", index=index, lease_seconds=lease_seconds)

        return cls(acquire, log=log, metrics=metrics)

    def hold(self) -> Lease | None:
        """Our lease, taking the lock if it is free; None while someone else holds it.

        ClusterError (the cluster unreachable) goes to the caller, which backs off.
        """
        if self._lease is not None and not self._lease.lost:
            return self._lease
        if self._lease is not None:
            self._lost()
        try:
            lease = self._acquire()
        except LockError as exc:
            self._standby(str(exc))
            return None
        lease.start_renewing(interval=self._renew_every)
        self._lease, self._standby_reason = lease, None
        self._metrics.lock_held(True)
        self._log.event("lock_acquired", lock_id=lease.info.lock_id, holder=lease.info.holder)
        return lease

    def release(self) -> None:
        """Give the lock back (if we hold it) so another replica can take over at once."""
        lease = self._lease
        if lease is None:
            return
        if lease.lost:  # taken over during the cycle: nothing of ours to give back
            self._lost()
            return
        self._lease = None
        try:
            lease.release()
        except (LockError, ClusterError) as exc:
            # The lease will expire on its own; the others take over then.
            self._log.event("lock_release_failed", level="warning", error=str(exc))
        else:
            self._log.event("lock_released", lock_id=lease.info.lock_id)
        self._metrics.lock_held(False)

    def _lost(self) -> None:
        assert self._lease is not None
        self._log.event("lock_lost", level="error", lock_id=self._lease.info.lock_id)
        self._lease.stop_renewing()
        self._lease = None
        self._metrics.lock_held(False)

    def _standby(self, reason: str) -> None:
        # Log on entering standby, not at every tick of a long standby (the message
        # changes at each renewal of the holder's lease).
        if self._standby_reason is None:
            self._log.event("standby", message=reason)
        self._standby_reason = reason
        self._metrics.lock_held(False)
