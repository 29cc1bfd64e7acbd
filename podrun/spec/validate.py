"""API-server validation of defaulted Pods, ConfigMaps and Secrets (ValidatePodCreate & co).

Every problem is collected with the API server's field path and wording; nothing raises.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from podrun.errors import FieldError
from podrun.spec import names
from podrun.spec.quantity import Quantity, QuantityError, not_a_quantity_message, parse_quantity
from podrun.spec.types import (
    AppArmorProfile,
    ConfigMap,
    ConfigMapKeySelector,
    Container,
    ContainerPort,
    DownwardAPIVolumeFile,
    EnvFromSource,
    EnvVar,
    EphemeralContainer,
    ExecAction,
    GRPCAction,
    HostAlias,
    HTTPGetAction,
    KeyToPath,
    Lifecycle,
    LifecycleHandler,
    ObjectFieldSelector,
    ObjectMeta,
    Pod,
    PodDNSConfig,
    PodSecurityContext,
    PodSpec,
    Probe,
    ResourceFieldSelector,
    ResourceRequirements,
    SeccompProfile,
    Secret,
    SecretKeySelector,
    SecurityContext,
    TCPSocketAction,
    Toleration,
    TopologySpreadConstraint,
    Volume,
    VolumeMount,
)

__all__ = ["validate_object", "validate_pod", "validate_config_map", "validate_secret"]

AnyContainer: TypeAlias = Container | EphemeralContainer

MAX_SECRET_SIZE = 1024 * 1024
MAX_DNS_NAMESERVERS = 3
MAX_DNS_SEARCH_PATHS = 32
MAX_DNS_SEARCH_LIST_CHARS = 2048
MAX_INT32 = 2**31 - 1
FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
IS_NEGATIVE = "must be greater than or equal to 0"
IS_NOT_POSITIVE = "must be greater than zero"
IS_NOT_INTEGER = "must be an integer"
PD_PARTITION_ERROR = "must be between 1 and 255, inclusive"
ONE_HANDLER = "may not specify more than 1 handler type"
ONE_VOLUME = "may not specify more than 1 volume type"
INIT_FORBIDDEN = "may not be set for init containers without restartPolicy=Always"
EPHEMERAL_FORBIDDEN = "cannot be set for an Ephemeral Container"


# -- rendering values the way field.Error does ---------------------------------------------


class _Raw:
    """A value printed as is (Go Stringers such as a Quantity, or %#v renderings)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _render(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, _Raw):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[]string{" + ", ".join(_render(v) for v in value) + "}"
    return str(value)


def _go_strings(values: Sequence[str]) -> _Raw:
    return _Raw("[]string{" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "}")


def _struct(obj: object) -> _Raw:
    from podrun.spec.encode import to_json

    try:
        return _Raw(json.dumps(to_json(obj), separators=(",", ":"), ensure_ascii=False))
    except (TypeError, ValueError):
        return _Raw(type(obj).__name__)


class _Errs:
    """An ErrorList under construction."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def required(self, path: str, detail: str = "") -> None:
        msg = "Required value" + (f": {detail}" if detail else "")
        self.items.append(FieldError(path, msg))

    def invalid(self, path: str, value: object, detail: str) -> None:
        msg = f"Invalid value: {_render(value)}"
        if detail:
            msg += f": {detail}"
        self.items.append(FieldError(path, msg))

    def duplicate(self, path: str, value: object) -> None:
        self.items.append(FieldError(path, f"Duplicate value: {_render(value)}"))

    def not_found(self, path: str, value: object) -> None:
        self.items.append(FieldError(path, f"Not found: {_render(value)}"))

    def not_supported(self, path: str, value: object, valid: Iterable[str]) -> None:
        quoted = ", ".join(json.dumps(v) for v in valid)
        msg = f"Unsupported value: {_render(value)}"
        if quoted:
            msg += f": supported values: {quoted}"
        self.items.append(FieldError(path, msg))

    def forbidden(self, path: str, detail: str) -> None:
        self.items.append(FieldError(path, f"Forbidden: {detail}"))

    def too_long(self, path: str, max_len: int) -> None:
        self.items.append(FieldError(path, f"Too long: must have at most {max_len} bytes"))

    def too_many(self, path: str, actual: int, max_items: int) -> None:
        self.items.append(
            FieldError(path, f"Too many: {actual}: must have at most {max_items} items")
        )

    def raw(self, path: str, message: str) -> None:
        self.items.append(FieldError(path, message))

    def each(self, path: str, value: object, msgs: Iterable[str]) -> None:
        for m in msgs:
            self.invalid(path, value, m)


def _s(v: str | None) -> str:
    return v if isinstance(v, str) else ""


def _i(v: int | None) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _seq(v: Sequence[object] | None) -> Sequence[object]:
    return v if isinstance(v, tuple | list) else ()


def _map(v: Mapping[str, str] | None) -> Mapping[str, str]:
    return v if isinstance(v, Mapping) else {}


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


# -- entry points ----------------------------------------------------------------------------


def validate_object(
    obj: object,
    *,
    bad_paths: frozenset[str] = frozenset(),
    static_pod: bool = False,
) -> list[FieldError]:
    """Validate a defaulted Pod, ConfigMap or Secret; errors under ``bad_paths`` are dropped
    (those fields failed to decode and were reported already)."""
    if isinstance(obj, Pod):
        errs = validate_pod(obj, static_pod=static_pod)
    elif isinstance(obj, ConfigMap):
        errs = validate_config_map(obj)
    elif isinstance(obj, Secret):
        errs = validate_secret(obj)
    else:
        what = json.dumps(type(obj).__name__)
        return [
            FieldError(
                "kind", f'Unsupported value: {what}: supported values: "Pod", "ConfigMap", "Secret"'
            )
        ]
    out: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for e in errs:
        if _under(e.path, bad_paths):
            continue
        key = (e.path, e.message)
        if key in seen:  # ErrorList.ToAggregate drops exact duplicates
            continue
        seen.add(key)
        out.append(e)
    return out


def _under(path: str, bad: frozenset[str]) -> bool:
    if not bad:
        return False
    p = path
    while p:
        if p in bad:
            return True
        cut = max(p.rfind("."), p.rfind("["))
        if cut <= 0:
            return False
        p = p[:cut]
    return False


# -- ObjectMeta ------------------------------------------------------------------------------


def _object_meta(e: _Errs, meta: ObjectMeta | None, name_fn: str = "subdomain") -> None:
    path = "metadata"
    if meta is None:
        e.required(f"{path}.name", "name or generateName is required")
        return
    fn = names.name_is_dns_subdomain
    gen = _s(meta.generate_name)
    name = _s(meta.name)
    if gen:
        e.each(f"{path}.generateName", gen, fn(gen, True))
    if not name:
        # The API server generates the name from generateName before validating.
        if not gen:
            e.required(f"{path}.name", "name or generateName is required")
    else:
        e.each(f"{path}.name", name, fn(name, False))
    ns = _s(meta.namespace)
    if ns:
        e.each(f"{path}.namespace", ns, names.is_dns1123_label(ns))
    if meta.generation is not None and _i(meta.generation) < 0:
        e.invalid(f"{path}.generation", _i(meta.generation), IS_NEGATIVE)
    _labels(e, meta.labels, f"{path}.labels")
    _annotations(e, meta.annotations, f"{path}.annotations")
    controllers = 0
    for i, ref in enumerate(_seq(meta.owner_references)):
        rpath = f"{path}.ownerReferences[{i}]"
        api = _s(getattr(ref, "api_version", None))
        version = api.rsplit("/", 1)[-1] if api else ""
        if not version:
            e.invalid(f"{rpath}.apiVersion", api, "version must not be empty")
        for attr in ("kind", "name", "uid"):
            v = _s(getattr(ref, attr, None))
            if not v:
                e.invalid(f"{rpath}.{attr}", v, "must not be empty")
        if getattr(ref, "controller", None):
            controllers += 1
    if controllers > 1:
        e.invalid(
            f"{path}.ownerReferences",
            _Raw("[...]"),
            "Only one reference can have Controller set to true.",
        )
    for i, fin in enumerate(_seq(meta.finalizers)):
        if isinstance(fin, str):
            fpath = f"{path}.finalizers[{i}]"
            e.each(fpath, fin, names.is_qualified_name(fin))


def _labels(e: _Errs, labels: Mapping[str, str] | None, path: str) -> None:
    for k, v in _map(labels).items():
        e.each(path, k, names.is_qualified_name(k))
        e.each(path, v, names.is_valid_label_value(_s(v)))


def _annotations(e: _Errs, ann: Mapping[str, str] | None, path: str) -> None:
    a = _map(ann)
    for k in a:
        e.each(path, k, names.is_qualified_name(k.lower()))
    if names.annotations_size_exceeded({k: _s(v) for k, v in a.items()}):
        e.too_long(path, names.TOTAL_ANNOTATION_SIZE_LIMIT)


# -- Pod ------------------------------------------------------------------------------------


def validate_pod(pod: Pod, *, static_pod: bool = False) -> list[FieldError]:
    """ValidatePodCreate on a defaulted pod."""
    e = _Errs()
    _object_meta(e, pod.metadata)
    meta = pod.metadata or ObjectMeta()
    spec = pod.spec or PodSpec()
    _pod_annotations(e, meta, spec)
    _pod_spec(e, spec, meta)
    # The API server's "serviceAccountToken must not be specified when serviceAccountName is
    # not set" never fires in practice: the ServiceAccount admission plugin sets "default"
    # before validation. podrun has no admission chain and behaves as if it had run.
    for field_name, ctrs in (
        ("containers", spec.containers),
        ("initContainers", spec.init_containers),
    ):
        for i, c in enumerate(_seq(ctrs)):
            if isinstance(c, Container) and c.image is not None and c.image.strip() != c.image:
                e.invalid(
                    f"spec.{field_name}[{i}].image",
                    c.image,
                    "must not have leading or trailing whitespace",
                )
    if _seq(spec.ephemeral_containers):
        e.forbidden("spec.ephemeralContainers", "cannot be set on create")
    if spec.node_name and _seq(spec.scheduling_gates):
        e.forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared")
    _annotations_match_fields(e, meta, spec)
    if static_pod:
        _static_pod_references(e, spec)
    return e.items


def _pod_annotations(e: _Errs, meta: ObjectMeta, spec: PodSpec) -> None:
    ann = _map(meta.annotations)
    path = "metadata.annotations"
    mirror = "kubernetes.io/config.mirror"
    if mirror in ann and not spec.node_name:
        e.invalid(
            _key(path, mirror),
            ann[mirror],
            "must set spec.nodeName if mirror pod annotation is set",
        )
    cost_key = "controller.kubernetes.io/pod-deletion-cost"
    if cost_key in ann:
        v = _s(ann[cost_key])
        ok = re.fullmatch(r"[+-]?[0-9]+", v) is not None and -(2**31) <= int(v) <= MAX_INT32
        if not ok:
            e.invalid(_key(path, cost_key), v, "must be a 32bit integer")
    seccomp_pod = "seccomp.security.alpha.kubernetes.io/pod"
    if seccomp_pod in ann:
        _seccomp_annotation(e, _s(ann[seccomp_pod]), f"{path}.{seccomp_pod}")
    for k, v in ann.items():
        if k.startswith(_SECCOMP_CONTAINER_PREFIX):
            _seccomp_annotation(e, _s(v), f"{path}.{k}")
    names_in_pod = _all_container_names(spec)
    for k, v in ann.items():
        if not k.startswith(_APPARMOR_PREFIX):
            continue
        ctr = k[len(_APPARMOR_PREFIX) :]
        if ctr not in names_in_pod:
            e.invalid(_key(path, k), ctr, "container not found")
        prof = _s(v)
        if prof not in ("", "runtime/default", "unconfined") and not prof.startswith("localhost/"):
            e.invalid(_key(path, k), prof, f"invalid AppArmor profile name: {json.dumps(prof)}")


_SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
_APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _all_container_names(spec: PodSpec) -> set[str]:
    out: set[str] = set()
    for group in (spec.init_containers, spec.containers, spec.ephemeral_containers):
        for c in _seq(group):
            out.add(_s(getattr(c, "name", None)))
    return out


def _seccomp_annotation(e: _Errs, prof: str, path: str) -> None:
    if prof in ("runtime/default", "docker/default", "unconfined"):
        return
    if prof.startswith("localhost/"):
        _local_descending(e, prof[len("localhost/") :], path)
        return
    e.invalid(path, prof, "must be a valid seccomp profile")


def _annotations_match_fields(e: _Errs, meta: ObjectMeta, spec: PodSpec) -> None:
    """validateSeccompAnnotationsAndFields / validateAppArmorAnnotationsAndFieldsMatchOnCreate."""
    ann = _map(meta.annotations)
    psc = spec.security_context
    if psc is not None and psc.seccomp_profile is not None:
        v = ann.get("seccomp.security.alpha.kubernetes.io/pod")
        if v is not None:
            _seccomp_match(e, _s(v), psc.seccomp_profile, "spec.securityContext.seccompProfile")
    pod_aa = psc.app_armor_profile if psc is not None else None
    windows = spec.os is not None and spec.os.name == "windows"
    for cpath, c in _containers_with_paths(spec):
        sc = c.security_context
        if sc is not None and sc.seccomp_profile is not None:
            v = ann.get(_SECCOMP_CONTAINER_PREFIX + _s(c.name))
            if v is not None:
                _seccomp_match(
                    e, _s(v), sc.seccomp_profile, f"{cpath}.securityContext.seccompProfile"
                )
        if windows:
            continue
        prof = (
            sc.app_armor_profile if sc is not None and sc.app_armor_profile is not None else pod_aa
        )
        v = ann.get(_APPARMOR_PREFIX + _s(c.name))
        if prof is None or v is None:
            continue
        apath = f"{cpath}.securityContext.appArmorProfile"
        t = _s(prof.type)
        if (t == "Unconfined" and v != "unconfined") or (
            t == "RuntimeDefault" and v != "runtime/default"
        ):
            e.forbidden(f"{apath}.type", "apparmor type in annotation and field must match")
        elif t == "Localhost":
            if not v.startswith("localhost/"):
                e.forbidden(f"{apath}.type", "apparmor type in annotation and field must match")
            elif prof.localhost_profile is None or v[len("localhost/") :] != prof.localhost_profile:
                e.forbidden(
                    f"{apath}.localhostProfile",
                    "apparmor profile in annotation and field must match",
                )


def _seccomp_match(e: _Errs, value: str, sp: SeccompProfile, path: str) -> None:
    t = _s(sp.type)
    if t == "Unconfined" and value != "unconfined":
        e.forbidden(f"{path}.type", "seccomp type in annotation and field must match")
    elif t == "RuntimeDefault" and value not in ("runtime/default", "docker/default"):
        e.forbidden(f"{path}.type", "seccomp type in annotation and field must match")
    elif t == "Localhost":
        if not value.startswith("localhost/"):
            e.forbidden(f"{path}.type", "seccomp type in annotation and field must match")
        elif sp.localhost_profile is None or value[len("localhost/") :] != sp.localhost_profile:
            e.forbidden(
                f"{path}.localhostProfile", "localhost profile in annotation and field must match"
            )


def _containers_with_paths(spec: PodSpec) -> list[tuple[str, AnyContainer]]:
    """VisitContainersWithPath: init, then app, then ephemeral containers."""
    out: list[tuple[str, AnyContainer]] = []
    for field_name, group in (
        ("initContainers", spec.init_containers),
        ("containers", spec.containers),
        ("ephemeralContainers", spec.ephemeral_containers),
    ):
        for i, c in enumerate(_seq(group)):
            if isinstance(c, Container | EphemeralContainer):
                out.append((f"spec.{field_name}[{i}]", c))
    return out


def _pod_spec(e: _Errs, spec: PodSpec, meta: ObjectMeta) -> None:
    p = "spec"
    grace = spec.termination_grace_period_seconds
    if grace is None:
        e.required(f"{p}.terminationGracePeriodSeconds")
    vols = _volumes(e, spec.volumes, meta, f"{p}.volumes")
    claim_names = {_s(c.name) for c in _seq(spec.resource_claims) if hasattr(c, "name")}
    _pod_resource_claims(e, spec, f"{p}.resourceClaims")
    _containers(e, spec, vols, claim_names, grace, f"{p}.containers")
    _init_containers(e, spec, vols, claim_names, grace, f"{p}.initContainers")
    _ephemeral_containers(e, spec, vols, claim_names, f"{p}.ephemeralContainers")
    _host_network_deps(e, spec, p)
    _restart_policy(e, spec.restart_policy, f"{p}.restartPolicy")
    _dns_policy(e, spec.dns_policy, f"{p}.dnsPolicy")
    _labels(e, spec.node_selector, f"{p}.nodeSelector")
    _pod_security_context(e, spec, f"{p}.securityContext")
    _affinity(e, spec.affinity, f"{p}.affinity")
    _dns_config(e, spec.dns_config, spec.dns_policy, f"{p}.dnsConfig")
    for i, g in enumerate(_seq(spec.readiness_gates)):
        ct = _s(getattr(g, "condition_type", None))
        e.each(f"{p}.readinessGates[{i}].conditionType", ct, names.is_qualified_name(ct))
    _scheduling_gates(e, spec, f"{p}.schedulingGates")
    _topology_spread(e, spec.topology_spread_constraints, f"{p}.topologySpreadConstraints")
    _host_users(e, spec, p)
    if spec.service_account_name:
        e.each(
            f"{p}.serviceAccountName",
            spec.service_account_name,
            names.is_dns1123_subdomain(spec.service_account_name),
        )
    if spec.node_name:
        e.each(f"{p}.nodeName", spec.node_name, names.is_dns1123_subdomain(spec.node_name))
    if spec.active_deadline_seconds is not None:
        v = _i(spec.active_deadline_seconds)
        if v < 1 or v > MAX_INT32:
            e.invalid(f"{p}.activeDeadlineSeconds", v, names.inclusive_range_error(1, MAX_INT32))
    if spec.hostname:
        e.each(f"{p}.hostname", spec.hostname, names.is_dns1123_label(spec.hostname))
    if spec.subdomain:
        e.each(f"{p}.subdomain", spec.subdomain, names.is_dns1123_label(spec.subdomain))
    _tolerations(e, spec.tolerations, f"{p}.tolerations")
    _host_aliases(e, spec.host_aliases, f"{p}.hostAliases")
    if spec.priority_class_name:
        e.each(
            f"{p}.priorityClassName",
            spec.priority_class_name,
            names.is_dns1123_subdomain(spec.priority_class_name),
        )
    if spec.runtime_class_name is not None:
        e.each(
            f"{p}.runtimeClassName",
            spec.runtime_class_name,
            names.is_dns1123_subdomain(_s(spec.runtime_class_name)),
        )
    if spec.preemption_policy is not None:
        pp = spec.preemption_policy
        if not pp:
            e.required(f"{p}.preemptionPolicy")
        elif pp not in ("Never", "PreemptLowerPriority"):
            e.not_supported(f"{p}.preemptionPolicy", pp, ["PreemptLowerPriority", "Never"])
    if spec.overhead is not None:
        _resource_requirements(
            e, ResourceRequirements(limits=spec.overhead), set(), f"{p}.overhead"
        )
    if spec.os is not None:
        os_name = _s(spec.os.name)
        if not os_name:
            e.required(f"{p}.os.name", "cannot be empty")
        elif os_name not in ("linux", "windows"):
            e.not_supported(f"{p}.os", os_name, ["linux", "windows"])
        elif os_name == "linux":
            _linux_only(e, spec, p)
        else:
            _windows_only(e, spec, p)
    if spec.resources is not None:
        _pod_resources(e, spec, claim_names, f"{p}.resources")


def _linux_only(e: _Errs, spec: PodSpec, path: str) -> None:
    if spec.security_context is not None and spec.security_context.windows_options is not None:
        e.forbidden(
            f"{path}.securityContext.windowsOptions",
            "windows options cannot be set for a linux pod",
        )
    for cpath, c in _containers_with_paths(spec):
        if c.security_context is not None and c.security_context.windows_options is not None:
            e.forbidden(
                f"{cpath}.securityContext.windowsOptions",
                "windows options cannot be set for a linux pod",
            )


_WINDOWS_FORBIDDEN_POD = (
    ("app_armor_profile", "securityContext.appArmorProfile"),
    ("se_linux_options", "securityContext.seLinuxOptions"),
    ("seccomp_profile", "securityContext.seccompProfile"),
    ("fs_group", "securityContext.fsGroup"),
    ("fs_group_change_policy", "securityContext.fsGroupChangePolicy"),
    ("sysctls", "securityContext.sysctls"),
    ("run_as_user", "securityContext.runAsUser"),
    ("run_as_group", "securityContext.runAsGroup"),
    ("supplemental_groups", "securityContext.supplementalGroups"),
    ("supplemental_groups_policy", "securityContext.supplementalGroupsPolicy"),
    ("se_linux_change_policy", "securityContext.seLinuxChangePolicy"),
)
_WINDOWS_FORBIDDEN_CONTAINER = (
    ("app_armor_profile", "appArmorProfile"),
    ("se_linux_options", "seLinuxOptions"),
    ("seccomp_profile", "seccompProfile"),
    ("capabilities", "capabilities"),
    ("read_only_root_filesystem", "readOnlyRootFilesystem"),
    ("privileged", "privileged"),
    ("allow_privilege_escalation", "allowPrivilegeEscalation"),
    ("proc_mount", "procMount"),
    ("run_as_user", "runAsUser"),
    ("run_as_group", "runAsGroup"),
)
_NOT_FOR_WINDOWS = "cannot be set for a windows pod"


def _windows_only(e: _Errs, spec: PodSpec, path: str) -> None:
    psc = spec.security_context
    if spec.host_users is not None:
        e.forbidden(f"{path}.hostUsers", _NOT_FOR_WINDOWS)
    if spec.host_pid:
        e.forbidden(f"{path}.hostPID", _NOT_FOR_WINDOWS)
    if spec.host_ipc:
        e.forbidden(f"{path}.hostIPC", _NOT_FOR_WINDOWS)
    if spec.share_process_namespace is not None:
        e.forbidden(f"{path}.shareProcessNamespace", _NOT_FOR_WINDOWS)
    if psc is not None:
        for attr, json_name in _WINDOWS_FORBIDDEN_POD:
            v = getattr(psc, attr, None)
            if v is not None and not (attr == "sysctls" and not v):
                e.forbidden(f"{path}.{json_name}", _NOT_FOR_WINDOWS)
    for cpath, c in _containers_with_paths(spec):
        sc = c.security_context
        if sc is None:
            continue
        for attr, json_name in _WINDOWS_FORBIDDEN_CONTAINER:
            if getattr(sc, attr, None) is not None:
                e.forbidden(f"{cpath}.securityContext.{json_name}", _NOT_FOR_WINDOWS)


def _pod_resources(e: _Errs, spec: PodSpec, claims: set[str], path: str) -> None:
    """Pod-level resources (PodLevelResources): container rules plus consistency with containers."""
    res = spec.resources
    if res is None:
        return
    if res.claims is not None:
        e.forbidden(f"{path}.claims", "claims cannot be set for Resources at pod-level")
    _resource_requirements(
        e,
        ResourceRequirements(limits=res.limits, requests=res.requests),
        claims,
        path,
        pod_level=True,
    )
    pod_req = _parsed(res.requests)
    pod_lim = _parsed(res.limits)
    for name, total in _aggregate_requests(spec).items():
        have = pod_req.get(name, Quantity(0, 0))
        if total.cmp(have) > 0:
            e.invalid(
                _key(f"{path}.requests", name),
                str(have),
                f"must be greater than or equal to aggregate container requests of {total}",
            )
    for i, c in enumerate(_seq(spec.containers)):
        if not isinstance(c, Container) or c.resources is None:
            continue
        for name, lim in _parsed(c.resources.limits).items():
            plim = pod_lim.get(name)
            if plim is not None and lim.cmp(plim) > 0:
                e.invalid(
                    f"{path}.containers[{i}][{name}].limits",
                    str(lim),
                    f"must be less than or equal to pod limits of {plim}",
                )


def _parsed(rl: Mapping[str, str] | None) -> dict[str, Quantity]:
    out: dict[str, Quantity] = {}
    for k, v in _map(rl).items():
        try:
            out[k] = parse_quantity(_s(v))
        except QuantityError:
            pass
    return out


def _aggregate_requests(spec: PodSpec) -> dict[str, Quantity]:
    """resourcehelper.AggregateContainerRequests: app containers plus sidecars, or the
    biggest init container (with the sidecars started before it), whichever is larger."""
    total: dict[str, Quantity] = {}

    def add(into: dict[str, Quantity], rl: Mapping[str, str] | None) -> None:
        for k, q in _parsed(rl).items():
            into[k] = into[k] + q if k in into else q

    for c in _seq(spec.containers):
        if isinstance(c, Container) and c.resources is not None:
            add(total, c.resources.requests)
    sidecars: dict[str, Quantity] = {}
    init_max: dict[str, Quantity] = {}
    for c in _seq(spec.init_containers):
        if not isinstance(c, Container):
            continue
        reqs = c.resources.requests if c.resources is not None else None
        if c.restart_policy == "Always":
            add(sidecars, reqs)
            add(total, reqs)
            candidate = dict(sidecars)
        else:
            candidate = dict(sidecars)
            add(candidate, reqs)
        for k, q in candidate.items():
            if k not in init_max or q.cmp(init_max[k]) > 0:
                init_max[k] = q
    for k, q in init_max.items():
        if k not in total or q.cmp(total[k]) > 0:
            total[k] = q
    return total


def _affinity(e: _Errs, aff: object, path: str) -> None:
    if aff is None:
        return
    na = getattr(aff, "node_affinity", None)
    if na is not None:
        npath = f"{path}.nodeAffinity"
        req = na.required_during_scheduling_ignored_during_execution
        if req is not None:
            tpath = f"{npath}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
            terms = _seq(req.node_selector_terms)
            if not terms:
                e.required(tpath, "must have at least one node selector term")
            for i, term in enumerate(terms):
                _node_selector_term(e, term, f"{tpath}[{i}]", allow_invalid_values=False)
        for i, pref in enumerate(_seq(na.preferred_during_scheduling_ignored_during_execution)):
            ppath = f"{npath}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            w = _i(getattr(pref, "weight", None))
            if w <= 0 or w > 100:
                e.invalid(f"{ppath}.weight", w, "must be in the range 1-100")
            term = getattr(pref, "preference", None)
            if term is not None:
                _node_selector_term(e, term, f"{ppath}.preference", allow_invalid_values=True)
    for attr, json_name in (
        ("pod_affinity", "podAffinity"),
        ("pod_anti_affinity", "podAntiAffinity"),
    ):
        pa = getattr(aff, attr, None)
        if pa is None:
            continue
        ppath = f"{path}.{json_name}"
        for i, term in enumerate(_seq(pa.required_during_scheduling_ignored_during_execution)):
            _pod_affinity_term(
                e, term, f"{ppath}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"
            )
        for i, wt in enumerate(_seq(pa.preferred_during_scheduling_ignored_during_execution)):
            wpath = f"{ppath}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            w = _i(getattr(wt, "weight", None))
            if w <= 0 or w > 100:
                e.invalid(f"{wpath}.weight", w, "must be in the range 1-100")
            term = getattr(wt, "pod_affinity_term", None)
            if term is not None:
                _pod_affinity_term(e, term, f"{wpath}.podAffinityTerm")


def _node_selector_term(e: _Errs, term: object, path: str, *, allow_invalid_values: bool) -> None:
    for j, rq in enumerate(_seq(getattr(term, "match_expressions", None))):
        rpath = f"{path}.matchExpressions[{j}]"
        op = _s(getattr(rq, "operator", None))
        values = [v for v in _seq(getattr(rq, "values", None)) if isinstance(v, str)]
        if op in ("In", "NotIn"):
            if not values:
                e.required(
                    f"{rpath}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                e.forbidden(
                    f"{rpath}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
        elif op in ("Gt", "Lt"):
            if len(values) != 1:
                e.required(
                    f"{rpath}.values",
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                )
        else:
            e.invalid(f"{rpath}.operator", op, "not a valid selector operator")
        key = _s(getattr(rq, "key", None))
        e.each(f"{rpath}.key", key, names.is_qualified_name(key))
        if not allow_invalid_values:
            for k, v in enumerate(values):
                e.each(f"{rpath}.values[{k}]", v, names.is_valid_label_value(v))
    for j, rq in enumerate(_seq(getattr(term, "match_fields", None))):
        rpath = f"{path}.matchFields[{j}]"
        op = _s(getattr(rq, "operator", None))
        values = [v for v in _seq(getattr(rq, "values", None)) if isinstance(v, str)]
        if op in ("In", "NotIn"):
            if len(values) != 1:
                e.required(
                    f"{rpath}.values",
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                )
        else:
            e.invalid(f"{rpath}.operator", op, "not a valid selector operator")
        key = _s(getattr(rq, "key", None))
        if key != "metadata.name":
            e.invalid(f"{rpath}.key", key, "not a valid field selector key")
        else:
            for k, v in enumerate(values):
                e.each(f"{rpath}.values[{k}]", v, names.is_dns1123_subdomain(v))


def _pod_affinity_term(e: _Errs, term: object, path: str) -> None:
    for ns in _seq(getattr(term, "namespaces", None)):
        if isinstance(ns, str):
            e.each(f"{path}.namespace", ns, names.is_dns1123_label(ns))
    key = _s(getattr(term, "topology_key", None))
    if not key:
        e.required(f"{path}.topologyKey", "can not be empty")
    e.each(f"{path}.topologyKey", key, names.is_qualified_name(key))
    sel = getattr(term, "label_selector", None)
    if sel is not None:
        _label_selector(e, sel, f"{path}.labelSelector")


def _label_selector(e: _Errs, sel: object, path: str) -> None:
    for j, rq in enumerate(_seq(getattr(sel, "match_expressions", None))):
        rpath = f"{path}.matchExpressions[{j}]"
        op = _s(getattr(rq, "operator", None))
        values = _seq(getattr(rq, "values", None))
        if op in ("In", "NotIn"):
            if not values:
                e.required(
                    f"{rpath}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                e.forbidden(
                    f"{rpath}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
        else:
            e.invalid(f"{rpath}.operator", op, "not a valid selector operator")
        key = _s(getattr(rq, "key", None))
        e.each(f"{rpath}.key", key, names.is_qualified_name(key))
    _labels(e, getattr(sel, "match_labels", None), f"{path}.matchLabels")


def _restart_policy(e: _Errs, value: str | None, path: str) -> None:
    v = _s(value)
    if v in ("Always", "OnFailure", "Never"):
        return
    if not v:
        e.required(path)
    else:
        e.not_supported(path, v, ["Always", "OnFailure", "Never"])


def _dns_policy(e: _Errs, value: str | None, path: str) -> None:
    v = _s(value)
    valid = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
    if v in valid:
        return
    if not v:
        e.required(path)
    else:
        e.not_supported(path, v, valid)


def _pod_resource_claims(e: _Errs, spec: PodSpec, path: str) -> None:
    seen: set[str] = set()
    for i, c in enumerate(_seq(spec.resource_claims)):
        name = _s(getattr(c, "name", None))
        ipath = f"{path}[{i}]"
        if not name:
            e.required(f"{ipath}.name")
        elif name in seen:
            e.duplicate(f"{ipath}.name", name)
        else:
            e.each(f"{ipath}.name", name, names.is_dns1123_label(name))
            seen.add(name)
        claim = getattr(c, "resource_claim_name", None)
        template = getattr(c, "resource_claim_template_name", None)
        if claim is not None and template is not None:
            e.invalid(
                ipath,
                _struct(c),
                "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified",
            )
        if claim is None and template is None:
            e.invalid(
                ipath,
                _struct(c),
                "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`",
            )
        if claim is not None:
            e.each(f"{ipath}.resourceClaimName", claim, names.is_dns1123_subdomain(claim))
        if template is not None:
            e.each(
                f"{ipath}.resourceClaimTemplateName", template, names.is_dns1123_subdomain(template)
            )


def _scheduling_gates(e: _Errs, spec: PodSpec, path: str) -> None:
    seen: set[str] = set()
    for i, g in enumerate(_seq(spec.scheduling_gates)):
        name = _s(getattr(g, "name", None))
        e.each(f"{path}[{i}]", name, names.is_qualified_name(name))
        if name in seen:
            e.duplicate(f"{path}[{i}]", name)
        seen.add(name)


def _host_users(e: _Errs, spec: PodSpec, path: str) -> None:
    if spec.host_users is None or spec.host_users:
        return
    # (sic) the API server names the last two with capitals
    for field_name, on in (
        ("hostNetwork", spec.host_network),
        ("HostPID", spec.host_pid),
        ("HostIPC", spec.host_ipc),
    ):
        if on:
            e.forbidden(f"{path}.{field_name}", "when `pod.Spec.HostUsers` is false")


# -- volumes --------------------------------------------------------------------------------

# validateVolumeSource's order; the first source present counts, every later one is an error.
_VOLUME_SOURCES: tuple[tuple[str, str], ...] = (
    ("empty_dir", "emptyDir"),
    ("host_path", "hostPath"),
    ("git_repo", "gitRepo"),
    ("gce_persistent_disk", "gcePersistentDisk"),
    ("aws_elastic_block_store", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistent_volume_claim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downward_api", "downwarAPI"),  # sic: the API server's path has this typo
    ("fc", "fc"),
    ("flex_volume", "flexVolume"),
    ("config_map", "configMap"),
    ("azure_file", "azureFile"),
    ("vsphere_volume", "vsphereVolume"),
    ("photon_persistent_disk", "photonPersistentDisk"),
    ("portworx_volume", "portworxVolume"),
    ("azure_disk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scale_io", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
)

_HOST_PATH_TYPES = [
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
]


def _volumes(
    e: _Errs, volumes: Sequence[Volume] | None, meta: ObjectMeta, path: str
) -> dict[str, Volume]:
    ok: dict[str, Volume] = {}
    seen: set[str] = set()
    created_pvcs = {
        f"{meta.name}-{_s(v.name)}"
        for v in _seq(volumes)
        if meta.name and isinstance(v, Volume) and v.ephemeral is not None
    }
    for i, vol in enumerate(_seq(volumes)):
        if not isinstance(vol, Volume):
            continue
        ipath = f"{path}[{i}]"
        sub = _Errs()
        name = _s(vol.name)
        _volume_source(sub, vol, ipath, name, meta)
        if not name:
            sub.required(f"{ipath}.name")
        else:
            sub.each(f"{ipath}.name", name, names.is_dns1123_label(name))
        if name in seen:
            sub.duplicate(f"{ipath}.name", name)
        if not sub.items:
            seen.add(name)
            ok[name] = vol
        else:
            e.items.extend(sub.items)
        # A persistentVolumeClaim source may not name a PVC created for an ephemeral volume.
        pvc = vol.persistent_volume_claim
        if pvc is not None and _s(pvc.claim_name) in created_pvcs:
            e.invalid(
                f"{ipath}.persistentVolumeClaim.claimName",
                _s(pvc.claim_name),
                "must not reference a PVC that gets created for an ephemeral volume",
            )
    return ok


def _volume_source(e: _Errs, vol: Volume, path: str, vol_name: str, meta: ObjectMeta) -> None:
    count = 0
    for attr, json_name in _VOLUME_SOURCES:
        src = getattr(vol, attr, None)
        if src is None:
            continue
        spath = f"{path}.{json_name}"
        if attr == "empty_dir":
            count += 1
            size = getattr(src, "size_limit", None)
            if size is not None:
                q = _quantity(e, size, f"{spath}.sizeLimit")
                if q is not None and q.sign < 0:
                    e.forbidden(
                        f"{spath}.sizeLimit", "SizeLimit field must be a valid resource quantity"
                    )
            continue
        if count > 0:
            e.forbidden(spath, ONE_VOLUME)
            continue
        count += 1
        _one_volume_source(e, attr, src, path, vol_name, meta)
    if count == 0:
        e.required(path, "must specify a volume type")


def _one_volume_source(
    e: _Errs, attr: str, src: object, path: str, vol_name: str, meta: ObjectMeta
) -> None:
    def g(name: str) -> Any:
        return getattr(src, name, None)

    if attr == "host_path":
        p = f"{path}.hostPath"
        hp = _s(g("path"))
        if not hp:
            e.required(f"{p}.path")
            return
        _no_backsteps(e, hp, f"{p}.path")
        t = g("type")
        if t is not None and t not in _HOST_PATH_TYPES:
            e.not_supported(f"{p}.type", t, _HOST_PATH_TYPES)
    elif attr == "git_repo":
        p = f"{path}.gitRepo"
        if not _s(g("repository")):
            e.required(f"{p}.repository")
        _local_descending(e, _s(g("directory")), f"{p}.directory")
    elif attr == "secret":
        p = f"{path}.secret"
        if not _s(g("secret_name")):
            e.required(f"{p}.secretName")
        _mode(e, g("default_mode"), f"{p}.defaultMode")
        for i, kp in enumerate(_seq(g("items"))):
            if isinstance(kp, KeyToPath):
                _key_to_path(e, kp, f"{p}.items[{i}]")
    elif attr == "config_map":
        p = f"{path}.configMap"
        if not _s(g("name")):
            e.required(f"{p}.name")
        _mode(e, g("default_mode"), f"{p}.defaultMode")
        for i, kp in enumerate(_seq(g("items"))):
            if isinstance(kp, KeyToPath):
                _key_to_path(e, kp, f"{p}.items[{i}]")
    elif attr == "persistent_volume_claim":
        p = f"{path}.persistentVolumeClaim"
        if not _s(g("claim_name")):
            e.required(f"{p}.claimName")
    elif attr == "nfs":
        p = f"{path}.nfs"
        if not _s(g("server")):
            e.required(f"{p}.server")
        np = _s(g("path"))
        if not np:
            e.required(f"{p}.path")
        if not np.startswith("/"):
            e.invalid(f"{p}.path", np, "must be an absolute path")
    elif attr == "downward_api":
        p = f"{path}.downwardAPI"
        _mode(e, g("default_mode"), f"{p}.defaultMode")
        for f in _seq(g("items")):
            if isinstance(f, DownwardAPIVolumeFile):
                _downward_file(e, f, p)
    elif attr == "projected":
        _projected(e, src, f"{path}.projected")
    elif attr == "gce_persistent_disk":
        p = f"{path}.persistentDisk"
        if not _s(g("pd_name")):
            e.required(f"{p}.pdName")
        part = _i(g("partition"))
        if part < 0 or part > 255:
            e.invalid(f"{p}.partition", part, PD_PARTITION_ERROR)
    elif attr == "aws_elastic_block_store":
        p = f"{path}.awsElasticBlockStore"
        if not _s(g("volume_id")):
            e.required(f"{p}.volumeID")
        part = _i(g("partition"))
        if part < 0 or part > 255:
            e.invalid(f"{p}.partition", part, PD_PARTITION_ERROR)
    elif attr == "iscsi":
        p = f"{path}.iscsi"
        if not _s(g("target_portal")):
            e.required(f"{p}.targetPortal")
        if not _s(g("iqn")):
            e.required(f"{p}.iqn")
        lun = _i(g("lun"))
        if lun < 0 or lun > 255:
            e.invalid(f"{p}.lun", lun, names.inclusive_range_error(0, 255))
    elif attr == "glusterfs":
        p = f"{path}.glusterfs"
        if not _s(g("endpoints")):
            e.required(f"{p}.endpoints")
        if not _s(g("path")):
            e.required(f"{p}.path")
    elif attr == "rbd":
        p = f"{path}.rbd"
        if not _seq(g("monitors")):
            e.required(f"{p}.monitors")
        if not _s(g("image")):
            e.required(f"{p}.image")
    elif attr == "cinder":
        if not _s(g("volume_id")):
            e.required(f"{path}.cinder.volumeID")
    elif attr == "cephfs":
        if not _seq(g("monitors")):
            e.required(f"{path}.cephfs.monitors")
    elif attr == "flex_volume":
        if not _s(g("driver")):
            e.required(f"{path}.flexVolume.driver")
    elif attr == "azure_file":
        if not _s(g("secret_name")):
            e.required(f"{path}.azureFile.secretName")
        if not _s(g("share_name")):
            e.required(f"{path}.azureFile.shareName")
    elif attr == "csi":
        if not _s(g("driver")):
            e.required(f"{path}.csi.driver")
    elif attr == "image":
        p = f"{path}.image"
        if not _s(g("reference")):
            e.required(f"{p}.reference")
        pp = g("pull_policy")
        valid = ["Always", "IfNotPresent", "Never"]
        if pp is not None and pp not in valid:
            e.not_supported(f"{p}.pullPolicy", pp, valid)
    elif attr == "ephemeral":
        p = f"{path}.ephemeral"
        if g("volume_claim_template") is None:
            e.required(f"{p}.volumeClaimTemplate")
        if meta.name and vol_name:
            pvc = f"{meta.name}-{vol_name}"
            for m in names.is_dns1123_subdomain(pvc):
                e.invalid(f"{path}.name", vol_name, f"PVC name {json.dumps(pvc)}: {m}")
    elif attr == "vsphere_volume":
        if not _s(g("volume_path")):
            e.required(f"{path}.vsphereVolume.volumePath")
    elif attr == "photon_persistent_disk":
        if not _s(g("pd_id")):
            e.required(f"{path}.photonPersistentDisk.pdID")
    elif attr == "portworx_volume":
        if not _s(g("volume_id")):
            e.required(f"{path}.portworxVolume.volumeID")
    elif attr == "azure_disk":
        if not _s(g("disk_name")):
            e.required(f"{path}.azureDisk.diskName")
        if not _s(g("disk_uri")):
            e.required(f"{path}.azureDisk.diskURI")
    elif attr == "scale_io":
        for a, j in (("gateway", "gateway"), ("system", "system"), ("volume_name", "volumeName")):
            if not _s(g(a)):
                e.required(f"{path}.scaleIO.{j}")
    elif attr == "storageos":
        vn = _s(g("volume_name"))
        if not vn:
            e.required(f"{path}.storageos.volumeName")
        else:
            e.each(f"{path}.storageos.volumeName", vn, names.is_dns1123_label(vn))
    elif attr == "quobyte":
        if not _s(g("registry")):
            e.required(
                f"{path}.quobyte.registry",
                "must be a host:port pair or multiple pairs separated by commas",
            )
        if not _s(g("volume")):
            e.required(f"{path}.quobyte.volume")
    elif attr == "flocker":
        n, u = _s(g("dataset_name")), _s(g("dataset_uuid"))
        if not n and not u:
            e.required(f"{path}.flocker", "one of datasetName and datasetUUID is required")
        if n and u:
            e.invalid(
                f"{path}.flocker",
                "resource",
                "datasetName and datasetUUID can not be specified simultaneously",
            )
    elif attr == "fc":
        wwns, wwids = _seq(g("target_wwns")), _seq(g("wwids"))
        if not wwns and not wwids:
            e.required(
                f"{path}.fc.targetWWNs", "must specify either targetWWNs or wwids, but not both"
            )


def _mode(e: _Errs, mode: object, path: str) -> None:
    if isinstance(mode, int) and not isinstance(mode, bool) and (mode > 0o777 or mode < 0):
        e.invalid(path, mode, FILE_MODE_ERROR)


def _key_to_path(e: _Errs, kp: KeyToPath, path: str) -> None:
    if not _s(kp.key):
        e.required(f"{path}.key")
    kpath = _s(kp.path)
    if not kpath:
        e.required(f"{path}.path")
    _local_non_reserved(e, kpath, f"{path}.path")
    _mode(e, kp.mode, f"{path}.mode")


def _no_backsteps(e: _Errs, target: str, path: str) -> None:
    if ".." in target.replace("\\", "/").split("/"):
        e.invalid(path, target, "must not contain '..'")


def _local_descending(e: _Errs, target: str, path: str) -> None:
    if target.startswith("/"):
        e.invalid(path, target, "must be a relative path")
    _no_backsteps(e, target, path)


def _local_non_reserved(e: _Errs, target: str, path: str) -> None:
    _local_descending(e, target, path)
    if target.startswith("..") and not target.startswith("../"):
        e.invalid(path, target, "must not start with '..'")


_VOLUME_FIELD_PATHS = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
]
_ENV_FIELD_PATHS = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
]
# ConvertDownwardAPIFieldLabel's list (what a v1 pod field selector may name at all).
_CONVERTIBLE_FIELD_PATHS = {
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
}
_RESOURCE_FIELD_PATHS = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
]
_SUBSCRIPT = re.compile(r"^(metadata\.(?:annotations|labels))\['(.*)'\]\Z", re.S)


def _object_field_selector(e: _Errs, fs: ObjectFieldSelector, valid: list[str], path: str) -> None:
    api = _s(fs.api_version)
    fp = _s(fs.field_path)
    if not api:
        e.required(f"{path}.apiVersion")
        return
    if not fp:
        e.required(f"{path}.fieldPath")
        return
    m = _SUBSCRIPT.match(fp)
    base = m.group(1) if m else fp
    if api != "v1":
        e.invalid(
            f"{path}.fieldPath", fp, f"error converting fieldPath: unsupported pod version: {api}"
        )
        return
    if base not in _CONVERTIBLE_FIELD_PATHS:
        e.invalid(
            f"{path}.fieldPath", fp, f"error converting fieldPath: field label not supported: {fp}"
        )
        return
    if m:
        sub = m.group(2)
        key = sub.lower() if base == "metadata.annotations" else sub
        e.each(path, key, names.is_qualified_name(key))
    elif fp not in valid:
        e.not_supported(f"{path}.fieldPath", fp, valid)


def _resource_field_selector(e: _Errs, fs: ResourceFieldSelector, path: str, volume: bool) -> None:
    res = _s(fs.resource)
    if volume and not _s(fs.container_name):
        e.required(f"{path}.containerName")
    elif not res:
        e.required(f"{path}.resource")
    elif res not in _RESOURCE_FIELD_PATHS and not res.startswith(_HUGEPAGES_FIELD_PREFIXES):
        e.not_supported(f"{path}.resource", res, _RESOURCE_FIELD_PATHS)
    if fs.divisor is None:
        return
    q = _quantity(e, fs.divisor, f"{path}.divisor")
    if q is None or q.is_zero():
        return
    # The API server compares the divisor's String() with the allowed spellings and
    # reports the resource name as the bad value (sic).
    text = str(q)
    if res in ("limits.cpu", "requests.cpu"):
        if text not in ("1m", "1"):
            e.invalid(
                f"{path}.divisor",
                res,
                "only divisor's values 1m and 1 are supported with the cpu resource",
            )
    elif res in ("limits.memory", "requests.memory"):
        if text not in _BYTE_DIVISORS:
            e.invalid(f"{path}.divisor", res, _divisor_message("memory"))
    elif res in ("limits.ephemeral-storage", "requests.ephemeral-storage"):
        if text not in _BYTE_DIVISORS:
            e.invalid(f"{path}.divisor", res, _divisor_message("local ephemeral storage"))
    if res.startswith(_HUGEPAGES_FIELD_PREFIXES) and text not in _BYTE_DIVISORS:
        e.invalid(f"{path}.divisor", res, _divisor_message("hugepages"))


_HUGEPAGES_FIELD_PREFIXES = ("requests.hugepages-", "limits.hugepages-")
_BYTE_DIVISORS = (
    "1",
    "1k",
    "1M",
    "1G",
    "1T",
    "1P",
    "1E",
    "1Ki",
    "1Mi",
    "1Gi",
    "1Ti",
    "1Pi",
    "1Ei",
)


def _divisor_message(what: str) -> str:
    return (
        f"only divisor's values {', '.join(_BYTE_DIVISORS)} are supported with the {what} resource"
    )


def _downward_file(e: _Errs, f: DownwardAPIVolumeFile, path: str) -> None:
    fpath = _s(f.path)
    if not fpath:
        e.required(f"{path}.path")
    _local_non_reserved(e, fpath, f"{path}.path")
    if f.field_ref is not None:
        _object_field_selector(e, f.field_ref, _VOLUME_FIELD_PATHS, f"{path}.fieldRef")
        if f.resource_field_ref is not None:
            e.invalid(
                path,
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            )
    elif f.resource_field_ref is not None:
        _resource_field_selector(e, f.resource_field_ref, f"{path}.resourceFieldRef", True)
    else:
        e.required(path, "one of fieldRef and resourceFieldRef is required")
    _mode(e, f.mode, f"{path}.mode")


def _projected(e: _Errs, src: object, path: str) -> None:
    _mode(e, getattr(src, "default_mode", None), f"{path}.defaultMode")
    all_paths: set[str] = set()
    for i, s in enumerate(_seq(getattr(src, "sources", None))):
        count = 0
        spath = f"{path}.sources[{i}]"
        for attr, json_name in (("secret", "secret"), ("config_map", "configMap")):
            obj = getattr(s, attr, None)
            if obj is None:
                continue
            count += 1
            if not _s(obj.name):
                e.required(f"{spath}.{json_name}.name")
            for j, kp in enumerate(_seq(obj.items)):
                if not isinstance(kp, KeyToPath):
                    continue
                _key_to_path(e, kp, f"{spath}.{json_name}.items[{j}]")
                if kp.path:
                    if kp.path in all_paths:
                        e.invalid(path, _s(obj.name), "conflicting duplicate paths")
                    all_paths.add(kp.path)
        dapi = getattr(s, "downward_api", None)
        if dapi is not None:
            count += 1
            for f in _seq(dapi.items):
                if isinstance(f, DownwardAPIVolumeFile):
                    _downward_file(e, f, f"{spath}.downwardAPI")
                    if f.path:
                        if f.path in all_paths:
                            e.invalid(path, f.path, "conflicting duplicate paths")
                        all_paths.add(f.path)
        sat = getattr(s, "service_account_token", None)
        if sat is not None:
            count += 1
            tpath = f"{spath}.serviceAccountToken"
            exp = _i(sat.expiration_seconds)
            if exp < 600:
                e.invalid(
                    f"{tpath}.expirationSeconds",
                    exp,
                    "may not specify a duration less than 10 minutes",
                )
            if exp > 1 << 32:
                e.invalid(
                    f"{tpath}.expirationSeconds",
                    exp,
                    "may not specify a duration larger than 2^32 seconds",
                )
            if not _s(sat.path):
                e.required(f"{path}.path")
            else:
                _local_non_reserved(e, sat.path, f"{path}.path")
        for attr in ("cluster_trust_bundle", "pod_certificate"):
            if getattr(s, attr, None) is not None:
                count += 1
        if count > 1:
            e.forbidden(spath, ONE_VOLUME)


# -- containers -----------------------------------------------------------------------------


def _containers(
    e: _Errs, spec: PodSpec, vols: dict[str, Volume], claims: set[str], grace: int | None, path: str
) -> None:
    ctrs = [c for c in _seq(spec.containers) if isinstance(c, Container)]
    if not ctrs:
        e.required(path)
        return
    seen: set[str] = set()
    for i, c in enumerate(ctrs):
        ipath = f"{path}[{i}]"
        _container_common(e, c, vols, claims, ipath, spec)
        name = _s(c.name)
        if name in seen:
            e.duplicate(f"{ipath}.name", name)
        else:
            seen.add(name)
        _lifecycle(e, c.lifecycle, grace, f"{ipath}.lifecycle")
        _probe(e, c.liveness_probe, f"{ipath}.livenessProbe", "liveness")
        _probe(e, c.readiness_probe, f"{ipath}.readinessProbe", "readiness")
        _probe(e, c.startup_probe, f"{ipath}.startupProbe", "startup")
        # ContainerRestartRules is an alpha gate, off by default: both fields are refused.
        if c.restart_policy is not None:
            e.forbidden(f"{ipath}.restartPolicy", "may not be set for non-init containers")
        if c.restart_policy_rules is not None:
            e.forbidden(f"{ipath}.restartPolicyRules", "may not be set for non-init containers")
    _host_port_conflicts(e, ctrs, path)


def _init_containers(
    e: _Errs, spec: PodSpec, vols: dict[str, Volume], claims: set[str], grace: int | None, path: str
) -> None:
    seen = {_s(c.name) for c in _seq(spec.containers) if isinstance(c, Container)}
    for i, c in enumerate(_seq(spec.init_containers)):
        if not isinstance(c, Container):
            continue
        ipath = f"{path}[{i}]"
        _container_common(e, c, vols, claims, ipath, spec)
        always = False
        if c.restart_policy is not None:
            if c.restart_policy != "Always":
                e.not_supported(f"{ipath}.restartPolicy", c.restart_policy, ["Always"])
            always = c.restart_policy == "Always"
        name = _s(c.name)
        if name in seen:
            e.duplicate(f"{ipath}.name", name)
        elif name:
            seen.add(name)
        # init containers run one by one: host ports are checked per container
        _host_port_conflicts(e, [c], path, i)
        if always:
            if c.lifecycle is not None:
                _lifecycle(e, c.lifecycle, grace, f"{ipath}.lifecycle")
            _probe(e, c.liveness_probe, f"{ipath}.livenessProbe", "liveness")
            _probe(e, c.readiness_probe, f"{ipath}.readinessProbe", "readiness")
            _probe(e, c.startup_probe, f"{ipath}.startupProbe", "startup")
        else:
            for value, json_name in (
                (c.lifecycle, "lifecycle"),
                (c.liveness_probe, "livenessProbe"),
                (c.readiness_probe, "readinessProbe"),
                (c.startup_probe, "startupProbe"),
            ):
                if value is not None:
                    e.forbidden(f"{ipath}.{json_name}", INIT_FORBIDDEN)


def _ephemeral_containers(
    e: _Errs, spec: PodSpec, vols: dict[str, Volume], claims: set[str], path: str
) -> None:
    ecs = [c for c in _seq(spec.ephemeral_containers) if isinstance(c, EphemeralContainer)]
    if not ecs:
        return
    others = {_s(c.name) for c in _seq(spec.containers) if isinstance(c, Container)}
    others |= {_s(c.name) for c in _seq(spec.init_containers) if isinstance(c, Container)}
    seen = set(others)
    for i, c in enumerate(ecs):
        ipath = f"{path}[{i}]"
        _container_common(e, c, vols, claims, ipath, spec)
        if c.image is not None and c.image.strip() != c.image:
            e.invalid(f"{ipath}.image", c.image, "must not have leading or trailing whitespace")
        name = _s(c.name)
        if name in seen:
            e.duplicate(f"{ipath}.name", name)
        else:
            seen.add(name)
        target = _s(c.target_container_name)
        if target and target not in others:
            e.not_found(f"{ipath}.targetContainerName", target)
        for value, json_name in (
            (c.ports, "ports"),
            (
                c.resources
                if c.resources
                and (c.resources.limits or c.resources.requests or c.resources.claims)
                else None,
                "resources",
            ),
            (c.liveness_probe, "livenessProbe"),
            (c.readiness_probe, "readinessProbe"),
            (c.startup_probe, "startupProbe"),
            (c.lifecycle, "lifecycle"),
            (c.resize_policy, "resizePolicy"),
            (c.restart_policy, "restartPolicy"),
        ):
            if value:
                e.forbidden(f"{ipath}.{json_name}", EPHEMERAL_FORBIDDEN)
        for j, vm in enumerate(_seq(c.volume_mounts)):
            if isinstance(vm, VolumeMount):
                if vm.sub_path:
                    e.forbidden(f"{ipath}.volumeMounts[{j}].subPath", EPHEMERAL_FORBIDDEN)
                if vm.sub_path_expr:
                    e.forbidden(f"{ipath}.volumeMounts[{j}].subPathExpr", EPHEMERAL_FORBIDDEN)


def _container_common(
    e: _Errs, c: AnyContainer, vols: dict[str, Volume], claims: set[str], path: str, spec: PodSpec
) -> None:
    name = _s(c.name)
    if not name:
        e.required(f"{path}.name")
    else:
        e.each(f"{path}.name", name, names.is_dns1123_label(name))
    if not _s(c.image):
        e.required(f"{path}.image")
    tmp = _s(c.termination_message_policy)
    if not tmp:
        e.required(f"{path}.terminationMessagePolicy")
    elif tmp not in ("File", "FallbackToLogsOnError"):
        e.not_supported(f"{path}.terminationMessagePolicy", tmp, ["File", "FallbackToLogsOnError"])
    devices = {
        _s(getattr(d, "name", None)): _s(getattr(d, "device_path", None))
        for d in _seq(c.volume_devices)
    }
    _container_ports(e, c.ports, f"{path}.ports")
    _env(e, c.env, f"{path}.env")
    _env_from(e, c.env_from, f"{path}.envFrom")
    _volume_mounts(e, c, devices, vols, f"{path}.volumeMounts")
    _volume_devices(e, c, vols, f"{path}.volumeDevices")
    ipp = _s(c.image_pull_policy)
    if not ipp:
        e.required(f"{path}.imagePullPolicy")
    elif ipp not in ("Always", "IfNotPresent", "Never"):
        e.not_supported(f"{path}.imagePullPolicy", ipp, ["Always", "IfNotPresent", "Never"])
    if c.resources is not None:
        _resource_requirements(e, c.resources, claims, f"{path}.resources")
    _resize_policy(e, c, f"{path}.resizePolicy", _s(spec.restart_policy))
    _security_context(
        e, c.security_context, f"{path}.securityContext", spec.host_users is not False
    )


def _container_ports(e: _Errs, ports: Sequence[ContainerPort] | None, path: str) -> None:
    seen: set[str] = set()
    for i, port in enumerate(_seq(ports)):
        if not isinstance(port, ContainerPort):
            continue
        ipath = f"{path}[{i}]"
        name = _s(port.name)
        if name:
            msgs = names.is_valid_port_name(name)
            if msgs:
                e.each(f"{ipath}.name", name, msgs)
            elif name in seen:
                e.duplicate(f"{ipath}.name", name)
            else:
                seen.add(name)
        cp = _i(port.container_port)
        if cp == 0:
            e.required(f"{ipath}.containerPort")
        else:
            e.each(f"{ipath}.containerPort", cp, names.is_valid_port_num(cp))
        hp = _i(port.host_port)
        if hp != 0:
            e.each(f"{ipath}.hostPort", hp, names.is_valid_port_num(hp))
        proto = _s(port.protocol)
        if not proto:
            e.required(f"{ipath}.protocol")
        elif proto not in ("SCTP", "TCP", "UDP"):
            e.not_supported(f"{ipath}.protocol", proto, ["SCTP", "TCP", "UDP"])
        if port.host_ip:
            e.each(f"{ipath}.hostIP", port.host_ip, names.is_valid_ip(port.host_ip))


def _host_port_conflicts(e: _Errs, ctrs: Sequence[Container], path: str, first: int = 0) -> None:
    seen: set[str] = set()
    for ci, c in enumerate(ctrs, first):
        for pi, port in enumerate(_seq(c.ports)):
            if not isinstance(port, ContainerPort):
                continue
            hp = _i(port.host_port)
            if hp == 0:
                continue
            key = f"{_s(port.protocol)}/{_s(port.host_ip)}/{hp}"
            if key in seen:
                e.duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key)
            else:
                seen.add(key)


def _host_network_deps(e: _Errs, spec: PodSpec, path: str) -> None:
    if not spec.host_network:
        return
    for ci, c in enumerate(_seq(spec.containers)):
        if not isinstance(c, Container):
            continue
        for pi, port in enumerate(_seq(c.ports)):
            if isinstance(port, ContainerPort) and _i(port.host_port) != _i(port.container_port):
                e.invalid(
                    f"{path}.containers[{ci}].ports[{pi}].hostPort",
                    _i(port.host_port),
                    "must match `containerPort` when `hostNetwork` is true",
                )


def _env(e: _Errs, env: Sequence[EnvVar] | None, path: str) -> None:
    for i, ev in enumerate(_seq(env)):
        if not isinstance(ev, EnvVar):
            continue
        ipath = f"{path}[{i}]"
        name = _s(ev.name)
        if not name:
            e.required(f"{ipath}.name")
        else:
            e.each(f"{ipath}.name", name, names.is_relaxed_env_var_name(name))
        _env_value_from(e, ev, f"{ipath}.valueFrom")


def _env_value_from(e: _Errs, ev: EnvVar, path: str) -> None:
    vf = ev.value_from
    if vf is None:
        return
    n = 0
    if vf.field_ref is not None:
        n += 1
        _object_field_selector(e, vf.field_ref, _ENV_FIELD_PATHS, f"{path}.fieldRef")
    if vf.resource_field_ref is not None:
        n += 1
        _resource_field_selector(e, vf.resource_field_ref, f"{path}.resourceFieldRef", False)
    if vf.config_map_key_ref is not None:
        n += 1
        _key_selector(e, vf.config_map_key_ref, f"{path}.configMapKeyRef")
    if vf.secret_key_ref is not None:
        n += 1
        _key_selector(e, vf.secret_key_ref, f"{path}.secretKeyRef")
    if vf.file_key_ref is not None:
        n += 1
        fk = vf.file_key_ref
        fpath = f"{path}.fileKeyRef"
        if not _s(fk.volume_name):
            e.required(f"{fpath}.volumeName")
        if not _s(fk.path):
            e.required(f"{fpath}.path")
        else:
            _local_non_reserved(e, _s(fk.path), f"{fpath}.path")
        if not _s(fk.key):
            e.required(f"{fpath}.key")
    if n == 0:
        e.invalid(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        )
    elif ev.value:
        e.invalid(path, "", "may not be specified when `value` is not empty")
    elif n > 1:
        e.invalid(path, "", "may not have more than one field specified at a time")


def _key_selector(e: _Errs, sel: ConfigMapKeySelector | SecretKeySelector, path: str) -> None:
    name = _s(sel.name)
    e.each(f"{path}.name", name, names.is_dns1123_subdomain(name))
    key = _s(sel.key)
    if not key:
        e.required(f"{path}.key")
    else:
        e.each(f"{path}.key", key, names.is_config_map_key(key))


def _env_from(e: _Errs, env_from: Sequence[EnvFromSource] | None, path: str) -> None:
    for i, ef in enumerate(_seq(env_from)):
        if not isinstance(ef, EnvFromSource):
            continue
        ipath = f"{path}[{i}]"
        if ef.prefix:
            e.each(f"{ipath}.prefix", ef.prefix, names.is_relaxed_env_var_name(ef.prefix))
        n = 0
        for ref, json_name in ((ef.config_map_ref, "configMapRef"), (ef.secret_ref, "secretRef")):
            if ref is None:
                continue
            n += 1
            name = _s(ref.name)
            if not name:
                e.required(f"{ipath}.{json_name}.name")
            else:
                e.each(f"{ipath}.{json_name}.name", name, names.name_is_dns_subdomain(name, True))
        if n == 0:
            e.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")
        elif n > 1:
            e.invalid(path, "", "may not have more than one field specified at a time")


def _volume_mounts(
    e: _Errs, c: AnyContainer, devices: dict[str, str], vols: dict[str, Volume], path: str
) -> None:
    mount_points: set[str] = set()
    privileged = bool(c.security_context is not None and c.security_context.privileged)
    for i, vm in enumerate(_seq(c.volume_mounts)):
        if not isinstance(vm, VolumeMount):
            continue
        ipath = f"{path}[{i}]"
        name = _s(vm.name)
        mp = _s(vm.mount_path)
        if not name:
            e.required(f"{ipath}.name")
        if name not in vols:
            e.not_found(f"{ipath}.name", name)
        if not mp:
            e.required(f"{ipath}.mountPath")
        if mp in mount_points:
            e.invalid(f"{ipath}.mountPath", mp, "must be unique")
        mount_points.add(mp)
        if name in devices:
            e.invalid(f"{ipath}.name", name, "must not already exist in volumeDevices")
        if mp in devices.values():
            e.invalid(f"{ipath}.mountPath", mp, "must not already exist as a path in volumeDevices")
        vol = vols.get(name)
        if vol is not None and vol.image is not None:
            if vm.sub_path:
                e.invalid(f"{ipath}.subPath", vm.sub_path, "not allowed in image volume sources")
            if vm.sub_path_expr:
                e.invalid(
                    f"{ipath}.subPathExpr", vm.sub_path_expr, "not allowed in image volume sources"
                )
        # The API server reports sub-path problems without the mount's index (sic).
        if vm.sub_path:
            _local_descending(e, vm.sub_path, f"{path}.subPath")
        if vm.sub_path_expr:
            if vm.sub_path:
                e.invalid(
                    f"{ipath}.subPathExpr",
                    vm.sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                )
            _local_descending(e, vm.sub_path_expr, f"{path}.subPathExpr")
        if vm.mount_propagation is not None:
            mprop = vm.mount_propagation
            valid = ["Bidirectional", "HostToContainer", "None"]
            ppath = f"{path}.mountPropagation"
            if mprop not in valid:
                e.not_supported(ppath, mprop, valid)
            if mprop == "Bidirectional" and not privileged:
                e.forbidden(
                    ppath,
                    "Bidirectional mount propagation is available only to privileged containers",
                )
        rro = vm.recursive_read_only
        if rro is not None:
            rpath = f"{path}.recursiveReadOnly"  # (sic) no index, as the API server has it
            if rro in ("Enabled", "IfPossible"):
                if not vm.read_only:
                    e.forbidden(rpath, "may only be specified when readOnly is true")
                if vm.mount_propagation is not None and vm.mount_propagation != "None":
                    e.forbidden(
                        rpath,
                        "may only be specified when mountPropagation is None or not specified",
                    )
            elif rro != "Disabled":
                e.not_supported(rpath, rro, ["Disabled", "Enabled", "IfPossible"])


def _volume_devices(e: _Errs, c: AnyContainer, vols: dict[str, Volume], path: str) -> None:
    mounts = {
        _s(m.name): _s(m.mount_path) for m in _seq(c.volume_mounts) if isinstance(m, VolumeMount)
    }
    seen_paths: set[str] = set()
    seen_names: set[str] = set()
    for i, d in enumerate(_seq(c.volume_devices)):
        ipath = f"{path}[{i}]"
        name = _s(getattr(d, "name", None))
        dp = _s(getattr(d, "device_path", None))
        vol = vols.get(name)
        if not name:
            e.required(f"{ipath}.name")
        if name in seen_names:
            e.invalid(f"{ipath}.name", name, "must be unique")
        if vol is not None and vol.persistent_volume_claim is None and vol.ephemeral is None:
            e.invalid(
                f"{ipath}.name",
                name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )
        if vol is None:
            e.not_found(f"{ipath}.name", name)
        if not dp:
            e.required(f"{ipath}.devicePath")
        if dp in seen_paths:
            e.invalid(f"{ipath}.devicePath", dp, "must be unique")
        if dp and ".." in dp.replace("\\", "/").split("/"):
            e.invalid(f"{ipath}.devicePath", dp, "can not contain backsteps ('..')")
        else:
            seen_paths.add(dp)
        if name in mounts:
            e.invalid(f"{ipath}.name", name, "must not already exist in volumeMounts")
        if dp in mounts.values():
            e.invalid(f"{ipath}.devicePath", dp, "must not already exist as a path in volumeMounts")
        if name:
            seen_names.add(name)


def _resize_policy(e: _Errs, c: AnyContainer, path: str, pod_restart: str) -> None:
    seen: set[str] = set()
    for i, rp in enumerate(_seq(c.resize_policy)):
        rn = _s(getattr(rp, "resource_name", None))
        pol = _s(getattr(rp, "restart_policy", None))
        if rn in seen:
            e.duplicate(f"{path}[{i}]", rn)
        seen.add(rn)
        # (sic) the API server reports these at the list, not the item
        if not rn:
            e.required(path)
        elif rn not in ("cpu", "memory"):
            e.not_supported(path, rn, ["cpu", "memory"])
        if not pol:
            e.required(path)
        elif pol not in ("NotRequired", "RestartContainer"):
            e.not_supported(path, pol, ["NotRequired", "RestartContainer"])
        if pod_restart == "Never" and pol != "NotRequired":
            e.invalid(path, pol, "must be 'NotRequired' when `restartPolicy` is 'Never'")


# -- probes and lifecycle -------------------------------------------------------------------


def _probe(e: _Errs, probe: Probe | None, path: str, kind: str) -> None:
    if probe is None:
        return
    n = 0
    for attr, json_name in (
        ("exec", "exec"),
        ("http_get", "httpGet"),
        ("tcp_socket", "tcpSocket"),
        ("grpc", "grpc"),
    ):
        h = getattr(probe, attr, None)
        if h is None:
            continue
        hpath = f"{path}.{json_name}"
        if n > 0:
            e.forbidden(hpath, ONE_HANDLER)
            continue
        n += 1
        _handler_action(e, h, hpath)
    if n == 0:
        e.required(path, "must specify a handler type")
    for attr, json_name in (
        ("initial_delay_seconds", "initialDelaySeconds"),
        ("timeout_seconds", "timeoutSeconds"),
        ("period_seconds", "periodSeconds"),
        ("success_threshold", "successThreshold"),
        ("failure_threshold", "failureThreshold"),
    ):
        v = _i(getattr(probe, attr, None))
        if v < 0:
            e.invalid(f"{path}.{json_name}", v, IS_NEGATIVE)
    tgps = probe.termination_grace_period_seconds
    if tgps is not None and _i(tgps) <= 0:
        e.invalid(f"{path}.terminationGracePeriodSeconds", _i(tgps), "must be greater than 0")
    if kind in ("liveness", "startup") and _i(probe.success_threshold) != 1:
        e.invalid(f"{path}.successThreshold", _i(probe.success_threshold), "must be 1")
    if kind == "readiness" and tgps is not None:
        e.invalid(
            f"{path}.terminationGracePeriodSeconds", _i(tgps), "must not be set for readinessProbes"
        )


def _handler_action(e: _Errs, h: object, path: str) -> None:
    if isinstance(h, ExecAction):
        if not _seq(h.command):
            e.required(f"{path}.command")
    elif isinstance(h, HTTPGetAction):
        if not _s(h.path):
            e.required(f"{path}.path")
        _port_num_or_name(e, h.port, f"{path}.port")
        scheme = _s(h.scheme)
        if scheme not in ("HTTP", "HTTPS"):
            e.not_supported(f"{path}.scheme", scheme, ["HTTP", "HTTPS"])
        for hdr in _seq(h.http_headers):
            hn = _s(getattr(hdr, "name", None))
            e.each(f"{path}.httpHeaders", hn, names.is_http_header_name(hn))
    elif isinstance(h, TCPSocketAction):
        _port_num_or_name(e, h.port, f"{path}.port")
    elif isinstance(h, GRPCAction):
        port = _i(h.port)
        e.each(f"{path}.port", port, names.is_valid_port_num(port))


def _port_num_or_name(e: _Errs, port: int | str | None, path: str) -> None:
    if isinstance(port, str):
        e.each(path, port, names.is_valid_port_name(port))
    else:
        v = _i(port)
        e.each(path, v, names.is_valid_port_num(v))


def _lifecycle(e: _Errs, lc: Lifecycle | None, grace: int | None, path: str) -> None:
    if lc is None:
        return
    for h, json_name in ((lc.post_start, "postStart"), (lc.pre_stop, "preStop")):
        if h is not None:
            _lifecycle_handler(e, h, grace, f"{path}.{json_name}")


def _lifecycle_handler(e: _Errs, h: LifecycleHandler, grace: int | None, path: str) -> None:
    n = 0
    for attr, json_name in (
        ("exec", "exec"),
        ("http_get", "httpGet"),
        ("tcp_socket", "tcpSocket"),
        ("sleep", "sleep"),
    ):
        a = getattr(h, attr, None)
        if a is None:
            continue
        apath = f"{path}.{json_name}"
        if n > 0:
            e.forbidden(apath, ONE_HANDLER)
            continue
        n += 1
        if attr == "sleep":
            secs = _i(getattr(a, "seconds", None))
            if grace is not None and (secs < 0 or secs > grace):
                e.invalid(
                    apath,
                    secs,
                    f"must be non-negative and less than terminationGracePeriodSeconds ({grace})",
                )
        else:
            _handler_action(e, a, apath)
    if n == 0:
        e.required(path, "must specify a handler type")


# -- resources ------------------------------------------------------------------------------

_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
_STANDARD_RESOURCES = _STANDARD_CONTAINER_RESOURCES | {
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "services.nodeports",
    "services.loadbalancers",
}


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not _is_hugepages(name)


def _quantity(e: _Errs, text: str, path: str) -> Quantity | None:
    try:
        return parse_quantity(text)
    except QuantityError as err:
        e.raw(path, not_a_quantity_message(text, err))
        return None


def _pod_resource_name(e: _Errs, name: str, path: str) -> None:
    msgs = names.is_qualified_name(name)
    if msgs:
        e.each(path, name, msgs)
        return
    if "/" not in name and name not in _STANDARD_RESOURCES and not _is_hugepages(name):
        e.invalid(path, name, "must be a standard resource type or fully qualified")
        return
    if name not in ("cpu", "memory") and not _is_hugepages(name):
        e.not_supported(path, name, ["cpu", "memory"])


def _container_resource_name(e: _Errs, name: str, path: str) -> None:
    msgs = names.is_qualified_name(name)
    if msgs:
        e.each(path, name, msgs)
        return
    if "/" not in name:
        if name not in _STANDARD_RESOURCES and not _is_hugepages(name):
            e.invalid(path, name, "must be a standard resource type or fully qualified")
        if name not in _STANDARD_CONTAINER_RESOURCES and not _is_hugepages(name):
            e.invalid(path, name, "must be a standard resource for containers")
    elif not _is_native(name):
        if name.startswith("requests.") or names.is_qualified_name("requests." + name):
            e.invalid(path, name, "doesn't follow extended resource name standard")


def _resource_requirements(
    e: _Errs, req: ResourceRequirements, claims: set[str], path: str, *, pod_level: bool = False
) -> None:
    lim_path, req_path = f"{path}.limits", f"{path}.requests"
    name_check = _pod_resource_name if pod_level else _container_resource_name
    limits: dict[str, Quantity] = {}
    lim_cpu_mem = req_cpu_mem = lim_huge = req_huge = False
    for name, text in _map(req.limits).items():
        kpath = _key(lim_path, name)
        name_check(e, name, kpath)
        q = _quantity(e, text, kpath)
        if q is None:
            continue
        limits[name] = q
        _quantity_value(e, name, q, kpath)
        _huge_pages_value(e, name, q, kpath)
        lim_huge = lim_huge or _is_hugepages(name)
        lim_cpu_mem = lim_cpu_mem or name in ("cpu", "memory")
    for name, text in _map(req.requests).items():
        kpath = _key(req_path, name)
        name_check(e, name, kpath)
        q = _quantity(e, text, kpath)
        if q is None:
            continue
        _quantity_value(e, name, q, kpath)
        _huge_pages_value(e, name, q, kpath)
        lim = limits.get(name)
        if lim is not None:
            if q.cmp(lim) != 0 and not _overcommit_allowed(name):
                e.invalid(req_path, str(q), f"must be equal to {name} limit of {lim}")
            elif q.cmp(lim) > 0:
                e.invalid(req_path, str(q), f"must be less than or equal to {name} limit of {lim}")
        elif name not in _map(req.limits) and not _overcommit_allowed(name):
            e.required(lim_path, "Limit must be set for non overcommitable resources")
        req_huge = req_huge or _is_hugepages(name)
        req_cpu_mem = req_cpu_mem or name in ("cpu", "memory")
    if not lim_cpu_mem and not req_cpu_mem and (lim_huge or req_huge):
        e.forbidden(path, "HugePages require cpu or memory")
    _resource_claim_names(e, req, claims, f"{path}.claims")


def _resource_claim_names(e: _Errs, req: ResourceRequirements, claims: set[str], path: str) -> None:
    """validateResourceClaimNames: each entry names a pod resource claim, at most once."""
    seen: set[str] = set()
    for i, c in enumerate(_seq(req.claims)):
        name = _s(getattr(c, "name", None))
        request = _s(getattr(c, "request", None))
        cpath = f"{path}[{i}]"
        if not name:
            e.required(cpath)
            continue
        if name in seen:
            e.duplicate(cpath, name)
        else:
            key = name
            if request:
                e.each(f"{cpath}.request", request, names.is_dns1123_label(request))
                key = f"{name}/{request}"
            if key in seen:
                e.duplicate(cpath, key)
            elif not request:
                for other in seen:
                    if "/" in other and other.split("/", 1)[0] == name:
                        e.duplicate(cpath, name)
            seen.add(key)
        if name not in claims:
            detail = "must be one of the names in pod.spec.resourceClaims"
            detail += ": " + ", ".join(sorted(claims)) if claims else " which is empty"
            e.raw(cpath, f"Not found: {_render(name)}: {detail}")


def _huge_pages_value(e: _Errs, name: str, q: Quantity, path: str) -> None:
    """The value must be a positive multiple of the page size named in the resource."""
    if not _is_hugepages(name):
        return
    try:
        page = parse_quantity(name[len("hugepages-") :])
    except QuantityError:
        page = Quantity(0, 0)
    ok = page.sign > 0 and q.sign > 0 and q.value() % page.value() == 0
    if not ok:
        e.invalid(path, str(q), f"{q} is not positive integer multiple of {name}")


def _windows_options(e: _Errs, wo: object, path: str) -> None:
    if wo is None:
        return
    spec_name = getattr(wo, "gmsa_credential_spec_name", None)
    if spec_name is not None:
        e.each(f"{path}.gmsaCredentialSpecName", spec_name, names.is_dns1123_subdomain(spec_name))
    cred = getattr(wo, "gmsa_credential_spec", None)
    if cred is not None:
        if not cred:
            e.invalid(
                f"{path}.gmsaCredentialSpec", cred, "gmsaCredentialSpec cannot be an empty string"
            )
        elif len(cred.encode()) > 64 * 1024:
            e.invalid(
                f"{path}.gmsaCredentialSpec", cred, "gmsaCredentialSpec size must be under 64 KiB"
            )
    user = getattr(wo, "run_as_user_name", None)
    if user is None:
        return
    upath = f"{path}.runAsUserName"
    if not user:
        e.invalid(upath, user, "runAsUserName cannot be an empty string")
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in user):
        e.invalid(upath, user, "runAsUserName cannot contain control characters")
    elif user.count("\\") > 1:
        e.invalid(upath, user, "runAsUserName cannot contain more than one backslash")
    else:
        domain, _, name = user.rpartition("\\")
        if len(domain) >= 256:
            e.invalid(upath, user, "runAsUserName's Domain length must be under 256 characters")
        if not name:
            e.invalid(upath, user, "runAsUserName's User cannot be empty")
        elif len(name) > 104:
            e.invalid(
                upath, user, "runAsUserName's User length must not be longer than 104 characters"
            )
        if name and re.fullmatch(r"[. ]+", name):
            e.invalid(upath, user, "runAsUserName's User cannot contain only periods or spaces")
        if re.search(r'["/\\:;|=,+*?<>@\[\]]', name):
            e.invalid(
                upath,
                user,
                "runAsUserName's User cannot contain the following characters: \"/\\:;|=,+*?<>@[]",
            )


def _quantity_value(e: _Errs, name: str, q: Quantity, path: str) -> None:
    if q.sign < 0:
        e.invalid(path, str(q), IS_NEGATIVE)
    integer = (
        not _is_native(name)
    ) or name in _STANDARD_RESOURCES - _STANDARD_CONTAINER_RESOURCES - {
        "storage",
        "requests.cpu",
        "requests.memory",
        "requests.storage",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    }
    if integer and q.milli_value() % 1000 != 0:
        e.invalid(path, _Raw(str(q)), IS_NOT_INTEGER)


# -- security contexts ----------------------------------------------------------------------


def _security_context(e: _Errs, sc: SecurityContext | None, path: str, host_users: bool) -> None:
    if sc is None:
        return
    if sc.run_as_user is not None:
        e.each(f"{path}.runAsUser", sc.run_as_user, names.is_valid_user_id(_i(sc.run_as_user)))
    if sc.run_as_group is not None:
        e.each(f"{path}.runAsGroup", sc.run_as_group, names.is_valid_group_id(_i(sc.run_as_group)))
    if sc.proc_mount is not None:
        if sc.proc_mount not in ("Default", "Unmasked"):
            e.not_supported(f"{path}.procMount", sc.proc_mount, ["Default", "Unmasked"])
        if host_users and sc.proc_mount == "Unmasked":
            e.invalid(
                f"{path}.procMount", sc.proc_mount, "`hostUsers` must be false to use `Unmasked`"
            )
    _seccomp(e, sc.seccomp_profile, f"{path}.seccompProfile")
    if sc.allow_privilege_escalation is False:
        if sc.privileged:
            e.invalid(
                path,
                _struct(sc),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            )
        if sc.capabilities is not None:
            for cap in _seq(sc.capabilities.add):
                if cap == "CAP_SYS_ADMIN":
                    e.invalid(
                        path,
                        _struct(sc),
                        "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
                    )
    _windows_options(e, sc.windows_options, f"{path}.windowsOptions")
    _app_armor(e, sc.app_armor_profile, f"{path}.appArmorProfile")


def _seccomp(e: _Errs, sp: SeccompProfile | None, path: str) -> None:
    if sp is None:
        return
    t = _s(sp.type)
    valid = ["Localhost", "RuntimeDefault", "Unconfined"]
    if not t:
        e.required(f"{path}.type", "type is required when seccompProfile is set")
    elif t not in valid:
        e.not_supported(f"{path}.type", t, valid)
    if t == "Localhost":
        if sp.localhost_profile is None:
            e.required(f"{path}.localhostProfile", "must be set when seccomp type is Localhost")
        else:
            _local_descending(e, sp.localhost_profile, f"{path}.localhostProfile")
    elif sp.localhost_profile is not None:
        e.invalid(
            f"{path}.localhostProfile",
            _struct(sp),
            "can only be set when seccomp type is Localhost",
        )


def _app_armor(e: _Errs, ap: AppArmorProfile | None, path: str) -> None:
    if ap is None:
        return
    t = _s(ap.type)
    lp = ap.localhost_profile
    if t == "Localhost":
        if lp is None:
            e.required(f"{path}.localhostProfile", "must be set when AppArmor type is Localhost")
        else:
            if lp.strip() != lp:
                e.invalid(f"{path}.localhostProfile", lp, "must not be padded with whitespace")
            elif lp == "":
                e.required(
                    f"{path}.localhostProfile", "must be set when AppArmor type is Localhost"
                )
            if len(lp.encode("utf-8", "surrogatepass")) > 4095:
                e.too_long(f"{path}.localhostProfile", 4095)
    elif t in ("RuntimeDefault", "Unconfined"):
        if lp is not None:
            e.invalid(
                f"{path}.localhostProfile", lp, "can only be set when AppArmor type is Localhost"
            )
    elif not t:
        e.required(f"{path}.type", "type is required when appArmorProfile is set")
    else:
        e.not_supported(f"{path}.type", t, ["Localhost", "RuntimeDefault", "Unconfined"])


_SYSCTL_NET = re.compile(r"^net[./]")
_SYSCTL_IPC = re.compile(r"^(kernel[./]shm|kernel[./]msg|kernel[./]sem\Z|fs[./]mqueue[./])")


def _pod_security_context(e: _Errs, spec: PodSpec, path: str) -> None:
    sc = spec.security_context
    if spec.share_process_namespace and spec.host_pid:
        e.invalid(
            f"{path}.shareProcessNamespace",
            True,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        )
    if sc is None or not isinstance(sc, PodSecurityContext):
        return
    if sc.fs_group is not None:
        e.each(f"{path}.fsGroup", sc.fs_group, names.is_valid_group_id(_i(sc.fs_group)))
    if sc.run_as_user is not None:
        e.each(f"{path}.runAsUser", sc.run_as_user, names.is_valid_user_id(_i(sc.run_as_user)))
    if sc.run_as_group is not None:
        e.each(f"{path}.runAsGroup", sc.run_as_group, names.is_valid_group_id(_i(sc.run_as_group)))
    for g, gid in enumerate(_seq(sc.supplemental_groups)):
        if isinstance(gid, int):
            e.each(f"{path}.supplementalGroups[{g}]", gid, names.is_valid_group_id(gid))
    seen: set[str] = set()
    for i, s in enumerate(_seq(sc.sysctls)):
        name = _s(getattr(s, "name", None))
        npath = f"{path}.sysctls[{i}].name"
        if not name:
            e.required(npath)
        elif not names.is_valid_sysctl_name(name):
            e.invalid(
                npath,
                name,
                f"must have at most {names.SYSCTL_MAX_LENGTH} characters and match regex {names.SYSCTL_REGEX}",
            )
        elif name in seen:
            e.duplicate(npath, name)
        if name and spec.host_network and _SYSCTL_NET.match(name):
            e.invalid(npath, name, "may not be specified when 'hostNetwork' is true")
        if name and spec.host_ipc and _SYSCTL_IPC.match(name):
            e.invalid(npath, name, "may not be specified when 'hostIPC' is true")
        seen.add(name)
    if sc.fs_group_change_policy is not None and sc.fs_group_change_policy not in (
        "Always",
        "OnRootMismatch",
    ):
        e.not_supported(
            f"{path}.fsGroupChangePolicy", sc.fs_group_change_policy, ["Always", "OnRootMismatch"]
        )
    _seccomp(e, sc.seccomp_profile, f"{path}.seccompProfile")
    _windows_options(e, sc.windows_options, f"{path}.windowsOptions")
    _app_armor(e, sc.app_armor_profile, f"{path}.appArmorProfile")
    if sc.supplemental_groups_policy is not None and sc.supplemental_groups_policy not in (
        "Merge",
        "Strict",
    ):
        e.not_supported(
            f"{path}.supplementalGroupsPolicy", sc.supplemental_groups_policy, ["Merge", "Strict"]
        )
    if sc.se_linux_change_policy is not None and sc.se_linux_change_policy not in (
        "MountOption",
        "Recursive",
    ):
        e.not_supported(
            f"{path}.seLinuxChangePolicy", sc.se_linux_change_policy, ["MountOption", "Recursive"]
        )


# -- DNS, host aliases, tolerations, topology -----------------------------------------------


def _dns_config(e: _Errs, cfg: PodDNSConfig | None, policy: str | None, path: str) -> None:
    if policy == "None":
        if cfg is None:
            e.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")
            return
        if not _seq(cfg.nameservers):
            e.required(
                f"{path}.nameservers",
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )
            return
    if cfg is None:
        return
    ns = [n for n in _seq(cfg.nameservers) if isinstance(n, str)]
    if len(ns) > MAX_DNS_NAMESERVERS:
        e.invalid(
            f"{path}.nameservers",
            _go_strings(ns),
            f"must not have more than {MAX_DNS_NAMESERVERS} nameservers",
        )
    for i, n in enumerate(ns):
        e.each(f"{path}.nameservers[{i}]", n, names.is_valid_ip(n))
    searches = [s for s in _seq(cfg.searches) if isinstance(s, str)]
    if len(searches) > MAX_DNS_SEARCH_PATHS:
        e.invalid(
            f"{path}.searches",
            _go_strings(searches),
            f"must not have more than {MAX_DNS_SEARCH_PATHS} search paths",
        )
    if len(" ".join(searches)) > MAX_DNS_SEARCH_LIST_CHARS:
        e.invalid(
            f"{path}.searches",
            _go_strings(searches),
            f"must not have more than {MAX_DNS_SEARCH_LIST_CHARS} characters (including spaces) in the search list",
        )
    for i, s in enumerate(searches):
        if s == ".":
            continue
        # RelaxedDNSSearchValidation (on by default): "." and underscores are allowed
        s = s[:-1] if s.endswith(".") else s
        e.each(f"{path}.searches[{i}]", s, names.is_dns1123_subdomain_with_underscore(s))
    for i, opt in enumerate(_seq(cfg.options)):
        if not _s(getattr(opt, "name", None)):
            e.required(f"{path}.options[{i}]", "must not be empty")


def _host_aliases(e: _Errs, aliases: Sequence[HostAlias] | None, path: str) -> None:
    for i, ha in enumerate(_seq(aliases)):
        if not isinstance(ha, HostAlias):
            continue
        ip = _s(ha.ip)
        e.each(f"{path}[{i}].ip", ip, names.is_valid_ip(ip))
        for j, hn in enumerate(_seq(ha.hostnames)):
            if isinstance(hn, str):
                e.each(f"{path}[{i}].hostnames[{j}]", hn, names.is_dns1123_subdomain(hn))


def _tolerations(e: _Errs, tols: Sequence[Toleration] | None, path: str) -> None:
    for i, t in enumerate(_seq(tols)):
        if not isinstance(t, Toleration):
            continue
        ipath = f"{path}[{i}]"
        key, op, eff, val = _s(t.key), _s(t.operator), _s(t.effect), _s(t.value)
        if key:
            e.each(f"{ipath}.key", key, names.is_qualified_name(key))
        if not key and op != "Exists":
            e.invalid(
                f"{ipath}.operator",
                op,
                'operator must be Exists when `key` is empty, which means "match all values and all keys"',
            )
        if t.toleration_seconds is not None and eff != "NoExecute":
            e.invalid(
                f"{ipath}.effect", eff, "effect must be 'NoExecute' when `tolerationSeconds` is set"
            )
        if op in ("Equal", ""):
            e.each(f"{ipath}.operator", val, names.is_valid_label_value(val))
        elif op == "Exists":
            if val:
                e.invalid(
                    f"{ipath}.operator",
                    _struct(t),
                    "value must be empty when `operator` is 'Exists'",
                )
        else:
            e.not_supported(f"{ipath}.operator", op, ["Equal", "Exists"])
        if eff and eff not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            e.not_supported(f"{ipath}.effect", eff, ["NoSchedule", "PreferNoSchedule", "NoExecute"])


def _topology_spread(e: _Errs, tscs: Sequence[TopologySpreadConstraint] | None, path: str) -> None:
    items = [t for t in _seq(tscs) if isinstance(t, TopologySpreadConstraint)]
    for i, t in enumerate(items):
        ipath = f"{path}[{i}]"
        skew = _i(t.max_skew)
        if skew <= 0:
            e.invalid(f"{ipath}.maxSkew", skew, IS_NOT_POSITIVE)
        key = _s(t.topology_key)
        if not key:
            e.required(f"{ipath}.topologyKey", "can not be empty")
        else:
            e.each(f"{ipath}.topologyKey", key, names.is_qualified_name(key))
        wu = _s(t.when_unsatisfiable)
        if wu not in ("DoNotSchedule", "ScheduleAnyway"):
            e.not_supported(f"{ipath}.whenUnsatisfiable", wu, ["DoNotSchedule", "ScheduleAnyway"])
        for other in items[i + 1 :]:
            if _s(other.topology_key) == key and _s(other.when_unsatisfiable) == wu:
                e.duplicate(f"{ipath}.{{topologyKey, whenUnsatisfiable}}", f"{{{key}, {wu}}}")
                break
        if t.min_domains is not None:
            md = _i(t.min_domains)
            if md <= 0:
                e.invalid(f"{ipath}.minDomains", md, IS_NOT_POSITIVE)
            if wu != "DoNotSchedule":
                e.invalid(
                    f"{ipath}.minDomains",
                    md,
                    f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {wu}",
                )
        for attr, json_name in (
            ("node_affinity_policy", "nodeAffinityPolicy"),
            ("node_taints_policy", "nodeTaintsPolicy"),
        ):
            v = getattr(t, attr, None)
            if v is not None and v not in ("Honor", "Ignore"):
                e.not_supported(f"{ipath}.{json_name}", v, ["Honor", "Ignore"])


# -- static pods ----------------------------------------------------------------------------


def _static_pod_references(e: _Errs, spec: PodSpec) -> None:
    """The kubelet's file source: static pods may not reference API objects."""

    def ref(path: str, resource: str) -> None:
        e.forbidden(path, f"static pods may not reference {resource}")

    sa = _s(spec.service_account_name)
    if sa and sa != "default":
        ref("spec.serviceAccountName", "serviceaccounts")
    for i, v in enumerate(_seq(spec.volumes)):
        if not isinstance(v, Volume):
            continue
        vp = f"spec.volumes[{i}]"
        if v.config_map is not None:
            ref(f"{vp}.configMap", "configmaps")
        if v.secret is not None:
            ref(f"{vp}.secret", "secrets")
        if v.persistent_volume_claim is not None:
            ref(f"{vp}.persistentVolumeClaim", "persistentvolumeclaims")
        if v.ephemeral is not None:
            ref(f"{vp}.ephemeral", "persistentvolumeclaims")
        if v.projected is not None:
            for j, s in enumerate(_seq(v.projected.sources)):
                sp = f"{vp}.projected.sources[{j}]"
                if getattr(s, "config_map", None) is not None:
                    ref(f"{sp}.configMap", "configmaps")
                if getattr(s, "secret", None) is not None:
                    ref(f"{sp}.secret", "secrets")
                if getattr(s, "service_account_token", None) is not None:
                    ref(f"{sp}.serviceAccountToken", "serviceaccounts")
                if getattr(s, "cluster_trust_bundle", None) is not None:
                    ref(f"{sp}.clusterTrustBundle", "clustertrustbundles")
                if getattr(s, "pod_certificate", None) is not None:
                    ref(f"{sp}.podCertificate", "podcertificaterequests")
    for field_name, ctrs in (
        ("containers", spec.containers),
        ("initContainers", spec.init_containers),
    ):
        for ci, c in enumerate(_seq(ctrs)):
            if not isinstance(c, Container):
                continue
            cp = f"spec.{field_name}[{ci}]"
            for k, ef in enumerate(_seq(c.env_from)):
                if isinstance(ef, EnvFromSource):
                    if ef.config_map_ref is not None:
                        ref(f"{cp}.envFrom[{k}].configMapRef", "configmaps")
                    if ef.secret_ref is not None:
                        ref(f"{cp}.envFrom[{k}].secretRef", "secrets")
            for k, ev in enumerate(_seq(c.env)):
                if isinstance(ev, EnvVar) and ev.value_from is not None:
                    if ev.value_from.config_map_key_ref is not None:
                        ref(f"{cp}.env[{k}].valueFrom.configMapKeyRef", "configmaps")
                    if ev.value_from.secret_key_ref is not None:
                        ref(f"{cp}.env[{k}].valueFrom.secretKeyRef", "secrets")
    if _seq(spec.ephemeral_containers):
        ref("spec.ephemeralContainers", "ephemeralcontainers")
    if _seq(spec.resource_claims):
        ref("spec.resourceClaims", "resourceclaims")


# -- ConfigMap and Secret -------------------------------------------------------------------


def validate_config_map(cm: ConfigMap) -> list[FieldError]:
    """ValidateConfigMap."""
    e = _Errs()
    _object_meta(e, cm.metadata)
    total = 0
    data = _map(cm.data)
    binary = _map(cm.binary_data)
    for k, v in data.items():
        e.each(_key("data", k), k, names.is_config_map_key(k))
        if k in binary:
            e.invalid(_key("data", k), k, "duplicate of key present in binaryData")
        total += len(_s(v).encode("utf-8", "surrogatepass"))
    for k, v in binary.items():
        e.each(_key("binaryData", k), k, names.is_config_map_key(k))
        raw = _b64(e, _key("binaryData", k), _s(v))
        total += len(raw) if raw is not None else 0
    if total > MAX_SECRET_SIZE:
        e.too_long("", MAX_SECRET_SIZE)
    return e.items


def _b64(e: _Errs, path: str, text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        bad = next((i for i, ch in enumerate(text) if ch not in _B64_CHARS), len(text))
        e.raw(path, f"illegal base64 data at input byte {bad}")
        return None


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def validate_secret(secret: Secret) -> list[FieldError]:
    """ValidateSecret (stringData already merged into data by the caller)."""
    e = _Errs()
    _object_meta(e, secret.metadata)
    data: dict[str, bytes] = {}
    total = 0
    for k, v in _map(secret.data).items():
        e.each(_key("data", k), k, names.is_config_map_key(k))
        raw = _b64(e, _key("data", k), _s(v))
        data[k] = raw if raw is not None else b""
        total += len(data[k])
    for k, v in _map(secret.string_data).items():
        e.each(_key("stringData", k), k, names.is_config_map_key(k))
        data[k] = _s(v).encode()
        total += len(data[k])
    if total > MAX_SECRET_SIZE:
        e.too_long("data", MAX_SECRET_SIZE)
    ann = _map(secret.metadata.annotations if secret.metadata else None)
    t = _s(secret.type)
    if t == "kubernetes.io/service-account-token":
        if not _s(ann.get("kubernetes.io/service-account.name")):
            e.required(_key("metadata.annotations", "kubernetes.io/service-account.name"))
    elif t in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if t == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            e.required(_key("data", key))
        else:
            try:
                parsed = json.loads(data[key].decode("utf-8"))
                if not isinstance(parsed, dict):
                    raise ValueError(
                        "json: cannot unmarshal into Go value of type map[string]interface {}"
                    )
            except (ValueError, UnicodeDecodeError) as err:
                e.invalid(_key("data", key), "<secret contents redacted>", str(err))
    elif t == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            e.required(_key("data", "username"))
            e.required(_key("data", "password"))
    elif t == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            e.required(_key("data", "ssh-privatekey"))
    elif t == "kubernetes.io/tls":
        if "tls.crt" not in data:
            e.required(_key("data", "tls.crt"))
        if "tls.key" not in data:
            e.required(_key("data", "tls.key"))
    return e.items
