"""Runtime core figures (issue "Runtime core"), measured through podrun's runtime API.

Run (root):  .venv/bin/python bench/runtime_bench.py [-n 30]

- container start on a prepared rootfs: Runtime.create_container() from the request to the
  user's command being exec'd (pause clone + init helper + overlay + mounts + pivot_root +
  caps + seccomp), median / p10 / p90; the floor next to it: fork+exec of /bin/true;
- sandbox create+remove without network (cgroup, /dev/shm tmpfs, pause, teardown);
- pause PSS per pod (smaps_rollup) with one running container.

    .venv/bin/python bench/runtime_bench.py --ab OLD_PAUSE [-n 15] [--host-network]

--ab: before/after side by side instead, pod cycles alternating in one run so load drift
hits both alike: "before" is the start path up to commit 18a94bd (pause binary OLD_PAUSE,
built from that commit's pause/, a mount namespace from pause plus the helper's own, the
helper migrating itself into its cgroup), "after" the checkout's (clone3 into the cgroups,
one mount namespace). Prints create_sandbox, create_container and stop+remove medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podrun.runtime import ocispec, pause  # noqa: E402
from podrun.runtime.cgroups import CgroupManager, detect_host  # noqa: E402
from podrun.runtime.runtime import Runtime, SandboxOptions  # noqa: E402
from tests.support import make_busybox_rootfs  # noqa: E402


def stats(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=10) if len(ms) > 1 else [ms[0]] * 9
    return f"median {statistics.median(ms):7.2f} ms  p10 {q[0]:7.2f}  p90 {q[-1]:7.2f}"


def pss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def old_start_path(on: bool):
    """While on: pause creates ask for a mount namespace and no cgroup, as before 18a94bd."""
    create = pause.PauseClient.create

    def old_create(self, *a, **k):  # type: ignore[no-untyped-def]
        return create(self, *a, **{**k, "new_mount_ns": True, "cgroup_dir": None})

    if on:
        pause.PauseClient.create = old_create  # type: ignore[method-assign]
    try:
        yield
    finally:
        pause.PauseClient.create = create  # type: ignore[method-assign]


def ab(n: int, old_pause: Path, host_network: bool) -> None:
    base = Path(tempfile.mkdtemp(prefix="podrun-bench-", dir="/var/tmp"))
    host = detect_host()
    cg = CgroupManager(host.mountpoint / f"podrun-bench-{uuid.uuid4().hex[:6]}",
                       mountpoint=host.mountpoint, layout=host.layout)
    cg.setup()
    sides = {"before": Runtime(base / "run", base / "root", cgroups=cg, pause_binary=old_pause),
             "after": Runtime(base / "run", base / "root", cgroups=cg)}
    times: dict[str, tuple[list[float], list[float], list[float]]] = {
        k: ([], [], []) for k in sides}
    rootfs = make_busybox_rootfs(base / "rootfs")
    cfg = ocispec.build_config(["sleep", "1000"], rootfs=str(rootfs))
    try:
        for i in range(2 * n):
            side = ("before", "after")[i % 2]
            rt, sid = sides[side], f"ab{i}"
            with old_start_path(side == "before"):
                t0 = time.perf_counter()
                rt.create_sandbox(sid, SandboxOptions(pod_uid=uuid.uuid4().hex, hostname="b",
                                                      host_network=host_network))
                t1 = time.perf_counter()
                rt.create_container(sid, "c", cfg, log_path=base / "logs" / f"{sid}.log",
                                    lowerdirs=[str(rootfs)])
                t2 = time.perf_counter()
                rt.stop_container(sid, "c", grace_seconds=0)
                rt.remove_sandbox(sid)
                t3 = time.perf_counter()
            for out, v in zip(times[side], (t1 - t0, t2 - t1, t3 - t2), strict=True):
                out.append(v * 1000)
        print(f"runs: {n} per side, host network: {host_network}")
        for side, (sb, ct, rm) in times.items():
            print(f"{side:7s} create_sandbox {statistics.median(sb):6.1f}  create_container "
                  f"{statistics.median(ct):6.1f}  both "
                  f"{statistics.median([a + b for a, b in zip(sb, ct, strict=True)]):6.1f}  stop+remove "
                  f"{statistics.median(rm):6.1f} ms (medians)")
    finally:
        for rt in sides.values():
            for s in rt.list_sandboxes():
                rt.remove_sandbox(s.id)
        cg.remove_root()
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--ab", type=Path, metavar="OLD_PAUSE",
                    help="before/after side by side against this older pause binary")
    ap.add_argument("--host-network", action="store_true", help="with --ab: hostNetwork pods")
    args = ap.parse_args()
    n = args.n
    if args.ab is not None:
        ab(n, args.ab, args.host_network)
        return
    base = Path(tempfile.mkdtemp(prefix="podrun-bench-", dir="/var/tmp"))
    host = detect_host()
    cg = CgroupManager(host.mountpoint / f"podrun-bench-{uuid.uuid4().hex[:6]}",
                       mountpoint=host.mountpoint, layout=host.layout)
    cg.setup()
    rt = Runtime(base / "run", base / "root", cgroups=cg)
    rootfs = make_busybox_rootfs(base / "rootfs")
    try:
        floor = []
        for _ in range(n):
            t0 = time.perf_counter()
            subprocess.run(["/bin/true"], check=True)
            floor.append((time.perf_counter() - t0) * 1000)
        sb = "bench" + uuid.uuid4().hex[:6]
        rt.create_sandbox(sb, SandboxOptions(pod_uid=uuid.uuid4().hex, hostname="bench"))
        cfg = ocispec.build_config(["sleep", "1000"], rootfs=str(rootfs))
        starts = []
        for i in range(n):
            t0 = time.perf_counter()
            rt.create_container(sb, f"c{i}", cfg, log_path=None, lowerdirs=[str(rootfs)])
            starts.append((time.perf_counter() - t0) * 1000)
            if i == 0:
                pss = pss_mib(rt.sandbox_status(sb).pid)
            rt.stop_container(sb, f"c{i}", grace_seconds=0)
            rt.remove_container(sb, f"c{i}")
        rt.remove_sandbox(sb)
        sandboxes = []
        for _ in range(n):
            sid = "bench" + uuid.uuid4().hex[:6]
            t0 = time.perf_counter()
            rt.create_sandbox(sid, SandboxOptions(pod_uid=uuid.uuid4().hex, hostname="b"))
            rt.remove_sandbox(sid)
            sandboxes.append((time.perf_counter() - t0) * 1000)
        print(f"runs: {n}")
        print(f"container start (create_container)   {stats(starts)}")
        print(f"floor: fork+exec /bin/true           {stats(floor)}")
        print(f"sandbox create+remove, no network    {stats(sandboxes)}")
        print(f"pause PSS with 1 container           {pss:.3f} MiB")
    finally:
        for s in rt.list_sandboxes():
            rt.remove_sandbox(s.id)
        cg.remove_root()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
