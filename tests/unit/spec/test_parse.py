"""load_text/load_bytes/load_file: documents, kinds, field validation modes, robustness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podrun.errors import FieldError
from podrun.spec import parse
from podrun.spec.decode import decode
from podrun.spec.encode import to_dict
from podrun.spec.parse import Loaded, load_bytes, load_file, load_text
from podrun.spec.types import ConfigMap, Pod, Secret
from tests.support import fuzz_examples

VALID = sorted((Path(__file__).parent / "manifests_valid").glob("*.yaml"))
SEEDS = Path(__file__).resolve().parents[4] / "shared" / "manifests" / "seeds"
CLASSES: dict[str, type[Any]] = {"Pod": Pod, "ConfigMap": ConfigMap, "Secret": Secret}

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: nginx
"""


def raw(text: str) -> Any:
    return yaml.load(text, Loader=parse._Loader)


# -- valid manifests -----------------------------------------------------------------------


def test_there_are_enough_valid_manifests() -> None:
    assert len(VALID) >= 20


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_manifest_round_trips_unchanged(path: Path) -> None:
    doc = raw(path.read_text())
    result = decode(CLASSES[doc["kind"]], doc)
    assert result.errors == [] and result.unknown == []
    assert to_dict(result.value) == doc


# Fields that decode and round-trip but that the API server refuses on create (feature gates
# off, or only settable through a subresource).
CREATE_ERRORS = {
    "10-ephemeral-os-overhead.yaml": [
        FieldError("spec.ephemeralContainers", "Forbidden: cannot be set on create"),
    ],
    "20-restart-rules.yaml": [
        FieldError("spec.containers[0].restartPolicy", "Forbidden: may not be set for non-init containers"),
        FieldError("spec.containers[0].restartPolicyRules", "Forbidden: may not be set for non-init containers"),
    ],
}


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_manifest_loads_without_problems(path: Path) -> None:
    [rec] = load_file(str(path))
    # Only the listed create-time refusals, if validation applies them (feature gates vary).
    assert all(e in CREATE_ERRORS.get(path.name, []) for e in rec.errors), rec.errors
    assert rec.warnings == []
    assert rec.obj is not None and rec.kind in CLASSES
    assert rec.location == f"{path}[#0]"


# -- documents -----------------------------------------------------------------------------


def test_multi_document_yaml_counts_every_document() -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"
    text = f"---\n{POD}---\n# only a comment\n---\n{cm}---\n"
    recs = load_text(text, "f.yaml")
    assert [(r.doc, r.kind) for r in recs] == [(0, "Pod"), (2, "ConfigMap")]
    assert [r.location for r in recs] == ["f.yaml[#0]", "f.yaml[#2]"]
    assert all(r.ok for r in recs)


def test_empty_input_gives_nothing() -> None:
    assert load_text("") == []
    assert load_text("# nothing\n---\n---\n") == []


def test_json_document_and_json_stream() -> None:
    obj = raw(POD)
    [rec] = load_text(json.dumps(obj))
    assert rec.ok and rec.kind == "Pod"
    recs = load_text(json.dumps(obj) + "\n" + json.dumps(obj))
    assert [r.doc for r in recs] == [0, 1]


def test_yaml_flow_mapping_is_not_mistaken_for_json() -> None:
    [rec] = load_text("{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}")
    assert rec.ok


@pytest.mark.parametrize("kind", ["List", "PodList"])
def test_list_kinds(kind: str) -> None:
    pod = raw(POD)
    item = pod if kind == "List" else {k: v for k, v in pod.items() if k not in ("kind", "apiVersion")}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    items = [item, cm] if kind == "List" else [item]
    text = yaml.safe_dump({"apiVersion": "v1", "kind": kind, "items": items})
    recs = load_text(text, "l.yaml")
    assert [r.kind for r in recs] == ["Pod", "ConfigMap"][: len(items)]
    assert [r.location for r in recs][:1] == ["l.yaml[#0.0]"]
    assert all(r.ok for r in recs)


def test_list_items_are_checked_like_documents() -> None:
    text = yaml.safe_dump(
        {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "apps/v1", "kind": "Deployment"}, 3]}
    )
    a, b = load_text(text)
    assert a.unsupported_kind and a.location == "-[#0.0]"
    assert b.errors == [FieldError("", "number given where an object is required")]


def test_list_items_not_a_list() -> None:
    [rec] = load_text("apiVersion: v1\nkind: List\nitems: {}\n")
    assert rec.errors == [FieldError("items", "mapping given where a list is required")]


# -- kinds ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Deployment", "Job", "Service", "ReplicationController"])
def test_unsupported_kinds(kind: str) -> None:
    [rec] = load_text(f"apiVersion: apps/v1\nkind: {kind}\nmetadata: {{name: x}}\n")
    assert rec.unsupported_kind and rec.obj is None and rec.kind == kind
    [err] = rec.errors
    assert f'kind "{kind}" is not supported' in err.message and "podrun runs Pods" in err.message


def test_missing_kind_and_api_version() -> None:
    [rec] = load_text("metadata: {name: x}\n")
    assert rec.errors == [FieldError("kind", "Required value"), FieldError("apiVersion", "Required value")]
    [rec] = load_text("kind: Pod\n")
    assert rec.errors == [FieldError("apiVersion", "Required value")]


def test_wrong_api_version_for_pod() -> None:
    [rec] = load_text("apiVersion: apps/v1\nkind: Pod\n")
    assert rec.errors == [FieldError("apiVersion", 'Unsupported value: "apps/v1": supported values: "v1"')]


def test_kind_not_a_string() -> None:
    [rec] = load_text("apiVersion: v1\nkind: [Pod]\n")
    assert rec.errors == [FieldError("kind", "list given where a string is required")]


def test_document_not_an_object() -> None:
    [rec] = load_text("- a\n- b\n")
    assert rec.errors == [FieldError("", "list given where an object is required")]


# -- field validation modes ----------------------------------------------------------------

TYPO = POD.replace("    image: nginx\n", "    image: nginx\n    imagePullPolice: Always\n")


def test_strict_unknown_fields_are_errors() -> None:
    [rec] = load_text(TYPO)
    assert rec.errors == [FieldError("spec.containers[0].imagePullPolice", "unknown field")]
    assert str(rec.errors[0]) == "spec.containers[0].imagePullPolice: unknown field"
    assert list(rec.messages()) == ["-[#0]: spec.containers[0].imagePullPolice: unknown field"]


def test_warn_unknown_fields_are_warnings() -> None:
    [rec] = load_text(TYPO, field_validation="Warn")
    assert rec.errors == [] and rec.ok
    assert rec.warnings == [FieldError("spec.containers[0].imagePullPolice", "unknown field")]


def test_ignore_unknown_fields_are_dropped() -> None:
    [rec] = load_text(TYPO, field_validation="Ignore")
    assert rec.errors == [] and rec.warnings == [] and rec.ok


def test_type_errors_are_errors_in_every_mode() -> None:
    bad = POD.replace("    image: nginx\n", "    image: nginx\n    tty: maybe\n")
    for mode in ("Strict", "Warn", "Ignore"):
        [rec] = load_text(bad, field_validation=mode)  # type: ignore[arg-type]
        assert rec.errors == [FieldError("spec.containers[0].tty", '"maybe" is not a boolean')]


def test_duplicate_keys_follow_the_mode() -> None:
    dup = POD.replace("    image: nginx\n", "    image: nginx\n    image: busybox\n")
    [rec] = load_text(dup)
    assert rec.errors == [FieldError("", 'line 9: key "image" already set in map')]
    [rec] = load_text(dup, field_validation="Warn")
    assert rec.errors == [] and len(rec.warnings) == 1


# -- syntax and file errors ----------------------------------------------------------------


def test_yaml_syntax_error_names_line_and_column() -> None:
    [rec] = load_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n", "bad.yaml")
    [err] = rec.errors
    assert err.path == "" and err.message.startswith("YAML syntax error at line ")
    assert "column" in err.message


def test_syntax_error_in_a_later_document_keeps_the_earlier_ones() -> None:
    recs = load_text(POD + "---\nkey: [unclosed\n")
    assert recs[0].ok and recs[1].doc == 1 and recs[1].errors


def test_timestamps_stay_strings() -> None:
    [rec] = load_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {day: 2024-01-02}\n")
    assert rec.ok and isinstance(rec.obj, ConfigMap) and rec.obj.data == {"day": "2024-01-02"}


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    [rec] = load_text("\n".join(lines) + "\n")
    assert rec.errors == [FieldError("", "document contains excessive aliasing")]


def test_recursive_alias_is_refused() -> None:
    [rec] = load_text("a: &a [*a]\n")
    assert rec.errors and "recursive" in rec.errors[0].message or "nested" in rec.errors[0].message


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    [rec] = load_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert rec.errors
    [rec] = load_text("{" + '"a":{' * 5000 + "}" * 5001)
    assert rec.errors


def test_huge_integer_is_an_error_not_a_crash() -> None:
    recs = load_text(POD + "  priority: " + "9" * 5000 + "\n")
    assert recs and recs[0].errors


def test_load_bytes_size_cap_and_utf8() -> None:
    [rec] = load_bytes(b"x" * (parse.MAX_MANIFEST_BYTES + 1), "big.yaml")
    assert "larger than" in rec.errors[0].message
    [rec] = load_bytes(b"apiVersion: v1\nkind: \xff\n", "bin.yaml")
    assert rec.errors[0].message == "not valid UTF-8 (byte 21, line 2)"
    [rec] = load_bytes(b"\xef\xbb\xbf" + POD.encode())
    assert rec.ok


def test_load_file_errors(tmp_path: Path) -> None:
    [rec] = load_file(str(tmp_path / "missing.yaml"))
    assert rec.errors[0].message.startswith("cannot read: ")
    f = tmp_path / "pod.yaml"
    f.write_text(POD)
    [rec] = load_file(str(f))
    assert rec.ok and rec.source == str(f)


def test_objects_are_defaulted() -> None:
    [rec] = load_text(POD)
    assert isinstance(rec.obj, Pod) and rec.obj.spec is not None
    assert rec.obj.spec.restart_policy == "Always"
    assert rec.obj.metadata is not None and rec.obj.metadata.namespace == "default"


def test_secret_string_data_is_merged() -> None:
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: eA==}\nstringData: {a: hi, b: yo}\n"
    [rec] = load_text(text)
    assert isinstance(rec.obj, Secret)
    assert rec.obj.data == {"a": "aGk=", "b": "eW8="} and rec.obj.string_data is None
    assert rec.obj.type == "Opaque"


def test_errors_under_bad_paths_are_dropped() -> None:
    bad = frozenset({"spec.containers[0].ports[0].containerPort", "metadata.labels"})
    assert parse._under_bad("spec.containers[0].ports[0].containerPort", bad)
    assert parse._under_bad("metadata.labels[app]", bad)
    assert not parse._under_bad("metadata.labelsX", bad)
    assert not parse._under_bad("spec.containers[0].ports[0]", bad)
    assert not parse._under_bad("spec", bad)


# -- the seed corpus (decode-level expectations; validation adds its own) ------------------


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared seed manifests not present")
def test_seed_01_decode_errors() -> None:
    [rec] = load_file(str(SEEDS / "01-pod-field-reference-template.yaml"))
    msgs = {str(e) for e in rec.errors}
    for expected in [
        "metadata.namaspace: unknown field",
        "metadata.labels: list given where a string map is required",
        "metadata.annotations: list given where a string map is required",
        "spec.containers[0].images: unknown field",
        "spec.containers[0].imagePullPolice: unknown field",
        'spec.containers[0].volumeMounts[0].readOnly: "boolean" is not a boolean',
        'spec.containers[0].ports[0].containerPort: "int" is not an integer',
        'spec.containers[0].ports[0].hostPort: "int" is not an integer',
        'spec.containers[0].livenessProbe.initialDelaySeconds: "number" is not an integer',
        "spec.restartPolicy: list given where a string is required",
        'spec.nodeSelector: string "object" given where a string map is required',
    ]:
        assert expected in msgs
    assert not any(e.path == "spec.containers[0].ports[0].containerPort" and "Required" in e.message for e in rec.errors)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared seed manifests not present")
def test_seed_23_unquoted_placeholders() -> None:
    [rec] = load_file(str(SEEDS / "23-pod-init-vault-token-share.yaml"))
    msgs = {str(e) for e in rec.errors}
    assert "spec.containers[0].image: mapping given where a string is required" in msgs
    assert "spec.initContainers[0].env[0].value: mapping given where a string is required" in msgs


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared seed manifests not present")
def test_seed_20_configmap_then_deployment() -> None:
    cm, dep = load_file(str(SEEDS / "20-configmap-resolvconf-and-deployment.yaml"))
    assert cm.ok and cm.kind == "ConfigMap"
    assert dep.unsupported_kind and dep.doc == 1


# -- fuzz ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)

FUZZ_BASE = raw((Path(__file__).parent / "manifests_valid" / "01-nginx-probes.yaml").read_text())


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


FUZZ_PATHS = [p for p in _paths(FUZZ_BASE) if p]


def _put(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


@settings(max_examples=fuzz_examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FUZZ_PATHS), json_values, st.sampled_from(["yaml", "json"]))
def test_fuzz_values_anywhere_never_raise(path: tuple[Any, ...], value: Any, fmt: str) -> None:
    doc = _put(FUZZ_BASE, path, value)
    if fmt == "json":
        text = json.dumps(doc)
    else:
        text = yaml.safe_dump(doc)
    recs = load_text(text, field_validation="Strict")
    for rec in recs:
        assert isinstance(rec, Loaded)
        assert all(isinstance(e, FieldError) for e in rec.errors + rec.warnings)


@settings(max_examples=fuzz_examples(200), deadline=None)
@given(st.text(max_size=200))
def test_fuzz_arbitrary_text_never_raises(text: str) -> None:
    for rec in load_text(text):
        assert isinstance(rec, Loaded)


@settings(max_examples=fuzz_examples(200), deadline=None)
@given(json_values)
def test_fuzz_whole_documents_never_raise(value: Any) -> None:
    for cls in (Pod, ConfigMap, Secret):
        decode(cls, value)
    load_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "spec": value}))


# -- the fast YAML path agrees with PyYAML -------------------------------------------------


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_fast_reader_matches_pyyaml(path: Path) -> None:
    text = path.read_text()
    [(_, data, err)] = list(parse._documents(text))
    assert err is None and data == raw(text)


def test_merge_keys_and_tags_fall_back_to_pyyaml() -> None:
    text = "base: &b {a: '1'}\ndata:\n  <<: *b\n  c: !!str 2\n  bin: !!binary aGk=\n"
    [(_, data, err)] = list(parse._documents(text))
    assert err is None and data["data"] == {"a": "1", "c": "2", "bin": b"hi"}


def test_unknown_tag_is_an_error() -> None:
    [rec] = load_text("apiVersion: v1\nkind: !Custom Pod\n")
    assert rec.errors and "could not determine a constructor" in rec.errors[0].message


def test_deep_nesting_never_reaches_libyaml() -> None:
    # libyaml recurses in C and crashes the interpreter past ~20000 levels.
    for text in ("a: " + "[" * 100_000 + "]" * 100_000, "- " * 100_000 + "x"):
        [rec] = load_text(text)
        assert rec.errors == [FieldError("", "document is nested too deeply")]


def test_duplicate_keys_in_fallback_path() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: !!str 1, a: '2'}\n"
    [rec] = load_text(text, field_validation="Warn")
    assert [str(w) for w in rec.warnings] == ['line 4: key "a" already set in map']


def test_json_duplicate_fields_follow_the_mode() -> None:
    text = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "name": "d"}}'
    [rec] = load_text(text)
    assert rec.errors == [FieldError("", 'duplicate field "name"')]
    [rec] = load_text(text, field_validation="Ignore")
    assert rec.ok and isinstance(rec.obj, ConfigMap) and rec.obj.metadata is not None
    assert rec.obj.metadata.name == "d"
