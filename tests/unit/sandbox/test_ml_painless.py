"""The sandbox's Painless subset (reference §4.2): one row per construct, one per refusal."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.sandbox.ml import painless
from reconciler.sandbox.ml import painless_evaluating as evaluating

RUNS: list[tuple[str, str, dict[str, Any], Any]] = [
    ("string literals", "return \"a\\\"b\" + 'c\\'d' + '\\\\';", {}, "a\"bc'd\\"),
    ("concatenation with numbers", "return 'n=' + 1 + 2 + ',' + (1 + 2);", {}, "n=12,3"),
    (
        "double formatting",
        "return '' + 0.1 + ' ' + 1e-5 + ' ' + 2.0 + ' ' + 1.5e7;",
        {},
        "0.1 1.0E-5 2.0 1.5E7",
    ),
    ("list formatting", "return '' + [1, 'a', null, [true]];", {}, "[1, a, null, [true]]"),
    ("map formatting", "return '' + ['a': 1, 'b': [2]];", {}, "{a=1, b=[2]}"),
    ("empty map", "def m = [:]; m.x = 1; m['y'] = 2; return '' + m;", {}, "{x=1, y=2}"),
    (
        "params field and index",
        "return params.a[1] + params['b'].c;",
        {"a": ["x", "y"], "b": {"c": "z"}},
        "yz",
    ),
    ("missing map key is null", "return params.nope == null;", {}, True),
    ("list length getter", "return params.v.length;", {"v": [1, 2, 3]}, 3),
    ("negative list index", "return params.v[-1];", {"v": [1, 2, 3]}, 3),
    (
        "typed declarations",
        "String s = 'a'; int i = 2; double d = 1; return s + i + d;",
        {},
        "a21.0",
    ),
    ("several names in a declaration", "def a = 1, b = 2; return a + b;", {}, 3),
    (
        "integer arithmetic",
        "return [7 / 2, -7 / 2, 7 % 3, -7 % 3, 2 * 3 - 1];",
        {},
        [3, -3, 1, -1, 5],
    ),
    ("float arithmetic", "return 7 / 2.0;", {}, 3.5),
    ("comparison and logic", "return 1 < 2 && !(2 <= 1) || false;", {}, True),
    ("short circuit", "return params.x != null && params.x.length > 0;", {}, False),
    ("ternary", "return params.v.length > 1 ? 'many' : 'few';", {"v": [1, 2]}, "many"),
    ("elvis", "return params.missing ?: 'default';", {}, "default"),
    ("null-safe access", "return params.missing?.length;", {}, None),
    ("equality is equals()", "String a = 'x' + 'y'; return a == 'xy' && 1 == 1.0;", {}, True),
    (
        "if / else if / else",
        "def r; if (params.n == 1) { r = 'one'; } else if (params.n == 2) { r = 'two'; } "
        "else { r = 'many'; } return r;",
        {"n": 2},
        "two",
    ),
    ("classic for loop", "int s = 0; for (int i = 0; i < 4; i++) { s += i; } return s;", {}, 6),
    (
        "for-each over a list",
        "def out = []; for (def x : params.v) { out.add(x * 2); } return out;",
        {"v": [1, 2]},
        [2, 4],
    ),
    (
        "for-each over map keys",
        "def k = ''; for (String x : ['a': 1, 'b': 2].keySet()) { k += x; } return k;",
        {},
        "ab",
    ),
    (
        "while with break and continue",
        "int i = 0; int s = 0; while (true) { i++; if (i > 5) { break; } if (i % 2 == 0) "
        "{ continue; } s += i; } return s;",
        {},
        9,
    ),
    ("do-while", "int i = 0; do { i += 2; } while (i < 5); return i;", {}, 6),
    (
        "prefix and postfix steps",
        "int i = 1; int a = i++; int b = ++i; return [a, b, i--, i];",
        {},
        [1, 3, 3, 2],
    ),
    (
        "compound assignment",
        "def s = 'a'; s += 'b'; int n = 10; n -= 3; n *= 2; return s + n;",
        {},
        "ab14",
    ),
    (
        "StringBuilder",
        "StringBuilder b = new StringBuilder('{'); b.append(1).append(','); "
        "b.append(params.x); b.append('}'); return b.toString() + b.length();",
        {"x": "y"},
        "{1,y}5",
    ),
    (
        "StringBuilder in concatenation",
        "def b = new StringBuilder(); b.append('q'); return '[' + b + ']';",
        {},
        "[q]",
    ),
    (
        "String methods",
        "def s = ' Hello '; return [s.trim(), s.contains('ell'), "
        "s.replace('l', 'L'), s.trim().substring(1, 3), s.indexOf('l'), s.toLowerCase(), "
        "s.isEmpty(), s.length(), s.startsWith(' H')];",
        {},
        ["Hello", True, " HeLLo ", "el", 3, " hello ", False, 7, True],
    ),
    (
        "List methods",
        "def l = new ArrayList(); l.add('a'); l.add(0, 'b'); "
        "return [l.size(), l.get(0), l.contains('a'), l.isEmpty(), l.indexOf('a')];",
        {},
        [2, "b", True, False, 1],
    ),
    (
        "Map methods",
        "def m = new HashMap(); m.put('k', 1); return [m.get('k'), "
        "m.containsKey('k'), m.getOrDefault('z', 0), m.size(), m.keySet(), m.values()];",
        {},
        [1, True, 0, 1, ["k"], [1]],
    ),
    (
        "toString of a parameter",
        "return params.inputs.toString();",
        {"inputs": '[{"a":1}]'},
        '[{"a":1}]',
    ),
    (
        "static helpers",
        "return [String.valueOf(1), Integer.parseInt('12'), Math.max(1, 3), "
        "String.join(',', ['a', 'b'])];",
        {},
        ["1", 12, 3, "a,b"],
    ),
    ("casts", "return [(int) 3.7, (double) 2, (String) params.s];", {"s": "t"}, [3, 2.0, "t"]),
    ("user function", "String twice(def s) { return s + s; } return twice('ab');", {}, "abab"),
    ("recursion", "int f(int n) { return n <= 1 ? 1 : n * f(n - 1); } return f(5);", {}, 120),
    ("comments", "// a comment\nreturn /* inline */ 'ok'; // trailing", {}, "ok"),
    ("last statement without semicolon", "def x = 'ok'; return x", {}, "ok"),
    ("no return gives null", "def x = 1;", {}, None),
    ("block scopes", "def x = 1; { def y = 2; x += y; } return x;", {}, 3),
]


@pytest.mark.parametrize(("construct", "script", "params", "expected"), RUNS)
def test_constructs(construct: str, script: str, params: dict[str, Any], expected: Any) -> None:
    assert painless.run(script, params, escape_helper=False) == expected


FAILURES: list[tuple[str, str, str, str, str]] = [
    # (construct, script, reason prefix, caused_by type, caused_by text)
    (
        "syntax error",
        "return 'a' 'b';",
        "compile error",
        "illegal_argument_exception",
        "expected [;] but found [b]",
    ),
    (
        "bad escape",
        "return '\\n';",
        "compile error",
        "illegal_argument_exception",
        "invalid escape sequence",
    ),
    (
        "unknown variable",
        "return nope;",
        "compile error",
        "illegal_argument_exception",
        "cannot resolve symbol [nope]",
    ),
    (
        "unknown dotted name (a misspelt built-in function)",
        "connector.post_process.openai.embeding",
        "compile error",
        "illegal_argument_exception",
        "cannot resolve symbol [connector.post_process.openai.embeding]",
    ),
    (
        "unknown function",
        "return f(1);",
        "compile error",
        "illegal_argument_exception",
        "Unknown call [f] with [1] arguments.",
    ),
    (
        "redeclared variable",
        "def a = 1; def a = 2;",
        "compile error",
        "illegal_argument_exception",
        "variable [a] is already defined",
    ),
    (
        "null receiver",
        "return params.a.b;",
        "runtime error",
        "null_pointer_exception",
        "Cannot read field [b]",
    ),
    (
        "index out of bounds",
        "return params.v[3];",
        "runtime error",
        "index_out_of_bounds_exception",
        "Index 3 out of bounds for length 1",
    ),
    ("division by zero", "return 1 / 0;", "runtime error", "arithmetic_exception", "/ by zero"),
    (
        "non-boolean condition",
        "if (1) { return 'x'; }",
        "runtime error",
        "class_cast_exception",
        "Cannot cast java.lang.Integer to java.lang.Boolean",
    ),
    (
        "thrown exception",
        "throw new IllegalArgumentException('Invalid input format');",
        "runtime error",
        "illegal_argument_exception",
        "Invalid input format",
    ),
    (
        "unknown getter",
        "return 'abc'.size;",
        "runtime error",
        "illegal_argument_exception",
        "dynamic getter [java.lang.String, size] not found",
    ),
    (
        "runaway loop",
        "while (true) {}",
        "runtime error",
        "painless_error",
        "The maximum number of statements that can be executed in a loop has been reached.",
    ),
]


@pytest.mark.parametrize(("construct", "script", "reason", "cause_type", "cause"), FAILURES)
def test_failures_render_as_script_exceptions(
    construct: str, script: str, reason: str, cause_type: str, cause: str
) -> None:
    with pytest.raises(painless.ScriptError) as caught:
        painless.run(script, {"v": [1]}, escape_helper=False, loop_limit=1000)
    error = caught.value.envelope()["error"]
    assert caught.value.status == 400
    assert (error["type"], error["reason"], error["lang"]) == (
        "script_exception",
        reason,
        "painless",
    )
    assert error["caused_by"]["type"] == cause_type
    assert cause in error["caused_by"]["reason"]
    assert "caused_by" not in error["root_cause"][0]
    assert error["script"] == script


UNSUPPORTED: list[tuple[str, str, str, tuple[int, int]]] = [
    ("switch", "def x = 1;\nswitch (x) { }", "switch statement", (2, 1)),
    ("try/catch", "try { return 1; } catch (Exception e) {}", "try/catch statement", (1, 1)),
    ("lambda", "return params.v.stream().map(x -> x);", "lambda expression", (1, 32)),
    ("method reference", "return params.v.forEach(String::valueOf);", "method reference", (1, 31)),
    ("regex", "return 'a' =~ /a/;", "regex find operator", (1, 12)),
    ("instanceof", "return params instanceof Map;", "instanceof operator", (1, 15)),
    ("bitwise operator", "return 1 & 2;", "bitwise operator", (1, 10)),
    ("array type", "String[] a = new String[2];", "array type", (1, 7)),
    ("generic type", "List<String> a = [];", "generic type", (1, 5)),
    ("unknown class", "def a = new LinkedList();", "class [LinkedList]", (1, 9)),
    ("unknown method", "return 'abc'.chars();", "method [java.lang.String, chars/0]", (1, 13)),
    ("unknown type", "Foo a = 1;", "type Foo", (1, 1)),
]


@pytest.mark.parametrize(("construct", "script", "named", "where"), UNSUPPORTED)
def test_constructs_beyond_the_subset_are_named_with_their_position(
    construct: str, script: str, named: str, where: tuple[int, int]
) -> None:
    with pytest.raises(painless.ScriptError) as caught:
        painless.run(script, {"v": [1]}, escape_helper=False)
    reason = caught.value.reason
    assert caught.value.status == 400 and caught.value.error_type == "script_exception"
    assert named in reason
    assert f"at line {where[0]}, column {where[1]}" in reason


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ('say "hi"', 'say \\"hi\\"'),
        ("back\\slash", "back\\\\slash"),
        ("line\nbreak\r", "line\\nbreak\\r"),
        ("tab\there", "tab\there"),  # a real tab is left alone, as the server's helper does
        ("\b\f", "\\b\\f"),
    ],
)
def test_the_servers_escape_helper(text: str, escaped: str) -> None:
    script = "return escape(params.t);"
    assert painless.run(script, {"t": text}, escape_helper=True) == escaped


def test_a_script_defining_escape_uses_its_own() -> None:
    script = "String escape(def s) { return 'mine'; } return escape(params.t);"
    assert painless.run(script, {"t": "x"}, escape_helper=True) == "mine"
    assert not painless.uses_escape_helper(script)
    assert painless.uses_escape_helper("return escape(x);")


def test_the_loop_limit_is_painless_default() -> None:
    assert evaluating.MAX_LOOP_COUNTER == 1_000_000


def test_a_non_string_result_fails_as_the_template_context_would() -> None:
    with pytest.raises(painless.ScriptError) as caught:
        painless.result_string([1], "return [1];")
    assert caught.value.reason == "runtime error"
