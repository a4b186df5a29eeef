"""One reconcile cycle of `osml watch`: read the manifests, plan, hold back, apply.

`Cycle.run(lease=...)` reads the desired state, plans it against the cluster and logs
every change found (drift). In `report` mode, or for a paused watcher, that is all. In
`heal` mode it removes the changes of resources in backoff (and their dependents) and
applies the rest under the lease the watcher holds for this cycle (`apply_held`), then
counts each failure into the per-resource backoff. The policy (`reconciler.policy`,
the project file read again when it changes) judges every plan: its findings are
logged when they change, and in heal mode a change with an error finding that
`allow_policy` does not name is held back with its dependents, as a review would refuse
it (an error finding on no one resource holds back the whole cycle). Every outcome comes back as a
`CycleReport`; only errors that are bugs escape. Called by `watching.loop`; it never
waits between cycles, never takes the lock itself, and never prints: events go to the
EventLog and the metrics.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from reconciler.applying.executing import Settings
from reconciler.cluster.connecting import Connection
from reconciler.cluster.locking import Lease
from reconciler.cluster.reading import SnapshotReader
from reconciler.cluster.snapshots import Snapshot
from reconciler.errors import (
    ClusterError,
    LockError,
    ManifestError,
    PlanError,
    Problem,
    SecretError,
    Severity,
    StalePlanError,
)
from reconciler.findings import Finding, errors
from reconciler.manifests.environments import load_environment
from reconciler.manifests.flavoring import Detected
from reconciler.manifests.loading import ManifestSet, find_manifest_files
from reconciler.mlcommons.flavors import Flavor
from reconciler.mlcommons.versions import Version
from reconciler.outcomes import ApplyObserver, ApplyResult, Outcome
from reconciler.planning import PlanOptions
from reconciler.plans import Change, Plan
from reconciler.policy import Policy, evaluate, load_policy
from reconciler.reconciling import (
    ApplyOptions,
    Desired,
    Planned,
    apply_under,
    detected_flavor,
    load_checked,
    plan_against,
    target_flavor,
    with_secrets,
)
from reconciler.resources import ResourceKey
from reconciler.secrets import scrub
from reconciler.watching.backoffs import ResourceBackoff, hold_back
from reconciler.watching.logs import EventLog
from reconciler.watching.metrics import WatchMetrics
from reconciler.watching.observing import WatchObserver


class Mode(enum.StrEnum):
    """What a watcher does with the drift it finds."""

    HEAL = "heal"
    """Plan and apply."""
    REPORT = "report"
    """Plan and log; never change the cluster."""


class Status(enum.StrEnum):
    """How a cycle ended."""

    CONVERGED = "converged"
    """Nothing to do, or every planned change was applied."""
    DRIFT = "drift"
    """Report mode: changes were found and logged."""
    PARTIAL = "partial"
    """Some changes failed or were held back in backoff."""
    INVALID = "invalid"
    """The manifests (or the plan) were refused; nothing was applied."""
    ERROR = "error"
    """The cluster failed or moved on under the plan; retried with backoff."""
    STANDBY = "standby"
    """Another watcher holds the state lock; nothing was done."""

    @property
    def succeeded(self) -> bool:
        """Whether the cycle did what it should (`/readyz`)."""
        return self in (Status.CONVERGED, Status.DRIFT, Status.STANDBY)


@dataclasses.dataclass(frozen=True, slots=True)
class CycleReport:
    """What one cycle found and did."""

    status: Status
    drift: int = 0
    """Changes the plan held."""
    applied: int = 0
    failed: int = 0
    held_back: int = 0
    problems: int = 0
    """Invalid cycles: the errors found in the manifests (or 1 for a refused plan)."""
    message: str = ""
    """What went wrong, for the event log; never served by the health endpoints."""


@dataclasses.dataclass(frozen=True)
class CycleSettings:
    """What every cycle of one watcher reads and how it applies."""

    paths: tuple[Path, ...]
    """The manifest files and folders."""
    mode: Mode = Mode.HEAL
    prune: bool = False
    allow_prune_all: bool = False
    """Let a prune delete every managed resource (refused otherwise, see planning)."""
    allow_breaking_consumers: bool = False
    """Let a plan break pipelines, agents or indices osml does not manage (`planning.impacts`)."""
    parallelism: int = 10
    apply: Settings = dataclasses.field(default_factory=Settings)
    """Deploy timeout, retries and the state index."""
    key_file: Path | None = None
    env: Mapping[str, str] | None = None
    """Where `fromEnv` secrets come from; None means the process environment."""
    environment: str | None = None
    """The environment file applied to the manifests (`--env`), read again when it
    changes; None without one."""
    full_read_every: int = 10
    """Read the whole cluster every this many cycles; in between only what changed
    (`cluster.reading.SnapshotReader`). 1 reads everything every cycle."""
    policy_file: Path | None = None
    """The project file whose `policy:` judges each plan; None: the built-in defaults."""
    allow_policy: frozenset[str] = frozenset()
    """Rules whose error findings do not hold a change back (`--allow-policy`)."""


class ManifestCache:
    """Loaded and checked manifests, read again only when a file changed.

    A drift cycle on the timer usually finds the files as they were; parsing thousands of
    documents again each time would be most of a quiet watcher's CPU. The key is every
    manifest file's path, size and modification time, and the cluster version the checks
    ran for; a stat per file costs far less than a parse.
    """

    def __init__(self, paths: Sequence[str | Path], *, environment: str | None = None) -> None:
        self._paths = paths
        self._environment = environment
        self._key: tuple[object, ...] | None = None
        self._value: tuple[ManifestSet, tuple[Problem, ...], Flavor] | None = None

    def get(
        self, version: Version, *, detected: Detected | None = None
    ) -> tuple[ManifestSet, tuple[Problem, ...], Flavor]:
        """The manifests for `version` and the flavor of the run; ManifestError as
        `load_checked` and `target_flavor` raise it."""
        watched = [*self._paths, *([self._environment] if self._environment else [])]
        key = (str(version), detected, *_signature(watched))
        if key != self._key or self._value is None:
            self._value = None
            environment = load_environment(self._environment) if self._environment else None
            flavor = target_flavor(self._paths, environment=environment, detected=detected)
            manifests, warnings = load_checked(
                self._paths, version=version, environment=environment, flavor=flavor
            )
            self._value = (manifests, warnings, flavor)
            self._key = key
        return self._value


class PolicyCache:
    """The policy of the project file, read again when the file changed."""

    def __init__(self, file: Path | None) -> None:
        self._file = file
        self._key: list[tuple[str, int, int]] | None = None
        self._policy = Policy()

    def get(self) -> Policy:
        """The policy; ManifestError (the cycle is invalid) for a broken file."""
        if self._file is None:
            return self._policy
        key = _stats([str(self._file)])
        if key != self._key:
            self._policy = load_policy(self._file)
            self._key = key
        return self._policy


def _signature(paths: Sequence[str | Path]) -> list[tuple[str, int, int]]:
    files, _ = find_manifest_files(paths)
    return _stats(files)


def _stats(files: Sequence[str]) -> list[tuple[str, int, int]]:
    signature = []
    for file in files:
        try:
            stat = os.stat(file)
        except OSError:
            signature.append((file, -1, -1))
        else:
            signature.append((file, stat.st_size, stat.st_mtime_ns))
    return signature


class Cycle:
    """Runs cycles for one watcher against one cluster."""

    def __init__(
        self,
        conn: Connection,
        *,
        settings: CycleSettings,
        log: EventLog,
        metrics: WatchMetrics,
        backoff: ResourceBackoff,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conn = conn
        self.settings = settings
        self._log = log
        self._metrics = metrics
        self._backoff = backoff
        self._stop = stop
        self._clock = clock
        self._observer = WatchObserver(log, metrics)
        self._noted: frozenset[str] = frozenset()
        self._found: frozenset[Finding] = frozenset()
        self._policy = PolicyCache(settings.policy_file)
        self._environment = Path(settings.environment).stem if settings.environment else None
        self._manifests = ManifestCache(settings.paths, environment=settings.environment)
        self.reader = SnapshotReader(full_read_every=settings.full_read_every)
        """Follows the cluster from cycle to cycle: a full read every N, changes between."""

    def run(
        self,
        *,
        lease: Lease | None = None,
        report: bool = False,
        take_lease: Callable[[], Lease | None] | None = None,
    ) -> CycleReport:
        """One cycle; heal mode needs the lock: `lease` (held already) or `take_lease`,
        called only when the plan holds changes (None: someone else holds the lock; the
        plan is then made again under it). `report` plans and logs only, whatever the
        mode (a paused watcher). ClusterError of `take_lease` goes to the caller."""
        try:
            policy = self._policy.get()
            desired = self._desired()
            planned = self._plan(desired)
            heals = not report and self.settings.mode is Mode.HEAL
            if heals and lease is None and take_lease is not None and _has_drift(planned.plan):
                lease = take_lease()
                if lease is None:
                    return CycleReport(Status.STANDBY, message="the lock is not ours")
                # Planned without the lock: plan again under it, as a locked cycle would.
                planned = self._plan(desired)
        except (ManifestError, SecretError, PlanError) as exc:
            # Fixed by editing the manifests (or the cluster by hand), not by retrying.
            return self._invalid(exc)
        except ClusterError as exc:
            self.reader.forget()
            return self._error("cluster_error", exc)
        findings = evaluate(
            policy, desired.manifests, plan=planned.plan, environment=self._environment
        )
        self._judged(findings)
        return self._act(
            planned.plan, desired, lease=lease, seen=planned.snapshot, report=report,
            findings=findings,
        )  # fmt: skip

    def _plan(self, desired: Desired) -> Planned:
        return plan_against(
            self.conn,
            desired,
            options=PlanOptions(
                prune=self.settings.prune,
                allow_prune_all=self.settings.allow_prune_all,
                allow_breaking_consumers=self.settings.allow_breaking_consumers,
            ),
            state_index=self.settings.apply.state_index,
            reader=self.reader,
        )

    def _desired(self) -> Desired:
        version = Version.parse(self.conn.version)
        manifests, warnings, flavor = self._manifests.get(
            version, detected=detected_flavor(self.conn)
        )
        # Secrets are resolved every cycle: a mounted secret file may change on its own.
        desired = with_secrets(
            manifests, warnings, key_file=self.settings.key_file, env=self.settings.env
        )
        return dataclasses.replace(desired, flavor=flavor)

    def _act(
        self, plan: Plan, desired: Desired, *, lease: Lease | None, seen: Snapshot, report: bool,
        findings: Sequence[Finding],
    ) -> CycleReport:  # fmt: skip
        drift = [c for c in plan.changes if c.is_change]
        for change in drift:
            self._report_drift(change)
        self._note(plan)
        self._backoff.forget_except({c.key for c in drift})
        self._metrics.backoffs(self._backoff.status(now=self._clock()))
        if report or self.settings.mode is Mode.REPORT or not drift:
            status = Status.DRIFT if drift else Status.CONVERGED
            return CycleReport(status, drift=len(drift))
        if lease is None:
            return CycleReport(Status.STANDBY, drift=len(drift), message="the lock is not ours")
        refused = [f for f in errors(findings) if f.rule not in self.settings.allow_policy]
        if any(f.resource is None for f in refused):
            message = "; ".join(str(f) for f in refused if f.resource is None)
            self._log.event("policy_refused", level="error", message=message)
            return CycleReport(Status.INVALID, drift=len(drift), problems=1, message=message)
        policed = {ResourceKey.parse(f.resource): f for f in refused if f.resource is not None}
        return self._heal(plan, desired, lease=lease, drift=len(drift), seen=seen, policed=policed)

    def _heal(
        self, plan: Plan, desired: Desired, *, lease: Lease, drift: int, seen: Snapshot,
        policed: Mapping[ResourceKey, Finding],
    ) -> CycleReport:  # fmt: skip
        plan, refused = hold_back(plan, policed.keys())
        for change in refused:
            finding = policed.get(change.key)
            self._log.event(
                "policy_held",
                level="warning",
                key=change.key,
                action=change.action.value,
                rule=finding.rule if finding else None,
                reason=None if finding else "depends on a change the policy holds back",
            )
        runnable, dropped = self._hold_back(plan)
        dropped = (*refused, *dropped)
        try:
            result = self._apply(runnable, desired, lease=lease, seen=seen)
        except StalePlanError as exc:
            return self._error("plan_stale", exc)
        except PlanError as exc:
            # Refused before its first change: keys minted now (fromAwsRole) could not be
            # minted, e.g. STS refused or was unreachable. Retried with the error backoff.
            return self._error("apply_refused", exc)
        except LockError as exc:
            return self._error("lock_lost", exc, status=Status.STANDBY)
        except ClusterError as exc:
            return self._error("cluster_error", exc)
        self._count(result)
        return CycleReport(
            Status.CONVERGED if result.ok and not dropped else Status.PARTIAL,
            drift=drift,
            applied=sum(r.outcome is Outcome.DONE for r in result.results),
            failed=len(result.failures),
            held_back=len(dropped),
        )

    def _hold_back(self, plan: Plan) -> tuple[Plan, tuple[Change, ...]]:
        """The plan without resources in backoff and their dependents; each one logged."""
        now = self._clock()
        held = self._backoff.held(now=now)
        runnable, dropped = hold_back(plan, held.keys())
        for change in dropped:
            hold = held.get(change.key)
            self._log.event(
                "held_back",
                key=change.key,
                action=change.action.value,
                failures=hold.failures if hold else None,
                retry_in=round(hold.until - now, 3) if hold else None,
                reason=None if hold else "depends on a resource in backoff",
            )
        return runnable, dropped

    def _apply(self, plan: Plan, desired: Desired, *, lease: Lease, seen: Snapshot) -> ApplyResult:
        if not plan.has_changes:
            return ApplyResult(())
        return apply_held(
            self.conn,
            plan,
            desired,
            lease=lease,
            observer=self._observer,
            parallelism=self.settings.parallelism,
            settings=self.settings.apply,
            stop=self._stop,
            seen=seen,
        )

    def _count(self, result: ApplyResult) -> None:
        """Feed each change's outcome into the per-resource backoff."""
        now = self._clock()
        for item in result.results:
            if item.outcome is Outcome.DONE:
                self._backoff.succeeded(item.key)
            elif item.outcome is Outcome.FAILED:
                hold = self._backoff.failed(item.key, now=now)
                self._log.event(
                    "backoff",
                    level="warning",
                    key=item.key,
                    failures=hold.failures,
                    retry_in=round(hold.until - now, 3),
                )
        self._metrics.backoffs(self._backoff.status(now=now))

    def _report_drift(self, change: Change) -> None:
        self._metrics.drift_found(change)
        self._log.event(
            "drift",
            key=change.key,
            action=change.action.value,
            fields=[f.path for f in change.fields] or None,
            reasons=list(change.reasons) or None,
        )

    def _judged(self, findings: Sequence[Finding]) -> None:
        """Log the policy's findings when they change, not at every tick."""
        for finding in sorted(set(findings) - self._found, key=str):
            self._log.event(
                "policy_finding",
                level="error" if finding.is_error else finding.severity.value,
                rule=finding.rule,
                resource=finding.resource,
                file=finding.file,
                line=finding.line,
                message=finding.message,
            )
        self._found = frozenset(findings)

    def _note(self, plan: Plan) -> None:
        """Log plan warnings and prune candidates when they change, not at every tick:
        unlike drift, they are not repaired, so repeating them would only be noise."""
        notes = {f"warning: {w}" for w in plan.warnings}
        notes |= {f"orphan: {c.key}: {'; '.join(c.reasons)}" for c in plan.orphans}
        for note in sorted(notes - self._noted):
            kind, _, text = note.partition(": ")
            self._log.event(f"plan_{kind}", level="warning", message=text)
        self._noted = frozenset(notes)

    def _invalid(self, exc: ManifestError | SecretError | PlanError) -> CycleReport:
        problems = exc.problems if isinstance(exc, ManifestError) else ()
        for problem in problems:
            self._log.event(
                "manifest_problem",
                level=problem.severity.value,
                resource=problem.resource,
                file=problem.file,
                line=problem.line,
                column=problem.column,
                path=problem.path,
                message=problem.message,
            )
        message = scrub(str(exc))
        self._log.event("manifests_refused", level="error", message=message)
        errors = sum(p.severity is Severity.ERROR for p in problems) or 1
        return CycleReport(Status.INVALID, problems=errors, message=message)

    def _error(self, event: str, exc: Exception, *, status: Status = Status.ERROR) -> CycleReport:
        message = scrub(str(exc))
        self._log.event(event, level="error", message=message)
        return CycleReport(status, message=message)


def _has_drift(plan: Plan) -> bool:
    return any(c.is_change for c in plan.changes)


def apply_held(
    conn: Connection,
    plan: Plan,
    desired: Desired,
    *,
    lease: Lease,
    observer: ApplyObserver,
    parallelism: int = 10,
    settings: Settings | None = None,
    stop: threading.Event | None = None,
    seen: Snapshot | None = None,
) -> ApplyResult:
    """`reconciling.apply_checked` for a caller that already holds the lock as `lease`.

    LockError when the lease was lost; StalePlanError when the cluster or the state moved
    since the plan was made (the next cycle plans again). Then the plan runs exactly.
    """
    options = ApplyOptions(parallelism=parallelism, settings=settings or Settings())
    return apply_under(
        conn, plan, desired, lease=lease, observer=observer, options=options, stop=stop,
        seen=seen,
    )  # fmt: skip
