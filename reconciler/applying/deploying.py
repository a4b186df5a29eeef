"""Deploys, undeploys and probes of one model, waited for until the server settles.

Deploy answers before the model is DEPLOYED (reference §6.9): the model's state is polled,
first after most of the shortest deploy seen in this apply, then with backoff, until it
is DEPLOYED, DEPLOY_FAILED or PARTIALLY_DEPLOYED, or the deploy timeout passes. A probe
predict (§8.1) follows each deploy of a model that has one; its answer must meet the
manifest's `expect` (`probing.py`), and what it showed is reported as a `probe passed: ...`
wait event. Its outcome goes to the model's state record (pending from the deploy on,
then passed or failed), so a probe that failed or never ended is planned again. Called by
`applying.acting`.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.applying import probing
from reconciler.applying.executing import DEPLOYED, FAILED_STATES, Executor
from reconciler.errors import ApplyError, ClusterError, ClusterNotFoundError
from reconciler.outcomes import PROBE_PASSED
from reconciler.plans import Change
from reconciler.retrying import poll
from reconciler.secrets import scrub


def is_deployed(ex: Executor, model_id: str) -> bool:
    model = ex.retried(lambda: ex.calls.get_model(model_id))
    return model.get("model_state") in (DEPLOYED, "DEPLOYING", "PARTIALLY_DEPLOYED")


def remove_model(
    ex: Executor, change: Change, model_id: str, *, subject: str | None = None
) -> None:
    """Undeploy and delete a model; one already gone (a re-run, a lost answer) is fine."""
    who = subject or str(change.key)
    try:
        undeploy_and_wait(ex, change, model_id, subject=who)
    except ClusterNotFoundError:
        return
    ex.retried_unless_gone(lambda: ex.calls.delete_model(model_id, subject=who))


def deploy_and_wait(
    ex: Executor, change: Change, model_id: str, *, subject: str | None = None
) -> None:
    """Deploy, wait for DEPLOYED (§6.9), then run the probe (§8.1)."""
    who = subject or str(change.key)
    probing = change.probe is not None and subject is None
    if probing:
        ex.probe_pending(change.key)
    ex.retried(lambda: ex.calls.deploy_model(model_id, subject=who))
    ex.observer.on_wait(change, "waiting for DEPLOYED")
    state = await_settled(ex, model_id, who=who)
    if state is None:
        raise ApplyError(f"{who}: deploy timed out after {ex.settings.deploy_timeout:g}s")
    if state != DEPLOYED:
        raise ApplyError(f"{who}: deploy ended {state}")
    if probing:
        run_probe(ex, change, model_id)


def await_settled(ex: Executor, model_id: str, *, who: str) -> str | None:
    """The state a deploy ended in (§6.9), or None when it did not settle in time."""
    timing = ex.settings.timing
    started = timing.clock()
    timing.sleep(min(ex.deploys.first_wait(), ex.settings.deploy_timeout))
    remaining = ex.settings.deploy_timeout - (timing.clock() - started)
    state = poll(lambda: settled_state(ex, model_id, who), timeout=remaining, timing=timing)
    if state is not None:
        ex.deploys.seen(timing.clock() - started)
    return state


def settled_state(ex: Executor, model_id: str, who: str) -> str | None:
    model = ex.retried(lambda: ex.calls.get_model(model_id, subject=who), low=True)
    state = model.get("model_state")
    if state == DEPLOYED or state in FAILED_STATES:
        return str(state)
    return None


def undeploy_and_wait(ex: Executor, change: Change, model_id: str, *, subject: str) -> None:
    ex.retried(lambda: ex.calls.undeploy_model(model_id, subject=subject))

    def undeployed() -> bool | None:
        model = ex.retried(lambda: ex.calls.get_model(model_id, subject=subject), low=True)
        return True if model.get("model_state") not in (DEPLOYED, "DEPLOYING") else None

    if poll(undeployed, timeout=ex.settings.deploy_timeout, timing=ex.settings.timing) is None:
        raise ApplyError(f"{subject}: undeploy timed out after {ex.settings.deploy_timeout:g}s")


def run_probe(ex: Executor, change: Change, model_id: str) -> None:
    """Probe the model and record the outcome; ApplyError when it failed."""
    ex.observer.on_wait(change, "probing with a predict request")
    recorded_probe(ex, change, lambda: _predict(ex, change, model_id))


def recorded_probe(ex: Executor, change: Change, send: Callable[[], None]) -> None:
    """Run `send`, a model's or an agent's probe, and record its outcome in the state
    record; its ApplyError goes on to fail the change."""
    try:
        send()
    except ApplyError as exc:
        # The remote service's message may quote what it was sent: scrubbed again here,
        # where it is kept, whatever scrubbed it on the way.
        ex.record_probe(change.key, error=scrub(str(exc)))
        raise
    ex.record_probe(change.key, error=None)


def _predict(ex: Executor, change: Change, model_id: str) -> None:
    probe = change.probe or {}
    body = {k: v for k, v in probe.items() if k not in ("expect", "timeout")}
    timeout = probe.get("timeout")
    seconds = float(timeout) if isinstance(timeout, int | float) else None
    subject = str(change.key)
    try:
        answer = ex.request(
            lambda: ex.calls.predict(model_id, body, subject=subject, timeout=seconds)
        )
    except ClusterError as exc:
        # The remote service's own message (§8.1: `Error from remote service: ...`).
        status = f" ({exc.status})" if exc.status else ""
        raise ApplyError(f"{change.key}: probe failed{status}: {exc.reason or exc}") from exc
    for result in answer.get("inference_results", []):
        status = result.get("status_code", 200)
        if not 200 <= int(status) < 300:
            raise ApplyError(f"{change.key}: probe failed: the remote service answered {status}")
    missed = probing.problems(answer, probe.get("expect") or {})
    if missed:
        raise ApplyError(f"{change.key}: probe failed: " + "; ".join(scrub(m) for m in missed))
    ex.observer.on_wait(change, f"{PROBE_PASSED}{scrub(probing.describe(answer))}")
