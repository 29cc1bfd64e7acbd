"""Kubernetes requests/limits -> cgroup v2 file values, as the kubelet and runc compute them.

Pure: plain mappings of quantities in, {"cpu.weight": "39", ...} out. The cgroup manager
(podrun.runtime.cgroups) writes them; nothing here touches the host.

Sources (DESIGN.md section 4; issue "Runtime core" item 3):
- K8S: pkg/kubelet/cm/helpers_linux.go: MilliCPUToShares (min 2, max 262144),
  MilliCPUToQuota (period 100000 us, minimum quota 1000 us), ResourceConfigForPod.
- K8S: pkg/kubelet/kuberuntime/kuberuntime_container_linux.go calculateLinuxResources: a
  container with a CPU limit but no CPU request gets shares from the limit; no limit -> quota
  unset, which runc writes as "max <period>".
- K8S: staging/src/k8s.io/component-helpers/resource/helpers.go PodRequests / PodLimits:
  pod total = max(sum(app + sidecars), max over init containers of (init + sidecars started
  before it)), plus pod overhead.
- K8S: pkg/apis/core/v1/helper/qos/qos.go ComputePodQOS.
- opencontainers/cgroups utils.go ConvertCPUSharesToCgroupV2Value: since runc 1.3.2 /
  crun 1.23 (runc PR #4785) a quadratic-in-log2 curve mapping shares 2 -> 1,
  1024 -> 100 (the v2 default), 262144 -> 10000; before it the linear
  1 + (shares - 2) * 9999 / 262142. Kubernetes' own e2e (test/e2e/common/node cgroup
  expectations) accepts both; podrun uses the current one and keeps the old as an option.

Not mapped, on purpose: memory.min/memory.low/memory.high (only with the MemoryQoS alpha
gate), hugetlb limits, QoS-tier parent cgroups (kubepods/burstable/besteffort: podrun puts
pods directly under its root), CPUCFSQuotaPeriod (alpha; the period is a parameter here).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any, Literal

from podrun.spec.quantity import quantity_from_json

# K8S: pkg/kubelet/cm/helpers_linux.go
MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
MILLI_CPU_TO_CPU = 1000
QUOTA_PERIOD = 100000  # microseconds (100 ms)
MIN_QUOTA_PERIOD = 1000  # microseconds (1 ms): the kernel's smallest quota

# cgroup v2 cpu.weight range (kernel): 1..10000, default 100.
MIN_WEIGHT = 1
MAX_WEIGHT = 10000
DEFAULT_WEIGHT = 100

WeightFormula = Literal["nonlinear", "linear"]

Quantity = str | int | float

CPU = "cpu"
MEMORY = "memory"

# ---------------------------------------------------------------------------------------
# Quantities (k8s.io/apimachinery resource.Quantity, the parts podrun needs)
# ---------------------------------------------------------------------------------------

def parse_quantity(q: Quantity) -> Fraction:
    """A Kubernetes quantity ("250m", "1.5Gi", "1e3", 2, 0.5) as an exact fraction.

    Parsing is podrun.spec.quantity's (apimachinery's grammar and rounding); a bad
    quantity raises its QuantityError, a ValueError.
    """
    parsed = quantity_from_json(q)
    return Fraction(parsed.unscaled) * Fraction(10) ** parsed.exp


def milli_value(q: Quantity) -> int:
    """Quantity.MilliValue(): thousandths, rounded up (so "0.0001" cpu is 1m)."""
    return math.ceil(parse_quantity(q) * 1000)


def value(q: Quantity) -> int:
    """Quantity.Value(): whole units, rounded up (so "100m" bytes is 1 byte)."""
    return math.ceil(parse_quantity(q))


# ---------------------------------------------------------------------------------------
# CPU and memory conversions
# ---------------------------------------------------------------------------------------


def milli_cpu_to_shares(milli_cpu: int) -> int:
    """K8S cm.MilliCPUToShares: 0 -> 2 (the kernel minimum, not Docker's 1024 default)."""
    if milli_cpu == 0:
        return MIN_SHARES
    shares = (milli_cpu * SHARES_PER_CPU) // MILLI_CPU_TO_CPU
    return max(MIN_SHARES, min(MAX_SHARES, shares))


def milli_cpu_to_quota(milli_cpu: int, period: int = QUOTA_PERIOD) -> int:
    """K8S cm.MilliCPUToQuota: 0 means no quota; otherwise at least 1000 us."""
    if milli_cpu == 0:
        return 0
    return max(MIN_QUOTA_PERIOD, (milli_cpu * period) // MILLI_CPU_TO_CPU)


def cpu_shares_to_weight(shares: int, formula: WeightFormula = "nonlinear") -> int:
    """cgroup v1 cpu.shares -> cgroup v2 cpu.weight as the OCI runtime converts it.

    "nonlinear" is opencontainers/cgroups ConvertCPUSharesToCgroupV2Value since runc 1.3.2
    and crun 1.23: l = log2(shares); weight = ceil(10 ** ((l*l + 125*l) / 612 - 7/34)),
    which keeps 1024 shares (1 CPU) at the v2 default weight 100. "linear" is the older
    1 + (shares - 2) * 9999 // 262142 that mapped 1 CPU to weight 39.
    0 means unset and stays 0.
    """
    if shares == 0:
        return 0
    if formula == "linear":
        shares = max(MIN_SHARES, min(MAX_SHARES, shares))
        return 1 + ((shares - 2) * 9999) // 262142
    if shares <= MIN_SHARES:
        return MIN_WEIGHT
    if shares >= MAX_SHARES:
        return MAX_WEIGHT
    lg = math.log2(shares)
    exponent = (lg * lg + 125 * lg) / 612.0 - 7.0 / 34.0
    return int(math.ceil(math.pow(10, exponent)))


def cpu_max(milli_cpu_limit: int, period: int = QUOTA_PERIOD, *, enforce: bool = True) -> str:
    """cpu.max for a CPU limit: "<quota> <period>", or "max <period>" when unlimited.

    runc writes "max <period>" when the kubelet passes quota 0 with a period, which it does
    for every container without a CPU limit (or with cpuCFSQuota disabled: enforce=False).
    """
    quota = milli_cpu_to_quota(milli_cpu_limit, period) if enforce else 0
    return f"{quota} {period}" if quota > 0 else f"max {period}"


def memory_max(limit_bytes: int) -> str:
    """memory.max: the byte count, or "max" when there is no limit (0)."""
    return str(limit_bytes) if limit_bytes > 0 else "max"


def pids_max(pod_pids_limit: int) -> str:
    """pids.max from the kubelet's podPidsLimit: a positive count, else "max" (-1, 0)."""
    return str(pod_pids_limit) if pod_pids_limit > 0 else "max"


# ---------------------------------------------------------------------------------------
# Inputs: containers and pods as plain data
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerResources:
    """One container's resources. `sidecar` = init container with restartPolicy Always."""

    name: str = ""
    requests: Mapping[str, Quantity] = field(default_factory=dict)
    limits: Mapping[str, Quantity] = field(default_factory=dict)
    sidecar: bool = False

    def defaulted_requests(self) -> dict[str, Quantity]:
        """Requests after API defaulting: a resource with a limit and no request gets the
        limit as its request (K8S: pkg/apis/core/v1/defaults.go, SetDefaults_Pod). The
        kubelet only ever sees defaulted pods; podrun may get raw manifests."""
        out: dict[str, Quantity] = dict(self.requests)
        for name, q in self.limits.items():
            out.setdefault(name, q)
        return out


@dataclass(frozen=True)
class PodResources:
    """The resource view of a pod spec: app containers, init containers, overhead."""

    containers: Sequence[ContainerResources] = ()
    init_containers: Sequence[ContainerResources] = ()
    overhead: Mapping[str, Quantity] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: Any) -> PodResources:
        """From a v1 PodSpec: a camelCase dict (parsed YAML/JSON) or a podrun.spec.types
        PodSpec (snake_case attributes)."""
        containers = _get(spec, "containers", "containers") or ()
        inits = _get(spec, "initContainers", "init_containers") or ()
        overhead = _get(spec, "overhead", "overhead") or {}
        return cls(
            containers=tuple(container_resources(c) for c in containers),
            init_containers=tuple(container_resources(c, init=True) for c in inits),
            overhead=dict(overhead),
        )


def _get(obj: Any, camel: str, snake: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(camel)
    return getattr(obj, snake, None)


def container_resources(container: Any, *, init: bool = False) -> ContainerResources:
    """ContainerResources from a v1 Container dict or a podrun.spec.types Container."""
    res = _get(container, "resources", "resources") or {}
    requests = _get(res, "requests", "requests") or {}
    limits = _get(res, "limits", "limits") or {}
    policy = _get(container, "restartPolicy", "restart_policy")
    return ContainerResources(
        name=str(_get(container, "name", "name") or ""),
        requests=dict(requests),
        limits=dict(limits),
        sidecar=init and policy == "Always",
    )


# ---------------------------------------------------------------------------------------
# Pod totals (component-helpers resource.PodRequests / PodLimits)
# ---------------------------------------------------------------------------------------

ResourceTotals = dict[str, Fraction]


def _add(into: ResourceTotals, items: Mapping[str, Quantity]) -> None:
    for name, q in items.items():
        into[name] = into.get(name, Fraction(0)) + parse_quantity(q)


def _max(into: ResourceTotals, other: ResourceTotals) -> None:
    for name, q in other.items():
        if name not in into or q > into[name]:
            into[name] = q


def pod_requests(pod: PodResources) -> ResourceTotals:
    """resource.PodRequests: sum of app containers and sidecars, raised to the largest
    init-container need (an init container runs next to the sidecars started before it),
    plus overhead."""
    reqs: ResourceTotals = {}
    for c in pod.containers:
        _add(reqs, c.defaulted_requests())
    restartable: ResourceTotals = {}
    init_max: ResourceTotals = {}
    for c in pod.init_containers:
        if c.sidecar:
            _add(reqs, c.defaulted_requests())
            _add(restartable, c.defaulted_requests())
            need = dict(restartable)
        else:
            need = dict(restartable)
            _add(need, c.defaulted_requests())
        _max(init_max, need)
    _max(reqs, init_max)
    _add(reqs, pod.overhead)
    return reqs


@dataclass(frozen=True)
class PodLimits:
    """resource.PodLimits plus ResourceConfigForPod's "was a limit declared everywhere"."""

    totals: ResourceTotals
    cpu_declared: bool
    memory_declared: bool


def pod_limits(pod: PodResources) -> PodLimits:
    """resource.PodLimits with the ContainerFn ResourceConfigForPod passes: a pod-level
    limit counts only if every container (init containers seen with the sidecars running
    next to them) declares one."""
    limits: ResourceTotals = {}
    cpu_declared = True
    memory_declared = True

    def seen(res: ResourceTotals) -> None:
        nonlocal cpu_declared, memory_declared
        if res.get(CPU, Fraction(0)) == 0:
            cpu_declared = False
        if res.get(MEMORY, Fraction(0)) == 0:
            memory_declared = False

    for c in pod.containers:
        own: ResourceTotals = {}
        _add(own, c.limits)
        seen(own)
        _add(limits, c.limits)
    restartable: ResourceTotals = {}
    init_max: ResourceTotals = {}
    for c in pod.init_containers:
        if c.sidecar:
            _add(limits, c.limits)
            _add(restartable, c.limits)
            need = dict(restartable)
        else:
            need = dict(restartable)
            _add(need, c.limits)
        seen(need)
        _max(init_max, need)
    _max(limits, init_max)
    # Overhead is added to limits only where a limit exists (resource.PodLimits).
    for name, q in pod.overhead.items():
        if name in limits:
            limits[name] += parse_quantity(q)
    return PodLimits(limits, cpu_declared, memory_declared)


# ---------------------------------------------------------------------------------------
# QoS class (K8S: pkg/apis/core/v1/helper/qos/qos.go ComputePodQOS)
# ---------------------------------------------------------------------------------------


class QOSClass(StrEnum):
    GUARANTEED = "Guaranteed"
    BURSTABLE = "Burstable"
    BESTEFFORT = "BestEffort"


_QOS_RESOURCES = (CPU, MEMORY)


def qos_class(pod: PodResources) -> QOSClass:
    """GetPodQOS over app and init containers, on defaulted requests.

    BestEffort: no cpu/memory request or limit anywhere. Guaranteed: every container has
    cpu and memory limits and the summed requests equal the summed limits for both.
    Otherwise Burstable. Other resources (ephemeral-storage, hugepages) do not count.
    """
    requests: ResourceTotals = {}
    limits: ResourceTotals = {}
    guaranteed = True
    for c in (*pod.containers, *pod.init_containers):
        for name, q in c.defaulted_requests().items():
            if name in _QOS_RESOURCES and parse_quantity(q) > 0:
                requests[name] = requests.get(name, Fraction(0)) + parse_quantity(q)
        found: set[str] = set()
        for name, q in c.limits.items():
            if name in _QOS_RESOURCES and parse_quantity(q) > 0:
                found.add(name)
                limits[name] = limits.get(name, Fraction(0)) + parse_quantity(q)
        if not found.issuperset(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return QOSClass.BESTEFFORT
    if guaranteed:
        for name, req in requests.items():
            if limits.get(name) != req:
                guaranteed = False
                break
    if guaranteed and len(requests) == len(limits):
        return QOSClass.GUARANTEED
    return QOSClass.BURSTABLE


# ---------------------------------------------------------------------------------------
# cgroup v2 file values
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CgroupOptions:
    """The kubelet settings that change the mapping (KubeletConfiguration names)."""

    cpu_cfs_quota: bool = True  # cpuCFSQuota
    cpu_cfs_quota_period: int = QUOTA_PERIOD  # cpuCFSQuotaPeriod, in microseconds
    pod_pids_limit: int = -1  # podPidsLimit: -1 = unlimited
    weight_formula: WeightFormula = "nonlinear"
    # memory.swap.max=0 per container: the kubelet's NoSwap default when the swap
    # controller exists (kuberuntime_container_linux.go configureContainerSwapResources,
    # recalled). Turn off to leave swap to the host's default.
    no_swap: bool = True


DEFAULT_OPTIONS = CgroupOptions()


def container_cgroup_values(
    requests: Mapping[str, Quantity],
    limits: Mapping[str, Quantity],
    options: CgroupOptions = DEFAULT_OPTIONS,
) -> dict[str, str]:
    """File values for a container's own cgroup (calculateLinuxResources + runc).

    Keys are cgroup v2 file names in the order they should be written.
    """
    cpu_request = milli_value(requests[CPU]) if CPU in requests else 0
    cpu_limit = milli_value(limits[CPU]) if CPU in limits else 0
    mem_limit = value(limits[MEMORY]) if MEMORY in limits else 0
    # A limit without a request: the request defaults to the limit (the API server does
    # it for new pods; the kubelet repeats it here for old ones).
    shares = milli_cpu_to_shares(cpu_limit if cpu_request == 0 and cpu_limit else cpu_request)
    out = {
        "cpu.weight": str(cpu_shares_to_weight(shares, options.weight_formula)),
        "cpu.max": cpu_max(cpu_limit, options.cpu_cfs_quota_period,
                           enforce=options.cpu_cfs_quota),
        "memory.max": memory_max(mem_limit),
    }
    if options.no_swap:
        out["memory.swap.max"] = "0"
    return out


def pod_cgroup_values(pod: PodResources, options: CgroupOptions = DEFAULT_OPTIONS) -> dict[str, str]:
    """File values for the pod cgroup: ResourceConfigForPod, plus podPidsLimit.

    Guaranteed: shares from summed requests, quota from summed limits, memory.max = summed
    limits. Burstable: shares always; quota / memory.max only when every container declares
    that limit. BestEffort: minimum shares only.
    """
    period = options.cpu_cfs_quota_period
    reqs = pod_requests(pod)
    lims = pod_limits(pod)
    cpu_requests = math.ceil(reqs.get(CPU, Fraction(0)) * 1000)
    cpu_limits = math.ceil(lims.totals.get(CPU, Fraction(0)) * 1000)
    mem_limits = math.ceil(lims.totals.get(MEMORY, Fraction(0)))
    qos = qos_class(pod)

    shares = MIN_SHARES
    quota_milli = 0
    memory = 0
    if qos is QOSClass.GUARANTEED:
        shares = milli_cpu_to_shares(cpu_requests)
        quota_milli = cpu_limits
        memory = mem_limits
    elif qos is QOSClass.BURSTABLE:
        shares = milli_cpu_to_shares(cpu_requests)
        if lims.cpu_declared:
            quota_milli = cpu_limits
        if lims.memory_declared:
            memory = mem_limits
    return {
        "cpu.weight": str(cpu_shares_to_weight(shares, options.weight_formula)),
        "cpu.max": cpu_max(quota_milli, period, enforce=options.cpu_cfs_quota),
        "memory.max": memory_max(memory),
        "pids.max": pids_max(options.pod_pids_limit),
    }


# The value each file has in a fresh cgroup: writing it restricts nothing, so a host that
# cannot write it has not failed to enforce anything.
UNRESTRICTED = {
    "cpu.weight": (str(DEFAULT_WEIGHT),),
    "cpu.max": tuple(f"max {p}" for p in (QUOTA_PERIOD,)) + ("max",),
    "memory.max": ("max",),
    "memory.swap.max": ("max",),
    "pids.max": ("max",),
}


def is_unrestricted(filename: str, file_value: str) -> bool:
    """True if writing `file_value` to `filename` would not limit anything."""
    if filename == "cpu.max" and file_value.split()[:1] == ["max"]:
        return True
    return file_value in UNRESTRICTED.get(filename, ())


def controller_of(filename: str) -> str:
    """The cgroup v2 controller that owns an interface file ("memory.max" -> "memory")."""
    return filename.split(".", 1)[0]


def controllers_needed(files: Iterable[str]) -> list[str]:
    """Controllers a set of file values needs, in first-use order."""
    out: list[str] = []
    for name in files:
        c = controller_of(name)
        if c not in out:
            out.append(c)
    return out
