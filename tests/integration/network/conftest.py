"""Fixtures for network tests: pod sandboxes (a pause holding a new netns, pinned to a file),
test networks on a private bridge `prt-<rand>` with a random /24 in 10.251.0.0/16, for
podrun's plugin and for the reference plugins; everything removed in finally blocks.

Traffic only goes to addresses inside namespaces these fixtures create."""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from podrun.network.cni import NetworkManager, pin_netns, unpin_netns
from podrun.runtime.pause import PauseHandle, launch_pause, wait_for_pidfd
from tests.support import TEST_TMP

TOP = Path(__file__).resolve().parents[3]
PODRUN_BIN = TOP / "cni"
REFERENCE_BIN = Path("/usr/lib/cni")
REFERENCE_PLUGINS = ("bridge", "host-local", "portmap", "loopback")
BUSYBOX = "/bin/busybox"
REFERENCE_CHAINS = ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ")


def run(*argv: str, check: bool = True, timeout: float = 20, **kw: object
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout,
                          **kw)  # type: ignore[call-overload]


def reference_missing() -> str | None:
    missing = [p for p in REFERENCE_PLUGINS if not (REFERENCE_BIN / p).exists()]
    if missing:
        return (f"reference CNI plugins {missing} not in {REFERENCE_BIN}: install Debian's "
                "containernetworking-plugins")
    return None


def _nft_tables() -> set[str]:
    out = run("nft", "list", "tables", check=False).stdout
    return {line.strip() for line in out.splitlines() if line.startswith("table ")}


def _table_is_empty(spec: str) -> bool:
    doc = json.loads(run("nft", "-j", "list", "table", *spec.split(), check=False).stdout or "{}")
    return not any("rule" in item or "set" in item or "map" in item
                   for item in doc.get("nftables", []))


def _iptables_nat() -> str:
    return run("iptables-save", "-t", "nat", check=False).stdout


def _remove_reference_hostport_chains() -> None:
    """The reference portmap plugin leaves its three top-level chains behind (by design)."""
    for chain_cmd in (
            ["PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"],
            ["OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"],
            ["POSTROUTING", "-m", "comment", "--comment", "CNI portfwd requiring masquerade",
             "-j", "CNI-HOSTPORT-MASQ"]):
        while run("iptables", "-t", "nat", "-D", *chain_cmd, check=False).returncode == 0:
            pass
    for c in REFERENCE_CHAINS:
        run("iptables", "-t", "nat", "-F", c, check=False)
        run("iptables", "-t", "nat", "-X", c, check=False)


def purge_iptables_for(network: str) -> list[str]:
    """Delete nat rules whose comment names this network, and the CNI-* chains they jump
    to (what the reference bridge leaves when DEL comes after its netns is gone)."""
    import shlex

    removed = []
    for line in _iptables_nat().splitlines():
        if line.startswith("-A ") and f'name: \\"{network}\\"' in line:
            args = shlex.split(line)
            run("iptables", "-t", "nat", "-D", *args[1:], check=False)
            removed.append(line)
            if "-j" in args and args[args.index("-j") + 1].startswith("CNI-"):
                chain = args[args.index("-j") + 1]
                run("iptables", "-t", "nat", "-F", chain, check=False)
                run("iptables", "-t", "nat", "-X", chain, check=False)
    return removed


@pytest.fixture(scope="session", autouse=True)
def host_guard() -> Iterator[None]:
    """Put back what the plugins change host-wide: ip_forward, the reference portmap's
    top-level chains and the empty tables iptables-nft created, when they were not there."""
    fwd = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    tables = _nft_tables()
    had_chains = {c for c in REFERENCE_CHAINS if f":{c} " in _iptables_nat()}
    try:
        yield
    finally:
        if not had_chains:
            _remove_reference_hostport_chains()
        for t in _nft_tables() - tables:
            spec = t.removeprefix("table ")
            if spec.split()[-1].startswith("podrun_test_") or _table_is_empty(spec):
                run("nft", "delete", "table", *spec.split(), check=False)
        Path("/proc/sys/net/ipv4/ip_forward").write_text(fwd)


@dataclass
class Sandbox:
    name: str
    handle: PauseHandle
    netns: str  # the pinned path handed to CNI
    pidfd: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def ns(self, *argv: str, check: bool = True, timeout: float = 20
           ) -> subprocess.CompletedProcess[str]:
        return run("nsenter", f"--net={self.netns}", *argv, check=check, timeout=timeout)

    def spawn(self, *argv: str) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(["nsenter", f"--net={self.netns}", *argv],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def httpd(self, port: int, body: str) -> None:
        root = Path(self.handle.run_dir) / "www"
        root.mkdir(exist_ok=True)
        (root / "index.html").write_text(body)
        self.spawn(BUSYBOX, "httpd", "-f", "-p", str(port), "-h", str(root))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if f":{port} " in self.ns("ss", "-Hltn", check=False).stdout:
                return
            time.sleep(0.05)
        raise AssertionError(f"httpd on {port} did not start in {self.name}")

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        self.procs.clear()


@pytest.fixture
def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="podrun-net-", dir=TEST_TMP))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def sandboxes(workdir: Path) -> Iterator[Callable[[str], Sandbox]]:
    """sandbox(name) -> a pause holding a new netns, pinned at <run dir>/netns."""
    made: list[Sandbox] = []

    def make(name: str) -> Sandbox:
        run_dir = workdir / "pods" / name
        h = launch_pause(run_dir, new_net=True, new_ipc=False, new_uts=False, new_pid=False)
        fd = os.pidfd_open(h.pid)
        sb = Sandbox(name, h, "", fd)
        made.append(sb)
        sb.netns = pin_netns(h.pid, run_dir / "netns")
        return sb

    try:
        yield make
    finally:
        for sb in made:
            sb.kill()
            stop_pause(sb)
            if sb.netns:
                unpin_netns(sb.netns)
            os.close(sb.pidfd)


def stop_pause(sb: Sandbox) -> None:
    try:
        signal.pidfd_send_signal(sb.pidfd, signal.SIGKILL)
        wait_for_pidfd(sb.pidfd, 5)
    except ProcessLookupError:
        pass


@dataclass
class TestNet:
    kind: str  # "podrun" | "podrun-iptables" | "reference"
    name: str
    bridge: str
    subnet: str  # a.b.c.0/24
    gateway: str
    table: str
    conf_dir: Path
    bin_dirs: list[Path]
    cache_dir: Path
    data_dir: Path
    state_dir: Path

    def manager(self, **kw: object) -> NetworkManager:
        return NetworkManager(self.conf_dir, self.bin_dirs, self.cache_dir, **kw)  # type: ignore[arg-type]

    def leases(self) -> list[str]:
        d = self.data_dir / self.name
        if not d.exists():
            return []
        return sorted(n for n in os.listdir(d) if n[0].isdigit())

    def bridge_ports(self) -> list[str]:
        out = run("ip", "-o", "link", "show", "master", self.bridge, check=False).stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]

    def rules_for(self, sandbox_id: str, pod_ip: str | None = None) -> list[str]:
        """Firewall state left for one sandbox (its id in iptables comments, or its pod IP
        in podrun's nft maps)."""
        left = [line for line in _iptables_nat().splitlines() if sandbox_id in line]
        if self.kind == "podrun" and pod_ip:
            out = run("nft", "list", "table", "ip", self.table, check=False).stdout
            left += [line for line in out.splitlines() if f"{pod_ip} ." in line]
        return left


def _free_subnet() -> str:
    routes = run("ip", "-4", "route", "show").stdout
    for _ in range(50):
        third = random.randint(1, 254)
        prefix = f"10.251.{third}."
        if prefix not in routes:
            return f"{prefix}0/24"
    raise RuntimeError("no free 10.251.x.0/24")


def _conflist(net: TestNet) -> dict:
    if net.kind.startswith("podrun"):
        return {"cniVersion": "1.1.0", "name": net.name, "plugins": [{
            "type": "podrun-bridge", "bridge": net.bridge, "isGateway": True, "ipMasq": True,
            "hairpinMode": True, "nftTable": net.table, "stateDir": str(net.state_dir),
            "firewall": "iptables" if net.kind == "podrun-iptables" else "nftables",
            "ipam": {"subnet": net.subnet, "dataDir": str(net.data_dir),
                     "routes": [{"dst": "0.0.0.0/0"}]},
            "capabilities": {"portMappings": True, "ips": True, "mac": True}}]}
    return {"cniVersion": "1.0.0", "name": net.name, "plugins": [
        {"type": "bridge", "bridge": net.bridge, "isGateway": True, "ipMasq": True,
         "hairpinMode": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": net.subnet}]],
                  "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(net.data_dir)}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
        {"type": "loopback"}]}


@pytest.fixture
def make_net(workdir: Path) -> Iterator[Callable[[str], TestNet]]:
    made: list[TestNet] = []

    def make(kind: str) -> TestNet:
        if kind == "reference" and (why := reference_missing()):
            pytest.skip(why)
        tag = secrets.token_hex(3)
        subnet = _free_subnet()
        base = workdir / f"net-{tag}"
        net = TestNet(kind=kind, name=f"prt-{tag}", bridge=f"prt-{tag}", subnet=subnet,
                      gateway=subnet.replace(".0/24", ".1"), table=f"podrun_test_{tag}",
                      conf_dir=base / "net.d", cache_dir=base / "cache",
                      data_dir=base / "ipam", state_dir=base / "state",
                      bin_dirs=[REFERENCE_BIN] if kind == "reference" else [PODRUN_BIN])
        net.conf_dir.mkdir(parents=True)
        (net.conf_dir / "10-test.conflist").write_text(json.dumps(_conflist(net)))
        made.append(net)
        return net

    try:
        yield make
    finally:
        for net in made:
            try:  # a test that failed before its DEL: DEL every cached attachment
                net.manager().gc([])
            except Exception:  # noqa: BLE001 - cleanup goes on
                pass
            run("ip", "link", "del", net.bridge, check=False)
            if net.kind == "reference":
                purge_iptables_for(net.name)
            if net.kind == "podrun":
                run("nft", "delete", "table", "ip", net.table, check=False)
            if net.kind == "podrun-iptables":
                from podrun.network.plugin import firewall
                firewall.ipt_delete_table(net.table)


@pytest.fixture(params=["podrun", "podrun-iptables", "reference"])
def net(request: pytest.FixtureRequest, make_net: Callable[[str], TestNet]) -> TestNet:
    return make_net(request.param)


def free_port() -> int:
    return random.randint(20000, 29999)
