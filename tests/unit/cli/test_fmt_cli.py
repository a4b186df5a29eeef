"""`osml fmt` end to end with click's runner: write, --check, --diff, errors."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reconciler.cli import main
from tests.unit.manifests.test_formatting import CANONICAL, MESSY


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "sub").mkdir()
    messy = tmp_path / "sub" / "messy.yaml"
    messy.write_text(MESSY, "utf-8")
    clean = tmp_path / "clean.yaml"
    clean.write_text(CANONICAL, "utf-8")
    return messy, clean


def test_fmt_rewrites_what_is_not_canonical_and_names_it(tmp_path: Path) -> None:
    messy, clean = _tree(tmp_path)
    code, out = _run("fmt", str(tmp_path))
    assert (code, out.splitlines()) == (0, [str(messy)])
    assert messy.read_text("utf-8") == CANONICAL
    assert clean.read_text("utf-8") == CANONICAL
    assert _run("fmt", str(tmp_path)) == (0, "")


def test_check_writes_nothing_and_exits_1_listing_the_files(tmp_path: Path) -> None:
    messy, _ = _tree(tmp_path)
    code, out = _run("fmt", "--check", str(tmp_path))
    assert (code, out.splitlines()) == (1, [str(messy)])
    assert messy.read_text("utf-8") == MESSY
    messy.write_text(CANONICAL, "utf-8")
    assert _run("fmt", "--check", str(tmp_path)) == (0, "")


def test_diff_shows_the_change(tmp_path: Path) -> None:
    messy, _ = _tree(tmp_path)
    code, out = _run("fmt", "--check", "--diff", str(messy))
    assert code == 1
    assert f"--- {messy} (as it is)" in out and f"+++ {messy} (formatted)" in out
    assert "+metadata:\n" in out and "-apiVersion: osml/v1\n" in out
    assert "-   name: c\n" in out and "+  name: c\n" in out
    assert messy.read_text("utf-8") == MESSY


def test_a_file_that_is_not_yaml_is_an_error_and_nothing_is_written(tmp_path: Path) -> None:
    messy, _ = _tree(tmp_path)
    (tmp_path / "broken.yaml").write_text("a: [1, 2\nb: 3\n", "utf-8")
    result = CliRunner().invoke(main, ["fmt", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'broken.yaml'}:2:" in result.output and "Error:" in result.output
    assert "Traceback" not in result.output
    assert messy.read_text("utf-8") == MESSY


def test_the_repository_manifests_are_formatted() -> None:
    """What CI checks: `osml fmt --check manifests examples` changes nothing."""
    root = Path(__file__).resolve().parents[3]
    code, out = _run("fmt", "--check", str(root / "manifests"), str(root / "examples"))
    assert (code, out) == (0, "")
