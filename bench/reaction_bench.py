"""How fast a container exit reaches the pod status (issue "Lifecycle engine": target
<= 100 ms median; the kubelet needs its 1 s PLEG relist).

Run (root):  .venv/bin/python bench/reaction_bench.py [-n 20]

A real daemon (temporary paths, its own cgroup root and CNI network) runs pods whose only
container sleeps 1 s and exits 3 (restartPolicy Never). The bench follows the API's watch
stream and takes, per pod, the time of the first MODIFIED event showing the container
terminated, minus the exit time pause recorded (finishedAt in ns from its exit record).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from podrun.image.archive import import_file  # noqa: E402
from podrun.image.scratch import busybox_rootfs, oci_archive  # noqa: E402
from podrun.image.store import ImageStore  # noqa: E402
from podrun.runtime.cgroups import detect_host  # noqa: E402
from tests.integration.pods.conftest import (  # noqa: E402
    IMAGE,
    PodDaemon,
    _force_cleanup,
    _private_network,
    _remove_network,
)

POD = f"""apiVersion: v1
kind: Pod
metadata: {{{{name: {{name}}}}}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: {IMAGE}
    command: ["sh", "-c", "sleep 1; exit 3"]
"""


async def watch(sock: Path, n: int, seen: dict[str, float]) -> None:
    conn = aiohttp.UnixConnector(path=str(sock))
    async with aiohttp.ClientSession(connector=conn) as s, s.get(
            "http://podrun/api/v1/namespaces/default/pods?watch=true",
            timeout=aiohttp.ClientTimeout(total=None)) as r:
        async for line in r.content:
            now = time.time_ns()
            ev = json.loads(line)
            pod = ev["object"]
            for cs in (pod.get("status") or {}).get("containerStatuses") or []:
                if "terminated" in cs.get("state", {}) and pod["metadata"]["name"] not in seen:
                    seen[pod["metadata"]["name"]] = now
            if len(seen) >= n:
                return


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    n = ap.parse_args().n
    base = Path(tempfile.mkdtemp(prefix="podrun-bench-", dir="/var/tmp"))
    (base / "manifests").mkdir()
    host = detect_host()
    cg_root = host.mountpoint / f"podrun-bench-{uuid.uuid4().hex[:8]}"
    net = _private_network(base)
    d = PodDaemon(base, config={})
    d.extra_args = ["--cgroup-root", str(cg_root), "--cni-conf-dir", str(net["confDir"])]
    archive = oci_archive(busybox_rootfs(base / "rootfs"), base / "bb.tar", IMAGE)
    import_file(ImageStore(str(d.root / "images")), str(archive))
    try:
        d.start()
        seen: dict[str, float] = {}
        loop = asyncio.new_event_loop()
        task = loop.create_task(watch(d.socket, n, seen))
        loop.run_until_complete(asyncio.sleep(0.5))
        for i in range(n):
            d.apply(POD.format(name=f"r{i}"))
            loop.run_until_complete(asyncio.sleep(0.3))
        loop.run_until_complete(asyncio.wait_for(task, 60))
        delays = []
        for i in range(n):
            pod = d.pod(f"r{i}")
            assert pod is not None
            cid = pod["status"]["containerStatuses"][0]["containerID"].split("://")[1]
            rec = next(d.run_dir.glob(f"sandboxes/*/containers/{cid}/exit"))
            finished = json.loads(rec.read_text())["finishedAt"]
            delays.append((seen[f"r{i}"] - finished) / 1e6)
        q = statistics.quantiles(delays, n=10)
        print(f"exit -> status (watch event), {n} pods: median {statistics.median(delays):.1f} ms"
              f"  p10 {q[0]:.1f}  p90 {q[-1]:.1f}  max {max(delays):.1f}")
    finally:
        try:
            d.delete_all()
        finally:
            d.stop()
            _force_cleanup(base, cg_root)
            _remove_network(net)
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
