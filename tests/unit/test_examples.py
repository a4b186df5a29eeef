"""The shipped manifest sets are valid: `manifests/` and every folder under `examples/`.

Each set is loaded with `load_manifests` and checked with `check` for 2.19, 3.8 and the
minimum version its README documents (a line `Minimum cluster version: X.Y`), and must
produce no error-severity problem; warnings (plain http, predict-time placeholders) are
allowed. Below the documented minimum, the checks must find an error, so the README cannot
claim an older version than the set really needs. Secrets are never resolved here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.errors import Problem, Severity
from reconciler.manifests.checking import check
from reconciler.manifests.loading import ManifestSet, load_manifests
from reconciler.manifests.models import ConnectorSpec, FromEnv, ModelSpec
from reconciler.mlcommons.versions import SUPPORTED, Version
from reconciler.resources import Kind
from tests.manifest_sets import SETS

ROOT = Path(__file__).resolve().parents[2]
CHECKED_VERSIONS = ("2.19", "3.8")
_MINIMUM = re.compile(r"^Minimum cluster version: (\d+\.\d+)\b", re.MULTILINE)


def _set_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _documented_minimum(folder: Path) -> Version | None:
    readme = folder / "README.md"
    match = _MINIMUM.search(readme.read_text(encoding="utf-8")) if readme.is_file() else None
    return Version.parse(match.group(1)) if match else None


def _minimum_version(folder: Path) -> Version:
    minimum = _documented_minimum(folder)
    assert minimum, f"{_set_id(folder)}/README.md must say 'Minimum cluster version: X.Y'"
    return minimum


def _errors(folder: Path, version: Version) -> list[Problem]:
    problems = check(load_manifests([folder]), version=version)
    return [p for p in problems if p.severity is Severity.ERROR]


def _report(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


def _environment_variables(manifest_set: ManifestSet) -> set[str]:
    specs: list[ConnectorSpec] = []
    for doc in manifest_set:
        spec = doc.manifest.spec
        if isinstance(spec, ConnectorSpec):
            specs.append(spec)
        elif isinstance(spec, ModelSpec) and spec.inline_connector is not None:
            specs.append(spec.inline_connector)
    refs = [ref for spec in specs for ref in spec.credential.values()]
    return {ref.from_env for ref in refs if isinstance(ref, FromEnv)}


def test_the_expected_sets_are_shipped() -> None:
    names = {_set_id(folder) for folder in SETS}
    assert {
        "manifests",
        "examples/private-self-hosted",
        "examples/azure-openai",
        "examples/rag",
    } <= names


@pytest.mark.parametrize("folder", SETS, ids=_set_id)
def test_set_has_a_readme_with_its_minimum_version(folder: Path) -> None:
    assert _minimum_version(folder) in SUPPORTED


@pytest.mark.parametrize("folder", SETS, ids=_set_id)
def test_set_loads_and_declares_models(folder: Path) -> None:
    manifest_set = load_manifests([folder])

    assert manifest_set.of_kind(Kind.MODEL), "every set exists to manage at least one model"


@pytest.mark.parametrize("folder", SETS, ids=_set_id)
def test_readme_names_every_environment_variable_the_set_reads(folder: Path) -> None:
    readme = (folder / "README.md").read_text(encoding="utf-8")

    missing = _environment_variables(load_manifests([folder])) - set(re.findall(r"\w+", readme))

    assert not missing, f"{_set_id(folder)}/README.md does not mention {sorted(missing)}"


@pytest.mark.parametrize("version", CHECKED_VERSIONS)
@pytest.mark.parametrize("folder", SETS, ids=_set_id)
def test_set_has_no_errors_on_current_versions(folder: Path, version: str) -> None:
    errors = _errors(folder, Version.parse(version))

    assert not errors, _report(errors)


@pytest.mark.parametrize("folder", SETS, ids=_set_id)
def test_set_has_no_errors_on_its_documented_minimum(folder: Path) -> None:
    errors = _errors(folder, _minimum_version(folder))

    assert not errors, _report(errors)


# Sets that claim more than the oldest supported version must really need it.
_RAISED_MINIMUM = [f for f in SETS if (_documented_minimum(f) or SUPPORTED[0]) > SUPPORTED[0]]


@pytest.mark.parametrize("folder", _RAISED_MINIMUM, ids=_set_id)
def test_set_fails_just_below_its_documented_minimum(folder: Path) -> None:
    minimum = _minimum_version(folder)
    older = SUPPORTED[SUPPORTED.index(minimum) - 1]

    assert _errors(folder, older), f"{_set_id(folder)} also passes on {older.short}"


def test_private_example_needs_the_private_ip_setting() -> None:
    # The one documented reason for 2.15+: the setting does not exist before (reference §3.2).
    folder = ROOT / "examples" / "private-self-hosted"

    errors = _errors(folder, Version.parse("2.14"))

    assert any("connector.private_ip_enabled" in str(p) for p in errors), _report(errors)
