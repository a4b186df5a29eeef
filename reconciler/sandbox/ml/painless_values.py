"""Java value behaviour for the Painless evaluator: string forms, classes, arithmetic, casts.

`painless_evaluating` and `painless_methods` use these so that a script's output matches what
the JVM would print: `"" + 0.1` is `0.1`, `"" + 1e-5` is `1.0E-5`, a list prints as
`[1, 2]` and a map as `{a=1}`. Values are plain Python objects (None, bool, int, float, str,
list, dict) plus `StringBuilder` and `JavaException`. No parsing, no script state.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable
from typing import Any


class StringBuilder:
    """`java.lang.StringBuilder`: a mutable string."""

    def __init__(self, text: str = "") -> None:
        self.text = text


class JavaException:
    """An exception object made by `new IllegalArgumentException(...)` and thrown by `throw`."""

    def __init__(self, class_name: str, message: str | None) -> None:
        self.class_name = class_name
        self.message = message


class ScriptRuntimeError(Exception):
    """A failure while running a script: `java_type` is the Java exception's snake-case type
    (`illegal_argument_exception`, `null_pointer_exception`, ...), `offset` where it happened."""

    def __init__(self, java_type: str, message: str, offset: int = -1) -> None:
        super().__init__(message)
        self.java_type = java_type
        self.message = message
        self.offset = offset


class ScriptUnsupportedError(Exception):
    """A construct (method, class, operation) outside the sandbox's Painless subset."""

    def __init__(self, message: str, offset: int = -1) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def snake_case(class_name: str) -> str:
    """OpenSearch's error `type` for a Java exception class: `IllegalArgumentException` ->
    `illegal_argument_exception`."""
    out: list[str] = []
    for index, char in enumerate(class_name):
        if char.isupper() and index:
            out.append("_")
        out.append(char.lower())
    return "".join(out)


def java_class(value: Any) -> str:
    """The Java class a JSON-derived value would have inside Painless."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return "java.lang.Integer" if -(2**31) <= value < 2**31 else "java.lang.Long"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, list):
        return "java.util.ArrayList"
    if isinstance(value, dict):
        return "java.util.HashMap"
    if isinstance(value, StringBuilder):
        return "java.lang.StringBuilder"
    if isinstance(value, JavaException):
        return f"java.lang.{value.class_name}"
    return type(value).__name__


def java_double(value: float) -> str:
    """`Double.toString`: plain between 10^-3 and 10^7, else `d.dddE±n`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    number = decimal.Decimal(repr(value))
    if 1e-3 <= abs(value) < 1e7:
        text = format(number, "f")
        return text if "." in text else text + ".0"
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    shown = "".join(str(d) for d in digits).rstrip("0") or "0"
    scientific = len(digits) + exponent - 1
    mantissa = shown[0] + "." + (shown[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{scientific}"


def java_str(value: Any) -> str:
    """`String.valueOf(value)` as the JVM would print it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(java_str(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{java_str(k)}={java_str(v)}" for k, v in value.items()) + "}"
    if isinstance(value, StringBuilder):
        return value.text
    if isinstance(value, JavaException):
        name = f"java.lang.{value.class_name}"
        return name if value.message is None else f"{name}: {value.message}"
    return str(value)


def is_number(value: Any) -> bool:
    """Java numbers (not booleans)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def java_equals(left: Any, right: Any) -> bool:
    """Painless `==`: `equals()` for objects, numeric comparison for numbers."""
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    if isinstance(left, StringBuilder) or isinstance(right, StringBuilder):
        return left is right
    return bool(left == right)


def arithmetic(operator: str, left: Any, right: Any) -> Any:
    """`+ - * / %` with Java's numeric rules; `+` concatenates when either side is a String."""
    if operator == "+" and (isinstance(left, str) or isinstance(right, str)):
        return java_str(left) + java_str(right)
    if not (is_number(left) and is_number(right)):
        raise ScriptRuntimeError(
            "class_cast_exception",
            f"Cannot apply [{operator}] operation to types [{java_class(left)}] and "
            f"[{java_class(right)}].",
        )
    if isinstance(left, float) or isinstance(right, float):
        return _float_arithmetic(operator, float(left), float(right))
    return _int_arithmetic(operator, int(left), int(right))


def _float_arithmetic(operator: str, left: float, right: float) -> float:
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if right == 0:
        if operator == "%" or left == 0:
            return math.nan
        return math.copysign(math.inf, left) * math.copysign(1.0, right)
    return left / right if operator == "/" else math.fmod(left, right)


def _int_arithmetic(operator: str, left: int, right: int) -> int:
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if right == 0:
        raise ScriptRuntimeError("arithmetic_exception", "/ by zero")
    quotient = abs(left) // abs(right) * (1 if (left >= 0) == (right >= 0) else -1)
    return quotient if operator == "/" else left - right * quotient


def compare(operator: str, left: Any, right: Any) -> bool:
    """`< > <= >=` on numbers."""
    if not (is_number(left) and is_number(right)):
        raise ScriptRuntimeError(
            "class_cast_exception",
            f"Cannot apply [{operator}] operation to types [{java_class(left)}] and "
            f"[{java_class(right)}].",
        )
    if operator == "<":
        return bool(left < right)
    if operator == ">":
        return bool(left > right)
    if operator == "<=":
        return bool(left <= right)
    return bool(left >= right)


def to_boolean(value: Any, offset: int) -> bool:
    """A condition's value: only a boolean is accepted, as in Painless."""
    if isinstance(value, bool):
        return value
    raise ScriptRuntimeError(
        "class_cast_exception",
        f"Cannot cast {java_class(value)} to java.lang.Boolean",
        offset,
    )


_NUMERIC_CASTS: dict[str, Callable[[Any], Any]] = {
    "int": int,
    "long": int,
    "short": int,
    "byte": int,
    "double": float,
    "float": float,
}


def convert(type_name: str, value: Any, offset: int) -> Any:
    """`value` converted as assigning it to a variable of `type_name` would."""
    if value is None or type_name in ("def", "Object", "void"):
        return value
    if type_name in _NUMERIC_CASTS and is_number(value):
        return _NUMERIC_CASTS[type_name](value)
    expected: dict[str, tuple[type, ...]] = {
        "String": (str,),
        "boolean": (bool,),
        "Boolean": (bool,),
        "Map": (dict,),
        "HashMap": (dict,),
        "List": (list,),
        "ArrayList": (list,),
        "Integer": (int,),
        "Long": (int,),
        "Double": (float,),
        "Float": (float,),
        "Number": (int, float),
    }
    allowed = expected.get(type_name)
    ok = allowed is None or (
        isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
    )
    if type_name == "StringBuilder":
        ok = isinstance(value, StringBuilder)
    if type_name in _NUMERIC_CASTS or type_name == "char":
        ok = False
    if not ok:
        raise ScriptRuntimeError(
            "class_cast_exception", f"Cannot cast {java_class(value)} to {type_name}", offset
        )
    return value
