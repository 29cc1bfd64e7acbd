"""API-server validation: invalid manifests, each with its exact field paths and messages.

Every case starts from a valid pod, changes a few fields, runs the whole pipeline
(parse -> decode -> defaults -> validate, strict field validation) and compares the
complete error list (as a set: the API server's order is not part of the contract).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import yaml

from podrun.errors import FieldError
from podrun.spec.parse import load_text
from podrun.spec.types import ConfigMap, Pod, Secret, Volume
from podrun.spec.validate import validate_object

LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
QNAME = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
    "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
QUANTITY = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
ONE_HANDLER = "Forbidden: may not specify more than 1 handler type"
ONE_VOLUME = "Forbidden: may not specify more than 1 volume type"
INIT_ONLY = "Forbidden: may not be set for init containers without restartPolicy=Always"
PORT_RANGE = "must be between 1 and 65535, inclusive"
C0 = "spec.containers[0]"

BASE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]},
}

Mutate = Callable[[dict[str, Any]], None]


def errors_of(doc: dict[str, Any] | str) -> set[tuple[str, str]]:
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc)
    recs = load_text(text, "test.yaml", field_validation="Strict")
    assert len(recs) == 1
    return {(e.path, e.message) for e in recs[0].errors}


def pod(mutate: Mutate) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    mutate(d)
    return d


def c0(d: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = d["spec"]["containers"][0]
    return c


def spec(d: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = d["spec"]
    return s


def setc(**fields: Any) -> Mutate:
    return lambda d: c0(d).update(fields)


def sets(**fields: Any) -> Mutate:
    return lambda d: spec(d).update(fields)


def setm(**fields: Any) -> Mutate:
    return lambda d: d["metadata"].update(fields)


def both(*fns: Mutate) -> Mutate:
    def run(d: dict[str, Any]) -> None:
        for f in fns:
            f(d)

    return run


def add_init(**fields: Any) -> Mutate:
    def run(d: dict[str, Any]) -> None:
        ctr = {"name": "init", "image": "busybox:1.36", "command": ["true"]}
        ctr.update(fields)
        spec(d).setdefault("initContainers", []).append(ctr)

    return run


def probe(kind: str, **fields: Any) -> Mutate:
    return setc(**{kind: fields})


HTTP = {"path": "/", "port": 80}
EXEC = {"command": ["true"]}
TCP = {"port": 80}
VOL = {"name": "data", "emptyDir": {}}


def vols(*volumes: dict[str, Any]) -> Mutate:
    return sets(volumes=list(volumes))


CASES: list[tuple[str, Mutate, set[tuple[str, str]]]] = [
    # --- metadata ----------------------------------------------------------------------
    ("name-capitals", setm(name="Web"), {("metadata.name", f'Invalid value: "Web": {SUBDOMAIN}')}),
    (
        "name-missing",
        lambda d: d["metadata"].pop("name"),
        {("metadata.name", "Required value: name or generateName is required")},
    ),
    (
        "name-too-long",
        setm(name="a" * 254),
        {("metadata.name", f'Invalid value: "{"a" * 254}": must be no more than 253 characters')},
    ),
    (
        "generate-name-bad",
        both(lambda d: d["metadata"].pop("name"), setm(generateName="Web-")),
        {("metadata.generateName", f'Invalid value: "Web-": {SUBDOMAIN}')},
    ),
    (
        "namespace-bad",
        setm(namespace="My_NS"),
        {("metadata.namespace", f'Invalid value: "My_NS": {LABEL}')},
    ),
    (
        "namespace-dots",
        setm(namespace="a.b"),
        {("metadata.namespace", 'Invalid value: "a.b": must not contain dots')},
    ),
    (
        "label-key-bad",
        setm(labels={"-app": "x"}),
        {("metadata.labels", f'Invalid value: "-app": {QNAME}')},
    ),
    (
        "label-key-prefix-empty",
        setm(labels={"/app": "x"}),
        {("metadata.labels", 'Invalid value: "/app": prefix part must be non-empty')},
    ),
    (
        "label-value-bad",
        setm(labels={"app": "a b"}),
        {("metadata.labels", f'Invalid value: "a b": {LABEL_VALUE}')},
    ),
    (
        "label-value-long",
        setm(labels={"app": "a" * 64}),
        {("metadata.labels", f'Invalid value: "{"a" * 64}": must be no more than 63 characters')},
    ),
    (
        "annotation-key-bad",
        setm(annotations={"a/b/c": "x"}),
        {
            (
                "metadata.annotations",
                "Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' "
                "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                "'my.name',  or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
                "(e.g. 'example.com/MyName')",
            )
        },
    ),
    (
        "annotations-too-big",
        setm(annotations={"big": "x" * (256 * 1024)}),
        {("metadata.annotations", "Too long: must have at most 262144 bytes")},
    ),
    (
        "deletion-cost",
        setm(annotations={"controller.kubernetes.io/pod-deletion-cost": "x"}),
        {
            (
                "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]",
                'Invalid value: "x": must be a 32bit integer',
            )
        },
    ),
    # --- containers --------------------------------------------------------------------
    ("no-containers", sets(containers=[]), {("spec.containers", "Required value")}),
    (
        "container-name-capitals",
        setc(name="Web"),
        {(f"{C0}.name", f'Invalid value: "Web": {LABEL}')},
    ),
    ("container-name-missing", lambda d: c0(d).pop("name"), {(f"{C0}.name", "Required value")}),
    ("image-missing", lambda d: c0(d).pop("image"), {(f"{C0}.image", "Required value")}),
    (
        "image-whitespace",
        setc(image=" busybox"),
        {
            (
                f"{C0}.image",
                'Invalid value: " busybox": must not have leading or trailing whitespace',
            )
        },
    ),
    (
        "duplicate-container",
        lambda d: spec(d)["containers"].append({"name": "app", "image": "x"}),
        {("spec.containers[1].name", 'Duplicate value: "app"')},
    ),
    (
        "init-same-name-as-app",
        add_init(name="app"),
        {("spec.initContainers[0].name", 'Duplicate value: "app"')},
    ),
    (
        "init-image-missing",
        add_init(image=""),
        {("spec.initContainers[0].image", "Required value")},
    ),
    (
        "pull-policy",
        setc(imagePullPolicy="Sometimes"),
        {
            (
                f"{C0}.imagePullPolicy",
                'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
            )
        },
    ),
    (
        "termination-message-policy",
        setc(terminationMessagePolicy="Always"),
        {
            (
                f"{C0}.terminationMessagePolicy",
                'Unsupported value: "Always": supported values: "File", "FallbackToLogsOnError"',
            )
        },
    ),
    (
        "app-container-restart-policy",
        setc(restartPolicy="Always"),
        {(f"{C0}.restartPolicy", "Forbidden: may not be set for non-init containers")},
    ),
    # --- ports ---------------------------------------------------------------------------
    (
        "port-zero",
        setc(ports=[{"containerPort": 0}]),
        {(f"{C0}.ports[0].containerPort", "Required value")},
    ),
    (
        "port-too-big",
        setc(ports=[{"containerPort": 70000}]),
        {(f"{C0}.ports[0].containerPort", f"Invalid value: 70000: {PORT_RANGE}")},
    ),
    (
        "host-port-negative",
        setc(ports=[{"containerPort": 80, "hostPort": -1}]),
        {(f"{C0}.ports[0].hostPort", f"Invalid value: -1: {PORT_RANGE}")},
    ),
    (
        "protocol",
        setc(ports=[{"containerPort": 80, "protocol": "HTTP"}]),
        {
            (
                f"{C0}.ports[0].protocol",
                'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
            )
        },
    ),
    (
        "port-name-digits",
        setc(ports=[{"containerPort": 80, "name": "8080"}]),
        {(f"{C0}.ports[0].name", 'Invalid value: "8080": must contain at least one letter (a-z)')},
    ),
    (
        "port-name-long",
        setc(ports=[{"containerPort": 80, "name": "a-very-long-port-name"}]),
        {
            (
                f"{C0}.ports[0].name",
                'Invalid value: "a-very-long-port-name": must be no more than 15 characters',
            )
        },
    ),
    (
        "port-name-duplicate",
        setc(ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]),
        {(f"{C0}.ports[1].name", 'Duplicate value: "http"')},
    ),
    (
        "host-port-conflict",
        lambda d: spec(d)["containers"].extend(
            [
                {"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                {"name": "b", "image": "x", "ports": [{"containerPort": 81, "hostPort": 8080}]},
            ]
        ),
        {("spec.containers[2].ports[0].hostPort", 'Duplicate value: "TCP//8080"')},
    ),
    (
        "host-network-port-mismatch",
        both(sets(hostNetwork=True), setc(ports=[{"containerPort": 80, "hostPort": 81}])),
        {
            (
                f"{C0}.ports[0].hostPort",
                "Invalid value: 81: must match `containerPort` when `hostNetwork` is true",
            )
        },
    ),
    # --- env -----------------------------------------------------------------------------
    ("env-name-missing", setc(env=[{"value": "x"}]), {(f"{C0}.env[0].name", "Required value")}),
    (
        "env-name-equals",
        setc(env=[{"name": "A=B"}]),
        {
            (
                f"{C0}.env[0].name",
                'Invalid value: "A=B": a valid environment variable name must consist only of printable '
                "ASCII characters other than '='",
            )
        },
    ),
    (
        "env-two-sources",
        setc(
            env=[
                {
                    "name": "A",
                    "valueFrom": {
                        "fieldRef": {"fieldPath": "metadata.name"},
                        "secretKeyRef": {"name": "s", "key": "k"},
                    },
                }
            ]
        ),
        {
            (
                f"{C0}.env[0].valueFrom",
                'Invalid value: "": may not have more than one field specified at a time',
            )
        },
    ),
    (
        "env-no-source",
        setc(env=[{"name": "A", "valueFrom": {}}]),
        {
            (
                f"{C0}.env[0].valueFrom",
                'Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
            )
        },
    ),
    (
        "env-value-and-source",
        setc(
            env=[
                {
                    "name": "A",
                    "value": "x",
                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                }
            ]
        ),
        {
            (
                f"{C0}.env[0].valueFrom",
                'Invalid value: "": may not be specified when `value` is not empty',
            )
        },
    ),
    (
        "env-fieldref-unsupported",
        setc(env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.restartPolicy"}}}]),
        {
            (
                f"{C0}.env[0].valueFrom.fieldRef.fieldPath",
                'Unsupported value: "spec.restartPolicy": supported values: "metadata.annotations", "metadata.labels", '
                '"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", '
                '"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
            )
        },
    ),
    (
        "env-fieldref-unknown",
        setc(env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.foo"}}}]),
        {
            (
                f"{C0}.env[0].valueFrom.fieldRef.fieldPath",
                'Invalid value: "spec.foo": error converting fieldPath: field label not supported: spec.foo',
            )
        },
    ),
    (
        "env-resource-unsupported",
        setc(env=[{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}]),
        {
            (
                f"{C0}.env[0].valueFrom.resourceFieldRef.resource",
                'Unsupported value: "limits.gpu": supported values: "limits.cpu", "limits.ephemeral-storage", '
                '"limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"',
            )
        },
    ),
    (
        "env-cpu-divisor",
        setc(
            env=[
                {
                    "name": "A",
                    "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "2"}},
                }
            ]
        ),
        {
            (
                f"{C0}.env[0].valueFrom.resourceFieldRef.divisor",
                'Invalid value: "limits.cpu": only divisor\'s values 1m and 1 are supported with the cpu resource',
            )
        },
    ),
    (
        "env-configmap-key-bad",
        setc(env=[{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "a/b"}}}]),
        {
            (
                f"{C0}.env[0].valueFrom.configMapKeyRef.key",
                "Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or "
                "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            )
        },
    ),
    (
        "env-secret-key-missing",
        setc(env=[{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s"}}}]),
        {(f"{C0}.env[0].valueFrom.secretKeyRef.key", "Required value")},
    ),
    (
        "env-from-no-source",
        setc(envFrom=[{"prefix": "P_"}]),
        {
            (
                f"{C0}.envFrom",
                'Invalid value: "": must specify one of: `configMapRef` or `secretRef`',
            )
        },
    ),
    (
        "env-from-two-sources",
        setc(envFrom=[{"configMapRef": {"name": "a"}, "secretRef": {"name": "b"}}]),
        {
            (
                f"{C0}.envFrom",
                'Invalid value: "": may not have more than one field specified at a time',
            )
        },
    ),
    (
        "env-from-name-bad",
        setc(envFrom=[{"configMapRef": {"name": "Bad"}}]),
        {(f"{C0}.envFrom[0].configMapRef.name", f'Invalid value: "Bad": {SUBDOMAIN}')},
    ),
    # --- volumes and mounts ------------------------------------------------------------------
    (
        "volume-no-type-defaults-to-emptydir",
        both(vols({"name": "data"}), setm(name="Bad")),
        {("metadata.name", f'Invalid value: "Bad": {SUBDOMAIN}')},
    ),
    (
        "volume-two-types",
        vols({"name": "data", "emptyDir": {}, "hostPath": {"path": "/tmp"}}),
        {("spec.volumes[0].hostPath", ONE_VOLUME)},
    ),
    (
        "volume-three-types",
        vols(
            {
                "name": "data",
                "secret": {"secretName": "s"},
                "hostPath": {"path": "/tmp"},
                "configMap": {"name": "c"},
            }
        ),
        {("spec.volumes[0].secret", ONE_VOLUME), ("spec.volumes[0].configMap", ONE_VOLUME)},
    ),
    (
        "volume-name-bad",
        vols({"name": "Data", "emptyDir": {}}),
        {("spec.volumes[0].name", f'Invalid value: "Data": {LABEL}')},
    ),
    ("volume-name-missing", vols({"emptyDir": {}}), {("spec.volumes[0].name", "Required value")}),
    ("volume-duplicate", vols(VOL, VOL), {("spec.volumes[1].name", 'Duplicate value: "data"')}),
    (
        "hostpath-no-path",
        vols({"name": "h", "hostPath": {"path": ""}}),
        {("spec.volumes[0].hostPath.path", "Required value")},
    ),
    (
        "hostpath-backsteps",
        vols({"name": "h", "hostPath": {"path": "/a/../b"}}),
        {("spec.volumes[0].hostPath.path", "Invalid value: \"/a/../b\": must not contain '..'")},
    ),
    (
        "hostpath-type",
        vols({"name": "h", "hostPath": {"path": "/a", "type": "Dir"}}),
        {
            (
                "spec.volumes[0].hostPath.type",
                'Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", "Directory", '
                '"DirectoryOrCreate", "File", "FileOrCreate", "Socket"',
            )
        },
    ),
    (
        "configmap-volume-no-name",
        vols({"name": "c", "configMap": {}}),
        {("spec.volumes[0].configMap.name", "Required value")},
    ),
    (
        "secret-volume-mode",
        vols({"name": "s", "secret": {"secretName": "s", "defaultMode": 1000}}),
        {
            (
                "spec.volumes[0].secret.defaultMode",
                "Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive",
            )
        },
    ),
    (
        "items-absolute-path",
        vols({"name": "c", "configMap": {"name": "c", "items": [{"key": "k", "path": "/etc/x"}]}}),
        {
            (
                "spec.volumes[0].configMap.items[0].path",
                'Invalid value: "/etc/x": must be a relative path',
            )
        },
    ),
    (
        "items-dotdot-start",
        vols({"name": "c", "configMap": {"name": "c", "items": [{"key": "k", "path": "..x"}]}}),
        {
            (
                "spec.volumes[0].configMap.items[0].path",
                "Invalid value: \"..x\": must not start with '..'",
            )
        },
    ),
    (
        "items-no-key",
        vols({"name": "c", "configMap": {"name": "c", "items": [{"path": "x"}]}}),
        {("spec.volumes[0].configMap.items[0].key", "Required value")},
    ),
    (
        "emptydir-negative-size",
        vols({"name": "e", "emptyDir": {"sizeLimit": "-1Gi"}}),
        {
            (
                "spec.volumes[0].emptyDir.sizeLimit",
                "Forbidden: SizeLimit field must be a valid resource quantity",
            )
        },
    ),
    (
        "emptydir-bad-size",
        vols({"name": "e", "emptyDir": {"sizeLimit": "1GB"}}),
        {("spec.volumes[0].emptyDir.sizeLimit", f'"1GB" is not a quantity: {QUANTITY}')},
    ),
    (
        "pvc-no-claim",
        vols({"name": "p", "persistentVolumeClaim": {"claimName": ""}}),
        {("spec.volumes[0].persistentVolumeClaim.claimName", "Required value")},
    ),
    (
        "nfs-relative",
        vols({"name": "n", "nfs": {"server": "s", "path": "x"}}),
        {("spec.volumes[0].nfs.path", 'Invalid value: "x": must be an absolute path')},
    ),
    (
        "downward-api-bad-path",
        vols(
            {
                "name": "d",
                "downwardAPI": {
                    "items": [{"path": "labels", "fieldRef": {"fieldPath": "spec.nodeName"}}]
                },
            }
        ),
        {
            (
                "spec.volumes[0].downwardAPI.fieldRef.fieldPath",
                'Unsupported value: "spec.nodeName": supported values: "metadata.annotations", "metadata.labels", '
                '"metadata.name", "metadata.namespace", "metadata.uid"',
            )
        },
    ),
    (
        "projected-two-sources",
        vols(
            {
                "name": "p",
                "projected": {"sources": [{"configMap": {"name": "a"}, "secret": {"name": "b"}}]},
            }
        ),
        {("spec.volumes[0].projected.sources[0]", ONE_VOLUME)},
    ),
    (
        "mount-unknown-volume",
        setc(volumeMounts=[{"name": "nope", "mountPath": "/x"}]),
        {(f"{C0}.volumeMounts[0].name", 'Not found: "nope"')},
    ),
    (
        "mount-no-path",
        both(vols(VOL), setc(volumeMounts=[{"name": "data", "mountPath": ""}])),
        {(f"{C0}.volumeMounts[0].mountPath", "Required value")},
    ),
    (
        "mount-path-duplicate",
        both(
            vols(VOL, {"name": "other", "emptyDir": {}}),
            setc(
                volumeMounts=[
                    {"name": "data", "mountPath": "/x"},
                    {"name": "other", "mountPath": "/x"},
                ]
            ),
        ),
        {(f"{C0}.volumeMounts[1].mountPath", 'Invalid value: "/x": must be unique')},
    ),
    (
        "subpath-absolute",
        both(
            vols(VOL), setc(volumeMounts=[{"name": "data", "mountPath": "/x", "subPath": "/abs"}])
        ),
        {(f"{C0}.volumeMounts.subPath", 'Invalid value: "/abs": must be a relative path')},
    ),
    (
        "subpath-backsteps",
        both(
            vols(VOL),
            setc(volumeMounts=[{"name": "data", "mountPath": "/x", "subPath": "a/../.."}]),
        ),
        {(f"{C0}.volumeMounts.subPath", "Invalid value: \"a/../..\": must not contain '..'")},
    ),
    (
        "subpath-and-expr",
        both(
            vols(VOL),
            setc(
                volumeMounts=[
                    {"name": "data", "mountPath": "/x", "subPath": "a", "subPathExpr": "$(POD)"}
                ]
            ),
        ),
        {
            (
                f"{C0}.volumeMounts[0].subPathExpr",
                'Invalid value: "$(POD)": subPathExpr and subPath are mutually exclusive',
            )
        },
    ),
    (
        "mount-propagation-value",
        both(
            vols(VOL),
            setc(volumeMounts=[{"name": "data", "mountPath": "/x", "mountPropagation": "Shared"}]),
        ),
        {
            (
                f"{C0}.volumeMounts.mountPropagation",
                'Unsupported value: "Shared": supported values: "Bidirectional", "HostToContainer", "None"',
            )
        },
    ),
    (
        "mount-propagation-bidirectional",
        both(
            vols(VOL),
            setc(
                volumeMounts=[
                    {"name": "data", "mountPath": "/x", "mountPropagation": "Bidirectional"}
                ]
            ),
        ),
        {
            (
                f"{C0}.volumeMounts.mountPropagation",
                "Forbidden: Bidirectional mount propagation is available only to privileged containers",
            )
        },
    ),
    (
        "mount-of-bad-volume",
        both(
            vols({"name": "data", "emptyDir": {}, "nfs": {"server": "s", "path": "/x"}}),
            setc(volumeMounts=[{"name": "data", "mountPath": "/x"}]),
        ),
        {("spec.volumes[0].nfs", ONE_VOLUME), (f"{C0}.volumeMounts[0].name", 'Not found: "data"')},
    ),
    (
        "recursive-read-only-needs-read-only",
        both(
            vols(VOL),
            setc(
                volumeMounts=[{"name": "data", "mountPath": "/x", "recursiveReadOnly": "Enabled"}]
            ),
        ),
        {
            (
                f"{C0}.volumeMounts.recursiveReadOnly",
                "Forbidden: may only be specified when readOnly is true",
            )
        },
    ),
    (
        "image-volume-subpath",
        both(
            vols({"name": "img", "image": {"reference": "busybox:1.36"}}),
            setc(volumeMounts=[{"name": "img", "mountPath": "/x", "subPath": "bin"}]),
        ),
        {
            (
                f"{C0}.volumeMounts[0].subPath",
                'Invalid value: "bin": not allowed in image volume sources',
            )
        },
    ),
    (
        "resource-claim-duplicate",
        sets(
            resourceClaims=[
                {"name": "gpu", "resourceClaimName": "a"},
                {"name": "gpu", "resourceClaimName": "b"},
            ]
        ),
        {("spec.resourceClaims[1].name", 'Duplicate value: "gpu"')},
    ),
    (
        "resource-claim-unknown",
        setc(resources={"claims": [{"name": "gpu"}]}),
        {
            (
                f"{C0}.resources.claims[0]",
                'Not found: "gpu": must be one of the names in pod.spec.resourceClaims which is empty',
            )
        },
    ),
    (
        "pod-level-resource-name",
        sets(resources={"limits": {"ephemeral-storage": "1Gi"}}),
        {
            (
                "spec.resources.limits[ephemeral-storage]",
                'Unsupported value: "ephemeral-storage": supported values: "cpu", "memory"',
            )
        },
    ),
    (
        "pvc-of-ephemeral-volume",
        vols(
            {
                "name": "scratch",
                "ephemeral": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        }
                    }
                },
            },
            {"name": "again", "persistentVolumeClaim": {"claimName": "web-scratch"}},
        ),
        {
            (
                "spec.volumes[1].persistentVolumeClaim.claimName",
                'Invalid value: "web-scratch": must not reference a PVC that gets created for an ephemeral volume',
            )
        },
    ),
    # --- probes and lifecycle --------------------------------------------------------------
    (
        "probe-no-handler",
        probe("livenessProbe", periodSeconds=5),
        {(f"{C0}.livenessProbe", "Required value: must specify a handler type")},
    ),
    (
        "probe-two-handlers",
        probe("readinessProbe", exec=EXEC, httpGet=HTTP),
        {(f"{C0}.readinessProbe.httpGet", ONE_HANDLER)},
    ),
    (
        "probe-three-handlers",
        probe("startupProbe", httpGet=HTTP, tcpSocket=TCP, grpc={"port": 9000}),
        {(f"{C0}.startupProbe.tcpSocket", ONE_HANDLER), (f"{C0}.startupProbe.grpc", ONE_HANDLER)},
    ),
    (
        "liveness-success-threshold",
        probe("livenessProbe", exec=EXEC, successThreshold=2),
        {(f"{C0}.livenessProbe.successThreshold", "Invalid value: 2: must be 1")},
    ),
    (
        "startup-success-threshold",
        probe("startupProbe", exec=EXEC, successThreshold=3),
        {(f"{C0}.startupProbe.successThreshold", "Invalid value: 3: must be 1")},
    ),
    (
        "probe-negative",
        probe("readinessProbe", exec=EXEC, initialDelaySeconds=-1, failureThreshold=-2),
        {
            (
                f"{C0}.readinessProbe.initialDelaySeconds",
                "Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                f"{C0}.readinessProbe.failureThreshold",
                "Invalid value: -2: must be greater than or equal to 0",
            ),
        },
    ),
    (
        "readiness-tgps",
        probe("readinessProbe", exec=EXEC, terminationGracePeriodSeconds=5),
        {
            (
                f"{C0}.readinessProbe.terminationGracePeriodSeconds",
                "Invalid value: 5: must not be set for readinessProbes",
            )
        },
    ),
    (
        "liveness-tgps-zero",
        probe("livenessProbe", exec=EXEC, terminationGracePeriodSeconds=0),
        {
            (
                f"{C0}.livenessProbe.terminationGracePeriodSeconds",
                "Invalid value: 0: must be greater than 0",
            )
        },
    ),
    (
        "probe-exec-empty",
        probe("livenessProbe", exec={"command": []}),
        {(f"{C0}.livenessProbe.exec.command", "Required value")},
    ),
    (
        "probe-http-port-zero",
        probe("livenessProbe", httpGet={"path": "/", "port": 0}),
        {(f"{C0}.livenessProbe.httpGet.port", f"Invalid value: 0: {PORT_RANGE}")},
    ),
    (
        "probe-http-port-name",
        probe("livenessProbe", httpGet={"path": "/", "port": "HTTP"}),
        {
            (
                f"{C0}.livenessProbe.httpGet.port",
                'Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
            ),
            (
                f"{C0}.livenessProbe.httpGet.port",
                'Invalid value: "HTTP": must contain at least one letter (a-z)',
            ),
        },
    ),
    (
        "probe-http-scheme",
        probe("livenessProbe", httpGet={"path": "/", "port": 80, "scheme": "FTP"}),
        {
            (
                f"{C0}.livenessProbe.httpGet.scheme",
                'Unsupported value: "FTP": supported values: "HTTP", "HTTPS"',
            )
        },
    ),
    (
        "probe-http-header",
        probe(
            "livenessProbe",
            httpGet={"path": "/", "port": 80, "httpHeaders": [{"name": "X Bad", "value": "1"}]},
        ),
        {
            (
                f"{C0}.livenessProbe.httpGet.httpHeaders",
                "Invalid value: \"X Bad\": a valid HTTP header must consist of alphanumeric characters or '-' "
                "(e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')",
            )
        },
    ),
    (
        "probe-tcp-port",
        probe("livenessProbe", tcpSocket={"port": 65536}),
        {(f"{C0}.livenessProbe.tcpSocket.port", f"Invalid value: 65536: {PORT_RANGE}")},
    ),
    (
        "lifecycle-no-handler",
        setc(lifecycle={"preStop": {}}),
        {(f"{C0}.lifecycle.preStop", "Required value: must specify a handler type")},
    ),
    (
        "lifecycle-two-handlers",
        setc(lifecycle={"postStart": {"exec": EXEC, "sleep": {"seconds": 1}}}),
        {(f"{C0}.lifecycle.postStart.sleep", ONE_HANDLER)},
    ),
    (
        "lifecycle-sleep-too-long",
        setc(lifecycle={"preStop": {"sleep": {"seconds": 60}}}),
        {
            (
                f"{C0}.lifecycle.preStop.sleep",
                "Invalid value: 60: must be non-negative and less than terminationGracePeriodSeconds (30)",
            )
        },
    ),
    (
        "init-liveness",
        add_init(livenessProbe={"exec": EXEC}),
        {("spec.initContainers[0].livenessProbe", INIT_ONLY)},
    ),
    (
        "init-lifecycle",
        add_init(lifecycle={"preStop": {"exec": EXEC}}),
        {("spec.initContainers[0].lifecycle", INIT_ONLY)},
    ),
    (
        "init-readiness-startup",
        add_init(readinessProbe={"exec": EXEC}, startupProbe={"exec": EXEC}),
        {
            ("spec.initContainers[0].readinessProbe", INIT_ONLY),
            ("spec.initContainers[0].startupProbe", INIT_ONLY),
        },
    ),
    (
        "init-restart-policy",
        add_init(restartPolicy="Never"),
        {
            (
                "spec.initContainers[0].restartPolicy",
                'Unsupported value: "Never": supported values: "Always"',
            )
        },
    ),
    (
        "sidecar-probe-checked",
        add_init(restartPolicy="Always", livenessProbe={"exec": EXEC, "successThreshold": 2}),
        {("spec.initContainers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1")},
    ),
    # --- pod-level fields ---------------------------------------------------------------------
    (
        "restart-policy",
        sets(restartPolicy="Sometimes"),
        {
            (
                "spec.restartPolicy",
                'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
            )
        },
    ),
    (
        "dns-policy",
        sets(dnsPolicy="Cluster"),
        {
            (
                "spec.dnsPolicy",
                'Unsupported value: "Cluster": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
            )
        },
    ),
    (
        "dns-none-without-config",
        sets(dnsPolicy="None"),
        {("spec.dnsConfig", "Required value: must provide `dnsConfig` when `dnsPolicy` is None")},
    ),
    (
        "dns-none-without-nameservers",
        sets(dnsPolicy="None", dnsConfig={"searches": ["a.b"]}),
        {
            (
                "spec.dnsConfig.nameservers",
                "Required value: must provide at least one DNS nameserver when `dnsPolicy` is None",
            )
        },
    ),
    (
        "dns-too-many-nameservers",
        sets(dnsConfig={"nameservers": ["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"]}),
        {
            (
                "spec.dnsConfig.nameservers",
                'Invalid value: []string{"1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"}: must not have more than 3 nameservers',
            )
        },
    ),
    (
        "dns-bad-nameserver",
        sets(dnsConfig={"nameservers": ["1.2.3"]}),
        {("spec.dnsConfig.nameservers[0]", f'Invalid value: "1.2.3": {IP}')},
    ),
    (
        "dns-bad-search",
        sets(dnsConfig={"searches": ["Bad.Domain", "_srv.example.com", "."]}),
        {
            (
                "spec.dnsConfig.searches[0]",
                'Invalid value: "Bad.Domain": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
                "characters, '_', '-' or '.', and must start and end with an alphanumeric character (e.g. "
                "'example.com', regex used for validation is "
                "'_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')",
            )
        },
    ),
    (
        "dns-option-name",
        sets(dnsConfig={"options": [{"value": "2"}]}),
        {("spec.dnsConfig.options[0]", "Required value: must not be empty")},
    ),
    (
        "host-alias-ip",
        sets(hostAliases=[{"ip": "999.1.1.1", "hostnames": ["a"]}]),
        {("spec.hostAliases[0].ip", f'Invalid value: "999.1.1.1": {IP}')},
    ),
    (
        "host-alias-hostname",
        sets(hostAliases=[{"ip": "10.0.0.1", "hostnames": ["Foo_Bar"]}]),
        {("spec.hostAliases[0].hostnames[0]", f'Invalid value: "Foo_Bar": {SUBDOMAIN}')},
    ),
    (
        "hostname",
        sets(hostname="my.host"),
        {("spec.hostname", 'Invalid value: "my.host": must not contain dots')},
    ),
    ("subdomain", sets(subdomain="Sub"), {("spec.subdomain", f'Invalid value: "Sub": {LABEL}')}),
    (
        "active-deadline-zero",
        sets(activeDeadlineSeconds=0),
        {
            (
                "spec.activeDeadlineSeconds",
                "Invalid value: 0: must be between 1 and 2147483647, inclusive",
            )
        },
    ),
    (
        "node-name",
        sets(nodeName="Node_1"),
        {("spec.nodeName", f'Invalid value: "Node_1": {SUBDOMAIN}')},
    ),
    (
        "node-selector",
        sets(nodeSelector={"disk": "ssd fast"}),
        {("spec.nodeSelector", f'Invalid value: "ssd fast": {LABEL_VALUE}')},
    ),
    (
        "priority-class-name",
        sets(priorityClassName="High"),
        {("spec.priorityClassName", f'Invalid value: "High": {SUBDOMAIN}')},
    ),
    (
        "os-name",
        sets(os={"name": "plan9"}),
        {("spec.os", 'Unsupported value: "plan9": supported values: "linux", "windows"')},
    ),
    ("os-name-empty", sets(os={"name": ""}), {("spec.os.name", "Required value: cannot be empty")}),
    (
        "linux-pod-windows-options",
        both(
            sets(os={"name": "linux"}),
            setc(securityContext={"windowsOptions": {"runAsUserName": "x"}}),
        ),
        {
            (
                f"{C0}.securityContext.windowsOptions",
                "Forbidden: windows options cannot be set for a linux pod",
            )
        },
    ),
    (
        "windows-pod-linux-fields",
        both(
            sets(os={"name": "windows"}, hostPID=True), setc(securityContext={"privileged": False})
        ),
        {
            ("spec.hostPID", "Forbidden: cannot be set for a windows pod"),
            (f"{C0}.securityContext.privileged", "Forbidden: cannot be set for a windows pod"),
        },
    ),
    (
        "node-affinity-empty-terms",
        sets(
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}
                }
            }
        ),
        {
            (
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
                "Required value: must have at least one node selector term",
            )
        },
    ),
    (
        "node-affinity-operator",
        sets(
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "disk", "operator": "Is", "values": ["ssd"]}
                                ]
                            }
                        ]
                    }
                }
            }
        ),
        {
            (
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
                ".matchExpressions[0].operator",
                'Invalid value: "Is": not a valid selector operator',
            )
        },
    ),
    (
        "node-affinity-in-without-values",
        sets(
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "disk", "operator": "In"}]}
                        ]
                    }
                }
            }
        ),
        {
            (
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
                ".matchExpressions[0].values",
                "Required value: must be specified when `operator` is 'In' or 'NotIn'",
            )
        },
    ),
    (
        "preferred-weight",
        sets(
            affinity={
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 0,
                            "preference": {
                                "matchExpressions": [{"key": "a", "operator": "Exists"}]
                            },
                        }
                    ]
                }
            }
        ),
        {
            (
                "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
                "Invalid value: 0: must be in the range 1-100",
            )
        },
    ),
    (
        "pod-affinity-topology-key",
        sets(
            affinity={
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "web"}}}
                    ]
                }
            }
        ),
        {
            (
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
                "Required value: can not be empty",
            ),
            (
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
                'Invalid value: "": name part must be non-empty',
            ),
            (
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
                f'Invalid value: "": {QNAME}',
            ),
        },
    ),
    (
        "seccomp-annotation",
        setm(annotations={"seccomp.security.alpha.kubernetes.io/pod": "strict"}),
        {
            (
                "metadata.annotations.seccomp.security.alpha.kubernetes.io/pod",
                'Invalid value: "strict": must be a valid seccomp profile',
            )
        },
    ),
    (
        "apparmor-annotation-container",
        setm(annotations={"container.apparmor.security.beta.kubernetes.io/nope": "unconfined"}),
        {
            (
                "metadata.annotations[container.apparmor.security.beta.kubernetes.io/nope]",
                'Invalid value: "nope": container not found',
            )
        },
    ),
    (
        "seccomp-annotation-field-mismatch",
        both(
            setm(annotations={"container.seccomp.security.alpha.kubernetes.io/app": "unconfined"}),
            setc(securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
        ),
        {
            (
                f"{C0}.securityContext.seccompProfile.type",
                "Forbidden: seccomp type in annotation and field must match",
            )
        },
    ),
    (
        "owner-reference",
        setm(ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"}]),
        {("metadata.ownerReferences[0].uid", 'Invalid value: "": must not be empty')},
    ),
    (
        "pod-level-resources",
        both(
            sets(resources={"requests": {"cpu": "1"}}), setc(resources={"requests": {"cpu": "2"}})
        ),
        {
            (
                "spec.resources.requests[cpu]",
                'Invalid value: "1": must be greater than or equal to aggregate container requests of 2',
            )
        },
    ),
    (
        "readiness-gate",
        sets(readinessGates=[{"conditionType": "bad/type/x"}]),
        {
            (
                "spec.readinessGates[0].conditionType",
                "Invalid value: \"bad/type/x\": a qualified name must consist of alphanumeric characters, '-', '_' "
                "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                "'my.name',  or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
                "(e.g. 'example.com/MyName')",
            )
        },
    ),
    (
        "scheduling-gate-duplicate",
        sets(schedulingGates=[{"name": "a.io/x"}, {"name": "a.io/x"}]),
        {("spec.schedulingGates[1]", 'Duplicate value: "a.io/x"')},
    ),
    (
        "toleration-operator",
        sets(tolerations=[{"key": "k", "operator": "Like"}]),
        {
            (
                "spec.tolerations[0].operator",
                'Unsupported value: "Like": supported values: "Equal", "Exists"',
            )
        },
    ),
    (
        "toleration-empty-key",
        sets(tolerations=[{"operator": "Equal", "value": "v"}]),
        {
            (
                "spec.tolerations[0].operator",
                'Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
            )
        },
    ),
    (
        "toleration-seconds-effect",
        sets(
            tolerations=[
                {"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}
            ]
        ),
        {
            (
                "spec.tolerations[0].effect",
                "Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
            )
        },
    ),
    (
        "topology-spread",
        sets(
            topologySpreadConstraints=[
                {"maxSkew": 0, "topologyKey": "", "whenUnsatisfiable": "Maybe"}
            ]
        ),
        {
            (
                "spec.topologySpreadConstraints[0].maxSkew",
                "Invalid value: 0: must be greater than zero",
            ),
            ("spec.topologySpreadConstraints[0].topologyKey", "Required value: can not be empty"),
            (
                "spec.topologySpreadConstraints[0].whenUnsatisfiable",
                'Unsupported value: "Maybe": supported values: "DoNotSchedule", "ScheduleAnyway"',
            ),
        },
    ),
    (
        "ephemeral-on-create",
        sets(ephemeralContainers=[{"name": "dbg", "image": "busybox"}]),
        {("spec.ephemeralContainers", "Forbidden: cannot be set on create")},
    ),
    (
        "ephemeral-fields",
        sets(
            ephemeralContainers=[
                {
                    "name": "dbg",
                    "image": "busybox",
                    "ports": [{"containerPort": 80}],
                    "readinessProbe": {"exec": EXEC},
                }
            ]
        ),
        {
            ("spec.ephemeralContainers", "Forbidden: cannot be set on create"),
            (
                "spec.ephemeralContainers[0].ports",
                "Forbidden: cannot be set for an Ephemeral Container",
            ),
            (
                "spec.ephemeralContainers[0].readinessProbe",
                "Forbidden: cannot be set for an Ephemeral Container",
            ),
        },
    ),
    (
        "ephemeral-duplicate-name",
        sets(ephemeralContainers=[{"name": "app", "image": "busybox", "targetContainerName": "x"}]),
        {
            ("spec.ephemeralContainers", "Forbidden: cannot be set on create"),
            ("spec.ephemeralContainers[0].name", 'Duplicate value: "app"'),
            ("spec.ephemeralContainers[0].targetContainerName", 'Not found: "x"'),
        },
    ),
    # --- resources ------------------------------------------------------------------------------
    (
        "quantity-bad",
        setc(resources={"limits": {"cpu": "one"}}),
        {
            (f"{C0}.resources.limits[cpu]", f'"one" is not a quantity: {QUANTITY}'),
            (f"{C0}.resources.requests[cpu]", f'"one" is not a quantity: {QUANTITY}'),
        },
    ),
    (
        "quantity-suffix",
        setc(resources={"requests": {"memory": "1Kb"}}),
        {(f"{C0}.resources.requests[memory]", '"1Kb" is not a quantity: ' + QUANTITY)},
    ),
    (
        "quantity-unknown-suffix",
        setc(resources={"requests": {"memory": "1mi"}}),
        {
            (
                f"{C0}.resources.requests[memory]",
                '"1mi" is not a quantity: unable to parse quantity\'s suffix',
            )
        },
    ),
    (
        "request-above-limit",
        setc(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}),
        {
            (
                f"{C0}.resources.requests",
                'Invalid value: "2": must be less than or equal to cpu limit of 1',
            )
        },
    ),
    (
        "memory-request-above-limit",
        setc(resources={"limits": {"memory": "1Gi"}, "requests": {"memory": "2Gi"}}),
        {
            (
                f"{C0}.resources.requests",
                'Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi',
            )
        },
    ),
    (
        "negative-quantity",
        setc(resources={"requests": {"cpu": "-1"}}),
        {
            (
                f"{C0}.resources.requests[cpu]",
                'Invalid value: "-1": must be greater than or equal to 0',
            )
        },
    ),
    (
        "resource-name-not-standard",
        setc(resources={"limits": {"gpu": "1"}}),
        {
            (
                f"{C0}.resources.limits[gpu]",
                'Invalid value: "gpu": must be a standard resource type or fully qualified',
            ),
            (
                f"{C0}.resources.limits[gpu]",
                'Invalid value: "gpu": must be a standard resource for containers',
            ),
            (
                f"{C0}.resources.requests[gpu]",
                'Invalid value: "gpu": must be a standard resource type or fully qualified',
            ),
            (
                f"{C0}.resources.requests[gpu]",
                'Invalid value: "gpu": must be a standard resource for containers',
            ),
        },
    ),
    (
        "extended-resource-fraction",
        setc(resources={"limits": {"example.com/gpu": "500m"}}),
        {
            (f"{C0}.resources.limits[example.com/gpu]", "Invalid value: 500m: must be an integer"),
            (
                f"{C0}.resources.requests[example.com/gpu]",
                "Invalid value: 500m: must be an integer",
            ),
        },
    ),
    (
        "extended-resource-request-only",
        setc(resources={"requests": {"example.com/gpu": "1"}}),
        {
            (
                f"{C0}.resources.limits",
                "Required value: Limit must be set for non overcommitable resources",
            )
        },
    ),
    (
        "hugepages-not-multiple",
        setc(resources={"limits": {"hugepages-2Mi": "3Mi", "memory": "1Gi"}}),
        {
            (
                f"{C0}.resources.limits[hugepages-2Mi]",
                'Invalid value: "3Mi": 3Mi is not positive integer multiple of hugepages-2Mi',
            ),
            (
                f"{C0}.resources.requests[hugepages-2Mi]",
                'Invalid value: "3Mi": 3Mi is not positive integer multiple of hugepages-2Mi',
            ),
        },
    ),
    (
        "hugepages-without-cpu-memory",
        setc(resources={"limits": {"hugepages-2Mi": "4Mi"}}),
        {(f"{C0}.resources", "Forbidden: HugePages require cpu or memory")},
    ),
    # --- security contexts --------------------------------------------------------------------
    (
        "privileged-no-escalation",
        setc(securityContext={"privileged": True, "allowPrivilegeEscalation": False}),
        {
            (
                f"{C0}.securityContext",
                'Invalid value: {"allowPrivilegeEscalation":false,"privileged":true}: '
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            )
        },
    ),
    (
        "windows-run-as-user-name",
        setc(securityContext={"windowsOptions": {"runAsUserName": "a\\b\\c"}}),
        {
            (
                f"{C0}.securityContext.windowsOptions.runAsUserName",
                'Invalid value: "a\\\\b\\\\c": runAsUserName cannot contain more than one backslash',
            )
        },
    ),
    (
        "run-as-user-negative",
        setc(securityContext={"runAsUser": -1}),
        {
            (
                f"{C0}.securityContext.runAsUser",
                "Invalid value: -1: must be between 0 and 4294967295, inclusive",
            )
        },
    ),
    (
        "proc-mount",
        setc(securityContext={"procMount": "Masked"}),
        {
            (
                f"{C0}.securityContext.procMount",
                'Unsupported value: "Masked": supported values: "Default", "Unmasked"',
            )
        },
    ),
    (
        "proc-mount-unmasked-host-users",
        setc(securityContext={"procMount": "Unmasked"}),
        {
            (
                f"{C0}.securityContext.procMount",
                'Invalid value: "Unmasked": `hostUsers` must be false to use `Unmasked`',
            )
        },
    ),
    (
        "seccomp-type",
        setc(securityContext={"seccompProfile": {"type": "Strict"}}),
        {
            (
                f"{C0}.securityContext.seccompProfile.type",
                'Unsupported value: "Strict": supported values: "Localhost", "RuntimeDefault", "Unconfined"',
            )
        },
    ),
    (
        "seccomp-localhost-missing",
        setc(securityContext={"seccompProfile": {"type": "Localhost"}}),
        {
            (
                f"{C0}.securityContext.seccompProfile.localhostProfile",
                "Required value: must be set when seccomp type is Localhost",
            )
        },
    ),
    (
        "seccomp-localhost-absolute",
        setc(
            securityContext={"seccompProfile": {"type": "Localhost", "localhostProfile": "/x.json"}}
        ),
        {
            (
                f"{C0}.securityContext.seccompProfile.localhostProfile",
                'Invalid value: "/x.json": must be a relative path',
            )
        },
    ),
    (
        "apparmor-localhost-missing",
        setc(securityContext={"appArmorProfile": {"type": "Localhost"}}),
        {
            (
                f"{C0}.securityContext.appArmorProfile.localhostProfile",
                "Required value: must be set when AppArmor type is Localhost",
            )
        },
    ),
    (
        "pod-fs-group",
        sets(securityContext={"fsGroup": -5, "supplementalGroups": [1, -2]}),
        {
            (
                "spec.securityContext.fsGroup",
                "Invalid value: -5: must be between 0 and 4294967295, inclusive",
            ),
            (
                "spec.securityContext.supplementalGroups[1]",
                "Invalid value: -2: must be between 0 and 4294967295, inclusive",
            ),
        },
    ),
    (
        "share-pid-with-host-pid",
        sets(shareProcessNamespace=True, hostPID=True),
        {
            (
                "spec.securityContext.shareProcessNamespace",
                "Invalid value: true: ShareProcessNamespace and HostPID cannot both be enabled",
            )
        },
    ),
    (
        "sysctl-name",
        sets(securityContext={"sysctls": [{"name": "Net.Foo", "value": "1"}]}),
        {
            (
                "spec.securityContext.sysctls[0].name",
                'Invalid value: "Net.Foo": must have at most 253 characters and match regex '
                "^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$",
            )
        },
    ),
    (
        "sysctl-duplicate",
        sets(
            securityContext={
                "sysctls": [
                    {"name": "kernel.shm_rmid_forced", "value": "1"},
                    {"name": "kernel.shm_rmid_forced", "value": "0"},
                ]
            }
        ),
        {("spec.securityContext.sysctls[1].name", 'Duplicate value: "kernel.shm_rmid_forced"')},
    ),
    (
        "sysctl-host-network",
        sets(
            hostNetwork=True,
            securityContext={"sysctls": [{"name": "net.ipv4.ip_forward", "value": "1"}]},
        ),
        {
            (
                "spec.securityContext.sysctls[0].name",
                "Invalid value: \"net.ipv4.ip_forward\": may not be specified when 'hostNetwork' is true",
            )
        },
    ),
    (
        "fs-group-change-policy",
        sets(securityContext={"fsGroupChangePolicy": "Sometimes"}),
        {
            (
                "spec.securityContext.fsGroupChangePolicy",
                'Unsupported value: "Sometimes": supported values: "Always", "OnRootMismatch"',
            )
        },
    ),
    (
        "host-users-false-host-network",
        sets(hostUsers=False, hostNetwork=True),
        {("spec.hostNetwork", "Forbidden: when `pod.Spec.HostUsers` is false")},
    ),
    # --- decode errors are not reported twice -----------------------------------------------------
    (
        "container-port-string",
        setc(ports=[{"containerPort": "http"}]),
        {(f"{C0}.ports[0].containerPort", '"http" is not an integer')},
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_pod(mutate: Mutate, expected: set[tuple[str, str]]) -> None:
    assert errors_of(pod(mutate)) == expected


def test_case_count() -> None:
    assert len(CASES) >= 80
    assert len({c[0] for c in CASES}) == len(CASES)


def test_base_pod_is_valid() -> None:
    assert errors_of(copy.deepcopy(BASE)) == set()


def test_seed_style_probe_and_volume_errors_together() -> None:
    """The seed template's shape: every problem at once, in one pass."""
    text = """
apiVersion: v1
kind: Pod
metadata: {name: all-at-once}
spec:
  containers:
  - name: c
    livenessProbe:
      exec: {command: [x]}
      httpGet: {path: /, port: 80}
      tcpSocket: {port: 80}
    resources: {limits: {cpu: string}}
  volumes:
  - name: v
    emptyDir: {}
    hostPath: {path: /x}
"""
    assert errors_of(text) == {
        ("spec.containers[0].image", "Required value"),
        ("spec.containers[0].livenessProbe.httpGet", ONE_HANDLER),
        ("spec.containers[0].livenessProbe.tcpSocket", ONE_HANDLER),
        ("spec.containers[0].resources.limits[cpu]", f'"string" is not a quantity: {QUANTITY}'),
        ("spec.containers[0].resources.requests[cpu]", f'"string" is not a quantity: {QUANTITY}'),
        ("spec.volumes[0].hostPath", ONE_VOLUME),
    }


# --- ConfigMap and Secret ---------------------------------------------------------------------


def cm(**fields: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}
    d.update(fields)
    return d


def secret(**fields: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"}}
    d.update(fields)
    return d


CONFIG_CASES: list[tuple[str, dict[str, Any], set[tuple[str, str]]]] = [
    (
        "cm-key",
        cm(data={"a b": "x"}),
        {
            (
                "data[a b]",
                "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or "
                "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            )
        },
    ),
    (
        "cm-dotdot-key",
        cm(data={"..x": "x"}),
        {("data[..x]", "Invalid value: \"..x\": must not start with '..'")},
    ),
    (
        "cm-duplicate-binary",
        cm(data={"k": "x"}, binaryData={"k": "eA=="}),
        {("data[k]", 'Invalid value: "k": duplicate of key present in binaryData')},
    ),
    (
        "cm-too-big",
        cm(data={"k": "x" * (1024 * 1024 + 1)}),
        {("", "Too long: must have at most 1048576 bytes")},
    ),
    (
        "cm-name",
        {**cm(), "metadata": {"name": "Cfg"}},
        {("metadata.name", f'Invalid value: "Cfg": {SUBDOMAIN}')},
    ),
    (
        "secret-dockerconfigjson-missing",
        secret(type="kubernetes.io/dockerconfigjson", data={}),
        {("data[.dockerconfigjson]", "Required value")},
    ),
    (
        "secret-tls-missing",
        secret(type="kubernetes.io/tls", data={"tls.crt": "eA=="}),
        {("data[tls.key]", "Required value")},
    ),
    (
        "secret-basic-auth-missing",
        secret(type="kubernetes.io/basic-auth", data={}),
        {("data[username]", "Required value"), ("data[password]", "Required value")},
    ),
    (
        "secret-ssh-missing",
        secret(type="kubernetes.io/ssh-auth"),
        {("data[ssh-privatekey]", "Required value")},
    ),
    (
        "secret-sa-token-annotation",
        secret(type="kubernetes.io/service-account-token"),
        {("metadata.annotations[kubernetes.io/service-account.name]", "Required value")},
    ),
    (
        "secret-key",
        secret(stringData={"a/b": "x"}),
        {
            (
                "data[a/b]",
                "Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters, '-', '_' or "
                "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            )
        },
    ),
]


@pytest.mark.parametrize(
    ("doc", "expected"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES]
)
def test_invalid_config(doc: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert errors_of(doc) == expected


def test_valid_config_objects() -> None:
    assert errors_of(cm(data={"a.b": "1"}, binaryData={"bin": "AAE="})) == set()
    assert (
        errors_of(
            secret(
                type="kubernetes.io/dockerconfigjson",
                stringData={".dockerconfigjson": '{"auths": {}}'},
            )
        )
        == set()
    )


# --- options: bad paths, static pods, non-spec input ----------------------------------------------


def _loaded_pod(doc: dict[str, Any]) -> Pod:
    recs = load_text(yaml.safe_dump(doc), "t.yaml")
    obj = recs[0].obj
    assert isinstance(obj, Pod)
    return obj


def test_bad_paths_drop_errors_below_them() -> None:
    p = _loaded_pod(pod(lambda d: c0(d).pop("image")))
    assert validate_object(p) == [FieldError(f"{C0}.image", "Required value")]
    assert validate_object(p, bad_paths=frozenset({f"{C0}.image"})) == []
    assert validate_object(p, bad_paths=frozenset({"spec.containers"})) == []
    assert validate_object(p, bad_paths=frozenset({"spec.containers[1]"})) != []


def test_static_pod_references() -> None:
    d = pod(
        both(
            vols({"name": "c", "configMap": {"name": "cm"}}),
            setc(envFrom=[{"secretRef": {"name": "s"}}]),
            sets(serviceAccountName="builder"),
        )
    )
    p = _loaded_pod(d)
    assert validate_object(p) == []
    got = {(e.path, e.message) for e in validate_object(p, static_pod=True)}
    assert got == {
        ("spec.volumes[0].configMap", "Forbidden: static pods may not reference configmaps"),
        (f"{C0}.envFrom[0].secretRef", "Forbidden: static pods may not reference secrets"),
        ("spec.serviceAccountName", "Forbidden: static pods may not reference serviceaccounts"),
    }


def test_volume_without_source() -> None:
    # Defaulting turns a source-less volume into emptyDir; the rule still holds for raw objects.
    p = _loaded_pod(pod(vols(VOL)))
    assert p.spec is not None and p.spec.volumes
    bare = replace(p, spec=replace(p.spec, volumes=(Volume(name="data"),)))
    assert validate_object(bare) == [
        FieldError("spec.volumes[0]", "Required value: must specify a volume type")
    ]


def test_negative_grace_is_not_an_error() -> None:
    # PrepareForCreate stores a negative spec.terminationGracePeriodSeconds as 1 (BEHAVIOR.md 6.1)
    assert errors_of(pod(sets(terminationGracePeriodSeconds=-5))) == set()


def test_other_objects() -> None:
    assert validate_object(ConfigMap()) == [
        FieldError("metadata.name", "Required value: name or generateName is required")
    ]
    assert validate_object(Secret(type="Opaque")) == [
        FieldError("metadata.name", "Required value: name or generateName is required")
    ]
    assert validate_object("not a pod")[0].path == "kind"
