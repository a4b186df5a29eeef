"""Facts about the model consumers the server fixes: processors that hold model or agent
IDs, with the release that added each and the keys their factories require, and the agent
types per release (docs/reference/consumers.md, "CONS", §4.2, §5).

Used by `manifests.consumer_checking`. Data only: no I/O, nothing of osml imported but the
version type.
"""

from __future__ import annotations

import dataclasses

from reconciler.mlcommons.versions import Version


@dataclasses.dataclass(frozen=True, slots=True)
class ProcessorFacts:
    """One processor type the contract fixes."""

    since: str
    """The first release (neural-search or ML Commons tag) that has it."""
    required: tuple[str, ...] = ()
    """Keys its factory requires; a missing one refuses the PUT (CONS §1.2)."""


INGEST_PROCESSORS: dict[str, ProcessorFacts] = {
    "text_embedding": ProcessorFacts("2.9", ("model_id", "field_map")),
    "sparse_encoding": ProcessorFacts("2.11", ("model_id", "field_map")),
    "text_image_embedding": ProcessorFacts("2.11", ("model_id", "embedding", "field_map")),
    "text_chunking": ProcessorFacts("2.13"),
    "ml_inference": ProcessorFacts("2.14", ("model_id",)),
}
"""CONS §5.1."""

SEARCH_PROCESSORS: dict[str, dict[str, ProcessorFacts]] = {
    "request_processors": {
        "neural_query_enricher": ProcessorFacts("2.11"),
        "ml_inference": ProcessorFacts("2.16", ("model_id",)),
        "agentic_query_translator": ProcessorFacts("3.2", ("agent_id",)),
    },
    "response_processors": {
        "retrieval_augmented_generation": ProcessorFacts("2.10", ("context_field_list",)),
        "rerank": ProcessorFacts("2.12", ("ml_opensearch", "context")),
        "ml_inference": ProcessorFacts("2.16", ("model_id",)),
    },
    "phase_results_processors": {
        "normalization-processor": ProcessorFacts("2.10"),
        "score-ranker-processor": ProcessorFacts("2.19"),
    },
}
"""CONS §5.2, per list of the search-pipeline body."""

AGENTS_SINCE = "2.12"
"""The agent APIs exist from 2.12 (CONS §4.1)."""

AGENT_UPDATE_SINCE = "3.1"
"""`PUT /_plugins/_ml/agents/{id}` exists from 3.1; before, a change is a new agent."""

_AGENT_TYPES: tuple[tuple[str, str], ...] = (
    ("2.12", "flow"),
    ("2.12", "conversational"),
    ("2.12", "conversational_flow"),
    ("3.0", "plan_execute_and_reflect"),
    ("3.5", "ag_ui"),
    ("3.6", "conversational_v2"),
)
# 2.12 checks no type at register but runs only these three (its executor's switch);
# 2.13 made them the `MLAgentType` enum (CONS §4.2).

_PROBED_TYPES: tuple[tuple[str, str], ...] = (
    ("2.12", "flow"),
    ("2.12", "conversational"),
    ("2.13", "conversational_flow"),
    ("3.0", "plan_execute_and_reflect"),
)
# The types whose execute takes the plain `{"parameters": {...}}` body and answers
# `inference_results` (CONS §4.8, `MLAgentExecutor.getAgentRunner`): before `MLAgentType`
# the executor's switch ran `flow` and `conversational` only. `ag_ui` and
# `conversational_v2` run too, but on the unified message input, which a probe does not
# speak; they are left out.

AGENT_SERVER_FIELDS = frozenset({"created_time", "last_updated_time", "is_hidden"})
"""Fields the server adds to a stored agent (CONS §4.3)."""

AGENT_NAME_MAX = 128
"""3.1+: longer agent names are refused (CONS §4.2)."""


def agent_types(version: Version) -> tuple[str, ...]:
    """The agent types `version` runs, lower-case."""
    return tuple(name for since, name in _AGENT_TYPES if version >= Version.parse(since))


def needs_model(agent_type: str, version: Version) -> bool:
    """Whether register refuses this type without `llm` (3.8: or `model`)."""
    types = {"conversational"}
    if version >= Version.parse("3.8"):
        types.add("plan_execute_and_reflect")
    return agent_type.lower() in types


def probed_agent_types(version: Version) -> tuple[str, ...]:
    """The agent types a `lifecycle.probe` can execute on `version`, lower-case."""
    return tuple(name for since, name in _PROBED_TYPES if version >= Version.parse(since))
