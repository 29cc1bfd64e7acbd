"""kubectl's JSONPath templates (k8s.io/client-go/util/jsonpath), for `get -o jsonpath=`,
`-o custom-columns=` and `--sort-by`.

A template is text with actions in braces: ``{.items[*].metadata.name}``,
``{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}``. Inside an action:
``.field`` and ``['field.with.dots']``, ``[n]`` (negative from the end), ``[a:b:step]``,
``[*]`` and ``.*``, ``..field`` (recursive descent), unions ``[0,2]`` / ``['a','b']``,
filters ``[?(@.type=="Ready")]`` (``== != < <= > >=``, or a path alone: it exists), quoted
text ``{"\\n"}``, ``range`` ... ``end``, ``$`` and ``@`` for the current value.

As kubectl get does, a missing field gives nothing rather than an error; the results of
one action are joined by a space; maps and lists print as compact JSON, other values as Go's
fmt would print them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["JSONPathError", "Template", "compile_template", "go_value", "relaxed", "text"]


class JSONPathError(ValueError):
    """A template that does not parse, or an evaluation error kubectl also reports."""


# ---- the tree -------------------------------------------------------------------------


@dataclass
class _Text:
    text: str


@dataclass
class _Path:
    """A chain of steps applied left to right to the current values."""
    steps: list[Any]


@dataclass
class _Range:
    path: _Path
    body: list[Any] = field(default_factory=list)


@dataclass
class _Field:
    name: str


@dataclass
class _Wildcard:
    pass


@dataclass
class _Recursive:
    pass


@dataclass
class _Slice:
    start: int | None
    stop: int | None


@dataclass
class _Index:
    index: int


@dataclass
class _Union:
    branches: list[_Path]


@dataclass
class _Filter:
    left: _Path
    op: str  # "exists" or a comparison
    right: _Path | None


@dataclass
class _Const:
    """A number or a boolean: one per current value (client-go IntNode, BoolNode)."""
    value: Any


@dataclass
class _Quoted:
    """Quoted text: the text, once, whatever the current values (client-go TextNode)."""
    text: str


# ---- parsing --------------------------------------------------------------------------


def compile_template(text: str) -> Template:
    """Parse a kubectl JSONPath template; JSONPathError names what is wrong."""
    nodes: list[Any] = []
    stack: list[list[Any]] = [nodes]
    i = 0
    while i < len(text):
        start = text.find("{", i)
        if start < 0:
            stack[-1].append(_Text(text[i:]))
            break
        if start > i:
            stack[-1].append(_Text(text[i:start]))
        end = _action_end(text, start)
        inside = text[start + 1:end].strip()
        i = end + 1
        if inside == "end":
            if len(stack) == 1:
                raise JSONPathError("not in range, nothing to end")
            stack.pop()
            continue
        if inside.startswith("range ") or inside == "range":
            rng = _Range(_Parser(inside[len("range"):]).path())
            stack[-1].append(rng)
            stack.append(rng.body)
            continue
        stack[-1].append(_Parser(inside).path())
    if len(stack) != 1:
        raise JSONPathError("unclosed range: a {range ...} has no {end}")
    return Template(nodes)


def _action_end(text: str, start: int) -> int:
    """The index of the "}" closing the action opened at start (quotes may hold braces)."""
    end = _unquoted(text, start + 1, "}")
    if end < 0:
        raise JSONPathError(f"unclosed action in {text[start:]!r}")
    return end


def _unquoted(text: str, i: int, stop: str) -> int:
    """The index of the first `stop` from i outside quotes (a backslash escapes in them),
    -1 if none before the end or a line break."""
    quote = ""
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == stop:
            return i
        elif c in "\r\n":
            return -1
        i += 1
    return -1


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0",
            "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unescape(raw: str) -> str:
    """Go's strconv.Unquote escapes: \\n \\t \\" \\\\ \\u00e9 ..."""
    out = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            e = raw[i + 1]
            if e in ("u", "U", "x"):
                width = {"u": 4, "U": 8, "x": 2}[e]
                try:
                    out.append(chr(int(raw[i + 2:i + 2 + width], 16)))
                    i += 2 + width
                    continue
                except ValueError:
                    pass
            out.append(_ESCAPES.get(e, "\\" + e))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


# client-go's isTerminator: what ends a field name (a backslash escapes one)
_TERMINATORS = set(" \t\r\n.,[]$@{}")
_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_COMPARISON = re.compile(r"^([^!<>=]+)([!<>=]+)(.+?)$", re.S)


class _Parser:
    """The inside of one action: a chain of steps, each applied to what the previous one
    gave (client-go's ListNode: `{.a .b}` is `{.a.b}`)."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def error(self, what: str) -> JSONPathError:
        return JSONPathError(f"{what} in {self.s.strip()!r}")

    def peek(self, n: int = 1) -> str:
        return self.s[self.i:self.i + n]

    def path(self) -> _Path:
        steps: list[Any] = []
        while self.i < len(self.s):
            c = self.peek()
            if c in " \t$@":
                self.i += 1
            elif self.peek(3) == "[?(":
                steps.append(self.filter())
            elif self.peek(2) == "..":
                if steps and isinstance(steps[-1], _Recursive):
                    raise self.error("invalid multiple recursive descent")
                self.i += 2
                steps.append(_Recursive())
                if self.peek() and (self.peek().isalnum() or self.peek() == "_"):
                    steps.append(self.field())
            elif c == ".":
                self.i += 1
                steps.append(self.field())
            elif c == "[":
                steps.append(self.bracket())
            elif c in "\"'":
                steps.append(_Quoted(self.quoted()))
            elif c in "+-" or c.isdigit():
                steps.append(_Const(self.number()))
            elif c.isalnum() or c == "_":
                word = self.word()
                if word not in ("true", "false"):
                    raise self.error(f"unrecognized identifier {word}")
                steps.append(_Const(word == "true"))
            else:
                raise self.error(f"unrecognized character in action: {c!r}")
        return _Path(steps)

    def word(self) -> str:
        j = self.i
        while self.i < len(self.s) and self.s[self.i] not in _TERMINATORS:
            self.i += 1
        return self.s[j:self.i]

    def field(self) -> Any:
        out = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\" and self.i + 1 < len(self.s):
                out.append(self.s[self.i + 1])
                self.i += 2
                continue
            if c in _TERMINATORS:
                break
            out.append(c)
            self.i += 1
        name = "".join(out)
        if name == "*":
            return _Wildcard()
        if not name:
            return _Path([])  # "{.}" and "{.[0]}": the value itself
        return _Field(name)

    def quoted(self) -> str:
        q = self.s[self.i]
        j = self.i + 1
        while j < len(self.s) and self.s[j] != q:
            j += 2 if self.s[j] == "\\" else 1
        if j >= len(self.s):
            raise self.error("unterminated quoted string")
        raw = self.s[self.i + 1:j]
        self.i = j + 1
        return _unescape(raw)

    def number(self) -> int | float:
        j = self.i
        if self.s[j] in "+-":
            j += 1
        while j < len(self.s) and (self.s[j].isdigit() or self.s[j] == "."):
            j += 1
        word = self.s[self.i:j]
        self.i = j
        try:
            return int(word)
        except ValueError:
            try:
                return float(word)
            except ValueError:
                raise self.error(f"cannot parse number {word}") from None

    def bracket(self) -> Any:
        end = self.s.find("]", self.i)
        if end < 0:
            raise self.error("unterminated array")
        text = self.s[self.i + 1:end].strip()
        self.i = end + 1
        if text == "*":
            return _Slice(None, None)
        if "," in text:
            return _Union([_Parser(f"[{part.strip()}]").path() for part in text.split(",")])
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            # a dict key: read as .key (dots in it separate fields unless escaped)
            return _Parser("." + text[1:-1]).path()
        m = _SLICE.match(text)
        if m is None or text == "":
            raise self.error(f"invalid array index {text}")
        start, stop, _step = m.groups()
        if stop is None:
            return _Index(int(start))
        return _Slice(int(start) if start not in ("", "-") else None,
                      int(stop[1:]) if stop[1:] not in ("", "-") else None)

    def filter(self) -> _Filter:
        self.i += 3  # [?(
        j = _unquoted(self.s, self.i, ")")
        if j < 0 or self.s[j + 1:j + 2] != "]":
            raise self.error("unterminated filter")
        text = self.s[self.i:j]
        self.i = j + 2
        m = _COMPARISON.match(text)
        if m is None:
            return _Filter(_Parser(text).path(), "exists", None)
        op = m.group(2)
        if op not in ("==", "!=", "<", "<=", ">", ">="):
            raise self.error(f"unrecognized filter operator {op}")
        return _Filter(_Parser(m.group(1)).path(), op, _Parser(m.group(3)).path())


# ---- evaluation -----------------------------------------------------------------------


def _walk(values: list[Any], path: _Path) -> list[Any]:
    for step in path.steps:
        values = _step(values, step)
    return values


def _children(v: Any) -> list[Any]:
    if isinstance(v, dict):
        return [v[k] for k in sorted(v)]
    if isinstance(v, list):
        return list(v)
    return []


def _step(values: list[Any], step: Any) -> list[Any]:
    if isinstance(step, _Quoted):
        return [step.text]
    if isinstance(step, _Const):
        return [step.value for _ in values]
    if isinstance(step, _Path):
        return _walk(values, step)
    if isinstance(step, _Union):
        return [v for b in step.branches for v in _walk(values, b)]
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        if isinstance(step, _Field):
            if isinstance(v, dict) and step.name in v:
                out.append(v[step.name])
        elif isinstance(step, _Wildcard):
            out.extend(_children(v))
        elif isinstance(step, _Recursive):
            out.extend(_recursive(v))
        elif isinstance(step, _Index):
            if not isinstance(v, list):
                raise JSONPathError(f"{_type(v)} is not array or slice")
            i = step.index + len(v) if step.index < 0 else step.index
            if not 0 <= i < len(v):
                raise JSONPathError(f"array index out of bounds: index {step.index}, "
                                    f"length {len(v)}")
            out.append(v[i])
        elif isinstance(step, _Slice):
            if not isinstance(v, list):
                raise JSONPathError(f"{_type(v)} is not array or slice")
            n = len(v)
            a = 0 if step.start is None else (step.start + n if step.start < 0 else step.start)
            b = n if step.stop is None else (step.stop + n if step.stop < 0 else step.stop)
            if a != b:
                if a >= n or a < 0:
                    raise JSONPathError(f"array index out of bounds: index {a}, length {n}")
                if b > n:
                    raise JSONPathError(f"array index out of bounds: index {b - 1}, length {n}")
            out.extend(v[a:b])
        elif isinstance(step, _Filter):
            if not isinstance(v, list):
                raise JSONPathError(f"{_type(v)} is not array or slice and cannot be filtered")
            out.extend(item for item in v if _passes(item, step))
    return out


def _recursive(v: Any) -> list[Any]:
    """client-go's evalRecursive: each container and, depth first, every container under
    it (the next step, `..name`, then picks from all of them)."""
    kids = _children(v)
    if not kids:
        return []
    out = [v]
    for k in kids:
        out.extend(_recursive(k))
    return out


def _passes(item: Any, f: _Filter) -> bool:
    lefts = _walk([item], f.left)
    if f.op == "exists":
        return bool(lefts)
    assert f.right is not None
    rights = _walk([item], f.right)
    if not lefts or not rights:
        return False  # a missing field matches nothing (kubectl get allows missing keys)
    if len(lefts) != 1 or len(rights) != 1:
        raise JSONPathError("can only compare one element at a time")
    a, b = lefts[0], rights[0]
    if f.op == "==":
        return _equal(a, b)
    if f.op == "!=":
        return not _equal(a, b)
    numbers = (isinstance(a, (int, float)) and isinstance(b, (int, float))
               and not isinstance(a, bool) and not isinstance(b, bool))
    if numbers or (isinstance(a, str) and isinstance(b, str)):
        return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[f.op])
    raise JSONPathError(f"incompatible types for comparison: {_type(a)} and {_type(b)}")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _type(v: Any) -> str:
    return {dict: "map[string]interface {}", list: "[]interface {}", str: "string",
            bool: "bool", int: "int64", float: "float64"}.get(type(v), type(v).__name__)


# ---- printing -------------------------------------------------------------------------


def go_json(v: Any) -> str:
    """Go's json.Marshal: compact, keys sorted, <>& escaped."""
    s = json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _go_float(f: float) -> str:
    """Go's %v of a float64: the shortest digits, %e form when the exponent is < -4 or
    >= max(6, digits) (1e+06, 123456, 1.5e-07)."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    sign, digit_tuple, exp = Decimal(repr(f)).as_tuple()
    digits = list(digit_tuple)
    assert isinstance(exp, int)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    nd = len(digits)
    dp = nd + exp  # where the decimal point goes
    x = dp - 1
    eprec = nd if 6 > nd >= dp else 6
    ds = "".join(map(str, digits))
    if x < -4 or x >= eprec:
        body = ds[0] + ("." + ds[1:] if nd > 1 else "") + f"e{'-' if x < 0 else '+'}{abs(x):02d}"
    elif dp <= 0:
        body = "0." + "0" * -dp + ds
    elif dp >= nd:
        body = ds + "0" * (dp - nd)
    else:
        body = ds[:dp] + "." + ds[dp:]
    return ("-" if sign else "") + body


def go_value(v: Any) -> str:
    """fmt.Sprint of an unstructured value (custom-columns cells): map[k:v], [a b]."""
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_value(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_value(x) for x in v) + "]"
    return _scalar(v)


def _scalar(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    return str(v)


def text(v: Any) -> str:
    """One result as -o jsonpath prints it: maps and lists as JSON, the rest as Go's fmt."""
    if isinstance(v, (dict, list)):
        return go_json(v)
    return _scalar(v)


@dataclass
class Template:
    nodes: list[Any]

    def find(self, data: Any) -> list[list[Any]]:
        """The results of each action in order (client-go FindResults)."""
        out: list[list[Any]] = []
        self._run(self.nodes, [data], out)
        return out

    def _run(self, nodes: list[Any], cur: list[Any], out: list[list[Any]]) -> None:
        for n in nodes:
            if isinstance(n, _Text):
                out.append([n.text])
            elif isinstance(n, _Range):
                for item in _walk(cur, n.path):
                    self._run(n.body, [item], out)
            else:
                out.append(_walk(cur, n))

    def values(self, data: Any) -> list[Any]:
        """Every result of every action, in order, in one list."""
        return [v for results in self.find(data) for v in results]

    def render(self, data: Any) -> str:
        return "".join(" ".join(text(v) for v in results) for results in self.find(data))

    def render_json(self, data: Any) -> str:
        """-o jsonpath-as-json: every result in one indented JSON array."""
        return json.dumps(self.values(data), indent=4, ensure_ascii=False) + "\n"


def relaxed(expr: str) -> str:
    """kubectl's RelaxedJSONPathExpression: `.a.b`, `a.b` and `{.a.b}` all mean {.a.b}."""
    e = expr.strip()
    if e.startswith("{") and e.endswith("}"):
        e = e[1:-1].strip()
    if not e.startswith(("$", ".", "[", "@")):
        e = "." + e
    return "{" + e + "}"
