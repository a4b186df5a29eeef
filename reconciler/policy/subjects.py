"""What a rule looks at: one resource's manifest, its planned change, the environment.

`policy.evaluating` builds one Subject per manifest document (and, on a plan, one per
change that has no manifest, such as a prune's delete); built-in rules read the typed
manifest, CEL rules the plain data of the same resource and change that the JSON plan
format documents (docs/plan-format.md). Secrets are never here: manifests hold secret
references, and the change is the redacted one of the JSON view. Pure data and small
walkers over connector bodies; no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from reconciler.manifests.loading import LoadedManifest
from reconciler.manifests.locating import FieldPath
from reconciler.manifests.models import ConnectorManifest, ConnectorSpec, ModelManifest
from reconciler.mlcommons.templates import stringify_parameters, substitute
from reconciler.plans import Change


@dataclasses.dataclass(frozen=True)
class Subject:
    """One resource as the rules see it."""

    key: str
    """`Kind/name`."""
    document: LoadedManifest | None
    """Its manifest; None for a change without one (a delete of a pruned resource)."""
    change: Change | None = None
    """The planned change (unredacted: built-in rules read facts, never values)."""
    change_data: Mapping[str, Any] | None = None
    """The change as the JSON plan shows it (redacted), for CEL rules."""
    environment: str | None = None
    """The environment the run is for (`--env`), if one was named."""

    @property
    def kind(self) -> str:
        """The resource's kind, such as `Connector`."""
        return self.key.split("/", 1)[0]

    @property
    def action(self) -> str | None:
        """The planned action (`create`, ... `noop`); None without a plan."""
        return self.change.action.value if self.change is not None else None

    def resource_data(self) -> dict[str, Any] | None:
        """The manifest as plain data (aliases as written: `apiVersion`, `fromEnv`)."""
        if self.document is None:
            return None
        return self.document.manifest.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclasses.dataclass(frozen=True)
class ConnectorBody:
    """A connector body inside a manifest: a Connector's spec or a model's inline one."""

    spec: ConnectorSpec
    at: FieldPath
    """Where the body is in its document: `("spec",)` or `("spec", "connector")`."""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One URL a connector calls, with its `${parameters.*}` filled in from the body."""

    url: str
    """The URL after substitution (placeholders it cannot fill stay as written)."""
    at: FieldPath
    """Where the URL is written."""

    @property
    def scheme(self) -> str:
        """`http`, `https`, ... (lower case); empty when the URL has none."""
        return urlsplit(self.url).scheme.lower()

    @property
    def host(self) -> str | None:
        """The host name or address, lower case, without port or brackets; None when the
        URL has none or its host is still a placeholder."""
        try:
            host = urlsplit(self.url).hostname
        except ValueError:
            return None
        if not host or "${" in host or "$%7b" in host:
            return None
        return host.lower()


def connector_bodies(document: LoadedManifest) -> list[ConnectorBody]:
    """The connector bodies a manifest declares (none for other kinds)."""
    manifest = document.manifest
    if isinstance(manifest, ConnectorManifest):
        return [ConnectorBody(manifest.spec, ("spec",))]
    if isinstance(manifest, ModelManifest) and manifest.spec.inline_connector is not None:
        return [ConnectorBody(manifest.spec.inline_connector, ("spec", "connector"))]
    return []


def endpoints(body: ConnectorBody) -> Iterator[Endpoint]:
    """Every URL of a connector body: each action's, and an MCP connector's `url`."""
    parameters = stringify_parameters(body.spec.parameters)
    for index, action in enumerate(body.spec.actions):
        yield Endpoint(substitute(action.url, parameters), (*body.at, "actions", index, "url"))
    if body.spec.url is not None:
        yield Endpoint(substitute(body.spec.url, parameters), (*body.at, "url"))


def headers(body: ConnectorBody) -> Iterator[tuple[str, str, FieldPath]]:
    """(name, value, path) of every header of a connector body."""
    for name, value in (body.spec.headers or {}).items():
        yield name, value, (*body.at, "headers", name)
    for index, action in enumerate(body.spec.actions):
        for name, value in (action.headers or {}).items():
            yield name, value, (*body.at, "actions", index, "headers", name)
