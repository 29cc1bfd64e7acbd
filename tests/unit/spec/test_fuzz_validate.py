"""Fuzz: arbitrary JSON-like values in any field never make parsing or validation raise;
every problem comes back as a FieldError."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podrun.errors import FieldError
from podrun.spec import types
from podrun.spec.parse import load_text
from podrun.spec.quantity import QuantityError, parse_quantity
from podrun.spec.validate import validate_object
from tests.support import fuzz_examples

RICH: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "fuzz", "labels": {"a": "b"}, "annotations": {"x/y": "z"}},
    "spec": {
        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}],
        "dnsConfig": {
            "nameservers": ["1.1.1.1"],
            "searches": ["a.b"],
            "options": [{"name": "ndots", "value": "2"}],
        },
        "securityContext": {
            "runAsUser": 1000,
            "sysctls": [{"name": "kernel.shm_rmid_forced", "value": "1"}],
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "tolerations": [
            {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}
        ],
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
        ],
        "initContainers": [
            {
                "name": "side",
                "image": "busybox",
                "restartPolicy": "Always",
                "readinessProbe": {"tcpSocket": {"port": 80}},
            }
        ],
        "containers": [
            {
                "name": "app",
                "image": "busybox:1.36",
                "ports": [{"containerPort": 80, "name": "http", "hostPort": 8080}],
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['a']"}}},
                    {
                        "name": "C",
                        "valueFrom": {
                            "resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}
                        },
                    },
                ],
                "envFrom": [{"configMapRef": {"name": "cm"}}],
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data", "subPath": "x"}],
                "livenessProbe": {
                    "httpGet": {
                        "path": "/",
                        "port": "http",
                        "httpHeaders": [{"name": "X", "value": "1"}],
                    }
                },
                "lifecycle": {"preStop": {"sleep": {"seconds": 1}}},
                "securityContext": {
                    "capabilities": {"add": ["NET_ADMIN"]},
                    "allowPrivilegeEscalation": False,
                },
            }
        ],
        "volumes": [
            {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "cfg", "configMap": {"name": "cm", "items": [{"key": "k", "path": "p"}]}},
            {
                "name": "proj",
                "projected": {
                    "sources": [
                        {
                            "downwardAPI": {
                                "items": [
                                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}
                                ]
                            }
                        }
                    ]
                },
            },
        ],
    },
}


def _json_names() -> list[str]:
    out: set[str] = set()
    for obj in vars(types).values():
        if isinstance(obj, type) and dataclasses.is_dataclass(obj):
            out.update(f.metadata.get("json", f.name) for f in dataclasses.fields(obj))
    return sorted(out)


FIELD_NAMES = _json_names()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e999",
            "1Gi",
            "..",
            "/abs",
            "a/../b",
            "Always",
            "None",
            "Localhost",
            "metadata.name",
            "limits.cpu",
            "http",
            "TCP",
            "9" * 30,
            "é",
            "a=b",
            " x ",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8)), children, max_size=4
        ),
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*prefix, i)))
    return out


PATHS = _paths(RICH)[1:]


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    doc[path[-1]] = value


def _check(doc: Any) -> None:
    # parse -> decode -> defaults -> validate (static_pod=False) end to end, then the
    # static-pod checks on whatever object came out.
    for rec in load_text(json.dumps(doc, default=str), "fuzz.json", field_validation="Warn"):
        assert all(isinstance(e, FieldError) and isinstance(e.path, str) for e in rec.errors)
        if rec.obj is not None:
            errs = validate_object(rec.obj, static_pod=True)
            assert all(isinstance(e, FieldError) for e in errs)


@settings(max_examples=fuzz_examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=3))
def test_replacing_fields_never_raises(edits: list[tuple[tuple[Any, ...], Any]]) -> None:
    doc = copy.deepcopy(RICH)
    for path, value in edits:
        try:
            _set(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed the parent
    _check(doc)


@settings(max_examples=fuzz_examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([p for p in PATHS if isinstance(p[-1], str)] + [()]),
    st.sampled_from(FIELD_NAMES),
    json_values,
)
def test_adding_fields_never_raises(path: tuple[Any, ...], name: str, value: Any) -> None:
    doc = copy.deepcopy(RICH)
    target: Any = doc
    for step in path:
        target = target[step]
    if isinstance(target, dict):
        target[name] = value
    _check(doc)


@settings(max_examples=fuzz_examples(500), deadline=None)
@given(st.one_of(st.text(max_size=30), st.text(alphabet="0123456789.+-eEinumkKMGTP", max_size=30)))
def test_quantity_parser_raises_only_quantity_error(text: str) -> None:
    try:
        q = parse_quantity(text)
    except QuantityError:
        return
    str(q)
    q.value()
    q.milli_value()
    assert q.cmp(q) == 0
