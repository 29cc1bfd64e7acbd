"""The Pod support table: every field of the model and what podrun does with it.

`rows()` walks podrun.spec.types from Pod (depth first, fields in declaration order); each
model class is listed once, at the first JSON path that reaches it, so every field of the
model appears exactly once. `render()` is docs/support.md; tests/unit/spec/test_support_table.py
regenerates it and fails when the file differs, when a model field has no decision here,
or when a decision names no field. Regenerate with:

    .venv/bin/python -m podrun.spec.support_table > docs/support.md

Statuses (decided by reading the code that acts on each field: podrun/agent, core, network,
runtime):

- supported: podrun acts on it (the note says where it is partial);
- reported: parsed, not acted on, and the user is told: a warning from podrun.spec.support
  (text taken from there) or an event (named in the note);
- n/a: has no meaning on one host without a control plane, or is status podrun does not
  set, and ignoring it is what the kubelet would do too;
- IGNORED: nothing reads it and nothing warns: a bug by DESIGN.md 7.5. `PROPOSED_WARNINGS`
  holds a warning for each; once podrun.spec.support has it (as `FIELD_WARNINGS`, or in
  POD_FIELDS/CONTAINER_FIELDS) the row turns "reported" by itself.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podrun.errors import FieldError
from podrun.spec import support
from podrun.spec import types as T

SUPPORTED = "supported"
REPORTED = "reported"
NOT_APPLICABLE = "n/a"
IGNORED = "IGNORED"

Rule = tuple[str, str]


def _sup(note: str = "") -> Rule:
    return (SUPPORTED, note)


def _rep(note: str) -> Rule:
    return (REPORTED, note)


def _na(note: str) -> Rule:
    return (NOT_APPLICABLE, note)


_IGN: Rule = (IGNORED, "")
_SET = _sup("set by podrun")
_NOT_SET_DRA = _na("not set: dynamic resource allocation needs a resource driver")
_FAILED_MOUNT = ("event `FailedMount`: `MountVolume.SetUp failed for volume \"x\" : <kind> "
                 "volumes are not supported by podrun`")
_UNSUPPORTED_SOURCE = ("event `UnsupportedVolumeSource` (the projection is skipped: no API "
                       "server)")
_NOT_ENFORCED = "event `NotEnforced` per container start"
_EPHEMERAL = "support:ephemeralContainers"
_MANAGED = _na("server-side apply bookkeeping: podrun keeps it as data")

# A rule for every field of a class (FIELD_RULES entries override it).
CLASS_RULES: dict[str, Rule] = {
    "ManagedFieldsEntry": _MANAGED,
    "OwnerReference": _na("kept as data: no garbage collector on one host"),
    "Affinity": _rep("support:affinity"),
    "NodeAffinity": _rep("support:affinity"),
    "NodeSelector": _rep("support:affinity"),
    "NodeSelectorTerm": _rep("support:affinity"),
    "NodeSelectorRequirement": _rep("support:affinity"),
    "PreferredSchedulingTerm": _rep("support:affinity"),
    "PodAffinity": _rep("support:affinity"),
    "PodAntiAffinity": _rep("support:affinity"),
    "PodAffinityTerm": _rep("support:affinity"),
    "WeightedPodAffinityTerm": _rep("support:affinity"),
    "LabelSelector": _rep("support:affinity"),
    "LabelSelectorRequirement": _rep("support:affinity"),
    "EphemeralContainer": _rep(_EPHEMERAL),
    "FileKeySelector": _rep("CreateContainerConfigError `valueFrom.fileKeyRef is not "
                            "supported by podrun`"),
    "EvictionResponder": _IGN,
    "VolumeDevice": _IGN,
    "Volume": _rep(_FAILED_MOUNT),
    "LocalObjectReference": _sup("imagePullSecrets: dockerconfigjson Secrets used for pulls"),  # imagePullSecrets
    "PodOS": _IGN,
    "PodResourceClaim": _rep("support:resourceClaims"),
    "PodSchedulingGate": _rep("support:schedulingGates"),
    "PodReadinessGate": _rep("support:readinessGates"),
    "PodSchedulingGroup": _IGN,
    "Toleration": _rep("support:tolerations"),
    "TopologySpreadConstraint": _rep("support:topologySpreadConstraints"),
    "ContainerResizePolicy": _rep("support-container:resizePolicy"),
    "ResourceClaim": _rep("support-container:resources.claims"),
    "ContainerRestartRule": _IGN,
    "ContainerRestartRuleOnExitCodes": _IGN,
    "WindowsSecurityContextOptions": _na("Windows only: a Linux kubelet ignores it too"),
    "SELinuxOptions": _rep(f"{_NOT_ENFORCED} (`securityContext.seLinuxOptions is not "
                           "enforced by podrun`)"),
    "AppArmorProfile": _rep(f"{_NOT_ENFORCED} (`securityContext.appArmorProfile is not "
                            "enforced by podrun`) unless Unconfined"),
    # Volume sources podrun does not serve.
    **{name: _rep(_FAILED_MOUNT) for name in (
        "AWSElasticBlockStoreVolumeSource", "AzureDiskVolumeSource", "AzureFileVolumeSource",
        "CephFSVolumeSource", "CinderVolumeSource", "CSIVolumeSource", "EphemeralVolumeSource",
        "PersistentVolumeClaimTemplate", "PersistentVolumeClaimSpec",
        "TypedLocalObjectReference", "TypedObjectReference", "VolumeResourceRequirements",
        "FCVolumeSource", "FlexVolumeSource", "FlockerVolumeSource",
        "GCEPersistentDiskVolumeSource", "GitRepoVolumeSource", "GlusterfsVolumeSource",
        "ImageVolumeSource", "ISCSIVolumeSource", "NFSVolumeSource",
        "PhotonPersistentDiskVolumeSource", "PortworxVolumeSource", "QuobyteVolumeSource",
        "RBDVolumeSource", "ScaleIOVolumeSource", "StorageOSVolumeSource",
        "VsphereVirtualDiskVolumeSource")},
    "ClusterTrustBundleProjection": _rep(_UNSUPPORTED_SOURCE),
    "PodCertificateProjection": _rep(_UNSUPPORTED_SOURCE),
    "ServiceAccountTokenProjection": _rep(_UNSUPPORTED_SOURCE),
    # Status podrun writes.
    "ContainerState": _SET,
    "ContainerStateRunning": _SET,
    "ContainerStateTerminated": _SET,
    "ContainerStateWaiting": _SET,
    "HostIP": _SET,
    "PodIP": _SET,
    "PodCondition": _SET,
    # Status podrun does not write.
    "ResourceStatus": _na("not set: no device plugins or resource drivers"),
    "ResourceHealth": _na("not set: no device plugins or resource drivers"),
    "ContainerUser": _na("not set (the user is resolved in the init helper)"),
    "LinuxContainerUser": _na("not set (the user is resolved in the init helper)"),
    "VolumeMountStatus": _na("not set"),
    "VolumeStatus": _na("not set: image volumes are not supported"),
    "ImageVolumeStatus": _na("not set: image volumes are not supported"),
    "PodExtendedResourceClaimStatus": _NOT_SET_DRA,
    "ContainerExtendedResourceRequest": _NOT_SET_DRA,
    "NodeAllocatableResourceClaimStatus": _NOT_SET_DRA,
    "NodeAllocatableMappedResources": _NOT_SET_DRA,
    "NodeAllocatableOverheadResources": _NOT_SET_DRA,
    "PodResourceClaimStatus": _NOT_SET_DRA,
    "PodVolumeHealth": _na("not set: volume health comes from CSI drivers"),
    "VolumeHealthCondition": _na("not set: volume health comes from CSI drivers"),
    # Fully supported classes.
    **{name: _sup() for name in (
        "EnvVar", "EnvVarSource", "ConfigMapKeySelector", "SecretKeySelector",
        "ResourceFieldSelector", "ObjectFieldSelector", "EnvFromSource",
        "ConfigMapEnvSource", "SecretEnvSource", "ExecAction", "HTTPHeader", "SleepAction",
        "TCPSocketAction", "Lifecycle", "Probe", "ContainerPort", "Capabilities",
        "SeccompProfile", "PodDNSConfig", "PodDNSConfigOption", "HostAlias",
        "Sysctl", "HostPathVolumeSource", "ConfigMapProjection",
        "SecretProjection", "DownwardAPIProjection", "VolumeProjection",
        "PersistentVolumeClaimVolumeSource", "ResourceRequirements", "ConfigMapVolumeSource",
        "SecretVolumeSource", "DownwardAPIVolumeSource", "ProjectedVolumeSource",
        "DownwardAPIVolumeFile", "KeyToPath", "EmptyDirVolumeSource", "VolumeMount",
        "SecurityContext", "PodSecurityContext", "Container", "LifecycleHandler",
        "GRPCAction", "HTTPGetAction")},
}

FIELD_RULES: dict[str, Rule] = {
    # Pod
    "Pod.apiVersion": _sup("v1 only"),
    "Pod.kind": _sup("Pod"),
    "Pod.metadata": _sup(),
    "Pod.spec": _sup(),
    "Pod.status": _sup("written by podrun; a manifest's status is not input"),
    # ObjectMeta
    "ObjectMeta.annotations": _sup("downward API; podrun's own keys (config source, hashes)"),
    "ObjectMeta.creationTimestamp": _SET,
    "ObjectMeta.deletionGracePeriodSeconds": _sup("set on delete; the grace of the kill"),
    "ObjectMeta.deletionTimestamp": _sup("set on delete; starts the kill"),
    "ObjectMeta.finalizers": _IGN,
    "ObjectMeta.generateName": _sup("API create"),
    "ObjectMeta.generation": _SET,
    "ObjectMeta.labels": _sup("downward API, selectors of the API"),
    "ObjectMeta.managedFields": _MANAGED,
    "ObjectMeta.name": _sup(),
    "ObjectMeta.namespace": _sup(),
    "ObjectMeta.ownerReferences": _na("kept as data: no garbage collector on one host"),
    "ObjectMeta.resourceVersion": _SET,
    "ObjectMeta.selfLink": _na("deprecated, never set since Kubernetes 1.20"),
    "ObjectMeta.uid": _sup(),
    # PodSpec
    "PodSpec.activeDeadlineSeconds": _sup("DeadlineExceeded"),
    "PodSpec.affinity": _rep("support:affinity"),
    "PodSpec.automountServiceAccountToken": _rep("support:automountServiceAccountToken"),
    "PodSpec.containers": _sup(),
    "PodSpec.dnsConfig": _sup("resolv.conf"),
    "PodSpec.dnsPolicy": _sup("resolv.conf; no cluster DNS unless configured"),
    "PodSpec.enableServiceLinks": _na("no Services, so no service-link variables "
                                      "(docs/volumes.md)"),
    "PodSpec.ephemeralContainers": _rep(_EPHEMERAL),
    "PodSpec.evictionResponders": _IGN,
    "PodSpec.hostAliases": _sup("/etc/hosts"),
    "PodSpec.hostIPC": _sup(),
    "PodSpec.hostNetwork": _sup(),
    "PodSpec.hostPID": _sup(),
    "PodSpec.hostUsers": _rep("support:hostUsers"),
    "PodSpec.hostname": _sup(),
    "PodSpec.hostnameOverride": _IGN,
    "PodSpec.imagePullSecrets": _sup("kubernetes.io/dockerconfigjson Secrets' credentials "
                                     "are used for the pod's pulls (agent/images.py)"),
    "PodSpec.initContainers": _sup("init containers and native sidecars"),
    "PodSpec.nodeName": _sup("static pods and the API check it against the node"),
    "PodSpec.nodeSelector": _IGN,
    "PodSpec.os": _IGN,
    "PodSpec.overhead": _sup("added to the pod cgroup's requests and limits "
                             "(core/resources.py)"),
    "PodSpec.preemptionPolicy": _rep("support:preemptionPolicy"),
    "PodSpec.priority": _rep("support:priority"),
    "PodSpec.priorityClassName": _rep("support:priorityClassName"),
    "PodSpec.readinessGates": _rep("support:readinessGates"),
    "PodSpec.resourceClaims": _rep("support:resourceClaims"),
    "PodSpec.resources": _rep("support:resources"),
    "PodSpec.restartPolicy": _sup(),
    "PodSpec.runtimeClassName": _rep("support:runtimeClassName"),
    "PodSpec.schedulerName": _rep("support:schedulerName"),
    "PodSpec.schedulingGates": _rep("support:schedulingGates"),
    "PodSpec.schedulingGroup": _IGN,
    "PodSpec.securityContext": _sup(),
    "PodSpec.serviceAccount": _rep("support:serviceAccount"),
    "PodSpec.serviceAccountName": _rep("support:serviceAccountName"),
    "PodSpec.setHostnameAsFQDN": _sup(),
    "PodSpec.shareProcessNamespace": _sup(),
    "PodSpec.subdomain": _sup("hostname -f and /etc/hosts"),
    "PodSpec.terminationGracePeriodSeconds": _sup(),
    "PodSpec.tolerations": _rep("support:tolerations"),
    "PodSpec.topologySpreadConstraints": _rep("support:topologySpreadConstraints"),
    "PodSpec.volumes": _sup(),
    # Container
    "Container.imagePullPolicy": _sup(),
    "Container.resizePolicy": _rep("support-container:resizePolicy"),
    "Container.resources": _sup("cgroup values; ephemeral-storage limits not enforced"),
    "Container.restartPolicy": _sup("Always: native sidecar"),
    "Container.restartPolicyRules": _IGN,
    "Container.stdin": _sup("a stdin pipe"),
    "Container.stdinOnce": _IGN,
    "Container.tty": _IGN,
    "Container.volumeDevices": _IGN,
    "ResourceRequirements.claims": _rep("support-container:resources.claims"),
    "VolumeMount.bindMountOptions": _IGN,
    "VolumeMount.mountPropagation": _sup("None/HostToContainer/Bidirectional; the source "
                                         "is made a shared mount"),
    "VolumeMount.readOnly": _sup("not recursive"),
    "VolumeMount.recursiveReadOnly": _IGN,
    "VolumeMount.subPath": _sup("safe open (CVE-2017-1002101)"),
    # Security
    "SecurityContext.appArmorProfile": _rep(f"{_NOT_ENFORCED} unless Unconfined"),
    "SecurityContext.seLinuxOptions": _rep(_NOT_ENFORCED),
    "SecurityContext.windowsOptions": _na("Windows only: a Linux kubelet ignores it too"),
    "PodSecurityContext.appArmorProfile": _rep(f"{_NOT_ENFORCED} unless Unconfined"),
    "PodSecurityContext.seLinuxChangePolicy": _IGN,
    "PodSecurityContext.seLinuxOptions": _rep(_NOT_ENFORCED),
    "PodSecurityContext.supplementalGroupsPolicy": _sup(f"Strict: {_NOT_ENFORCED}"),
    "PodSecurityContext.windowsOptions": _na("Windows only: a Linux kubelet ignores it too"),
    # Probes and hooks
    "GRPCAction.mode": _IGN,
    "HTTPGetAction.protocol": _IGN,
    "LifecycleHandler.tcpSocket": _rep("the hook fails as the kubelet's: `Cannot run "
                                       "handler: invalid handler: tcpSocket`"),
    "Lifecycle.stopSignal": _sup(),
    # Env
    "EnvVarSource.fileKeyRef": _rep("CreateContainerConfigError `valueFrom.fileKeyRef is "
                                    "not supported by podrun`"),
    "ObjectFieldSelector.apiVersion": _sup("v1 only (validated)"),
    # Volumes
    "Volume.name": _sup(),
    "Volume.configMap": _sup("atomic writer, updates propagate"),
    "Volume.downwardAPI": _sup(),
    "Volume.emptyDir": _sup(),
    "Volume.hostPath": _sup("every type check"),
    "Volume.persistentVolumeClaim": _sup("a local directory under podrun's root"),
    "Volume.projected": _sup("configMap, secret, downwardAPI sources"),
    "Volume.secret": _sup("on tmpfs"),
    "EmptyDirVolumeSource.mode": _IGN,
    "EmptyDirVolumeSource.sizeLimit": _sup("Memory: tmpfs size. Disk: checked by "
                                           "agent/eviction.py (event `Evicted`) once the "
                                           "engine calls it"),
    "ConfigMapVolumeSource.defaultUser": _IGN,
    "SecretVolumeSource.defaultUser": _IGN,
    "DownwardAPIVolumeSource.defaultUser": _IGN,
    "ProjectedVolumeSource.defaultUser": _IGN,
    "KeyToPath.user": _IGN,
    "DownwardAPIVolumeFile.user": _IGN,
    "PersistentVolumeClaimVolumeSource.readOnly": _IGN,
    "VolumeProjection.clusterTrustBundle": _rep(_UNSUPPORTED_SOURCE),
    "VolumeProjection.podCertificate": _rep(_UNSUPPORTED_SOURCE),
    "VolumeProjection.serviceAccountToken": _rep(_UNSUPPORTED_SOURCE),
    # Status
    "PodStatus.allocatedResources": _na("not set: no in-place resize"),
    "PodStatus.conditions": _SET,
    "PodStatus.containerStatuses": _SET,
    "PodStatus.ephemeralContainerStatuses": _na("not set: no ephemeral containers"),
    "PodStatus.extendedResourceClaimStatus": _NOT_SET_DRA,
    "PodStatus.hostIP": _SET,
    "PodStatus.hostIPs": _SET,
    "PodStatus.initContainerStatuses": _SET,
    "PodStatus.message": _SET,
    "PodStatus.nodeAllocatableResourceClaimStatuses": _NOT_SET_DRA,
    "PodStatus.nominatedNodeName": _na("not set: no scheduler"),
    "PodStatus.observedGeneration": _na("not set"),
    "PodStatus.phase": _SET,
    "PodStatus.podIP": _SET,
    "PodStatus.podIPs": _SET,
    "PodStatus.qosClass": _SET,
    "PodStatus.reason": _SET,
    "PodStatus.resize": _na("not set: no in-place resize"),
    "PodStatus.resourceClaimStatuses": _NOT_SET_DRA,
    "PodStatus.resources": _na("not set: no in-place resize"),
    "PodStatus.startTime": _SET,
    "PodStatus.volumeHealth": _na("not set: volume health comes from CSI drivers"),
    "PodCondition.observedGeneration": _na("not set"),
    "ContainerStatus.allocatedResources": _na("not set: no in-place resize"),
    "ContainerStatus.allocatedResourcesStatus": _na("not set: no device plugins"),
    "ContainerStatus.containerID": _SET,
    "ContainerStatus.image": _SET,
    "ContainerStatus.imageID": _SET,
    "ContainerStatus.lastState": _SET,
    "ContainerStatus.name": _SET,
    "ContainerStatus.ready": _SET,
    "ContainerStatus.resources": _na("not set: no in-place resize"),
    "ContainerStatus.restartCount": _SET,
    "ContainerStatus.started": _SET,
    "ContainerStatus.state": _SET,
    "ContainerStatus.stopSignal": _na("not set"),
    "ContainerStatus.user": _na("not set (the user is resolved in the init helper)"),
    "ContainerStatus.volumeMounts": _na("not set"),
}

# Fields podrun.spec.support warns about although podrun acts on them (the warning should
# go): JSON path -> what reads the field.
STALE_WARNINGS: dict[str, str] = {}

# Warnings for the IGNORED fields, keyed by JSON path ("[*]" = every list item; a path
# under spec.containers[*] also applies to spec.initContainers[*]). Meant for
# podrun.spec.support (as FIELD_WARNINGS, with `proposed_warnings` as its walker).
PROPOSED_WARNINGS: dict[str, str] = {}  # all merged into support.FIELD_WARNINGS

# Which PROPOSED_WARNINGS entry speaks for each IGNORED row (row path -> key) when the
# row's path is not itself a key (classes listed once, used at several paths).
_PROPOSED_FOR: dict[str, str] = {
    "spec.evictionResponders[*]": "spec.evictionResponders",
    "spec.os": "spec.os",
    "spec.schedulingGroup": "spec.schedulingGroup",
    "spec.containers[*].restartPolicyRules[*]": "spec.containers[*].restartPolicyRules",
    "spec.containers[*].volumeDevices[*]": "spec.containers[*].volumeDevices",
    "spec.containers[*].restartPolicyRules[*].exitCodes":
        "spec.containers[*].restartPolicyRules",
}


# ---- the walk ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    cls: str  # model class name
    field: str  # JSON name
    path: str  # JSON path of the first occurrence ("[*]": list items)
    status: str
    note: str


def _model_classes(tp: Any) -> list[type]:
    out: list[type] = []
    for arg in typing.get_args(tp):
        out += _model_classes(arg)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        out.append(tp)
    return out


def _is_list(tp: Any) -> bool:
    """tuple[X, ...] or tuple[X, ...] | None: a JSON list."""
    if typing.get_origin(tp) is tuple:
        return True
    return any(typing.get_origin(a) is tuple for a in typing.get_args(tp))


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(T))


Fields = list[tuple[str, str, Any]]  # (attribute, JSON name, type)


def walk() -> list[tuple[type, str, str, Fields]]:
    """(class, its first JSON path, the `Class.field` that first reached it, fields),
    depth first from Pod, fields in declaration order."""
    seen: set[type] = set()
    out: list[tuple[type, str, str, Fields]] = []

    def visit(cls: type, path: str, via: str) -> None:
        if cls in seen:
            return
        seen.add(cls)
        hints = _hints(cls)
        flds = [(fl.name, str(fl.metadata["json"]), hints[fl.name])
                for fl in dataclasses.fields(cls)]
        out.append((cls, path, via, flds))
        for _attr, js, tp in flds:
            sub = f"{path}.{js}" if path else js
            if _is_list(tp):
                sub += "[*]"
            for c in _model_classes(tp):
                visit(c, sub, f"{cls.__name__}.{js}")

    visit(T.Pod, "", "")
    return out


def referrers() -> dict[str, list[str]]:
    """Class name -> the `Class.field` entries whose type holds it."""
    refs: dict[str, list[str]] = {}
    for cls, _path, _via, flds in walk():
        for _attr, js, tp in flds:
            for c in _model_classes(tp):
                refs.setdefault(c.__name__, []).append(f"{cls.__name__}.{js}")
    return refs


def _support_warning(path: str) -> str | None:
    """The warning podrun.spec.support gives for a JSON path, if any."""
    extra: Mapping[str, str] = getattr(support, "FIELD_WARNINGS", {})
    if path in extra:
        return extra[path]
    if path.startswith("spec.") and path[5:] in support.POD_FIELDS:
        return support.POD_FIELDS[path[5:]]
    for group in ("spec.containers[*].", "spec.initContainers[*]."):
        if path.startswith(group) and path[len(group):] in support.CONTAINER_FIELDS:
            return support.CONTAINER_FIELDS[path[len(group):]]
    return None


def _resolve(note: str) -> str:
    if note.startswith("support:"):
        key = note.split(":", 1)[1]
        return f"warning (`spec.{key}`): {support.POD_FIELDS[key]}"
    if note.startswith("support-container:"):
        key = note.split(":", 1)[1]
        return (f"warning (`spec.containers[*].{key}`): {support.CONTAINER_FIELDS[key]}")
    return note


def rule_for(cls: str, field: str) -> Rule | None:
    return FIELD_RULES.get(f"{cls}.{field}") or CLASS_RULES.get(cls)


def rows() -> list[Row]:
    out = []
    for cls, path, _via, flds in walk():
        for _attr, js, _tp in flds:
            fpath = f"{path}.{js}" if path else js
            rule = rule_for(cls.__name__, js)
            if rule is None:
                raise KeyError(f"no support decision for {cls.__name__}.{js} ({fpath})")
            status, note = rule
            if status == IGNORED:
                key = fpath if fpath in PROPOSED_WARNINGS else _PROPOSED_FOR.get(path, fpath)
                warned = _support_warning(key)
                if warned is not None:
                    status, note = REPORTED, f"warning: {warned}"
                else:
                    note = "no warning yet"
            elif status == REPORTED:
                note = _resolve(note)
            out.append(Row(cls.__name__, js, fpath, status, note))
    return out


def render() -> str:
    rs = rows()
    refs = referrers()
    first = {cls.__name__: (path, via) for cls, path, via, _ in walk()}
    counts: dict[str, int] = {}
    for r in rs:
        counts[r.status] = counts.get(r.status, 0) + 1
    lines = [
        "# Pod field support",
        "",
        "Generated by `podrun/spec/support_table.py` (`.venv/bin/python -m "
        "podrun.spec.support_table > docs/support.md`);",
        "`tests/unit/spec/test_support_table.py` fails when this file is stale. Every field",
        "of the model (`podrun/spec/types.py`) appears once, under the first JSON path that",
        "reaches its type; the other places a type is used are named under its heading.",
        "",
        "- **supported**: podrun acts on it (notes say where it is partial).",
        "- **reported**: parsed, not acted on, and the user is told: the warning of "
        "`podrun validate`/`apply`",
        "  (podrun/spec/support.py) or the event named.",
        "- **n/a**: no meaning on one host without a control plane, or status podrun does "
        "not set.",
        "- **IGNORED**: nothing reads it and nothing warns yet (a bug by DESIGN.md 7.5); the "
        "proposed warning is",
        "  in `PROPOSED_WARNINGS`.",
        "",
        "Totals: " + ", ".join(f"{k} {counts[k]}" for k in
                               (SUPPORTED, REPORTED, NOT_APPLICABLE, IGNORED) if k in counts)
        + f" ({len(rs)} fields).",
    ]
    current = None
    for r in rs:
        if r.cls != current:
            current = r.cls
            path, via = first[r.cls]
            lines += ["", f"## {r.cls}", ""]
            if path:
                lines.append(f"At `{path}`.")
            others = [x for x in refs.get(r.cls, []) if x != via]
            if others:
                lines.append("Also in: " + ", ".join(f"`{o}`" for o in others) + ".")
            if path or others:
                lines.append("")
            lines += ["| field | status | notes |", "|---|---|---|"]
        note = r.note.replace("|", "\\|")
        lines.append(f"| `{r.path}` | {r.status} | {note} |")
    return "\n".join(lines) + "\n"


# ---- the proposed warnings, as podrun.spec.support would run them ----------------------


def proposed_warnings(pod: T.Pod) -> list[FieldError]:
    """Nothing is left to propose: support.FIELD_WARNINGS holds every warning."""
    del pod
    return []


def main(argv: list[str]) -> int:
    del argv
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
