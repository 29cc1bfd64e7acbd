"""pause figures: PSS/RSS of one pod's pause, sandbox launch+shutdown time, create latency.

Run as root from the repository root (after `make -C pause`):

    .venv/bin/python bench/pause_bench.py            # N=30
    .venv/bin/python bench/pause_bench.py -n 100 --binary pause/build/pause

PSS is read from /proc/PID/smaps_rollup twice: idle right after launch, and after two
containers have written a few MiB of log lines (so both 16 KiB line buffers per container
are touched). Launch+shutdown is launch_pause() (new net/ipc/uts/pid namespaces, no
network setup) until pause serves requests, then shutdown() and the wait for its pidfd.
Create is PauseClient.create() of `/bin/busybox true` until its exec (pidfd returned).
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from podrun.runtime.pause import PauseClient, kill_pause, launch_pause  # noqa: E402

BUSYBOX = "/bin/busybox"


def smaps_kib(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def wait_pidfd(fd: int, timeout: float) -> bool:
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(int(timeout * 1000)))


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(len(xs) * 0.9))]
    return f"median {statistics.median(xs) * 1000:.2f} ms, p90 {p90 * 1000:.2f} ms (n={len(xs)})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--binary", default=str(Path(__file__).resolve().parents[1] /
                                            "pause/build/pause"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("pause_bench: run as root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="podrun-pause-bench-", dir="/var/tmp"))
    try:
        print(f"binary: {args.binary} ({os.path.getsize(args.binary)} bytes)")
        # Memory of one pod's pause.
        h = launch_pause(work / "mem", pause_binary=args.binary)
        try:
            idle = smaps_kib(h.pid)
            c = h.client()
            for name in ("a", "b"):
                c.create(name, [BUSYBOX, "sh", "-c",
                                f"{BUSYBOX} head -c 2000000 /dev/zero | {BUSYBOX} tr '\\0' x;"
                                "seq 1 20000; seq 1 20000 >&2"],
                         log_path=work / f"{name}.log")
            deadline = time.monotonic() + 20
            while any(x.running for x in c.list()) and time.monotonic() < deadline:
                time.sleep(0.05)
            busy = smaps_kib(h.pid)
            print(f"pause idle:        PSS {idle['Pss'] / 1024:.3f} MiB, "
                  f"RSS {idle['Rss'] / 1024:.3f} MiB")
            print(f"pause 2 containers: PSS {busy['Pss'] / 1024:.3f} MiB, "
                  f"RSS {busy['Rss'] / 1024:.3f} MiB (after ~4 MiB of log lines)")
            # Create latency (fork/clone with new pid+mnt ns, exec), reusing this pod.
            lat = []
            for i in range(args.n):
                t0 = time.perf_counter()
                c.create(f"t{i}", [BUSYBOX, "true"])
                lat.append(time.perf_counter() - t0)
            print(f"create busybox true: {ms(lat)}")
            c.shutdown()
        finally:
            kill_pause(h)
        # Sandbox launch + shutdown.
        times = []
        for i in range(args.n):
            run = work / f"p{i}"
            t0 = time.perf_counter()
            h = launch_pause(run, pause_binary=args.binary)
            fd = os.pidfd_open(h.pid)
            try:
                PauseClient(run).shutdown()
                if not wait_pidfd(fd, 10):
                    raise RuntimeError("pause did not exit")
            finally:
                os.close(fd)
            times.append(time.perf_counter() - t0)
        print(f"sandbox launch+shutdown: {ms(times)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
