"""decode(): type errors with exact paths and wording, unknown fields, nulls, bad paths."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from podrun.errors import FieldError
from podrun.spec.decode import decode
from podrun.spec.encode import to_dict
from podrun.spec.types import ConfigMap, Container, FrozenMap, Pod, Probe, Quantity

BASE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "labels": {"app": "x"}},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "ports": [{"containerPort": 80}, {"containerPort": 81}],
                "resources": {"limits": {"cpu": "1"}},
                "livenessProbe": {"httpGet": {"port": 80}},
            }
        ],
        "volumes": [{"name": "v", "emptyDir": {}}],
    },
}


def with_value(path: str, value: Any) -> dict[str, Any]:
    """BASE with `value` at a dotted path (`spec.containers.0.ports.1.containerPort`)."""
    doc = copy.deepcopy(BASE)
    node: Any = doc
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node.setdefault(k, {})
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


C0 = "spec.containers.0"
P0 = "spec.containers[0]"

# (where to put the value, the value, expected error path, expected message)
TYPE_ERRORS: list[tuple[str, Any, str, str]] = [
    (f"{C0}.ports.0.containerPort", "int", f"{P0}.ports[0].containerPort", '"int" is not an integer'),
    (f"{C0}.ports.1.containerPort", "15", f"{P0}.ports[1].containerPort", '"15" is not an integer'),
    (f"{C0}.ports.0.containerPort", 1.5, f"{P0}.ports[0].containerPort", "1.5 is not an integer"),
    (f"{C0}.ports.0.containerPort", True, f"{P0}.ports[0].containerPort", "boolean given where an integer is required"),
    (f"{C0}.ports.0.containerPort", [80], f"{P0}.ports[0].containerPort", "list given where an integer is required"),
    (f"{C0}.ports.0.containerPort", {"a": 1}, f"{P0}.ports[0].containerPort", "mapping given where an integer is required"),
    (f"{C0}.ports.0.containerPort", 2**70, f"{P0}.ports[0].containerPort", "integer out of range"),
    (f"{C0}.ports.0.containerPort", float("nan"), f"{P0}.ports[0].containerPort", "nan is not an integer"),
    (f"{C0}.ports.0.hostPort", "int", f"{P0}.ports[0].hostPort", '"int" is not an integer'),
    (f"{C0}.stdin", "boolean", f"{P0}.stdin", '"boolean" is not a boolean'),
    (f"{C0}.stdin", 1, f"{P0}.stdin", "number given where a boolean is required"),
    (f"{C0}.tty", [True], f"{P0}.tty", "list given where a boolean is required"),
    (f"{C0}.image", {"IMAGE_REPOSITORY": None}, f"{P0}.image", "mapping given where a string is required"),
    (f"{C0}.image", ["nginx"], f"{P0}.image", "list given where a string is required"),
    (f"{C0}.image", 42, f"{P0}.image", "number given where a string is required"),
    (f"{C0}.image", 4.5, f"{P0}.image", "number given where a string is required"),
    (f"{C0}.image", False, f"{P0}.image", "boolean given where a string is required"),
    (f"{C0}.image", b"\x00", f"{P0}.image", "binary data given where a string is required"),
    ("spec.restartPolicy", ["Always | Never"], "spec.restartPolicy", "list given where a string is required"),
    ("metadata.labels", [{"name": "string"}], "metadata.labels", "list given where a string map is required"),
    ("metadata.annotations", "object", "metadata.annotations", 'string "object" given where a string map is required'),
    ("spec.nodeSelector", "object", "spec.nodeSelector", 'string "object" given where a string map is required'),
    ("spec.nodeSelector", 3, "spec.nodeSelector", "number given where a string map is required"),
    ("metadata.labels", {"version": 1}, "metadata.labels[version]", "number given where a string is required"),
    ("metadata.labels", {"ok": True}, "metadata.labels[ok]", "boolean given where a string is required"),
    (f"{C0}.resources.limits", {"cpu": True}, f"{P0}.resources.limits[cpu]", "boolean given where a quantity is required"),
    (f"{C0}.resources.limits", {"cpu": [1]}, f"{P0}.resources.limits[cpu]", "list given where a quantity is required"),
    (f"{C0}.resources.limits", "1", f"{P0}.resources.limits", 'string "1" given where a resource list is required'),
    (f"{C0}.command", "sleep 1", f"{P0}.command", 'string "sleep 1" given where a list is required'),
    (f"{C0}.command", {"a": "b"}, f"{P0}.command", "mapping given where a list is required"),
    (f"{C0}.command", ["sh", 1], f"{P0}.command[1]", "number given where a string is required"),
    (f"{C0}.livenessProbe", "yes", f"{P0}.livenessProbe", 'string "yes" given where an object is required'),
    (f"{C0}.livenessProbe", [], f"{P0}.livenessProbe", "list given where an object is required"),
    (f"{C0}.livenessProbe.initialDelaySeconds", "number", f"{P0}.livenessProbe.initialDelaySeconds", '"number" is not an integer'),
    (f"{C0}.livenessProbe.httpGet.port", True, f"{P0}.livenessProbe.httpGet.port", "boolean given where an integer or string is required"),
    (f"{C0}.livenessProbe.httpGet.port", 80.5, f"{P0}.livenessProbe.httpGet.port", "80.5 is not an integer"),
    (f"{C0}.livenessProbe.httpGet.port", {}, f"{P0}.livenessProbe.httpGet.port", "mapping given where an integer or string is required"),
    ("spec.containers", {"name": "c"}, "spec.containers", "mapping given where a list is required"),
    ("spec.containers", ["nginx"], "spec.containers[0]", 'string "nginx" given where an object is required'),
    ("spec.volumes.0.emptyDir", "", "spec.volumes[0].emptyDir", 'string "" given where an object is required'),
    ("spec.volumes.0.emptyDir", {"sizeLimit": False}, "spec.volumes[0].emptyDir.sizeLimit", "boolean given where a quantity is required"),
    ("spec.terminationGracePeriodSeconds", "30s", "spec.terminationGracePeriodSeconds", '"30s" is not an integer'),
    ("spec.hostNetwork", "true", "spec.hostNetwork", '"true" is not a boolean'),
    ("spec", "spec", "spec", 'string "spec" given where an object is required'),
    ("metadata", [], "metadata", "list given where an object is required"),
    ("metadata.name", 7, "metadata.name", "number given where a string is required"),
    ("spec.overhead", {"cpu": float("inf")}, "spec.overhead[cpu]", "inf is not a quantity"),
]  # fmt: skip


@pytest.mark.parametrize(("where", "value", "path", "message"), TYPE_ERRORS)
def test_type_errors(where: str, value: Any, path: str, message: str) -> None:
    result = decode(Pod, with_value(where, value))
    assert result.errors == [FieldError(path, message)]
    assert path in result.bad_paths
    assert result.unknown == []
    assert result.value is not None


def test_table_is_big_enough() -> None:
    assert len(TYPE_ERRORS) >= 30


def test_failed_field_is_left_absent() -> None:
    result = decode(Pod, with_value(f"{C0}.ports.0.containerPort", "int"))
    assert result.value is not None and result.value.spec is not None
    containers = result.value.spec.containers
    assert containers is not None and containers[0].ports is not None
    assert containers[0].ports[0].container_port is None
    assert containers[0].ports[1].container_port == 81


def test_failed_list_element_keeps_its_slot() -> None:
    doc = with_value("spec.containers", ["nginx", {"name": "b", "image": "x"}])
    result = decode(Pod, doc)
    assert result.value is not None and result.value.spec is not None
    assert result.value.spec.containers == (Container(), Container(name="b", image="x"))
    assert result.bad_paths == {"spec.containers[0]"}


def test_all_errors_collected_at_once() -> None:
    doc = with_value(f"{C0}.ports.0.containerPort", "a")
    doc["spec"]["containers"][0]["ports"][1]["containerPort"] = "b"
    doc["spec"]["hostPID"] = "yes"
    result = decode(Pod, doc)
    assert [e.path for e in result.errors] == [
        f"{P0}.ports[0].containerPort",
        f"{P0}.ports[1].containerPort",
        "spec.hostPID",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, "1"), (0.5, "0.5"), (2.0, "2"), ("100m", "100m"), (1e-7, "1e-07"), (10**6, "1000000")],
)
def test_quantities_accept_numbers(value: Any, expected: str) -> None:
    result = decode(Pod, with_value(f"{C0}.resources.limits", {"cpu": value}))
    assert result.errors == []
    assert result.value is not None and result.value.spec is not None
    c = result.value.spec.containers
    assert c is not None and c[0].resources is not None
    assert c[0].resources.limits == {"cpu": Quantity(expected)}


def test_integral_float_is_an_integer() -> None:
    result = decode(Pod, with_value(f"{C0}.ports.0.containerPort", 8080.0))
    assert result.errors == []
    assert to_dict(result.value)["spec"]["containers"][0]["ports"][0]["containerPort"] == 8080


def test_int_or_string() -> None:
    for port in (8080, "http"):
        result = decode(Probe, {"httpGet": {"port": port}})
        assert result.errors == []
        assert result.value is not None and result.value.http_get is not None
        assert result.value.http_get.port == port


class TestUnknownFields:
    def test_unknown_fields_are_collected_with_paths(self) -> None:
        doc = with_value(f"{C0}.imagePullPolice", ["Always | Never"])
        doc["metadata"]["namaspace"] = "x"
        doc["spec"]["volumes"][0]["emptuDir"] = {}
        doc["spec"]["containers"][0]["ports"][1]["containnerPort"] = 1
        result = decode(Pod, doc)
        assert result.errors == []
        assert result.unknown == [
            FieldError("metadata.namaspace", "unknown field"),
            FieldError(f"{P0}.ports[1].containnerPort", "unknown field"),
            FieldError(f"{P0}.imagePullPolice", "unknown field"),
            FieldError("spec.volumes[0].emptuDir", "unknown field"),
        ]
        assert result.bad_paths == set()

    def test_names_are_case_sensitive(self) -> None:
        result = decode(Container, {"Name": "x", "imagepullpolicy": "Always"})
        assert [e.path for e in result.unknown] == ["Name", "imagepullpolicy"]

    def test_unknown_value_is_not_decoded(self) -> None:
        result = decode(Container, {"bogus": {"deep": [1, {"x": object()}]}})
        assert result.errors == [] and len(result.unknown) == 1

    def test_non_string_keys(self) -> None:
        result = decode(Container, {1: "a", None: "b", (1, 2): "c"})
        assert [e.path for e in result.unknown] == ["1", "value of type NoneType", "list"]


class TestNulls:
    def test_null_means_absent(self) -> None:
        doc = with_value("spec.hostNetwork", None)
        doc["metadata"]["labels"] = None
        doc["spec"]["containers"][0]["image"] = None
        result = decode(Pod, doc)
        assert result.errors == [] and result.unknown == []
        assert result.value is not None and result.value.spec is not None
        assert result.value.spec.host_network is None
        assert result.value.metadata is not None and result.value.metadata.labels is None
        assert "hostNetwork" not in to_dict(result.value)["spec"]

    def test_null_in_lists_and_maps_is_the_zero_value(self) -> None:
        doc = with_value(f"{C0}.command", ["sh", None])
        doc["metadata"]["labels"] = {"a": None}
        result = decode(Pod, doc)
        assert result.errors == []
        d = to_dict(result.value)
        assert d["spec"]["containers"][0]["command"] == ["sh", ""]
        assert d["metadata"]["labels"] == {"a": ""}

    def test_null_top_level_is_an_error(self) -> None:
        result = decode(Pod, None)
        assert result.value is None
        assert result.errors == [FieldError("", "value of type NoneType given where an object is required")]


def test_map_keys_from_yaml_scalars() -> None:
    result = decode(ConfigMap, {"data": {1: "a", False: "b", 1.5: "c"}})
    assert result.errors == []
    assert result.value is not None
    assert result.value.data == FrozenMap({"1": "a", "false": "b", "1.5": "c"})


def test_timestamps_become_strings() -> None:
    result = decode(ConfigMap, {"data": {"when": datetime.date(2024, 1, 2)}})
    assert result.errors == []
    assert result.value is not None and result.value.data == {"when": "2024-01-02"}


def test_free_form_json_is_frozen_and_round_trips() -> None:
    doc = {
        "metadata": {
            "name": "x",
            "managedFields": [
                {"manager": "kubectl", "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}}}
            ],
        }
    }
    result = decode(Pod, doc)
    assert result.errors == []
    assert hash(result.value)  # frozen all the way down
    assert to_dict(result.value) == doc


def test_deep_free_form_json_is_refused_not_recursed() -> None:
    deep: Any = {}
    for _ in range(200):
        deep = {"a": deep}
    result = decode(Pod, {"metadata": {"managedFields": [{"fieldsV1": deep}]}})
    assert len(result.errors) == 1 and result.errors[0].message == "nested too deeply"


def test_decoded_objects_are_frozen_and_hashable() -> None:
    result = decode(Pod, BASE)
    assert result.value is not None
    hash(result.value)
    with pytest.raises(AttributeError):
        result.value.kind = "X"  # type: ignore[misc]
