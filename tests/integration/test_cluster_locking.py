"""The state lock over HTTP: exclusion, expiry takeover, renewal, release, force-unlock."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from reconciler.cluster.connecting import Connection
from reconciler.cluster.locking import acquire_lock, force_unlock, lock_status
from reconciler.errors import LockError

T0 = dt.datetime(2026, 11, 22, 8, 0, 0, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def test_second_acquirer_fails_naming_the_holder(conn: Connection, index: str) -> None:
    clock = Clock()
    lease = acquire_lock(conn, operation="apply", index=index, clock=clock, holder="ana@ci:1")
    status = lock_status(conn, index=index)
    assert status == lease.info
    assert status.holder.startswith("ana@ci:1-")
    with pytest.raises(LockError, match=r"held by ana@ci:1-\w+ \(apply\)") as caught:
        acquire_lock(conn, operation="watch", index=index, clock=clock, holder="bob@box:2")
    assert f"osml lock force-unlock {lease.info.lock_id}" in str(caught.value)
    lease.release()
    assert lock_status(conn, index=index) is None


def test_expired_lock_is_taken_over_and_the_old_holder_notices(
    conn: Connection, index: str
) -> None:
    clock = Clock()
    old = acquire_lock(conn, operation="apply", index=index, clock=clock, lease_seconds=60)
    clock.advance(59)
    with pytest.raises(LockError):
        acquire_lock(conn, operation="apply", index=index, clock=clock)
    clock.advance(2)
    new = acquire_lock(conn, operation="watch", index=index, clock=clock)
    assert lock_status(conn, index=index) == new.info
    with pytest.raises(LockError):
        old.renew()
    assert old.lost
    with pytest.raises(LockError):
        old.check()
    old.release()  # must not remove the new holder's lock
    assert lock_status(conn, index=index) == new.info
    new.release()


def test_renewal_extends_the_lease(conn: Connection, index: str) -> None:
    clock = Clock()
    lease = acquire_lock(conn, operation="apply", index=index, clock=clock, lease_seconds=60)
    first_expiry = lease.info.expires_at
    clock.advance(50)
    lease.renew()
    assert lease.info.expires_at > first_expiry
    assert lease.info.acquired_at == lock_status(conn, index=index).acquired_at
    clock.advance(50)  # 100 s after acquiring, 50 s after renewing: still held
    with pytest.raises(LockError):
        acquire_lock(conn, operation="apply", index=index, clock=clock)
    lease.check()
    lease.release()


def test_force_unlock(conn: Connection, index: str) -> None:
    lease = acquire_lock(conn, operation="apply", index=index)
    with pytest.raises(LockError, match="not nope"):
        force_unlock(conn, "nope", index=index)
    removed = force_unlock(conn, lease.info.lock_id, index=index)
    assert removed == lease.info
    assert lock_status(conn, index=index) is None
    with pytest.raises(LockError):
        lease.renew()
    with pytest.raises(LockError, match="not held"):
        force_unlock(conn, lease.info.lock_id, index=index)
    again = acquire_lock(conn, operation="apply", index=index)
    again.release()


def test_lease_context_manager_renews_in_background_and_releases(
    conn: Connection, index: str
) -> None:
    with acquire_lock(conn, operation="watch", index=index) as lease:
        assert lock_status(conn, index=index) == lease.info
    assert lock_status(conn, index=index) is None
    assert lease.lost  # released leases cannot be used again


def test_lock_document_holds_no_secret_fields(conn: Connection, index: str) -> None:
    lease = acquire_lock(conn, operation="apply", index=index)
    doc = conn.client.get(index=index, id="lock")["_source"]
    assert set(doc) == {
        "doc_type",
        "osml_version",
        "holder",
        "lock_id",
        "operation",
        "acquired_at",
        "expires_at",
    }
    assert "password" not in json.dumps(doc).lower()
    lease.release()
