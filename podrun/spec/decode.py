"""Decode plain JSON-like values (from YAML or JSON) into the frozen model of types.py.

Never raises on bad input: type errors, unknown fields and the paths that failed to decode
are collected in a Decoded record, so validation can report everything at once.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from podrun.errors import FieldError
from podrun.spec.types import JSON, FrozenMap, Quantity

T = TypeVar("T")

# The API server's int64 range; wider numbers are decode errors, not validation errors.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
# fieldsV1 and other free-form JSON: deeper than this is rejected rather than recursed into.
_MAX_JSON_DEPTH = 64


@dataclass
class Decoded(Generic[T]):
    """What decode() produced: the object (None if the top level was not an object) and
    every problem found on the way."""

    value: T | None
    errors: list[FieldError] = field(default_factory=list)
    unknown: list[FieldError] = field(default_factory=list)
    bad_paths: set[str] = field(default_factory=set)


class _Ctx:
    __slots__ = ("errors", "unknown", "bad")

    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self.unknown: list[FieldError] = []
        self.bad: set[str] = set()

    def fail(self, path: str, message: str) -> _Fail:
        self.errors.append(FieldError(path, message))
        self.bad.add(path)
        return FAIL


class _Fail:
    """Sentinel: this value did not decode (its error is already recorded)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FAIL"


FAIL = _Fail()

_Decoder = Callable[[Any, str, _Ctx], Any]


def decode(cls: type[T], value: object, path: str = "") -> Decoded[T]:
    """Decode ``value`` (a dict from YAML/JSON) into the model class ``cls``.

    ``path`` is the field path of ``value`` itself ("" for a whole object)."""
    ctx = _Ctx()
    out = _decoder_for(cls)(value, path, ctx)
    obj: T | None = None if out is FAIL else out
    return Decoded(obj, ctx.errors, ctx.unknown, ctx.bad)


# -- describing values in messages ---------------------------------------------------------


def quote(s: str, limit: int = 200) -> str:
    """Go's %q, roughly: a double-quoted string with escapes."""
    if len(s) > limit:
        s = s[:limit] + "..."
    return json.dumps(s, ensure_ascii=False)


def describe(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return f"string {quote(value)}"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, datetime.date):
        return "timestamp"
    if isinstance(value, bytes | bytearray):
        return "binary data"
    return f"value of type {type(value).__name__}"


def _number_text(value: float | int) -> str:
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            return "number"  # str() of a huge int may itself fail; never print it
        return str(value)
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _scalar_text(value: object) -> str:
    """How a mistyped scalar is shown in `X is not an integer` messages."""
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(value)
    return describe(value)


def _given(ctx: _Ctx, path: str, value: object, wanted: str) -> _Fail:
    return ctx.fail(path, f"{describe(value)} given where {wanted} is required")


def _map_key(key: object) -> str | None:
    """YAML keys become JSON strings as sigs.k8s.io/yaml converts them; others are refused."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float):
        if isinstance(key, int) and not _INT_MIN <= key <= _INT_MAX:
            return None
        return _number_text(key)
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- scalar decoders ------------------------------------------------------------------------


def _dec_str(value: Any, path: str, ctx: _Ctx) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime.date):
        # A timestamp-looking scalar is a string to the API server (the YAML->JSON step keeps text).
        return value.isoformat()
    return _given(ctx, path, value, "a string")


def _dec_int(value: Any, path: str, ctx: _Ctx) -> Any:
    if isinstance(value, bool):
        return _given(ctx, path, value, "an integer")
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            return ctx.fail(path, "integer out of range")
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) <= 2**63:
            return _dec_int(int(value), path, ctx)
        return ctx.fail(path, f"{_number_text(value)} is not an integer")
    if isinstance(value, str):
        return ctx.fail(path, f"{quote(value)} is not an integer")
    return _given(ctx, path, value, "an integer")


def _dec_float(value: Any, path: str, ctx: _Ctx) -> Any:
    if isinstance(value, bool):
        return _given(ctx, path, value, "a number")
    if isinstance(value, int | float):
        try:
            out = float(value)
        except OverflowError:
            return ctx.fail(path, "number out of range")
        if not math.isfinite(out):
            return ctx.fail(path, f"{_number_text(out)} is not a number")
        return out
    if isinstance(value, str):
        return ctx.fail(path, f"{quote(value)} is not a number")
    return _given(ctx, path, value, "a number")


def _dec_bool(value: Any, path: str, ctx: _Ctx) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return ctx.fail(path, f"{quote(value)} is not a boolean")
    return _given(ctx, path, value, "a boolean")


def _dec_quantity(value: Any, path: str, ctx: _Ctx) -> Any:
    # resource.Quantity unmarshals from a JSON string or a bare number (`cpu: 1`, `cpu: 0.5`).
    if isinstance(value, str):
        return Quantity(value)
    if isinstance(value, bool):
        return _given(ctx, path, value, "a quantity")
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            return ctx.fail(path, "number out of range")
        return Quantity(str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return ctx.fail(path, f"{_number_text(value)} is not a quantity")
        return Quantity(_number_text(value))
    return _given(ctx, path, value, "a quantity")


def _dec_int_or_string(value: Any, path: str, ctx: _Ctx) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return _given(ctx, path, value, "an integer or string")
    if isinstance(value, int | float):
        return _dec_int(value, path, ctx)
    return _given(ctx, path, value, "an integer or string")


def _dec_json(value: Any, path: str, ctx: _Ctx) -> Any:
    out = _freeze_json(value, path, ctx, 0)
    return FAIL if out is FAIL else JSON(out)


def _freeze_json(value: Any, path: str, ctx: _Ctx, depth: int) -> Any:
    if depth > _MAX_JSON_DEPTH:
        return ctx.fail(path, "nested too deeply")
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return _dec_int(value, path, ctx)
    if isinstance(value, float):
        return _dec_float(value, path, ctx)
    if isinstance(value, Mapping):
        items: dict[str, Any] = {}
        for k, v in value.items():
            key = _map_key(k)
            if key is None:
                return ctx.fail(path, f"{describe(k)} given where a string key is required")
            out = _freeze_json(v, f"{path}[{key}]", ctx, depth + 1)
            if out is FAIL:
                return FAIL
            items[key] = out
        return FrozenMap(items)
    if isinstance(value, list | tuple):
        elems = []
        for i, v in enumerate(value):
            out = _freeze_json(v, f"{path}[{i}]", ctx, depth + 1)
            if out is FAIL:
                return FAIL
            elems.append(out)
        return tuple(elems)
    return _given(ctx, path, value, "a JSON value")


# -- containers -----------------------------------------------------------------------------


def _map_decoder(elem: _Decoder, zero: object, what: str) -> _Decoder:
    def dec(value: Any, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, Mapping):
            return _given(ctx, path, value, what)
        items: dict[str, Any] = {}
        for k, v in value.items():
            key = _map_key(k)
            if key is None:
                ctx.fail(path, f"{describe(k)} given where a string key is required")
                continue
            sub = f"{path}[{key}]"
            if v is None:
                items[key] = zero  # Go decodes null into a map value as its zero value
                continue
            out = elem(v, sub, ctx)
            if out is not FAIL:
                items[key] = out
        return FrozenMap(items)

    return dec


def _list_decoder(elem: _Decoder, zero: Callable[[], object]) -> _Decoder:
    def dec(value: Any, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, list | tuple):
            return _given(ctx, path, value, "a list")
        out: list[Any] = []
        for i, v in enumerate(value):
            if v is None:
                out.append(zero())  # null element: Go's zero value, so indices stay aligned
                continue
            r = elem(v, f"{path}[{i}]", ctx)
            # A failed element keeps its slot (zero value) so later paths keep their index;
            # its path is a bad path, so validation stays quiet about it.
            out.append(zero() if r is FAIL else r)
        return tuple(out)

    return dec


_ZERO: dict[object, Callable[[], object]] = {
    str: lambda: "",
    int: lambda: 0,
    float: lambda: 0.0,
    bool: lambda: False,
}


def _model_decoder(cls: type[Any]) -> _Decoder:
    table: dict[str, tuple[str, _Decoder]] = {}

    def dec(value: Any, path: str, ctx: _Ctx) -> Any:
        if not table:
            table.update(_field_table(cls))
        if not isinstance(value, Mapping):
            return _given(ctx, path, value, "an object")
        kwargs: dict[str, Any] = {}
        for k, v in value.items():
            key = _map_key(k)
            if key is None:
                ctx.unknown.append(FieldError(_join(path, describe(k)), "unknown field"))
                continue
            entry = table.get(key)
            sub = _join(path, key)
            if entry is None:
                ctx.unknown.append(FieldError(sub, "unknown field"))
                continue
            if v is None:
                continue  # JSON null: the field is absent
            attr, fdec = entry
            out = fdec(v, sub, ctx)
            if out is not FAIL:
                kwargs[attr] = out
        return cls(**kwargs)

    return dec


_DECODERS: dict[Any, _Decoder] = {}


def _decoder_for(hint: Any) -> _Decoder:
    dec = _DECODERS.get(hint)
    if dec is None:
        dec = _DECODERS[hint] = _make_decoder(_strip_none(hint))
    return dec


def _make_decoder(hint: Any) -> _Decoder:
    if hint is Quantity:
        return _dec_quantity
    if hint is str:
        return _dec_str
    if hint is bool:
        return _dec_bool
    if hint is int:
        return _dec_int
    if hint is float:
        return _dec_float
    if hint is JSON:
        return _dec_json
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union) and set(args) == {int, str}:
        return _dec_int_or_string
    if origin is tuple:
        elem = args[0]
        return _list_decoder(_decoder_for(elem), _zero_for(elem))
    if origin is FrozenMap:
        val = _strip_none(args[1])
        zero = Quantity("") if val is Quantity else ""
        if val is Quantity:
            return _map_decoder(_dec_quantity, zero, "a resource list")
        return _map_decoder(_dec_str, zero, "a string map")
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _model_decoder(hint)
    raise TypeError(f"podrun.spec.decode: no decoder for {hint!r}")


def _zero_for(hint: Any) -> Callable[[], object]:
    hint = _strip_none(hint)
    if hint in _ZERO:
        return _ZERO[hint]
    if hint is Quantity:
        return lambda: Quantity("")
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint
    return lambda: None


def _strip_none(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = tuple(a for a in typing.get_args(hint) if a is not type(None))
        if len(args) == 1:
            return args[0]
        if set(args) == {int, str}:
            return int | str
    return hint


def _field_table(cls: type[Any]) -> dict[str, tuple[str, _Decoder]]:
    hints = _hints(cls)
    return {
        fl.metadata["json"]: (fl.name, _decoder_for(hints[fl.name]))
        for fl in dataclasses.fields(cls)
    }


def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)
