"""Reads YAML text into plain Python data and remembers where every node came from.

`manifests.loading` calls `read_documents` once per file and keeps the positions so that
every later problem (pydantic's, the semantic checks') can point at `file:line:column`.
YAML is read with PyYAML's safe loader (libyaml's when present, with the pure-Python one
as the reference for every error), bounded: documents nested deeper than
`MAX_DEPTH`, or expanding (through aliases) to more than `MAX_NODES` nodes, are refused
instead of exhausting the stack or the memory. Duplicate mapping keys are errors, because
PyYAML would silently keep the last one and the manifest would not mean what it says.

This module knows nothing of manifest kinds or pydantic, never prints, and reports every
failure as a Problem; it raises nothing but the bugs it does not expect.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import ManifestError, Problem, truncate

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted in one document."""
MAX_NODES = 100_000
"""Most values one document may expand to, counting every alias use again."""

FieldPath = tuple[str | int, ...]
"""Keys and list indexes from the document root, such as ("spec", "actions", 0, "url")."""

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + name for name in ("str", "int", "float", "bool", "null"))
_TIMESTAMP_TAG = _TAG + "timestamp"
_MERGE_TAG = _TAG + "merge"
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclasses.dataclass(frozen=True, slots=True)
class SourceLocation:
    """A position in a manifest file."""

    file: str
    """The file as given on the command line (relative stays relative)."""
    line: int
    """1-based line."""
    column: int
    """1-based column."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclasses.dataclass(frozen=True)
class Positions:
    """Where each value and each mapping key of one YAML document starts."""

    start: SourceLocation
    """The start of the document, the fallback for paths that do not exist."""
    values: Mapping[FieldPath, SourceLocation]
    """The location of the value node at each path."""
    keys: Mapping[FieldPath, SourceLocation]
    """The location of the key node for each path that ends in a mapping key."""

    def locate(self, path: FieldPath, *, key: bool = False) -> SourceLocation:
        """The node at `path` (its key node if `key`), else its nearest existing ancestor."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), 0, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return self.values.get((), self.start)


@dataclasses.dataclass(frozen=True)
class Document:
    """One non-empty YAML document of a file: its data and the positions of its nodes."""

    data: Any
    """Plain data: dicts with string keys, lists, str, int, float, bool and None."""
    positions: Positions
    """Where each node of `data` came from."""
    index: int
    """0-based position of the document in its file."""
    problems: tuple[Problem, ...] = ()
    """Problems that did not stop reading (duplicate keys, bad tags): the data is
    usable for further checks, but the document is invalid."""


class _Marks(Mapping[FieldPath, SourceLocation]):
    """Paths to where their nodes start, read as SourceLocations.

    A document has a position per value and per key, and nearly none is ever asked for
    (only a problem's is): each is kept as one int, `line << 32 | column` from PyYAML's
    0-based mark, and made a SourceLocation when it is read.
    """

    __slots__ = ("_file", "packed")

    def __init__(self, file: str) -> None:
        self._file = file
        self.packed: dict[FieldPath, int] = {}

    def __getitem__(self, path: FieldPath) -> SourceLocation:
        packed = self.packed[path]
        return SourceLocation(self._file, (packed >> 32) + 1, (packed & 0xFFFFFFFF) + 1)

    def __contains__(self, path: object) -> bool:
        return path in self.packed

    def __iter__(self) -> Iterator[FieldPath]:
        return iter(self.packed)

    def __len__(self) -> int:
        return len(self.packed)


def render_path(path: FieldPath) -> str:
    """`("spec", "actions", 0, "url")` as `spec.actions[0].url`; odd keys are quoted."""
    text = ""
    for element in path:
        if isinstance(element, int):
            text += f"[{element}]"
        elif _PLAIN_KEY.fullmatch(element):
            text += f".{element}" if text else element
        else:
            text += '["' + element.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return text


def read_documents(text: str, *, file: str) -> tuple[list[Document], list[Problem]]:
    """Every non-empty document of `text`, and the problems that stopped the others.

    A syntax error ends the file (the parser cannot resynchronise), but documents before
    it are still returned; a problem inside one document skips only that document.
    libyaml scans, parses and composes when PyYAML has it (several times faster on a
    large repository); a file in which it finds any YAML error, or a document past a
    limit, is read again by the pure-Python parser, so every message and position reads
    the same whichever parser is present.
    """
    if _FAST_LOADER is not None:
        documents, problems, clean = _read(_FAST_LOADER, text, file=file, fast=True)
        if clean:
            return documents, problems
    documents, problems, _ = _read(_BoundedLoader, text, file=file)
    return documents, problems


def _read(
    loader_class: Callable[[str], Any], text: str, *, file: str, fast: bool = False
) -> tuple[list[Document], list[Problem], bool]:
    """(documents, problems, no YAML error) for one parser; `fast` stops at a limit too.

    The fast loaders' depth bound is libyaml's or the builder's, not `_BoundedLoader`'s:
    a document past a limit is reported by the pure-Python reader alone.
    """
    documents: list[Document] = []
    problems: list[Problem] = []
    loader = None
    try:
        loader = loader_class(text)  # the reader refuses control characters right here
        index = 0
        while loader.check_node():
            node = loader.get_node()
            try:
                if node is not None:
                    documents.extend(_build_document(node, loader, file=file, index=index))
            except ManifestError as exc:  # a limit was hit: this document is skipped
                if fast:
                    return documents, problems, False  # the reference reader words it
                problems.extend(exc.problems)
            index += 1
    except yaml.YAMLError as exc:
        problems.append(_syntax_problem(exc, text=text, file=file))
        return documents, problems, False
    finally:
        if loader is not None:
            loader.dispose()
    return documents, problems, True


def _build_document(
    node: Node, loader: yaml.SafeLoader, *, file: str, index: int
) -> list[Document]:
    """The document of `node`, or none if it is empty (`---` alone, only comments)."""
    builder = _Builder(loader, file=file)
    data = builder.build(node, (), depth=0)
    if data is None:
        return []
    start = _location(node.start_mark, file=file)
    positions = Positions(start=start, values=builder.values, keys=builder.keys)
    return [Document(data, positions, index, problems=tuple(builder.problems))]


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, refusing documents nested deeper than MAX_DEPTH while composing.

    PyYAML composes recursively; without this bound a file of ten thousand `[` would
    end in a RecursionError instead of a readable problem.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self._depth >= MAX_DEPTH:
            raise yaml.MarkedYAMLError(
                problem=f"nested deeper than {MAX_DEPTH} levels",
                problem_mark=self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _QuickResolve:
    """PyYAML's safe `resolve`, answered without its loop where the answer is fixed: a
    mapping, a list, a quoted scalar, and a plain scalar whose first character starts no
    implicit type (`c3997`, `openai`: only `yes`, `~`, digits and the like can be
    anything but a string). Everything else goes to PyYAML. It runs for every node, and
    libyaml's composer calls it from C; the readers' agreement is tested."""

    _firsts = frozenset(k for k in yaml.SafeLoader.yaml_implicit_resolvers if k is not None)

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if not implicit[0] or (value and value[0] not in self._firsts):
                return _TAG + "str"
        elif kind is MappingNode:
            return _TAG + "map"
        elif kind is SequenceNode:
            return _TAG + "seq"
        return super().resolve(kind, value, implicit)  # type: ignore[misc,no-any-return]


def _fast_loader() -> Callable[[str], Any] | None:
    """_BoundedLoader's twin on libyaml's scanner and parser, when PyYAML was built with it.

    Only scanning and parsing move to C: PyYAML's own composer still builds the nodes, so
    the depth bound and the marks are those of _BoundedLoader, and the constructor and
    resolver are the safe ones.
    """
    if not getattr(yaml, "__with_libyaml__", False):
        return None
    from yaml._yaml import CParser  # noqa: PLC0415
    from yaml.composer import Composer  # noqa: PLC0415
    from yaml.constructor import SafeConstructor  # noqa: PLC0415
    from yaml.resolver import Resolver  # noqa: PLC0415

    class FastBoundedLoader(_QuickResolve, CParser, Composer, SafeConstructor, Resolver):
        check_node = Composer.check_node
        get_node = Composer.get_node
        compose_document = Composer.compose_document

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._depth = 0

        def compose_node(self, parent: Node | None, index: int) -> Node | None:
            if self._depth >= MAX_DEPTH:
                raise yaml.MarkedYAMLError(
                    problem=f"nested deeper than {MAX_DEPTH} levels",
                    problem_mark=self.peek_event().start_mark,  # type: ignore[union-attr,arg-type]
                )
            self._depth += 1
            try:
                return Composer.compose_node(self, parent, index)
            finally:
                self._depth -= 1

        def dispose(self) -> None:
            """The C parser holds nothing to release."""

    return FastBoundedLoader


def _c_loader() -> Callable[[str], Any] | None:
    """libyaml's own safe loader, composing in C too, when its nesting is bounded.

    Its composer recurses in C without the interpreter's recursion limit: it is used only
    when libyaml refuses deep nesting itself (libyaml 0.2.6 and later stop at 1,000
    levels), which a probe checks here. It builds the same nodes, tags and marks as
    PyYAML's composer (the resolver and constructor are the safe ones); documents nested
    deeper than MAX_DEPTH reach the builder, which stops at the same depth, and the file
    is then read again by the pure-Python reader for its exact message.
    """
    loader_class = getattr(yaml, "CSafeLoader", None)
    if not getattr(yaml, "__with_libyaml__", False) or loader_class is None:
        return None
    try:
        probe = loader_class("[" * 1_500)
        probe.check_node()
        probe.get_node()
    except yaml.YAMLError:
        return type("QuickCSafeLoader", (_QuickResolve, loader_class), {})
    return None  # composed 1,500 levels: no bound, do not rely on it


_FAST_LOADER = _c_loader() or _fast_loader()


class _Builder:
    """Turns one composed node tree into plain data, recording positions as it goes."""

    def __init__(self, loader: yaml.SafeLoader, *, file: str) -> None:
        self._loader = loader
        self._file = file
        self._count = 0
        self.values = _Marks(file)
        self.keys = _Marks(file)
        self._value_marks = self.values.packed
        self._key_marks = self.keys.packed
        self.problems: list[Problem] = []

    def build(self, node: Node, path: FieldPath, *, depth: int) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            # Aliases are shared nodes after composing; expanding them is where a
            # "billion laughs" document would eat the memory.
            self._fail(node, f"the document expands to more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            self._fail(node, f"nested deeper than {MAX_DEPTH} levels (a recursive alias?)")
        mark = node.start_mark
        self._value_marks[path] = mark.line << 32 | mark.column
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth=depth)
        if isinstance(node, SequenceNode):
            self._check_tag(node, _TAG + "seq", path)
            return [
                self.build(item, (*path, i), depth=depth + 1) for i, item in enumerate(node.value)
            ]
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: FieldPath, *, depth: int) -> dict[str, Any]:
        self._check_tag(node, _TAG + "map", path)
        if depth > MAX_DEPTH:
            self._fail(node, f"nested deeper than {MAX_DEPTH} levels (a recursive alias?)")
        result: dict[str, Any] = {}
        # Merge keys (`<<: *defaults`) first, so that explicit keys win as YAML says.
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                for source in reversed(self._merge_sources(value_node)):
                    result.update(self._mapping(source, path, depth=depth + 1))
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node, path)
            at = (*path, key)
            if key in seen:
                # Reported, then read as PyYAML would (the last wins) to find more problems.
                message = f"duplicate key '{truncate(key, 60)}' (first defined at line {seen[key]})"
                self._note(key_node, message, path=at)
            seen[key] = key_node.start_mark.line + 1
            mark = key_node.start_mark
            self._key_marks[at] = mark.line << 32 | mark.column
            result[key] = self.build(value_node, at, depth=depth + 1)
        return result

    def _merge_sources(self, node: Node) -> list[MappingNode]:
        if isinstance(node, MappingNode):
            return [node]
        if isinstance(node, SequenceNode) and all(isinstance(n, MappingNode) for n in node.value):
            return list(node.value)
        self._fail(node, "a merge key (<<) needs a mapping or a list of mappings")

    def _key(self, node: Node, path: FieldPath) -> str:
        # Keys are field names and map keys: keep their text, so that YAML 1.1 does not
        # turn `on:` into True or `1:` into an int that no string-keyed field accepts.
        if not isinstance(node, ScalarNode):
            self._fail(node, "a mapping key must be a plain value, not a mapping or a list")
        self._count += 1
        return self._text(node, str(node.value), path=path, key=True)

    def _scalar(self, node: Node, path: FieldPath) -> Any:
        if node.tag == _TIMESTAMP_TAG:
            # Dates are kept as written; no manifest field is a date.
            return self._text(node, str(node.value), path=path)
        if node.tag not in _SCALAR_TAGS:
            self._note(node, f"unsupported YAML tag {_short_tag(node.tag)}", path=path)
            return self._text(node, str(node.value), path=path)
        construct = self._loader.yaml_constructors[node.tag]
        try:
            value = construct(self._loader, node)
        except (ValueError, KeyError, TypeError, yaml.YAMLError):
            self._note(node, f"cannot read this value as {_short_tag(node.tag)}", path=path)
            return self._text(node, str(node.value), path=path)
        return self._text(node, value, path=path) if isinstance(value, str) else value

    def _text(self, node: Node, text: str, *, path: FieldPath, key: bool = False) -> str:
        """`text` with UTF-16 surrogate pairs joined into their character.

        JSON writes a character beyond U+FFFF as two escapes (`"\\ud83d\\ude00"` for 😀),
        which YAML reads as two lone surrogates; joined, they are the character meant.
        A surrogate left alone is no character at all: no output or server can carry it.
        It is reported here and shown as its escape, so that later checks and messages
        handle plain text.
        """
        if _LONE_SURROGATE.search(text) is None:
            return text  # the common case: one scan
        text = _SURROGATE_PAIR.sub(_join_pair, text)
        lone = _LONE_SURROGATE.search(text)
        if lone is None:
            return text
        escape = f"\\u{ord(lone.group()):04x}"
        where = "this key" if key else "this value"
        self._note(
            node,
            f"{where} holds a lone UTF-16 surrogate {escape}, which is not a character "
            "(half of a \\uXXXX\\uXXXX pair?); write the character itself",
            path=path,
        )
        return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

    def _check_tag(self, node: Node, expected: str, path: FieldPath) -> None:
        if node.tag != expected:
            self._note(node, f"unsupported YAML tag {_short_tag(node.tag)}", path=path)

    def _where(self, node: Node) -> SourceLocation:
        return _location(node.start_mark, file=self._file)

    def _note(self, node: Node, message: str, *, path: FieldPath = ()) -> None:
        where = self._where(node)
        self.problems.append(
            Problem(
                message,
                file=where.file,
                line=where.line,
                column=where.column,
                path=render_path(path) or None,
            )
        )

    def _fail(self, node: Node, message: str) -> NoReturn:
        # Limits and unreadable structure end the document: nothing after is trustworthy.
        where = self._where(node)
        raise ManifestError(
            [Problem(message, file=where.file, line=where.line, column=where.column)]
        )


def _join_pair(match: re.Match[str]) -> str:
    high, low = (ord(c) for c in match.group())
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def _location(mark: yaml.Mark, *, file: str) -> SourceLocation:
    return SourceLocation(file=file, line=mark.line + 1, column=mark.column + 1)


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _syntax_problem(exc: yaml.YAMLError, *, text: str, file: str) -> Problem:
    """One Problem for a YAML error, at PyYAML's mark, without echoing the source line.

    PyYAML's own `str()` quotes the offending line, which may hold a secret; only its
    problem text and mark are used.
    """
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        detail = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context:
            detail = f"{exc.problem} ({exc.context})"
        if mark is not None:
            where = _location(mark, file=file)
            return Problem(
                f"YAML syntax error: {detail}", file=file, line=where.line, column=where.column
            )
        return Problem(f"YAML syntax error: {detail}", file=file, line=1, column=1)
    if isinstance(exc, yaml.reader.ReaderError):
        line, column = position_of(text, exc.position)
        return Problem(
            f"character U+{exc.character:04X} is not allowed in YAML",
            file=file,
            line=line,
            column=column,
        )
    return Problem(f"YAML error: {type(exc).__name__}", file=file, line=1, column=1)


def position_of(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset in `text`."""
    before = text[: max(offset, 0)]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1
