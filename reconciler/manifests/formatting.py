"""Canonical formatting of manifest files, comments kept (`osml fmt`).

`format_text(text)` parses YAML with ruamel.yaml's round-trip loader, which keeps
comments, key order, flow or block style and the quoting of each scalar, and dumps it
again in the canonical form of docs/manifests.md ("Formatting"): mappings indented by two
spaces, sequences by four with the dash at two, the envelope keys in the order
`apiVersion`, `kind`, `metadata`, `spec`, `lifecycle` (others after, as they were),
documents separated by `---` lines (none before the first), empty documents dropped, no
line re-wrapping, one newline at the end. Formatting never changes what a document means:
values and types stay exactly as written.

Called by `cli/fmt.py`; reads and writes no files itself and never prints.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reconciler.errors import ManifestError, Problem

ENVELOPE = ("apiVersion", "kind", "metadata", "spec", "lifecycle")
"""The order of the top-level keys of a document."""
WIDTH = 4096
"""Lines are never wrapped: a long string stays on its line."""


def format_text(text: str, *, file: str = "<text>") -> str:
    """`text` in canonical form; ManifestError (with the line) when it is not YAML."""
    yaml = _yaml()
    try:
        documents = [d for d in yaml.load_all(text) if d is not None]
    except YAMLError as exc:
        raise ManifestError([_problem(exc, file=file)]) from exc
    for document in documents:
        if isinstance(document, CommentedMap):
            _order_envelope(document)
    out = io.StringIO()
    if documents:
        yaml.dump_all(documents, out)
    head = _leading_comment(text) if not documents else ""
    return head + out.getvalue()


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = WIDTH
    yaml.explicit_start = False
    yaml.allow_duplicate_keys = False
    return yaml


def _order_envelope(document: CommentedMap) -> None:
    """Move the envelope keys to the front, in ENVELOPE order, keeping their comments."""
    present = [k for k in ENVELOPE if k in document]
    others = [k for k in document if k not in ENVELOPE]
    wanted: Iterable[Any] = [*present, *others]
    if list(document) == list(wanted):
        return
    for key in wanted:
        document.move_to_end(key)


def _leading_comment(text: str) -> str:
    """A file of comments only stays as it is (normalised to end in one newline)."""
    stripped = text.strip()
    return stripped + "\n" if stripped else ""


def _problem(exc: YAMLError, *, file: str) -> Problem:
    mark = exc.problem_mark if isinstance(exc, MarkedYAMLError) else None
    reason = exc.problem if isinstance(exc, MarkedYAMLError) and exc.problem else str(exc)
    if mark is None:
        return Problem(f"not valid YAML: {reason}", file=file)
    return Problem(
        f"not valid YAML: {reason}", file=file, line=mark.line + 1, column=mark.column + 1
    )
