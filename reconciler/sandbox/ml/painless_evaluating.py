"""A tree-walking evaluator for the parse trees of `painless_parsing`.

`painless.py` calls `evaluate(tree, params)`. Variables live in block scopes; `params` is the
only global, as in Painless; user functions see only their arguments. Loops count their
iterations against Painless' default limit of 1,000,000 so that a runaway script fails as
on the server instead of hanging the sandbox. Java behaviour of values and methods comes from
`painless_values` and `painless_methods`. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.sandbox.ml import painless_methods as methods
from reconciler.sandbox.ml.painless_parsing import Node
from reconciler.sandbox.ml.painless_values import (
    JavaException,
    ScriptRuntimeError,
    ScriptUnsupportedError,
    arithmetic,
    compare,
    convert,
    is_number,
    java_class,
    java_equals,
    snake_case,
    to_boolean,
)

MAX_LOOP_COUNTER = 1_000_000
"""Painless' `painless.max_loop_counter` default."""


class ScriptCompileError(Exception):
    """A failure Painless would report at compile time (unknown variable or function)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


class _Return(Exception):  # noqa: N818 (control flow, not an error)
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):  # noqa: N818 (control flow, not an error)
    pass


class _Continue(Exception):  # noqa: N818 (control flow, not an error)
    pass


def evaluate(
    tree: Node,
    params: dict[str, Any],
    *,
    natives: dict[str, Callable[..., Any]] | None = None,
    loop_limit: int = MAX_LOOP_COUNTER,
) -> Any:
    """Run a `script` node with `params`; the value of its `return`, or None. `natives` are
    one-argument functions callable by name unless the script defines its own."""
    machine = _Machine(tree["functions"], natives or {}, loop_limit)
    try:
        machine.statements(tree["body"], [{"params": params}])
    except _Return as returned:
        return returned.value
    except (_Break, _Continue):
        return None
    return None


class _Machine:
    def __init__(
        self, functions: dict[str, Node], natives: dict[str, Callable[..., Any]], limit: int
    ) -> None:
        self.functions = functions
        self.natives = natives
        self.limit = limit
        self.loops = 0

    # -- statements ----------------------------------------------------------------------
    def statements(self, body: list[Node], scopes: list[dict[str, Any]]) -> None:
        for statement in body:
            self.statement(statement, scopes)

    def statement(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        handler = _STATEMENTS[item.kind]
        try:
            handler(self, item, scopes)
        except (ScriptRuntimeError, ScriptUnsupportedError) as err:
            if err.offset < 0:
                err.offset = item.offset
            raise

    def block(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        self.statements(item["body"], [*scopes, {}])

    def declare(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        for name, value in item["names"]:
            if name in scopes[-1]:
                raise ScriptCompileError(f"variable [{name}] is already defined", item.offset)
            initial = None if value is None else self.expr(value, scopes)
            scopes[-1][name] = convert(item["type"], initial, item.offset)

    def expression(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        self.expr(item["expr"], scopes)

    def if_(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        if self.condition(item["cond"], scopes):
            self.statement(item["then"], [*scopes, {}])
        elif item["otherwise"] is not None:
            self.statement(item["otherwise"], [*scopes, {}])

    def condition(self, cond: Node, scopes: list[dict[str, Any]]) -> bool:
        return to_boolean(self.expr(cond, scopes), cond.offset)

    def tick(self, offset: int) -> None:
        self.loops += 1
        if self.loops > self.limit:
            raise ScriptRuntimeError(
                "painless_error",
                "The maximum number of statements that can be executed in a loop has been reached.",
                offset,
            )

    def body(self, item: Node, scopes: list[dict[str, Any]]) -> bool:
        """Run a loop body; False when it broke out of the loop."""
        self.tick(item.offset)
        try:
            self.statement(item["body"], [*scopes, {}])
        except _Break:
            return False
        except _Continue:
            pass
        return True

    def while_(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        while self.condition(item["cond"], scopes):
            if not self.body(item, scopes):
                return

    def do(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        while self.body(item, scopes) and self.condition(item["cond"], scopes):
            pass

    def for_(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        inner = [*scopes, {}]
        init = item["init"]
        if init is not None:
            self.statement(init, inner) if init.kind == "declare" else self.expr(init, inner)
        while item["cond"] is None or self.condition(item["cond"], inner):
            if not self.body(item, inner):
                return
            for update in item["update"]:
                self.expr(update, inner)

    def foreach(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        iterable = self.expr(item["iterable"], scopes)
        if isinstance(iterable, dict):
            iterable = list(iterable)
        if not isinstance(iterable, list):
            raise ScriptRuntimeError(
                "illegal_argument_exception",
                f"Cannot iterate over [{java_class(iterable)}]",
                item.offset,
            )
        for element in list(iterable):
            if not self.body(item, [*scopes, {item["name"]: element}]):
                return

    def return_(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        value = item["value"]
        raise _Return(None if value is None else self.expr(value, scopes))

    def break_(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        raise _Break

    def continue_(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        raise _Continue

    def throw(self, item: Node, scopes: list[dict[str, Any]]) -> None:
        value = self.expr(item["value"], scopes)
        if not isinstance(value, JavaException):
            raise ScriptRuntimeError(
                "class_cast_exception",
                f"Cannot cast {java_class(value)} to java.lang.Throwable",
                item.offset,
            )
        raise ScriptRuntimeError(snake_case(value.class_name), value.message or "", item.offset)

    # -- expressions ---------------------------------------------------------------------
    def expr(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        try:
            return _EXPRESSIONS[item.kind](self, item, scopes)
        except (ScriptRuntimeError, ScriptUnsupportedError) as err:
            if err.offset < 0:
                err.offset = item.offset
            raise

    def literal(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        return item["value"]

    def name(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        scope = _find(scopes, item["name"])
        if scope is None:
            raise ScriptCompileError(f"cannot resolve symbol [{item['name']}]", item.offset)
        return scope[item["name"]]

    def list_(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        return [self.expr(element, scopes) for element in item["items"]]

    def map_(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        return {self.expr(k, scopes): self.expr(v, scopes) for k, v in item["pairs"]}

    def new(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        args = [self.expr(arg, scopes) for arg in item["args"]]
        return methods.construct(item["type"], args)

    def field(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        dotted = _partial_type_name(item, scopes)
        if dotted is not None:
            # An unknown name followed by fields is read as a partial type name, and the
            # whole of it is named (`DefaultSemanticAnalysisPhase.checkedVisit`).
            raise ScriptCompileError(f"cannot resolve symbol [{dotted}]", _root(item).offset)
        target = self.expr(item["target"], scopes)
        if target is None and item["safe"]:
            return None
        return methods.get_field(target, item["name"])

    def index(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        target = self.expr(item["target"], scopes)
        key = self.expr(item["index"], scopes)
        if isinstance(target, list):
            return methods.call_method(target, "get", [key])
        if isinstance(target, dict):
            return target.get(key)
        if target is None:
            raise ScriptRuntimeError(
                "null_pointer_exception", "Cannot load from index because the receiver is null"
            )
        raise ScriptUnsupportedError(f"brace access on [{java_class(target)}]", item.offset)

    def call(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        target_node = item["target"]
        args = [self.expr(arg, scopes) for arg in item["args"]]
        if target_node is None:
            return self.user_call(item, args)
        if (
            target_node.kind == "name"
            and target_node["name"] in methods.STATIC_TYPES
            and _find(scopes, target_node["name"]) is None
        ):
            return methods.call_static(target_node["name"], item["name"], args)
        target = self.expr(target_node, scopes)
        if target is None and item["safe"]:
            return None
        return methods.call_method(target, item["name"], args)

    def user_call(self, item: Node, args: list[Any]) -> Any:
        function = self.functions.get(item["name"])
        native = self.natives.get(item["name"])
        if function is None and native is not None and len(args) == 1:
            return native(args[0])
        if function is None or len(function["params"]) != len(args):
            raise ScriptCompileError(
                f"Unknown call [{item['name']}] with [{len(args)}] arguments.", item.offset
            )
        scope = dict(zip(function["params"], args, strict=True))
        try:
            self.statement(function["body"], [scope])
        except _Return as returned:
            return returned.value
        return None

    def unary(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        value = self.expr(item["operand"], scopes)
        if item["op"] == "!":
            return not to_boolean(value, item.offset)
        if not is_number(value):
            raise ScriptRuntimeError(
                "class_cast_exception",
                f"Cannot apply [{item['op']}] operation to type [{java_class(value)}].",
            )
        return -value if item["op"] == "-" else value

    def binary(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        left = self.expr(item["left"], scopes)
        right = self.expr(item["right"], scopes)
        operator = item["op"]
        if operator == "==":
            return java_equals(left, right)
        if operator == "!=":
            return not java_equals(left, right)
        if operator in ("<", ">", "<=", ">="):
            return compare(operator, left, right)
        return arithmetic(operator, left, right)

    def and_(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        return self.condition(item["left"], scopes) and self.condition(item["right"], scopes)

    def or_(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        return self.condition(item["left"], scopes) or self.condition(item["right"], scopes)

    def ternary(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        chosen = item["then"] if self.condition(item["cond"], scopes) else item["otherwise"]
        return self.expr(chosen, scopes)

    def elvis(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        left = self.expr(item["left"], scopes)
        return self.expr(item["right"], scopes) if left is None else left

    def cast(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        return convert(item["type"], self.expr(item["operand"], scopes), item.offset)

    def assign(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        target = item["target"]
        value = self.expr(item["value"], scopes)
        if item["op"] != "=":
            value = arithmetic(item["op"][0], self.expr(target, scopes), value)
        self.store(target, value, scopes)
        return value

    def step(self, item: Node, scopes: list[dict[str, Any]]) -> Any:
        target = item["target"]
        before = self.expr(target, scopes)
        after = arithmetic("+" if item["op"] == "++" else "-", before, 1)
        self.store(target, after, scopes)
        return after if item["prefix"] else before

    def store(self, target: Node, value: Any, scopes: list[dict[str, Any]]) -> None:
        if target.kind == "name":
            scope = _find(scopes, target["name"])
            if scope is None:
                raise ScriptCompileError(f"cannot resolve symbol [{target['name']}]", target.offset)
            scope[target["name"]] = value
        elif target.kind == "field":
            methods.set_field(self.expr(target["target"], scopes), target["name"], value)
        elif target.kind == "index":
            container = self.expr(target["target"], scopes)
            key = self.expr(target["index"], scopes)
            if isinstance(container, dict):
                container[key] = value
            else:
                methods.call_method(container, "set", [key, value])
        else:
            raise ScriptCompileError("invalid assignment target", target.offset)


def _root(item: Node) -> Node:
    while item.kind == "field":
        item = item["target"]
    return item


def _partial_type_name(item: Node, scopes: list[dict[str, Any]]) -> str | None:
    """`a.b.c` when `a` is no variable: the dotted name Painless cannot resolve, else None."""
    parts: list[str] = []
    while item.kind == "field" and not item["safe"]:
        parts.append(item["name"])
        item = item["target"]
    if item.kind != "name" or item["name"] in methods.STATIC_TYPES:
        return None
    if _find(scopes, item["name"]) is not None:
        return None
    return ".".join([item["name"], *reversed(parts)])


def _find(scopes: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = next((s for s in reversed(scopes) if name in s), None)
    return found


_STATEMENTS: dict[str, Callable[[_Machine, Node, list[dict[str, Any]]], None]] = {
    "block": _Machine.block,
    "declare": _Machine.declare,
    "expression": _Machine.expression,
    "if": _Machine.if_,
    "while": _Machine.while_,
    "do": _Machine.do,
    "for": _Machine.for_,
    "foreach": _Machine.foreach,
    "return": _Machine.return_,
    "break": _Machine.break_,
    "continue": _Machine.continue_,
    "throw": _Machine.throw,
}
_EXPRESSIONS: dict[str, Callable[[_Machine, Node, list[dict[str, Any]]], Any]] = {
    "literal": _Machine.literal,
    "name": _Machine.name,
    "list": _Machine.list_,
    "map": _Machine.map_,
    "new": _Machine.new,
    "field": _Machine.field,
    "index": _Machine.index,
    "call": _Machine.call,
    "unary": _Machine.unary,
    "binary": _Machine.binary,
    "and": _Machine.and_,
    "or": _Machine.or_,
    "ternary": _Machine.ternary,
    "elvis": _Machine.elvis,
    "cast": _Machine.cast,
    "assign": _Machine.assign,
    "step": _Machine.step,
}
