"""The `policy:` section of the project file `osml.yaml`: which rules run, and how.

The project file sits beside the manifests; other top-level keys (`flavor:`, ...) belong
to other parts of osml and are left alone here. `find_project_file` says which file a
run uses; `read_policy` reads its `policy:` key into a Policy, every problem located at
its line (a rule that does not compile is an error at the line of its `deny`):

    policy:
      builtin:                       # built-in rules by ID (policy.rules)
        connector-plain-http: error  # a severity: error | warning | info, or off
        connector-host-not-allowed:
          severity: error
          hosts: ["api.openai.com", "*.amazonaws.com"]
          environments: [production] # run only for these environments (optional)
      rules:                         # user rules in CEL (policy.expressions)
        - id: no-gpt-3
          deny: resource.spec.parameters.model.startsWith("gpt-3")
          message: gpt-3 models are retired
          severity: error            # default error
          when: {kinds: [Connector], actions: [create, update], environments: [production]}

Reads one file; never prints, never evaluates a rule.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import ManifestError, Problem
from reconciler.findings import FindingSeverity
from reconciler.manifests.loading import PROJECT_FILE
from reconciler.manifests.locating import FieldPath, Positions, read_documents, render_path
from reconciler.plans import Action
from reconciler.policy.expressions import Program, compile_expression
from reconciler.policy.rules import RULES_BY_ID
from reconciler.resources import Kind

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_OFF = "off"
_SEVERITIES = [s.value for s in FindingSeverity]
_RULE_KEYS = ("id", "deny", "message", "severity", "when", "description", "hint")
_WHEN_KEYS = ("kinds", "actions", "environments")


@dataclasses.dataclass(frozen=True)
class RuleSetting:
    """How one built-in rule runs in this repository."""

    severity: FindingSeverity | None
    """None: the rule is off."""
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    environments: tuple[str, ...] | None = None
    """Run only for these environments; None: always."""


@dataclasses.dataclass(frozen=True)
class UserRule:
    """A CEL rule of the repository."""

    id: str
    deny: Program
    """True means the resource breaks the rule."""
    message: str
    severity: FindingSeverity = FindingSeverity.ERROR
    kinds: frozenset[str] | None = None
    actions: frozenset[str] | None = None
    environments: frozenset[str] | None = None
    description: str = ""
    hint: str = ""
    file: str | None = None
    """The project file and the line of `deny`, where a failing expression is reported."""
    line: int | None = None
    column: int | None = None


@dataclasses.dataclass(frozen=True)
class Policy:
    """The rules of one run: built-in settings and user rules."""

    builtin: Mapping[str, RuleSetting] = dataclasses.field(default_factory=dict)
    rules: tuple[UserRule, ...] = ()
    file: str | None = None
    """The project file read; None for the defaults."""

    def setting(self, rule_id: str) -> RuleSetting:
        """The setting of a built-in rule: the repository's, else the rule's defaults."""
        found = self.builtin.get(rule_id)
        if found is not None:
            return found
        rule = RULES_BY_ID[rule_id]
        return RuleSetting(rule.severity, dict(rule.params))


def find_project_file(paths: Sequence[str | Path], *, cwd: Path | None = None) -> Path | None:
    """The `osml.yaml` a run over manifest `paths` uses, or None.

    Looked for in the directory of the first path (the path itself when it is a
    directory), then each parent up to the current directory (when the manifests are
    inside it), then the current directory: the nearest one wins.
    """
    here = (cwd or Path.cwd()).resolve()
    start = Path(paths[0]) if paths else here
    directory = (start if start.is_dir() else start.parent).resolve()
    candidates = [directory]
    if directory.is_relative_to(here):
        candidates += [p for p in directory.parents if p.is_relative_to(here)]
    candidates.append(here)
    for candidate in dict.fromkeys(candidates):
        found = candidate / PROJECT_FILE
        if found.is_file():
            return _display(found, here)
    return None


def _display(path: Path, here: Path) -> Path:
    return path.relative_to(here) if path.is_relative_to(here) else path


def load_policy(file: str | Path | None) -> Policy:
    """The policy of `file` (defaults when None); ManifestError listing every problem."""
    policy, problems = read_policy(file)
    if problems:
        raise ManifestError(problems)
    return policy


def read_policy(file: str | Path | None) -> tuple[Policy, list[Problem]]:
    """Like `load_policy`, but the problems are returned."""
    if file is None:
        return Policy(), []
    name = str(file)
    try:
        text = Path(file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Policy(), [Problem(f"cannot read the project file: {exc}", file=name)]
    documents, problems = read_documents(text, file=name)
    if problems or not documents:
        return Policy(file=name), list(problems)
    reader = _Reader(documents[0].positions)
    data = documents[0].data
    section = data.get("policy") if isinstance(data, dict) else None
    if section is None:
        if not isinstance(data, dict):
            reader.problem("the project file must be a mapping", ())
        return Policy(file=name), reader.problems
    policy = reader.policy(section, name)
    return policy, reader.problems


class _Reader:
    """Reads the plain data of `policy:` and collects located problems."""

    def __init__(self, positions: Positions) -> None:
        self.positions = positions
        self.problems: list[Problem] = []

    def problem(self, message: str, at: FieldPath, *, key: bool = False) -> None:
        where = self.positions.locate(at, key=key)
        path = render_path(at) or None
        self.problems.append(
            Problem(message, file=where.file, line=where.line, column=where.column, path=path)
        )

    def policy(self, section: Any, file: str) -> Policy:
        at: FieldPath = ("policy",)
        if not self._mapping(section, at, allowed=("builtin", "rules")):
            return Policy(file=file)
        builtin = self._builtin(section.get("builtin") or {}, (*at, "builtin"))
        rules = self._rules(section.get("rules") or [], (*at, "rules"))
        return Policy(builtin, rules, file)

    # --- built-in rules ---------------------------------------------------------------

    def _builtin(self, data: Any, at: FieldPath) -> dict[str, RuleSetting]:
        settings: dict[str, RuleSetting] = {}
        if not self._mapping(data, at):
            return settings
        for rule_id, value in data.items():
            rule = RULES_BY_ID.get(rule_id)
            if rule is None:
                known = ", ".join(RULES_BY_ID)
                self.problem(f"unknown built-in rule {rule_id!r}; known: {known}", (*at, rule_id),
                             key=True)  # fmt: skip
                continue
            setting = self._setting(value, (*at, rule_id), defaults=rule.params,
                                    severity=rule.severity, choices=rule.choices)  # fmt: skip
            if setting is not None:
                settings[rule_id] = setting
        return settings

    def _setting(
        self, value: Any, at: FieldPath, *, defaults: Mapping[str, Any], severity: FindingSeverity,
        choices: Mapping[str, frozenset[str]],
    ) -> RuleSetting | None:  # fmt: skip
        if not isinstance(value, dict):
            ok, level = self._severity(value, at, default=severity, allow_off=True)
            return RuleSetting(level, dict(defaults)) if ok else None
        allowed = ("severity", "environments", *defaults)
        if not self._mapping(value, at, allowed=allowed):
            return None
        ok, level = self._severity(value.get("severity", severity), (*at, "severity"),
                                   default=severity, allow_off=True)  # fmt: skip
        if not ok:
            return None
        params = dict(defaults)
        for name, default in defaults.items():
            place = (*at, name)
            if (
                name in value
                and self._same_shape(value[name], default, place)
                and self._chosen(value[name], choices.get(name), place)
            ):
                params[name] = value[name]
        environments = self._strings(value.get("environments"), (*at, "environments"))
        return RuleSetting(level, params, environments)

    def _severity(
        self, value: Any, at: FieldPath, *, default: FindingSeverity, allow_off: bool
    ) -> tuple[bool, FindingSeverity | None]:
        """(valid, severity): None for `off` (YAML also reads a bare off as false);
        not valid when the value is wrong (reported)."""
        if value is True or value == "on":
            return True, default
        if allow_off and (value is False or value == _OFF):
            return True, None
        if isinstance(value, str) and value in _SEVERITIES:
            return True, FindingSeverity(value)
        choices = ", ".join([*_SEVERITIES, *([_OFF] if allow_off else [])])
        self.problem(f"severity must be one of {choices}, got {value!r}", at)
        return False, None

    def _same_shape(self, value: Any, default: Any, at: FieldPath) -> bool:
        if isinstance(default, list):
            return self._strings(value, at) is not None
        if isinstance(default, dict):
            if not self._mapping(value, at):
                return False
            return all(self._strings(v, (*at, k)) is not None for k, v in value.items())
        return True

    def _chosen(self, value: Any, choices: frozenset[str] | None, at: FieldPath) -> bool:
        """Whether every string of a parameter is one it may hold; each other one is
        reported at its place."""
        if choices is None:
            return True
        places = (
            [((*at, key, i), item) for key, items in value.items() for i, item in enumerate(items)]
            if isinstance(value, dict)
            else [((*at, i), item) for i, item in enumerate(value)]
        )
        wrong = [(place, item) for place, item in places if item not in choices]
        for place, item in wrong:
            known = ", ".join(sorted(choices))
            self.problem(f"unknown value {item!r}; known: {known}", place)
        return not wrong

    # --- user rules -------------------------------------------------------------------

    def _rules(self, data: Any, at: FieldPath) -> tuple[UserRule, ...]:
        if not isinstance(data, list):
            self.problem("rules must be a list of rules", at)
            return ()
        rules: list[UserRule] = []
        seen: set[str] = set()
        for index, item in enumerate(data):
            rule = self._rule(item, (*at, index))
            if rule is None:
                continue
            if rule.id in seen:
                self.problem(f"duplicate rule id {rule.id!r}", (*at, index, "id"))
                continue
            seen.add(rule.id)
            rules.append(rule)
        return tuple(rules)

    def _rule(self, data: Any, at: FieldPath) -> UserRule | None:
        if not self._mapping(data, at, allowed=_RULE_KEYS):
            return None
        rule_id, deny, message = data.get("id"), data.get("deny"), data.get("message")
        ok = self._required_text(rule_id, "id", at) & self._required_text(deny, "deny", at)
        ok &= self._required_text(message, "message", at)
        if not ok:
            return None
        if not _ID.match(rule_id) or rule_id in RULES_BY_ID:
            why = "is a built-in rule's" if rule_id in RULES_BY_ID else "is not a valid rule id"
            self.problem(f"{rule_id!r} {why} (letters, digits, '.', '_', '-')", (*at, "id"))
            return None
        program = compile_expression(deny)
        if isinstance(program, str):
            self.problem(f"rule {rule_id}: deny does not compile: {program}", (*at, "deny"))
            return None
        ok, level = self._severity(data.get("severity", "error"), (*at, "severity"),
                                   default=FindingSeverity.ERROR, allow_off=False)  # fmt: skip
        if not ok or level is None:
            return None
        when = self._when(data.get("when") or {}, (*at, "when"))
        if when is None:
            return None
        where = self.positions.locate((*at, "deny"))
        return UserRule(
            rule_id, program, message, level,
            kinds=when["kinds"], actions=when["actions"], environments=when["environments"],
            description=str(data.get("description") or ""), hint=str(data.get("hint") or ""),
            file=where.file, line=where.line, column=where.column,
        )  # fmt: skip

    def _when(self, data: Any, at: FieldPath) -> dict[str, frozenset[str] | None] | None:
        if not self._mapping(data, at, allowed=_WHEN_KEYS):
            return None
        choices = {"kinds": [k.value for k in Kind], "actions": [a.value for a in Action]}
        result: dict[str, frozenset[str] | None] = {}
        for name in _WHEN_KEYS:
            values = self._strings(data.get(name), (*at, name))
            if values is None:
                result[name] = None
                continue
            allowed = choices.get(name)
            bad = [v for v in values if allowed is not None and v not in allowed]
            if bad:
                self.problem(f"unknown {name}: {', '.join(bad)}; one of {', '.join(allowed or [])}",
                             (*at, name))  # fmt: skip
                return None
            result[name] = frozenset(values)
        return result

    # --- shapes -----------------------------------------------------------------------

    def _mapping(self, data: Any, at: FieldPath, *, allowed: Sequence[str] | None = None) -> bool:
        if not isinstance(data, dict):
            self.problem(f"expected a mapping, got {type(data).__name__}", at)
            return False
        unknown = [k for k in data if allowed is not None and k not in allowed]
        for key in unknown:
            self.problem(f"unknown key {key!r}; expected one of {', '.join(allowed or [])}",
                         (*at, key), key=True)  # fmt: skip
        return not unknown

    def _strings(self, value: Any, at: FieldPath) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem("expected a list of strings", at)
            return None
        return tuple(value)

    def _required_text(self, value: Any, name: str, at: FieldPath) -> bool:
        if isinstance(value, str) and value.strip():
            return True
        self.problem(f"{name} is required (a non-empty string)", (*at, name) if value else at)
        return False
