"""Credentials that expire: keys minted at apply time, and the lease the state keeps.

A `fromAwsRole` source gives new keys every time it is asked (STS AssumeRole), so it is
asked only when the keys are sent: a plan never mints keys, and compares nothing but the
lease in the state record (when the keys were issued and when they expire) with the clock.
`LeasedSecret` is the Secret of one key of such a source; the first `reveal()` asks its
`Issuer`, which mints the keys of all the source's secrets at once (one STS session gives
the access key, the secret key and the session token together) and remembers them for the
rest of the run. `Lease` is what the state record keeps: times and the source's
description, never a key.

The renewal rule (`Lease.due`): keys are renewed once less than a third of their lifetime
remains (20 minutes before the end of a 1h session), so a watch interval of a few minutes
renews them long before they expire, and a failed renewal has time to be retried.

Used by `manifests.resolving` (which makes the secrets), `planning` (which reads leases)
and `applying` (which reveals, and records the lease). No I/O here: minting is the
`mint` function an issuer is given (`secrets.aws`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import threading
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.durations import format_duration
from reconciler.errors import SecretError
from reconciler.secrets.values import Secret

RENEW_FRACTION = 1 / 3
"""Keys are renewed once less than this share of their lifetime remains."""


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """When one source's keys were issued and when they expire; kept in the state record."""

    source: str
    """What issued them, in words (`fromAwsRole arn:...:role/x, session osml, 1h`)."""
    issued: dt.datetime
    expires: dt.datetime

    @property
    def renew_at(self) -> dt.datetime:
        """The moment the keys become due: a third of their lifetime before they expire."""
        lifetime = max(self.expires - self.issued, dt.timedelta(0))
        return self.expires - lifetime * RENEW_FRACTION

    def due(self, now: dt.datetime) -> bool:
        """Whether the keys should be renewed at `now`."""
        return now >= self.renew_at

    def status(self, now: dt.datetime) -> str:
        """`expired 3m ago` or `due, they expire in 12m` (or `valid for 40m more`)."""
        left = (self.expires - now).total_seconds()
        if left <= 0:
            return f"expired {format_duration(-left)} ago"
        if self.due(now):
            return f"due, they expire in {format_duration(left)}"
        return f"valid for {format_duration(left)} more"

    def to_dict(self) -> dict[str, str]:
        """The state-record form."""
        return {
            "source": self.source,
            "issued": _iso(self.issued),
            "expires": _iso(self.expires),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lease | None:
        """The lease in a state record; None when it is missing or unreadable."""
        try:
            return cls(
                source=str(data["source"]),
                issued=_parse(str(data["issued"])),
                expires=_parse(str(data["expires"])),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclasses.dataclass(frozen=True)
class Issued:
    """One set of minted keys: credential key -> Secret, and their lease."""

    keys: Mapping[str, Secret]
    lease: Lease


class Issuer:
    """Mints the keys of one source once, on first use, for every secret of that source.

    Thread-safe: the apply engine materialises bodies on worker threads.
    """

    def __init__(self, source: str, mint: Callable[[], Issued]) -> None:
        self.source = source
        self._mint = mint
        self._issued: Issued | None = None
        self._lock = threading.Lock()

    def issue(self) -> Issued:
        """The keys, minted now if this is the first call; SecretError when minting fails."""
        with self._lock:
            if self._issued is None:
                self._issued = self._mint()
            return self._issued

    @property
    def issued(self) -> Issued | None:
        """The keys minted so far, or None."""
        return self._issued


class LeasedSecret(Secret):
    """One key of an expiring source; minted by its issuer when first revealed."""

    __slots__ = ("_issuer", "_part")

    def __init__(self, issuer: Issuer, part: str) -> None:
        # No value yet: `Secret.__init__` would register one for scrubbing; the issuer's
        # Secrets do that once the keys exist.
        self._issuer = issuer
        self._part = part
        self._source = issuer.source

    @property
    def issuer(self) -> Issuer:
        """The issuer shared by the secrets of this source."""
        return self._issuer

    def reveal(self) -> str:
        """The key, minting the source's keys if that has not happened in this run."""
        issued = self._issuer.issue()
        secret = issued.keys.get(self._part)
        if secret is None:
            raise SecretError(f"{self._issuer.source} gave no {self._part}")
        return secret.reveal()

    def fingerprint(self, key: bytes) -> str:
        """HMAC-SHA256 of the minted key (minting it if needed)."""
        digest = hmac.new(key, self.reveal().encode("utf-8"), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest}"

    @property
    def lease(self) -> Lease | None:
        """The lease of the keys minted in this run, or None before they are."""
        issued = self._issuer.issued
        return issued.lease if issued is not None else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LeasedSecret):
            return NotImplemented
        return self._issuer is other._issuer and self._part == other._part

    def __hash__(self) -> int:
        return hash(("LeasedSecret", id(self._issuer), self._part))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
