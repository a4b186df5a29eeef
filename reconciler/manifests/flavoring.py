"""Which flavor a run targets: what the repository declares, and whether the cluster agrees.

A flavor (`mlcommons.flavors`) is declared by `osml validate --flavor`, by `flavor:` in the
project file `osml.yaml`, or by `cluster.flavor` in an environment file (the most specific
wins: the command line, then the environment, then the project file). `plan`, `apply` and
`watch` also detect it from the cluster (`cluster.connecting`); `agree` then takes the
detected flavor and refuses a declaration that says otherwise, naming both.

Called by the CLI and `reconciling`; reads the project file and nothing else.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reconciler.errors import ManifestError, Problem
from reconciler.manifests.environments import Environment
from reconciler.manifests.locating import read_documents
from reconciler.mlcommons import flavors
from reconciler.mlcommons.flavors import Flavor


@dataclasses.dataclass(frozen=True, slots=True)
class Declared:
    """A flavor a repository declares, and where."""

    flavor: Flavor
    where: str
    """`osml.yaml:3:9`, `environments/prod.yaml:4:11` or `--flavor`."""


@dataclasses.dataclass(frozen=True, slots=True)
class Detected:
    """The flavor a cluster shows, and how it was told."""

    flavor: Flavor
    how: str
    """`SigV4 service es`, `GET / cluster_name 123456789012:search`, ..."""


def from_project_file(file: str | Path | None) -> Declared | None:
    """`flavor:` of the project file; None when there is no file or no key. A value that
    is not a flavor is a ManifestError at its line."""
    if file is None:
        return None
    try:
        text = Path(file).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # the policy reader reports an unreadable project file
    documents, _ = read_documents(text, file=str(file))
    data = documents[0].data if documents else None
    if not isinstance(data, dict) or data.get("flavor") is None:
        return None
    where = documents[0].positions.locate(("flavor",))
    raw = data["flavor"]
    try:
        flavor = flavors.parse(raw if isinstance(raw, str) else repr(raw))
    except ValueError as exc:
        problem = Problem(str(exc), file=where.file, line=where.line, column=where.column,
                          path="flavor")  # fmt: skip
        raise ManifestError([problem]) from exc
    return Declared(flavor, str(where))


def from_environment(environment: Environment | None) -> Declared | None:
    """`cluster.flavor` of an environment file, when it has one."""
    if environment is None or environment.cluster.flavor is None:
        return None
    where = environment.locate("cluster", "flavor")
    return Declared(Flavor(environment.cluster.flavor), str(where))


def declared(
    *,
    given: Flavor | None = None,
    environment: Environment | None = None,
    project_file: str | Path | None = None,
) -> Declared | None:
    """The most specific declaration: `given` (the command line), the environment's,
    the project file's; None when nothing declares one."""
    if given is not None:
        return Declared(given, "--flavor")
    return from_environment(environment) or from_project_file(project_file)


def agree(declaration: Declared | None, detected: Detected | None) -> Flavor:
    """The flavor of the run: the detected one, which a declaration must match; the
    declared one offline; the default with neither. ManifestError on a mismatch."""
    if detected is None:
        return declaration.flavor if declaration is not None else flavors.DEFAULT
    if declaration is None or declaration.flavor is detected.flavor:
        return detected.flavor
    message = (
        f"the manifests declare flavor {declaration.flavor} ({declaration.where}) but the "
        f"cluster is {detected.flavor} ({detected.how}); fix the declaration or the target"
    )
    raise ManifestError([Problem(message)])
