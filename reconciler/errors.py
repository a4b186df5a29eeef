"""The whole exception tree of osml.

Every error osml raises on purpose is a ReconcilerError; the CLI catches exactly that
class, prints `Error: ...` and exits 1. Anything else is a bug and keeps its traceback.

    ReconcilerError
    ├── ManifestError           bad desired state; carries every Problem of the run
    ├── SecretError             a secret could not be resolved, decrypted or encrypted
    ├── PlanError               the plan cannot be made (ambiguous identity, bad target)
    │   └── StalePlanError      a saved plan no longer matches the cluster
    ├── ClusterError            the cluster refused or failed a request (permanent)
    │   ├── TransientClusterError   worth retrying: 429, 502-504, resets, consistency lag
    │   └── ClusterNotFoundError    the addressed resource does not exist (404)
    ├── ApplyError              one or more changes of an apply failed
    └── LockError               the state lock is held by someone else

Messages start with the resource, then the action, then the reason, e.g.
`Connector/openai-chat: update failed (409): 1 models are still using this connector`.
Retryability is expressed by class, never by a flag.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence

_MAX_REASON = 500


class Severity(enum.StrEnum):
    """How bad a manifest problem is."""

    ERROR = "error"
    """The run stops; nothing is sent to a cluster."""
    WARNING = "warning"
    """Reported, the run goes on."""


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """One finding about the desired state, located in its source file."""

    message: str
    """What is wrong, in a sentence, without the location."""
    file: str | None = None
    """The manifest file, as given on the command line (relative where it was)."""
    line: int | None = None
    """1-based line of the offending node."""
    column: int | None = None
    """1-based column of the offending node."""
    resource: str | None = None
    """`Kind/name` of the resource the problem belongs to, when known."""
    path: str | None = None
    """Dotted field path inside the resource, such as `spec.actions[0].url`."""
    severity: Severity = Severity.ERROR
    """Errors stop the run; warnings do not."""

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        who = f"{self.resource}: " if self.resource else ""
        field = f"{self.path}: " if self.path else ""
        tag = "warning: " if self.severity is Severity.WARNING else ""
        return f"{where}{tag}{who}{field}{self.message}"


class ReconcilerError(Exception):
    """Base of every error osml raises on purpose."""


class ManifestError(ReconcilerError):
    """The manifests are invalid; `problems` lists every problem found in the run."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        errors = [p for p in self.problems if p.severity is Severity.ERROR]
        shown = errors or list(self.problems)
        head = f"{len(errors)} problem(s) in the manifests"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in shown))


class SecretError(ReconcilerError):
    """A secret reference could not be resolved, or a ciphertext not decrypted."""


class PlanError(ReconcilerError):
    """The plan cannot be made: ambiguous identity, unknown target, bad plan file."""


class StalePlanError(PlanError):
    """A saved plan was made against a cluster or state that has since changed."""

    def __init__(self, message: str, *, differences: Sequence[str] = ()) -> None:
        self.differences = tuple(differences)
        lines = [message, *(f"  - {d}" for d in self.differences)]
        super().__init__("\n".join(lines))


class ClusterError(ReconcilerError):
    """The cluster refused or failed a request; not worth retrying as is."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.status = status
        self.error_type = error_type
        self.reason = truncate(reason) if reason is not None else None
        super().__init__(message)


class TransientClusterError(ClusterError):
    """A failure that a retry with backoff may cure: 429, 502-504, resets, timeouts."""


class ClusterNotFoundError(ClusterError):
    """The addressed resource, index or endpoint does not exist."""


class ApplyError(ReconcilerError):
    """One or more changes of an apply failed; the rest of the apply went on."""


class LockError(ReconcilerError):
    """The state lock could not be taken, renewed or released."""


def truncate(text: str, limit: int = _MAX_REASON) -> str:
    """Shorten a server payload for a message, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"
