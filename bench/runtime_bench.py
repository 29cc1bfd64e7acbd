"""Runtime core figures (issue "Runtime core"), measured through podrun's runtime API.

Run (root):  .venv/bin/python bench/runtime_bench.py [-n 30]

- container start on a prepared rootfs: Runtime.create_container() from the request to the
  user's command being exec'd (pause clone + init helper + overlay + mounts + pivot_root +
  caps + seccomp), median / p10 / p90; the floor next to it: fork+exec of /bin/true;
- sandbox create+remove without network (cgroup, /dev/shm tmpfs, pause, teardown);
- pause PSS per pod (smaps_rollup) with one running container.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podrun.runtime import ocispec  # noqa: E402
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    n = ap.parse_args().n
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
