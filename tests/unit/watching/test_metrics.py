"""The Prometheus text exposition of the watcher's metrics."""

from __future__ import annotations

import re

import pytest

from reconciler.outcomes import Outcome
from reconciler.plans import Action, Change
from reconciler.resources import Kind, ResourceKey
from reconciler.watching.metrics import Family, Histogram, WatchMetrics, escape_label

MODEL = ResourceKey(Kind.MODEL, "chat")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ('say "hi"', 'say \\"hi\\"'),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines", "two\\nlines"),
    ],
)
def test_label_values_are_escaped(value: str, expected: str) -> None:
    assert escape_label(value) == expected


def test_a_family_renders_help_type_and_sorted_samples() -> None:
    family = Family("osml_things_total", "Things.\nCounted.", "counter")
    family.add(kind="Model", action="deploy")
    family.add(2, kind="Connector", action="update")
    family.add(kind="Model", action="deploy")
    assert list(family.lines()) == [
        "# HELP osml_things_total Things.\\nCounted.",
        "# TYPE osml_things_total counter",
        'osml_things_total{action="deploy",kind="Model"} 2',
        'osml_things_total{action="update",kind="Connector"} 2',
    ]


def test_a_histogram_has_cumulative_buckets_sum_and_count() -> None:
    histogram = Histogram("osml_seconds", "Durations.", buckets=(1.0, 0.5))
    for value in (0.2, 0.7, 3.0):
        histogram.observe(value)
    assert list(histogram.lines())[2:] == [
        'osml_seconds_bucket{le="0.5"} 1',
        'osml_seconds_bucket{le="1"} 2',
        'osml_seconds_bucket{le="+Inf"} 3',
        "osml_seconds_sum 3.9",
        "osml_seconds_count 3",
    ]


def test_changes_are_counted_by_kind_action_and_outcome() -> None:
    metrics = WatchMetrics()
    change = Change(MODEL, Action.REDEPLOY)
    metrics.drift_found(change)
    metrics.change_finished(change, outcome=Outcome.FAILED)
    metrics.change_finished(change, outcome=Outcome.FAILED)
    metrics.change_finished(change, outcome=Outcome.DONE)
    metrics.change_finished(change, outcome=Outcome.SKIPPED)
    text = metrics.render()
    assert 'osml_watch_drift_total{action="redeploy",kind="Model"} 1' in text
    assert 'osml_watch_changes_failed_total{action="redeploy",kind="Model"} 2' in text
    assert 'osml_watch_changes_applied_total{action="redeploy",kind="Model"} 1' in text


def test_backoffs_replace_the_previous_set() -> None:
    metrics = WatchMetrics()
    metrics.backoffs({MODEL: (3, 40.0)})
    assert 'osml_watch_resource_failures{resource="Model/chat"} 3' in metrics.render()
    assert 'osml_watch_resource_backoff_seconds{resource="Model/chat"} 40' in metrics.render()
    metrics.backoffs({})
    assert 'resource="Model/chat"' not in metrics.render()


def test_every_sample_line_is_well_formed() -> None:
    metrics = WatchMetrics()
    metrics.cycle_finished(trigger="start", result="converged", duration=0.25, success_at=1.5e9)
    metrics.lock_held(True)
    metrics.drift_found(Change(MODEL, Action.DEPLOY))
    sample = re.compile(r'[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? \S+')
    lines = metrics.render().splitlines()
    assert metrics.render().endswith("\n")
    for line in lines:
        assert line.startswith("# ") or sample.fullmatch(line), line
    assert "osml_watch_lock_held 1" in lines
    assert "osml_watch_last_success_timestamp_seconds 1500000000" in lines
