"""The state lock: one document that serialises apply and watch across machines.

`acquire_lock` creates the `lock` document of the state index with `op_type=create`, so
of two racing runs exactly one wins; the other gets a LockError naming the holder. A lock
is a lease: it expires (default 60 s) unless renewed, and an expired lock is taken over
with a conditional delete then a create, so two runs cannot both steal it. `Lease` renews
in a background thread that can be stopped; its clock is injectable so tests decide what
"now" is. `force_unlock` and `lock_status` serve `osml lock`. The document holds the
holder's identity and times only, never a secret. Called by the applier, watch and CLI.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import secrets
import socket
import threading
from types import TracebackType

from reconciler import __version__
from reconciler.cluster.connecting import Connection
from reconciler.cluster.snapshots import LockInfo
from reconciler.cluster.state import (
    LOCK_ID,
    STATE_INDEX,
    Clock,
    ensure_state_index,
    lock_from_source,
    utc_now,
)
from reconciler.cluster.storing import (
    Version,
    delete_document,
    get_document,
    put_document,
    version_of,
)
from reconciler.errors import ClusterError, LockError, TransientClusterError

logger = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 60.0
"""How long a lock lives without renewal; a crashed holder blocks others this long."""


def holder_identity() -> str:
    """`user@host:pid`, the human part of a holder name."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}"


def is_expired(info: LockInfo, *, now: dt.datetime) -> bool:
    """Whether a lock's lease has run out at `now`; an unreadable expiry counts as expired."""
    try:
        expires = dt.datetime.fromisoformat(info.expires_at)
    except ValueError:
        return True
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    return expires <= now


class Lease:
    """A held state lock: renew it, release it, or let a background thread renew it."""

    def __init__(
        self,
        conn: Connection,
        info: LockInfo,
        *,
        version: Version,
        lease_seconds: float,
        index: str,
        clock: Clock,
    ) -> None:
        self._conn = conn
        self.info = info
        """The lock as last written by us."""
        self._version = version
        self._lease = lease_seconds
        self._index = index
        self._clock = clock
        self._lost: LockError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()

    @property
    def lost(self) -> bool:
        """Whether someone else took the lock over (our renewal failed for good)."""
        return self._lost is not None

    def check(self) -> None:
        """Raise LockError if the lock was lost; call before each mutation."""
        if self._lost is not None:
            raise self._lost

    def renew(self) -> None:
        """Extend the lease from now; LockError if the lock is no longer ours."""
        with self._mutex:
            self.check()
            now = self._clock()
            info = _lock_info(
                self.info.holder,
                self.info.lock_id,
                self.info.operation,
                acquired=self.info.acquired_at,
                now=now,
                lease=self._lease,
            )
            try:
                self._version = _put_lock(
                    self._conn, info, index=self._index, if_version=self._version
                )
            except LockError as exc:
                self._lost = exc
                raise
            self.info = info

    def release(self) -> None:
        """Delete the lock if it is still ours; a lost lock is left to its new holder."""
        self.stop_renewing()
        with self._mutex:
            if self._lost is not None:
                return
            _delete_lock(self._conn, index=self._index, if_version=self._version)
            self._lost = LockError(f"the state lock {self.info.lock_id} was released")

    def start_renewing(self, *, interval: float | None = None) -> None:
        """Renew in a daemon thread every `interval` seconds (default: a third of the lease)."""
        if self._thread is not None:
            return
        every = interval if interval is not None else self._lease / 3
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._renew_loop, args=(every,), name="osml-lock-renewal", daemon=True
        )
        self._thread.start()

    def stop_renewing(self) -> None:
        """Stop the renewal thread and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _renew_loop(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.renew()
            except LockError:
                logger.error("lost the state lock %s", self.info.lock_id)
                return
            except ClusterError as exc:
                # A failed renewal is retried at the next tick; the lease covers the gap.
                logger.warning("renewing the state lock failed: %s", exc)

    def __enter__(self) -> Lease:
        self.start_renewing()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def acquire_lock(
    conn: Connection,
    *,
    operation: str,
    index: str = STATE_INDEX,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    clock: Clock = utc_now,
    holder: str | None = None,
    index_exists: bool | None = None,
) -> Lease:
    """Take the state lock for `operation` (`apply`, `watch`); LockError if someone holds it.

    An expired lock is taken over; the state index is created first if needed.
    `index_exists` is what the caller has just seen of the index, which saves asking:
    True takes the lock at once (an index deleted since then is created again by the
    lock write, and the plan is then stale anyway), False creates the index at once.
    """
    if not index_exists:
        ensure_state_index(conn, index=index, seen_absent=index_exists is False)
    lock_id = secrets.token_hex(8)
    name = f"{holder or holder_identity()}-{lock_id[:6]}"
    now = clock()
    info = _lock_info(name, lock_id, operation, acquired=None, now=now, lease=lease_seconds)
    try:
        version = _create_or_take_over(conn, info, index=index, now=now)
    except LockError:
        # Seen, but gone since, on a cluster that does not create indices on writes.
        if not index_exists or not ensure_state_index(conn, index=index):
            raise
        version = _create_or_take_over(conn, info, index=index, now=now)
    return Lease(conn, info, version=version, lease_seconds=lease_seconds, index=index, clock=clock)


def lock_status(conn: Connection, *, index: str = STATE_INDEX) -> LockInfo | None:
    """Who holds the lock now (realtime GET), or None."""
    answer = get_document(conn, LOCK_ID, index=index)
    return lock_from_source(answer["_source"]) if answer is not None else None


def force_unlock(conn: Connection, lock_id: str, *, index: str = STATE_INDEX) -> LockInfo:
    """Remove the lock with this ID whoever holds it; LockError if it is not the current one."""
    answer = get_document(conn, LOCK_ID, index=index)
    if answer is None:
        raise LockError(f"the state lock is not held (no lock {lock_id})")
    info = lock_from_source(answer["_source"])
    if info.lock_id != lock_id:
        raise LockError(
            f"the state lock is now {info.lock_id} held by {info.holder}, not {lock_id}; "
            "nothing was removed"
        )
    _delete_lock(conn, index=index, if_version=version_of(answer))
    return info


# --- internals -------------------------------------------------------------------------


def _create_or_take_over(
    conn: Connection, info: LockInfo, *, index: str, now: dt.datetime
) -> Version:
    try:
        return _put_lock(conn, info, index=index, if_version=None)
    except LockError:
        pass
    answer = get_document(conn, LOCK_ID, index=index)
    if answer is None:  # released between our create and our read: one more try
        return _put_lock(conn, info, index=index, if_version=None)
    current = lock_from_source(answer["_source"])
    if not is_expired(current, now=now):
        raise held_error(current)
    logger.warning("taking over the expired state lock of %s", current.holder)
    try:
        _delete_lock(conn, index=index, if_version=version_of(answer))
        return _put_lock(conn, info, index=index, if_version=None)
    except LockError:
        latest = lock_status(conn, index=index)
        raise held_error(latest or current) from None


def held_error(info: LockInfo) -> LockError:
    """The LockError that names the holder and how to break the lock."""
    return LockError(
        f"the state lock is held by {info.holder} ({info.operation or 'unknown operation'}) "
        f"since {info.acquired_at}, until {info.expires_at}; wait for it to finish or "
        f"expire, or run `osml lock force-unlock {info.lock_id}` if that run is gone"
    )


def _lock_info(
    holder: str,
    lock_id: str,
    operation: str,
    *,
    acquired: str | None,
    now: dt.datetime,
    lease: float,
) -> LockInfo:
    stamp = now.isoformat(timespec="milliseconds")
    expires = (now + dt.timedelta(seconds=lease)).isoformat(timespec="milliseconds")
    return LockInfo(
        holder=holder,
        lock_id=lock_id,
        operation=operation,
        acquired_at=acquired or stamp,
        expires_at=expires,
    )


def _put_lock(
    conn: Connection, info: LockInfo, *, index: str, if_version: Version | None
) -> Version:
    doc = {"doc_type": "lock", "osml_version": __version__, **_fields(info)}
    try:
        return put_document(
            conn, LOCK_ID, doc, if_version=if_version, index=index, subject="State lock"
        )
    except ClusterError as exc:
        # 409: another lock is there; 404: it was deleted (force-unlocked) meanwhile.
        if exc.status in (404, 409) and not isinstance(exc, TransientClusterError):
            raise LockError(f"the state lock {info.lock_id} is no longer ours") from exc
        raise


def _delete_lock(conn: Connection, *, index: str, if_version: Version) -> None:
    # The state index has one shard: the refresh that makes the delete visible makes
    # every record written under the lock visible too, so the next holder's search
    # sees them all (the applier writes records without waiting for refreshes).
    try:
        delete_document(
            conn, LOCK_ID, if_version=if_version, index=index, subject="State lock",
            refresh="true",
        )  # fmt: skip
    except ClusterError as exc:
        if exc.status == 409 and not isinstance(exc, TransientClusterError):
            raise LockError("the state lock changed while being removed") from exc
        raise


def _fields(info: LockInfo) -> dict[str, str]:
    return {
        "holder": info.holder,
        "lock_id": info.lock_id,
        "operation": info.operation,
        "acquired_at": info.acquired_at,
        "expires_at": info.expires_at,
    }
