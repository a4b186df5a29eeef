"""Deterministic fault injection for the sandbox: error rates, latency, connection resets,
refused calls, lost responses and deploy outcomes, chosen by a seeded random generator.

The server asks `Faults.decide(method, path)` before dispatching each request (never for
`/_sandbox/` admin routes) and acts on the `Decision`; B's ML deploy logic asks
`deploy_outcome()` and `undeploy_later()`. A spec is set at start (`--faults`, JSON or
`@file`) or at run time via `/_sandbox/faults`. This module performs no I/O on sockets.

Spec (every key optional):

    {"seed": 7,
     "rules": [{"route": "POST /_plugins/_ml/models/*",   # "METHOD glob" or just "glob"
                "error_rate": 0.2, "status": 503,          # 429, 500, 502, 503 or 504
                "reset_rate": 0.1, "lost_rate": 0.1,       # close without answering / after acting
                "refuse_next": 2,                          # the next 2 matching calls fail
                "latency": 0.05, "jitter": 0.02},          # seconds added before answering
               {"route": "POST https://api.openai.com/*",  # a URL: a predict's outbound call
                "refuse_next": 1, "status": 429}],         # to an emulated provider
     "deploy": [{"model": "flaky-*", "outcome": "failed",  # deployed|stuck|failed|partial
                 "undeploy_after": 3.0}]}                  # fall to UNDEPLOYED after 3 s
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import random
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

Action = Literal["pass", "error", "reset", "lost"]
Outcome = Literal["deployed", "stuck", "failed", "partial"]
_OUTCOMES = ("deployed", "stuck", "failed", "partial")
_STATUSES = (429, 500, 502, 503, 504)


@dataclasses.dataclass(frozen=True)
class Decision:
    """What the server must do with one request."""

    action: Action = "pass"
    """`pass` answers normally; `error` answers `status`; `reset` closes the socket without
    acting; `lost` acts, then closes the socket without answering."""
    status: int = 0
    delay: float = 0.0
    """Seconds to wait before acting."""


@dataclasses.dataclass
class Rule:
    """One per-route fault rule; `refuse_next` counts down as calls are refused."""

    route: str
    error_rate: float = 0.0
    status: int = 503
    reset_rate: float = 0.0
    lost_rate: float = 0.0
    refuse_next: int = 0
    latency: float = 0.0
    jitter: float = 0.0

    @property
    def outbound(self) -> bool:
        """Whether the route is a URL (an outbound call) rather than a sandbox path."""
        pattern = self.route.partition(" ")[2] or self.route
        return pattern.startswith(("http://", "https://"))

    def matches(self, method: str, path: str) -> bool:
        wanted_method, _, pattern = self.route.partition(" ")
        if not pattern:
            return fnmatch.fnmatchcase(path, wanted_method)
        return wanted_method.upper() in (method, "*") and fnmatch.fnmatchcase(path, pattern)


@dataclasses.dataclass(frozen=True)
class DeployRule:
    """The deploy outcome of models whose name (or ID) matches `model`."""

    model: str = "*"
    outcome: Outcome = "deployed"
    undeploy_after: float | None = None


class FaultSpecError(ValueError):
    """A fault spec that cannot be understood; the message says which part."""


class Faults:
    """The current fault spec and its random generator; thread-safe."""

    def __init__(self, spec: Mapping[str, Any] | None = None, *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._default_seed = seed
        self.injected: Counter[str] = Counter()
        """How many faults of each action were injected (tests count them)."""
        self.configure(spec or {})

    def configure(self, spec: Mapping[str, Any]) -> None:
        """Replace the whole spec and restart the random sequence from its seed."""
        rules, deploys, seed = parse_spec(spec, default_seed=self._default_seed)
        with self._lock:
            self._rules, self._deploys, self._seed = rules, deploys, seed
            self._random = random.Random(seed)
            self.injected.clear()

    def clear(self) -> None:
        """No faults at all."""
        self.configure({})

    def spec(self) -> dict[str, Any]:
        """The current spec, with refusal counters as they stand now."""
        with self._lock:
            return {
                "seed": self._seed,
                "rules": [dataclasses.asdict(r) for r in self._rules],
                "deploy": [dataclasses.asdict(d) for d in self._deploys],
            }

    def decide(self, method: str, path: str) -> Decision:
        """The fate of one request; consumes random numbers only for matching rules."""
        return self._decide(method, path, outbound=False)

    def decide_outbound(self, method: str, url: str) -> Decision:
        """The fate of one outbound predict call to an emulated provider: only rules whose
        route is a URL (`POST https://host/*`) apply, so `*` rules keep their sequence."""
        return self._decide(method, url, outbound=True)

    def _decide(self, method: str, target: str, *, outbound: bool) -> Decision:
        with self._lock:
            delay = 0.0
            for rule in self._rules:
                if rule.outbound != outbound or not rule.matches(method, target):
                    continue
                delay += rule.latency + (self._random.uniform(0, rule.jitter) if rule.jitter else 0)
                action = self._roll(rule)
                if action != "pass":
                    self.injected[action] += 1
                    return Decision(action, rule.status, delay)
            return Decision("pass", 0, delay)

    def _roll(self, rule: Rule) -> Action:
        if rule.refuse_next > 0:
            rule.refuse_next -= 1
            return "error"
        if not (rule.error_rate or rule.reset_rate or rule.lost_rate):
            return "pass"
        roll = self._random.random()
        for action, rate in (("error", rule.error_rate), ("reset", rule.reset_rate)):
            if roll < rate:
                return action  # type: ignore[return-value]
            roll -= rate
        return "lost" if roll < rule.lost_rate else "pass"

    def deploy_outcome(self, model_id: str, *, name: str | None = None) -> Outcome:
        """How a deploy of this model ends: deployed, stuck (DEPLOYING), failed or partial."""
        rule = self._deploy_rule(model_id, name)
        return rule.outcome if rule else "deployed"

    def undeploy_later(self, model_id: str, *, name: str | None = None) -> float | None:
        """Seconds after which a deployed model falls to UNDEPLOYED, or None for never."""
        rule = self._deploy_rule(model_id, name)
        return rule.undeploy_after if rule else None

    def _deploy_rule(self, model_id: str, name: str | None) -> DeployRule | None:
        with self._lock:
            for rule in self._deploys:
                keys = [model_id] if name is None else [name, model_id]
                if any(fnmatch.fnmatchcase(k, rule.model) for k in keys):
                    return rule
            return None


def parse_spec(
    spec: Mapping[str, Any], *, default_seed: int = 0
) -> tuple[list[Rule], list[DeployRule], int]:
    """Validate a spec mapping; FaultSpecError names the bad part."""
    if not isinstance(spec, Mapping):
        raise FaultSpecError("a fault spec must be a JSON object")
    unknown = set(spec) - {"seed", "rules", "deploy"}
    if unknown:
        raise FaultSpecError(f"unknown fault spec keys: {sorted(unknown)}")
    rules = [_rule(raw, position) for position, raw in enumerate(spec.get("rules") or [])]
    deploys = [_deploy(raw, position) for position, raw in enumerate(spec.get("deploy") or [])]
    return rules, deploys, int(spec.get("seed", default_seed))


def _rule(raw: Any, position: int) -> Rule:
    try:
        rule = Rule(**raw)
    except TypeError as exc:
        raise FaultSpecError(f"rules[{position}]: {exc}") from None
    if rule.status not in _STATUSES:
        raise FaultSpecError(f"rules[{position}]: status must be one of {list(_STATUSES)}")
    rates = (rule.error_rate, rule.reset_rate, rule.lost_rate)
    if any(r < 0 for r in rates) or sum(rates) > 1:
        raise FaultSpecError(f"rules[{position}]: rates must be >= 0 and sum to at most 1")
    return rule


def _deploy(raw: Any, position: int) -> DeployRule:
    try:
        rule = DeployRule(**raw)
    except TypeError as exc:
        raise FaultSpecError(f"deploy[{position}]: {exc}") from None
    if rule.outcome not in _OUTCOMES:
        raise FaultSpecError(f"deploy[{position}]: outcome must be one of {list(_OUTCOMES)}")
    return rule


def load_spec(text: str) -> dict[str, Any]:
    """A `--faults` value: a JSON object, or `@path` to a file holding one."""
    raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    try:
        spec = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FaultSpecError(f"fault spec is not valid JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise FaultSpecError("a fault spec must be a JSON object")
    return spec


def error_body(status: int) -> tuple[Any, dict[str, str]]:
    """An OpenSearch-like (or proxy-like, for 502/504) body for an injected error."""
    if status in (502, 504):
        # Gateways in front of OpenSearch answer HTML, not the JSON envelope.
        title = "502 Bad Gateway" if status == 502 else "504 Gateway Time-out"
        html = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return html, {"Content-Type": "text/html"}
    error_type, reason = {
        429: (
            "rejected_execution_exception",
            "rejected execution of coordinating operation [sandbox fault injection]",
        ),
        500: ("exception", "sandbox fault injection: internal failure"),
        503: (
            "cluster_block_exception",
            "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];",
        ),
    }.get(status, ("status_exception", "sandbox fault injection"))
    cause = {"type": error_type, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}, {}
