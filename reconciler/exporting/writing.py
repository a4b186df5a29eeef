"""The text of an export: each document in canonical `osml fmt` form, and the README.

Documents are dumped with ruamel.yaml (comments kept) and passed through
`manifests.formatting.format_text`, so `osml fmt --check` on an export changes nothing.
The README lists every credential variable with the resource and field that reads it,
and what was left out. No time stamps: exporting the same cluster twice gives the same
bytes. Called by `exporting`; pure: writes no files.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from ruamel.yaml import YAML

from reconciler.cluster.snapshots import Snapshot
from reconciler.exporting.documents import Exported, Variable
from reconciler.manifests.formatting import WIDTH, format_text


def file_path(document: Exported) -> str:
    """`connectors/openai-chat.yaml`: one file per resource, one folder per kind."""
    return f"{document.folder}/{document.key.name}.yaml"


def render(document: Exported, *, snapshot: Snapshot) -> str:
    """One manifest file: a header comment, then the document in canonical form."""
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = WIDTH
    out = io.StringIO()
    yaml.dump(document.document, out)
    header = f"# Exported by osml export: {document.header}, {_cluster(snapshot)}.\n"
    return format_text(header + out.getvalue(), file=file_path(document))


def _cluster(snapshot: Snapshot) -> str:
    name = f"cluster {snapshot.cluster_name}" if snapshot.cluster_name else "the cluster"
    return f"{name} (version {snapshot.version})"


def readme(
    snapshot: Snapshot,
    documents: Sequence[Exported],
    variables: Sequence[Variable],
    notes: Sequence[str],
) -> str:
    """README.md beside the manifests: variables to set, what was left out, next steps."""
    lines = [
        "# Exported manifests",
        "",
        f"`osml export` wrote these {len(documents)} manifests from {_cluster(snapshot)}.",
        "Each resource keeps its live ID in the `osml/adopt-id` annotation: the next",
        "`osml plan` adopts exactly that resource instead of creating a new one.",
        "",
        "## Credentials",
        "",
    ]
    if variables:
        lines += [
            "The server never returns credentials, so each one reads an environment",
            "variable. Set these to the values the cluster was given before planning",
            "(or change the references to `fromFile` or `encrypted`):",
            "",
            "| variable | resource | field |",
            "| --- | --- | --- |",
            *(f"| `{v.name}` | `{v.resource}` | `{v.path}` |" for v in variables),
        ]
    else:
        lines.append("No credential is referenced.")
    lines += ["", "## Left out", ""]
    lines += [f"- {note}" for note in notes] or ["Nothing."]
    lines += [
        "",
        "## Next",
        "",
        "```sh",
        "osml plan PATH    # only adoptions (and credentials re-sent where osml can)",
        "osml apply PATH   # records the adoptions in the state index",
        "```",
        "",
    ]
    return "\n".join(lines)
