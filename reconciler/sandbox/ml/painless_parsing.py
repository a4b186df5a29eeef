"""A recursive-descent parser for the Painless subset of connector process functions (§4.2).

`painless.py` calls `parse` on a script; `painless_evaluating` walks the tree it returns. The
subset is what the official ML Commons blueprints and the built-in helper `escape` use: typed
and `def` declarations, string building, `if`/`else`, `for` (classic and for-each), `while`,
`do`, `return`, `break`, `continue`, `throw new ...`, user functions, list and map
initialisers, `new`, casts, and the usual arithmetic, comparison, logical, ternary and elvis
operators (expressions are in `painless_expressions`). A script that is not Painless raises
`ScriptSyntaxError` with its offset; one that uses Painless beyond the subset raises it with
`unsupported=True`, naming the construct. No evaluation here.
"""

from __future__ import annotations

from reconciler.sandbox.ml.painless_expressions import (
    TYPES,
    ExpressionParser,
    Node,
    ScriptSyntaxError,
    node,
)
from reconciler.sandbox.ml.painless_lexing import LexError, tokenize

__all__ = ["Node", "ScriptSyntaxError", "parse"]


def parse(source: str) -> Node:
    """The `script` node of `source`: `functions` (by name) and `body` (statements)."""
    try:
        tokens = tokenize(source)
    except LexError as err:
        raise ScriptSyntaxError(err.message, err.offset) from None
    return _Parser(tokens).script()


class _Parser(ExpressionParser):
    def script(self) -> Node:
        functions: dict[str, Node] = {}
        body: list[Node] = []
        while self.token.kind != "end":
            if self._at_function():
                function = self.function()
                functions[function["name"]] = function
            else:
                body.append(self.statement())
        return node("script", 0, functions=functions, body=body)

    def _at_function(self) -> bool:
        return (
            self.token.kind in ("ident", "keyword")
            and self.token.text in TYPES
            and self.peek().kind == "ident"
            and self.peek(2).text == "("
        )

    def function(self) -> Node:
        start = self.advance()
        name = self.advance().text
        self.expect("(")
        params: list[str] = []
        while not self.at(")"):
            self.type_name()
            params.append(self.identifier())
            if not self.at(")"):
                self.expect(",")
        self.expect(")")
        return node("function", start.offset, name=name, params=params, body=self.block())

    def block(self) -> Node:
        start = self.expect("{")
        body: list[Node] = []
        while not self.at("}"):
            if self.token.kind == "end":
                self.fail("missing [}] at the end of a block", start)
            body.append(self.statement())
        self.advance()
        return node("block", start.offset, body=body)

    def statement(self) -> Node:
        token = self.token
        handler = _STATEMENTS.get(token.text) if token.kind in ("keyword", "punct") else None
        if handler is not None:
            return handler(self)
        if self._at_declaration():
            declaration = self.declaration()
            self._end_statement()
            return declaration
        expression = self.expression()
        self._end_statement()
        return node("expression", token.offset, expr=expression)

    def _at_declaration(self) -> bool:
        first, second = self.token, self.peek()
        if first.kind != "ident":
            return False
        if second.kind == "ident":
            return True
        array = second.text == "[" and self.peek(2).text == "]"
        return first.text in TYPES and (second.text == "<" or array)

    def declaration(self) -> Node:
        start = self.token
        type_name = self.type_name()
        names: list[tuple[str, Node | None]] = []
        while True:
            name = self.identifier()
            value = None
            if self.at("="):
                self.advance()
                value = self.expression()
            names.append((name, value))
            if not self.at(","):
                break
            self.advance()
        return node("declare", start.offset, type=type_name, names=names)

    def if_statement(self) -> Node:
        start = self.advance()
        condition = self.parenthesised()
        then = self.statement()
        otherwise = None
        if self.at("else"):
            self.advance()
            otherwise = self.statement()
        return node("if", start.offset, cond=condition, then=then, otherwise=otherwise)

    def while_statement(self) -> Node:
        start = self.advance()
        condition = self.parenthesised()
        return node("while", start.offset, cond=condition, body=self.statement())

    def do_statement(self) -> Node:
        start = self.advance()
        body = self.statement()
        self.expect("while")
        condition = self.parenthesised()
        self.expect(";")
        return node("do", start.offset, cond=condition, body=body)

    def for_statement(self) -> Node:
        start = self.advance()
        self.expect("(")
        if self._at_declaration() and self.peek(2).text == ":":
            self.type_name()
            name = self.identifier()
            self.expect(":")
            iterable = self.expression()
            self.expect(")")
            body = self.statement()
            return node("foreach", start.offset, name=name, iterable=iterable, body=body)
        init = None
        if not self.at(";"):
            init = self.declaration() if self._at_declaration() else self.expression()
        self.expect(";")
        condition = None if self.at(";") else self.expression()
        self.expect(";")
        update: list[Node] = []
        while not self.at(")"):
            update.append(self.expression())
            if not self.at(")"):
                self.expect(",")
        self.expect(")")
        body = self.statement()
        return node("for", start.offset, init=init, cond=condition, update=update, body=body)

    def return_statement(self) -> Node:
        start = self.advance()
        value = None if self.at(";") else self.expression()
        self._end_statement()
        return node("return", start.offset, value=value)

    def _end_statement(self) -> None:
        # Painless lets the last statement of a script or block omit its semicolon.
        if self.at(";"):
            self.advance()
        elif not (self.at("}") or self.token.kind == "end"):
            self.fail(f"expected [;] but found [{self.token.text}]")

    def jump_statement(self) -> Node:
        start = self.advance()
        self._end_statement()
        return node(start.text, start.offset)

    def throw_statement(self) -> Node:
        start = self.advance()
        value = self.expression()
        self._end_statement()
        return node("throw", start.offset, value=value)

    def empty_statement(self) -> Node:
        start = self.advance()
        return node("block", start.offset, body=[])

    # -- expressions ---------------------------------------------------------------------


_STATEMENTS = {
    "if": _Parser.if_statement,
    "while": _Parser.while_statement,
    "do": _Parser.do_statement,
    "for": _Parser.for_statement,
    "return": _Parser.return_statement,
    "break": _Parser.jump_statement,
    "continue": _Parser.jump_statement,
    "throw": _Parser.throw_statement,
    "{": _Parser.block,
    ";": _Parser.empty_statement,
}
