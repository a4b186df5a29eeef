"""Environment files: one manifest set, several targets (`environments/<NAME>.yaml`).

An environment file holds three things, never a secret:

    cluster:    how to reach that environment's cluster (the connection options by name,
                `password_env` naming the variable that holds the password) and the
                ML Commons `version` that `osml validate` checks it against;
    values:     what `${env.NAME}` stands for in any manifest string (`manifests.overlaying`);
    overrides:  per-resource JSON merge patches on `spec` and `lifecycle`, keyed `Kind/name`.

`load_environment` reads and checks one file, keeping the source position of every node so
that a problem in a patched value points at the environment file's line. `environment_dir`
finds the folder beside the manifests, `list_environments` the files in it. This module
reads files and nothing else: it does not connect, print, or touch the manifests
(`manifests.overlaying` applies an environment to them).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reconciler.errors import ManifestError, Problem
from reconciler.manifests.explaining import explain_validation_error
from reconciler.manifests.locating import Positions, SourceLocation, read_documents
from reconciler.resources import ResourceKey

__all__ = [
    "DEFAULT_DIR",
    "ClusterSettings",
    "Environment",
    "environment_dir",
    "list_environments",
    "load_environment",
]

DEFAULT_DIR = "environments"
"""The folder of environment files, beside the manifests folder."""
NAME = re.compile(r"[a-z0-9]([a-z0-9_-]{0,62}[a-z0-9])?")
"""An environment name: the file's stem, lower case, as it appears in plan and CI names."""
VALUE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""The NAME of `${env.NAME}`."""
PATCHABLE = ("spec", "lifecycle")
"""What an override may patch; identity (`kind`, `metadata`) stays the manifest's."""
_SECRET_KEYS = {"password", "token", "secret", "api_key", "headers"}
_SUFFIXES = (".yaml", ".yml")


class ClusterSettings(BaseModel):
    """The `cluster:` block: the connection options of `osml plan` by name, minus secrets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = None
    """The cluster's base URL (`--cluster`)."""
    version: str | None = None
    """The ML Commons version `osml validate` checks this environment against."""
    flavor: Literal["opensearch", "aws-managed"] | None = None
    """Self-managed OpenSearch or an Amazon OpenSearch Service domain; `osml validate`
    checks for it, and plan and apply refuse a cluster that shows the other one."""
    username: str | None = None
    """Basic-auth user (`--username`); the password comes from `password_env`."""
    password_env: str | None = None
    """The environment variable that holds the password (the value is never in the file)."""
    ca_certs: str | None = None
    """PEM bundle of CAs to trust, relative to the environment file."""
    client_cert: str | None = None
    """PEM client certificate (mutual TLS), relative to the environment file."""
    client_key: str | None = None
    """Private key of `client_cert`, relative to the environment file."""
    insecure: bool | None = None
    """Do not verify the server's TLS certificate."""
    request_timeout: str | float | None = None
    """How long to wait for each response: a duration such as 30s."""
    aws_sigv4: str | None = None
    """Sign requests with AWS SigV4 for this region."""
    aws_service: Literal["es", "aoss"] | None = None
    """SigV4 service: es (managed) or aoss (serverless)."""
    state_index: str | None = None
    """The index where osml keeps its state on this cluster."""
    sandbox: str | None = None
    """Use the built-in sandbox persisted in this data file (relative to the environment
    file) instead of a URL."""
    sandbox_version: str | None = None
    """The ML Commons release that sandbox emulates."""

    @field_validator("password_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError("expected the name of an environment variable, not a value")
        return value


class _File(BaseModel):
    """The whole environment file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = None
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    values: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Override:
    """One resource's patch, and where it is written."""

    key: ResourceKey
    """The resource it patches."""
    patch: Mapping[str, Any]
    """`{"spec": {...}, "lifecycle": {...}}`, a JSON merge patch of each (RFC 7386)."""
    path: tuple[str, ...]
    """Where the patch is in the environment file: ("overrides", "Model/chat")."""


@dataclasses.dataclass(frozen=True)
class Environment:
    """One checked environment file."""

    name: str
    """The file's stem: `prod` for environments/prod.yaml."""
    file: str
    """The file as found (relative where the manifests path was)."""
    cluster: ClusterSettings
    values: Mapping[str, Any]
    overrides: Mapping[ResourceKey, Override]
    positions: Positions = dataclasses.field(repr=False, compare=False)
    """Where each node of the file is."""

    def locate(self, *path: str | int, key: bool = False) -> SourceLocation:
        """The location of the node at `path` in the environment file."""
        return self.positions.locate(path, key=key)

    def relative(self, path: str) -> str:
        """A path written in the file, taken relative to the file's folder."""
        return path if os.path.isabs(path) else os.path.join(os.path.dirname(self.file), path)


def environment_dir(paths: Sequence[str | Path], *, given: str | Path | None = None) -> Path:
    """Where the environment files are: `given` (`--env-dir`), else the `environments/`
    folder beside the first manifest path's folder (`manifests/` -> `environments/`,
    `site/manifests/x.yaml` -> `site/environments/`)."""
    if given is not None:
        return Path(given)
    first = Path(os.path.normpath(paths[0])) if paths else Path("manifests")
    folder = first.parent if first.is_file() or first.suffix in _SUFFIXES else first
    if folder.name in ("", ".", ".."):
        return folder.resolve().parent / DEFAULT_DIR
    return folder.parent / DEFAULT_DIR


def list_environments(directory: Path) -> list[Path]:
    """The environment files in `directory` (not its subfolders), sorted; [] if none."""
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.iterdir()
        if p.is_file() and p.suffix in _SUFFIXES and not p.name.startswith(".")
    )  # fmt: skip


def find_environment(directory: Path, name: str) -> Path:
    """The file of environment `name` in `directory`; ManifestError naming the others."""
    found = {p.stem: p for p in list_environments(directory)}
    if name in found:
        return found[name]
    if not found:
        reason = f"there is no environment file in {directory}"
        if not directory.is_dir():
            reason = f"{directory} does not exist (give --env-dir)"
        raise ManifestError([Problem(f"no environment '{name}': {reason}")])
    close = difflib.get_close_matches(name, list(found), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"there are: {', '.join(sorted(found))}"
    raise ManifestError([Problem(f"no environment '{name}' in {directory}; {hint}")])


def load_environment(file: str | Path) -> Environment:
    """Read and check one environment file; ManifestError listing every problem in it."""
    shown = str(file)
    name = Path(shown).stem
    try:
        text = Path(shown).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid UTF-8 text"
        raise ManifestError([Problem(f"cannot read: {reason}", file=shown)]) from exc
    documents, problems = read_documents(text, file=shown)
    problems += [p for d in documents for p in d.problems]
    if not NAME.fullmatch(name):
        problems.append(
            Problem(
                "an environment file is named for its environment: lower-case letters, "
                "digits, '-' and '_' (e.g. prod.yaml)",
                file=shown,
            )
        )
    if len(documents) > 1:
        where = documents[1].positions.start
        problems.append(_at(where, "an environment file holds one YAML document"))
    data = documents[0].data if documents else {}
    positions = documents[0].positions if documents else _empty(shown)
    if problems:
        raise ManifestError(problems)
    return _checked(name, shown, data, positions)


def _checked(name: str, file: str, data: Any, positions: Positions) -> Environment:
    if not isinstance(data, dict):
        raise ManifestError([_at(positions.start, "an environment file is a mapping")])
    problems = _secret_problems(data, positions)
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        findings = explain_validation_error(exc, model=_File, data=data)
        problems += [
            _at(positions.locate(f.path, key=f.at_key), f.message, path=_dotted(f.path))
            for f in findings
        ]
        raise ManifestError(problems) from exc
    problems += _value_problems(parsed.values, positions)
    overrides: dict[ResourceKey, Override] = {}
    for target, patch in parsed.overrides.items():
        override = _override(target, patch, positions, problems)
        if override is not None:
            overrides[override.key] = override
    if problems:
        raise ManifestError(problems)
    return Environment(name, file, parsed.cluster, parsed.values, overrides, positions)


def _secret_problems(data: Mapping[str, Any], positions: Positions) -> list[Problem]:
    cluster = data.get("cluster")
    if not isinstance(cluster, dict):
        return []
    return [
        _at(
            positions.locate(("cluster", key), key=True),
            f"an environment file never holds secrets: name the variable that holds it "
            f"({'password_env' if key == 'password' else 'an option or its variable'}) instead",
            path=f"cluster.{key}",
        )
        for key in cluster
        if key in _SECRET_KEYS
    ]


def _value_problems(values: Mapping[str, Any], positions: Positions) -> list[Problem]:
    return [
        _at(
            positions.locate(("values", name), key=True),
            f"'{name}' cannot be a value name: letters, digits and '_', not starting "
            "with a digit (it is used as ${env." + name + "})",
            path="values",
        )
        for name in values
        if not VALUE_NAME.fullmatch(name)
    ]


def _override(
    target: str, patch: Mapping[str, Any], positions: Positions, problems: list[Problem]
) -> Override | None:
    path = ("overrides", target)
    try:
        key = ResourceKey.parse(target)
    except ValueError as exc:
        problems.append(_at(positions.locate(path, key=True), f"{exc}", path="overrides"))
        return None
    for field in patch:
        if field not in PATCHABLE:
            message = (
                f"an override patches only {' and '.join(PATCHABLE)}; '{field}' is the "
                "manifest's own"
            )
            problems.append(_at(positions.locate((*path, field), key=True), message))
    return Override(key, patch, path)


def _dotted(path: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in path)


def _empty(file: str) -> Positions:
    start = SourceLocation(file, 1, 1)
    return Positions(start=start, values={}, keys={})


def _at(where: SourceLocation, message: str, *, path: str | None = None) -> Problem:
    return Problem(message, file=where.file, line=where.line, column=where.column, path=path)
