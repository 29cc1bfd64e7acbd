"""Every field the official kubernetes client knows for the Pod surface exists in our model,
with the same JSON name and the same nested type."""

from __future__ import annotations

import dataclasses
import re
import typing

import pytest

from podrun.spec import types as t

client = pytest.importorskip("kubernetes.client", reason="kubernetes client not installed")

ROOTS = [
    "V1Pod", "V1ObjectMeta", "V1PodSpec", "V1Container", "V1EphemeralContainer", "V1Volume",
    "V1Probe", "V1Lifecycle", "V1SecurityContext", "V1PodSecurityContext", "V1ConfigMap",
    "V1Secret", "V1PodStatus", "V1ContainerStatus",
]  # fmt: skip
_REF = re.compile(r"\b((?:V1|CoreV1)\w+)")


def _reachable() -> list[str]:
    seen: dict[str, None] = {}

    def walk(name: str) -> None:
        if name in seen:
            return
        seen[name] = None
        for type_str in getattr(client, name).openapi_types.values():
            for ref in _REF.findall(type_str):
                walk(ref)

    for root in ROOTS:
        walk(root)
    return list(seen)


def _ours(client_name: str) -> type:
    return getattr(t, re.sub(r"^(CoreV1|V1)", "", client_name))


def _model_in(hint: object) -> type | None:
    """The model class inside `X | None` or `tuple[X, ...] | None`."""
    for arg in typing.get_args(hint) or (hint,):
        if dataclasses.is_dataclass(arg):
            return typing.cast(type, arg)
        inner = _model_in(arg) if typing.get_args(arg) else None
        if inner is not None:
            return inner
    return None


MODELS = _reachable()


def test_walk_reaches_the_whole_surface() -> None:
    assert len(MODELS) > 100
    for name in ("V1RBDVolumeSource", "V1SeccompProfile", "V1TopologySpreadConstraint",
                 "V1SleepAction", "V1PodResourceClaim", "V1ContainerStateTerminated"):  # fmt: skip
        assert name in MODELS


@pytest.mark.parametrize("name", MODELS)
def test_every_client_field_exists_with_its_json_name(name: str) -> None:
    model = getattr(client, name)
    ours = _ours(name)
    json_names = set(t.json_names(ours).values())
    missing = sorted(set(model.attribute_map.values()) - json_names)
    assert not missing, f"{ours.__name__} lacks {missing}"


@pytest.mark.parametrize("name", MODELS)
def test_nested_types_match(name: str) -> None:
    model = getattr(client, name)
    ours = _ours(name)
    by_json = {fl.metadata["json"]: fl.name for fl in dataclasses.fields(ours)}
    hints = typing.get_type_hints(ours)
    for attr, type_str in model.openapi_types.items():
        refs = _REF.findall(type_str)
        json_name = model.attribute_map[attr]
        hint = hints[by_json[json_name]]
        if refs:
            assert _model_in(hint) is _ours(refs[0]), (name, json_name, hint)
        elif type_str.startswith("List["):
            assert typing.get_origin(typing.get_args(hint)[0]) is tuple, (name, json_name)
        elif type_str.startswith("Dict["):
            assert typing.get_origin(typing.get_args(hint)[0]) is t.FrozenMap, (name, json_name)


def test_field_conventions() -> None:
    for name in MODELS:
        cls = _ours(name)
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen, cls
        assert hasattr(cls, "__slots__"), cls
        for fl in dataclasses.fields(cls):
            assert fl.default is None, (cls, fl.name)
            assert fl.kw_only, (cls, fl.name)
            assert fl.metadata["json"], (cls, fl.name)


def test_go_type_names_for_inlined_structs() -> None:
    assert issubclass(t.Probe, t.ProbeHandler)
    assert issubclass(t.Volume, t.VolumeSource)
    assert {fl.metadata["json"] for fl in dataclasses.fields(t.ProbeHandler)} == {
        "exec", "httpGet", "tcpSocket", "grpc"
    }  # fmt: skip
    assert t.json_names(t.PodSpec)["host_ipc"] == "hostIPC"
    assert t.json_names(t.Lifecycle)["stop_signal"] == "stopSignal"
    assert t.json_names(t.LifecycleHandler)["sleep"] == "sleep"
