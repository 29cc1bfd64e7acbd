"""Encode model objects back to plain JSON-able dicts with the API's JSON names.

Absent (None) fields are omitted; explicit false, 0, "", {} and [] are kept, so a valid
manifest survives decode -> encode unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from podrun.spec.types import JSON, FrozenMap

_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}


def to_dict(obj: object) -> dict[str, Any]:
    """The JSON object for a model instance (Pod, Container, ...)."""
    out = to_json(obj)
    if not isinstance(out, dict):
        raise TypeError(f"to_dict: {type(obj).__name__} is not a model object")
    return out


def to_json(value: object) -> Any:
    """Any model value (object, tuple, map, scalar) as plain JSON data."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, FrozenMap | dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, JSON):
        return to_json(value.value)
    cls = type(value)
    names = _FIELDS.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"to_json: cannot encode {cls.__name__}")
        names = _FIELDS[cls] = tuple(
            (fl.name, fl.metadata["json"]) for fl in dataclasses.fields(cls)
        )
    out: dict[str, Any] = {}
    for attr, name in names:
        v = getattr(value, attr)
        if v is not None:
            out[name] = to_json(v)
    return out
