"""CEL expressions of user rules: compiled once, evaluated per resource, never raising.

CEL (the Common Expression Language of Kubernetes ValidatingAdmissionPolicy) through
cel-python (`celpy`), imported on first use because building its parser costs a few
tenths of a second that runs without user rules need not pay. `compile_expression` turns
a rule's source into a Program or a message saying why it does not compile;
`evaluate` returns True, False, or the reason it could not decide (an error in the
expression at run time, or a result that is not a bool): the caller turns that reason
into an error finding, so a broken rule never ends a run in a traceback. The variables
are `resource`, `change` and `environment` (docs/policy.md). No I/O.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import celpy

VARIABLES = ("resource", "change", "environment")
"""The names a rule's expression can read."""


@dataclasses.dataclass(frozen=True)
class Program:
    """A compiled expression."""

    source: str
    runner: celpy.Runner = dataclasses.field(repr=False, compare=False)


@dataclasses.dataclass(frozen=True, slots=True)
class Failed:
    """Why an expression could not decide."""

    reason: str


@functools.cache
def _environment() -> celpy.Environment:
    import celpy  # noqa: PLC0415  (see the module docstring)

    return celpy.Environment()


def compile_expression(source: str) -> Program | str:
    """The compiled expression, or the parser's message (with its caret line)."""
    from celpy.celparser import CELParseError  # noqa: PLC0415

    environment = _environment()
    try:
        ast = environment.compile(source)
        return Program(source, environment.program(ast))
    except CELParseError as exc:
        line, column = getattr(exc, "line", None), getattr(exc, "column", None)
        if line is None or column is None:
            return "syntax error"
        return f"syntax error at line {line}, column {column} of the expression"
    except Exception as exc:  # the parser raises lark's own errors too
        return f"{type(exc).__name__}: {exc}"


def evaluate(program: Program, variables: Mapping[str, Any]) -> bool | Failed:
    """Run `program` on plain JSON data; True or False, or why it failed."""
    from celpy import celtypes  # noqa: PLC0415
    from celpy.adapter import json_to_cel  # noqa: PLC0415
    from celpy.evaluation import CELEvalError  # noqa: PLC0415

    activation = {name: json_to_cel(variables.get(name)) for name in VARIABLES}
    try:
        result = program.runner.evaluate(activation)
    except CELEvalError as exc:
        return Failed(_reason(exc))
    # The evaluator is third-party code run on user input: whatever it raises is the
    # expression's failure, reported as a finding, not osml's bug.
    except Exception as exc:
        return Failed(f"{type(exc).__name__}: {exc}")
    if isinstance(result, CELEvalError):
        return Failed(_reason(result))
    if isinstance(result, celtypes.BoolType | bool):
        return bool(result)
    return Failed(f"the expression returned {type(result).__name__}, not a bool")


def _reason(error: Exception) -> str:
    args = error.args
    return str(args[0]) if args else type(error).__name__
