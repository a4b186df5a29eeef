"""The file watch on a real file system: bursts, single files, unrelated files, symlink swaps."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.watching.triggers import FILES, FileWatcher, Wakeups


class Counting(Wakeups):
    def __init__(self, stop: threading.Event) -> None:
        super().__init__(stop)
        self.count = 0

    def notify(self, trigger: str = FILES) -> None:
        self.count += 1
        super().notify(trigger)


Watch = Callable[..., Counting]


@pytest.fixture
def watch() -> Iterator[Watch]:
    stops: list[tuple[threading.Event, FileWatcher]] = []

    def start(*paths: Path, debounce: float = 0.15) -> Counting:
        stop = threading.Event()
        wakeups = Counting(stop)
        files = FileWatcher(list(paths), wakeups=wakeups, stop=stop, debounce=debounce).start()
        stops.append((stop, files))
        assert files.ready.wait(10), "the file watch did not start"
        return wakeups

    yield start
    for stop, files in stops:
        stop.set()
        files.join(timeout=5)


def settle(seconds: float = 0.5) -> None:
    """Longer than the debounce: every batch of the changes above has been delivered."""
    time.sleep(seconds)


def test_a_burst_of_saves_is_one_notification(tmp_path: Path, watch: Watch) -> None:
    manifest = tmp_path / "a.yaml"
    manifest.write_text("one", "utf-8")
    wakeups = watch(tmp_path)
    for text in ("two", "three", "four"):
        manifest.write_text(text, "utf-8")
    assert wakeups.wait(5) == FILES
    settle()
    assert wakeups.count == 1


def test_a_single_file_survives_an_editor_style_rename(tmp_path: Path, watch: Watch) -> None:
    manifest = tmp_path / "a.yaml"
    manifest.write_text("one", "utf-8")
    wakeups = watch(manifest)
    for text in ("two", "three"):
        draft = tmp_path / "a.yaml.tmp"
        draft.write_text(text, "utf-8")
        draft.replace(manifest)  # a new inode each time
        assert wakeups.wait(5) == FILES
        settle(0.3)
    assert wakeups.count == 2


def test_other_files_beside_a_watched_file_are_ignored(tmp_path: Path, watch: Watch) -> None:
    manifest = tmp_path / "a.yaml"
    manifest.write_text("one", "utf-8")
    wakeups = watch(manifest)
    (tmp_path / "notes.txt").write_text("unrelated", "utf-8")
    settle()
    assert wakeups.count == 0
    manifest.write_text("two", "utf-8")
    assert wakeups.wait(5) == FILES


def test_a_git_sync_style_symlink_swap_is_seen_through_the_root(
    tmp_path: Path, watch: Watch
) -> None:
    root = tmp_path / "git"
    for revision in ("rev1", "rev2"):
        (root / revision / "manifests").mkdir(parents=True)
        (root / revision / "manifests" / "a.yaml").write_text(revision, "utf-8")
    link = root / "current"
    link.symlink_to(root / "rev1")
    wakeups = watch(root)
    swap = root / "current.new"
    swap.symlink_to(root / "rev2")
    os.replace(swap, link)  # git-sync's atomic swap
    assert wakeups.wait(5) == FILES


def test_a_watch_that_cannot_start_reports_and_ends(tmp_path: Path) -> None:
    stop = threading.Event()
    errors: list[str] = []
    files = FileWatcher(
        [tmp_path / "gone" / "a.yaml"], wakeups=Wakeups(stop), stop=stop, on_error=errors.append
    ).start()
    files.join(timeout=10)
    stop.set()
    assert files.ready.is_set()
    assert len(errors) == 1 and "gone" in errors[0]
