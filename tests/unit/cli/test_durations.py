"""Every time option of every command takes the same duration syntax (`90`, `90s`, `2m`).

The options are found by walking the click command tree, so a command added later is
held to the same rule without being listed here.
"""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.cli.params import Duration, parse_duration

TIME_WORDS = ("timeout", "interval", "debounce", "lease", "backoff", "delay")
"""Option names that are durations whatever their type says."""


def commands(
    group: click.Group = main, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            yield from commands(command, path)
        else:
            yield path, command


def time_options() -> list[tuple[tuple[str, ...], click.Option]]:
    found = []
    for path, command in commands():
        for param in command.params:
            named = any(word in opt for opt in param.opts for word in TIME_WORDS)
            if isinstance(param, click.Option) and (named or isinstance(param.type, Duration)):
                found.append((path, param))
    return found


def ids(found: list[tuple[tuple[str, ...], click.Option]]) -> list[str]:
    return [f"{' '.join(path)} {param.opts[0]}" for path, param in found]


TIME_OPTIONS = time_options()


def test_the_walk_finds_the_known_time_options() -> None:
    found = set(ids(TIME_OPTIONS))
    for known in (
        "apply --timeout", "apply --lock-timeout", "apply --request-timeout",
        "plan --request-timeout", "watch --interval", "watch --debounce", "watch --lease",
        "watch --max-backoff", "watch --deploy-timeout", "sandbox --deploy-delay",
    ):  # fmt: skip
        assert known in found


@pytest.mark.parametrize(("path", "option"), TIME_OPTIONS, ids=ids(TIME_OPTIONS))
def test_every_time_option_is_a_duration(path: tuple[str, ...], option: click.Option) -> None:
    assert isinstance(option.type, Duration)
    assert option.metavar is None  # shown as DURATION in the help
    assert "90s" in (option.help or "")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("2m", 120.0), ("1m30s", 90.0), ("500ms", 0.5),
     ("1h", 3600.0), ("1.5m", 90.0), (" 7s ", 7.0), (".5s", 0.5)],
)  # fmt: skip
def test_the_syntax(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "soon", "-5", "5 s", "5d", "1e3", "nan", "inf", "m5"])
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(("path", "option"), TIME_OPTIONS, ids=ids(TIME_OPTIONS))
@pytest.mark.parametrize("value", ["soon", "-5", "nan"])
def test_a_bad_duration_is_a_usage_error_naming_the_option(
    path: tuple[str, ...], option: click.Option, value: str
) -> None:
    result = CliRunner().invoke(main, [*path, option.opts[0], value])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option.opts[0]}'" in result.stderr
    assert "is not a duration such as 90, 90s, 2m" in result.stderr


def test_the_lock_timeout_takes_zero_and_the_same_syntax() -> None:
    lock = next(p for path, p in TIME_OPTIONS if path == ("apply",) and "--lock-timeout" in p.opts)
    assert lock.type.convert("0", lock, None) == 0.0
    assert lock.type.convert("90s", lock, None) == 90.0
    assert lock.type.convert("90", lock, None) == 90.0
    timeout = next(p for path, p in TIME_OPTIONS if path == ("apply",) and "--timeout" in p.opts)
    with pytest.raises(click.BadParameter, match="at least 1s"):
        timeout.type.convert("500ms", timeout, None)
