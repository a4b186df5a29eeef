"""Offline checks of the consumer kinds: IngestPipeline, SearchPipeline and Agent
(docs/reference/consumers.md, "CONS").

Called by `manifests.checking` for each consumer document. It checks what the server's
contract fixes and a plan could not fix later: references `{ref: Kind/NAME}` that name no
declared resource (with a did-you-mean) or the wrong kind, processors the target release
lacks or whose required keys are missing (CONS §5), agent types per release, tool and LLM
shapes (CONS §4.2). Other processors are the server's business and are left alone. Pure: no
network, nothing printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.manifests.contexts import CheckContext, Reporter, did_you_mean, needs
from reconciler.manifests.models import (
    AgentManifest,
    IngestPipelineManifest,
    SearchPipelineManifest,
)
from reconciler.manifests.references import find_references
from reconciler.mlcommons import consumers
from reconciler.mlcommons.consumers import ProcessorFacts
from reconciler.mlcommons.versions import Version


def check_references(spec: Any, report: Reporter, context: CheckContext, *, own: str) -> None:
    """Every `{ref: ...}` in `spec` must name a declared Model, Connector or Agent; an agent
    must not name itself (`own` is `Agent/NAME` for agents, else empty)."""
    for ref in find_references(spec):
        if ref.key is None:
            report.error(f"{ref.text}: {ref.problem}", *ref.path)
            continue
        if str(ref.key) == own:
            report.error(f"{ref.text}: an agent cannot reference itself", *ref.path)
            continue
        declared = context.declared.get(ref.key.kind, frozenset())
        if ref.key.name not in declared:
            guess = did_you_mean(ref.key.name, declared)
            hint = f"; did you mean {ref.key.kind.value}/{guess}?" if guess else ""
            report.error(f"{ref.text} is not defined{hint}", *ref.path)


def check_ingest_pipeline(
    manifest: IngestPipelineManifest, report: Reporter, context: CheckContext
) -> None:
    """CONS §1.2, §5.1."""
    spec = manifest.spec
    at = report.at("spec")
    check_references(spec.model_dump(exclude_none=True), at, context, own="")
    _check_processors(spec.processors, at, "processors", consumers.INGEST_PROCESSORS, context)
    if spec.on_failure is not None:
        if not spec.on_failure:
            at.error("the server refuses an empty on_failure list", "on_failure")
        _check_processors(spec.on_failure, at, "on_failure", consumers.INGEST_PROCESSORS, context)


def check_search_pipeline(
    manifest: SearchPipelineManifest, report: Reporter, context: CheckContext
) -> None:
    """CONS §2.2, §5.2."""
    spec = manifest.spec
    at = report.at("spec")
    check_references(spec.model_dump(exclude_none=True), at, context, own="")
    for field, table in consumers.SEARCH_PROCESSORS.items():
        processors = getattr(spec, field)
        if processors is not None:
            _check_processors(processors, at, field, table, context)


def _check_processors(
    processors: list[dict[str, Any]],
    report: Reporter,
    field: str,
    table: Mapping[str, ProcessorFacts],
    context: CheckContext,
) -> None:
    for index, entry in enumerate(processors):
        if len(entry) != 1:
            report.error("a processor is a mapping with exactly one key, its type", field, index)
            continue
        [(name, config)] = entry.items()
        facts = table.get(name)
        if facts is None:
            continue
        if context.version < Version.parse(facts.since):
            report.error(
                needs(f"processor {name}", facts.since, version=context.version),
                field,
                index,
                name,
                key=True,
            )
        if not isinstance(config, Mapping):
            report.error(f"the {name} processor takes a mapping", field, index, name)
            continue
        for key in facts.required:
            if config.get(key) is None:
                report.error(f"{name} needs {key}", field, index, name)
        _check_processor_values(name, config, report.at(field, index, name))


def _check_processor_values(name: str, config: Mapping[str, Any], report: Reporter) -> None:
    if name == "retrieval_augmented_generation":
        fields = config.get("context_field_list")
        if isinstance(fields, list) and not fields:
            report.error("context_field_list must not be empty", "context_field_list")
    elif name == "rerank":
        reranker = config.get("ml_opensearch")
        if isinstance(reranker, Mapping) and reranker.get("model_id") is None:
            report.error("rerank needs ml_opensearch.model_id", "ml_opensearch")
        context_config = config.get("context")
        if isinstance(context_config, Mapping) and not context_config.get("document_fields"):
            report.error("rerank needs context.document_fields", "context")


def check_agent(manifest: AgentManifest, report: Reporter, context: CheckContext) -> None:
    """CONS §4.2."""
    spec, version = manifest.spec, context.version
    at = report.at("spec")
    if version < Version.parse(consumers.AGENTS_SINCE):
        at.error(needs("the Agent kind", consumers.AGENTS_SINCE, version=version), "type")
        return
    check_references(
        spec.model_dump(exclude_none=True), at, context, own=f"Agent/{manifest.metadata.name}"
    )
    types = consumers.agent_types(version)
    if spec.type.lower() not in types:
        known = ", ".join(types)
        at.error(f"agent type {spec.type} is not one of {version.short}'s: {known}", "type")
    elif consumers.needs_model(spec.type, version) and spec.llm is None and spec.model is None:
        at.error(f"a {spec.type} agent needs llm (the model that reasons)", "type")
    name = spec.name or manifest.metadata.name
    if version >= Version.parse("3.1") and len(name) > consumers.AGENT_NAME_MAX:
        at.error(f"agent names are at most {consumers.AGENT_NAME_MAX} characters", "name")
    if spec.llm is not None and spec.llm.get("model_id") is None:
        at.error("llm needs model_id", "llm")
    _check_tools(spec.tools or [], at)
    if manifest.lifecycle.probe is not None:
        _check_probe(spec.type, report.at("lifecycle", "probe"), version)


def _check_probe(agent_type: str, report: Reporter, version: Version) -> None:
    """A probe executes the agent (CONS §4.8): only types whose execute takes the plain
    `parameters` body on this release."""
    types = consumers.probed_agent_types(version)
    if agent_type.lower() not in types:
        known = ", ".join(types)
        report.error(
            f"agents of type {agent_type} cannot be probed on {version.short} "
            f"(probes execute {known} agents)"
        )


def _check_tools(tools: list[dict[str, Any]], report: Reporter) -> None:
    seen: dict[str, int] = {}
    for index, tool in enumerate(tools):
        tool_type = tool.get("type")
        if not isinstance(tool_type, str):
            report.error("a tool needs a type", "tools", index)
            continue
        label = str(tool.get("name") or tool_type)
        if label in seen:
            report.error(
                f"tool {label} is defined twice (also tools[{seen[label]}]); "
                "give one a different name",
                "tools",
                index,
            )
        seen.setdefault(label, index)
        parameters = tool.get("parameters") or {}
        if tool_type == "MLModelTool" and parameters.get("model_id") is None:
            report.error("an MLModelTool needs parameters.model_id", "tools", index)
