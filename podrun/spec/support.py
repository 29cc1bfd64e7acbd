"""What podrun parses but does not act on: warnings, never silent drops (DESIGN.md §7.5).

One table, keyed by JSON field path pattern, says why a field has no effect on a single
host without a control plane; `unsupported_warnings` turns a Pod into the warnings that
`podrun validate`, `podrun apply` and static pods report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from podrun.errors import FieldError
from podrun.spec.encode import to_dict
from podrun.spec.types import Pod

_ONE_NODE = "podrun runs pods on one node without a scheduler"
_NO_API = "podrun has no API server objects of this kind"

# Pod-level fields (JSON names under spec) that podrun accepts but does not act on.
POD_FIELDS: dict[str, str] = {
    "affinity": f"ignored: {_ONE_NODE}",
    "tolerations": f"ignored: {_ONE_NODE} and no taints",
    "topologySpreadConstraints": f"ignored: {_ONE_NODE}",
    "schedulerName": f"ignored: {_ONE_NODE}",
    "priorityClassName": "ignored: podrun does no preemption or eviction by priority",
    "priority": "ignored: podrun does no preemption or eviction by priority",
    "preemptionPolicy": "ignored: podrun does no preemption",
    "schedulingGates": f"ignored: {_ONE_NODE}",
    "resourceClaims": "not supported: dynamic resource allocation needs a resource driver",
    "serviceAccountName": f"ignored: {_NO_API} (no service account token is mounted)",
    "serviceAccount": f"ignored: {_NO_API} (no service account token is mounted)",
    "automountServiceAccountToken": f"ignored: {_NO_API}",
    "runtimeClassName": "ignored: podrun has one runtime",
    "readinessGates": f"ignored: {_NO_API} to set custom pod conditions",
    "ephemeralContainers": "ignored at creation: ephemeral containers are added by `kubectl debug`",
    "hostUsers": "not supported yet: user namespaces",
    "resources": "not supported yet: pod-level resources",
}

# Container-level fields (JSON names under a container) that podrun does not act on.
CONTAINER_FIELDS: dict[str, str] = {
    "resizePolicy": "ignored: in-place resize needs the API server",
    "resources.claims": "not supported: dynamic resource allocation needs a resource driver",
}

# Fields anywhere in the pod (JSON paths, [*] for every item) that podrun does not act on.
FIELD_WARNINGS: dict[str, str] = {
    "metadata.finalizers": "ignored: podrun has no controllers; the pod is removed "
                           "without waiting for finalizers",
    "spec.evictionResponders": "not supported: podrun does no eviction responders",
    "spec.hostnameOverride": "not supported yet: the pod hostname comes from "
                             "spec.hostname/subdomain",
    "spec.nodeSelector": "ignored: podrun runs pods on one node without a scheduler "
                         "(node labels are not matched)",
    "spec.os": "ignored: podrun runs Linux pods only",
    "spec.schedulingGroup": "ignored: podrun runs pods on one node without a scheduler",
    "spec.securityContext.seLinuxChangePolicy": "ignored: podrun does no SELinux "
                                                "relabelling",
    "spec.containers[*].restartPolicyRules": "not supported yet: container restart rules",
    "spec.containers[*].stdinOnce": "not supported: stdin stays open for the "
                                    "container's life",
    "spec.containers[*].tty": "not supported: containers get no terminal (pause owns "
                              "their stdio); `podrun exec -t` gives one",
    "spec.containers[*].volumeDevices": "not supported: raw block volumes need a "
                                        "block-mode PersistentVolume",
    "spec.containers[*].volumeMounts[*].bindMountOptions": "not supported yet: bind "
                                                            "mount options",
    "spec.containers[*].volumeMounts[*].recursiveReadOnly": "not supported yet: "
                                                            "readOnly is not recursive",
    "spec.containers[*].livenessProbe.grpc.mode": "not supported yet: gRPC probe mode",
    "spec.containers[*].readinessProbe.grpc.mode": "not supported yet: gRPC probe mode",
    "spec.containers[*].startupProbe.grpc.mode": "not supported yet: gRPC probe mode",
    "spec.containers[*].livenessProbe.httpGet.protocol": "not supported yet: HTTP probe "
                                                         "protocol",
    "spec.containers[*].readinessProbe.httpGet.protocol": "not supported yet: HTTP probe "
                                                          "protocol",
    "spec.containers[*].startupProbe.httpGet.protocol": "not supported yet: HTTP probe "
                                                        "protocol",
    "spec.containers[*].lifecycle.postStart.httpGet.protocol": "not supported yet: HTTP "
                                                               "hook protocol",
    "spec.containers[*].lifecycle.preStop.httpGet.protocol": "not supported yet: HTTP "
                                                             "hook protocol",
    "spec.volumes[*].emptyDir.mode": "not supported yet: emptyDir mode (the directory "
                                     "is 0777)",
    "spec.volumes[*].configMap.defaultUser": "not supported yet: per-file owner",
    "spec.volumes[*].configMap.items[*].user": "not supported yet: per-file owner",
    "spec.volumes[*].secret.defaultUser": "not supported yet: per-file owner",
    "spec.volumes[*].secret.items[*].user": "not supported yet: per-file owner",
    "spec.volumes[*].downwardAPI.defaultUser": "not supported yet: per-file owner",
    "spec.volumes[*].downwardAPI.items[*].user": "not supported yet: per-file owner",
    "spec.volumes[*].projected.defaultUser": "not supported yet: per-file owner",
    "spec.volumes[*].projected.sources[*].configMap.items[*].user": "not supported yet: "
                                                                    "per-file owner",
    "spec.volumes[*].projected.sources[*].secret.items[*].user": "not supported yet: "
                                                                 "per-file owner",
    "spec.volumes[*].projected.sources[*].downwardAPI.items[*].user": "not supported yet: "
                                                                      "per-file owner",
    "spec.volumes[*].persistentVolumeClaim.readOnly": "not supported yet: the claim is "
                                                      "mounted read-write unless the "
                                                      "volumeMount is readOnly",
}

_DEFAULTED_EMPTY = {"schedulerName": "default-scheduler"}


def unsupported_warnings(pod: Pod) -> list[FieldError]:
    """A warning per field that is set in ``pod`` but has no effect in podrun."""
    doc = to_dict(pod)
    return [*_pod_warnings(doc.get("spec") or {}), *_field_warnings(doc)]


def _pod_warnings(spec: dict[str, Any]) -> Iterator[FieldError]:
    for name, why in POD_FIELDS.items():
        value = spec.get(name)
        if value in (None, [], {}) or _DEFAULTED_EMPTY.get(name) == value:
            continue
        yield FieldError(f"spec.{name}", why)
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or []):
            for dotted, why in CONTAINER_FIELDS.items():
                found: Any = container
                for part in dotted.split("."):
                    found = found.get(part) if isinstance(found, dict) else None
                if found not in (None, [], {}):
                    yield FieldError(f"spec.{group}[{i}].{dotted}", why)


def _find(obj: Any, parts: list[str], prefix: str) -> Iterator[tuple[str, Any]]:
    if not parts:
        yield prefix, obj
        return
    head, rest = parts[0], parts[1:]
    many = head.endswith("[*]")
    name = head[:-3] if many else head
    if not isinstance(obj, dict) or name not in obj:
        return
    value = obj[name]
    where = f"{prefix}.{name}" if prefix else name
    if many:
        for i, item in enumerate(value if isinstance(value, list) else []):
            yield from _find(item, rest, f"{where}[{i}]")
    else:
        yield from _find(value, rest, where)


def _field_warnings(doc: dict[str, Any]) -> list[FieldError]:
    """A warning per set field of FIELD_WARNINGS (a value other than null, false, "",
    [] or {}); paths under spec.containers[*] are checked in initContainers too."""
    out = []
    for pattern, why in FIELD_WARNINGS.items():
        patterns = [pattern]
        if pattern.startswith("spec.containers[*]."):
            patterns.append("spec.initContainers[*]." + pattern[len("spec.containers[*]."):])
        for p in patterns:
            for where, value in _find(doc, p.split("."), ""):
                if value not in (None, False, "", [], {}):
                    out.append(FieldError(where, why))
    return out
