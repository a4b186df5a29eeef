"""Which flavor a run targets: the most specific declaration, and the cluster's say."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifests import flavoring
from reconciler.manifests.environments import load_environment
from reconciler.manifests.flavoring import Declared, Detected
from reconciler.mlcommons.flavors import Flavor

MANAGED = Detected(Flavor.AWS_MANAGED, "SigV4 service es")


def test_nothing_declared_nothing_detected_is_opensearch() -> None:
    assert flavoring.agree(None, None) is Flavor.OPENSEARCH


def test_the_cluster_decides_when_nothing_is_declared() -> None:
    assert flavoring.agree(None, MANAGED) is Flavor.AWS_MANAGED


def test_a_declaration_that_disagrees_names_both() -> None:
    declared = Declared(Flavor.OPENSEARCH, "osml.yaml:1:9")
    with pytest.raises(ManifestError) as caught:
        flavoring.agree(declared, MANAGED)
    assert str(caught.value.problems[0]) == (
        "the manifests declare flavor opensearch (osml.yaml:1:9) but the cluster is "
        "aws-managed (SigV4 service es); fix the declaration or the target"
    )


def test_the_environment_wins_over_the_project_file(tmp_path: Path) -> None:
    project = tmp_path / "osml.yaml"
    project.write_text("flavor: opensearch\n")
    env_file = tmp_path / "environments" / "prod.yaml"
    env_file.parent.mkdir()
    env_file.write_text("cluster:\n  url: https://search.example.com\n  flavor: aws-managed\n")
    environment = load_environment(env_file)

    found = flavoring.declared(environment=environment, project_file=project)

    assert found == Declared(Flavor.AWS_MANAGED, f"{env_file}:3:11")
    assert flavoring.declared(project_file=project) == Declared(
        Flavor.OPENSEARCH, f"{project}:1:9"
    )
    assert flavoring.declared(given=Flavor.OPENSEARCH, environment=environment).where == (
        "--flavor"
    )
