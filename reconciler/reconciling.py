"""One reconcile cycle, shared by `osml plan`, `osml apply` and `osml watch`.

Desired state is read (load, check for the cluster's version, resolve secrets), the
live cluster is read (one snapshot), a plan is made, and, when asked, applied under
the state lock with the plan checked against a fresh snapshot first. Nothing here
prints: findings come back as data and progress goes through the observer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from reconciler import __version__, collecting
from reconciler.applying.bodies import SecretPath, secret_mismatches
from reconciler.applying.executing import Settings
from reconciler.applying.orchestrating import apply_plan, write_plan_intents
from reconciler.applying.recording import Intents, restore
from reconciler.cluster.calling import MlCalls
from reconciler.cluster.connecting import Connection
from reconciler.cluster.locking import Lease, acquire_lock
from reconciler.cluster.reading import SnapshotReader, read_snapshot
from reconciler.cluster.snapshots import Snapshot, StateRecord
from reconciler.errors import (
    ClusterError,
    LockError,
    ManifestError,
    PlanError,
    Problem,
    Severity,
    StalePlanError,
)
from reconciler.manifests import flavoring
from reconciler.manifests.checking import check
from reconciler.manifests.environments import Environment
from reconciler.manifests.flavoring import Detected
from reconciler.manifests.loading import ManifestSet, read_manifests
from reconciler.manifests.overlaying import Overlay
from reconciler.manifests.resolving import resolve_secrets
from reconciler.mlcommons import flavors
from reconciler.mlcommons.flavors import Flavor, unsettable
from reconciler.mlcommons.versions import Version
from reconciler.outcomes import ApplyObserver, ApplyResult
from reconciler.planning import PlanOptions, make_plan
from reconciler.plans import Change, ClusterIdentity, Plan, secret_marker
from reconciler.policy import find_project_file
from reconciler.rendering.redacting import safe_url
from reconciler.resources import Kind, ResourceKey
from reconciler.retrying import Backoff, Timing
from reconciler.secrets import Secret, scrub
from reconciler.secrets.encrypting import load_key
from reconciler.secrets.headers import has_literal_headers, replace_literal_headers

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Desired:
    """The manifests, checked for one version, with their secrets resolved."""

    manifests: ManifestSet
    warnings: tuple[Problem, ...]
    secrets: Mapping[SecretPath, Secret]
    flavor: Flavor = flavors.DEFAULT
    """The flavor the manifests were checked for (`manifests.flavoring`)."""


@dataclasses.dataclass(frozen=True)
class Planned:
    """A plan and the snapshot it was made from."""

    plan: Plan
    snapshot: Snapshot


def read_desired(
    paths: Sequence[str | Path],
    *,
    version: Version,
    key_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    environment: Environment | None = None,
    detected: Detected | None = None,
) -> Desired:
    """Load and check the manifests for `version` and the flavor of the run (with
    `environment` applied, when one is given: `manifests.overlaying`), then resolve every
    secret. `detected` is the flavor the cluster shows; a declaration must agree."""
    flavor = target_flavor(paths, environment=environment, detected=detected)
    with collecting.paused():
        manifests, warnings = load_checked(
            paths, version=version, environment=environment, flavor=flavor
        )
        desired = with_secrets(manifests, warnings, key_file=key_file, env=env)
    return dataclasses.replace(desired, flavor=flavor)


def detected_flavor(conn: Connection) -> Detected:
    """The flavor the connected cluster shows, and how."""
    return Detected(conn.flavor, conn.flavor_shown_by)


def target_flavor(
    paths: Sequence[str | Path],
    *,
    environment: Environment | None = None,
    detected: Detected | None = None,
) -> Flavor:
    """The flavor of a run: the cluster's, which the environment's `cluster.flavor` or
    the project file's `flavor:` must match when they declare one (ManifestError)."""
    project = find_project_file(paths)
    declaration = flavoring.declared(environment=environment, project_file=project)
    return flavoring.agree(declaration, detected)


def load_checked(
    paths: Sequence[str | Path],
    *,
    version: Version,
    environment: Environment | None = None,
    flavor: Flavor = flavors.DEFAULT,
) -> tuple[ManifestSet, tuple[Problem, ...]]:
    """The manifests and their warnings; ManifestError when any check finds an error.

    The semantic checks run on the valid documents even when others are invalid, so one
    run reports every problem (`osml validate` does the same).
    """
    overlay = Overlay(environment)
    reading = read_manifests(paths, overlay=overlay)
    found = check(reading.manifests, version=version, declared=reading.declared, flavor=flavor)
    problems = overlay.annotate([*reading.problems, *found])
    if any(p.severity is Severity.ERROR for p in problems):
        raise ManifestError(problems)
    return reading.manifests, tuple(problems)


def with_secrets(
    manifests: ManifestSet,
    warnings: tuple[Problem, ...],
    *,
    key_file: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Desired:
    """Checked manifests with every secret resolved now (files and variables may change)."""
    environment = os.environ if env is None else env
    key = load_key(key_file=key_file, env=environment)
    secrets = resolve_secrets(manifests, key=key, env=environment)
    return Desired(manifests, warnings, secrets)


def plan_against(
    conn: Connection,
    desired: Desired,
    *,
    options: PlanOptions,
    state_index: str,
    reader: SnapshotReader | None = None,
) -> Planned:
    """Read the cluster once and plan the desired state against it.

    `reader` keeps what earlier reads found (`osml watch`); without it the read is full.
    """
    with collecting.paused():
        return _plan_against(conn, desired, options=options, state_index=state_index, reader=reader)


def _plan_against(
    conn: Connection,
    desired: Desired,
    *,
    options: PlanOptions,
    state_index: str,
    reader: SnapshotReader | None,
) -> Planned:
    # Server reasons are scrubbed where they are kept, not only where they are printed:
    # the exceptions travel on to observers, logs and metrics.
    if reader is None:
        snapshot = read_snapshot(conn, state_index=state_index, scrub=scrub)
    else:
        snapshot = reader.read(conn, state_index=state_index, scrub=scrub)
    plan = make_plan(
        desired.manifests,
        snapshot,
        secrets=desired.secrets,
        options=dataclasses.replace(options, cluster_url=safe_url(conn.url), flavor=desired.flavor),
        now=_now(),
    )
    plan = dataclasses.replace(
        plan,
        cluster=ClusterIdentity(
            url=safe_url(conn.url),
            version=snapshot.version,
            cluster_name=snapshot.cluster_name,
            cluster_uuid=snapshot.cluster_uuid,
        ),
        osml_version=__version__,
        warnings=(*plan.warnings, *(str(w) for w in desired.warnings), *_flavor_notes(desired)),
    )
    plan = seal_literal_headers(
        plan, secrets=desired.secrets, fingerprint_key=snapshot.state.fingerprint_key
    )
    return Planned(plan, snapshot)


def _flavor_notes(desired: Desired) -> list[str]:
    """What the plan does differently for the flavor, said once."""
    if not unsettable("trusted_connector_endpoints_regex", desired.flavor):
        return []
    return [
        f"{doc.key}: not written: Amazon OpenSearch Service manages the trusted endpoint "
        "list; the connector URLs were checked against these patterns instead"
        for doc in desired.manifests.of_kind(Kind.TRUSTED_ENDPOINTS)
    ]


def seal_literal_headers(
    plan: Plan, *, secrets: Mapping[SecretPath, Secret], fingerprint_key: bytes | None
) -> Plan:
    """`plan` with each literal credential header replaced by a secret marker.

    The server keeps headers in clear (reference §2.7), so a manifest that writes
    `Authorization: Bearer sk-...` would put the token in every view, the plan file and
    the state index. The marker stands for the value `resolve_secrets` found at that
    place, as for a credential, and apply sends that value; the live side and the field
    changes get markers too. A header without a resolved value is left to the views.
    """
    seal = functools.partial(_seal_change, secrets=secrets, fingerprint_key=fingerprint_key)
    return dataclasses.replace(
        plan,
        changes=tuple(seal(c) for c in plan.changes),
        orphans=tuple(seal(c) for c in plan.orphans),
    )


def _seal_change(
    change: Change, *, secrets: Mapping[SecretPath, Secret], fingerprint_key: bytes | None
) -> Change:
    def desired(where: str, name: str, value: str) -> Any:
        secret = secrets.get((change.key, where))
        return value if secret is None else _header_marker(name, secret, fingerprint_key)

    def live(where: str, name: str, value: str) -> Any:
        return _header_marker(name, Secret(value, source=f"header {name}"), fingerprint_key)

    if not (
        has_literal_headers(change.before)
        or has_literal_headers(change.after)
        or any(
            has_literal_headers(f.before, path=f.path) or has_literal_headers(f.after, path=f.path)
            for f in change.fields
        )
    ):
        return change  # nothing to seal: most changes, and every change without headers
    fields = tuple(
        dataclasses.replace(
            field,
            before=replace_literal_headers(field.before, live, path=field.path),
            after=replace_literal_headers(field.after, live, path=field.path),
        )
        for field in change.fields
    )
    return dataclasses.replace(
        change,
        before=replace_literal_headers(change.before, live),
        after=replace_literal_headers(change.after, desired),
        fields=fields,
    )


def _header_marker(name: str, secret: Secret, fingerprint_key: bytes | None) -> Any:
    fingerprint = secret.fingerprint(fingerprint_key) if fingerprint_key else None
    return secret_marker({"header": name}, fingerprint)


@dataclasses.dataclass(frozen=True)
class ApplyOptions:
    """How an apply runs."""

    parallelism: int = 10
    lock_timeout: float = 0.0
    """Seconds to wait for a held lock before failing; 0 fails at once."""
    settings: Settings = dataclasses.field(default_factory=Settings)
    operation: str = "apply"


def apply_checked(
    conn: Connection,
    planned: Plan,
    desired: Desired,
    *,
    observer: ApplyObserver,
    options: ApplyOptions,
    stop: threading.Event | None = None,
    seen: Snapshot | None = None,
) -> ApplyResult:
    """Take the lock, refuse a stale plan, then execute it exactly.

    `seen` is the snapshot the plan was made from, when the caller has it (a plan made
    just now, not a saved one): the lock is then taken without first asking whether the
    state index exists, and the plan's intents are written with the staleness re-read.
    """
    exists = None if seen is None else seen.state.exists
    lease = wait_for_lock(conn, options=options, index_exists=exists, stop=stop)
    try:
        lease.start_renewing()
        return apply_under(
            conn, planned, desired, lease=lease, observer=observer, options=options, stop=stop,
            refresh_state=False, seen=seen,
        )  # fmt: skip
    finally:
        # Deleting the lock refreshes the state index, making this apply's records
        # visible to the next plan (`locking`).
        release(lease, timing=options.settings.timing)


REPLANS = 3
"""Times an apply of the manifests plans again under the lock before it gives up as
stale: past the first, only someone changing the cluster by hand meanwhile makes one."""

Review = Callable[[Plan], None]
"""Shown each plan made again under the lock, before it runs; raises to stop it."""


def apply_current(
    conn: Connection,
    planned: Planned,
    desired: Desired,
    *,
    plan_options: PlanOptions,
    review: Review,
    observer: ApplyObserver,
    options: ApplyOptions,
    stop: threading.Event | None = None,
) -> ApplyResult:
    """Apply the manifests from a plan made in this run, planning again under the lock.

    As in Terraform, what runs is planned while the lock is held. The plan made before
    the lock (and shown) runs when the cluster has not moved since, which is checked while
    its intents are written. Otherwise (another apply ran while this one waited for the
    lock, say) the manifests are planned again under the lock, `review` sees the new plan,
    and it runs; one with nothing to do ends the apply with an empty result. Only a plan
    saved to a file is refused as stale (`apply_checked`).
    """
    index = options.settings.state_index
    lease = wait_for_lock(
        conn, options=options, index_exists=planned.snapshot.state.exists, stop=stop
    )

    def run(current: Planned) -> ApplyResult:
        return apply_under(
            conn, current.plan, desired, lease=lease, observer=observer, options=options,
            stop=stop, refresh_state=False, seen=current.snapshot,
        )  # fmt: skip

    try:
        lease.start_renewing()
        for _ in range(REPLANS):
            try:
                return run(planned)
            except StalePlanError:
                planned = plan_against(conn, desired, options=plan_options, state_index=index)
            review(planned.plan)
            if not planned.plan.has_changes:
                return ApplyResult(())
        return run(planned)  # stale once more: refused
    finally:
        release(lease, timing=options.settings.timing)


RELEASE_ATTEMPTS = 4
"""Tries to give the lock back before leaving it to expire."""


def release(lease: Lease, *, timing: Timing) -> None:
    """Give the lock back, retrying any failure; never raises.

    Deleting our own lock is conditional on its version, so retrying even a 500 is safe.
    A release that still fails must not hide what the apply did (or why it failed): the
    lock then expires on its own and the next run waits for it or takes it over.
    """
    delays = Backoff(initial=0.1, maximum=1.0).delays(timing.rng)
    for attempt in range(1, RELEASE_ATTEMPTS + 1):
        try:
            lease.release()
            return
        except LockError:
            return  # taken over or already gone: not ours to release
        except ClusterError as exc:
            if attempt == RELEASE_ATTEMPTS:
                _log.warning("the state lock was not released (it expires by itself): %s", exc)
                return
            timing.sleep(next(delays))


def apply_under(
    conn: Connection,
    planned: Plan,
    desired: Desired,
    *,
    lease: Lease,
    observer: ApplyObserver,
    options: ApplyOptions,
    stop: threading.Event | None = None,
    refresh_state: bool = True,
    seen: Snapshot | None = None,
) -> ApplyResult:
    """Apply for a caller that already holds the lock as `lease` (apply, watch).

    `refresh_state=False` leaves the state index unrefreshed at the end: for a caller
    that releases the lock next, which refreshes it. `seen` is the snapshot the plan was
    made from, when the caller has it: the intents of the plan's creates are then
    written while the cluster is read again, instead of after (`_check_writing_intents`).

    LockError when the lease was lost; StalePlanError, with what a fresh plan would do
    differently, when the cluster or the state moved since the plan was made.
    """
    lease.check()
    index = options.settings.state_index
    intents = None
    if seen is not None and seen.token() == planned.token:
        check_secrets(planned, desired, fingerprint_key=seen.state.fingerprint_key)
        current, intents = _check_writing_intents(conn, planned, desired, seen=seen, index=index)
    else:
        current = read_snapshot(conn, state_index=index, scrub=scrub)
        if current.token() != planned.token:
            raise _stale(planned, current, desired=desired)
        check_secrets(planned, desired, fingerprint_key=current.state.fingerprint_key)
    return apply_plan(
        planned,
        conn=conn,
        calls=MlCalls(conn, scrub=scrub),
        state=current.state,
        secrets=desired.secrets,
        observer=observer,
        parallelism=options.parallelism,
        settings=options.settings,
        stop=stop,
        guard=lease.check,
        refresh_state=refresh_state,
        intents=intents,
    )


def check_secrets(planned: Plan, desired: Desired, *, fingerprint_key: bytes | None) -> None:
    """Refuse the plan, before its first change, when any secret it sends was not resolved
    now or changed since it was made: a saved plan is applied whole or not at all."""
    problems = [
        problem
        for change in planned.changes
        if change.is_change and change.after is not None
        for problem in secret_mismatches(
            change.after, key=change.key, secrets=desired.secrets, fingerprint_key=fingerprint_key
        )
    ]
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise PlanError(f"the plan cannot be applied (nothing was changed):\n{lines}")


def _check_writing_intents(
    conn: Connection, planned: Plan, desired: Desired, *, seen: Snapshot, index: str
) -> tuple[Snapshot, Intents]:
    """Read the cluster again and, at the same time, write the plan's intents.

    The intents are conditional on the records `seen`, so each lands only where its
    record is still what the plan was made from. The fresh snapshot may or may not show
    them (searches lag writes): ours are taken out before comparing with the plan. When
    the plan turns out stale, the records are put back and StalePlanError raised; a
    crash before that leaves intents the next plan resumes from, as after any crash.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="osml-intents") as pool:
        writing = pool.submit(write_plan_intents, conn, planned, state=seen.state, index=index)
        fresh = read_snapshot(conn, state_index=index, scrub=scrub)
        intents = writing.result()
    current = _without_intents(fresh, intents, before=seen.state.records)
    conflicted = any(e.status == 409 for e in intents.failed.values())
    if conflicted or current.token() != planned.token:
        restore(conn, intents, list(intents.written), before=seen.state.records, index=index)
        raise _stale(planned, current, desired=desired)
    return current, intents


def _without_intents(
    snapshot: Snapshot, intents: Intents, *, before: Mapping[ResourceKey, StateRecord]
) -> Snapshot:
    """`snapshot` as it would be had our intents not been written (yet)."""
    records = dict(snapshot.state.records)
    for key, ours in intents.written.items():
        found = records.get(key)
        if found is None or (found.seq_no, found.primary_term) != (ours.seq_no, ours.primary_term):
            continue
        if key in before:
            records[key] = before[key]
        else:
            del records[key]
    state = dataclasses.replace(snapshot.state, records=records)
    return dataclasses.replace(snapshot, state=state)


def _stale(planned: Plan, current: Snapshot, *, desired: Desired) -> StalePlanError:
    return StalePlanError(
        "the plan is stale: the cluster or the state changed since it was made",
        differences=stale_differences(planned, current, desired=desired),
    )


def wait_for_lock(
    conn: Connection,
    *,
    options: ApplyOptions,
    index_exists: bool | None = None,
    stop: threading.Event | None = None,
) -> Lease:
    """Take the state lock, waiting up to `options.lock_timeout` while someone holds it.

    `index_exists` is what the caller has just seen of the state index (`acquire_lock`).
    A `stop` set meanwhile (Ctrl-C) ends the wait with the holder's LockError.
    """
    timing = options.settings.timing
    deadline = timing.clock() + options.lock_timeout
    delays = Backoff(initial=0.5, maximum=5.0).delays(timing.rng)
    while True:
        try:
            return acquire_lock(
                conn,
                operation=options.operation,
                index=options.settings.state_index,
                index_exists=index_exists,
            )
        except LockError:
            remaining = deadline - timing.clock()
            if remaining <= 0 or (stop is not None and stop.is_set()):
                raise
            timing.sleep(min(next(delays), remaining))


def stale_differences(old: Plan, current: Snapshot, *, desired: Desired) -> list[str]:
    """What a plan made now would do differently from `old`, in words."""
    # Only words for a refusal, never run: the prune-all guard has already had its say on
    # the plan being compared, which was made with the same targets.
    options = PlanOptions(
        prune=old.prune, targets=old.targets, allow_prune_all=True, allow_breaking_consumers=True
    )
    fresh = make_plan(desired.manifests, current, secrets=desired.secrets, options=options)
    before = {c.key: c.action for c in old.changes if c.is_change}
    after = {c.key: c.action for c in fresh.changes if c.is_change}
    lines = [
        f"{key}: was {before.get(key, 'noop')}, now {after.get(key, 'noop')}"
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]
    if old.cluster.version != current.version:
        lines.insert(0, f"cluster version changed: {old.cluster.version} -> {current.version}")
    return lines or ["live resources or state records changed; the planned actions are the same"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
