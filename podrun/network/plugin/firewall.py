"""nftables rules of podrun-bridge: masquerade per pod subnet and hostPort DNAT, in one table.

Only data changes per pod: the base chains are rewritten atomically (idempotent) and pods add
or remove elements of sets and maps. Rules run through libnftables when it loads (no exec),
else through the `nft` binary.

    table ip <nftTable>
      set masq_nets / pod_nets                     subnets to masquerade / of pods
      map hostports_any  proto . port        : podIP . port
      map hostports_ip   proto . hostIP . port : podIP . port
      prerouting, output (nat): fib daddr type local -> hostports (dnat via the maps)
      postrouting (nat): ct status dnat from 127/8 or a pod net -> masquerade (localhost and
                         hairpin hostPorts), pod net -> elsewhere -> masquerade
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable


class FirewallError(Exception):
    pass


class HostPort:
    """One hostPort mapping; host_ip "" means every host address; protocol tcp|udp|sctp."""

    def __init__(self, host_port: int, container_port: int, protocol: str, host_ip: str,
                 pod_ip: str) -> None:
        self.host_port, self.container_port = host_port, container_port
        self.protocol, self.host_ip, self.pod_ip = protocol, host_ip, pod_ip

    def elements(self) -> tuple[str, str]:
        """(map name, element) for this mapping."""
        if self.host_ip and self.host_ip != "0.0.0.0":
            return ("hostports_ip", f"{self.protocol} . {self.host_ip} . {self.host_port} : "
                                    f"{self.pod_ip} . {self.container_port}")
        return ("hostports_any", f"{self.protocol} . {self.host_port} : "
                                 f"{self.pod_ip} . {self.container_port}")

    def key(self) -> tuple[str, str]:
        m, el = self.elements()
        return m, el.split(" : ")[0]


def base_script(table: str) -> str:
    t = f"ip {table}"
    return f"""add table {t}
add set {t} masq_nets {{ type ipv4_addr; flags interval; }}
add set {t} pod_nets {{ type ipv4_addr; flags interval; }}
add map {t} hostports_any {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}
add map {t} hostports_ip {{ type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service; }}
add chain {t} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}
add chain {t} output {{ type nat hook output priority -100; policy accept; }}
add chain {t} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}
add chain {t} hostports
flush chain {t} prerouting
flush chain {t} output
flush chain {t} postrouting
flush chain {t} hostports
add rule {t} prerouting fib daddr type local jump hostports
add rule {t} output fib daddr type local jump hostports
add rule {t} hostports dnat ip to meta l4proto . ip daddr . th dport map @hostports_ip
add rule {t} hostports dnat ip to meta l4proto . th dport map @hostports_any
add rule {t} postrouting ct status dnat ip saddr 127.0.0.0/8 masquerade
add rule {t} postrouting ct status dnat ip saddr @pod_nets masquerade
add rule {t} postrouting ip saddr @masq_nets ip daddr != @masq_nets ip daddr != 224.0.0.0/4 masquerade
"""


class _Nft:
    def __init__(self) -> None:
        self.ctx = None
        try:
            lib = ctypes.CDLL("libnftables.so.1")
        except OSError:
            import shutil  # noqa: I001 - only without libnftables

            self.lib = None
            self.binary = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
            if self.binary is None:
                raise FirewallError("nftables is not available (no libnftables, no nft)") from None
            return
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        self.lib = lib
        self.ctx = lib.nft_ctx_new(0)
        lib.nft_ctx_buffer_output(self.ctx)
        lib.nft_ctx_buffer_error(self.ctx)

    def run(self, script: str) -> str:
        if self.lib is not None:
            rc = self.lib.nft_run_cmd_from_buffer(self.ctx, script.encode())
            if rc != 0:
                err = (self.lib.nft_ctx_get_error_buffer(self.ctx) or b"").decode(errors="replace")
                raise FirewallError(err.strip() or f"nft failed ({rc})")
            return (self.lib.nft_ctx_get_output_buffer(self.ctx) or b"").decode()
        import subprocess

        assert self.binary is not None
        proc = subprocess.run([self.binary, "-f", "-"], input=script.encode(),
                              capture_output=True, check=False)
        if proc.returncode != 0:
            raise FirewallError(proc.stderr.decode(errors="replace").strip())
        return proc.stdout.decode()


_nft: _Nft | None = None


def nft(script: str) -> str:
    global _nft
    if _nft is None:
        _nft = _Nft()
    return _nft.run(script)


def available() -> bool:
    try:
        nft("list tables")
        return True
    except FirewallError:
        return False


def setup(table: str, subnet: str, masquerade: bool, ports: Iterable[HostPort]) -> None:
    """One transaction: base rules, this network's subnet, the pod's hostPorts. A hostPort
    that is already mapped fails the whole transaction (`create element`)."""
    t = f"ip {table}"
    script = base_script(table) + f"add element {t} pod_nets {{ {subnet} }}\n"
    if masquerade:
        script += f"add element {t} masq_nets {{ {subnet} }}\n"
    for p in ports:
        m, el = p.elements()
        script += f"create element {t} {m} {{ {el} }}\n"
    try:
        nft(script)
    except FirewallError as e:
        if "File exists" in str(e):
            taken = ", ".join(f"{p.host_port}/{p.protocol}" for p in ports)
            raise FirewallError(f"hostPort already allocated on this host ({taken}): {e}") from e
        raise


def remove_ports(table: str, ports: Iterable[HostPort]) -> None:
    """Delete the pod's map elements; ones already gone are fine (DEL is idempotent)."""
    ports = list(ports)
    if not ports:
        return
    t = f"ip {table}"
    cmds = [f"delete element {t} {m} {{ {k} }}\n" for m, k in (p.key() for p in ports)]
    try:
        nft("".join(cmds))
        return
    except FirewallError:
        pass
    for c in cmds:  # one is missing: retry each alone
        try:
            nft(c)
        except FirewallError:
            pass


def remove_network(table: str, subnet: str) -> None:
    t = f"ip {table}"
    for s in ("masq_nets", "pod_nets"):
        try:
            nft(f"delete element {t} {s} {{ {subnet} }}\n")
        except FirewallError:
            pass


def delete_table(table: str) -> None:
    try:
        nft(f"delete table ip {table}\n")
    except FirewallError:
        pass


# ---- iptables backend (hosts without nftables; config "firewall": "iptables") ----------------
#
# The same rules as chains in the nat table, rules instead of set/map elements:
#   PREROUTING/OUTPUT  -m addrtype --dst-type LOCAL -j <base>-HP
#   POSTROUTING        -j <base>-PR
#   <base>-HP          -p tcp --dport 8080 [-d hostIP] -m comment "<id>" -j DNAT --to podIP:80
#   <base>-PR          ctstate DNAT from 127/8 -> MASQUERADE; ctstate DNAT from a pod net ->
#                      MASQUERADE; pod net -> not pod net, not multicast -> MASQUERADE


def _chains(table: str) -> tuple[str, str]:
    if table == "podrun":
        base = "PODRUN"
    else:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found]
        except ImportError:
            from hashlib import sha256
        base = "PODRUN-" + str(sha256(table.encode()).hexdigest())[:8]
    return base + "-HP", base + "-PR"


def _ipt(*args: str, check: bool = True) -> tuple[int, str]:
    import subprocess

    binary = _which("iptables")
    proc = subprocess.run([binary, "-w", "-t", "nat", *args], capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise FirewallError(f"iptables {' '.join(args)}: "
                            f"{proc.stderr.decode(errors='replace').strip()}")
    return proc.returncode, proc.stdout.decode()


def _which(name: str) -> str:
    import shutil

    path = shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        raise FirewallError(f"{name} is not installed")
    return path


def _ensure(chain: str, *rule: str) -> None:
    if _ipt("-C", chain, *rule, check=False)[0] != 0:
        _ipt("-A", chain, *rule)


def _port_rule(p: HostPort, comment: str) -> list[str]:
    rule = ["-p", p.protocol, "--dport", str(p.host_port)]
    if p.host_ip and p.host_ip != "0.0.0.0":
        rule += ["-d", p.host_ip]
    return rule + ["-m", "comment", "--comment", comment, "-j", "DNAT", "--to-destination",
                   f"{p.pod_ip}:{p.container_port}"]


def ipt_available() -> bool:
    try:
        _ipt("-S", "POSTROUTING")
        return True
    except FirewallError:
        return False


def ipt_setup(table: str, subnet: str, masquerade: bool, ports: Iterable[HostPort],
              comment: str) -> None:
    hp, pr = _chains(table)
    for chain in (hp, pr):
        _ipt("-N", chain, check=False)
    _ensure("PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", hp)
    _ensure("OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", hp)
    _ensure("POSTROUTING", "-j", pr)
    _ensure(pr, "-s", "127.0.0.0/8", "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE")
    _ensure(pr, "-s", subnet, "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE")
    if masquerade:
        _ensure(pr, "-s", subnet, "!", "-d", subnet, "-m", "addrtype", "!", "--dst-type",
                "MULTICAST", "-j", "MASQUERADE")
    ports = list(ports)
    existing = _ipt("-S", hp)[1]
    for p in ports:
        dest = f" -d {p.host_ip}/32" if p.host_ip and p.host_ip != "0.0.0.0" else ""
        for line in existing.splitlines():
            if f" -p {p.protocol} " in line and f"--dport {p.host_port} " in line and \
                    (not dest or dest in line or " -d " not in line):
                raise FirewallError(f"hostPort already allocated on this host "
                                    f"({p.host_port}/{p.protocol}): {line}")
    done: list[HostPort] = []
    try:
        for p in ports:
            _ipt("-A", hp, *_port_rule(p, comment))
            done.append(p)
    except FirewallError:
        ipt_remove_ports(table, done, comment)
        raise


def ipt_remove_ports(table: str, ports: Iterable[HostPort], comment: str) -> None:
    hp, _pr = _chains(table)
    for p in ports:
        while _ipt("-D", hp, *_port_rule(p, comment), check=False)[0] == 0:
            pass


def ipt_delete_table(table: str) -> None:
    """Remove the jumps and chains of this table name (tests, uninstall)."""
    hp, pr = _chains(table)
    for chain, rule in (("PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", hp]),
                        ("OUTPUT", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", hp]),
                        ("POSTROUTING", ["-j", pr])):
        while _ipt("-D", chain, *rule, check=False)[0] == 0:
            pass
    for chain in (hp, pr):
        _ipt("-F", chain, check=False)
        _ipt("-X", chain, check=False)
