"""Checks of model-group names across the whole manifest set.

Called once per run by `manifests.checking`. Model-group names are unique cluster-wide
(reference §5.3), and a model registered without a group gets one implicitly (§6.3): on
2.9-2.10 the server always creates a group named after the model, from 2.11 it joins a
group of that name if one exists. Both make names collide across manifests in ways no
single document shows. Reports problems located in the offending document; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.errors import Problem
from reconciler.manifests.contexts import CheckContext, Reporter
from reconciler.manifests.loading import LoadedManifest
from reconciler.manifests.models import ModelGroupManifest, ModelManifest, server_name


def check_group_names(
    documents: Sequence[LoadedManifest], problems: list[Problem], *, context: CheckContext
) -> None:
    """Report duplicate group names and the collisions of models' implicit groups."""
    taken: dict[str, LoadedManifest] = {}
    for document in documents:
        manifest = document.manifest
        if isinstance(manifest, ModelGroupManifest):
            _claim(document, manifest, taken, Reporter(document, problems))
    for document in documents:
        manifest = document.manifest
        if isinstance(manifest, ModelManifest) and _implicit_group(manifest):
            _check_implicit(document, manifest, taken, Reporter(document, problems), context)


def _claim(
    document: LoadedManifest,
    manifest: ModelGroupManifest,
    taken: dict[str, LoadedManifest],
    report: Reporter,
) -> None:
    """§5.3: exact, case-sensitive uniqueness over the whole group index."""
    name = server_name(manifest)
    owner = taken.setdefault(name, document)
    if owner is not document:
        report.error(
            f"model group name '{name}' is already used by {owner.key}; "
            "the server requires model-group names to be unique",
            *_name_path(manifest),
        )


def _implicit_group(manifest: ModelManifest) -> bool:
    return manifest.spec.model_group is None and manifest.spec.model_group_id is None


def _check_implicit(
    document: LoadedManifest,
    manifest: ModelManifest,
    taken: dict[str, LoadedManifest],
    report: Reporter,
    context: CheckContext,
) -> None:
    name = server_name(manifest)
    owner = taken.get(name)
    if context.capabilities.reuse_same_named_group:
        # §6.3, 2.11+: the model silently joins the same-named group.
        if owner is not None and isinstance(owner.manifest, ModelGroupManifest):
            report.warning(
                f"without model_group, the server adds this model to the model group named "
                f"'{name}' ({owner.key}) because the names match; set model_group: "
                f"{owner.key.name} to say so",
                *_name_path(manifest),
            )
        return
    # §6.3, 2.9-2.10: a new group named after the model, every time.
    if owner is None:
        taken[name] = document
        return
    report.error(
        f"without model_group, ML Commons {context.version.short} creates a model group "
        f"named '{name}' for this model, but {owner.key} already takes that name; the "
        "server refuses the model because model-group names are unique",
        *_name_path(manifest),
    )


def _name_path(manifest: ModelGroupManifest | ModelManifest) -> tuple[str, str]:
    return ("spec", "name") if manifest.spec.name is not None else ("metadata", "name")
