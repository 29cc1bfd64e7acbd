"""HTTP liveness probes, podrun vs podman's healthchecks: N pods x 1 check/s, CPU side by side.

Run as root from the repository root (podman, crun, nsenter and unshare installed):

    .venv/bin/python bench/probe_podman_bench.py --pods 20 --seconds 30

Both sides run the same N pods (busybox httpd on :8080 serving a 2-byte index.html) and check
each of them once a second with one HTTP GET:

- podrun: a `podrun daemon` (bench/podrun_vs_podman.py's private setup: own root, cgroup
  root, CNI bridge) with `livenessProbe.httpGet` (period 1 s). Cost: the daemon's CPU time
  (all threads, /proc/PID/stat) over the window, with the probes and, for reference, with the
  same pods without probes.
- podman 4.3: `podman kube play` of the same pods with `livenessProbe.exec` running busybox
  `wget -q -O- http://127.0.0.1:8080/` in the container (podman maps an exec liveness probe to
  a healthcheck; it maps httpGet to `curl`, which the image lacks: the curl-in-image
  equivalent). podman starts healthchecks with systemd timers; without systemd as PID 1
  (this host) kube play says `unable to get systemd connection to add healthchecks`, so this
  bench is the timer: every second it starts `podman healthcheck run CTR` for every
  container at once, as the timers would. Cost: the CPU time of everything those commands
  start (podman, conmon, crun, the wget in the container): this process is a child
  subreaper and reaps every orphan, so all of it lands in its RUSAGE_CHILDREN.

Nothing is extrapolated: both sides run the same N for the same window, in turn.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import podrun_vs_podman as V  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36
SERVE = '["sh", "-c", "echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]'


def pods_yaml(n: int, probe: str) -> str:
    """N pods named pb0..pbN-1; probe is "http" (podrun), "wget" (podman) or "none"."""
    docs = []
    for i in range(n):
        lines = ["apiVersion: v1", "kind: Pod", "metadata:", f"  name: pb{i}", "spec:",
                 "  terminationGracePeriodSeconds: 0", "  containers:", "  - name: web",
                 f"    image: {V.IMAGE}", "    imagePullPolicy: Never", f"    command: {SERVE}"]
        if probe == "http":
            lines += ["    livenessProbe:", "      httpGet:", "        path: /",
                      "        port: 8080", "      periodSeconds: 1"]
        elif probe == "wget":
            lines += ["    livenessProbe:", "      exec:",
                      '        command: ["wget", "-q", "-O-", "http://127.0.0.1:8080/"]',
                      "      periodSeconds: 1"]
        docs.append("\n".join(lines) + "\n")
    return "---\n".join(docs)


def children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def reap_orphans() -> None:
    """Wait for every exited descendant re-parented to us (we are a child subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def podrun_side(pr: V.Podrun, n: int, seconds: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for probe in ("none", "http"):
        pr.cli("apply", "--wait", "--timeout", "180s", "-f", "-", input=pods_yaml(n, probe))
        time.sleep(3.0)  # first runs, initial jitter over
        c0, w0 = V.cpu_seconds(pr.pid), time.monotonic()
        time.sleep(seconds)
        c1, w1 = V.cpu_seconds(pr.pid), time.monotonic()
        out[probe] = (c1 - c0) / (w1 - w0)
        if probe == "http":
            restarts = sum(cs.get("restartCount", 0) for p in pr.pods()
                           for cs in p.get("status", {}).get("containerStatuses", []))
            out["restarts"] = restarts
        pr.delete_all()
    return out


def podman_side(pm: V.Podman, base: Path, n: int, seconds: float) -> dict[str, float]:
    y = base / "podman-pods.yaml"
    y.write_text(pods_yaml(n, "wget"))
    pm.podman("kube", "play", "--network", pm.net, str(y), check=False)
    names = [f"pb{i}-web" for i in range(n)]
    V.wait_for(lambda: all(s == "Running" for s in pm.pod_states([f"pb{i}" for i in range(n)])),
               120, 0.2)
    time.sleep(2.0)
    # From here on (not before: the pods' own conmons must stay init's), whatever the checks
    # leave behind is re-parented to us and reaped, so its CPU time is counted.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    reap_orphans()
    rounds = checks = unhealthy = 0
    late: list[float] = []
    c0, w0 = children_cpu(), time.monotonic()
    while time.monotonic() - w0 < seconds:
        tick = w0 + rounds
        late.append(max(0.0, time.monotonic() - tick))
        procs = [subprocess.Popen(pm.argv("healthcheck", "run", name), env=pm.env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for name in names]
        for p in procs:
            unhealthy += p.wait() != 0
        checks += len(procs)
        reap_orphans()
        rounds += 1
        time.sleep(max(0.0, w0 + rounds - time.monotonic()))
    w1 = time.monotonic()
    time.sleep(0.5)
    reap_orphans()
    c1 = children_cpu()
    pm.podman("kube", "down", str(y), check=False)
    return {"cpu": (c1 - c0) / (w1 - w0), "checks_per_s": checks / (w1 - w0),
            "unhealthy": unhealthy, "rounds_late_max": max(late) if late else 0.0,
            "cpu_per_check_ms": 1000 * (c1 - c0) / max(1, checks)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("probe_podman_bench: run as root")
    from podrun.image.scratch import busybox_rootfs, oci_archive
    base = Path(tempfile.mkdtemp(prefix="podrun-bench-", dir="/var/tmp"))
    tag = uuid.uuid4().hex[:6]
    pr = V.Podrun(base / "podrun", tag)
    pm: V.Podman | None = None
    left: list[str] = []
    try:
        archive = oci_archive(busybox_rootfs(base / "image-rootfs"), base / "busybox.tar",
                              V.IMAGE)
        pr.start(archive)
        r = podrun_side(pr, a.pods, a.seconds)
        pr.stop()
        pm = V.Podman(base / "podman", tag)
        pm.start(archive)
        m = podman_side(pm, base, a.pods, a.seconds)
    finally:
        pr.stop()
        left += pr.force_cleanup()
        if pm is not None:
            left += pm.cleanup()
        reap_orphans()
        with contextlib.suppress(OSError):
            subprocess.run(["rm", "-rf", str(base)], check=False)
    load = os.getloadavg()[0]
    print(f"{a.pods} pods x 1 HTTP check/s, {a.seconds:g} s each side, in turn; "
          f"load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"podrun daemon, httpGet liveness probes:     {100 * r['http']:5.1f}% of one core "
          f"(same pods without probes: {100 * r['none']:.1f}%; {int(r['restarts'])} restarts)")
    probes = r["http"] - r["none"]
    print(f"podman healthcheck run + wget in the image: {100 * m['cpu']:5.1f}% of one core "
          f"({m['checks_per_s']:.1f} of {a.pods} checks/s done, {int(m['unhealthy'])} "
          f"unhealthy, a round up to {m['rounds_late_max']:.1f} s behind its tick)")
    print(f"CPU per check: podrun {1000 * probes / a.pods:.2f} ms (daemon with probes minus "
          f"without), podman {m['cpu_per_check_ms']:.0f} ms; podman / podrun "
          f"{m['cpu_per_check_ms'] / max(1e-9, 1000 * probes / a.pods):.0f}x")
    if left:
        print(f"had to remove by force: {left}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
