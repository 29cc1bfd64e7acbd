"""Run by test_systemd.py as a systemd service with Delegate=yes, for a unit that holds its
pods itself (enter_delegated_subtree; the shipped units use podrun-pods.service instead):
finds the delegated subtree, moves itself into <unit>/daemon, creates a pod there through
podrun's runtime and reports what it saw as JSON lines on stdout.

    python delegated_pod.py all ROOTFS WORKDIR    create a pod, OOM test, remove the pod
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from podrun.core.resources import (
    ContainerResources,
    PodResources,
    container_cgroup_values,
    pod_cgroup_values,
)
from podrun.runtime import ocispec
from podrun.runtime.cgroups import CgroupManager, detect_host, enter_delegated_subtree
from podrun.runtime.runtime import Runtime, SandboxOptions

HOG = "x=$(head -c 209715200 /dev/zero | tr '\\000' x); echo survived ${#x}"


def own_cgroup() -> str:
    return Path("/proc/self/cgroup").read_text().strip()


def runtime(work: Path) -> tuple[Runtime, dict[str, object]]:
    host = detect_host()
    seen: dict[str, object] = {"layout": str(host.layout), "delegated": host.delegated,
                               "own_before": host.own_cgroup}
    pods_root = enter_delegated_subtree(host)
    mgr = CgroupManager.for_host(host)
    seen.update(pods_root=str(pods_root), root=str(mgr.root), own_after=own_cgroup(),
                enabled=sorted(mgr.setup()))
    return Runtime(work / "run", work / "root", cgroups=mgr), seen


def start(rt: Runtime, seen: dict[str, object], rootfs: Path) -> dict[str, object]:
    c = ContainerResources("sleeper", {"cpu": "250m"}, {"memory": "64Mi", "cpu": "500m"})
    rt.create_sandbox("sb1", SandboxOptions(pod_uid="uid1", hostname="pod",
                                            cgroup_values=pod_cgroup_values(PodResources([c]))))
    cfg = ocispec.build_config(["sleep", "1000"], rootfs=str(rootfs), hostname="pod")
    st, ne = rt.create_container("sb1", "sleeper", cfg, log_path=None, lowerdirs=[str(rootfs)],
                                 cgroup_values=container_cgroup_values(c.requests, c.limits))
    cg = Path(rt.container_config("sb1", "sleeper")["linux"]["cgroupsPath"])
    pause_pid = rt.sandbox_status("sb1").pid
    seen.update(
        not_enforced=[str(n) for n in ne], container_pid=st.pid, pause_pid=pause_pid,
        container_cgroup=Path(f"/proc/{st.pid}/cgroup").read_text().strip(),
        pause_cgroup=Path(f"/proc/{pause_pid}/cgroup").read_text().strip(),
        files={f: (cg / f).read_text().strip() for f in ("memory.max", "cpu.max", "cpu.weight")})
    return seen


def check(rt: Runtime, seen: dict[str, object]) -> dict[str, object]:
    st = rt.container_status("sb1", "sleeper")
    seen.update(sleeper_state=st.state, sleeper_pid=st.pid,
                sandboxes=[s.id for s in rt.list_sandboxes()])
    rootfs = Path(rt.container_config("sb1", "sleeper")["podrun"]["overlay"]["lowerdirs"][0])
    hog = ContainerResources("hog", {}, {"memory": "30Mi"})
    cfg = ocispec.build_config(["sh", "-c", HOG], rootfs=str(rootfs), hostname="pod")
    rt.create_container("sb1", "hog", cfg, log_path=None, lowerdirs=[str(rootfs)],
                        cgroup_values=container_cgroup_values(hog.requests, hog.limits))
    deadline = time.monotonic() + 120
    while (hst := rt.container_status("sb1", "hog")).state == "running":
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    seen.update(hog_exit=hst.exit_code, hog_reason=hst.reason)
    pod_cg = rt.cgroups.pod_path("uid1")  # type: ignore[union-attr]
    rt.remove_sandbox("sb1")
    rt.cgroups.remove_root()  # type: ignore[union-attr]
    seen.update(pod_cgroup_left=pod_cg.exists(), root_left=rt.cgroups.root.exists())  # type: ignore[union-attr]
    return seen


def main(argv: list[str]) -> int:
    mode, rootfs, work = argv[1], Path(argv[2]), Path(argv[3])
    if mode != "all":
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    rt, seen = runtime(work)
    print(json.dumps(start(rt, dict(seen), rootfs)), flush=True)
    print(json.dumps(check(rt, dict(seen))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
