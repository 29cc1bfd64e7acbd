"""The core/v1 object model: Pod (spec and status), ConfigMap and Secret as frozen dataclasses.

Class names are the Go type names; attributes are snake_case and carry their JSON name in
``metadata["json"]``. Every field is optional (None = absent) so a manifest with problems
still decodes and validation can report each problem at its path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Generic, NewType, TypeAlias, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V], Generic[K, V]):
    """A read-only, hashable dict for the model's maps (labels, limits, ConfigMap data)."""

    __slots__ = ("_d", "_h")

    def __init__(self, items: Mapping[K, V] | None = None) -> None:
        self._d: dict[K, V] = dict(items) if items else {}
        self._h: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._d[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __hash__(self) -> int:
        if self._h is None:
            self._h = hash(frozenset(self._d.items()))
        return self._h

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._d == other._d
        if isinstance(other, Mapping):
            return self._d == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._d!r})"

    def to_dict(self) -> dict[K, V]:
        return dict(self._d)


# A resource.Quantity in its string form ("100m", "1Gi", "0.5"); grammar checked by quantity.py.
Quantity = NewType("Quantity", str)
# intstr.IntOrString: a port number or a port name.
IntOrString: TypeAlias = int | str
StrMap: TypeAlias = FrozenMap[str, str]
# ResourceList: resource name -> quantity.
ResourceList: TypeAlias = FrozenMap[str, Quantity]
# metav1.Time, kept as its RFC 3339 string.
Time: TypeAlias = str


class JSON:
    """Free-form JSON (ManagedFieldsEntry.fieldsV1), frozen: maps as FrozenMap, lists as tuples."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JSON) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"JSON({self.value!r})"


def f(json: str) -> Any:
    """An optional field whose JSON name is ``json``."""
    return field(default=None, metadata={"json": json})


@cache
def json_names(cls: type) -> Mapping[str, str]:
    """Attribute name -> JSON name for a model class."""
    return {fl.name: fl.metadata["json"] for fl in fields(cls)}


@dataclass(frozen=True, slots=True, kw_only=True)
class ManagedFieldsEntry:
    """core/v1 ManagedFieldsEntry."""

    api_version: str | None = f("apiVersion")
    fields_type: str | None = f("fieldsType")
    fields_v1: JSON | None = f("fieldsV1")
    manager: str | None = f("manager")
    operation: str | None = f("operation")
    subresource: str | None = f("subresource")
    time: Time | None = f("time")


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnerReference:
    """core/v1 OwnerReference."""

    api_version: str | None = f("apiVersion")
    block_owner_deletion: bool | None = f("blockOwnerDeletion")
    controller: bool | None = f("controller")
    kind: str | None = f("kind")
    name: str | None = f("name")
    uid: str | None = f("uid")


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectMeta:
    """core/v1 ObjectMeta."""

    annotations: StrMap | None = f("annotations")
    creation_timestamp: Time | None = f("creationTimestamp")
    deletion_grace_period_seconds: int | None = f("deletionGracePeriodSeconds")
    deletion_timestamp: Time | None = f("deletionTimestamp")
    finalizers: tuple[str, ...] | None = f("finalizers")
    generate_name: str | None = f("generateName")
    generation: int | None = f("generation")
    labels: StrMap | None = f("labels")
    managed_fields: tuple[ManagedFieldsEntry, ...] | None = f("managedFields")
    name: str | None = f("name")
    namespace: str | None = f("namespace")
    owner_references: tuple[OwnerReference, ...] | None = f("ownerReferences")
    resource_version: str | None = f("resourceVersion")
    self_link: str | None = f("selfLink")
    uid: str | None = f("uid")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSelectorRequirement:
    """core/v1 NodeSelectorRequirement."""

    key: str | None = f("key")
    operator: str | None = f("operator")
    values: tuple[str, ...] | None = f("values")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSelectorTerm:
    """core/v1 NodeSelectorTerm."""

    match_expressions: tuple[NodeSelectorRequirement, ...] | None = f("matchExpressions")
    match_fields: tuple[NodeSelectorRequirement, ...] | None = f("matchFields")


@dataclass(frozen=True, slots=True, kw_only=True)
class PreferredSchedulingTerm:
    """core/v1 PreferredSchedulingTerm."""

    preference: NodeSelectorTerm | None = f("preference")
    weight: int | None = f("weight")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSelector:
    """core/v1 NodeSelector."""

    node_selector_terms: tuple[NodeSelectorTerm, ...] | None = f("nodeSelectorTerms")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeAffinity:
    """core/v1 NodeAffinity."""

    preferred_during_scheduling_ignored_during_execution: (
        tuple[PreferredSchedulingTerm, ...] | None
    ) = f("preferredDuringSchedulingIgnoredDuringExecution")
    required_during_scheduling_ignored_during_execution: NodeSelector | None = f(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelSelectorRequirement:
    """core/v1 LabelSelectorRequirement."""

    key: str | None = f("key")
    operator: str | None = f("operator")
    values: tuple[str, ...] | None = f("values")


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelSelector:
    """core/v1 LabelSelector."""

    match_expressions: tuple[LabelSelectorRequirement, ...] | None = f("matchExpressions")
    match_labels: StrMap | None = f("matchLabels")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodAffinityTerm:
    """core/v1 PodAffinityTerm."""

    label_selector: LabelSelector | None = f("labelSelector")
    match_label_keys: tuple[str, ...] | None = f("matchLabelKeys")
    mismatch_label_keys: tuple[str, ...] | None = f("mismatchLabelKeys")
    namespace_selector: LabelSelector | None = f("namespaceSelector")
    namespaces: tuple[str, ...] | None = f("namespaces")
    topology_key: str | None = f("topologyKey")


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightedPodAffinityTerm:
    """core/v1 WeightedPodAffinityTerm."""

    pod_affinity_term: PodAffinityTerm | None = f("podAffinityTerm")
    weight: int | None = f("weight")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodAffinity:
    """core/v1 PodAffinity."""

    preferred_during_scheduling_ignored_during_execution: (
        tuple[WeightedPodAffinityTerm, ...] | None
    ) = f("preferredDuringSchedulingIgnoredDuringExecution")
    required_during_scheduling_ignored_during_execution: tuple[PodAffinityTerm, ...] | None = f(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PodAntiAffinity:
    """core/v1 PodAntiAffinity."""

    preferred_during_scheduling_ignored_during_execution: (
        tuple[WeightedPodAffinityTerm, ...] | None
    ) = f("preferredDuringSchedulingIgnoredDuringExecution")
    required_during_scheduling_ignored_during_execution: tuple[PodAffinityTerm, ...] | None = f(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Affinity:
    """core/v1 Affinity."""

    node_affinity: NodeAffinity | None = f("nodeAffinity")
    pod_affinity: PodAffinity | None = f("podAffinity")
    pod_anti_affinity: PodAntiAffinity | None = f("podAntiAffinity")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigMapKeySelector:
    """core/v1 ConfigMapKeySelector."""

    key: str | None = f("key")
    name: str | None = f("name")
    optional: bool | None = f("optional")


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectFieldSelector:
    """core/v1 ObjectFieldSelector."""

    api_version: str | None = f("apiVersion")
    field_path: str | None = f("fieldPath")


@dataclass(frozen=True, slots=True, kw_only=True)
class FileKeySelector:
    """core/v1 FileKeySelector."""

    key: str | None = f("key")
    optional: bool | None = f("optional")
    path: str | None = f("path")
    volume_name: str | None = f("volumeName")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceFieldSelector:
    """core/v1 ResourceFieldSelector."""

    container_name: str | None = f("containerName")
    divisor: Quantity | None = f("divisor")
    resource: str | None = f("resource")


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretKeySelector:
    """core/v1 SecretKeySelector."""

    key: str | None = f("key")
    name: str | None = f("name")
    optional: bool | None = f("optional")


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvVarSource:
    """core/v1 EnvVarSource."""

    config_map_key_ref: ConfigMapKeySelector | None = f("configMapKeyRef")
    field_ref: ObjectFieldSelector | None = f("fieldRef")
    file_key_ref: FileKeySelector | None = f("fileKeyRef")
    resource_field_ref: ResourceFieldSelector | None = f("resourceFieldRef")
    secret_key_ref: SecretKeySelector | None = f("secretKeyRef")


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvVar:
    """core/v1 EnvVar."""

    name: str | None = f("name")
    value: str | None = f("value")
    value_from: EnvVarSource | None = f("valueFrom")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigMapEnvSource:
    """core/v1 ConfigMapEnvSource."""

    name: str | None = f("name")
    optional: bool | None = f("optional")


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretEnvSource:
    """core/v1 SecretEnvSource."""

    name: str | None = f("name")
    optional: bool | None = f("optional")


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvFromSource:
    """core/v1 EnvFromSource."""

    config_map_ref: ConfigMapEnvSource | None = f("configMapRef")
    prefix: str | None = f("prefix")
    secret_ref: SecretEnvSource | None = f("secretRef")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecAction:
    """core/v1 ExecAction."""

    command: tuple[str, ...] | None = f("command")


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPHeader:
    """core/v1 HTTPHeader."""

    name: str | None = f("name")
    value: str | None = f("value")


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPGetAction:
    """core/v1 HTTPGetAction."""

    host: str | None = f("host")
    http_headers: tuple[HTTPHeader, ...] | None = f("httpHeaders")
    path: str | None = f("path")
    port: IntOrString | None = f("port")
    protocol: str | None = f("protocol")
    scheme: str | None = f("scheme")


@dataclass(frozen=True, slots=True, kw_only=True)
class SleepAction:
    """core/v1 SleepAction."""

    seconds: int | None = f("seconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class TCPSocketAction:
    """core/v1 TCPSocketAction."""

    host: str | None = f("host")
    port: IntOrString | None = f("port")


@dataclass(frozen=True, slots=True, kw_only=True)
class LifecycleHandler:
    """core/v1 LifecycleHandler."""

    exec: ExecAction | None = f("exec")
    http_get: HTTPGetAction | None = f("httpGet")
    sleep: SleepAction | None = f("sleep")
    tcp_socket: TCPSocketAction | None = f("tcpSocket")


@dataclass(frozen=True, slots=True, kw_only=True)
class Lifecycle:
    """core/v1 Lifecycle."""

    post_start: LifecycleHandler | None = f("postStart")
    pre_stop: LifecycleHandler | None = f("preStop")
    stop_signal: str | None = f("stopSignal")


@dataclass(frozen=True, slots=True, kw_only=True)
class GRPCAction:
    """core/v1 GRPCAction."""

    mode: str | None = f("mode")
    port: int | None = f("port")
    service: str | None = f("service")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeHandler:
    """The action a probe takes; exactly one of its fields is set (Go: ProbeHandler, inlined in Probe)."""

    exec: ExecAction | None = f("exec")
    grpc: GRPCAction | None = f("grpc")
    http_get: HTTPGetAction | None = f("httpGet")
    tcp_socket: TCPSocketAction | None = f("tcpSocket")


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe(ProbeHandler):
    """A health check on a container (Go: Probe, with ProbeHandler inlined)."""

    failure_threshold: int | None = f("failureThreshold")
    initial_delay_seconds: int | None = f("initialDelaySeconds")
    period_seconds: int | None = f("periodSeconds")
    success_threshold: int | None = f("successThreshold")
    termination_grace_period_seconds: int | None = f("terminationGracePeriodSeconds")
    timeout_seconds: int | None = f("timeoutSeconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerPort:
    """core/v1 ContainerPort."""

    container_port: int | None = f("containerPort")
    host_ip: str | None = f("hostIP")
    host_port: int | None = f("hostPort")
    name: str | None = f("name")
    protocol: str | None = f("protocol")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerResizePolicy:
    """core/v1 ContainerResizePolicy."""

    resource_name: str | None = f("resourceName")
    restart_policy: str | None = f("restartPolicy")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceClaim:
    """core/v1 ResourceClaim."""

    name: str | None = f("name")
    request: str | None = f("request")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceRequirements:
    """core/v1 ResourceRequirements."""

    claims: tuple[ResourceClaim, ...] | None = f("claims")
    limits: ResourceList | None = f("limits")
    requests: ResourceList | None = f("requests")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerRestartRuleOnExitCodes:
    """core/v1 ContainerRestartRuleOnExitCodes."""

    operator: str | None = f("operator")
    values: tuple[int, ...] | None = f("values")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerRestartRule:
    """core/v1 ContainerRestartRule."""

    action: str | None = f("action")
    exit_codes: ContainerRestartRuleOnExitCodes | None = f("exitCodes")


@dataclass(frozen=True, slots=True, kw_only=True)
class AppArmorProfile:
    """core/v1 AppArmorProfile."""

    localhost_profile: str | None = f("localhostProfile")
    type: str | None = f("type")


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """core/v1 Capabilities."""

    add: tuple[str, ...] | None = f("add")
    drop: tuple[str, ...] | None = f("drop")


@dataclass(frozen=True, slots=True, kw_only=True)
class SELinuxOptions:
    """core/v1 SELinuxOptions."""

    level: str | None = f("level")
    role: str | None = f("role")
    type: str | None = f("type")
    user: str | None = f("user")


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccompProfile:
    """core/v1 SeccompProfile."""

    localhost_profile: str | None = f("localhostProfile")
    type: str | None = f("type")


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowsSecurityContextOptions:
    """core/v1 WindowsSecurityContextOptions."""

    gmsa_credential_spec: str | None = f("gmsaCredentialSpec")
    gmsa_credential_spec_name: str | None = f("gmsaCredentialSpecName")
    host_process: bool | None = f("hostProcess")
    run_as_user_name: str | None = f("runAsUserName")


@dataclass(frozen=True, slots=True, kw_only=True)
class SecurityContext:
    """core/v1 SecurityContext."""

    allow_privilege_escalation: bool | None = f("allowPrivilegeEscalation")
    app_armor_profile: AppArmorProfile | None = f("appArmorProfile")
    capabilities: Capabilities | None = f("capabilities")
    privileged: bool | None = f("privileged")
    proc_mount: str | None = f("procMount")
    read_only_root_filesystem: bool | None = f("readOnlyRootFilesystem")
    run_as_group: int | None = f("runAsGroup")
    run_as_non_root: bool | None = f("runAsNonRoot")
    run_as_user: int | None = f("runAsUser")
    se_linux_options: SELinuxOptions | None = f("seLinuxOptions")
    seccomp_profile: SeccompProfile | None = f("seccompProfile")
    windows_options: WindowsSecurityContextOptions | None = f("windowsOptions")


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeDevice:
    """core/v1 VolumeDevice."""

    device_path: str | None = f("devicePath")
    name: str | None = f("name")


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeMount:
    """core/v1 VolumeMount."""

    bind_mount_options: tuple[str, ...] | None = f("bindMountOptions")
    mount_path: str | None = f("mountPath")
    mount_propagation: str | None = f("mountPropagation")
    name: str | None = f("name")
    read_only: bool | None = f("readOnly")
    recursive_read_only: str | None = f("recursiveReadOnly")
    sub_path: str | None = f("subPath")
    sub_path_expr: str | None = f("subPathExpr")


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    """core/v1 Container."""

    args: tuple[str, ...] | None = f("args")
    command: tuple[str, ...] | None = f("command")
    env: tuple[EnvVar, ...] | None = f("env")
    env_from: tuple[EnvFromSource, ...] | None = f("envFrom")
    image: str | None = f("image")
    image_pull_policy: str | None = f("imagePullPolicy")
    lifecycle: Lifecycle | None = f("lifecycle")
    liveness_probe: Probe | None = f("livenessProbe")
    name: str | None = f("name")
    ports: tuple[ContainerPort, ...] | None = f("ports")
    readiness_probe: Probe | None = f("readinessProbe")
    resize_policy: tuple[ContainerResizePolicy, ...] | None = f("resizePolicy")
    resources: ResourceRequirements | None = f("resources")
    restart_policy: str | None = f("restartPolicy")
    restart_policy_rules: tuple[ContainerRestartRule, ...] | None = f("restartPolicyRules")
    security_context: SecurityContext | None = f("securityContext")
    startup_probe: Probe | None = f("startupProbe")
    stdin: bool | None = f("stdin")
    stdin_once: bool | None = f("stdinOnce")
    termination_message_path: str | None = f("terminationMessagePath")
    termination_message_policy: str | None = f("terminationMessagePolicy")
    tty: bool | None = f("tty")
    volume_devices: tuple[VolumeDevice, ...] | None = f("volumeDevices")
    volume_mounts: tuple[VolumeMount, ...] | None = f("volumeMounts")
    working_dir: str | None = f("workingDir")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodDNSConfigOption:
    """core/v1 PodDNSConfigOption."""

    name: str | None = f("name")
    value: str | None = f("value")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodDNSConfig:
    """core/v1 PodDNSConfig."""

    nameservers: tuple[str, ...] | None = f("nameservers")
    options: tuple[PodDNSConfigOption, ...] | None = f("options")
    searches: tuple[str, ...] | None = f("searches")


@dataclass(frozen=True, slots=True, kw_only=True)
class EphemeralContainer:
    """core/v1 EphemeralContainer."""

    args: tuple[str, ...] | None = f("args")
    command: tuple[str, ...] | None = f("command")
    env: tuple[EnvVar, ...] | None = f("env")
    env_from: tuple[EnvFromSource, ...] | None = f("envFrom")
    image: str | None = f("image")
    image_pull_policy: str | None = f("imagePullPolicy")
    lifecycle: Lifecycle | None = f("lifecycle")
    liveness_probe: Probe | None = f("livenessProbe")
    name: str | None = f("name")
    ports: tuple[ContainerPort, ...] | None = f("ports")
    readiness_probe: Probe | None = f("readinessProbe")
    resize_policy: tuple[ContainerResizePolicy, ...] | None = f("resizePolicy")
    resources: ResourceRequirements | None = f("resources")
    restart_policy: str | None = f("restartPolicy")
    restart_policy_rules: tuple[ContainerRestartRule, ...] | None = f("restartPolicyRules")
    security_context: SecurityContext | None = f("securityContext")
    startup_probe: Probe | None = f("startupProbe")
    stdin: bool | None = f("stdin")
    stdin_once: bool | None = f("stdinOnce")
    target_container_name: str | None = f("targetContainerName")
    termination_message_path: str | None = f("terminationMessagePath")
    termination_message_policy: str | None = f("terminationMessagePolicy")
    tty: bool | None = f("tty")
    volume_devices: tuple[VolumeDevice, ...] | None = f("volumeDevices")
    volume_mounts: tuple[VolumeMount, ...] | None = f("volumeMounts")
    working_dir: str | None = f("workingDir")


@dataclass(frozen=True, slots=True, kw_only=True)
class EvictionResponder:
    """core/v1 EvictionResponder."""

    name: str | None = f("name")
    priority: int | None = f("priority")


@dataclass(frozen=True, slots=True, kw_only=True)
class HostAlias:
    """core/v1 HostAlias."""

    hostnames: tuple[str, ...] | None = f("hostnames")
    ip: str | None = f("ip")


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalObjectReference:
    """core/v1 LocalObjectReference."""

    name: str | None = f("name")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodOS:
    """core/v1 PodOS."""

    name: str | None = f("name")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodReadinessGate:
    """core/v1 PodReadinessGate."""

    condition_type: str | None = f("conditionType")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodResourceClaim:
    """core/v1 PodResourceClaim."""

    name: str | None = f("name")
    resource_claim_name: str | None = f("resourceClaimName")
    resource_claim_template_name: str | None = f("resourceClaimTemplateName")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodSchedulingGate:
    """core/v1 PodSchedulingGate."""

    name: str | None = f("name")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodSchedulingGroup:
    """core/v1 PodSchedulingGroup."""

    pod_group_name: str | None = f("podGroupName")


@dataclass(frozen=True, slots=True, kw_only=True)
class Sysctl:
    """core/v1 Sysctl."""

    name: str | None = f("name")
    value: str | None = f("value")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodSecurityContext:
    """core/v1 PodSecurityContext."""

    app_armor_profile: AppArmorProfile | None = f("appArmorProfile")
    fs_group: int | None = f("fsGroup")
    fs_group_change_policy: str | None = f("fsGroupChangePolicy")
    run_as_group: int | None = f("runAsGroup")
    run_as_non_root: bool | None = f("runAsNonRoot")
    run_as_user: int | None = f("runAsUser")
    se_linux_change_policy: str | None = f("seLinuxChangePolicy")
    se_linux_options: SELinuxOptions | None = f("seLinuxOptions")
    seccomp_profile: SeccompProfile | None = f("seccompProfile")
    supplemental_groups: tuple[int, ...] | None = f("supplementalGroups")
    supplemental_groups_policy: str | None = f("supplementalGroupsPolicy")
    sysctls: tuple[Sysctl, ...] | None = f("sysctls")
    windows_options: WindowsSecurityContextOptions | None = f("windowsOptions")


@dataclass(frozen=True, slots=True, kw_only=True)
class Toleration:
    """core/v1 Toleration."""

    effect: str | None = f("effect")
    key: str | None = f("key")
    operator: str | None = f("operator")
    toleration_seconds: int | None = f("tolerationSeconds")
    value: str | None = f("value")


@dataclass(frozen=True, slots=True, kw_only=True)
class TopologySpreadConstraint:
    """core/v1 TopologySpreadConstraint."""

    label_selector: LabelSelector | None = f("labelSelector")
    match_label_keys: tuple[str, ...] | None = f("matchLabelKeys")
    max_skew: int | None = f("maxSkew")
    min_domains: int | None = f("minDomains")
    node_affinity_policy: str | None = f("nodeAffinityPolicy")
    node_taints_policy: str | None = f("nodeTaintsPolicy")
    topology_key: str | None = f("topologyKey")
    when_unsatisfiable: str | None = f("whenUnsatisfiable")


@dataclass(frozen=True, slots=True, kw_only=True)
class AWSElasticBlockStoreVolumeSource:
    """core/v1 AWSElasticBlockStoreVolumeSource."""

    fs_type: str | None = f("fsType")
    partition: int | None = f("partition")
    read_only: bool | None = f("readOnly")
    volume_id: str | None = f("volumeID")


@dataclass(frozen=True, slots=True, kw_only=True)
class AzureDiskVolumeSource:
    """core/v1 AzureDiskVolumeSource."""

    caching_mode: str | None = f("cachingMode")
    disk_name: str | None = f("diskName")
    disk_uri: str | None = f("diskURI")
    fs_type: str | None = f("fsType")
    kind: str | None = f("kind")
    read_only: bool | None = f("readOnly")


@dataclass(frozen=True, slots=True, kw_only=True)
class AzureFileVolumeSource:
    """core/v1 AzureFileVolumeSource."""

    read_only: bool | None = f("readOnly")
    secret_name: str | None = f("secretName")
    share_name: str | None = f("shareName")


@dataclass(frozen=True, slots=True, kw_only=True)
class CephFSVolumeSource:
    """core/v1 CephFSVolumeSource."""

    monitors: tuple[str, ...] | None = f("monitors")
    path: str | None = f("path")
    read_only: bool | None = f("readOnly")
    secret_file: str | None = f("secretFile")
    secret_ref: LocalObjectReference | None = f("secretRef")
    user: str | None = f("user")


@dataclass(frozen=True, slots=True, kw_only=True)
class CinderVolumeSource:
    """core/v1 CinderVolumeSource."""

    fs_type: str | None = f("fsType")
    read_only: bool | None = f("readOnly")
    secret_ref: LocalObjectReference | None = f("secretRef")
    volume_id: str | None = f("volumeID")


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyToPath:
    """core/v1 KeyToPath."""

    key: str | None = f("key")
    mode: int | None = f("mode")
    path: str | None = f("path")
    user: int | None = f("user")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigMapVolumeSource:
    """core/v1 ConfigMapVolumeSource."""

    default_mode: int | None = f("defaultMode")
    default_user: int | None = f("defaultUser")
    items: tuple[KeyToPath, ...] | None = f("items")
    name: str | None = f("name")
    optional: bool | None = f("optional")


@dataclass(frozen=True, slots=True, kw_only=True)
class CSIVolumeSource:
    """core/v1 CSIVolumeSource."""

    driver: str | None = f("driver")
    fs_type: str | None = f("fsType")
    node_publish_secret_ref: LocalObjectReference | None = f("nodePublishSecretRef")
    read_only: bool | None = f("readOnly")
    volume_attributes: StrMap | None = f("volumeAttributes")


@dataclass(frozen=True, slots=True, kw_only=True)
class DownwardAPIVolumeFile:
    """core/v1 DownwardAPIVolumeFile."""

    field_ref: ObjectFieldSelector | None = f("fieldRef")
    mode: int | None = f("mode")
    path: str | None = f("path")
    resource_field_ref: ResourceFieldSelector | None = f("resourceFieldRef")
    user: int | None = f("user")


@dataclass(frozen=True, slots=True, kw_only=True)
class DownwardAPIVolumeSource:
    """core/v1 DownwardAPIVolumeSource."""

    default_mode: int | None = f("defaultMode")
    default_user: int | None = f("defaultUser")
    items: tuple[DownwardAPIVolumeFile, ...] | None = f("items")


@dataclass(frozen=True, slots=True, kw_only=True)
class EmptyDirVolumeSource:
    """core/v1 EmptyDirVolumeSource."""

    medium: str | None = f("medium")
    mode: int | None = f("mode")
    size_limit: Quantity | None = f("sizeLimit")


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedLocalObjectReference:
    """core/v1 TypedLocalObjectReference."""

    api_group: str | None = f("apiGroup")
    kind: str | None = f("kind")
    name: str | None = f("name")


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedObjectReference:
    """core/v1 TypedObjectReference."""

    api_group: str | None = f("apiGroup")
    kind: str | None = f("kind")
    name: str | None = f("name")
    namespace: str | None = f("namespace")


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeResourceRequirements:
    """core/v1 VolumeResourceRequirements."""

    limits: ResourceList | None = f("limits")
    requests: ResourceList | None = f("requests")


@dataclass(frozen=True, slots=True, kw_only=True)
class PersistentVolumeClaimSpec:
    """core/v1 PersistentVolumeClaimSpec."""

    access_modes: tuple[str, ...] | None = f("accessModes")
    data_source: TypedLocalObjectReference | None = f("dataSource")
    data_source_ref: TypedObjectReference | None = f("dataSourceRef")
    resources: VolumeResourceRequirements | None = f("resources")
    selector: LabelSelector | None = f("selector")
    storage_class_name: str | None = f("storageClassName")
    volume_attributes_class_name: str | None = f("volumeAttributesClassName")
    volume_mode: str | None = f("volumeMode")
    volume_name: str | None = f("volumeName")


@dataclass(frozen=True, slots=True, kw_only=True)
class PersistentVolumeClaimTemplate:
    """core/v1 PersistentVolumeClaimTemplate."""

    metadata: ObjectMeta | None = f("metadata")
    spec: PersistentVolumeClaimSpec | None = f("spec")


@dataclass(frozen=True, slots=True, kw_only=True)
class EphemeralVolumeSource:
    """core/v1 EphemeralVolumeSource."""

    volume_claim_template: PersistentVolumeClaimTemplate | None = f("volumeClaimTemplate")


@dataclass(frozen=True, slots=True, kw_only=True)
class FCVolumeSource:
    """core/v1 FCVolumeSource."""

    fs_type: str | None = f("fsType")
    lun: int | None = f("lun")
    read_only: bool | None = f("readOnly")
    target_wwns: tuple[str, ...] | None = f("targetWWNs")
    wwids: tuple[str, ...] | None = f("wwids")


@dataclass(frozen=True, slots=True, kw_only=True)
class FlexVolumeSource:
    """core/v1 FlexVolumeSource."""

    driver: str | None = f("driver")
    fs_type: str | None = f("fsType")
    options: StrMap | None = f("options")
    read_only: bool | None = f("readOnly")
    secret_ref: LocalObjectReference | None = f("secretRef")


@dataclass(frozen=True, slots=True, kw_only=True)
class FlockerVolumeSource:
    """core/v1 FlockerVolumeSource."""

    dataset_name: str | None = f("datasetName")
    dataset_uuid: str | None = f("datasetUUID")


@dataclass(frozen=True, slots=True, kw_only=True)
class GCEPersistentDiskVolumeSource:
    """core/v1 GCEPersistentDiskVolumeSource."""

    fs_type: str | None = f("fsType")
    partition: int | None = f("partition")
    pd_name: str | None = f("pdName")
    read_only: bool | None = f("readOnly")


@dataclass(frozen=True, slots=True, kw_only=True)
class GitRepoVolumeSource:
    """core/v1 GitRepoVolumeSource."""

    directory: str | None = f("directory")
    repository: str | None = f("repository")
    revision: str | None = f("revision")


@dataclass(frozen=True, slots=True, kw_only=True)
class GlusterfsVolumeSource:
    """core/v1 GlusterfsVolumeSource."""

    endpoints: str | None = f("endpoints")
    path: str | None = f("path")
    read_only: bool | None = f("readOnly")


@dataclass(frozen=True, slots=True, kw_only=True)
class HostPathVolumeSource:
    """core/v1 HostPathVolumeSource."""

    path: str | None = f("path")
    type: str | None = f("type")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageVolumeSource:
    """core/v1 ImageVolumeSource."""

    pull_policy: str | None = f("pullPolicy")
    reference: str | None = f("reference")


@dataclass(frozen=True, slots=True, kw_only=True)
class ISCSIVolumeSource:
    """core/v1 ISCSIVolumeSource."""

    chap_auth_discovery: bool | None = f("chapAuthDiscovery")
    chap_auth_session: bool | None = f("chapAuthSession")
    fs_type: str | None = f("fsType")
    initiator_name: str | None = f("initiatorName")
    iqn: str | None = f("iqn")
    iscsi_interface: str | None = f("iscsiInterface")
    lun: int | None = f("lun")
    portals: tuple[str, ...] | None = f("portals")
    read_only: bool | None = f("readOnly")
    secret_ref: LocalObjectReference | None = f("secretRef")
    target_portal: str | None = f("targetPortal")


@dataclass(frozen=True, slots=True, kw_only=True)
class NFSVolumeSource:
    """core/v1 NFSVolumeSource."""

    path: str | None = f("path")
    read_only: bool | None = f("readOnly")
    server: str | None = f("server")


@dataclass(frozen=True, slots=True, kw_only=True)
class PersistentVolumeClaimVolumeSource:
    """core/v1 PersistentVolumeClaimVolumeSource."""

    claim_name: str | None = f("claimName")
    read_only: bool | None = f("readOnly")


@dataclass(frozen=True, slots=True, kw_only=True)
class PhotonPersistentDiskVolumeSource:
    """core/v1 PhotonPersistentDiskVolumeSource."""

    fs_type: str | None = f("fsType")
    pd_id: str | None = f("pdID")


@dataclass(frozen=True, slots=True, kw_only=True)
class PortworxVolumeSource:
    """core/v1 PortworxVolumeSource."""

    fs_type: str | None = f("fsType")
    read_only: bool | None = f("readOnly")
    volume_id: str | None = f("volumeID")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterTrustBundleProjection:
    """core/v1 ClusterTrustBundleProjection."""

    label_selector: LabelSelector | None = f("labelSelector")
    name: str | None = f("name")
    optional: bool | None = f("optional")
    path: str | None = f("path")
    signer_name: str | None = f("signerName")
    user: int | None = f("user")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigMapProjection:
    """core/v1 ConfigMapProjection."""

    items: tuple[KeyToPath, ...] | None = f("items")
    name: str | None = f("name")
    optional: bool | None = f("optional")


@dataclass(frozen=True, slots=True, kw_only=True)
class DownwardAPIProjection:
    """core/v1 DownwardAPIProjection."""

    items: tuple[DownwardAPIVolumeFile, ...] | None = f("items")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodCertificateProjection:
    """core/v1 PodCertificateProjection."""

    certificate_chain_path: str | None = f("certificateChainPath")
    credential_bundle_path: str | None = f("credentialBundlePath")
    key_path: str | None = f("keyPath")
    key_type: str | None = f("keyType")
    max_expiration_seconds: int | None = f("maxExpirationSeconds")
    signer_name: str | None = f("signerName")
    user: int | None = f("user")
    user_annotations: StrMap | None = f("userAnnotations")


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretProjection:
    """core/v1 SecretProjection."""

    items: tuple[KeyToPath, ...] | None = f("items")
    name: str | None = f("name")
    optional: bool | None = f("optional")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceAccountTokenProjection:
    """core/v1 ServiceAccountTokenProjection."""

    audience: str | None = f("audience")
    expiration_seconds: int | None = f("expirationSeconds")
    path: str | None = f("path")
    user: int | None = f("user")


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeProjection:
    """core/v1 VolumeProjection."""

    cluster_trust_bundle: ClusterTrustBundleProjection | None = f("clusterTrustBundle")
    config_map: ConfigMapProjection | None = f("configMap")
    downward_api: DownwardAPIProjection | None = f("downwardAPI")
    pod_certificate: PodCertificateProjection | None = f("podCertificate")
    secret: SecretProjection | None = f("secret")
    service_account_token: ServiceAccountTokenProjection | None = f("serviceAccountToken")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectedVolumeSource:
    """core/v1 ProjectedVolumeSource."""

    default_mode: int | None = f("defaultMode")
    default_user: int | None = f("defaultUser")
    sources: tuple[VolumeProjection, ...] | None = f("sources")


@dataclass(frozen=True, slots=True, kw_only=True)
class QuobyteVolumeSource:
    """core/v1 QuobyteVolumeSource."""

    group: str | None = f("group")
    read_only: bool | None = f("readOnly")
    registry: str | None = f("registry")
    tenant: str | None = f("tenant")
    user: str | None = f("user")
    volume: str | None = f("volume")


@dataclass(frozen=True, slots=True, kw_only=True)
class RBDVolumeSource:
    """core/v1 RBDVolumeSource."""

    fs_type: str | None = f("fsType")
    image: str | None = f("image")
    keyring: str | None = f("keyring")
    monitors: tuple[str, ...] | None = f("monitors")
    pool: str | None = f("pool")
    read_only: bool | None = f("readOnly")
    secret_ref: LocalObjectReference | None = f("secretRef")
    user: str | None = f("user")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleIOVolumeSource:
    """core/v1 ScaleIOVolumeSource."""

    fs_type: str | None = f("fsType")
    gateway: str | None = f("gateway")
    protection_domain: str | None = f("protectionDomain")
    read_only: bool | None = f("readOnly")
    secret_ref: LocalObjectReference | None = f("secretRef")
    ssl_enabled: bool | None = f("sslEnabled")
    storage_mode: str | None = f("storageMode")
    storage_pool: str | None = f("storagePool")
    system: str | None = f("system")
    volume_name: str | None = f("volumeName")


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretVolumeSource:
    """core/v1 SecretVolumeSource."""

    default_mode: int | None = f("defaultMode")
    default_user: int | None = f("defaultUser")
    items: tuple[KeyToPath, ...] | None = f("items")
    optional: bool | None = f("optional")
    secret_name: str | None = f("secretName")


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageOSVolumeSource:
    """core/v1 StorageOSVolumeSource."""

    fs_type: str | None = f("fsType")
    read_only: bool | None = f("readOnly")
    secret_ref: LocalObjectReference | None = f("secretRef")
    volume_name: str | None = f("volumeName")
    volume_namespace: str | None = f("volumeNamespace")


@dataclass(frozen=True, slots=True, kw_only=True)
class VsphereVirtualDiskVolumeSource:
    """core/v1 VsphereVirtualDiskVolumeSource."""

    fs_type: str | None = f("fsType")
    storage_policy_id: str | None = f("storagePolicyID")
    storage_policy_name: str | None = f("storagePolicyName")
    volume_path: str | None = f("volumePath")


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeSource:
    """Where a volume's data comes from; exactly one of its fields is set (Go: VolumeSource, inlined in Volume)."""

    aws_elastic_block_store: AWSElasticBlockStoreVolumeSource | None = f("awsElasticBlockStore")
    azure_disk: AzureDiskVolumeSource | None = f("azureDisk")
    azure_file: AzureFileVolumeSource | None = f("azureFile")
    cephfs: CephFSVolumeSource | None = f("cephfs")
    cinder: CinderVolumeSource | None = f("cinder")
    config_map: ConfigMapVolumeSource | None = f("configMap")
    csi: CSIVolumeSource | None = f("csi")
    downward_api: DownwardAPIVolumeSource | None = f("downwardAPI")
    empty_dir: EmptyDirVolumeSource | None = f("emptyDir")
    ephemeral: EphemeralVolumeSource | None = f("ephemeral")
    fc: FCVolumeSource | None = f("fc")
    flex_volume: FlexVolumeSource | None = f("flexVolume")
    flocker: FlockerVolumeSource | None = f("flocker")
    gce_persistent_disk: GCEPersistentDiskVolumeSource | None = f("gcePersistentDisk")
    git_repo: GitRepoVolumeSource | None = f("gitRepo")
    glusterfs: GlusterfsVolumeSource | None = f("glusterfs")
    host_path: HostPathVolumeSource | None = f("hostPath")
    image: ImageVolumeSource | None = f("image")
    iscsi: ISCSIVolumeSource | None = f("iscsi")
    nfs: NFSVolumeSource | None = f("nfs")
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = f("persistentVolumeClaim")
    photon_persistent_disk: PhotonPersistentDiskVolumeSource | None = f("photonPersistentDisk")
    portworx_volume: PortworxVolumeSource | None = f("portworxVolume")
    projected: ProjectedVolumeSource | None = f("projected")
    quobyte: QuobyteVolumeSource | None = f("quobyte")
    rbd: RBDVolumeSource | None = f("rbd")
    scale_io: ScaleIOVolumeSource | None = f("scaleIO")
    secret: SecretVolumeSource | None = f("secret")
    storageos: StorageOSVolumeSource | None = f("storageos")
    vsphere_volume: VsphereVirtualDiskVolumeSource | None = f("vsphereVolume")


@dataclass(frozen=True, slots=True, kw_only=True)
class Volume(VolumeSource):
    """A named volume of a pod (Go: Volume, with VolumeSource inlined)."""

    name: str | None = f("name")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodSpec:
    """core/v1 PodSpec."""

    active_deadline_seconds: int | None = f("activeDeadlineSeconds")
    affinity: Affinity | None = f("affinity")
    automount_service_account_token: bool | None = f("automountServiceAccountToken")
    containers: tuple[Container, ...] | None = f("containers")
    dns_config: PodDNSConfig | None = f("dnsConfig")
    dns_policy: str | None = f("dnsPolicy")
    enable_service_links: bool | None = f("enableServiceLinks")
    ephemeral_containers: tuple[EphemeralContainer, ...] | None = f("ephemeralContainers")
    eviction_responders: tuple[EvictionResponder, ...] | None = f("evictionResponders")
    host_aliases: tuple[HostAlias, ...] | None = f("hostAliases")
    host_ipc: bool | None = f("hostIPC")
    host_network: bool | None = f("hostNetwork")
    host_pid: bool | None = f("hostPID")
    host_users: bool | None = f("hostUsers")
    hostname: str | None = f("hostname")
    hostname_override: str | None = f("hostnameOverride")
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = f("imagePullSecrets")
    init_containers: tuple[Container, ...] | None = f("initContainers")
    node_name: str | None = f("nodeName")
    node_selector: StrMap | None = f("nodeSelector")
    os: PodOS | None = f("os")
    overhead: ResourceList | None = f("overhead")
    preemption_policy: str | None = f("preemptionPolicy")
    priority: int | None = f("priority")
    priority_class_name: str | None = f("priorityClassName")
    readiness_gates: tuple[PodReadinessGate, ...] | None = f("readinessGates")
    resource_claims: tuple[PodResourceClaim, ...] | None = f("resourceClaims")
    resources: ResourceRequirements | None = f("resources")
    restart_policy: str | None = f("restartPolicy")
    runtime_class_name: str | None = f("runtimeClassName")
    scheduler_name: str | None = f("schedulerName")
    scheduling_gates: tuple[PodSchedulingGate, ...] | None = f("schedulingGates")
    scheduling_group: PodSchedulingGroup | None = f("schedulingGroup")
    security_context: PodSecurityContext | None = f("securityContext")
    service_account: str | None = f("serviceAccount")
    service_account_name: str | None = f("serviceAccountName")
    set_hostname_as_fqdn: bool | None = f("setHostnameAsFQDN")
    share_process_namespace: bool | None = f("shareProcessNamespace")
    subdomain: str | None = f("subdomain")
    termination_grace_period_seconds: int | None = f("terminationGracePeriodSeconds")
    tolerations: tuple[Toleration, ...] | None = f("tolerations")
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...] | None = f(
        "topologySpreadConstraints"
    )
    volumes: tuple[Volume, ...] | None = f("volumes")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodCondition:
    """core/v1 PodCondition."""

    last_probe_time: Time | None = f("lastProbeTime")
    last_transition_time: Time | None = f("lastTransitionTime")
    message: str | None = f("message")
    observed_generation: int | None = f("observedGeneration")
    reason: str | None = f("reason")
    status: str | None = f("status")
    type: str | None = f("type")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceHealth:
    """core/v1 ResourceHealth."""

    health: str | None = f("health")
    message: str | None = f("message")
    resource_id: str | None = f("resourceID")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceStatus:
    """core/v1 ResourceStatus."""

    name: str | None = f("name")
    resources: tuple[ResourceHealth, ...] | None = f("resources")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerStateRunning:
    """core/v1 ContainerStateRunning."""

    started_at: Time | None = f("startedAt")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerStateTerminated:
    """core/v1 ContainerStateTerminated."""

    container_id: str | None = f("containerID")
    exit_code: int | None = f("exitCode")
    finished_at: Time | None = f("finishedAt")
    message: str | None = f("message")
    reason: str | None = f("reason")
    signal: int | None = f("signal")
    started_at: Time | None = f("startedAt")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerStateWaiting:
    """core/v1 ContainerStateWaiting."""

    message: str | None = f("message")
    reason: str | None = f("reason")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerState:
    """core/v1 ContainerState."""

    running: ContainerStateRunning | None = f("running")
    terminated: ContainerStateTerminated | None = f("terminated")
    waiting: ContainerStateWaiting | None = f("waiting")


@dataclass(frozen=True, slots=True, kw_only=True)
class LinuxContainerUser:
    """core/v1 LinuxContainerUser."""

    gid: int | None = f("gid")
    supplemental_groups: tuple[int, ...] | None = f("supplementalGroups")
    uid: int | None = f("uid")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerUser:
    """core/v1 ContainerUser."""

    linux: LinuxContainerUser | None = f("linux")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageVolumeStatus:
    """core/v1 ImageVolumeStatus."""

    image_ref: str | None = f("imageRef")


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeStatus:
    """core/v1 VolumeStatus."""

    image: ImageVolumeStatus | None = f("image")


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeMountStatus:
    """core/v1 VolumeMountStatus."""

    mount_path: str | None = f("mountPath")
    name: str | None = f("name")
    read_only: bool | None = f("readOnly")
    recursive_read_only: str | None = f("recursiveReadOnly")
    volume_status: VolumeStatus | None = f("volumeStatus")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerStatus:
    """core/v1 ContainerStatus."""

    allocated_resources: ResourceList | None = f("allocatedResources")
    allocated_resources_status: tuple[ResourceStatus, ...] | None = f("allocatedResourcesStatus")
    container_id: str | None = f("containerID")
    image: str | None = f("image")
    image_id: str | None = f("imageID")
    last_state: ContainerState | None = f("lastState")
    name: str | None = f("name")
    ready: bool | None = f("ready")
    resources: ResourceRequirements | None = f("resources")
    restart_count: int | None = f("restartCount")
    started: bool | None = f("started")
    state: ContainerState | None = f("state")
    stop_signal: str | None = f("stopSignal")
    user: ContainerUser | None = f("user")
    volume_mounts: tuple[VolumeMountStatus, ...] | None = f("volumeMounts")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerExtendedResourceRequest:
    """core/v1 ContainerExtendedResourceRequest."""

    container_name: str | None = f("containerName")
    request_name: str | None = f("requestName")
    resource_name: str | None = f("resourceName")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodExtendedResourceClaimStatus:
    """core/v1 PodExtendedResourceClaimStatus."""

    request_mappings: tuple[ContainerExtendedResourceRequest, ...] | None = f("requestMappings")
    resource_claim_name: str | None = f("resourceClaimName")


@dataclass(frozen=True, slots=True, kw_only=True)
class HostIP:
    """core/v1 HostIP."""

    ip: str | None = f("ip")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeAllocatableMappedResources:
    """core/v1 NodeAllocatableMappedResources."""

    name: str | None = f("name")
    quantity: Quantity | None = f("quantity")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeAllocatableOverheadResources:
    """core/v1 NodeAllocatableOverheadResources."""

    name: str | None = f("name")
    per_container: Quantity | None = f("perContainer")
    per_pod: Quantity | None = f("perPod")


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeAllocatableResourceClaimStatus:
    """core/v1 NodeAllocatableResourceClaimStatus."""

    containers: tuple[str, ...] | None = f("containers")
    mapping: tuple[NodeAllocatableMappedResources, ...] | None = f("mapping")
    overhead: tuple[NodeAllocatableOverheadResources, ...] | None = f("overhead")
    resource_claim_name: str | None = f("resourceClaimName")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodIP:
    """core/v1 PodIP."""

    ip: str | None = f("ip")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodResourceClaimStatus:
    """core/v1 PodResourceClaimStatus."""

    name: str | None = f("name")
    resource_claim_name: str | None = f("resourceClaimName")


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeHealthCondition:
    """core/v1 VolumeHealthCondition."""

    message: str | None = f("message")
    reason: str | None = f("reason")
    status: str | None = f("status")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodVolumeHealth:
    """core/v1 PodVolumeHealth."""

    health_conditions: tuple[VolumeHealthCondition, ...] | None = f("healthConditions")
    last_transition_time: Time | None = f("lastTransitionTime")
    name: str | None = f("name")


@dataclass(frozen=True, slots=True, kw_only=True)
class PodStatus:
    """core/v1 PodStatus."""

    allocated_resources: ResourceList | None = f("allocatedResources")
    conditions: tuple[PodCondition, ...] | None = f("conditions")
    container_statuses: tuple[ContainerStatus, ...] | None = f("containerStatuses")
    ephemeral_container_statuses: tuple[ContainerStatus, ...] | None = f(
        "ephemeralContainerStatuses"
    )
    extended_resource_claim_status: PodExtendedResourceClaimStatus | None = f(
        "extendedResourceClaimStatus"
    )
    host_ip: str | None = f("hostIP")
    host_ips: tuple[HostIP, ...] | None = f("hostIPs")
    init_container_statuses: tuple[ContainerStatus, ...] | None = f("initContainerStatuses")
    message: str | None = f("message")
    node_allocatable_resource_claim_statuses: (
        tuple[NodeAllocatableResourceClaimStatus, ...] | None
    ) = f("nodeAllocatableResourceClaimStatuses")
    nominated_node_name: str | None = f("nominatedNodeName")
    observed_generation: int | None = f("observedGeneration")
    phase: str | None = f("phase")
    pod_ip: str | None = f("podIP")
    pod_ips: tuple[PodIP, ...] | None = f("podIPs")
    qos_class: str | None = f("qosClass")
    reason: str | None = f("reason")
    resize: str | None = f("resize")
    resource_claim_statuses: tuple[PodResourceClaimStatus, ...] | None = f("resourceClaimStatuses")
    resources: ResourceRequirements | None = f("resources")
    start_time: Time | None = f("startTime")
    volume_health: tuple[PodVolumeHealth, ...] | None = f("volumeHealth")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pod:
    """core/v1 Pod."""

    api_version: str | None = f("apiVersion")
    kind: str | None = f("kind")
    metadata: ObjectMeta | None = f("metadata")
    spec: PodSpec | None = f("spec")
    status: PodStatus | None = f("status")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigMap:
    """core/v1 ConfigMap."""

    api_version: str | None = f("apiVersion")
    binary_data: StrMap | None = f("binaryData")
    data: StrMap | None = f("data")
    immutable: bool | None = f("immutable")
    kind: str | None = f("kind")
    metadata: ObjectMeta | None = f("metadata")


@dataclass(frozen=True, slots=True, kw_only=True)
class Secret:
    """core/v1 Secret."""

    api_version: str | None = f("apiVersion")
    data: StrMap | None = f("data")
    immutable: bool | None = f("immutable")
    kind: str | None = f("kind")
    metadata: ObjectMeta | None = f("metadata")
    string_data: StrMap | None = f("stringData")
    type: str | None = f("type")


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardInfo:
    """core/v1 ShardInfo."""

    selector: str | None = f("selector")
