"""Run a connector's Painless process function in the sandbox (reference §4.2).

`processing.py` calls `run(script, params, escape_helper=...)` for a `pre_process_function`
or `post_process_function` that is not a built-in name. The script is parsed
(`painless_parsing`) and evaluated (`painless_evaluating`) with `params` as Painless' only
global. From 2.12 the server prepends its own `escape(def)` helper when a script calls
`escape(...)` without defining it; `escape_helper=True` provides the same function.

Every failure becomes a `ScriptError`: 400 `script_exception`, as the server answers a
Painless failure at predict (the REST layer maps `ScriptException` to 400 and ML Commons
passes it through unwrapped). Failures real Painless would also raise keep the server's
reasons `compile error` / `runtime error` with the cause in `caused_by`; a script that goes
beyond the sandbox's subset gets a reason that names the construct and its line and column.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.sandbox.http import ApiError
from reconciler.sandbox.ml import painless_evaluating as evaluating
from reconciler.sandbox.ml.painless_parsing import ScriptSyntaxError, parse
from reconciler.sandbox.ml.painless_values import (
    ScriptRuntimeError,
    ScriptUnsupportedError,
    java_class,
)

_ESCAPE_CALL = re.compile(r"\bescape\s*\(")
_ESCAPE_DEFINED = re.compile(r"String\s+escape\s*\(\s*(def|String)\s+.*?\)\s*\{?")
_STRING_BEFORE = re.compile(r"\bString\s+$")


class ScriptError(ApiError):
    """A Painless failure as OpenSearch renders a `ScriptException` (400 `script_exception`)."""

    def __init__(
        self, reason: str, *, script: str, offset: int, cause_type: str, cause: str
    ) -> None:
        position = max(0, min(offset, len(script)))
        super().__init__(
            400,
            reason,
            error_type="script_exception",
            extra={
                "script_stack": _stack(script, position),
                "script": script,
                "lang": "painless",
                "position": {
                    "offset": position,
                    "start": max(0, position - 25),
                    "end": min(len(script), position + 25),
                },
            },
        )
        self.cause_type = cause_type
        self.cause = cause

    def envelope(self) -> dict[str, Any]:
        """The server's envelope: `caused_by` only on the top-level error, not the root cause."""
        body = super().envelope()
        body["error"]["caused_by"] = {"type": self.cause_type, "reason": self.cause}
        return body


def _stack(script: str, offset: int) -> list[str]:
    start = max(0, offset - 25)
    snippet = script[start : offset + 25].replace("\n", " ")
    return [snippet, " " * (offset - start) + "^---- HERE"]


def line_column(script: str, offset: int) -> tuple[int, int]:
    """1-based line and column of `offset` in `script`."""
    before = script[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def uses_escape_helper(script: str) -> bool:
    """Whether the server would prepend its `escape` helper (`StringUtils.addDefaultMethod`):
    `escape(` is called and no `String escape(def|String ...)` is defined."""
    if _ESCAPE_DEFINED.search(script):
        return False
    return any(
        not _STRING_BEFORE.search(script[: match.start()])
        for match in _ESCAPE_CALL.finditer(script)
    )


def server_escape(value: Any) -> str:
    """The server's `escape(def input)` helper, step by step as it behaves: backslashes and
    quotes escaped, CR, LF, backspace and form feed written as `\\r` `\\n` `\\b` `\\f`, and a
    backslash-`t` pair (not a tab) turned into three backslashes and `t`."""
    if not isinstance(value, str):
        if value is None:
            raise ScriptRuntimeError(
                "null_pointer_exception", "Cannot invoke [contains] because the receiver is null"
            )
        raise ScriptRuntimeError(
            "illegal_argument_exception",
            f"dynamic method [{java_class(value)}, contains/1] not found",
        )
    text = value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")
    text = text.replace("\\t", "\\\\\\t").replace("\n", "\\n")
    return text.replace("\b", "\\b").replace("\f", "\\f")


def run(
    script: str,
    params: dict[str, Any],
    *,
    escape_helper: bool,
    loop_limit: int = evaluating.MAX_LOOP_COUNTER,
) -> Any:
    """The value the script returns (None when it returns nothing)."""
    natives = {"escape": server_escape} if escape_helper and uses_escape_helper(script) else {}
    try:
        tree = parse(script)
        return evaluating.evaluate(tree, params, natives=natives, loop_limit=loop_limit)
    except ScriptSyntaxError as err:
        if err.unsupported:
            raise _unsupported(script, err.message, err.offset) from None
        raise _failure(
            "compile error", script, err.offset, "illegal_argument_exception", err.message
        ) from None
    except evaluating.ScriptCompileError as err:
        raise _failure(
            "compile error", script, err.offset, "illegal_argument_exception", err.message
        ) from None
    except ScriptUnsupportedError as err:
        raise _unsupported(script, err.message, err.offset) from None
    except ScriptRuntimeError as err:
        raise _failure("runtime error", script, err.offset, err.java_type, err.message) from None
    except RecursionError:
        raise _failure(
            "runtime error", script, 0, "stack_overflow_error", "the script recursed too deeply"
        ) from None


def _failure(reason: str, script: str, offset: int, cause_type: str, cause: str) -> ScriptError:
    return ScriptError(reason, script=script, offset=offset, cause_type=cause_type, cause=cause)


def _unsupported(script: str, message: str, offset: int) -> ScriptError:
    line, column = line_column(script, max(offset, 0))
    reason = (
        f"{message} at line {line}, column {column}: the sandbox runs a subset of Painless "
        "(see docs/sandbox.md, process functions)"
    )
    return ScriptError(
        reason, script=script, offset=offset, cause_type="illegal_argument_exception", cause=message
    )


def result_string(value: Any, script: str) -> str | None:
    """A script's result as the `TemplateScript` context returns it: a String or null; any
    other value fails as the JVM's cast to String would."""
    if value is None or isinstance(value, str):
        return value
    raise _failure(
        "runtime error",
        script,
        len(script),
        "class_cast_exception",
        f"class {java_class(value)} cannot be cast to class java.lang.String",
    )
