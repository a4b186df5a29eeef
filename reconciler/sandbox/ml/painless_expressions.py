"""Expressions of the Painless subset, and the parse-tree nodes (reference §4.2).

`painless_parsing` builds its statement parser on `ExpressionParser`; the evaluator reads the
`Node`s. Precedence, lowest first: assignment, `?:` (ternary), `?:` (elvis), `||`, `&&`,
`== !=`, `< > <= >=`, `+ -`, `* / %`, unary (`! - + ++ -- (cast)`), postfix (calls, `.`/`?.`,
`[]`, `++ --`), primaries (literals, names, `[...]` / `[k: v]` initialisers, `new`, `(...)`).
Tokens Painless has but the subset lacks raise `ScriptSyntaxError(unsupported=True)` naming
them. No evaluation here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reconciler.sandbox.ml.painless_lexing import Token

TYPES = frozenset(
    {
        "def",
        "String",
        "StringBuilder",
        "int",
        "long",
        "double",
        "float",
        "boolean",
        "short",
        "byte",
        "char",
        "Object",
        "Map",
        "HashMap",
        "List",
        "ArrayList",
        "Integer",
        "Long",
        "Double",
        "Float",
        "Boolean",
        "Number",
        "void",
    }
)
_UNSUPPORTED_PUNCT = {
    "->": "lambda expression",
    "::": "method reference",
    "=~": "regex find operator",
    "==~": "regex match operator",
    "===": "identity comparison",
    "!==": "identity comparison",
    "&": "bitwise operator",
    "|": "bitwise operator",
    "^": "bitwise operator",
    "~": "bitwise operator",
    "<<": "shift operator",
    ">>": "shift operator",
    ">>>": "shift operator",
    "&=": "compound bitwise assignment",
    "|=": "compound bitwise assignment",
    "^=": "compound bitwise assignment",
    "<<=": "compound shift assignment",
    ">>=": "compound shift assignment",
    ">>>=": "compound shift assignment",
}
_UNSUPPORTED_KEYWORDS = {
    "switch": "switch statement",
    "case": "switch statement",
    "try": "try/catch statement",
    "catch": "try/catch statement",
    "instanceof": "instanceof operator",
}
_ASSIGN = ("=", "+=", "-=", "*=", "/=", "%=")
_BINARY_LEVELS: tuple[tuple[str, ...], ...] = (
    ("==", "!="),
    ("<", ">", "<=", ">="),
    ("+", "-"),
    ("*", "/", "%"),
)


class ScriptSyntaxError(Exception):
    """The script cannot be compiled by the sandbox; `offset` points at the construct."""

    def __init__(self, message: str, offset: int, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.unsupported = unsupported
        """True when the script may be valid Painless that the sandbox's subset lacks."""


@dataclasses.dataclass(frozen=True)
class Node:
    """A parse-tree node: `kind` names it, `offset` is where it starts, `parts` its fields."""

    kind: str
    offset: int
    parts: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.parts[key]


def node(kind: str, offset: int, **parts: Any) -> Node:
    """Build a node."""
    return Node(kind, offset, parts)


class ExpressionParser:
    """Token helpers and the expression grammar; `painless_parsing` adds statements."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    # -- token helpers -------------------------------------------------------------------
    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def at(self, *texts: str) -> bool:
        token = self.token
        return token.kind in ("punct", "keyword") and token.text in texts

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def expect(self, text: str) -> Token:
        if not self.at(text):
            self.fail(f"expected [{text}] but found [{self.token.text}]")
        return self.advance()

    def fail(self, message: str, token: Token | None = None) -> None:
        where = token or self.token
        self._check_unsupported(where)
        raise ScriptSyntaxError(message, where.offset)

    def _check_unsupported(self, token: Token) -> None:
        name = _UNSUPPORTED_PUNCT.get(token.text) if token.kind == "punct" else None
        if token.kind == "keyword":
            name = _UNSUPPORTED_KEYWORDS.get(token.text)
        if name:
            raise ScriptSyntaxError(
                f"unsupported Painless construct [{name}] ({token.text})",
                token.offset,
                unsupported=True,
            )

    def unsupported(self, name: str, token: Token) -> None:
        raise ScriptSyntaxError(
            f"unsupported Painless construct [{name}]", token.offset, unsupported=True
        )

    # -- statements ----------------------------------------------------------------------

    def identifier(self) -> str:
        if self.token.kind != "ident":
            self.fail(f"expected a name but found [{self.token.text}]")
        return self.advance().text

    def type_name(self) -> str:
        token = self.advance()
        if token.text not in TYPES:
            self.unsupported(f"type {token.text}", token)
        if self.at("<"):
            self.unsupported("generic type", self.token)
        if self.at("[") and self.peek().text == "]":
            self.unsupported("array type", self.token)
        return token.text

    def parenthesised(self) -> Node:
        self.expect("(")
        expression = self.expression()
        self.expect(")")
        return expression

    def expression(self) -> Node:
        target = self.conditional()
        if self.token.kind == "punct" and self.token.text in _ASSIGN:
            operator = self.advance()
            if target.kind not in ("name", "field", "index"):
                self.fail("the left side of an assignment must be a variable", operator)
            value = self.expression()
            return node("assign", operator.offset, target=target, op=operator.text, value=value)
        if self.token.kind == "punct" and self.token.text in _UNSUPPORTED_PUNCT:
            self._check_unsupported(self.token)
        return target

    def conditional(self) -> Node:
        condition = self.elvis()
        if not self.at("?"):
            return condition
        start = self.advance()
        then = self.expression()
        self.expect(":")
        otherwise = self.conditional()
        return node("ternary", start.offset, cond=condition, then=then, otherwise=otherwise)

    def elvis(self) -> Node:
        left = self.logical_or()
        while self.at("?:"):
            start = self.advance()
            left = node("elvis", start.offset, left=left, right=self.logical_or())
        return left

    def logical_or(self) -> Node:
        left = self.logical_and()
        while self.at("||"):
            start = self.advance()
            left = node("or", start.offset, left=left, right=self.logical_and())
        return left

    def logical_and(self) -> Node:
        left = self.binary(0)
        while self.at("&&"):
            start = self.advance()
            left = node("and", start.offset, left=left, right=self.binary(0))
        return left

    def binary(self, level: int) -> Node:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.token.kind == "punct" and self.token.text in _BINARY_LEVELS[level]:
            operator = self.advance()
            right = self.binary(level + 1)
            left = node("binary", operator.offset, op=operator.text, left=left, right=right)
        if self.at("instanceof"):
            self._check_unsupported(self.token)
        return left

    def unary(self) -> Node:
        token = self.token
        if self.at("!", "-", "+"):
            self.advance()
            return node("unary", token.offset, op=token.text, operand=self.unary())
        if self.at("++", "--"):
            self.advance()
            target = self.unary()
            return node("step", token.offset, target=target, op=token.text, prefix=True)
        if self.at("(") and self._at_cast():
            self.advance()
            type_name = self.type_name()
            self.expect(")")
            return node("cast", token.offset, type=type_name, operand=self.unary())
        if self.at("~"):
            self._check_unsupported(token)
        return self.postfix(self.primary())

    def _at_cast(self) -> bool:
        inner, closing, following = self.peek(), self.peek(2), self.peek(3)
        if inner.text not in TYPES or closing.text != ")":
            return False
        return following.kind in ("ident", "number", "string") or following.text in (
            "(",
            "!",
            "new",
            "null",
            "true",
            "false",
            "[",
        )

    def postfix(self, target: Node) -> Node:
        while True:
            token = self.token
            if self.at(".", "?."):
                self.advance()
                name = self.identifier()
                safe = token.text == "?."
                if self.at("("):
                    args = self.arguments()
                    target = node(
                        "call", token.offset, target=target, name=name, args=args, safe=safe
                    )
                else:
                    target = node("field", token.offset, target=target, name=name, safe=safe)
            elif self.at("["):
                self.advance()
                index = self.expression()
                self.expect("]")
                target = node("index", token.offset, target=target, index=index)
            elif self.at("++", "--"):
                self.advance()
                target = node("step", token.offset, target=target, op=token.text, prefix=False)
            else:
                return target

    def arguments(self) -> list[Node]:
        self.expect("(")
        args: list[Node] = []
        while not self.at(")"):
            args.append(self.expression())
            if not self.at(")"):
                self.expect(",")
        self.expect(")")
        return args

    def primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            return node("literal", token.offset, value=_number(token))
        if token.kind == "string":
            self.advance()
            return node("literal", token.offset, value=token.text)
        if self.at("true", "false", "null"):
            self.advance()
            value = {"true": True, "false": False, "null": None}[token.text]
            return node("literal", token.offset, value=value)
        if self.at("("):
            return self.parenthesised()
        if self.at("["):
            return self.initializer()
        if self.at("new"):
            return self.new_expression()
        if token.kind == "ident":
            self.advance()
            if self.at("("):
                return node(
                    "call",
                    token.offset,
                    target=None,
                    name=token.text,
                    args=self.arguments(),
                    safe=False,
                )
            return node("name", token.offset, name=token.text)
        self.fail(f"unexpected [{token.text}]")
        raise AssertionError("unreachable")

    def initializer(self) -> Node:
        start = self.advance()
        if self.at(":"):
            self.advance()
            self.expect("]")
            return node("map", start.offset, pairs=[])
        items: list[Node] = []
        pairs: list[tuple[Node, Node]] = []
        while not self.at("]"):
            item = self.expression()
            if self.at(":") or pairs:
                self.expect(":")
                pairs.append((item, self.expression()))
            else:
                items.append(item)
            if not self.at("]"):
                self.expect(",")
        self.advance()
        if pairs:
            return node("map", start.offset, pairs=pairs)
        return node("list", start.offset, items=items)

    def new_expression(self) -> Node:
        start = self.advance()
        type_token = self.advance()
        if self.at("["):
            self.unsupported("array creation", self.token)
        if self.at("<"):
            self.unsupported("generic type", self.token)
        return node("new", start.offset, type=type_token.text, args=self.arguments())


def _number(token: Token) -> int | float:
    text = token.text.rstrip("lLdDfF") if not token.text.lower().startswith("0x") else token.text
    if text.lower().startswith("0x"):
        return int(text.rstrip("lL"), 16)
    if any(c in text for c in ".eE") or token.text[-1] in "dDfF":
        return float(text)
    return int(text)
