"""Tokens of the Painless subset that connector process functions use (reference §4.2).

`painless_parsing` calls `tokenize` on a script's text. Each token keeps its offset, line and
column so that every later error can point at the exact place. String literals follow
Painless, not Java: the only escapes are `\\\\` and the closing quote (`\\"` or `\\'`); any other
backslash is a compile error, as in Painless' lexer. This module knows nothing of the parse
tree and must not evaluate anything.
"""

from __future__ import annotations

import dataclasses
import re

KEYWORDS = frozenset(
    {
        "if",
        "else",
        "for",
        "while",
        "do",
        "return",
        "break",
        "continue",
        "new",
        "throw",
        "true",
        "false",
        "null",
        "instanceof",
        "try",
        "catch",
        "switch",
        "case",
    }
)

# Longest first, so `+=` wins over `+` and `->` over `-`.
_PUNCTUATION = (
    ">>>=",
    "===",
    "!==",
    "==~",
    "<<=",
    ">>=",
    ">>>",
    "==",
    "!=",
    "<=",
    ">=",
    "&&",
    "||",
    "++",
    "--",
    "+=",
    "-=",
    "*=",
    "/=",
    "%=",
    "&=",
    "|=",
    "^=",
    "->",
    "::",
    "?.",
    "?:",
    "=~",
    "<<",
    ">>",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ".",
    ":",
    "?",
    "=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "<",
    ">",
    "!",
    "~",
    "&",
    "|",
    "^",
)
_NUMBER = re.compile(
    r"(?:0[xX][0-9a-fA-F]+[lL]?)|(?:(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[lLfFdD]?)"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclasses.dataclass(frozen=True)
class Token:
    """One lexical token."""

    kind: str
    """`ident`, `keyword`, `number`, `string`, `punct` or `end`."""
    text: str
    """The token as written (for strings: the decoded value)."""
    offset: int
    """Character offset of the token's first character in the script."""


class LexError(Exception):
    """A character sequence that is not Painless; carries the offset of the problem."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def tokenize(source: str) -> list[Token]:
    """Every token of `source`, ending with an `end` token; comments and blanks dropped."""
    tokens: list[Token] = []
    index = 0
    while index < len(source):
        index = _skip_blank(source, index)
        if index >= len(source):
            break
        token, index = _next_token(source, index)
        tokens.append(token)
    tokens.append(Token("end", "<end of script>", len(source)))
    return tokens


def _skip_blank(source: str, index: int) -> int:
    while index < len(source):
        if source[index].isspace():
            index += 1
        elif source.startswith("//", index):
            end = source.find("\n", index)
            index = len(source) if end < 0 else end + 1
        elif source.startswith("/*", index):
            end = source.find("*/", index + 2)
            if end < 0:
                raise LexError("unterminated comment", index)
            index = end + 2
        else:
            break
    return index


def _next_token(source: str, index: int) -> tuple[Token, int]:
    char = source[index]
    if char in "\"'":
        return _string(source, index)
    if char.isdigit() or (char == "." and source[index + 1 : index + 2].isdigit()):
        match = _NUMBER.match(source, index)
        assert match is not None
        return Token("number", match.group(0), index), match.end()
    ident = _IDENT.match(source, index)
    if ident:
        text = ident.group(0)
        kind = "keyword" if text in KEYWORDS else "ident"
        return Token(kind, text, index), ident.end()
    for punct in _PUNCTUATION:
        if source.startswith(punct, index):
            return Token("punct", punct, index), index + len(punct)
    raise LexError(f"unexpected character [{char}]", index)


def _string(source: str, start: int) -> tuple[Token, int]:
    quote = source[start]
    chars: list[str] = []
    index = start + 1
    while index < len(source):
        char = source[index]
        if char == quote:
            return Token("string", "".join(chars), start), index + 1
        if char == "\\":
            following = source[index + 1 : index + 2]
            if following not in ("\\", quote):
                raise LexError(
                    f"invalid escape sequence [\\{following}] in a string literal "
                    "(Painless strings only escape \\\\ and the quote)",
                    index,
                )
            chars.append(following)
            index += 2
            continue
        chars.append(char)
        index += 1
    raise LexError("unterminated string literal", start)
