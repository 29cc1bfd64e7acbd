"""The common shape of a Kubernetes manifest read without PyYAML (whose import costs the
CLI ~8 ms quiet, ~20 ms loaded, on every `podrun apply`).

`load_all(text)` returns the documents exactly as `yaml.safe_load_all` would, or None for
anything outside a deliberately small subset (the caller then uses PyYAML, so every other
text, and every error message, is PyYAML's own). The subset: ASCII, no tabs; block
mappings with plain identifier keys; block sequences; one-line scalars (plain, or quoted
without escapes); one-line flow sequences/mappings of such scalars; `---` separators and
`#` comments. A plain scalar is a string, a decimal int, or one of YAML 1.1's null/bool
words; anything YAML could read another way (floats, octal, timestamps, `1:20`, anchors,
tags, block scalars, multi-line scalars) is left to PyYAML.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_NULL = frozenset(("", "~", "null", "Null", "NULL"))
_TRUE = frozenset(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"))
_FALSE = frozenset(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"))
_KEY_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_KEY_CHARS = _KEY_FIRST | frozenset("0123456789.-/")
# first characters of a plain scalar that can only be a string (YAML 1.1 numbers,
# timestamps, `<<` and `=` start otherwise; indicators are refused)
_PLAIN_FIRST = _KEY_FIRST | frozenset("/$(")
_DIGITS = frozenset("0123456789")
_FLOW_STOP = frozenset(",[]{}?")  # PyYAML ends a flow plain scalar at "?" too


class _NotMine(Exception):
    """Outside the subset: PyYAML decides."""


def load_all(text: str) -> list[Any] | None:
    """Every document of `text` as yaml.safe_load_all gives them, or None."""
    try:
        return _Parser(text).documents()
    except _NotMine:
        return None


def _scalar(s: str, flow: bool = False) -> Any:
    """One scalar token (stripped, comment-free)."""
    if not s:
        return None
    c = s[0]
    if c in "\"'":
        if len(s) < 2 or s[-1] != c or c in s[1:-1] or "\\" in s:
            raise _NotMine
        return s[1:-1]
    if s in _NULL:
        return None
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    if c in _DIGITS or c == "-":
        body = s[1:] if c == "-" else s
        if body and all(ch in _DIGITS for ch in body) and (body == "0" or body[0] != "0"):
            return int(s)
        if c != "0" and c != "-" and _quantity(s):
            return s  # 500m, 64Mi, 10s: no YAML 1.1 number or timestamp looks like that
        raise _NotMine  # floats, octal/hex/sexagesimal ints, timestamps, "-x"
    if c not in _PLAIN_FIRST or ": " in s or s.endswith(":") or " #" in s:
        raise _NotMine
    if flow and any(ch in _FLOW_STOP for ch in s):
        raise _NotMine
    return s


def _quantity(s: str) -> bool:
    """Digits then letters only (the first digit not 0: 0b1 and 0x1 are ints)."""
    i = 0
    while i < len(s) and s[i] in _DIGITS:
        i += 1
    return 0 < i < len(s) and s[i:].isalpha()


def _key(s: str) -> str:
    if (not s or s[0] not in _KEY_FIRST or any(ch not in _KEY_CHARS for ch in s)
            or s in _NULL or s in _TRUE or s in _FALSE):
        raise _NotMine
    return s


def _split_flow(inner: str) -> list[str]:
    """Top-level comma-separated items of a one-line flow collection's inside."""
    items, depth, cur, quote = [], 0, [], ""
    for ch in inner:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth < 0:
                raise _NotMine
        elif ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if quote or depth:
        raise _NotMine
    last = "".join(cur).strip()
    if items or last:
        items.append(last)
    if any(not item for item in items):
        raise _NotMine  # [a,,b], [a,] and the like
    return items


def _flow(s: str, nested: bool = False) -> Any:
    """A one-line flow sequence or mapping; items are scalars or (one level) flow ones."""
    if s[0] == "[":
        if s[-1] != "]":
            raise _NotMine
        return [_flow_item(item, nested) for item in _split_flow(s[1:-1])]
    if s[0] == "{":
        if s[-1] != "}":
            raise _NotMine
        out: dict[str, Any] = {}
        for item in _split_flow(s[1:-1]):
            k, sep, v = item.partition(": ")
            if not sep:
                raise _NotMine
            out[_key(k.strip())] = _flow_item(v.strip(), nested)
        return out
    raise _NotMine


def _flow_item(s: str, nested: bool) -> Any:
    if s[:1] in ("[", "{"):
        if nested:
            raise _NotMine
        return _flow(s, nested=True)
    return _scalar(s, flow=True)


class _Parser:
    def __init__(self, text: str) -> None:
        if not text.isascii() or "\t" in text or "\r" in text:
            raise _NotMine
        if any(ch < " " and ch != "\n" for ch in text):
            raise _NotMine
        self.docs: list[list[tuple[int, str]]] = [[]]
        for raw in text.split("\n"):
            line = raw.rstrip(" ")
            body = line.lstrip(" ")
            if not body or body[0] == "#":
                continue
            if "#" in body:
                i = line.index("#")
                if line[i - 1] != " " or "'" in line[:i] or '"' in line[:i]:
                    raise _NotMine
                line = line[:i].rstrip(" ")
                body = line.lstrip(" ")
            if line.startswith(("---", "...", "%")):
                if line != "---":
                    raise _NotMine
                self.docs.append([])
                continue
            self.docs[-1].append((len(line) - len(body), body))
        if not self.docs[0] and len(self.docs) > 1:
            self.docs.pop(0)  # a leading "---"
        self.lines: list[tuple[int, str]] = []
        self.pos = 0

    def documents(self) -> list[Any]:
        out = []
        for lines in self.docs:
            if not lines or lines[0][0] != 0:
                raise _NotMine  # empty documents, odd indentation: PyYAML's to word
            self.lines, self.pos = lines, 0
            if lines[0][1].startswith("- ") or lines[0][1] == "-":
                raise _NotMine
            out.append(self.mapping(0))
            if self.pos != len(lines):
                raise _NotMine
        return out

    def node(self, parent_indent: int) -> Any:
        """The block node under a `key:` or `-` whose value is on the next lines."""
        if self.pos >= len(self.lines):
            return None
        indent, body = self.lines[self.pos]
        if indent <= parent_indent:
            return None
        if body == "-" or body.startswith("- "):
            return self.sequence(indent)
        return self.mapping(indent)

    def mapping(self, indent: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.pos < len(self.lines):
            ind, body = self.lines[self.pos]
            if ind < indent:
                break
            if ind > indent or body == "-" or body.startswith("- "):
                raise _NotMine
            self.pos += 1
            self.entry(out, indent, body)
        return out

    def entry(self, out: dict[str, Any], indent: int, body: str) -> None:
        """One `key: value` / `key:` line of a mapping at `indent` (already consumed)."""
        if body.endswith(":"):
            k, v = body[:-1], ""
        else:
            k, sep, v = body.partition(": ")
            if not sep:
                raise _NotMine
        k = _key(k)
        v = v.strip(" ")
        if v:
            out[k] = self.inline(v, indent)
            return
        # the value is on the next lines: more indented, or a sequence at the key's indent
        if self.pos < len(self.lines):
            ind, nxt = self.lines[self.pos]
            if ind == indent and (nxt == "-" or nxt.startswith("- ")):
                out[k] = self.sequence(indent)
                return
        out[k] = self.node(indent)

    def inline(self, v: str, indent: int) -> Any:
        """A value written on its own line's end; the next line must not continue it."""
        if self.pos < len(self.lines) and self.lines[self.pos][0] > indent:
            raise _NotMine  # a multi-line scalar, or YAML's error: PyYAML's
        if v[0] in "[{":
            return _flow(v)
        return _scalar(v)

    def sequence(self, indent: int) -> list[Any]:
        out: list[Any] = []
        while self.pos < len(self.lines):
            ind, body = self.lines[self.pos]
            if ind < indent or not (body == "-" or body.startswith("- ")):
                break
            if ind > indent:
                raise _NotMine
            self.pos += 1
            rest = body[1:].lstrip(" ")
            if not rest:
                out.append(self.node(indent))
                continue
            col = indent + len(body) - len(rest)
            if rest == "-" or rest.startswith(("- ", "? ")):
                raise _NotMine
            if rest[0] not in "\"'[{" and (rest.endswith(":") or ": " in rest):
                # a compact mapping: its first entry here, the rest at column `col`
                item: dict[str, Any] = {}
                self.entry(item, col, rest)
                while self.pos < len(self.lines):
                    ind2, body2 = self.lines[self.pos]
                    if ind2 != col or body2 == "-" or body2.startswith("- "):
                        if ind2 > col:
                            raise _NotMine
                        break
                    self.pos += 1
                    self.entry(item, col, body2)
                out.append(item)
            else:
                out.append(self.inline(rest, indent))
        return out
