"""The Java API a Painless script may call in the sandbox: methods, getters, statics, `new`.

`painless_evaluating` calls `call_method`, `get_field`, `call_static` and `construct`. The
tables hold what process-function scripts use (String, StringBuilder, List, Map, a few
statics and exception classes) with Java's behaviour; a name outside them raises
`ScriptUnsupportedError` naming the class and method, so a script never silently does something
else. No parsing, no variables.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from reconciler.sandbox.ml.painless_values import (
    JavaException,
    ScriptRuntimeError,
    ScriptUnsupportedError,
    StringBuilder,
    is_number,
    java_class,
    java_equals,
    java_str,
)

Method = Callable[..., Any]

STATIC_TYPES = frozenset({"String", "Integer", "Long", "Double", "Float", "Boolean", "Math"})
EXCEPTIONS = frozenset(
    {
        "Exception",
        "RuntimeException",
        "IllegalArgumentException",
        "IllegalStateException",
        "UnsupportedOperationException",
        "ArithmeticException",
        "NullPointerException",
    }
)


def _index(size: int, index: Any) -> int:
    if not is_number(index) or isinstance(index, float):
        raise ScriptRuntimeError(
            "class_cast_exception", f"Cannot cast {java_class(index)} to java.lang.Integer"
        )
    position = index + size if index < 0 else index
    if not 0 <= position < size:
        raise ScriptRuntimeError(
            "index_out_of_bounds_exception", f"Index {index} out of bounds for length {size}"
        )
    return int(position)


def _substring(text: str, begin: int, end: int | None = None) -> str:
    stop = len(text) if end is None else end
    if not 0 <= begin <= stop <= len(text):
        raise ScriptRuntimeError(
            "string_index_out_of_bounds_exception",
            f"begin {begin}, end {stop}, length {len(text)}",
        )
    return text[begin:stop]


def _append(builder: StringBuilder, value: Any) -> StringBuilder:
    builder.text += java_str(value)
    return builder


def _insert(builder: StringBuilder, offset: int, value: Any) -> StringBuilder:
    builder.text = builder.text[:offset] + java_str(value) + builder.text[offset:]
    return builder


def _set_length(builder: StringBuilder, length: int) -> None:
    builder.text = builder.text[:length].ljust(length, "\0")


def _list_add(items: list[Any], *args: Any) -> Any:
    if len(args) == 2:
        items.insert(int(args[0]), args[1])
        return None
    items.append(args[0])
    return True


def _list_set(items: list[Any], index: Any, value: Any) -> Any:
    position = _index(len(items), index)
    previous = items[position]
    items[position] = value
    return previous


def _list_remove(items: list[Any], index: Any) -> Any:
    return items.pop(_index(len(items), index))


def _index_of(items: list[Any], value: Any) -> int:
    return next((i for i, item in enumerate(items) if java_equals(item, value)), -1)


def _string_index(text: str, needle: Any, start: int = 0) -> int:
    return text.find(java_str(needle), start)


def _put(mapping: dict[Any, Any], key: Any, value: Any) -> Any:
    previous = mapping.get(key)
    mapping[key] = value
    return previous


_STRING: dict[str, Method] = {
    "length": len,
    "isEmpty": lambda s: not s,
    "contains": lambda s, x: java_str(x) in s,
    "replace": lambda s, a, b: s.replace(java_str(a), java_str(b)),
    "substring": _substring,
    "indexOf": _string_index,
    "lastIndexOf": lambda s, x: s.rfind(java_str(x)),
    "startsWith": lambda s, x: s.startswith(java_str(x)),
    "endsWith": lambda s, x: s.endswith(java_str(x)),
    "toLowerCase": str.lower,
    "toUpperCase": str.upper,
    "trim": lambda s: s.strip(" \t\n\r\x0b\x0c\0"),
    "equals": java_equals,
    "equalsIgnoreCase": lambda s, x: isinstance(x, str) and s.lower() == x.lower(),
    "charAt": lambda s, i: s[_index(len(s), i)],
    "concat": lambda s, x: s + java_str(x),
    "splitOnToken": lambda s, token: s.split(java_str(token)),
    "compareTo": lambda s, x: (s > x) - (s < x),
    "toString": lambda s: s,
}
_BUILDER: dict[str, Method] = {
    "append": _append,
    "toString": lambda b: b.text,
    "length": lambda b: len(b.text),
    "insert": _insert,
    "setLength": _set_length,
    "charAt": lambda b, i: b.text[_index(len(b.text), i)],
    "indexOf": lambda b, x: b.text.find(java_str(x)),
}
_LIST: dict[str, Method] = {
    "size": len,
    "isEmpty": lambda items: not items,
    "get": lambda items, i: items[_index(len(items), i)],
    "add": _list_add,
    "set": _list_set,
    "remove": _list_remove,
    "contains": lambda items, x: _index_of(items, x) >= 0,
    "indexOf": _index_of,
    "addAll": lambda items, more: items.extend(more) or True,
    "clear": lambda items: items.clear(),
    "join": lambda items, sep: java_str(sep).join(java_str(i) for i in items),
    "subList": lambda items, a, b: items[a:b],
    "equals": java_equals,
    "toString": java_str,
}
_MAP: dict[str, Method] = {
    "get": lambda m, k: m.get(k),
    "put": _put,
    "containsKey": lambda m, k: k in m,
    "getOrDefault": lambda m, k, d: m.get(k, d),
    "remove": lambda m, k: m.pop(k, None),
    "keySet": list,
    "values": lambda m: list(m.values()),
    "isEmpty": lambda m: not m,
    "size": len,
    "putAll": lambda m, other: m.update(other),
    "equals": java_equals,
    "toString": java_str,
}
_NUMBER: dict[str, Method] = {
    "intValue": int,
    "longValue": int,
    "doubleValue": float,
    "floatValue": float,
    "toString": java_str,
    "equals": java_equals,
}
_ANY: dict[str, Method] = {"toString": java_str, "equals": java_equals}


def _table(receiver: Any) -> dict[str, Method]:
    if isinstance(receiver, str):
        return _STRING
    if isinstance(receiver, StringBuilder):
        return _BUILDER
    if isinstance(receiver, list):
        return _LIST
    if isinstance(receiver, dict):
        return _MAP
    if is_number(receiver):
        return _NUMBER
    return _ANY


def call_method(receiver: Any, name: str, args: list[Any]) -> Any:
    """`receiver.name(args)` with Java's behaviour."""
    if receiver is None:
        raise ScriptRuntimeError(
            "null_pointer_exception", f"Cannot invoke [{name}] because the receiver is null"
        )
    method = _table(receiver).get(name)
    if method is None:
        raise ScriptUnsupportedError(
            f"method [{java_class(receiver)}, {name}/{len(args)}] is not in the sandbox's "
            "Painless subset"
        )
    try:
        return method(receiver, *args)
    except TypeError:
        raise ScriptUnsupportedError(
            f"method [{java_class(receiver)}, {name}/{len(args)}] is not in the sandbox's "
            "Painless subset"
        ) from None


def get_field(receiver: Any, name: str) -> Any:
    """`receiver.name`: a map key, or a getter shortcut (`list.length`, `list.empty`)."""
    if receiver is None:
        raise ScriptRuntimeError(
            "null_pointer_exception", f"Cannot read field [{name}] because the receiver is null"
        )
    if isinstance(receiver, dict):
        return receiver.get(name)
    if isinstance(receiver, list) and name in ("length", "size"):
        return len(receiver)
    if isinstance(receiver, list | dict) and name == "empty":
        return not receiver
    raise ScriptRuntimeError(
        "illegal_argument_exception", f"dynamic getter [{java_class(receiver)}, {name}] not found"
    )


def set_field(receiver: Any, name: str, value: Any) -> None:
    """`receiver.name = value` on a map."""
    if isinstance(receiver, dict):
        receiver[name] = value
        return
    if receiver is None:
        raise ScriptRuntimeError(
            "null_pointer_exception", f"Cannot write field [{name}] because the receiver is null"
        )
    raise ScriptRuntimeError(
        "illegal_argument_exception", f"dynamic setter [{java_class(receiver)}, {name}] not found"
    )


def _parse_int(text: Any) -> int:
    try:
        if not isinstance(text, str) or text != text.strip():
            raise ValueError(text)
        return int(text)
    except ValueError:
        raise ScriptRuntimeError(
            "number_format_exception", f'For input string: "{java_str(text)}"'
        ) from None


def _parse_double(text: Any) -> float:
    try:
        return float(str(text))
    except ValueError:
        raise ScriptRuntimeError(
            "number_format_exception", f'For input string: "{java_str(text)}"'
        ) from None


def _join(separator: Any, *parts: Any) -> str:
    items = parts[0] if len(parts) == 1 and isinstance(parts[0], list) else parts
    return java_str(separator).join(java_str(item) for item in items)


_STATICS: dict[tuple[str, str], Method] = {
    ("String", "valueOf"): java_str,
    ("String", "join"): _join,
    ("Integer", "parseInt"): _parse_int,
    ("Integer", "valueOf"): _parse_int,
    ("Integer", "toString"): java_str,
    ("Long", "parseLong"): _parse_int,
    ("Long", "toString"): java_str,
    ("Double", "parseDouble"): _parse_double,
    ("Double", "valueOf"): _parse_double,
    ("Double", "toString"): lambda x: java_str(float(x)),
    ("Float", "parseFloat"): _parse_double,
    ("Boolean", "parseBoolean"): lambda s: isinstance(s, str) and s.lower() == "true",
    ("Math", "min"): min,
    ("Math", "max"): max,
    ("Math", "abs"): abs,
    ("Math", "floor"): lambda x: float(math.floor(x)),
    ("Math", "ceil"): lambda x: float(math.ceil(x)),
    ("Math", "round"): lambda x: math.floor(x + 0.5),
    ("Math", "sqrt"): math.sqrt,
    ("Math", "pow"): lambda x, y: float(x) ** float(y),
}


def call_static(type_name: str, name: str, args: list[Any]) -> Any:
    """`Type.name(args)` for the few static helpers scripts use."""
    method = _STATICS.get((type_name, name))
    if method is None:
        raise ScriptUnsupportedError(
            f"static method [{type_name}, {name}/{len(args)}] is not in the sandbox's "
            "Painless subset"
        )
    return method(*args)


def construct(type_name: str, args: list[Any]) -> Any:
    """`new Type(args)`."""
    if type_name == "StringBuilder":
        first = args[0] if args else ""
        return StringBuilder("" if is_number(first) else java_str(first))
    if type_name == "ArrayList":
        return list(args[0]) if args else []
    if type_name == "HashMap":
        return dict(args[0]) if args else {}
    if type_name in EXCEPTIONS:
        message = java_str(args[0]) if args and args[0] is not None else None
        return JavaException(type_name, message)
    raise ScriptUnsupportedError(f"class [{type_name}] is not in the sandbox's Painless subset")
