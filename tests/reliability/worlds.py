"""Desired states for the reliability suites: a small `World` of groups, connectors and
models, the hypothesis strategies that draw worlds and edit sequences, and the manifests a
world is written as.

A World is plain data, so a failing example prints as something a human can read and
replay. Edits are the ones an operator makes in Git: add, change, remove and rename
resources, rotate the API key, flip a model's deploy state. The suites in this folder
draw from here; nothing here talks to a cluster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from reconciler.sandbox.ml.profiles import PROFILES as SANDBOX_PROFILES

SECRET_VARIABLE = "TEST_API_KEY"
FLAGGED = "2.11-flag"
"""2.11 with `plugins.ml_commons.update_connector.enabled` on (§2.9): Update Connector
behind its flag, still no Update Model."""
PROFILES = (*SANDBOX_PROFILES, FLAGGED)
"""Every sandbox profile (2.9-2.10 without update APIs and deleting emptied groups, 2.11
with and without its flag, 2.12+ with updates, the newest), so a new one joins by itself."""


@dataclasses.dataclass(frozen=True)
class Connector:
    name: str
    description: str = "a connector"
    model: str = "gpt-4o-mini"
    """The `parameters.model` value: changing it is an update (a replace before 2.12)."""
    temperature: bool = False
    """Whether `parameters.temperature` is set: removing a key forces a replace (§1.5)."""


@dataclasses.dataclass(frozen=True)
class Group:
    name: str
    description: str = "a group"


@dataclasses.dataclass(frozen=True)
class Model:
    name: str
    connector: str
    group: str
    deployed: bool = True
    description: str = "a model"


@dataclasses.dataclass(frozen=True)
class World:
    """One desired state, plus the API key value its connectors use."""

    groups: tuple[Group, ...]
    connectors: tuple[Connector, ...]
    models: tuple[Model, ...]
    secret: str = "sk-reliability-0000"

    def docs(self) -> list[dict[str, Any]]:
        """The manifests of this world, groups first."""
        return [
            *(group_doc(g) for g in self.groups),
            *(connector_doc(c) for c in self.connectors),
            *(model_doc(m) for m in self.models),
        ]

    def env(self) -> dict[str, str]:
        """The environment the manifests' secret references read."""
        return {SECRET_VARIABLE: self.secret}

    def write(self, directory: Path) -> Path:
        """Replace the manifests in `directory` with this world's; returns it."""
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.yaml"):
            old.unlink()
        text = yaml.safe_dump_all(self.docs(), sort_keys=False)
        (directory / "world.yaml").write_text(text, "utf-8")
        return directory


def group_doc(group: Group) -> dict[str, Any]:
    return {
        "apiVersion": "osml/v1",
        "kind": "ModelGroup",
        "metadata": {"name": group.name},
        "spec": {"name": f"{group.name} group", "description": group.description},
    }


def connector_doc(connector: Connector) -> dict[str, Any]:
    parameters: dict[str, Any] = {"model": connector.model}
    if connector.temperature:
        parameters["temperature"] = "0.5"
    return {
        "apiVersion": "osml/v1",
        "kind": "Connector",
        "metadata": {"name": connector.name},
        "spec": {
            "name": f"{connector.name} connector",
            "description": connector.description,
            "version": 1,
            "protocol": "http",
            "parameters": parameters,
            "credential": {"openAI_key": {"fromEnv": SECRET_VARIABLE}},
            "actions": [
                {
                    "action_type": "predict",
                    "method": "POST",
                    "url": "https://api.openai.com/v1/chat/completions",
                    "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
                    "request_body": '{"model": "${parameters.model}", "messages": []}',
                }
            ],
        },
    }


def model_doc(model: Model) -> dict[str, Any]:
    return {
        "apiVersion": "osml/v1",
        "kind": "Model",
        "metadata": {"name": model.name},
        "spec": {
            "name": f"{model.name} model",
            "description": model.description,
            "connector": model.connector,
            "model_group": model.group,
        },
        "lifecycle": {"deployed": model.deployed},
    }


# --- strategies ---------------------------------------------------------------------------

_WORDS = st.sampled_from(["alpha", "beta", "gamma", "delta", "edited", "naïve ünïcode"])
_SECRETS = st.integers(0, 10**6).map(lambda n: f"sk-reliability-{n:07d}")


@st.composite
def worlds(draw: st.DrawFn, *, max_connectors: int = 3, max_models: int = 4) -> World:
    """A consistent desired state: every model names an existing connector and group."""
    groups = tuple(Group(f"g{i}", draw(_WORDS)) for i in range(draw(st.integers(1, 2))))
    count = draw(st.integers(1, max_connectors))
    connectors = tuple(
        Connector(f"c{i}", draw(_WORDS), temperature=draw(st.booleans())) for i in range(count)
    )
    models = tuple(
        Model(
            f"m{i}",
            connector=draw(st.sampled_from(connectors)).name,
            group=draw(st.sampled_from(groups)).name,
            deployed=draw(st.booleans()),
        )
        for i in range(draw(st.integers(0, max_models)))
    )
    return World(groups, connectors, models, secret=draw(_SECRETS))


def add_model(world: World, draw: st.DrawFn) -> World:
    taken = {m.name for m in world.models}
    name = next(f"m{i}" for i in range(100) if f"m{i}" not in taken)
    connector = draw(st.sampled_from(world.connectors)).name
    group = draw(st.sampled_from(world.groups)).name
    added = Model(name, connector, group, deployed=draw(st.booleans()))
    return dataclasses.replace(world, models=(*world.models, added))


def add_connector(world: World, draw: st.DrawFn) -> World:
    taken = {c.name for c in world.connectors}
    name = next(f"c{i}" for i in range(100) if f"c{i}" not in taken)
    return dataclasses.replace(world, connectors=(*world.connectors, Connector(name)))


def change(world: World, draw: st.DrawFn) -> World:
    """Change a description, a parameter value, or add/remove a parameter key."""
    what = draw(st.sampled_from(["group", "connector", "param", "key", "model"]))
    if what == "group":
        return _edit(world, "groups", draw, description=draw(_WORDS))
    if what == "connector":
        return _edit(world, "connectors", draw, description=draw(_WORDS))
    if what == "param":
        return _edit(world, "connectors", draw, model=draw(st.sampled_from(["gpt-4o", "o3"])))
    if what == "key":
        return _edit(world, "connectors", draw, temperature=draw(st.booleans()))
    return _edit(world, "models", draw, description=draw(_WORDS))


def remove(world: World, draw: st.DrawFn) -> World:
    """Remove a model, or a connector or group no model uses."""
    used = {m.connector for m in world.models} | {m.group for m in world.models}
    choices = [("models", m.name) for m in world.models]
    choices += [("connectors", c.name) for c in world.connectors if c.name not in used]
    choices += [("groups", g.name) for g in world.groups if g.name not in used]
    if len(world.connectors) == 1:
        choices = [c for c in choices if c[0] != "connectors"]
    if len(world.groups) == 1:
        choices = [c for c in choices if c[0] != "groups"]
    if not choices:
        return world
    field, name = draw(st.sampled_from(choices))
    kept = tuple(r for r in getattr(world, field) if r.name != name)
    return dataclasses.replace(world, **{field: kept})


def rename(world: World, draw: st.DrawFn) -> World:
    """Rename a resource (a new identity) and every reference to it."""
    field = draw(st.sampled_from(["groups", "connectors", "models"]))
    items = getattr(world, field)
    if not items:
        return world
    old = draw(st.sampled_from(items)).name
    new = f"{old}r"
    renamed = tuple(dataclasses.replace(r, name=new) if r.name == old else r for r in items)
    world = dataclasses.replace(world, **{field: renamed})
    models = tuple(
        dataclasses.replace(
            m,
            connector=new if m.connector == old and field == "connectors" else m.connector,
            group=new if m.group == old and field == "groups" else m.group,
        )
        for m in world.models
    )
    return dataclasses.replace(world, models=models)


def rotate(world: World, draw: st.DrawFn) -> World:
    """A new API key value for every connector."""
    return dataclasses.replace(world, secret=draw(_SECRETS.filter(lambda s: s != world.secret)))


def flip(world: World, draw: st.DrawFn) -> World:
    """Deploy an undeployed model or undeploy a deployed one."""
    if not world.models:
        return world
    target = draw(st.sampled_from(world.models)).name
    models = tuple(
        dataclasses.replace(m, deployed=not m.deployed) if m.name == target else m
        for m in world.models
    )
    return dataclasses.replace(world, models=models)


EDITS: dict[str, Callable[[World, st.DrawFn], World]] = {
    "add_model": add_model,
    "add_connector": add_connector,
    "change": change,
    "remove": remove,
    "rename": rename,
    "rotate": rotate,
    "flip": flip,
}


@st.composite
def edited(draw: st.DrawFn, world: World, *, max_edits: int = 3) -> tuple[World, list[str]]:
    """`world` after one to `max_edits` random edits, and their names."""
    names = draw(st.lists(st.sampled_from(sorted(EDITS)), min_size=1, max_size=max_edits))
    for name in names:
        world = EDITS[name](world, draw)
    return world, names


def _edit(world: World, field: str, draw: st.DrawFn, **changes: Any) -> World:
    items = getattr(world, field)
    if not items:
        return world
    target = draw(st.sampled_from(items)).name
    updated = tuple(dataclasses.replace(r, **changes) if r.name == target else r for r in items)
    return dataclasses.replace(world, **{field: updated})


def fleet(connectors: int, models: int) -> World:
    """A fixed world: one group, `connectors` connectors, models spread over them."""
    cs = tuple(Connector(f"c{i}", f"connector {i}") for i in range(connectors))
    ms = tuple(
        Model(f"m{i}", connector=f"c{i % connectors}", group="g0", deployed=i % 2 == 0)
        for i in range(models)
    )
    return World((Group("g0"),), cs, ms, secret="sk-reliability-fleet-0042")
