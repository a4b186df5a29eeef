"""Turn a change's `after` into the request body actually sent, at the last moment.

A plan holds markers, never values: a reference marker stands for the ID of a managed
resource that may only exist once an earlier change ran, a secret marker for a
credential. Here references become IDs and markers become the secret values resolved
at apply time, each checked against the fingerprint the plan was made with, so an apply
never sends a credential other than the one the reviewed plan showed changing.
The body with values goes straight to the cluster call; what is recorded in the state
index is `recordable`, which keeps markers and fingerprints only.

Keys minted at apply time (`fromAwsRole`, `secrets.leases`) are new on every apply, so
they are never compared with the plan's fingerprint: the plan showed them changing when
they were due, and any other write of the connector sends fresh keys too (the body is
sent whole). Their lease goes to the state record with their fingerprints.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.cluster.snapshots import StateRecord
from reconciler.errors import ApplyError, SecretError
from reconciler.plans import SECRET_MARKER, is_secret_marker, ref_target
from reconciler.resources import ResourceKey
from reconciler.secrets import Secret
from reconciler.secrets.leases import LeasedSecret

SecretPath = tuple[ResourceKey, str]


@dataclasses.dataclass(frozen=True, slots=True)
class Materialized:
    """A body ready to send, and what the state index may keep of it."""

    body: dict[str, Any]
    """With IDs and secret values: for the request only, never stored or printed."""
    recordable: dict[str, Any]
    """With IDs and secret markers carrying fingerprints: safe to store."""
    fingerprints: dict[str, str]
    """Secret path -> fingerprint of the value sent."""
    leases: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    """Credential prefix -> the lease of the minted keys sent there."""

    @property
    def spec_hash(self) -> str:
        """A stable hash of what was applied (markers and fingerprints, no values)."""
        canonical = json.dumps(self.recordable, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def materialize(
    after: Mapping[str, Any],
    *,
    key: ResourceKey,
    resolve_id: Callable[[ResourceKey], str],
    secrets: Mapping[SecretPath, Secret],
    fingerprint_key: bytes | None,
    unsent: StateRecord | None = None,
) -> Materialized:
    """Replace markers in `after`; ApplyError when a secret is missing or has changed.

    `unsent` is the current record when the body will not be sent (an update of osml's
    own controls only): minted keys are then not minted, and their fingerprints and
    lease stay those of the keys the server holds.
    """
    walker = _Walker(
        key=key, resolve_id=resolve_id, secrets=secrets, fkey=fingerprint_key, unsent=unsent
    )
    body = walker.walk(after, path="", sendable=unsent is None)
    recordable = walker.walk(after, path="", sendable=False)
    return Materialized(
        body=body, recordable=recordable, fingerprints=walker.fingerprints, leases=walker.leases
    )


@dataclasses.dataclass
class _Walker:
    key: ResourceKey
    resolve_id: Callable[[ResourceKey], str]
    secrets: Mapping[SecretPath, Secret]
    fkey: bytes | None
    unsent: StateRecord | None = None
    fingerprints: dict[str, str] = dataclasses.field(default_factory=dict)
    leases: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def walk(self, value: Any, *, path: str, sendable: bool) -> Any:
        target = ref_target(value)
        if target is not None:
            return self.resolve_id(target)
        if is_secret_marker(value):
            return self._secret(value, path=path, sendable=sendable)
        if isinstance(value, Mapping):
            return {
                k: self.walk(v, path=f"{path}.{k}" if path else str(k), sendable=sendable)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [
                self.walk(v, path=f"{path}[{i}]", sendable=sendable) for i, v in enumerate(value)
            ]
        return value

    def _secret(self, marker: Mapping[str, Any], *, path: str, sendable: bool) -> Any:
        problem = _mismatch(marker, key=self.key, path=path, secrets=self.secrets, fkey=self.fkey)
        if problem is not None:
            raise ApplyError(problem)
        secret = self.secrets[(self.key, path)]
        if isinstance(secret, LeasedSecret) and self.unsent is not None:
            actual = self._kept(path)
        else:
            actual = secret.fingerprint(self.fkey) if self.fkey is not None else None
            if isinstance(secret, LeasedSecret) and secret.lease is not None:
                self.leases[path.rpartition(".")[0]] = secret.lease.to_dict()
        if actual is not None:
            self.fingerprints[path] = actual
        if sendable:
            return secret.reveal()
        return {SECRET_MARKER: dict(marker[SECRET_MARKER]), "fingerprint": actual}

    def _kept(self, path: str) -> str | None:
        """The fingerprint (and lease) of the minted keys the server holds at `path`."""
        assert self.unsent is not None
        prefix = path.rpartition(".")[0]
        if prefix in self.unsent.leases:
            self.leases[prefix] = dict(self.unsent.leases[prefix])
        return self.unsent.fingerprints.get(path)


def secret_mismatches(
    after: Mapping[str, Any],
    *,
    key: ResourceKey,
    secrets: Mapping[SecretPath, Secret],
    fingerprint_key: bytes | None,
) -> list[str]:
    """What `materialize` would refuse about the secrets of `after`: each one not resolved
    now, or whose value changed since the plan was made. Checked for a whole plan before
    its first change, so a changed secret stops the apply before anything is done."""
    return [
        problem
        for path, marker in _markers(after, path="")
        if (
            problem := _mismatch(marker, key=key, path=path, secrets=secrets, fkey=fingerprint_key)
            or _unmintable(key=key, path=path, secrets=secrets)
        )
    ]


def _unmintable(*, key: ResourceKey, path: str, secrets: Mapping[SecretPath, Secret]) -> str | None:
    """Minted keys are minted here, before the first change, so that an STS refusal stops
    the apply before anything is done; the apply then sends these keys."""
    secret = secrets.get((key, path))
    if not isinstance(secret, LeasedSecret):
        return None
    try:
        secret.reveal()
    except SecretError as exc:
        return f"{key}: {path}: {exc}"
    return None


def _markers(value: Any, *, path: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Every secret marker in `value` with its path, as `_Walker` names them."""
    if is_secret_marker(value):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [
            found
            for k, v in value.items()
            for found in _markers(v, path=f"{path}.{k}" if path else str(k))
        ]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _markers(v, path=f"{path}[{i}]")]
    return []


def _mismatch(
    marker: Mapping[str, Any],
    *,
    key: ResourceKey,
    path: str,
    secrets: Mapping[SecretPath, Secret],
    fkey: bytes | None,
) -> str | None:
    secret = secrets.get((key, path))
    if secret is None:
        return f"{key}: {path}: the secret was not resolved for this apply"
    if isinstance(secret, LeasedSecret):
        return None  # new keys on every apply: nothing to compare (module docstring)
    planned = marker.get("fingerprint")
    actual = secret.fingerprint(fkey) if fkey is not None else None
    if planned and actual and planned != actual:
        return (
            f"{key}: {path}: the secret changed since the plan was made ({secret.source}); "
            "make a new plan"
        )
    return None
