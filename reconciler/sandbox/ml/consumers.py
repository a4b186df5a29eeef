"""What differs between releases for the model consumers: pipelines' processors and agents.

`profiles.py` builds one `ConsumerProfile` per release into `Profile.consumers`, so the
pipeline handlers (`pipelining.py`) and the agent handlers (`ml/agents.py`,
`ml/agent_executing.py`) read their behaviour from the profile like every other handler.
Every gate cites the section of docs/reference/consumers.md ("CONS §n") it comes from. Data
only: no I/O, no sandbox imports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

Release = tuple[int, int]

# Processors of OpenSearch core and its bundled modules, present in every profile (2.9+).
# The sandbox accepts their configuration without checking it (docs/sandbox.md).
_CORE_INGEST = (
    "append", "bytes", "convert", "csv", "date", "date_index_name", "dissect", "dot_expander",
    "drop", "fail", "foreach", "geoip", "grok", "gsub", "html_strip", "join", "json", "kv",
    "lowercase", "pipeline", "remove", "rename", "script", "set", "sort", "split", "trim",
    "uppercase", "uri_parts", "urldecode", "user_agent",
)  # fmt: skip
_CORE_SEARCH_REQUEST = ("filter_query", "script", "oversample")
_CORE_SEARCH_RESPONSE = ("rename_field", "truncate_hits", "collapse", "sort", "split")

# Plugin processors that hold model or agent IDs, with the release that added them (CONS §5),
# and the keys their factories require, in the order the factories read them.
_PLUGIN_INGEST: tuple[tuple[Release, str, tuple[str, ...]], ...] = (
    ((2, 9), "text_embedding", ("model_id", "field_map")),
    ((2, 11), "sparse_encoding", ("model_id", "field_map")),
    ((2, 11), "text_image_embedding", ("model_id", "embedding", "field_map")),
    ((2, 13), "text_chunking", ()),
    ((2, 14), "ml_inference", ("model_id",)),
)
_PLUGIN_SEARCH_REQUEST: tuple[tuple[Release, str, tuple[str, ...]], ...] = (
    ((2, 11), "neural_query_enricher", ()),
    ((2, 16), "ml_inference", ("model_id",)),
    ((3, 2), "agentic_query_translator", ("agent_id",)),
)
_PLUGIN_SEARCH_RESPONSE: tuple[tuple[Release, str, tuple[str, ...]], ...] = (
    ((2, 10), "retrieval_augmented_generation", ()),
    ((2, 12), "rerank", ()),
    ((2, 16), "ml_inference", ("model_id",)),
)
_PLUGIN_SEARCH_PHASE: tuple[tuple[Release, str, tuple[str, ...]], ...] = (
    ((2, 10), "normalization-processor", ()),
    ((2, 19), "score-ranker-processor", ()),
)

# CONS §4.2: agent types and the release that added each; 2.12 checks no type at all.
_AGENT_TYPES: tuple[tuple[Release, str], ...] = (
    ((2, 13), "flow"),
    ((2, 13), "conversational"),
    ((2, 13), "conversational_flow"),
    ((3, 0), "plan_execute_and_reflect"),
    ((3, 5), "ag_ui"),
    ((3, 6), "conversational_v2"),
)


@dataclasses.dataclass(frozen=True)
class ConsumerProfile:
    """The consumer contract of one release (CONS §1-§5)."""

    ingest_processors: Mapping[str, tuple[str, ...]]
    """Ingest processor types the release knows -> keys their factory requires (§1.2, §5.1)."""
    search_processors: Mapping[str, Mapping[str, tuple[str, ...]]]
    """Per search-pipeline list (`request_processors`, ...) the same table (§2.2, §5.2)."""
    agents: bool
    """2.12+: the agent APIs exist (§4.1)."""
    agent_update: bool
    """3.1+: `PUT /agents/{id}` exists (§4.1, §4.6)."""
    agent_types: tuple[str, ...] | None
    """Types register accepts, lower-case; None at 2.12, which checks none (§4.2)."""
    agent_name_missing: str
    """§4.2: `agent name is null` (2.12), `Agent name can't be null` (2.13+)."""
    agent_name_length_check: bool
    """3.1+: a blank name or one over 128 characters is refused (§4.2)."""
    agent_invalid_type: str
    """§4.2: `{type} is not a valid Agent Type` (2.13-3.4), `Invalid Agent Type` (3.5+)."""
    agent_duplicate_tool: str
    """§4.2: `Duplicate tool defined: {name}` (-3.4), `... in agent configuration` (3.5+)."""
    agent_llm_required: tuple[str, ...]
    """Types that need `llm` (or, 3.8, `model`) at register (§4.2)."""
    agent_delete_missing: str | None
    """§4.4: None at 2.12 (200 `not_found`), else the 404 text (2.19: `Fail to find ml agent`)."""
    agent_delete_index_text: str | None
    """§4.4: None before 2.19 (the index's own 404), else `Failed to get agent index`."""
    agent_hidden_delete_text: str
    """§4.4: the 403 of a delete on a hidden agent."""
    agent_execute_missing: tuple[str, str]
    """§4.8: (Java class, details) of an execute on an unknown agent ID."""
    agent_type_update_refused: bool
    """3.4+: an update with a different `type` is a 400 `Agent type cannot be updated`."""


def consumer_profile(release: Release) -> ConsumerProfile:
    """The consumer contract of `release` (major, minor)."""
    return ConsumerProfile(
        ingest_processors=_table(_CORE_INGEST, _PLUGIN_INGEST, release),
        search_processors=MappingProxyType(
            {
                "request_processors": _table(_CORE_SEARCH_REQUEST, _PLUGIN_SEARCH_REQUEST, release),
                "response_processors": _table(
                    _CORE_SEARCH_RESPONSE, _PLUGIN_SEARCH_RESPONSE, release
                ),
                "phase_results_processors": _table((), _PLUGIN_SEARCH_PHASE, release),
            }
        ),
        agents=release >= (2, 12),
        agent_update=release >= (3, 1),
        agent_types=(
            tuple(name for since, name in _AGENT_TYPES if since <= release)
            if release >= (2, 13)
            else None
        ),
        **_agent_texts(release),
    )


def _agent_texts(release: Release) -> dict[str, Any]:
    new_texts = release >= (3, 5)
    return {
        "agent_name_missing": (
            "Agent name can't be null" if release >= (2, 13) else "agent name is null"
        ),
        "agent_name_length_check": release >= (3, 1),
        "agent_invalid_type": "Invalid Agent Type"
        if new_texts
        else "{type} is not a valid Agent Type",
        "agent_duplicate_tool": (
            "Duplicate tool defined in agent configuration"
            if new_texts
            else "Duplicate tool defined: {name}"
        ),
        "agent_llm_required": (
            ("conversational", "plan_execute_and_reflect")
            if release >= (3, 8)
            else ("conversational",)
            if release >= (2, 13)
            else ()
        ),
        "agent_delete_missing": (
            None
            if release < (2, 13)
            else "Fail to find ml agent"
            if release >= (2, 19)
            else "Failed to find agent with the provided agent id: {id}"
        ),
        "agent_delete_index_text": "Failed to get agent index" if release >= (2, 19) else None,
        "agent_hidden_delete_text": (
            "User doesn't have privilege to perform this operation on this agent"
            if release >= (2, 19)
            else "User doesn't have privilege to perform this operation on this hidden agent"
        ),
        "agent_execute_missing": (
            ("OpenSearchStatusException", "Failed to find agent with the provided agent id: {id}")
            if release >= (2, 19)
            else ("ResourceNotFoundException", "Agent not found")
        ),
        "agent_type_update_refused": release >= (3, 4),
    }


def _table(
    core: tuple[str, ...],
    plugins: tuple[tuple[Release, str, tuple[str, ...]], ...],
    release: Release,
) -> Mapping[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = dict.fromkeys(core, ())
    table.update({name: keys for since, name, keys in plugins if since <= release})
    return MappingProxyType(table)
