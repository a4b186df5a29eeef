"""The `--probe-offline` report in text and Markdown."""

from __future__ import annotations

from reconciler.outcomes import ProbeRun
from reconciler.rendering.probes import render_probe_runs
from reconciler.resources import Kind, ResourceKey

EMBED = ResourceKey(Kind.MODEL, "embed")
CHAT = ResourceKey(Kind.MODEL, "chat")
RUNS = [
    ProbeRun(EMBED, True, "embedding of 1024 dimensions"),
    ProbeRun(CHAT, False, "probe failed (401): no | key\x1b[31m"),
    ProbeRun(ResourceKey(Kind.MODEL, "later"), False, "skipped"),
]


def test_text_lists_each_probe_and_the_count() -> None:
    lines = render_probe_runs(RUNS, profile="2.19").splitlines()
    assert lines[0].startswith("Offline probes (sandbox 2.19, provider emulators")
    assert lines[1:] == [
        "  Model/embed: probe passed: embedding of 1024 dimensions",
        "  Model/chat: probe failed (401): no | key\\x1b[31m",
        "  Model/later: probe not run: skipped",
        "1 of 3 probes passed.",
    ]


def test_markdown_is_a_table_with_escaped_cells() -> None:
    text = render_probe_runs(RUNS, profile="3.x", markdown=True)
    assert "### Offline probes" in text
    assert "| `Model/embed` | passed | embedding of 1024 dimensions |" in text
    assert "| `Model/chat` | **failed** | probe failed (401): no \\| key\\x1b[31m |" in text


def test_no_probes_says_so() -> None:
    assert render_probe_runs([], profile="3.x").splitlines()[-1] == "No model or agent has a probe."
