"""The daemon's hot paths, two podrun checkouts side by side (issue 13 and issue 9).

Run as root from the repository root:

    .venv/bin/python bench/daemon_bench.py --reps 10 --idle 100 [--baseline DIR]

With --baseline DIR (a plain copy of another podrun tree, e.g. `git archive <rev> | tar -x
-C DIR`), a second daemon runs that tree's code (PYTHONPATH=DIR, same venv and pause binary)
next to this checkout's, and every repetition alternates between them so load drift hits
both alike. Per daemon and repetition:

- api apply->Running: POST of a 1-container host-network pod until a watch line with phase
  Running (the daemon's own time plus one HTTP round trip, no CLI start-up);
- api delete->DELETED: DELETE until the watch says DELETED (the container traps TERM and
  exits at once, so this is podrun's stop path, not a grace period);
- cli apply --wait / delete --wait: the same through `podrun` (what a user waits);
- idle CPU: N idle pods per daemon, both daemons' CPU time over the same wall window.

Every path is under /var/tmp/podrun-dbench-*, cgroup roots under
/sys/fs/cgroup/unified/podrun-dbench-*; everything is removed at the end (the Podrun helper of
podrun_vs_podman.py). Prints medians [p10-p90] per figure and daemon.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import podrun_vs_podman as pvp  # noqa: E402

IMAGE = pvp.IMAGE


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 120) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def pod_json(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"hostNetwork": True, "terminationGracePeriodSeconds": 10,
                     "containers": [{"name": "c0", "image": IMAGE, "imagePullPolicy": "Never",
                                     "command": ["sh", "-c",
                                                 "trap 'exit 0' TERM; sleep 3600 & wait"]}]}}


class Side:
    """One daemon (this checkout or the baseline) and its API."""

    def __init__(self, label: str, base: Path, tree: Path | None) -> None:
        self.label = label
        self.d = pvp.Podrun(base, uuid.uuid4().hex[:6])
        self.d.cg_root = self.d.cg_root.with_name(self.d.cg_root.name.replace(
            "podrun-bench", "podrun-dbench"))
        self.tree = tree

    def start(self, archive: Path) -> None:
        """Podrun.start, with the tree's code for the daemon only: both sides are driven
        by this checkout's CLI."""
        if self.tree is None:
            self.d.start(archive)
            return
        cli_env = self.d.env
        self.d.env = {**cli_env, "PYTHONPATH": str(self.tree)}
        real_cli = self.d.cli
        self.d.cli = lambda *a, **kw: pvp.run(  # type: ignore[method-assign]
            [str(pvp.PODRUN), "--socket", str(self.d.socket), *a],
            input=kw.get("input"), check=kw.get("check", True),
            timeout=kw.get("timeout", 120), env=cli_env)
        try:
            self.d.start(archive)
        finally:
            self.d.env = cli_env
            self.d.cli = real_cli  # type: ignore[method-assign]

    def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        c = UnixHTTP(str(self.d.socket))
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        out = json.loads(r.read() or b"{}")
        c.close()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {out}")
        return dict(out)

    def watch_until(self, name: str, rv: str, done: Any) -> float:
        c = UnixHTTP(str(self.d.socket))
        c.request("GET", f"/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}"
                         f"&fieldSelector=metadata.name%3D{name}")
        r = c.getresponse()
        try:
            while True:
                line = r.readline()
                if not line:
                    raise RuntimeError("watch ended")
                ev = json.loads(line)
                if done(ev):
                    return time.monotonic()
        finally:
            c.close()

    def api_cycle(self, name: str) -> tuple[float, float]:
        """(POST -> Running, DELETE -> DELETED) in seconds, through one watch each."""
        import threading
        rv = self.request("GET", "/api/v1/namespaces/default/pods")["metadata"][
            "resourceVersion"]
        result: dict[str, float] = {}

        def running(ev: dict[str, Any]) -> bool:
            return bool(ev["object"].get("status", {}).get("phase") == "Running")

        t = threading.Thread(target=lambda: result.setdefault(
            "t", self.watch_until(name, rv, running)))
        t.start()
        time.sleep(0.05)  # the watch is open before the POST
        t0 = time.monotonic()
        created = self.request("POST", "/api/v1/namespaces/default/pods", pod_json(name))
        t.join(120)
        up = result["t"] - t0
        rv = created["metadata"]["resourceVersion"]
        result.clear()
        t = threading.Thread(target=lambda: result.setdefault(
            "t", self.watch_until(name, rv, lambda ev: ev["type"] == "DELETED")))
        t.start()
        time.sleep(0.05)
        t0 = time.monotonic()
        self.request("DELETE", f"/api/v1/namespaces/default/pods/{name}")
        t.join(120)
        return up, result["t"] - t0

    def cli_cycle(self, name: str) -> tuple[float, float]:
        manifest = json.dumps(pod_json(name))
        return self.d.apply_wait(manifest), self.d.delete_wait(name)


def fmt(xs: list[float]) -> str:
    s = pvp.summary(xs)
    return f"{s['median'] * 1000:7.1f} [{s['p10'] * 1000:.1f}-{s['p90'] * 1000:.1f}]"


def idle_cpu(sides: list[Side], pods: int, window: float) -> dict[str, float]:
    """Both daemons' CPU (% of one core) over the same window, N idle pods each."""
    body = "\n---\n".join(json.dumps(pod_json(f"idle-{i}")) for i in range(pods))
    for s in sides:
        s.d.cli("apply", "--wait", "--timeout", "300s", "-f", "-", input=body, timeout=400)
    time.sleep(15)  # let the starts' own work settle
    c0 = {s.label: pvp.cpu_seconds(s.d.pid) for s in sides}
    t0 = time.monotonic()
    time.sleep(window)
    wall = time.monotonic() - t0
    out = {s.label: 100 * (pvp.cpu_seconds(s.d.pid) - c0[s.label]) / wall for s in sides}
    for s in sides:
        s.d.delete_all()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--idle", type=int, default=100, help="idle pods per daemon (0: skip)")
    ap.add_argument("--window", type=float, default=30.0)
    ap.add_argument("--baseline", type=Path, help="another podrun tree to compare with")
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="podrun-dbench-", dir="/var/tmp"))
    from podrun.image.scratch import busybox_rootfs, oci_archive
    archive = oci_archive(busybox_rootfs(base / "image-rootfs"), base / "busybox.tar", IMAGE)
    sides = [Side("this", base / "this", None)]
    if args.baseline is not None:
        sides.insert(0, Side("baseline", base / "baseline", args.baseline.resolve()))
    figures: dict[tuple[str, str], list[float]] = {}
    left: list[str] = []
    try:
        for s in sides:
            s.d.base.mkdir(parents=True, exist_ok=True)
            s.start(archive)
        for s in sides:  # warm up (first image use, imports)
            s.api_cycle("warm")
        for i in range(args.reps):
            for s in sides:
                up, down = s.api_cycle(f"api-{i}")
                figures.setdefault((s.label, "api apply->Running"), []).append(up)
                figures.setdefault((s.label, "api delete->DELETED"), []).append(down)
                up, down = s.cli_cycle(f"cli-{i}")
                figures.setdefault((s.label, "cli apply --wait"), []).append(up)
                figures.setdefault((s.label, "cli delete --wait"), []).append(down)
        cpu = idle_cpu(sides, args.idle, args.window) if args.idle else {}
    finally:
        for s in sides:
            s.d.stop()
            left += s.d.force_cleanup()
        shutil.rmtree(base, ignore_errors=True)
    print(f"reps={args.reps} load={os.getloadavg()[0]:.1f} (ms: median [p10-p90])")
    labels = [s.label for s in sides]
    print(f"{'figure':24}" + "".join(f"{lab:>28}" for lab in labels))
    for fig in ("api apply->Running", "api delete->DELETED", "cli apply --wait",
                "cli delete --wait"):
        print(f"{fig:24}" + "".join(f"{fmt(figures[(lab, fig)]):>28}" for lab in labels))
    if cpu:
        print(f"{f'idle CPU {args.idle} pods %':24}" + "".join(
            f"{cpu[lab]:>28.2f}" for lab in labels))
    if left:
        print("left behind (removed by force):", left)
    return 1 if left else 0


if __name__ == "__main__":
    raise SystemExit(main())
