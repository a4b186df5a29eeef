"""Every official ML Commons connector blueprint, pasted into manifests, through `osml validate`.

The bodies of tests/data/blueprints/ become manifests as a new user would write them
(`tests.support.blueprints.as_manifests`): secrets from the environment, ARNs as written.
Each validates for the flavor it was written for (aws-managed for the roleArn/secretArn
ones, opensearch for the rest) at the first release it can work on, unless the corpus
records the blueprint itself as wrong for another reason; the managed ones fail on
opensearch with the message that says the form needs a managed domain, at its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli.validate import Secrets, run_validation
from reconciler.errors import Problem, Severity
from reconciler.mlcommons.flavors import Flavor
from reconciler.mlcommons.versions import LATEST, Version
from tests.support import blueprints
from tests.support.blueprints import Blueprint

ALL = blueprints.load_all()
MANAGED = [b for b in ALL if blueprints.written_for(b) == "aws-managed"]
NOT_ONLY_MANAGED = "credential is an Amazon OpenSearch Service form"


def own_fault(blueprint: Blueprint) -> str | None:
    """Why the blueprint is wrong other than for its managed-only credential, if it is."""
    reason = blueprint.wrong_on("3.x")
    if reason is None:
        return None
    rest = reason.split("; and ", 1)
    if rest[0].startswith(NOT_ONLY_MANAGED):
        return rest[1] if len(rest) > 1 else None
    return reason


def validate(blueprint: Blueprint, tmp_path: Path, *, flavor: Flavor) -> list[Problem]:
    file = tmp_path / "blueprint.yaml"
    file.write_text(yaml.safe_dump_all(blueprints.as_manifests(blueprint), sort_keys=False))
    env = {blueprints.credential_variable(k): "test-value" for k in _credential(blueprint)}
    problems, resources = run_validation(
        [str(file)], version=LATEST, secrets=Secrets(strict=True, env=env), flavor=flavor
    )
    assert resources == 2
    return [p for p in problems if p.severity is Severity.ERROR]


def _credential(blueprint: Blueprint) -> dict[str, Any]:
    return dict(blueprint.connector.get("credential") or {})


@pytest.mark.parametrize("blueprint", ALL, ids=[b.name for b in ALL])
def test_blueprint_validates_for_the_flavor_it_was_written_for(
    blueprint: Blueprint, tmp_path: Path
) -> None:
    errors = validate(blueprint, tmp_path, flavor=Flavor(blueprints.written_for(blueprint)))
    if own_fault(blueprint) is None:
        assert errors == []
    else:
        # The corpus records the blueprint's own mistake; validate catches it before a
        # cluster does (or the mistake only shows at predict time).
        assert all("Amazon OpenSearch Service form" not in p.message for p in errors)


@pytest.mark.parametrize("blueprint", MANAGED, ids=[b.name for b in MANAGED])
def test_managed_blueprint_fails_on_opensearch_at_its_credential(
    blueprint: Blueprint, tmp_path: Path
) -> None:
    errors = validate(blueprint, tmp_path, flavor=Flavor.OPENSEARCH)
    managed = [p for p in errors if "Amazon OpenSearch Service form" in p.message]
    keys = sorted(k for k in _credential(blueprint) if k in blueprints.MANAGED_KEYS)
    prefix = (
        "spec.connector.credential" if "connector" in blueprint.data["body"] else "spec.credential"
    )
    assert [p.path for p in managed] == [f"{prefix}.{k}" for k in keys]
    text = (Path(managed[0].file or "")).read_text().splitlines()
    for problem in managed:
        assert problem.line is not None
        assert text[problem.line - 1].strip().startswith(problem.path.rsplit(".", 1)[1])  # type: ignore[union-attr]
        assert "needs a managed domain (flavor aws-managed" in problem.message
        assert "on a self-managed cluster use" in problem.message


def test_the_corpus_has_managed_blueprints_of_both_forms() -> None:
    keys = {k for b in MANAGED for k in _credential(b) if k in blueprints.MANAGED_KEYS}
    assert keys == {"roleArn", "secretArn"}
    assert len(MANAGED) >= 30
    assert Version(3, 8) <= LATEST
