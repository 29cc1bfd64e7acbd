"""Read manifests (YAML multi-document or JSON, List kinds) into decoded, defaulted, validated
Pod/ConfigMap/Secret objects, one Loaded record per document with every problem collected.

Documents are numbered from 0 over the file as written (empty documents count but yield no
record); an item of a List document is `#doc.item` (see Loaded.location).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import yaml

from podrun.errors import FieldError, UnsupportedKind
from podrun.spec.decode import decode, describe, quote
from podrun.spec.defaults import (
    apply_configmap_defaults,
    apply_defaults,
    apply_secret_defaults,
    prepare_for_create,
)
from podrun.spec.types import ConfigMap, FrozenMap, Pod, Secret
from podrun.spec.validate import validate_object

FieldValidation = Literal["Strict", "Warn", "Ignore"]
SpecObject = Pod | ConfigMap | Secret

# The kubelet's file source refuses bigger manifests (BEHAVIOR.md 0: 10 MiB).
MAX_MANIFEST_BYTES = 10 * 1024 * 1024
# Expanded size beyond which a document that uses YAML aliases is refused ("billion laughs").
MAX_EXPANDED_NODES = 1_000_000

KINDS: dict[str, type[SpecObject]] = {"Pod": Pod, "ConfigMap": ConfigMap, "Secret": Secret}
LIST_KINDS: dict[str, str | None] = {
    "List": None,
    "PodList": "Pod",
    "ConfigMapList": "ConfigMap",
    "SecretList": "Secret",
}


@dataclass
class Loaded:
    """One document (or one item of a List document) and what became of it."""

    source: str
    doc: int
    item: int | None = None
    kind: str = ""
    api_version: str = ""
    obj: SpecObject | None = None
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)
    unsupported_kind: bool = False
    raw: object = None  # the document as read, for messages and `-o yaml` of unsupported kinds

    @property
    def location(self) -> str:
        """`FILE[#doc]` or `FILE[#doc.item]`, the prefix of every message about this record."""
        index = f"{self.doc}" if self.item is None else f"{self.doc}.{self.item}"
        return f"{self.source}[#{index}]"

    @property
    def ok(self) -> bool:
        return not self.errors and self.obj is not None

    def messages(self) -> Iterator[str]:
        """Every error as `FILE[#doc]: field.path: message`."""
        for e in self.errors:
            yield f"{self.location}: {e}"


def load_text(
    text: str,
    source: str = "-",
    *,
    field_validation: FieldValidation = "Strict",
    static_pod: bool = False,
) -> list[Loaded]:
    """Parse every document of ``text``; never raises for bad input."""
    out: list[Loaded] = []
    for index, data, err in _documents(text):
        if err is not None:
            out.append(Loaded(source, index, errors=[FieldError("", err)]))
            continue
        if data is None:
            continue  # an empty document
        out.extend(_load_document(data, source, index, None, field_validation, static_pod))
    return out


def load_bytes(
    data: bytes,
    source: str = "-",
    *,
    field_validation: FieldValidation = "Strict",
    static_pod: bool = False,
) -> list[Loaded]:
    """load_text for raw bytes: size cap and UTF-8 decoding with clear errors."""
    if len(data) > MAX_MANIFEST_BYTES:
        return [_file_error(source, f"file is larger than the {MAX_MANIFEST_BYTES} byte limit")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        return [_file_error(source, f"not valid UTF-8 (byte {e.start}, line {line})")]
    return load_text(text, source, field_validation=field_validation, static_pod=static_pod)


def load_file(
    path: str,
    *,
    field_validation: FieldValidation = "Strict",
    static_pod: bool = False,
) -> list[Loaded]:
    """Read one manifest file (at most 10 MiB) and load it; read errors become records."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError as e:
        return [_file_error(path, f"cannot read: {e.strerror or e}")]
    return load_bytes(data, path, field_validation=field_validation, static_pod=static_pod)


def _file_error(source: str, message: str) -> Loaded:
    return Loaded(source, 0, errors=[FieldError("", message)])


# -- reading documents ---------------------------------------------------------------------


class _PyLoader(yaml.SafeLoader):
    """SafeLoader as sigs.k8s.io/yaml sees YAML: timestamps stay strings; duplicate keys are
    recorded (kubectl's strict mode rejects them)."""

    duplicates: list[str]


# libyaml's parser when PyYAML has it (several times faster); constructor and resolver stay
# PyYAML's Python ones, customised below. libyaml composes recursively in C and overflows the
# C stack somewhere past 20000 levels, so it only gets text that cannot nest that deep.
_CBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CLoader(_CBase):  # type: ignore[valid-type,misc]
    duplicates: list[str]

    # libyaml composes in C but asks the Python resolver for every scalar's tag; a
    # manifest repeats the same keys and values, so the answers are memoised (the
    # resolver is a pure function of the scalar and its style). Halves YAML loading.
    _resolved: dict[tuple[str, tuple[bool, bool]], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit is not None and len(value) <= 64:
            key = (value, implicit)
            tag = self._resolved.get(key)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._resolved) >= 8192:
                    self._resolved.clear()
                self._resolved[key] = tag
            return tag
        return super().resolve(kind, value, implicit)


_Loader = _PyLoader  # the reference behaviour (tests load fixtures with it)
_LIBYAML_MAX_NESTING_BOUND = 5000


def _construct_mapping(loader: _PyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable key", key_node.start_mark
            ) from None
        if key in out:
            loader.duplicates.append(_duplicate(key_node, key))
        out[key] = loader.construct_object(value_node, deep=True)
    return out


def _duplicate(key_node: yaml.Node, key: object) -> str:
    return f"line {key_node.start_mark.line + 1}: key {quote(str(key))} already set in map"


for _cls in (_PyLoader, _CLoader):
    # Timestamps are strings to the API server; drop the implicit timestamp resolver.
    _cls.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


_TAG = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE = _TAG + "str", _TAG + "map", _TAG + "seq", _TAG + "merge"
_PLAIN_SCALARS = frozenset({_TAG + "int", _TAG + "bool", _TAG + "null", _TAG + "float"})


class _Fallback(Exception):
    """The node tree uses something the fast constructor leaves to PyYAML (tags, merges)."""


_BUSY = object()


def _fast_construct(loader: _PyLoader, root: yaml.Node) -> Any:
    """PyYAML's SafeConstructor for the common case, without its generator machinery."""
    memo: dict[int, Any] = {}
    scalar_constructors = loader.yaml_constructors

    def build(node: yaml.Node) -> Any:
        cls = node.__class__
        if cls is yaml.ScalarNode:
            if node.tag == _STR:
                return node.value
            if node.tag in _PLAIN_SCALARS:
                return scalar_constructors[node.tag](loader, node)
            raise _Fallback
        key = id(node)
        if key in memo:  # an alias: the same node object again
            value = memo[key]
            if value is _BUSY:
                raise _Recursive
            return value
        memo[key] = _BUSY
        if cls is yaml.SequenceNode and node.tag == _SEQ:
            value = [build(child) for child in node.value]
        elif cls is yaml.MappingNode and node.tag == _MAP:
            value = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    raise _Fallback
                k = build(key_node)
                if k.__class__.__hash__ is None:
                    raise _Fallback  # PyYAML reports the unhashable key with its mark
                if k in value:
                    loader.duplicates.append(_duplicate(key_node, k))
                value[k] = build(value_node)
        else:
            raise _Fallback
        memo[key] = value
        return value

    return build(root)


def _documents(text: str) -> Iterator[tuple[int, Any, str | None]]:
    """(index, data, error) per document; documents with duplicate keys come wrapped."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        docs = _json_documents(stripped)
        if docs is not None:
            yield from docs
            return
    nesting_bound = sum(text.count(c) for c in "[{-:?")
    loader_cls = _CLoader if nesting_bound <= _LIBYAML_MAX_NESTING_BOUND else _PyLoader
    try:
        loader = loader_cls(text)
    except yaml.YAMLError as e:  # the reader refuses control characters up front
        yield 0, None, f"YAML error: {e}"
        return
    loader.duplicates = []
    index = 0
    try:
        while True:
            try:
                if not loader.check_node():
                    break
                loader.duplicates = []
                node = loader.get_node()
                if node is None:
                    break
                try:
                    data = _fast_construct(loader, node)
                except _Fallback:
                    loader.duplicates = []
                    data = loader.construct_document(node)
            except yaml.MarkedYAMLError as e:
                mark = e.problem_mark or e.context_mark
                where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
                what = e.problem or e.context or "invalid YAML"
                yield index, None, f"YAML syntax error at {where}: {what}"
                return
            except yaml.YAMLError as e:
                yield index, None, f"YAML error: {e}"
                return
            except _Recursive:
                yield index, None, "document contains a recursive alias"
                index += 1
                continue
            except RecursionError:
                yield index, None, "document is nested too deeply"
                return
            except (ValueError, OverflowError, MemoryError) as e:
                yield index, None, f"document cannot be read: {e}"
                return
            problem = _check_size(data)
            if problem:
                yield index, None, problem
            elif loader.duplicates and data is not None:
                yield index, _WithDuplicates(data, list(loader.duplicates)), None
            else:
                yield index, data, None
            index += 1
    finally:
        loader.dispose()


class _WithDuplicates:
    """A document that had duplicate keys (strict decoding errors)."""

    __slots__ = ("data", "duplicates")

    def __init__(self, data: Any, duplicates: list[str]) -> None:
        self.data = data
        self.duplicates = duplicates


def _json_documents(text: str) -> list[tuple[int, Any, str | None]] | None:
    """A JSON stream (one or more concatenated values), or None if it is not JSON."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for k, v in items:
            if k in obj:
                duplicates.append(f"duplicate field {quote(k)}")
            obj[k] = v
        return obj

    dec = json.JSONDecoder(object_pairs_hook=pairs)
    out: list[tuple[int, Any, str | None]] = []
    pos = 0
    try:
        while pos < len(text):
            duplicates.clear()
            value, end = dec.raw_decode(text, pos)
            if duplicates:
                value = _WithDuplicates(value, list(duplicates))
            out.append((len(out), value, None))
            pos = end
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
    except json.JSONDecodeError:
        return None if not out else out + [(len(out), None, "invalid JSON after this document")]
    except RecursionError:
        return [(len(out), None, "document is nested too deeply")]
    except ValueError as e:  # e.g. an integer with too many digits
        return [(len(out), None, f"document cannot be read: {e}")]
    return out


def _check_size(data: Any) -> str | None:
    """Refuse alias bombs and recursive aliases before anything walks the document."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(v: Any) -> int:
        if not isinstance(v, dict | list):
            return 1
        key = id(v)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Recursive
        active.add(key)
        children = v.values() if isinstance(v, dict) else v
        total = 1
        for c in children:
            total += size(c)
            if total > MAX_EXPANDED_NODES:
                raise _TooBig
        active.discard(key)
        sizes[key] = total
        return total

    try:
        size(data)
    except _Recursive:
        return "document contains a recursive alias"
    except _TooBig:
        return "document contains excessive aliasing"
    except RecursionError:
        return "document is nested too deeply"
    return None


class _Recursive(Exception):
    pass


class _TooBig(Exception):
    pass


# -- one document --------------------------------------------------------------------------


def _load_document(
    data: Any,
    source: str,
    doc: int,
    item: int | None,
    mode: FieldValidation,
    static_pod: bool,
    default_kind: str | None = None,
) -> list[Loaded]:
    duplicates: list[str] = []
    if isinstance(data, _WithDuplicates):
        duplicates, data = data.duplicates, data.data
    rec = Loaded(source, doc, item, raw=data)
    for d in duplicates:
        _unknown(rec, FieldError("", d), mode)
    if not isinstance(data, Mapping):
        rec.errors.append(FieldError("", f"{describe(data)} given where an object is required"))
        return [rec]

    kind = data.get("kind")
    api_version = data.get("apiVersion")
    if kind is None and default_kind is not None:
        kind, api_version = default_kind, api_version or "v1"
    kind_ok = _type_field(rec, "kind", kind)
    api_version_ok = _type_field(rec, "apiVersion", api_version)
    if not (kind_ok and api_version_ok):
        return [rec]
    assert isinstance(kind, str) and isinstance(api_version, str)
    rec.kind, rec.api_version = kind, api_version

    if kind in LIST_KINDS and item is None:
        return _load_list(rec, data, mode, static_pod)
    cls = KINDS.get(kind)
    if cls is None:
        rec.unsupported_kind = True
        rec.errors.append(FieldError("", str(UnsupportedKind(kind, api_version))))
        return [rec]
    if api_version != "v1":
        rec.errors.append(
            FieldError(
                "apiVersion", f'Unsupported value: {quote(api_version)}: supported values: "v1"'
            )
        )
        return [rec]

    result = decode(cls, data)
    rec.errors.extend(result.errors)
    for e in result.unknown:
        _unknown(rec, e, mode)
    obj = result.value
    if obj is None:
        return [rec]
    obj = _defaults(obj)
    rec.errors.extend(_validate(obj, frozenset(result.bad_paths), static_pod))
    if isinstance(obj, Pod):
        obj = prepare_for_create(obj)
    rec.obj = obj
    return [rec]


def _type_field(rec: Loaded, name: str, value: object) -> bool:
    if value is None or value == "":
        rec.errors.append(FieldError(name, "Required value"))
        return False
    if not isinstance(value, str):
        rec.errors.append(FieldError(name, f"{describe(value)} given where a string is required"))
        return False
    return True


def _load_list(
    rec: Loaded, data: Mapping[Any, Any], mode: FieldValidation, static_pod: bool
) -> list[Loaded]:
    items = data.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        rec.errors.append(FieldError("items", f"{describe(items)} given where a list is required"))
        return [rec]
    default_kind = LIST_KINDS[rec.kind]
    out: list[Loaded] = []
    for i, item in enumerate(items):
        out.extend(_load_document(item, rec.source, rec.doc, i, mode, static_pod, default_kind))
    return out


def _unknown(rec: Loaded, err: FieldError, mode: FieldValidation) -> None:
    if mode == "Strict":
        rec.errors.append(err)
    elif mode == "Warn":
        rec.warnings.append(err)


def _defaults(obj: SpecObject) -> SpecObject:
    if isinstance(obj, Pod):
        return apply_defaults(obj)
    if isinstance(obj, Secret):
        return apply_secret_defaults(_merge_string_data(obj))
    return apply_configmap_defaults(obj)


def _merge_string_data(secret: Secret) -> Secret:
    """Conversion to the internal Secret: stringData entries overwrite data, base64-encoded."""
    if secret.string_data is None:
        return secret
    data = dict(secret.data or {})
    for k, v in secret.string_data.items():
        data[k] = base64.b64encode(v.encode()).decode()
    return replace(secret, data=FrozenMap(data), string_data=None)


def _validate(obj: SpecObject, bad: frozenset[str], static_pod: bool) -> list[FieldError]:
    errors = validate_object(obj, bad_paths=bad, static_pod=static_pod)
    return [e for e in errors if not _under_bad(e.path, bad)]


def _under_bad(path: str, bad: frozenset[str]) -> bool:
    if not bad:
        return False
    if path in bad:
        return True
    # Walk up the path: a.b[0].c -> a.b[0] -> a.b -> a
    p = path
    while p:
        cut = max(p.rfind("."), p.rfind("["))
        if cut <= 0:
            return False
        p = p[:cut]
        if p in bad:
            return True
    return False
