"""Run the probes offline: apply the desired state to a throwaway in-process sandbox.

`osml plan --probe-offline` calls `rehearse` after planning against the real cluster. The
manifests, already checked for the cluster's version, are applied in full to a new sandbox
of the nearest profile, with every secret replaced by a dummy value and the sandbox
offline (only its provider emulators answer predicts, for the well-known hosts and those
`--sandbox-emulate` maps; no other call leaves the process),
and each model's and agent's probe runs there with its `expect`. The real cluster is never
written; its connection is not even used here. Nothing prints: the outcomes come back as data.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping

from reconciler.applying.executing import Settings
from reconciler.cluster.connecting import ConnectionSettings, connect
from reconciler.mlcommons.versions import Version
from reconciler.outcomes import PROBE_PASSED, ApplyResult, Outcome, ProbeRun
from reconciler.planning import PlanOptions
from reconciler.plans import Change
from reconciler.reconciling import ApplyOptions, Desired, apply_checked, plan_against
from reconciler.resources import ResourceKey
from reconciler.retrying import Backoff
from reconciler.secrets import Secret

DUMMY_SECRET = "osml-offline-probe-dummy"
"""What every credential becomes in the rehearsal: the emulators accept any key, and the
SigV4 verifier checks the signature against the same (dummy) connector keys."""
STATE_INDEX = "osml-state"


@dataclasses.dataclass(frozen=True)
class Rehearsal:
    """Every probe of the desired state, run against the offline sandbox."""

    profile: str
    """The sandbox version profile used (`2.19`, `3.x`, ...)."""
    probes: tuple[ProbeRun, ...]

    @property
    def failed(self) -> tuple[ProbeRun, ...]:
        return tuple(p for p in self.probes if not p.passed)


def rehearse(
    desired: Desired, *, version: Version, emulate_hosts: Mapping[str, str] | None = None
) -> Rehearsal:
    """Apply `desired` to an offline sandbox of the profile nearest `version`; probe all.
    `emulate_hosts` (`host[:port]` -> emulator family) answers self-hosted servers too."""
    # Imported here: only `--probe-offline` needs the sandbox server code.
    from reconciler.sandbox.server import Sandbox  # noqa: PLC0415

    dummy = dataclasses.replace(
        desired, secrets=dict.fromkeys(desired.secrets, Secret(DUMMY_SECRET))
    )
    profile = profile_for(version)
    with (
        Sandbox(
            profile, port=0, offline=True, deploy_delay=0.01, emulate_hosts=emulate_hosts
        ) as sandbox,
        connect(ConnectionSettings(url=sandbox.url, timeout=30)) as conn,
    ):
        planned = plan_against(conn, dummy, options=PlanOptions(), state_index=STATE_INDEX)
        observer = ProbeWatcher()
        result = apply_checked(
            conn, planned.plan, dummy, observer=observer, options=_OPTIONS, seen=planned.snapshot
        )
    probed = [c for c in planned.plan.changes if c.probe is not None]
    return Rehearsal(profile, tuple(_run(c, observer, result) for c in probed))


_OPTIONS = ApplyOptions(
    settings=Settings(deploy_timeout=30.0, backoff=Backoff(initial=0.01, maximum=0.2, attempts=5))
)


class ProbeWatcher:
    """An apply observer that keeps what each passed probe showed."""

    def __init__(self) -> None:
        self.passed: dict[ResourceKey, str] = {}
        self._lock = threading.Lock()

    def on_start(self, change: Change) -> None:
        """Nothing to keep."""

    def on_wait(self, change: Change, message: str) -> None:
        if message.startswith(PROBE_PASSED):
            with self._lock:
                self.passed[change.key] = message.removeprefix(PROBE_PASSED)

    def on_finish(self, change: Change, **_: object) -> None:
        """The outcome comes with the ApplyResult."""

    def on_summary(self, result: ApplyResult) -> None:
        """The caller reads the ApplyResult itself."""


def _run(change: Change, observer: ProbeWatcher, result: ApplyResult) -> ProbeRun:
    passed = observer.passed.get(change.key)
    if passed is not None:
        return ProbeRun(change.key, True, passed)
    ended = next((r for r in result.results if r.key == change.key), None)
    if ended is None or ended.outcome is Outcome.DONE:
        return ProbeRun(change.key, False, "the probe did not run")
    reason = (ended.error or ended.outcome.value).removeprefix(f"{change.key}: ")
    # `create failed: probe failed (400): ...` says the same thing twice.
    _, probe_said, rest = reason.partition("probe failed")
    return ProbeRun(change.key, False, f"probe failed{rest}" if probe_said else reason)


def profile_for(version: Version) -> str:
    """The sandbox profile for a server version: the same major.minor when there is one,
    else the newest older profile of that major, else the newest profile of all."""
    from reconciler.sandbox.ml.profiles import PROFILES  # noqa: PLC0415

    wanted = (version.major, version.minor)
    releases = sorted((profile.release, name) for name, profile in PROFILES.items())
    same = [name for release, name in releases if release == wanted]
    older = [name for release, name in releases if release[0] == wanted[0] and release <= wanted]
    return (same or older or [releases[-1][1]])[-1]
