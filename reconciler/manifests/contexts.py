"""What the semantic checks know while they run: the target version and the whole manifest set.

`manifests.checking` builds one CheckContext per run (declared names, whether access control
is switched on by an AccessControl manifest, the effective trusted-endpoint list) and one
Reporter per document, which turns a message and a field path into a located Problem.
The check modules share these; nothing here checks anything, reads files or prints.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping

from reconciler.errors import Problem, Severity
from reconciler.manifests.loading import LoadedManifest
from reconciler.mlcommons.flavors import Flavor
from reconciler.mlcommons.versions import Capabilities, Version
from reconciler.resources import Kind

PathPart = str | int


@dataclasses.dataclass(frozen=True, slots=True)
class CheckContext:
    """Facts about the run that single-document checks need."""

    version: Version
    capabilities: Capabilities
    connectors: frozenset[str]
    """`metadata.name` of every Connector manifest."""
    model_groups: frozenset[str]
    """`metadata.name` of every ModelGroup manifest."""
    connector_access_control: bool
    """Switched on by an AccessControl manifest; off is the server default (§9)."""
    model_access_control: bool
    """Switched on by an AccessControl manifest; off is the server default (§9)."""
    trusted_patterns: tuple[str, ...]
    """The list connector URLs must match once osml's setting is applied (§3.1)."""
    mcp_connectors: frozenset[str] = frozenset()
    """Connector manifests with an MCP protocol; models cannot use them (§6.4)."""
    flavor: Flavor = Flavor.OPENSEARCH
    """Self-managed OpenSearch or an Amazon OpenSearch Service domain (`mlcommons.flavors`)."""
    declared: Mapping[Kind, frozenset[str]] = dataclasses.field(default_factory=dict)
    """`metadata.name` of every declared resource by kind (valid or not), which
    `{ref: Kind/NAME}` values in consumers may name."""
    unknown_settings: frozenset[Kind] = frozenset()
    """Settings kinds (TrustedEndpoints, AccessControl) declared by a document that failed
    its own schema: what they set is unknown, so the checks that depend on it are skipped
    rather than guessed."""


class Reporter:
    """Collects the problems of one document; `at()` narrows to a sub-object."""

    def __init__(
        self,
        document: LoadedManifest,
        problems: list[Problem],
        prefix: tuple[PathPart, ...] = (),
    ) -> None:
        self.document = document
        self.problems = problems
        self.prefix = prefix

    def at(self, *path: PathPart) -> Reporter:
        """A reporter whose paths start below `path` (e.g. an inline connector)."""
        return Reporter(self.document, self.problems, self.prefix + path)

    def error(self, message: str, *path: PathPart, key: bool = False) -> None:
        """Record an error at `path` below this reporter's prefix (at its key if `key`)."""
        self._add(message, path, Severity.ERROR, key=key)

    def warning(self, message: str, *path: PathPart, key: bool = False) -> None:
        """Record a warning at `path` below this reporter's prefix (at its key if `key`)."""
        self._add(message, path, Severity.WARNING, key=key)

    def _add(
        self, message: str, path: tuple[PathPart, ...], severity: Severity, *, key: bool
    ) -> None:
        full = self.prefix + path
        problem = self.document.problem(message, *full, severity=severity, key=key)
        self.problems.append(problem)


def did_you_mean(name: str, candidates: Iterable[str], *, cutoff: float = 0.75) -> str | None:
    """The candidate `name` most likely misspells, or None when nothing is close."""
    matches = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def needs(feature: str, since: str, *, version: Version) -> str:
    """The message for a field or value the target version does not know."""
    return f"{feature} needs ML Commons {since}+ (target is {version.short})"
