"""Probe manager load: 200 targets x 2 HTTP probes (readiness + liveness) every 1 s for 30 s.

Run as root from the repository root:

    .venv/bin/python bench/probe_bench.py                       # netns mode, spread starts
    .venv/bin/python bench/probe_bench.py --mode podip          # via a veth to a pod IP
    .venv/bin/python bench/probe_bench.py --mode loopback       # host loopback, no root
    .venv/bin/python bench/probe_bench.py --no-spread           # all workers tick together
    .venv/bin/python bench/probe_bench.py --lag                 # plus event-loop lag
    .venv/bin/python bench/probe_bench.py --floor               # plus a bare timer loop beside it
    .venv/bin/python bench/probe_bench.py --floor 300           # ... burning 300 us per wake-up
    .venv/bin/python bench/probe_bench.py --micro 3000          # cost of one connect, per path
    .venv/bin/python bench/probe_bench.py --micro 3000 --batch 1  # ... one socket per netns trip

The HTTP servers run in a child process (inside a private netns `podrun-probe-bench-*` for
the netns and podip modes), so the figures are the probing process alone:
- daemon CPU: process CPU time (all threads) / wall time over the measured window;
- start jitter: how late each probe run starts against its worker's aligned tick
  (first tick + k * period), p50/p99/max over all runs;
- run-queue wait: how long the probing process was runnable but not running in the window
  (/proc/self/schedstat), i.e. lateness the scheduler adds whatever the code does.
`--floor` runs, at the same time in a process of its own, a bare asyncio loop with as many
sleepers on the same ticks and wake-up grid and nothing else (no sockets): its lateness is
what this host's scheduler gives any asyncio program at that moment, side by side; with
`--floor US` each wake-up also burns US microseconds of CPU, so the floor can want as much
CPU as the prober does (a light sleeper gets woken first by the scheduler, a busy one not).
The podip mode gives the netns a veth pair with 198.18.R.1/30 (host) and 198.18.R.2/30
(pod), R random, in the RFC 2544 benchmarking range; everything is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from podrun.agent.prober import ProbeManager, ProbeTarget  # noqa: E402
from podrun.agent.probes import http as H  # noqa: E402
from podrun.agent.probes.netns import NetnsSockets, dial  # noqa: E402
from podrun.clock import RealClock  # noqa: E402
from podrun.spec.types import Container, HTTPGetAction, Probe  # noqa: E402

SERVER = r"""
import asyncio, sys
async def handle(r, w):
    try:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await w.drain()
    except Exception:
        pass
    w.close()
async def main():
    host, n = sys.argv[1], int(sys.argv[2])
    servers = [await asyncio.start_server(handle, host, 0, backlog=1024) for _ in range(n)]
    print(" ".join(str(s.sockets[0].getsockname()[1]) for s in servers), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""

FLOOR = r"""
import asyncio, json, math, random, sys, time
async def sleeper(loop, period, q, seconds, lates, work):
    first = loop.time() + random.random() * period
    first = math.ceil(first / q) * q
    k, end = 0, first + seconds
    while True:
        at = first + k * period
        if at > end:
            return
        await asyncio.sleep(max(0.0, math.ceil(at / q - 1e-6) * q - loop.time()))
        lates.append(loop.time() - at)
        t = time.thread_time()
        while time.thread_time() - t < work:  # as much CPU as a probe takes, if asked
            pass
        k += 1
async def main():
    n, period, q, seconds = int(sys.argv[1]), 1.0, float(sys.argv[2]), float(sys.argv[3])
    work = float(sys.argv[4]) / 1e6
    loop, lates = asyncio.get_running_loop(), []
    await asyncio.gather(*(sleeper(loop, period, q, seconds, lates, work) for _ in range(n)))
    print(json.dumps(lates))
asyncio.run(main())
"""


def sh(*args: str) -> None:
    subprocess.run(args, check=True)


class Pods:
    """The server child and, for netns/podip, the namespace (and veth) it lives in."""

    def __init__(self, mode: str, ports: int) -> None:
        self.mode = mode
        self.ns: str | None = None
        prefix: list[str] = []
        host = "127.0.0.1"
        if mode in ("netns", "podip"):
            self.ns = f"podrun-probe-bench-{secrets.token_hex(3)}"
            sh("ip", "netns", "add", self.ns)
            sh("ip", "-n", self.ns, "link", "set", "lo", "up")
            prefix = ["ip", "netns", "exec", self.ns]
            if mode == "podip":
                h, p = f"pbh{secrets.token_hex(2)}", f"pbp{secrets.token_hex(2)}"
                net = f"198.18.{secrets.randbelow(256)}"  # two benches may run side by side
                sh("ip", "link", "add", h, "type", "veth", "peer", "name", p)
                sh("ip", "link", "set", p, "netns", self.ns)
                sh("ip", "addr", "add", f"{net}.1/30", "dev", h)
                sh("ip", "-n", self.ns, "addr", "add", f"{net}.2/30", "dev", p)
                sh("ip", "link", "set", h, "up")
                sh("ip", "-n", self.ns, "link", "set", p, "up")
                host = f"{net}.2"
        self.pod_ip = host if mode != "netns" else None
        self.netns_path = f"/run/netns/{self.ns}" if mode == "netns" else None
        self.proc = subprocess.Popen(prefix + [sys.executable, "-c", SERVER, host, str(ports)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.ports = [int(p) for p in self.proc.stdout.readline().split()]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.ns:  # deleting the netns deletes the veth pair with it
            subprocess.run(["ip", "netns", "del", self.ns], check=False)


def run_queue_wait() -> float:
    """Seconds this process's threads have waited on a run queue (schedstat field 2)."""
    total = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


class Floor:
    """The bare asyncio timer loop (FLOOR), started beside the probes for the same window."""

    def __init__(self, sleepers: int, quantum: float, seconds: float, work_us: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FLOOR, str(sleepers), str(quantum or 0.001), str(seconds),
             str(work_us)], stdout=subprocess.PIPE, text=True)

    def lates(self) -> list[float]:
        out, _ = self.proc.communicate(timeout=120)
        return [float(x) for x in json.loads(out)]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def load(pods: Pods, targets: int, seconds: float, spread: bool,
               lag: bool, quantum: float, floor: float | None = None) -> dict[str, float]:
    clock = RealClock()
    started = clock.monotonic() if spread else clock.monotonic() - 3600
    events: list[tuple[str, ...]] = []
    pm = ProbeManager(exec_sync=lambda *a: None, clock=clock, on_change=lambda u, c: None,
                      record_event=lambda *e: events.append(e), daemon_started_at=started)
    pm.record_run_times = True
    pm.tick_quantum = quantum
    for i in range(targets):
        port = pods.ports[i % len(pods.ports)]
        c = Container(name="app",
                      readiness_probe=Probe(http_get=HTTPGetAction(path="/ready", port=port),
                                            period_seconds=1),
                      liveness_probe=Probe(http_get=HTTPGetAction(path="/live", port=port),
                                           period_seconds=1))
        pm.add_container(ProbeTarget(pod_uid=f"pod{i}", pod_name=f"p{i}", namespace="bench",
                                     container_name="app", container_id=f"c{i}",
                                     started_at=clock.wall() - 100, pod_ip=pods.pod_ip,
                                     netns_path=pods.netns_path, sandbox_id="sb", ports={}),
                         c)
    await asyncio.sleep(2.0)  # warm-up: jitter spread, first runs
    lags: list[tuple[float, float]] = []
    stop = False

    async def lag_monitor() -> None:
        loop = asyncio.get_running_loop()
        while not stop:
            t = loop.time()
            await asyncio.sleep(0.01)
            lags.append((t, loop.time() - t - 0.01))

    mon = asyncio.get_running_loop().create_task(lag_monitor() if lag else asyncio.sleep(0))
    bare = Floor(2 * targets, quantum, seconds, floor) if floor is not None else None
    t0, cpu0, wall0, rq0 = os.times(), time.process_time(), time.monotonic(), run_queue_wait()
    await asyncio.sleep(seconds)
    t1, cpu1, wall1, rq1 = os.times(), time.process_time(), time.monotonic(), run_queue_wait()
    stop = True
    await mon
    floor_lates = bare.lates() if bare else []
    lates: list[float] = []
    runs = 0
    for i in range(targets):
        for w in pm.workers(f"pod{i}", "app").values():
            ts = w.run_times
            first = getattr(w, "first_tick", None) or (ts[0] if ts else 0.0)
            runs += len(ts)
            lates += [t - (first + k * 1.0) for k, t in enumerate(ts)]
    await pm.close()
    failures = sum(1 for e in events if e[2] == "Unhealthy")
    for message in sorted({e[3] for e in events if e[2] == "Unhealthy"})[:3]:
        print("failure:", message)
    worst = sorted(lags, key=lambda x: -x[1])[:5]
    if os.environ.get("PROBE_BENCH_DEBUG"):
        print("worst loop lags (s after start, ms):",
              [(round(t - wall0 + 0.0, 1), round(1000 * d, 1)) for t, d in worst])
    return {"cpu": (cpu1 - cpu0) / (wall1 - wall0), "runs": runs,
            "lag_p99_ms": 1000 * pct([d for _, d in lags], 0.99) if lags else -1,
            "lag_max_ms": 1000 * max(d for _, d in lags) if lags else -1,
            "user": (t1.user - t0.user) / (wall1 - wall0),
            "sys": (t1.system - t0.system) / (wall1 - wall0), "failures": failures,
            "p50_ms": 1000 * pct(lates, 0.50), "p99_ms": 1000 * pct(lates, 0.99),
            "max_ms": 1000 * max(lates), "probes_per_s": runs / (wall1 - wall0 + 2.0),
            "runq": (rq1 - rq0) / (wall1 - wall0),
            "floor_p50_ms": 1000 * pct(floor_lates, 0.50) if floor_lates else -1,
            "floor_p99_ms": 1000 * pct(floor_lates, 0.99) if floor_lates else -1,
            "floor_max_ms": 1000 * max(floor_lates) if floor_lates else -1}


async def micro(n: int, batch: int) -> None:
    """Per-connection CPU of the two paths to a pod: dial its IP vs. make the socket inside."""
    results = {}
    for mode in ("podip", "netns"):
        pods = Pods(mode, 1)
        try:
            host = pods.pod_ip or "127.0.0.1"
            sockets = NetnsSockets(batch=batch)
            url = H.probe_url("http", host, pods.ports[0], "/")
            hdrs = H.build_headers([])
            for what in ("connect", "http"):
                c0, w0 = time.process_time(), time.monotonic()
                for _ in range(n):
                    if what == "connect":
                        s = await dial(host, pods.ports[0], netns_path=pods.netns_path,
                                       netns=sockets)
                        s.close()
                    else:
                        await H.probe(url, hdrs, timeout=1, netns_path=pods.netns_path,
                                      netns=sockets)
                c1, w1 = time.process_time(), time.monotonic()
                results[(mode, what)] = (1e6 * (c1 - c0) / n, 1e6 * (w1 - w0) / n)
            sockets.close()
        finally:
            pods.close()
    for (mode, what), (cpu_us, wall_us) in results.items():
        print(f"{mode:6} {what:8} cpu {cpu_us:7.1f} us/op   wall {wall_us:7.1f} us/op")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["netns", "podip", "loopback"], default="netns")
    ap.add_argument("--targets", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--no-spread", action="store_true",
                    help="daemon started long ago: no start jitter, all workers tick together")
    ap.add_argument("--quantum", type=float, default=0.01,
                    help="the manager's wake-up grid in seconds (0: exact ticks)")
    ap.add_argument("--lag", action="store_true",
                    help="also run a 10 ms sleeper to measure event-loop lag (costs CPU)")
    ap.add_argument("--floor", type=float, nargs="?", const=0.0, default=None, metavar="US",
                    help="also run a bare asyncio timer loop (same ticks, no I/O) beside it; "
                         "US: CPU microseconds each of its wake-ups burns (default 0)")
    ap.add_argument("--batch", type=int, default=4,
                    help="sockets made per trip into a netns (--micro)")
    ap.add_argument("--micro", type=int, default=0, metavar="N",
                    help="instead: N sequential connects/probes per path (podip vs netns)")
    args = ap.parse_args()
    if (args.micro or args.mode != "loopback") and os.geteuid() != 0:
        sys.exit("probe_bench: netns and podip modes need root")
    if args.micro:
        asyncio.run(micro(args.micro, args.batch))
        return
    pods = Pods(args.mode, min(args.targets, 200))
    try:
        r = asyncio.run(load(pods, args.targets, args.seconds, not args.no_spread, args.lag,
                             args.quantum, args.floor))
    finally:
        pods.close()
    print(f"mode={args.mode} targets={args.targets} probes=2x{args.targets}/s "
          f"spread={not args.no_spread} window={args.seconds:g}s quantum={args.quantum:g}s")
    print(f"daemon CPU {100 * r['cpu']:.1f}% of one core (user {100 * r['user']:.1f}%, "
          f"kernel {100 * r['sys']:.1f}%); {r['probes_per_s']:.0f} probes/s; "
          f"{int(r['runs'])} runs, {int(r['failures'])} failures")
    print(f"start lateness vs aligned tick: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
          f"max {r['max_ms']:.1f} ms; waited on the run queue {100 * r['runq']:.1f}% of the "
          f"window; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.floor is not None:
        print(f"floor (bare asyncio timers, same ticks, {args.floor:g} us CPU each, beside it): "
              f"p50 {r['floor_p50_ms']:.1f} "
              f"ms, p99 {r['floor_p99_ms']:.1f} ms, max {r['floor_max_ms']:.1f} ms")
    if args.lag:
        print(f"event loop lag (10 ms sleeper): p99 {r['lag_p99_ms']:.1f} ms, "
              f"max {r['lag_max_ms']:.1f} ms")


if __name__ == "__main__":
    main()
