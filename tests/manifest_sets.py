"""The repository's own manifest sets: manifests/ and every examples/ folder but deploy/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_MANIFEST_SETS = {"deploy", "environments"}
"""examples/deploy holds systemd and Kubernetes files for running `osml watch`;
examples/environments holds manifests/ and environments/ (tests/integration/test_environments.py)."""
SETS = [
    ROOT / "manifests",
    *sorted(
        p for p in (ROOT / "examples").iterdir() if p.is_dir() and p.name not in NOT_MANIFEST_SETS
    ),
]
