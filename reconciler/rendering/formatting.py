"""Pieces shared by the plan views: action symbols and words, value text, summaries.

`text` and `markdown` build their output from these; `jsonview` uses only the counts.
Everything here takes values that `redacting` has already cleaned and returns strings;
nothing here prints. The symbols are documented in docs/plan-format.md.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from reconciler.plans import (
    Action,
    Change,
    ClusterIdentity,
    FieldChange,
    Plan,
    Strategy,
    references_in,
)
from reconciler.rendering.redacting import Redacted, ref_text, safe_url
from reconciler.resources import Kind, ResourceKey

SYMBOLS: Mapping[Action, str] = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.REPLACE: "-/+",
    Action.DELETE: "-",
    Action.DEPLOY: ">",
    Action.UNDEPLOY: "<",
    Action.REDEPLOY: "<>",
    Action.ADOPT: "<=",
    Action.PROBE: "?",
    Action.NOOP: " ",
}
"""The display symbol of each action (Terraform's where one exists)."""

STRATEGIES: Mapping[Strategy, str] = {
    Strategy.IN_PLACE: "in place (no deployed model uses it)",
    Strategy.SWAP: "swap (create a new connector, repoint the models, delete the old one)",
    Strategy.RECREATE: "recreate (undeploy the models, change the connector, redeploy them)",
    Strategy.REREGISTER: (
        "reregister (create the new connector, register the models again on it, "
        "delete the old connector after the last old model)"
    ),
}
"""How a connector change reaches its models (reference §2.9), in words."""

CORE_ACTIONS = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE, Action.DEPLOY)
"""Always shown in the summary line, even at zero."""
EXTRA_ACTIONS = (Action.UNDEPLOY, Action.REDEPLOY, Action.ADOPT, Action.PROBE)
"""Appended to the summary line only when non-zero, so the common line stays short."""

NO_CHANGES = "No changes. The cluster matches the manifests."
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_COLOUR = re.compile(
    r"\x1b\[(?:0|1|2|3[1-6])m|[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]"
)
MAX_VALUE = 120
"""Longest single-line value shown before it is cut with `...`."""


def summary_line(plan: Plan) -> str:
    """`Plan: 2 to create, 1 to update, 1 to replace, 0 to delete, 1 to deploy.`

    Counts are `Plan.counts()` (a create that deploys counts a deploy too), the same
    things the apply's summary counts. Orphans follow: `; 2 left for --prune` (pruning
    off) or `; 1 kept by prevent_destroy` (pruning on).
    """
    left = _orphan_count(plan)
    if not plan.has_changes:
        return NO_CHANGES if not left else f"{NO_CHANGES[:-1]}; {left}."
    counts = plan.counts()
    shown = [*CORE_ACTIONS, *(a for a in EXTRA_ACTIONS if counts[a])]
    line = "Plan: " + ", ".join(f"{counts[a]} to {a.value}" for a in shown)
    return f"{line}; {left}." if left else f"{line}."


def _orphan_count(plan: Plan) -> str:
    if not plan.orphans:
        return ""
    if plan.prune:
        return f"{len(plan.orphans)} kept by prevent_destroy"
    return f"{len(plan.orphans)} left for --prune"


def cluster_title(cluster: ClusterIdentity) -> str:
    """`name (url)` or just the URL, with any password taken out."""
    url = safe_url(cluster.url)
    return f"{cluster.cluster_name} ({url})" if cluster.cluster_name else url


def orphan_note(plan: Plan) -> str:
    """Why an orphan stays: pruning is off, or (with pruning on) `prevent_destroy`."""
    if plan.prune:
        return "lifecycle.prevent_destroy is set; not deleted"
    return "not in the manifests; run with --prune to delete"


def header(change: Change) -> str:
    """`Connector/openai-chat (id abc123, then deploy)`: the key and what identifies it."""
    notes = []
    if change.live_id:
        notes.append(f"id {change.live_id}")
    if change.deploy_after and change.action is not Action.DEPLOY:
        notes.append("then deploy")
    if change.undeploy_first:
        notes.append("undeploy first")
    if change.state_only:
        notes.append("state only")
    return f"{change.key}" + (f" ({', '.join(notes)})" if notes else "")


def detail_lines(change: Change) -> list[str]:
    """`strategy: ...`, `downtime: ...`, `affected: ...`, `old one deleted after: ...`,
    `probe: ...` when they apply."""
    lines = []
    if change.strategy is not None:
        lines.append(f"strategy: {STRATEGIES[change.strategy]}")
        lines.append(f"downtime: {change.downtime or 'none'}")
    elif change.downtime:
        lines.append(f"downtime: {change.downtime}")
    if change.affected:
        lines.append("affected: " + ", ".join(str(k) for k in change.affected))
    if change.retire_after:
        lines.append("old one deleted after: " + ", ".join(str(k) for k in change.retire_after))
    if change.probe is not None:
        after = "apply" if change.key.kind is Kind.AGENT else "deploy"
        when = "probe" if change.action is Action.PROBE else f"probe after {after}"
        lines.append(f"{when}: {value_text(change.probe)}")
    return lines


def reference_lines(change: Change, plan: Plan) -> list[str]:
    """For a pipeline or agent: each `{ref: Kind/NAME}` in its body and the ID it resolves
    to (`processors[0].text_embedding.model_id: {ref: Model/embed} = Xc1...`), or that the
    ID is known only once this apply created or replaced it."""
    if not change.key.kind.is_consumer or not change.after or change.action is Action.DELETE:
        return []
    lines = []
    for path, target in references_in(change.after):
        planned = plan.get(target)
        renewed = planned is not None and (
            planned.action in (Action.CREATE, Action.REPLACE) or planned.strategy is Strategy.SWAP
        )
        if renewed:
            resolved = "(known after apply)"
        elif planned is not None and planned.live_id:
            resolved = planned.live_id
        else:
            resolved = "(not in this plan)"
        lines.append(f"{path}: {{ref: {target}}} = {resolved}")
    return lines


def referenced(changes: Iterable[Change]) -> set[ResourceKey]:
    """What the references of these pipelines and agents name (`reference_lines`)."""
    return {
        target
        for change in changes
        if change.key.kind.is_consumer and change.after
        for _, target in references_in(change.after)
    }


def consumer_lines(change: Change) -> list[str]:
    """`consumers:` and one line per pipeline, agent or index that uses what the change
    deletes, re-IDs or takes offline (`planning.impacts`)."""
    return [f"  {line}" for line in change.consumers]


def pending_dependencies(change: Change, plan: Plan) -> list[str]:
    """The dependencies worth showing: those that change in this same plan.

    A dependency on something that already exists and does not change says nothing a
    reviewer needs; one on a resource created or replaced first explains the order.
    """
    changing = {c.key for c in plan.changes if c.is_change}
    return [str(k) for k in change.depends_on if k in changing]


def displayed_fields(change: Change) -> tuple[FieldChange, ...]:
    """The field changes a view lists; for a create without any, the body's fields."""
    if change.fields or change.action not in (Action.CREATE, Action.ADOPT):
        return change.fields
    if not change.after:
        return ()
    return tuple(FieldChange(path=p, after=v) for p, v in flatten(change.after))


def flatten(body: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Paths such as `parameters.model` and `actions[0].url` of the leaves of a body;
    lists of anything but mappings (and reference markers) stay whole values."""
    for key, value in body.items():
        yield from _leaves(value, f"{prefix}.{key}" if prefix else str(key))


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value and ref_text(value) is None:
        yield from flatten(value, path)
    elif _is_table(value):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _is_table(value: Any) -> bool:
    items = value if isinstance(value, list | tuple) else ()
    return bool(items) and all(isinstance(i, Mapping) and ref_text(i) is None for i in items)


def is_list_change(field: FieldChange) -> bool:
    """Whether both sides are lists, best shown item by item (trusted endpoints)."""
    return not field.sensitive and all(
        isinstance(v, list | tuple) for v in (field.before, field.after)
    )


def list_diff(before: Any, after: Any) -> tuple[list[tuple[str, str]], int]:
    """(`+`/`-`, item text) for each item added or removed, and how many stayed."""
    old = [value_text(v) for v in before]
    new = [value_text(v) for v in after]
    lines: list[tuple[str, str]] = []
    kept = 0
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            kept += i2 - i1
            continue
        lines += [("-", text) for text in old[i1:i2]]
        lines += [("+", text) for text in new[j1:j2]]
    return lines, kept


def field_symbol(field: FieldChange) -> str:
    """`+` added, `-` removed, `~` changed (and for every sensitive field)."""
    if field.sensitive:
        return "~"
    if field.before is None:
        return "+"
    if field.after is None:
        return "-"
    return "~"


def is_multiline(field: FieldChange) -> bool:
    """Whether the field is best shown as a unified diff (request bodies, scripts)."""
    values = (field.before, field.after)
    return not field.sensitive and any(isinstance(v, str) and "\n" in v for v in values)


def text_diff(before: Any, after: Any) -> list[str]:
    """Unified diff hunks (no file headers) between two multi-line strings."""
    old = before.splitlines() if isinstance(before, str) else []
    new = after.splitlines() if isinstance(after, str) else []
    lines = difflib.unified_diff(old, new, lineterm="", n=2)
    return [line for line in lines if not line.startswith(("---", "+++"))]


def value_text(value: Any, *, limit: int = MAX_VALUE) -> str:
    """A compact JSON-ish rendering, cut to `limit` characters with `...`."""
    text = _compact(value)
    if len(text) > limit:
        return text[: limit - 3] + "..."
    return text


def _compact(value: Any) -> str:
    if isinstance(value, Redacted):
        return str(value)
    ref = ref_text(value)
    if ref is not None:
        return f"(id of {ref})"
    if isinstance(value, Mapping):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}: {_compact(v)}" for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    if value is None or isinstance(value, bool | int | float | str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(str(value), ensure_ascii=False)


def count_words(items: Iterable[tuple[int, str]]) -> str:
    """`2 created, 1 updated` from (count, word) pairs."""
    return ", ".join(f"{n} {word}" for n, word in items)


def printable(text: str, *, keep_colour: bool = False) -> str:
    """`text` with control characters shown as `\\x1b`, so that names, reasons and
    server messages cannot move the cursor or rewrite a terminal line, and lone
    surrogates (which no encoding can write) as `\\udcff`. With `keep_colour`, plain
    SGR colour codes (the only ones views emit) stay."""
    pattern = _CONTROL_BUT_COLOUR if keep_colour else _CONTROL
    return pattern.sub(_escape_control, text)


def _escape_control(match: re.Match[str]) -> str:
    found = match.group()
    if len(found) > 1:
        return found
    code = ord(found)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
