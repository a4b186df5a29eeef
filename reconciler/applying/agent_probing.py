"""Agent probes: an execute request (CONS §4.8) after an agent is created, changed,
replaced, adopted or rewired to a new model ID, to prove that it answers.

`probes_after` says whether a change's own step is followed by the probe; `run_probe`
sends `lifecycle.probe.parameters` as the execute body, waits at most
`lifecycle.probe.timeout` seconds, checks the answer against `expect` (`probing`) and
records the outcome in the agent's state record as model probes do (pending first, then
passed or failed), so a probe that failed or never ended is planned again. A failed probe
fails the agent's change with a message scrubbed of secret values. Called by
`applying.acting`; never decides anything itself.
"""

from __future__ import annotations

from reconciler.applying import probing
from reconciler.applying.deploying import recorded_probe
from reconciler.applying.executing import Executor
from reconciler.errors import ApplyError, ClusterError
from reconciler.mlcommons.templates import stringify
from reconciler.outcomes import PROBE_PASSED
from reconciler.plans import Action, Change
from reconciler.resources import Kind
from reconciler.secrets import scrub

_PROBED_AFTER = (Action.CREATE, Action.REPLACE, Action.ADOPT, Action.UPDATE)


def probes_after(change: Change) -> bool:
    """Whether the agent's probe runs once `change` is performed: after anything that
    sends the agent (a state-only update sends nothing, unless a probe is owed)."""
    if change.key.kind is not Kind.AGENT or change.probe is None:
        return False
    return change.action in _PROBED_AFTER and not change.state_only


def run_probe(ex: Executor, change: Change, agent_id: str) -> None:
    """Execute the agent and record the outcome; ApplyError when the probe failed."""
    ex.probe_pending(change.key)
    ex.observer.on_wait(change, "probing with an execute request")
    recorded_probe(ex, change, lambda: _execute(ex, change, agent_id))


def _execute(ex: Executor, change: Change, agent_id: str) -> None:
    probe = change.probe or {}
    # Sent as the server reads them (`getParameterMap`, CONS §4.2): non-strings as JSON.
    parameters = probe.get("parameters") or {}
    body = {"parameters": {key: stringify(value) for key, value in parameters.items()}}
    timeout = probe.get("timeout")
    seconds = float(timeout) if isinstance(timeout, int | float) else None
    subject = str(change.key)
    try:
        answer = ex.request(
            lambda: ex.calls.execute_agent(agent_id, body, subject=subject, timeout=seconds)
        )
    except ClusterError as exc:
        status = f" ({exc.status})" if exc.status else ""
        raise ApplyError(f"{change.key}: probe failed{status}: {exc.reason or exc}") from exc
    missed = probing.agent_problems(answer, probe.get("expect") or {})
    if missed:
        raise ApplyError(f"{change.key}: probe failed: " + "; ".join(scrub(m) for m in missed))
    ex.observer.on_wait(change, f"{PROBE_PASSED}{scrub(probing.describe_agent(answer))}")
