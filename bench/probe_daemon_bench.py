"""A real `podrun daemon`'s CPU with N pods x readiness + liveness httpGet every 1 s (issue 7).

Run as root from the repository root:

    .venv/bin/python bench/probe_daemon_bench.py --pods 200 --seconds 30 [--baseline DIR]

probe_bench.py measures the probe manager alone; this measures what a user pays: a private
daemon (bench/podrun_vs_podman.py's setup: own root, cgroup root, CNI bridge and nft table)
running N busybox `httpd` pods, each with a readiness and a liveness httpGet probe
(periodSeconds 1), dialled at the pod IP through the CNI bridge as the kubelet does. Cost: the
daemon's CPU time (all threads; user and kernel from /proc/PID/stat) over the window, and, for
reference, the same pods without probes.

With --baseline DIR (a plain copy of another podrun tree, e.g. `git archive <rev> podrun |
tar -x -C DIR`), that tree's daemon runs the same load first, then this checkout's, one after
the other, --rounds times (alternating), so both see about the same host load. --pyspy OUT
records a py-spy profile of this checkout's daemon (20 s, raw) after its window; --perf OUT
a `perf record -g` of it (10 s, kernel stacks included: where its kernel time goes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import daemon_bench as db  # noqa: E402
import podrun_vs_podman as pvp  # noqa: E402

SERVE = ["sh", "-c", "echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]


def pod_json(i: int, probes: bool, failing: bool = False) -> dict:
    """Pod pd<i>: busybox httpd on :8080; with probes, readiness + liveness GET / at 1 s
    (failing: readiness GETs a missing page, 404, so every probe is a failure and an event)."""
    c: dict = {"name": "web", "image": pvp.IMAGE, "imagePullPolicy": "Never", "command": SERVE}
    if probes:
        probe = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}
        c["readinessProbe"] = {**probe, "httpGet": {"path": "/missing" if failing else "/",
                                                    "port": 8080}}
        c["livenessProbe"] = dict(probe)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pd{i}"},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [c]}}


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, kernel) CPU seconds of every thread of pid."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(f[11]) / tck, int(f[12]) / tck


def window(side: db.Side, n: int, probes: bool, seconds: float,
           pyspy: str | None = None, failing: bool = False,
           settle: float = 10.0, perf: str | None = None) -> dict[str, float]:
    """Start N pods, let them settle, measure the daemon's CPU, delete them."""
    body = "\n---\n".join(json.dumps(pod_json(i, probes, failing)) for i in range(n))
    side.d.cli("apply", *([] if failing else ["--wait"]), "--timeout", "600s", "-f", "-",
               input=body, timeout=700)
    if failing:  # never Ready: wait until every pod runs
        pvp.wait_for(lambda: sum(p.get("status", {}).get("phase") == "Running"
                                 for p in side.d.pods()) == n, 600, 1.0)
    time.sleep(settle)  # starts settled, probe jitter over, every pod Ready
    (u0, k0), t0 = cpu_split(side.d.pid), time.monotonic()
    time.sleep(seconds)
    (u1, k1), t1 = cpu_split(side.d.pid), time.monotonic()
    wall = t1 - t0
    out = {"user": 100 * (u1 - u0) / wall, "kernel": 100 * (k1 - k0) / wall,
           "load": os.getloadavg()[0]}
    out["total"] = out["user"] + out["kernel"]
    pods = side.d.pods()
    out["ready"] = sum(1 for p in pods for c in p.get("status", {}).get("conditions", [])
                       if c.get("type") == "Ready" and c.get("status") == "True")
    out["restarts"] = sum(cs.get("restartCount", 0) for p in pods
                          for cs in p.get("status", {}).get("containerStatuses", []))
    if pyspy:
        subprocess.run([str(Path(sys.executable).parent / "py-spy"), "record", "-p",
                        str(side.d.pid), "-r", "200", "-d", "20", "-f", "raw",
                        *(["--native"] if os.environ.get("PYSPY_NATIVE") else ["--nonblocking"]),
                        "-o", pyspy], check=False, stdout=subprocess.DEVNULL)
    if perf:
        subprocess.run(["perf", "record", "-g", "-F", "499", "-p", str(side.d.pid), "-o", perf,
                        "--", "sleep", "10"], check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    delete_all(side)
    return out


def delete_all(side: db.Side) -> None:
    """Every pod deleted, a few CLI calls at a time (one by one takes minutes at 200)."""
    names = [p["metadata"]["name"] for p in side.d.pods()]
    for i in range(0, len(names), 50):
        procs = [subprocess.Popen([str(pvp.PODRUN), "--socket", str(side.d.socket), "delete",
                                   "pod", name, "--grace-period", "0", "--force", "--wait"],
                                  env=side.d.env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for name in names[i:i + 50]]
        for p in procs:
            p.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--no-reference", action="store_true", help="skip the run without probes")
    ap.add_argument("--baseline", type=Path, help="another podrun tree to compare with")
    ap.add_argument("--failing", action="store_true",
                    help="readiness probes fail (404): an Unhealthy event per probe")
    ap.add_argument("--settle", type=float, default=10.0,
                    help="seconds between the pods running and the window (with --failing, "
                    "over 25 s puts the window past the kubelet's burst of 25 events)")
    ap.add_argument("--pyspy", help="py-spy raw profile of this checkout's daemon to this file")
    ap.add_argument("--perf", help="perf record -g (10 s) of this checkout's daemon to this file")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("probe_daemon_bench: run as root")
    base = Path(tempfile.mkdtemp(prefix="podrun-pdbench-", dir="/var/tmp"))
    from podrun.image.scratch import busybox_rootfs, oci_archive
    archive = oci_archive(busybox_rootfs(base / "image-rootfs"), base / "busybox.tar",
                          pvp.IMAGE)
    sides = [db.Side("this", base / "this", None)]
    if args.baseline is not None:
        sides.insert(0, db.Side("baseline", base / "baseline", args.baseline.resolve()))
    rows: list[tuple[str, str, dict[str, float]]] = []
    left: list[str] = []
    try:
        for r in range(args.rounds):
            for s in sides:
                s.d.base.mkdir(parents=True, exist_ok=True)
                s.start(archive)
                try:
                    if not args.no_reference and r == 0:
                        rows.append((s.label, "no probes", window(s, args.pods, False,
                                                                  args.seconds)))
                    spy = args.pyspy if s.label == "this" and r == 0 else None
                    perf = args.perf if s.label == "this" and r == 0 else None
                    rows.append((s.label, "failing" if args.failing else "probes",
                                 window(s, args.pods, True, args.seconds, spy, args.failing,
                                        args.settle, perf)))
                finally:
                    s.d.stop()
                    left += s.d.force_cleanup()
                    s.d.proc = None
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"{args.pods} pods x readiness + liveness httpGet at 1 s, {args.seconds:g} s windows, "
          f"{os.cpu_count()} CPUs; daemon CPU, % of one core")
    print(f"{'tree':9} {'load':>14} {'total':>6} {'user':>6} {'kernel':>6} {'ready':>6} "
          f"{'restarts':>8}")
    for label, what, o in rows:
        print(f"{label:9} {what:9} {o['load']:4.1f} {o['total']:6.1f} {o['user']:6.1f} "
              f"{o['kernel']:6.1f} {int(o['ready']):6d} {int(o['restarts']):8d}")
    if left:
        print("left behind (removed by force):", left)
    return 1 if left else 0


if __name__ == "__main__":
    raise SystemExit(main())
