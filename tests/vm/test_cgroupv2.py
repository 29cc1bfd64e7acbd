"""Limits that only a pure cgroup v2 host enforces, through podrun's runtime (pause, the init
helper, CgroupManager) on a busybox rootfs. Run in the test VM (tests/vm/run); skipped on
hybrid hosts like the build machines.

Each test maps Kubernetes resources the kubelet's way (podrun.core.resources) and checks
what the kernel did with them: memory.max -> OOM kill, exit 137 and reason OOMKilled from
memory.events; cpu.max -> throttling in cpu.stat; pids.max -> a fork bomb contained;
requests.cpu -> cpu.weight, and the CPU share it buys.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from podrun.core.resources import (
    CgroupOptions,
    ContainerResources,
    PodResources,
    container_cgroup_values,
    cpu_shares_to_weight,
    milli_cpu_to_shares,
    pod_cgroup_values,
)
from podrun.runtime import ocispec, pause
from podrun.runtime.runtime import ContainerStatus, Runtime, SandboxOptions

pytestmark = [pytest.mark.cgroupv2, pytest.mark.privileged]

MiB = 2**20
# Holds what it reads: the command substitution keeps all of it in the shell's memory
# (a plain `dd | cat` would stream through a pipe and never grow).
HOG = "x=$(head -c 209715200 /dev/zero | tr '\\000' x); echo survived ${#x}"
SPIN = "while :; do :; done"


def _config(rootfs: Path, script: str) -> dict[str, Any]:
    return ocispec.build_config(["sh", "-c", script], rootfs=str(rootfs), hostname="pod")


def _sandbox(rt: Runtime, pod: PodResources, options: CgroupOptions | None = None) -> str:
    sid = "sb" + uuid.uuid4().hex[:10]
    rt.create_sandbox(sid, SandboxOptions(pod_uid=uuid.uuid4().hex, hostname="pod",
                                          cgroup_values=pod_cgroup_values(pod, options or CgroupOptions())))
    return sid


def _start(rt: Runtime, sb: str, c: ContainerResources, rootfs: Path, script: str,
           log: Path | None = None) -> tuple[ContainerStatus, Path]:
    status, not_enforced = rt.create_container(
        sb, c.name, _config(rootfs, script), log_path=log, lowerdirs=[str(rootfs)],
        cgroup_values=container_cgroup_values(c.requests, c.limits))
    assert not_enforced == [], [str(n) for n in not_enforced]
    return status, Path(rt.container_config(sb, c.name)["linux"]["cgroupsPath"])


def _wait_exited(rt: Runtime, sb: str, cid: str, timeout: float = 120) -> ContainerStatus:
    deadline = time.monotonic() + timeout
    while True:
        st = rt.container_status(sb, cid)
        if st.state != "running" or time.monotonic() > deadline:
            return st
        time.sleep(0.1)


def _keyed(path: Path) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in path.read_text().splitlines())}


def test_memory_limit_oom_kill_gives_137_and_oomkilled(rt: Runtime, busybox_rootfs: Path,
                                                       tmp_path: Path) -> None:
    hog = ContainerResources("hog", {}, {"memory": "30Mi"})
    sb = _sandbox(rt, PodResources([hog]))
    pod_cg = rt.cgroups.pod_path(rt.sandbox_status(sb).pod_uid)  # type: ignore[union-attr]
    assert (pod_cg / "memory.max").read_text().strip() == str(30 * MiB)
    _, cg = _start(rt, sb, hog, busybox_rootfs, HOG, log=tmp_path / "hog.log")
    assert (cg / "memory.max").read_text().strip() == str(30 * MiB)
    assert (cg / "memory.swap.max").read_text().strip() == "0"

    st = _wait_exited(rt, sb, "hog")
    events = _keyed(cg / "memory.events")
    assert st.state == "exited", "the 200 MiB allocation was not stopped"
    assert (st.exit_code, st.signal) == (137, 9), st
    assert events["oom_kill"] >= 1, events
    assert rt.cgroups.oom_kill_count(cg) == events["oom_kill"]  # type: ignore[union-attr]
    assert st.reason == "OOMKilled"
    assert "survived" not in (tmp_path / "hog.log").read_text()


def test_sigkill_without_oom_is_error_not_oomkilled(rt: Runtime, busybox_rootfs: Path) -> None:
    # Exit 137 alone is not OOMKilled: the reason comes from memory.events. (SIGKILL from
    # outside: PID 1 of the container's PID namespace ignores it from inside.)
    c = ContainerResources("killed", {}, {"memory": "30Mi"})
    sb = _sandbox(rt, PodResources([c]))
    _, cg = _start(rt, sb, c, busybox_rootfs, "exec sleep 1000")
    rt.signal_container(sb, "killed", signal.SIGKILL)
    st = _wait_exited(rt, sb, "killed")
    assert (st.exit_code, st.reason) == (137, "Error"), st
    assert _keyed(cg / "memory.events")["oom_kill"] == 0


def test_cpu_limit_throttles(rt: Runtime, busybox_rootfs: Path) -> None:
    c = ContainerResources("spin", {}, {"cpu": "100m"})
    sb = _sandbox(rt, PodResources([c]))
    _, cg = _start(rt, sb, c, busybox_rootfs, SPIN)
    assert (cg / "cpu.max").read_text().split() == ["10000", "100000"]
    before = _keyed(cg / "cpu.stat")
    t0 = time.monotonic()
    deadline = t0 + 30
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _keyed(cg / "cpu.stat")
        if now["nr_throttled"] - before["nr_throttled"] >= 10 and time.monotonic() - t0 >= 2:
            break
    wall_usec = (time.monotonic() - t0) * 1e6
    assert now["nr_throttled"] > before["nr_throttled"], now
    assert now["throttled_usec"] > before["throttled_usec"], now
    # 100m = 10 ms per 100 ms period. Generous bounds: the guest may be emulated (TCG).
    used = (now["usage_usec"] - before["usage_usec"]) / wall_usec
    assert used < 0.35, f"a 100m container used {used:.2f} CPUs"
    rt.stop_container(sb, "spin", grace_seconds=0)


def test_pids_limit_contains_a_fork_bomb(rt: Runtime, busybox_rootfs: Path) -> None:
    limit = 48
    c = ContainerResources("bomb", {}, {})
    sb = _sandbox(rt, PodResources([c]), CgroupOptions(pod_pids_limit=limit))
    pod_cg = rt.cgroups.pod_path(rt.sandbox_status(sb).pod_uid)  # type: ignore[union-attr]
    assert (pod_cg / "pids.max").read_text().strip() == str(limit)
    _start(rt, sb, c, busybox_rootfs, "bomb() { bomb | bomb & }; bomb; sleep 1000")

    # The kernel (6.1) counts a refused fork in pids.events of the forking task's cgroup
    # (the container's), not of the pod cgroup whose pids.max refused it.
    def refused() -> int:
        return sum(_keyed(p / "pids.events")["max"] for p in (pod_cg, *pod_cg.iterdir())
                   if p.is_dir())

    deadline = time.monotonic() + 60
    while refused() == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert refused() > 0, "no fork was refused"
    # Contained: never above the limit, and the host (here: this test, pause, another
    # pod) keeps working while the bomb keeps trying.
    for _ in range(5):
        assert int((pod_cg / "pids.current").read_text()) <= limit
        t0 = time.monotonic()
        subprocess.run(["true"], check=True, timeout=30)
        assert time.monotonic() - t0 < 10
        time.sleep(0.2)
    assert pause.PauseClient(rt.sandbox_dir(sb), timeout=10).ping()
    other = ContainerResources("other", {}, {})
    sb2 = _sandbox(rt, PodResources([other]))
    _start(rt, sb2, other, busybox_rootfs, "echo fine")
    st = _wait_exited(rt, sb2, "other", timeout=60)
    assert (st.exit_code, st.reason) == (0, "Completed"), st

    rt.remove_sandbox(sb)  # cgroup.kill: atomic, the bomb cannot outrun it
    assert not pod_cg.exists()


def test_cpu_requests_set_weight_and_share_a_busy_cpu(rt: Runtime, busybox_rootfs: Path) -> None:
    small = ContainerResources("small", {"cpu": "100m"}, {})
    big = ContainerResources("big", {"cpu": "1"}, {})
    sb = _sandbox(rt, PodResources([small, big]))
    pod_cg = rt.cgroups.pod_path(rt.sandbox_status(sb).pod_uid)  # type: ignore[union-attr]
    weight = {m: cpu_shares_to_weight(milli_cpu_to_shares(m)) for m in (100, 1000, 1100)}
    assert weight[1000] == 100  # 1 CPU = the cgroup v2 default weight
    assert (pod_cg / "cpu.weight").read_text().strip() == str(weight[1100])

    cgs = {}
    for c in (small, big):
        st, cgs[c.name] = _start(rt, sb, c, busybox_rootfs, SPIN)
        milli = 100 if c is small else 1000
        assert (cgs[c.name] / "cpu.weight").read_text().strip() == str(weight[milli])
        assert st.pid
        os.sched_setaffinity(st.pid, {0})  # one CPU for both: the weights decide
    time.sleep(1)
    before = {n: _keyed(p / "cpu.stat")["usage_usec"] for n, p in cgs.items()}
    time.sleep(4)
    used = {n: _keyed(p / "cpu.stat")["usage_usec"] - before[n] for n, p in cgs.items()}
    expected = weight[1000] / weight[100]
    ratio = used["big"] / max(used["small"], 1)
    assert ratio > expected / 2, f"big/small CPU time {ratio:.1f}, weights {expected:.1f}: {used}"
