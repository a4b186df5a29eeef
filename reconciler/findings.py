"""Policy findings as data: what a rule found, where, and how bad it is.

`reconciler.policy` makes them (built-in rules and CEL rules, over manifests and the
plan); a Plan carries them (`Plan.findings`), so a saved plan records them under its
digest and `osml apply PLANFILE` can refuse one with an error finding; `rendering`
shows them (text, Markdown, SARIF). Data only: nothing here evaluates, prints or reads.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from typing import Any


class FindingSeverity(enum.StrEnum):
    """How bad a finding is; a repository sets it per rule in its project file."""

    ERROR = "error"
    """`osml plan` and `osml validate` exit 3; `osml apply PLANFILE` refuses the plan."""
    WARNING = "warning"
    """Shown, never changes an exit code."""
    INFO = "info"
    """Shown for the record (SARIF level `note`)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One rule that one resource breaks."""

    rule: str
    """The rule's ID, such as `connector-plain-http` or a CEL rule's own `id`."""
    severity: FindingSeverity
    message: str
    """What is wrong, in a sentence, without the location; never a secret value."""
    resource: str | None = None
    """`Kind/name`, when the finding is about one resource."""
    file: str | None = None
    """The manifest (or project) file, as given (relative where it was)."""
    line: int | None = None
    """1-based line of the offending node."""
    column: int | None = None
    path: str | None = None
    """Field path inside the resource, such as `spec.actions[0].url`."""
    rationale: str = ""
    """Why the rule exists, in one line."""
    hint: str = ""
    """How to fix it, in one line."""

    @property
    def is_error(self) -> bool:
        """Whether the finding blocks: an exit code of its own, a refused plan file."""
        return self.severity is FindingSeverity.ERROR

    def where(self) -> str:
        """`file:line:column`, as far as known; empty when the finding has no place."""
        if self.file is None:
            return ""
        parts = [self.file, *(str(n) for n in (self.line, self.column) if n is not None)]
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.where()
        who = f"{self.resource}: " if self.resource else ""
        field = f"{self.path}: " if self.path else ""
        head = f"{where}: " if where else ""
        return f"{head}{self.severity.value} [{self.rule}]: {who}{field}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The finding in the plan document (docs/plan-format.md)."""
        return {**dataclasses.asdict(self), "severity": self.severity.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Read one back; KeyError, TypeError or ValueError when it is not a finding."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"unknown finding keys: {', '.join(sorted(unknown))}")
        return cls(**{**data, "severity": FindingSeverity(data["severity"])})


def errors(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """The findings of error severity, in order."""
    return tuple(f for f in findings if f.is_error)
