"""API-server defaulting for Pod, ConfigMap and Secret (pkg/apis/core/v1 SetDefaults_* and the
declarative `+default=` markers of core/v1 types.go), as new objects via dataclasses.replace.
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from typing import Any, TypeVar

from podrun.spec import quantity as _q
from podrun.spec.types import (
    AzureDiskVolumeSource,
    ConfigMap,
    ConfigMapVolumeSource,
    Container,
    ContainerPort,
    DownwardAPIVolumeFile,
    DownwardAPIVolumeSource,
    EmptyDirVolumeSource,
    EnvVar,
    EphemeralContainer,
    EphemeralVolumeSource,
    FrozenMap,
    GRPCAction,
    HostPathVolumeSource,
    HTTPGetAction,
    ImageVolumeSource,
    ISCSIVolumeSource,
    Lifecycle,
    LifecycleHandler,
    ObjectFieldSelector,
    ObjectMeta,
    PersistentVolumeClaimSpec,
    Pod,
    PodSecurityContext,
    PodSpec,
    Probe,
    ProjectedVolumeSource,
    Quantity,
    RBDVolumeSource,
    ResourceList,
    ResourceRequirements,
    ScaleIOVolumeSource,
    Secret,
    SecretVolumeSource,
    ServiceAccountTokenProjection,
    Volume,
    VolumeProjection,
    VolumeResourceRequirements,
)

# Constants of k8s.io/api/core/v1 (types.go / well_known constants).
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER_NAME = "default-scheduler"
DEFAULT_ENABLE_SERVICE_LINKS = True
TERMINATION_MESSAGE_PATH_DEFAULT = "/dev/termination-log"
VOLUME_DEFAULT_MODE = 0o644  # Secret/ConfigMap/DownwardAPI/Projected DefaultMode (420)
SERVICE_ACCOUNT_TOKEN_EXPIRATION_SECONDS = 3600
PROBE_TIMEOUT_SECONDS = 1
PROBE_PERIOD_SECONDS = 10
PROBE_SUCCESS_THRESHOLD = 1
PROBE_FAILURE_THRESHOLD = 3
DEFAULT_NAMESPACE = "default"

C = TypeVar("C", Container, EphemeralContainer)
T = TypeVar("T")

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def replace(obj: T, **changes: Any) -> T:
    """dataclasses.replace for the frozen model, several times faster (defaulting a 50-container
    pod calls it thousands of times); returns ``obj`` itself when nothing changes."""
    cls = type(obj)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    if all(getattr(obj, k) is v for k, v in changes.items()):
        return obj
    new = object.__new__(cls)
    for name in names:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(obj, name))
    return new


def apply_defaults(pod: Pod) -> Pod:
    """SetObjectDefaults_Pod: SetDefaults_Pod, SetDefaults_PodSpec, then every nested defaulter.

    Also sets metadata.namespace to "default" when missing, as the API server does for a
    request without a namespace (podrun has no request context to take it from)."""
    meta = pod.metadata or ObjectMeta()
    if not meta.namespace:
        meta = replace(meta, namespace=DEFAULT_NAMESPACE)
    spec = pod.spec
    if spec is not None:
        spec = _pod_spec(spec)
    return replace(pod, metadata=meta, spec=spec)


def prepare_for_create(pod: Pod) -> Pod:
    """What the API server's create path changes after defaulting (not SetDefaults_*).

    A negative spec.terminationGracePeriodSeconds is stored as 1: BEHAVIOR.md 6.1, E2E
    node/pods.go "pod with negative grace period" reads it back as 1 (the API server warns
    "must be >= 0; negative values are invalid and will be treated as 1"). Validation must
    therefore run on the object before this step if it wants to warn about it."""
    spec = pod.spec
    if spec is not None and spec.termination_grace_period_seconds is not None:
        if spec.termination_grace_period_seconds < 0:
            return replace(pod, spec=replace(spec, termination_grace_period_seconds=1))
    return pod


def apply_configmap_defaults(cm: ConfigMap) -> ConfigMap:
    """SetDefaults_ConfigMap: data becomes {} when absent."""
    meta = _namespaced(cm.metadata)
    return replace(cm, metadata=meta, data=cm.data if cm.data is not None else FrozenMap())


def apply_secret_defaults(secret: Secret) -> Secret:
    """SetDefaults_Secret: type Opaque when empty."""
    meta = _namespaced(secret.metadata)
    return replace(secret, metadata=meta, type=secret.type or "Opaque")


def _namespaced(meta: ObjectMeta | None) -> ObjectMeta:
    meta = meta or ObjectMeta()
    return meta if meta.namespace else replace(meta, namespace=DEFAULT_NAMESPACE)


# -- PodSpec -------------------------------------------------------------------------------


def _pod_spec(spec: PodSpec) -> PodSpec:
    # SetDefaults_Pod (only on Pods, not on templates): requests from limits, service links,
    # hostNetwork ports.
    containers = spec.containers
    init = spec.init_containers
    if containers is not None:
        containers = tuple(_requests_from_limits(c) for c in containers)
    if init is not None:
        init = tuple(_requests_from_limits(c) for c in init)
    if spec.host_network:
        if containers is not None:
            containers = tuple(_host_network_ports(c) for c in containers)
        if init is not None:
            init = tuple(_host_network_ports(c) for c in init)
    pod_resources = spec.resources
    if pod_resources is not None:
        # PodLevelResources (beta, on by default): after the container-level defaults above.
        pod_resources = _pod_level_resources(pod_resources, containers or (), init or ())

    # The generated SetObjectDefaults_Pod walk.
    if containers is not None:
        containers = tuple(_container(c) for c in containers)
    if init is not None:
        init = tuple(_container(c) for c in init)
    ephemeral = spec.ephemeral_containers
    if ephemeral is not None:
        ephemeral = tuple(_container(c) for c in ephemeral)
    volumes = spec.volumes
    if volumes is not None:
        volumes = tuple(_volume(v) for v in volumes)
    overhead = _resource_list(spec.overhead)

    return replace(
        spec,
        containers=containers,
        init_containers=init,
        ephemeral_containers=ephemeral,
        volumes=volumes,
        overhead=overhead,
        resources=pod_resources,
        # SetDefaults_Pod
        enable_service_links=(
            DEFAULT_ENABLE_SERVICE_LINKS
            if spec.enable_service_links is None
            else spec.enable_service_links
        ),
        # SetDefaults_PodSpec
        dns_policy=spec.dns_policy or "ClusterFirst",
        restart_policy=spec.restart_policy or "Always",
        security_context=(
            spec.security_context if spec.security_context is not None else PodSecurityContext()
        ),
        termination_grace_period_seconds=(
            DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
            if spec.termination_grace_period_seconds is None
            else spec.termination_grace_period_seconds
        ),
        scheduler_name=spec.scheduler_name or DEFAULT_SCHEDULER_NAME,
    )


def _requests_from_limits(c: Container) -> Container:
    res = c.resources
    if res is None or res.limits is None:
        return c
    requests = dict(res.requests or {})
    for key, value in res.limits.items():
        requests.setdefault(key, value)
    return replace(c, resources=replace(res, requests=FrozenMap(requests)))


def _host_network_ports(c: Container) -> Container:
    if not c.ports:
        return c
    ports = tuple(replace(p, host_port=p.container_port) if not p.host_port else p for p in c.ports)
    return replace(c, ports=ports)


# -- pod-level resources (defaultHugePagePodLimits, defaultPodRequests, defaultPodLimits) -------

_HUGEPAGES_PREFIX = "hugepages-"
_QList = dict[str, "_q.Quantity"]


def _is_pod_level_resource(name: str) -> bool:
    return name in ("cpu", "memory") or name.startswith(_HUGEPAGES_PREFIX)


def _overcommit_allowed(name: str) -> bool:
    native = "/" not in name or "kubernetes.io/" in name
    return native and not name.startswith(_HUGEPAGES_PREFIX)


def _parsed(rl: ResourceList | None) -> _QList:
    return {k: _q.parse_quantity(v) for k, v in (rl or {}).items()}


def _add(into: _QList, rl: _QList) -> None:
    for k, v in rl.items():
        into[k] = into[k] + v if k in into else v


def _max(into: _QList, rl: _QList) -> None:
    for k, v in rl.items():
        if k not in into or v > into[k]:
            into[k] = v


def _aggregate(
    containers: tuple[Container, ...], init: tuple[Container, ...], which: str
) -> _QList:
    """component-helpers AggregateContainerRequests/Limits: app containers and sidecars add
    up; each regular init container counts with the sidecars started before it; the larger
    of the two wins per resource."""
    total: _QList = {}
    for c in containers:
        _add(total, _parsed(getattr(c.resources, which, None) if c.resources else None))
    sidecars: _QList = {}
    init_max: _QList = {}
    for c in init:
        own = _parsed(getattr(c.resources, which, None) if c.resources else None)
        if c.restart_policy == "Always":
            _add(total, own)
            _add(sidecars, own)
            _max(init_max, dict(sidecars))
        else:
            tmp = dict(own)
            _add(tmp, sidecars)
            _max(init_max, tmp)
    _max(total, init_max)
    return total


def _has_limit(c: Container, key: str) -> bool:
    return c.resources is not None and c.resources.limits is not None and key in c.resources.limits


def _pod_level_resources(
    res: ResourceRequirements, containers: tuple[Container, ...], init: tuple[Container, ...]
) -> ResourceRequirements:
    try:
        limits = _parsed(res.limits)
        requests = _parsed(res.requests)
        # defaultHugePagePodLimits
        if limits or requests:
            for key, value in _aggregate(containers, init, "limits").items():
                if key.startswith(_HUGEPAGES_PREFIX) and key not in requests:
                    limits.setdefault(key, value)
        # defaultPodRequests: only when pod-level limits are set
        if limits:
            for key, value in _aggregate(containers, init, "requests").items():
                if key not in requests and _is_pod_level_resource(key) and _overcommit_allowed(key):
                    requests[key] = value
            for key, value in limits.items():
                if key not in requests and _is_pod_level_resource(key):
                    requests[key] = value
        # defaultPodLimits: only when requests but no limits are set at pod level
        elif any(_is_pod_level_resource(k) for k in requests):
            everyone = containers + init
            for key, value in _aggregate(containers, init, "limits").items():
                if (
                    _is_pod_level_resource(key)
                    and _overcommit_allowed(key)
                    and all(_has_limit(c, key) for c in everyone)
                ):
                    limits[key] = value
    except _q.QuantityError:
        return res  # validation reports the bad quantity
    return replace(
        res,
        limits=_as_resource_list(limits, res.limits),
        requests=_as_resource_list(requests, res.requests),
    )


def _as_resource_list(values: _QList, original: ResourceList | None) -> ResourceList | None:
    if not values:
        return original
    out = {k: Quantity(str(v)) for k, v in values.items()}
    if original is not None and out == dict(original.items()):
        return original
    return FrozenMap(out)


# -- containers ----------------------------------------------------------------------------


def _container(c: C) -> C:
    ports = c.ports
    if ports is not None:
        ports = tuple(_port(p) for p in ports)
    env = c.env
    if env is not None:
        env = tuple(_env(e) for e in env)
    resources = c.resources
    if resources is not None:
        resources = replace(
            resources,
            limits=_resource_list(resources.limits),
            requests=_resource_list(resources.requests),
        )
    return replace(
        c,
        image_pull_policy=c.image_pull_policy or pull_policy_for(c.image or ""),
        termination_message_path=c.termination_message_path or TERMINATION_MESSAGE_PATH_DEFAULT,
        termination_message_policy=c.termination_message_policy or "File",
        ports=ports,
        env=env,
        resources=resources,
        liveness_probe=_probe(c.liveness_probe),
        readiness_probe=_probe(c.readiness_probe),
        startup_probe=_probe(c.startup_probe),
        lifecycle=_lifecycle(c.lifecycle),
    )


def _port(p: ContainerPort) -> ContainerPort:
    return p if p.protocol else replace(p, protocol="TCP")  # +default="TCP"


def _env(e: EnvVar) -> EnvVar:
    if e.value_from is None or e.value_from.field_ref is None:
        return e
    ref = _field_selector(e.value_from.field_ref)
    return replace(e, value_from=replace(e.value_from, field_ref=ref))


def _field_selector(sel: ObjectFieldSelector) -> ObjectFieldSelector:
    return sel if sel.api_version else replace(sel, api_version="v1")


def _probe(p: Probe | None) -> Probe | None:
    if p is None:
        return None
    # SetDefaults_Probe: 0 (or absent) means the default.
    return replace(
        p,
        timeout_seconds=p.timeout_seconds or PROBE_TIMEOUT_SECONDS,
        period_seconds=p.period_seconds or PROBE_PERIOD_SECONDS,
        success_threshold=p.success_threshold or PROBE_SUCCESS_THRESHOLD,
        failure_threshold=p.failure_threshold or PROBE_FAILURE_THRESHOLD,
        http_get=_http_get(p.http_get),
        grpc=_grpc(p.grpc),
    )


def _http_get(h: HTTPGetAction | None) -> HTTPGetAction | None:
    if h is None:
        return None
    return replace(h, path=h.path or "/", scheme=h.scheme or "HTTP")


def _grpc(g: GRPCAction | None) -> GRPCAction | None:
    if g is None or g.service is not None:
        return g
    return replace(g, service="")  # +default="" on GRPCAction.Service


def _lifecycle(lc: Lifecycle | None) -> Lifecycle | None:
    if lc is None:
        return None
    return replace(lc, post_start=_handler(lc.post_start), pre_stop=_handler(lc.pre_stop))


def _handler(h: LifecycleHandler | None) -> LifecycleHandler | None:
    if h is None or h.http_get is None:
        return h
    return replace(h, http_get=_http_get(h.http_get))


# -- volumes -------------------------------------------------------------------------------


def _volume(v: Volume) -> Volume:
    # SetDefaults_Volume: a volume with no source is an emptyDir.
    if all(getattr(v, name) is None for name in _VOLUME_SOURCE_ATTRS):
        v = replace(v, empty_dir=EmptyDirVolumeSource())
    changes: dict[str, object] = {}
    if v.host_path is not None:
        changes["host_path"] = _host_path(v.host_path)
    if v.secret is not None:
        changes["secret"] = _secret_vol(v.secret)
    if v.config_map is not None:
        changes["config_map"] = _config_map_vol(v.config_map)
    if v.downward_api is not None:
        changes["downward_api"] = _downward_api_vol(v.downward_api)
    if v.projected is not None:
        changes["projected"] = _projected(v.projected)
    if v.iscsi is not None:
        changes["iscsi"] = _iscsi(v.iscsi)
    if v.rbd is not None:
        changes["rbd"] = _rbd(v.rbd)
    if v.azure_disk is not None:
        changes["azure_disk"] = _azure_disk(v.azure_disk)
    if v.scale_io is not None:
        changes["scale_io"] = _scale_io(v.scale_io)
    if v.ephemeral is not None:
        changes["ephemeral"] = _ephemeral(v.ephemeral)
    if v.image is not None:
        changes["image"] = _image_volume(v.image)
    return replace(v, **changes) if changes else v


def _host_path(h: HostPathVolumeSource) -> HostPathVolumeSource:
    return h if h.type is not None else replace(h, type="")  # HostPathUnset


def _secret_vol(s: SecretVolumeSource) -> SecretVolumeSource:
    return s if s.default_mode is not None else replace(s, default_mode=VOLUME_DEFAULT_MODE)


def _config_map_vol(c: ConfigMapVolumeSource) -> ConfigMapVolumeSource:
    return c if c.default_mode is not None else replace(c, default_mode=VOLUME_DEFAULT_MODE)


def _downward_files(
    items: tuple[DownwardAPIVolumeFile, ...] | None,
) -> tuple[DownwardAPIVolumeFile, ...] | None:
    if items is None:
        return None
    return tuple(
        replace(i, field_ref=_field_selector(i.field_ref)) if i.field_ref is not None else i
        for i in items
    )


def _downward_api_vol(d: DownwardAPIVolumeSource) -> DownwardAPIVolumeSource:
    mode = VOLUME_DEFAULT_MODE if d.default_mode is None else d.default_mode
    return replace(d, default_mode=mode, items=_downward_files(d.items))


def _projected(p: ProjectedVolumeSource) -> ProjectedVolumeSource:
    mode = VOLUME_DEFAULT_MODE if p.default_mode is None else p.default_mode
    sources = p.sources
    if sources is not None:
        sources = tuple(_projection(s) for s in sources)
    return replace(p, default_mode=mode, sources=sources)


def _projection(s: VolumeProjection) -> VolumeProjection:
    if s.downward_api is not None:
        s = replace(
            s, downward_api=replace(s.downward_api, items=_downward_files(s.downward_api.items))
        )
    if s.service_account_token is not None:
        s = replace(s, service_account_token=_sa_token(s.service_account_token))
    return s


def _sa_token(t: ServiceAccountTokenProjection) -> ServiceAccountTokenProjection:
    if t.expiration_seconds is not None:
        return t
    return replace(t, expiration_seconds=SERVICE_ACCOUNT_TOKEN_EXPIRATION_SECONDS)


def _iscsi(s: ISCSIVolumeSource) -> ISCSIVolumeSource:
    return s if s.iscsi_interface else replace(s, iscsi_interface="default")


def _rbd(s: RBDVolumeSource) -> RBDVolumeSource:
    return replace(
        s,
        pool=s.pool or "rbd",
        user=s.user or "admin",
        keyring=s.keyring or "/etc/ceph/keyring",
    )


def _azure_disk(s: AzureDiskVolumeSource) -> AzureDiskVolumeSource:
    return replace(
        s,
        caching_mode=s.caching_mode if s.caching_mode is not None else "ReadWrite",
        fs_type=s.fs_type if s.fs_type is not None else "ext4",
        read_only=s.read_only if s.read_only is not None else False,
        kind=s.kind if s.kind is not None else "Shared",
    )


def _scale_io(s: ScaleIOVolumeSource) -> ScaleIOVolumeSource:
    return replace(s, storage_mode=s.storage_mode or "ThinProvisioned", fs_type=s.fs_type or "xfs")


def _ephemeral(e: EphemeralVolumeSource) -> EphemeralVolumeSource:
    tmpl = e.volume_claim_template
    if tmpl is None:
        return e
    spec = tmpl.spec or PersistentVolumeClaimSpec()
    # SetDefaults_PersistentVolumeClaimSpec
    if spec.volume_mode is None:
        spec = replace(spec, volume_mode="Filesystem")
    if spec.resources is not None:
        res: VolumeResourceRequirements = spec.resources
        spec = replace(
            spec,
            resources=replace(
                res, limits=_resource_list(res.limits), requests=_resource_list(res.requests)
            ),
        )
    return replace(e, volume_claim_template=replace(tmpl, spec=spec))


def _image_volume(s: ImageVolumeSource) -> ImageVolumeSource:
    # SetDefaults_Volume with the ImageVolume gate: Always for a :latest tag (explicit or
    # implied), IfNotPresent otherwise; same rule as containers.
    if s.pull_policy:
        return s
    return replace(s, pull_policy=pull_policy_for(s.reference or ""))


_VOLUME_SOURCE_ATTRS = tuple(
    name
    for name in Volume.__dataclass_fields__  # every VolumeSource member, not the name
    if name != "name"
)


# -- resource lists ------------------------------------------------------------------------


def _resource_list(rl: ResourceList | None) -> ResourceList | None:
    """SetDefaults_ResourceList: round every quantity up to milli scale; the stored form is
    the canonical one (what the API server hands back). Unparsable values are left for
    validation to report."""
    if rl is None:
        return None
    return FrozenMap({k: round_up_milli(v) for k, v in rl.items()})


@lru_cache(maxsize=4096)
def round_up_milli(text: Quantity) -> Quantity:
    """A quantity rounded up to milli precision, in canonical form; unchanged if unparsable."""
    try:
        parsed = _q.parse_quantity(text)
    except (_q.QuantityError, ValueError):
        return text
    if parsed.exp < -3:
        parsed = _q.Quantity.from_milli(parsed.milli_value(), parsed.format)
    return Quantity(str(parsed))


# -- image pull policy ---------------------------------------------------------------------

# distribution/reference grammar (reference/regexp.go), enough to find the tag as
# parsers.ParseImageName does: an unparsable reference yields no tag (IfNotPresent).
_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEP}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
_DIGEST_HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}
_NAME_TOTAL_LENGTH_MAX = 255


def image_tag(image: str) -> str:
    """The tag parsers.ParseImageName reports: the explicit tag, "latest" when there is
    neither tag nor digest, "" with only a digest or when the reference does not parse."""
    m = _REFERENCE.fullmatch(image)
    if m is None or len(m.group("name")) > _NAME_TOTAL_LENGTH_MAX:
        return ""
    tag, digest = m.group("tag"), m.group("digest")
    # An upper-case first component counts as a registry domain (splitDockerDomain), and the
    # path components after it are lower-case by the grammar, so no further case check.
    if digest is not None:
        algo, _, hexpart = digest.partition(":")
        want = _DIGEST_HEX_LEN.get(algo)
        if want is None or len(hexpart) != want:
            return ""
    if tag:
        return tag
    return "" if digest else "latest"


def pull_policy_for(image: str) -> str:
    """SetDefaults_Container's imagePullPolicy: Always for tag latest, else IfNotPresent."""
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"
