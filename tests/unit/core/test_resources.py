"""Table tests: Kubernetes requests/limits -> cgroup v2 values (podrun.core.resources).

Each row names the kubelet/runc rule it checks (helpers_linux.go MilliCPUToShares /
MilliCPUToQuota / ResourceConfigForPod, component-helpers PodRequests/PodLimits,
qos.go ComputePodQOS, opencontainers/cgroups ConvertCPUSharesToCgroupV2Value).
"""

from __future__ import annotations

import pytest

from podrun.core.resources import (
    CgroupOptions,
    ContainerResources,
    PodResources,
    QOSClass,
    container_cgroup_values,
    cpu_shares_to_weight,
    is_unrestricted,
    milli_cpu_to_quota,
    milli_cpu_to_shares,
    milli_value,
    pod_cgroup_values,
    pod_limits,
    pod_requests,
    qos_class,
    value,
)

C = ContainerResources

# (id, requests.cpu, expected cpu.weight) with the current (runc >= 1.3.2) curve
CPU_WEIGHT = [
    ("no request -> MinShares 2 -> weight 1", None, "1"),
    ("1m -> shares below min, clamped to 2", "1m", "1"),
    ("10m (MinMilliCPULimit) -> 10 shares", "10m", "4"),
    ("100m -> 102 shares", "100m", "17"),
    ("250m -> 256 shares", "250m", "35"),
    ("0.5 -> 512 shares", "0.5", "59"),
    ("1 CPU -> 1024 shares -> v2 default 100", "1", "100"),
    ("1000m same as 1", "1000m", "100"),
    ("1500m -> 1536 shares", "1500m", "138"),
    ("2 CPUs -> 2048 shares", "2", "174"),
    ("4 CPUs", 4, "303"),
    ("10 CPUs", "10", "639"),
    ("256 CPUs -> MaxShares 262144 -> 10000", "256", "10000"),
    ("300 CPUs clamped to MaxShares", "300", "10000"),
    ("0.0001 CPU rounds up to 1m", "0.0001", "1"),
]


@pytest.mark.parametrize("rid,cpu,weight", CPU_WEIGHT, ids=[r[0] for r in CPU_WEIGHT])
def test_container_cpu_weight(rid: str, cpu: str | None, weight: str) -> None:
    requests = {"cpu": cpu} if cpu is not None else {}
    assert container_cgroup_values(requests, {})["cpu.weight"] == weight


LINEAR = [
    ("linear: 2 shares -> 1", 2, 1),
    ("linear: 256 shares -> 10", 256, 10),
    ("linear: 1024 shares -> 39 (old runc)", 1024, 39),
    ("linear: 262144 shares -> 10000", 262144, 10000),
    ("both: 0 = unset stays 0", 0, 0),
]


@pytest.mark.parametrize("rid,shares,weight", LINEAR, ids=[r[0] for r in LINEAR])
def test_linear_weight_formula(rid: str, shares: int, weight: int) -> None:
    assert cpu_shares_to_weight(shares, "linear") == weight


def test_nonlinear_anchor_points() -> None:
    # runc PR #4785: the curve passes through min, default and max exactly.
    assert [cpu_shares_to_weight(s) for s in (2, 1024, 262144)] == [1, 100, 10000]
    assert cpu_shares_to_weight(0) == 0


CPU_MAX = [
    ("no limit -> max with kubelet period", None, {}, "max 100000"),
    ("250m -> 25000/100000", "250m", {}, "25000 100000"),
    ("1m -> quota 100 raised to MinQuotaPeriod 1000", "1m", {}, "1000 100000"),
    ("10m -> exactly 1000", "10m", {}, "1000 100000"),
    ("1.5 CPUs", "1.5", {}, "150000 100000"),
    ("64 CPUs", "64", {}, "6400000 100000"),
    ("custom cpuCFSQuotaPeriod 50ms", "500m", {"cpu_cfs_quota_period": 50000}, "25000 50000"),
    ("cpuCFSQuota=false -> unlimited", "2", {"cpu_cfs_quota": False}, "max 100000"),
]


@pytest.mark.parametrize("rid,cpu,opts,expected", CPU_MAX, ids=[r[0] for r in CPU_MAX])
def test_container_cpu_max(rid: str, cpu: str | None, opts: dict[str, object], expected: str) -> None:
    limits = {"cpu": cpu} if cpu is not None else {}
    options = CgroupOptions(**opts)  # type: ignore[arg-type]
    assert container_cgroup_values({}, limits, options)["cpu.max"] == expected


MEMORY_MAX = [
    ("no limit -> max", None, "max"),
    ("64Mi", "64Mi", "67108864"),
    ("1Gi", "1Gi", "1073741824"),
    ("1G decimal", "1G", "1000000000"),
    ("1.5Gi", "1.5Gi", "1610612736"),
    ("plain bytes", "128974848", "128974848"),
    ("exponent 129e6", "129e6", "129000000"),
    ("123Mi", "123Mi", "128974848"),
    ("100m bytes rounds up to 1", "100m", "1"),
    ("1Ei huge", "1Ei", "1152921504606846976"),
    ("4k", "4k", "4000"),
    ("integer from YAML", 1048576, "1048576"),
]


@pytest.mark.parametrize("rid,mem,expected", MEMORY_MAX, ids=[r[0] for r in MEMORY_MAX])
def test_container_memory_max(rid: str, mem: str | int | None, expected: str) -> None:
    limits = {"memory": mem} if mem is not None else {}
    assert container_cgroup_values({}, limits)["memory.max"] == expected


def test_limit_without_request_uses_limit_for_shares() -> None:
    # calculateLinuxResources: request unset, limit set -> shares from the limit
    assert container_cgroup_values({}, {"cpu": "1"})["cpu.weight"] == "100"


def test_no_swap_default_and_off() -> None:
    assert container_cgroup_values({}, {})["memory.swap.max"] == "0"
    assert "memory.swap.max" not in container_cgroup_values({}, {}, CgroupOptions(no_swap=False))


def test_shares_and_quota_helpers() -> None:
    assert milli_cpu_to_shares(0) == 2
    assert milli_cpu_to_shares(10**9) == 262144
    assert milli_cpu_to_quota(0) == 0
    assert milli_cpu_to_quota(5) == 1000
    assert milli_value("0.0001") == 1 and value("100m") == 1


def test_bad_quantity_is_value_error() -> None:
    with pytest.raises(ValueError):
        container_cgroup_values({}, {"memory": "1Gb"})


# --- QoS (ComputePodQOS) -------------------------------------------------------------

QOS = [
    ("BestEffort: nothing set", [C()], [], QOSClass.BESTEFFORT),
    ("BestEffort: only other resources", [C(requests={"ephemeral-storage": "1Gi"})], [],
     QOSClass.BESTEFFORT),
    ("Burstable: only a cpu request", [C(requests={"cpu": "100m"})], [], QOSClass.BURSTABLE),
    ("Burstable: request below limit", [C(requests={"cpu": "100m", "memory": "1Mi"},
                                          limits={"cpu": "200m", "memory": "1Mi"})], [],
     QOSClass.BURSTABLE),
    ("Guaranteed: limits only (requests default to limits)",
     [C(limits={"cpu": "1", "memory": "1Gi"})], [], QOSClass.GUARANTEED),
    ("Guaranteed: equal requests and limits",
     [C(requests={"cpu": "500m", "memory": "64Mi"}, limits={"cpu": "0.5", "memory": "64Mi"})],
     [], QOSClass.GUARANTEED),
    ("Burstable: memory limit missing", [C(limits={"cpu": "1"})], [], QOSClass.BURSTABLE),
    ("Burstable: one of two containers without limits",
     [C(limits={"cpu": "1", "memory": "1Gi"}), C()], [], QOSClass.BURSTABLE),
    ("Burstable: init container without limits spoils Guaranteed",
     [C(limits={"cpu": "1", "memory": "1Gi"})], [C(requests={"cpu": "1"})], QOSClass.BURSTABLE),
    ("Guaranteed: init and app both fully limited",
     [C(limits={"cpu": "1", "memory": "1Gi"})], [C(limits={"cpu": "2", "memory": "2Gi"})],
     QOSClass.GUARANTEED),
    ("Burstable: zero limits do not count", [C(limits={"cpu": "0", "memory": "0"}),
                                             C(requests={"cpu": "1m"})], [], QOSClass.BURSTABLE),
]


@pytest.mark.parametrize("rid,containers,inits,expected", QOS, ids=[r[0] for r in QOS])
def test_qos_class(rid: str, containers: list[C], inits: list[C], expected: QOSClass) -> None:
    assert qos_class(PodResources(containers, inits)) is expected


# --- pod totals (PodRequests / PodLimits with sidecars) -----------------------------

def test_pod_requests_init_max_rule() -> None:
    # effective request = max(max(init), sum(app))
    pod = PodResources([C(requests={"cpu": "100m"}), C(requests={"cpu": "200m"})],
                       [C(requests={"cpu": "500m"}), C(requests={"cpu": "50m"})])
    assert pod_requests(pod)["cpu"] * 1000 == 500


def test_pod_requests_sidecars_add() -> None:
    # a sidecar adds to the app sum and to every later init container's need
    pod = PodResources([C(requests={"cpu": "100m"})],
                       [C(requests={"cpu": "200m"}, sidecar=True), C(requests={"cpu": "250m"})])
    assert pod_requests(pod)["cpu"] * 1000 == 450  # max(100+200, 200+250)


def test_pod_requests_overhead() -> None:
    pod = PodResources([C(requests={"memory": "64Mi"})], overhead={"memory": "16Mi"})
    assert pod_requests(pod)["memory"] == 80 * 2**20


def test_pod_limits_declared_flags() -> None:
    lims = pod_limits(PodResources([C(limits={"cpu": "1"}), C(limits={"cpu": "1", "memory": "1Mi"})]))
    assert lims.cpu_declared and not lims.memory_declared
    assert lims.totals["cpu"] == 2


POD_VALUES = [
    ("BestEffort pod: MinShares only", [C()], [], {},
     {"cpu.weight": "1", "cpu.max": "max 100000", "memory.max": "max", "pids.max": "max"}),
    ("Guaranteed pod: sums of limits",
     [C(limits={"cpu": "500m", "memory": "64Mi"}), C(limits={"cpu": "250m", "memory": "32Mi"})], [],
     {}, {"cpu.weight": "80", "cpu.max": "75000 100000", "memory.max": str(96 * 2**20),
          "pids.max": "max"}),
    ("Burstable pod: cpu limit not on every container -> no pod quota",
     [C(requests={"cpu": "1"}, limits={"cpu": "2"}), C(requests={"cpu": "1"})], [], {},
     {"cpu.weight": "174", "cpu.max": "max 100000", "memory.max": "max", "pids.max": "max"}),
    ("Burstable pod: all declare memory -> memory.max sum",
     [C(requests={"cpu": "100m"}, limits={"memory": "1Gi"}), C(limits={"memory": "1Gi"})], [], {},
     {"cpu.weight": "17", "cpu.max": "max 100000", "memory.max": str(2 * 2**30),
      "pids.max": "max"}),
    ("podPidsLimit 1024", [C()], [], {"pod_pids_limit": 1024},
     {"cpu.weight": "1", "cpu.max": "max 100000", "memory.max": "max", "pids.max": "1024"}),
    ("podPidsLimit -1 = max", [C()], [], {"pod_pids_limit": -1},
     {"cpu.weight": "1", "cpu.max": "max 100000", "memory.max": "max", "pids.max": "max"}),
    ("Guaranteed pod with a bigger init container: init max wins",
     [C(limits={"cpu": "500m", "memory": "64Mi"})], [C(limits={"cpu": "2", "memory": "1Gi"})], {},
     {"cpu.weight": "174", "cpu.max": "200000 100000", "memory.max": str(2**30),
      "pids.max": "max"}),
    ("Guaranteed pod with a sidecar: sidecar adds",
     [C(limits={"cpu": "500m", "memory": "64Mi"})],
     [C(limits={"cpu": "500m", "memory": "64Mi"}, sidecar=True)], {},
     {"cpu.weight": "100", "cpu.max": "100000 100000", "memory.max": str(128 * 2**20),
      "pids.max": "max"}),
]


@pytest.mark.parametrize("rid,containers,inits,opts,expected", POD_VALUES,
                         ids=[r[0] for r in POD_VALUES])
def test_pod_cgroup_values(rid: str, containers: list[C], inits: list[C],
                           opts: dict[str, object], expected: dict[str, str]) -> None:
    options = CgroupOptions(**opts)  # type: ignore[arg-type]
    assert pod_cgroup_values(PodResources(containers, inits), options) == expected


def test_from_spec_dict_and_sidecar() -> None:
    spec = {
        "containers": [{"name": "app", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}],
        "initContainers": [{"name": "side", "restartPolicy": "Always",
                            "resources": {"requests": {"cpu": "100m"}}},
                           {"name": "init", "resources": {}}],
    }
    pod = PodResources.from_spec(spec)
    assert [c.sidecar for c in pod.init_containers] == [True, False]
    assert qos_class(pod) is QOSClass.BURSTABLE
    assert pod_requests(pod)["cpu"] * 1000 == 1100


def test_unrestricted_values_are_recognised() -> None:
    assert is_unrestricted("cpu.max", "max 50000")
    assert is_unrestricted("memory.max", "max")
    assert is_unrestricted("cpu.weight", "100")
    assert not is_unrestricted("memory.swap.max", "0")
    assert not is_unrestricted("pids.max", "1024")
