"""CgroupManager on the real cgroup v2 tree (root). On this hybrid build host the v2
hierarchy has no cpu/memory/pids controllers: membership, kill and cpu.stat still work,
and every limit is reported as not enforced."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from podrun.core.resources import (
    ContainerResources,
    PodResources,
    container_cgroup_values,
    pod_cgroup_values,
)
from podrun.runtime.cgroups import CgroupManager, Layout
from tests.integration.cgroups.conftest import BUSYBOX, NEEDS_V2_MEMORY, Spawn

pytestmark = pytest.mark.privileged

UID = "0f1e2d3c-test"


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _wait(cond: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_membership_and_cpu_stat(cg: CgroupManager, spawn: Spawn) -> None:
    pod, _ = cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    sandbox = cg.create_sandbox(UID)
    p = spawn(ctr, BUSYBOX, "sleep", "1000")
    s = spawn(sandbox, BUSYBOX, "sleep", "1000")
    assert _wait(lambda: cg.procs(ctr) == [p.pid])
    assert cg.procs(sandbox) == [s.pid]
    assert sorted(cg.procs(pod, recursive=True)) == sorted([p.pid, s.pid])
    assert cg.populated(pod)
    stat = cg.cpu_stat(ctr)
    assert "usage_usec" in stat and stat["usage_usec"] >= 0
    assert f"0::/{ctr.relative_to(cg.mountpoint)}" in Path(f"/proc/{p.pid}/cgroup").read_text()
    cg.remove_pod(UID)
    assert p.wait(timeout=5) == -9 and s.wait(timeout=5) == -9
    assert not pod.exists()


@pytest.mark.parametrize("use_cgroup_kill", [True, False], ids=["cgroup.kill", "freeze+SIGKILL"])
def test_kill_reaches_double_forked_grandchild(cg: CgroupManager, spawn: Spawn,
                                               use_cgroup_kill: bool) -> None:
    cg.use_cgroup_kill = use_cgroup_kill
    cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    # the subshell forks a sleep and exits: the grandchild is reparented away from us
    p = spawn(ctr, BUSYBOX, "sh", "-c", f"({BUSYBOX} sleep 1000 &); exec {BUSYBOX} sleep 1000")
    assert _wait(lambda: len(cg.procs(ctr)) == 2)
    grandchild = next(pid for pid in cg.procs(ctr) if pid != p.pid)
    cg.kill(ctr)
    assert cg.procs(ctr) == []
    assert p.wait(timeout=5) == -9
    assert _wait(lambda: _gone(grandchild))
    cg.remove(cg.pod_path(UID))
    assert not cg.pod_path(UID).exists()


def test_limits_written_or_reported(cg: CgroupManager) -> None:
    pod = PodResources([ContainerResources("c", {"cpu": "250m"},
                                           {"cpu": "500m", "memory": "64Mi"})])
    ppath, pod_ne = cg.create_pod(UID, pod_cgroup_values(pod))
    cpath, ctr_ne = cg.create_container(
        UID, "c1", container_cgroup_values({"cpu": "250m"}, {"cpu": "500m", "memory": "64Mi"}))
    reported = {(n.cgroup, n.file) for n in pod_ne + ctr_ne}
    for path, values in ((ppath, pod_cgroup_values(pod)),
                         (cpath, container_cgroup_values({"cpu": "250m"},
                                                         {"cpu": "500m", "memory": "64Mi"}))):
        have = cg.controllers(path)
        for name, val in values.items():
            controller = name.split(".")[0]
            if controller in have:
                assert (path / name).read_text().strip() == val, name
                assert (path, name) not in reported
            elif val not in ("max", "max 100000", "100") and name != "memory.swap.max":
                assert (path, name) in reported, name
    if cg.layout is Layout.HYBRID and "memory" not in cg.controllers(cg.mountpoint):
        texts = [str(n) for n in ctr_ne]
        assert (f"memory.max not enforced: the memory controller is not available in the "
                f"cgroup v2 hierarchy at {cg.mountpoint} (hybrid host)") in texts
        assert any(n.file == "cpu.max" for n in ctr_ne)
    cg.remove_pod(UID)


def test_remove_refuses_what_podrun_did_not_create(cg: CgroupManager) -> None:
    cg.create_pod(UID)
    foreign = cg.root / "podnotours"
    os.mkdir(foreign)
    try:
        with pytest.raises(Exception, match="did not create"):
            cg.remove(foreign)
        assert foreign.exists()
    finally:
        os.rmdir(foreign)
    assert cg.list_pods() == [UID]
    cg.remove_pod(UID)
    assert cg.list_pods() == []


def test_oom_kill_count_readable_or_unknown(cg: CgroupManager) -> None:
    cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    count = cg.oom_kill_count(ctr)
    if "memory" in cg.controllers(ctr):
        assert count == 0
    else:
        assert count is None
    cg.remove_pod(UID)


@pytest.mark.cgroupv2
def test_memory_max_is_enforced(memory_v2: CgroupManager, spawn: Spawn) -> None:
    """Needs a full cgroup v2 host (tests/vm): 32 MiB limit, a 200 MiB allocation is
    OOM-killed and memory.events counts it."""
    cg = memory_v2
    cg.create_pod(UID)
    ctr, ne = cg.create_container(UID, "c1", container_cgroup_values({}, {"memory": "32Mi"}))
    assert [n for n in ne if n.file == "memory.max"] == [], NEEDS_V2_MEMORY
    assert (ctr / "memory.max").read_text().strip() == str(32 * 2**20)
    p = spawn(ctr, sys.executable, "-c", "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])")
    assert p.wait(timeout=60) == -9
    assert (cg.oom_kill_count(ctr) or 0) >= 1
    cg.remove_pod(UID)
