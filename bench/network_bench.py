"""Network figures: sandbox network setup + teardown (CNI ADD + DEL through NetworkManager)
with podrun's plugin vs the reference plugins, interleaved in one run, medians.

Run as root from the repository root:

    .venv/bin/python bench/network_bench.py            # N=40 per plugin set
    .venv/bin/python bench/network_bench.py -n 100

Both sides do the same job on their own test bridge (`prt-<rand>`, a random /24 in
10.251.0.0/16) for one netns held by `ip netns add`, with one hostPort mapping:
  podrun:    cni/podrun-bridge (bridge, veth, IPAM, masquerade, hostPort: one process per call)
  reference: bridge (+ host-local, which it execs) -> portmap -> loopback (Debian's
             containernetworking-plugins), cniVersion 1.0.0
Also measured: the start-up of the plugin's Python (VERSION), vs a Go plugin's.

Python's start-up cost: the plugin runs `/usr/bin/python3 -I -S` (no site, no venv, no
user paths) and imports only the standard library: its own ~150-line rtnetlink client instead
of pyroute2 (import pyroute2 0.9.7: ~250 ms; its message classes alone: ~36 ms), libnftables
through ctypes instead of exec'ing nft or iptables, lazy imports per command, no dataclasses/
typing/hashlib at start-up. The whole ADD is one process where the reference chain starts
four (bridge, host-local, portmap, loopback) and portmap runs iptables several times.
Everything the bench creates is removed at the end (also on failure).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

from podrun.network.cni import NetworkManager, PortMapping  # noqa: E402


def sh(*argv: str, check: bool = False) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=check).stdout


def conflists(tag: str, base: Path) -> dict[str, tuple[Path, list[str]]]:
    out = {}
    for kind in ("podrun", "reference"):
        third = random.randint(1, 254)
        subnet = f"10.251.{third}.0/24"
        d = base / kind / "net.d"
        d.mkdir(parents=True)
        name = f"prt-{tag}{kind[0]}"
        if kind == "podrun":
            doc = {"cniVersion": "1.1.0", "name": name, "plugins": [{
                "type": "podrun-bridge", "bridge": name, "nftTable": f"podrun_test_{tag}",
                "stateDir": str(base / kind / "state"),
                "ipam": {"subnet": subnet, "dataDir": str(base / kind / "ipam")},
                "capabilities": {"portMappings": True}}]}
            bins = [str(TOP / "cni")]
        else:
            doc = {"cniVersion": "1.0.0", "name": name, "plugins": [
                {"type": "bridge", "bridge": name, "isGateway": True, "ipMasq": True,
                 "hairpinMode": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                          "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(base / kind / "ipam")}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
                {"type": "loopback"}]}
            bins = ["/usr/lib/cni"]
        (d / "10-bench.conflist").write_text(json.dumps(doc))
        out[kind] = (d, bins)
    return out


def startup(cmd: list[str], n: int) -> float:
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, input=b'{"cniVersion":"1.0.0"}', env={"CNI_COMMAND": "VERSION"},
                       capture_output=True, check=True)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=40)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    tag = secrets.token_hex(2)
    base = Path(tempfile.mkdtemp(prefix="podrun-netbench-", dir="/var/tmp"))
    netns = f"podrun-bench-{tag}"
    fwd = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    tables_before = sh("nft", "list", "tables").splitlines()
    nat_before = sh("iptables-save", "-t", "nat")
    confs = conflists(tag, base)
    managers = {k: NetworkManager(d, b, base / k / "cache") for k, (d, b) in confs.items()}
    times: dict[str, dict[str, list[float]]] = {k: {"add": [], "del": []} for k in confs}
    sh("ip", "netns", "add", netns, check=True)
    try:
        for i in range(args.n):
            for kind in (("podrun", "reference") if i % 2 else ("reference", "podrun")):
                m = managers[kind]
                sid = f"bench-{kind}-{i}"
                t0 = time.perf_counter()
                m.setup("default", "bench", "uid", sid, f"/var/run/netns/{netns}",
                        port_mappings=[PortMapping(30000 + i % 1000, 80)])
                t1 = time.perf_counter()
                m.teardown(sid, f"/var/run/netns/{netns}")
                t2 = time.perf_counter()
                times[kind]["add"].append((t1 - t0) * 1000)
                times[kind]["del"].append((t2 - t1) * 1000)
        py = startup([str(TOP / "cni/podrun-bridge")], 30)
        go = startup(["/usr/lib/cni/bridge"], 30)
    finally:
        sh("ip", "netns", "del", netns)
        for kind, (d, _b) in confs.items():
            name = json.loads((d / "10-bench.conflist").read_text())["name"]
            sh("ip", "link", "del", name)
            if kind == "reference":
                for line in sh("iptables-save", "-t", "nat").splitlines():
                    if line.startswith("-A ") and name in line:
                        import shlex
                        sh("iptables", "-t", "nat", "-D", *shlex.split(line)[1:])
        sh("nft", "delete", "table", "ip", f"podrun_test_{tag}")
        # the reference portmap's top-level chains and iptables-nft's tables, if new
        if "CNI-HOSTPORT" not in nat_before:
            for rule in (["PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j",
                          "CNI-HOSTPORT-DNAT"],
                         ["OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j",
                          "CNI-HOSTPORT-DNAT"],
                         ["POSTROUTING", "-m", "comment", "--comment",
                          "CNI portfwd requiring masquerade", "-j", "CNI-HOSTPORT-MASQ"]):
                sh("iptables", "-t", "nat", "-D", *rule)
            for c in ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"):
                sh("iptables", "-t", "nat", "-F", c)
                sh("iptables", "-t", "nat", "-X", c)
        for line in sh("nft", "list", "tables").splitlines():
            spec = line.removeprefix("table ").split()
            if line not in tables_before and not any(
                    "rule" in item for item in json.loads(
                        sh("nft", "-j", "list", "table", *spec) or "{}").get("nftables", [])):
                sh("nft", "delete", "table", *spec)
        Path("/proc/sys/net/ipv4/ip_forward").write_text(fwd)
        shutil.rmtree(base, ignore_errors=True)
    med = {k: {op: statistics.median(v) for op, v in d.items()} for k, d in times.items()}
    print(f"network setup+teardown, N={args.n} each, interleaved, medians (ms); load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':12}{'ADD':>8}{'DEL':>8}{'total':>8}")
    for k in ("podrun", "reference"):
        print(f"{k:12}{med[k]['add']:8.1f}{med[k]['del']:8.1f}"
              f"{med[k]['add'] + med[k]['del']:8.1f}")
    ratio = (med["podrun"]["add"] + med["podrun"]["del"]) / (
        med["reference"]["add"] + med["reference"]["del"])
    print(f"podrun / reference: {ratio:.2f}x")
    print(f"plugin start-up (VERSION), median of 30: podrun-bridge (python3 -I -S) "
          f"{py:.1f} ms, reference bridge (Go) {go:.1f} ms")


if __name__ == "__main__":
    main()
