"""apply_defaults: SetDefaults_* of pkg/apis/core/v1, checked field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from podrun.spec import parse
from podrun.spec.decode import decode
from podrun.spec.defaults import (
    apply_configmap_defaults,
    apply_defaults,
    apply_secret_defaults,
    image_tag,
    prepare_for_create,
    pull_policy_for,
)
from podrun.spec.encode import to_dict
from podrun.spec.types import ConfigMap, Pod, Secret

VALID = sorted((Path(__file__).parent / "manifests_valid").glob("*.yaml"))
POD_FILES = [p for p in VALID if "kind: Pod" in p.read_text()]


def raw(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=parse._Loader)


def defaulted(doc: dict[str, Any]) -> dict[str, Any]:
    result = decode(Pod, doc)
    assert result.errors == [] and result.value is not None
    return to_dict(apply_defaults(result.value))


SPEC_DEFAULTS = {
    "restartPolicy": "Always",
    "dnsPolicy": "ClusterFirst",
    "terminationGracePeriodSeconds": 30,
    "securityContext": {},
    "schedulerName": "default-scheduler",
    "enableServiceLinks": True,
}


def expected_container(c: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    """The defaulted container, built independently from the rules."""
    out = dict(c)
    if "imagePullPolicy" not in c:
        out["imagePullPolicy"] = pull_policy_for(c.get("image", ""))
    out.setdefault("terminationMessagePath", "/dev/termination-log")
    out.setdefault("terminationMessagePolicy", "File")
    if "ports" in c:
        ports = []
        for p in c["ports"]:
            p = {"protocol": "TCP", **p}
            if pod.get("spec", {}).get("hostNetwork") and not p.get("hostPort"):
                p["hostPort"] = p["containerPort"]
            ports.append(p)
        out["ports"] = ports
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if probe in c:
            p = {**c[probe]}
            for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
                if not p.get(key):
                    p[key] = value
            if "httpGet" in p:
                p["httpGet"] = {"path": "/", "scheme": "HTTP", **p["httpGet"]}
            if "grpc" in p:
                p["grpc"] = {"service": "", **p["grpc"]}
            out[probe] = p
    if "lifecycle" in c:
        lc = dict(c["lifecycle"])
        for hook in ("postStart", "preStop"):
            if hook in lc and "httpGet" in lc[hook]:
                lc[hook] = {**lc[hook], "httpGet": {"path": "/", "scheme": "HTTP", **lc[hook]["httpGet"]}}
        out["lifecycle"] = lc
    if "env" in c:
        env = []
        for e in c["env"]:
            if "fieldRef" in e.get("valueFrom", {}):
                e = {**e, "valueFrom": {**e["valueFrom"], "fieldRef": {"apiVersion": "v1", **e["valueFrom"]["fieldRef"]}}}
            env.append(e)
        out["env"] = env
    res = c.get("resources")
    if res and "limits" in res:
        out["resources"] = {**res, "requests": {**res["limits"], **res.get("requests", {})}}
    return out


@pytest.mark.parametrize("path", POD_FILES, ids=lambda p: p.name)
def test_pod_defaults_field_by_field(path: Path) -> None:
    doc = raw(path)
    got = defaulted(doc)
    spec, got_spec = doc["spec"], got["spec"]
    # metadata: only the namespace
    assert got["metadata"] == {"namespace": "default", **doc["metadata"]}
    # pod-level fields
    for key, value in SPEC_DEFAULTS.items():
        assert got_spec[key] == spec.get(key, value), key
    # containers of every kind
    for kind in ("containers", "initContainers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(kind, [])):
            want = expected_container(c, doc) if kind != "ephemeralContainers" else expected_container(c, {})
            if kind == "ephemeralContainers" and "resources" in c:
                want["resources"] = c["resources"]  # requests-from-limits is containers/init only
            assert got_spec[kind][i] == want, f"{kind}[{i}]"
    # volumes
    for i, v in enumerate(spec.get("volumes", [])):
        g = got_spec["volumes"][i]
        for src in ("secret", "configMap", "downwardAPI", "projected"):
            if src in v:
                assert g[src]["defaultMode"] == v[src].get("defaultMode", 420)
        if "hostPath" in v:
            assert g["hostPath"]["type"] == v["hostPath"].get("type", "")
        if "emptyDir" in v:
            assert g["emptyDir"] == v["emptyDir"]
    # nothing else changed
    untouched = set(spec) - set(SPEC_DEFAULTS) - {"containers", "initContainers", "ephemeralContainers", "volumes", "overhead"}
    for key in untouched:
        assert got_spec[key] == spec[key], key


def test_defaults_are_idempotent() -> None:
    for path in POD_FILES:
        pod = decode(Pod, raw(path)).value
        assert pod is not None
        once = apply_defaults(pod)
        assert apply_defaults(once) == once


def test_minimal_pod_defaults_exactly() -> None:
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}  # fmt: skip
    assert defaulted(doc) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "imagePullPolicy": "Always",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "enableServiceLinks": True,
        },
    }


@pytest.mark.parametrize(
    ("image", "tag", "policy"),
    [
        ("nginx", "latest", "Always"),
        ("nginx:latest", "latest", "Always"),
        ("docker.io/library/nginx:latest", "latest", "Always"),
        ("nginx:1.25", "1.25", "IfNotPresent"),
        ("localhost:5000/app", "latest", "Always"),
        ("localhost:5000/app:v1", "v1", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "", "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "latest", "Always"),
        ("nginx@sha256:abc", "", "IfNotPresent"),  # unparsable digest: no tag
        ("Nginx", "", "IfNotPresent"),  # invalid reference
        ("", "", "IfNotPresent"),
        ("[::1]:5000/app", "latest", "Always"),
    ],
)
def test_image_pull_policy(image: str, tag: str, policy: str) -> None:
    assert image_tag(image) == tag
    assert pull_policy_for(image) == policy


def test_explicit_pull_policy_is_kept() -> None:
    doc = {"spec": {"containers": [{"image": "nginx", "imagePullPolicy": "Never"}]}}
    assert defaulted(doc)["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_probe_zero_means_default() -> None:
    probe = {"exec": {"command": ["true"]}, "timeoutSeconds": 0, "periodSeconds": 0,
             "successThreshold": 0, "failureThreshold": 0, "initialDelaySeconds": 0}  # fmt: skip
    doc = {"spec": {"containers": [{"image": "x:1", "readinessProbe": probe}]}}
    got = defaulted(doc)["spec"]["containers"][0]["readinessProbe"]
    assert got == {"exec": {"command": ["true"]}, "timeoutSeconds": 1, "periodSeconds": 10,
                   "successThreshold": 1, "failureThreshold": 3, "initialDelaySeconds": 0}  # fmt: skip


def test_host_network_ports() -> None:
    doc = {"spec": {"hostNetwork": True, "containers": [{"image": "x:1", "ports": [
        {"containerPort": 80}, {"containerPort": 81, "hostPort": 0}, {"containerPort": 82, "hostPort": 9}]}],
        "initContainers": [{"image": "x:1", "ports": [{"containerPort": 53, "protocol": "UDP"}]}]}}  # fmt: skip
    got = defaulted(doc)["spec"]
    assert [p["hostPort"] for p in got["containers"][0]["ports"]] == [80, 81, 9]
    assert got["initContainers"][0]["ports"] == [{"containerPort": 53, "protocol": "UDP", "hostPort": 53}]


def test_no_host_port_without_host_network() -> None:
    doc = {"spec": {"containers": [{"image": "x:1", "ports": [{"containerPort": 80}]}]}}
    assert defaulted(doc)["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_requests_from_limits() -> None:
    doc = {"spec": {
        "containers": [{"image": "x:1", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m"}}}],
        "initContainers": [{"image": "x:1", "resources": {"limits": {"memory": "64Mi"}}}],
        "ephemeralContainers": [{"image": "x:1", "resources": {"limits": {"cpu": "1"}}}],
    }}  # fmt: skip
    got = defaulted(doc)["spec"]
    assert got["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "1Gi"}
    assert got["initContainers"][0]["resources"]["requests"] == {"memory": "64Mi"}
    assert "requests" not in got["ephemeralContainers"][0]["resources"]


def test_resource_quantities_rounded_to_milli_and_canonical() -> None:
    pytest.importorskip("podrun.spec.quantity")
    doc = {"spec": {"containers": [{"image": "x:1", "resources": {
        "limits": {"cpu": "0.5", "memory": "1Gi", "example.com/dev": "0.0001"}}}],
        "overhead": {"cpu": "0.25"}}}  # fmt: skip
    got = defaulted(doc)["spec"]
    assert got["containers"][0]["resources"]["limits"] == {"cpu": "500m", "memory": "1Gi", "example.com/dev": "1m"}
    assert got["overhead"] == {"cpu": "250m"}


def test_volume_defaults() -> None:
    doc = {"spec": {"volumes": [
        {"name": "none"},
        {"name": "ed", "emptyDir": {}},
        {"name": "hp", "hostPath": {"path": "/x"}},
        {"name": "s", "secret": {"secretName": "s"}},
        {"name": "cm", "configMap": {"name": "c", "defaultMode": 0o600}},
        {"name": "d", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}},
                                                {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}},
        {"name": "i", "iscsi": {"targetPortal": "1.2.3.4", "iqn": "iqn.x", "lun": 0}},
        {"name": "r", "rbd": {"monitors": ["m"], "image": "i"}},
        {"name": "a", "azureDisk": {"diskName": "d", "diskURI": "u"}},
        {"name": "sc", "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"}}},
        {"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
        {"name": "im", "image": {"reference": "quay.io/a/b:latest"}},
        {"name": "im2", "image": {"reference": "quay.io/a/b:v1"}},
    ]}}  # fmt: skip
    v = {x["name"]: x for x in defaulted(doc)["spec"]["volumes"]}
    assert v["none"] == {"name": "none", "emptyDir": {}}
    assert v["ed"] == {"name": "ed", "emptyDir": {}}
    assert v["hp"]["hostPath"] == {"path": "/x", "type": ""}
    assert v["s"]["secret"] == {"secretName": "s", "defaultMode": 420}
    assert v["cm"]["configMap"]["defaultMode"] == 0o600
    assert v["d"]["downwardAPI"] == {"defaultMode": 420, "items": [
        {"path": "n", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}]}  # fmt: skip
    assert v["p"]["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}},
        {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}]}}]}  # fmt: skip
    assert v["i"]["iscsi"]["iscsiInterface"] == "default"
    assert v["r"]["rbd"] == {"monitors": ["m"], "image": "i", "pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"}
    assert v["a"]["azureDisk"] == {"diskName": "d", "diskURI": "u", "cachingMode": "ReadWrite", "fsType": "ext4", "readOnly": False, "kind": "Shared"}
    assert v["sc"]["scaleIO"]["storageMode"] == "ThinProvisioned" and v["sc"]["scaleIO"]["fsType"] == "xfs"
    assert v["e"]["ephemeral"]["volumeClaimTemplate"]["spec"]["volumeMode"] == "Filesystem"
    assert v["im"]["image"]["pullPolicy"] == "Always"
    assert v["im2"]["image"]["pullPolicy"] == "IfNotPresent"


def test_explicit_values_are_kept() -> None:
    doc = {"metadata": {"namespace": "prod"}, "spec": {
        "restartPolicy": "Never", "dnsPolicy": "Default", "terminationGracePeriodSeconds": 0,
        "enableServiceLinks": False, "schedulerName": "s", "securityContext": {"runAsUser": 1}}}  # fmt: skip
    got = defaulted(doc)
    assert got["metadata"]["namespace"] == "prod"
    assert {k: got["spec"][k] for k in doc["spec"]} == doc["spec"]


def test_pod_without_spec() -> None:
    pod = apply_defaults(Pod())
    assert to_dict(pod) == {"metadata": {"namespace": "default"}}


def test_negative_grace_becomes_one_on_create() -> None:
    pod = decode(Pod, {"spec": {"terminationGracePeriodSeconds": -5}}).value
    assert pod is not None
    defaulted_pod = apply_defaults(pod)
    assert defaulted_pod.spec is not None and defaulted_pod.spec.termination_grace_period_seconds == -5
    created = prepare_for_create(defaulted_pod)
    assert created.spec is not None and created.spec.termination_grace_period_seconds == 1
    zero = prepare_for_create(apply_defaults(Pod()))
    assert zero == apply_defaults(Pod())


def test_configmap_and_secret_defaults() -> None:
    cm = apply_configmap_defaults(ConfigMap())
    assert to_dict(cm) == {"metadata": {"namespace": "default"}, "data": {}}
    secret = apply_secret_defaults(Secret())
    assert to_dict(secret) == {"metadata": {"namespace": "default"}, "type": "Opaque"}
    typed = apply_secret_defaults(Secret(type="kubernetes.io/tls"))
    assert typed.type == "kubernetes.io/tls"


def test_defaults_return_new_objects() -> None:
    pod = decode(Pod, {"spec": {"containers": [{"image": "nginx"}]}}).value
    assert pod is not None
    before = to_dict(pod)
    apply_defaults(pod)
    assert to_dict(pod) == before


class TestPodLevelResources:
    """defaultHugePagePodLimits / defaultPodRequests / defaultPodLimits (PodLevelResources)."""

    def spec(self, pod_res: dict[str, Any], containers: list[dict[str, Any]],
             init: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
        doc: dict[str, Any] = {"spec": {"resources": pod_res, "containers": [
            {"image": "x:1", "resources": r} for r in containers]}}  # fmt: skip
        if init is not None:
            doc["spec"]["initContainers"] = [{"image": "x:1", **i} for i in init]
        return defaulted(doc)["spec"]["resources"]

    def test_untouched_without_pod_resources(self) -> None:
        doc = {"spec": {"containers": [{"image": "x:1", "resources": {"requests": {"cpu": "1"}}}]}}
        assert "resources" not in defaulted(doc)["spec"]

    def test_requests_from_containers_when_pod_limits_set(self) -> None:
        got = self.spec({"limits": {"cpu": "2", "memory": "1Gi"}},
                        [{"requests": {"cpu": "100m"}}, {"requests": {"cpu": "200m", "memory": "100Mi"}}])  # fmt: skip
        assert got == {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "300m", "memory": "100Mi"}}

    def test_requests_from_pod_limits_when_containers_have_none(self) -> None:
        got = self.spec({"limits": {"cpu": "2"}}, [{}])
        assert got == {"limits": {"cpu": "2"}, "requests": {"cpu": "2"}}

    def test_init_containers_and_sidecars(self) -> None:
        got = self.spec(
            {"limits": {"cpu": "4"}},
            [{"requests": {"cpu": "1"}}],
            [{"restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
             {"resources": {"requests": {"cpu": "3"}}}],
        )  # fmt: skip
        # max(1 + 0.5 sidecar, 3 + 0.5 sidecar) = 3.5
        assert got["requests"] == {"cpu": "3500m"}

    def test_limits_from_containers_when_all_have_them(self) -> None:
        got = self.spec({"requests": {"cpu": "1"}},
                        [{"limits": {"cpu": "1", "memory": "1Gi"}}, {"limits": {"cpu": "500m"}}])  # fmt: skip
        # memory: not every container has a limit, so no pod-level memory limit
        assert got["limits"] == {"cpu": "1500m"}
        assert got["requests"] == {"cpu": "1"}

    def test_hugepages_limits_aggregate(self) -> None:
        got = self.spec({"limits": {"cpu": "1"}},
                        [{"limits": {"hugepages-2Mi": "4Mi"}}, {"limits": {"hugepages-2Mi": "2Mi"}}])  # fmt: skip
        assert got["limits"] == {"cpu": "1", "hugepages-2Mi": "6Mi"}
        assert got["requests"]["hugepages-2Mi"] == "6Mi"

    def test_bad_quantity_leaves_it_to_validation(self) -> None:
        got = self.spec({"limits": {"cpu": "lots"}}, [{"requests": {"cpu": "1"}}])
        assert got == {"limits": {"cpu": "lots"}}
