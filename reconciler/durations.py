"""The one duration syntax of osml: `90`, `90s`, `2m`, `1m30s`, `500ms`, `1h`.

Command options (`cli.params.Duration`) and manifest fields (`fromAwsRole.duration`) read
durations the same way, so a value that works in one place works in the other. Pure text
parsing: no I/O, no clock.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART = re.compile(rf"({_NUMBER})(ms|s|m|h)")
_WHOLE = re.compile(rf"\s*(?:{_NUMBER}|(?:{_NUMBER}(?:ms|s|m|h))+)\s*")

EXAMPLES = "90, 90s, 2m, 1m30s or 500ms"
"""Examples for messages about a value that is not a duration."""


def parse_duration(text: str) -> float | None:
    """Seconds for `90`, `90s`, `2m`, `1m30s`, `500ms`, `1h`; None if `text` is not one."""
    if _WHOLE.fullmatch(text) is None:
        return None
    text = text.strip()
    parts = _PART.findall(text)
    if not parts:
        return float(text)
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def format_duration(seconds: float) -> str:
    """`1h30m`, `15m`, `45s`: whole seconds in the largest units, for messages and plans."""
    left = max(0, round(seconds))
    hours, left = divmod(left, 3600)
    minutes, secs = divmod(left, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return text or "0s"
