"""podrun-bridge, a CNI plugin (spec 0.4.0/1.0.0/1.1.0): bridge + veth + host-local-style IPAM
+ masquerade + hostPort, in one process per call. Standard library only, so any CNI runtime
can start it by path with the system python3 (see docs/network.md)."""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~4 ms of start-up; annotations are strings here
    from typing import Any

SUPPORTED_VERSIONS = ["0.4.0", "1.0.0", "1.1.0"]
DEFAULT_DATA_DIR = "/var/lib/cni/networks"
DEFAULT_STATE_DIR = "/var/lib/cni/podrun-bridge"
DEFAULT_TABLE = "podrun"
DEFAULT_BRIDGE = "podrun0"

ERR_INCOMPATIBLE_VERSION, ERR_UNSUPPORTED_FIELD, ERR_UNKNOWN_CONTAINER = 1, 2, 3
ERR_INVALID_ENV, ERR_IO, ERR_DECODE, ERR_INVALID_CONFIG, ERR_TRY_AGAIN = 4, 5, 6, 7, 11
ERR_NOT_AVAILABLE = 50  # STATUS: cannot service ADD
ERR_IPAM = 100
ERR_HOSTPORT = 101
ERR_NETLINK = 102
ERR_FIREWALL = 103
ERR_CHECK = 104


class PluginError(Exception):
    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details


def _vtuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


# ---- configuration -------------------------------------------------------------------------


class Conf:
    """The plugin's network configuration (see docs/network.md for every key)."""

    def __init__(self, **kw: Any) -> None:
        self.raw: dict[str, Any] = kw["raw"]
        self.version: str = kw["version"]
        self.name: str = kw["name"]
        self.bridge: str = kw["bridge"]
        self.mtu: int | None = kw["mtu"]
        self.is_gateway: bool = kw["is_gateway"]
        self.ip_masq: bool = kw["ip_masq"]
        self.hairpin: bool = kw["hairpin"]
        self.promisc: bool = kw["promisc"]
        self.table: str = kw["table"]
        self.data_dir: str = kw["data_dir"]
        self.state_dir: str = kw["state_dir"]
        self.ipam: dict[str, Any] = kw["ipam"]
        self.runtime: dict[str, Any] = kw["runtime"]
        self.firewall: str = kw["firewall"]

    @property
    def delegated_ipam(self) -> str | None:
        t = self.ipam.get("type")
        return t if t and t not in ("podrun", "podrun-bridge") else None


def parse_conf(data: bytes) -> Conf:
    try:
        raw = json.loads(data)
    except ValueError as e:
        raise PluginError(ERR_DECODE, "failed to decode network configuration", str(e)) from e
    if not isinstance(raw, dict):
        raise PluginError(ERR_DECODE, "network configuration is not a JSON object")
    version = raw.get("cniVersion", "")
    if not isinstance(version, str):
        raise PluginError(ERR_DECODE, "cniVersion is not a string")
    if version not in SUPPORTED_VERSIONS:
        raise PluginError(ERR_INCOMPATIBLE_VERSION, "incompatible CNI versions",
                          f'config is "{version}", plugin supports {SUPPORTED_VERSIONS}')
    name = raw.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise PluginError(ERR_INVALID_CONFIG, "network configuration has no valid name")
    ipam = raw.get("ipam") or {}
    if not isinstance(ipam, dict):
        raise PluginError(ERR_INVALID_CONFIG, "ipam must be an object")
    bridge = raw.get("bridge") or DEFAULT_BRIDGE
    if not isinstance(bridge, str) or len(bridge) > 15 or "/" in bridge:
        raise PluginError(ERR_INVALID_CONFIG, f"invalid bridge name {bridge!r}")
    mtu = raw.get("mtu")
    if mtu is not None and (not isinstance(mtu, int) or not 68 <= mtu <= 65535):
        raise PluginError(ERR_INVALID_CONFIG, f"invalid mtu {mtu!r}")
    table = raw.get("nftTable") or DEFAULT_TABLE
    if not isinstance(table, str) or not table.replace("-", "").replace("_", "").isalnum():
        raise PluginError(ERR_INVALID_CONFIG, f"invalid nftTable {table!r}")
    runtime = raw.get("runtimeConfig") or {}
    fw = raw.get("firewall") or "auto"
    if fw not in ("auto", "nftables", "iptables"):
        raise PluginError(ERR_INVALID_CONFIG, f"firewall must be auto, nftables or iptables, "
                          f"not {fw!r}")
    return Conf(raw=raw, version=version, name=name, bridge=bridge, mtu=mtu,
                is_gateway=bool(raw.get("isGateway", True)),
                ip_masq=bool(raw.get("ipMasq", True)),
                hairpin=bool(raw.get("hairpinMode", True)),
                promisc=bool(raw.get("promiscMode", False)), table=table,
                data_dir=ipam.get("dataDir") or DEFAULT_DATA_DIR,
                state_dir=raw.get("stateDir") or DEFAULT_STATE_DIR, ipam=ipam,
                runtime=runtime if isinstance(runtime, dict) else {}, firewall=fw)


class Env:
    def __init__(self, command: str, container_id: str, netns: str, ifname: str, args: str,
                 path: str) -> None:
        self.command, self.container_id, self.netns = command, container_id, netns
        self.ifname, self.args, self.path = ifname, args, path


def read_env(command: str) -> Env:
    e = os.environ
    env = Env(command, e.get("CNI_CONTAINERID", ""), e.get("CNI_NETNS", ""),
              e.get("CNI_IFNAME", ""), e.get("CNI_ARGS", ""), e.get("CNI_PATH", ""))
    need = {"ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
            "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
            "DEL": ("CNI_CONTAINERID", "CNI_IFNAME")}.get(command, ())
    missing = [k for k in need if not e.get(k)]
    if missing:
        raise PluginError(ERR_INVALID_ENV, f"required env variables [{', '.join(missing)}] "
                          "missing")
    if env.ifname and (len(env.ifname) > 15 or "/" in env.ifname):
        raise PluginError(ERR_INVALID_ENV, f"invalid CNI_IFNAME {env.ifname!r}")
    return env


def host_veth_name(cid: str, ifname: str) -> str:
    """Deterministic, so DEL and GC find it without state: 'pr' + 11 hex chars."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # skips hashlib's OpenSSL load (~5 ms)
    except ImportError:
        from hashlib import sha256
    return "pr" + str(sha256(f"{cid}/{ifname}".encode()).hexdigest())[:11]


# ---- per-attachment state ------------------------------------------------------------------


def _state_path(conf: Conf, cid: str, ifname: str) -> str:
    return os.path.join(conf.state_dir, conf.name, f"{cid}-{ifname}.json")


def _write_state(conf: Conf, cid: str, ifname: str, doc: dict[str, Any]) -> None:
    path = _state_path(conf, cid, ifname)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


def _read_state(conf: Conf, cid: str, ifname: str) -> dict[str, Any] | None:
    try:
        with open(_state_path(conf, cid, ifname)) as f:
            doc = json.load(f)
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


def _states(conf: Conf) -> list[dict[str, Any]]:
    d = os.path.join(conf.state_dir, conf.name)
    out = []
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    for n in names:
        if n.endswith(".json"):
            try:
                with open(os.path.join(d, n)) as f:
                    doc = json.load(f)
                if isinstance(doc, dict) and doc.get("containerID"):
                    out.append(doc)
            except (OSError, ValueError):
                continue
    return out


# ---- helpers -------------------------------------------------------------------------------


def _sysctl(path: str, value: str) -> None:
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise PluginError(ERR_IO, f"failed to set {path} to {value}", str(e)) from e


def _port_mappings(conf: Conf, pod_ip: str) -> list[Any]:
    from .firewall import HostPort

    out = []
    for pm in conf.runtime.get("portMappings") or []:
        try:
            proto = str(pm.get("protocol") or "tcp").lower()
            if proto not in ("tcp", "udp", "sctp"):
                raise ValueError(f"unsupported protocol {proto!r}")
            hp, cp = int(pm["hostPort"]), int(pm["containerPort"])
            if not (0 < hp < 65536 and 0 < cp < 65536):
                raise ValueError("port out of range")
            host_ip = str(pm.get("hostIP") or "")
            if host_ip:
                if ipaddress.ip_address(host_ip).version != 4:
                    continue  # IPv6 hostIPs: this plugin is IPv4-only (documented)
        except (KeyError, TypeError, ValueError) as e:
            raise PluginError(ERR_INVALID_CONFIG, f"invalid portMappings entry {pm!r}",
                              str(e)) from e
        out.append(HostPort(hp, cp, proto, host_ip, pod_ip))
    return out


def _backend(conf: Conf) -> str:
    """nftables when usable (auto), else iptables."""
    from . import firewall

    if conf.firewall != "auto":
        return conf.firewall
    return "nftables" if firewall.available() else "iptables"


def _comment(conf: Conf, cid: str, ifname: str) -> str:
    return f"podrun-bridge {conf.name} {cid}/{ifname}"


def _open_netns(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise PluginError(ERR_INVALID_ENV, f'failed to open netns "{path}"',
                          os.strerror(e.errno or 0)) from e


def _delegate(conf: Conf, env: Env, stdin: bytes) -> dict[str, Any] | None:
    """Run the configured IPAM plugin (host-local, dhcp, ...) with our stdin."""
    import subprocess

    assert conf.delegated_ipam
    for d in env.path.split(os.pathsep):
        p = os.path.join(d, conf.delegated_ipam)
        if d and os.access(p, os.X_OK):
            break
    else:
        raise PluginError(ERR_INVALID_CONFIG, f"failed to find IPAM plugin "
                          f"{conf.delegated_ipam!r} in CNI_PATH {env.path!r}")
    proc = subprocess.run([p], input=stdin, capture_output=True, check=False,
                          env={**os.environ, "CNI_COMMAND": env.command})
    out = proc.stdout.strip()
    doc = json.loads(out) if out.startswith(b"{") else None
    if proc.returncode != 0:
        if isinstance(doc, dict):
            raise PluginError(int(doc.get("code", ERR_IPAM)), str(doc.get("msg", "")),
                              str(doc.get("details", "")))
        raise PluginError(ERR_IPAM, f"IPAM plugin {conf.delegated_ipam} failed",
                          proc.stderr.decode(errors="replace").strip())
    return doc


# ---- commands ------------------------------------------------------------------------------


def cmd_add(conf: Conf, env: Env, stdin: bytes) -> dict[str, Any]:
    from . import firewall, ipam, netlink

    nsfd = _open_netns(env.netns)
    host = netlink.RTNL()
    pod = netlink.rtnl_in(nsfd)
    undo: list[Any] = []
    try:
        # 1. the address
        if conf.delegated_ipam:
            ipres = _delegate(conf, env, stdin) or {}
            ips = ipres.get("ips") or []
            if not ips:
                raise PluginError(ERR_IPAM, "IPAM plugin returned no IP")
            iface = ipaddress.IPv4Interface(ips[0]["address"])
            gw = ipaddress.IPv4Address(ips[0].get("gateway") or iface.network.network_address + 1)
            routes = ipres.get("routes") or []
            dns = ipres.get("dns") or conf.raw.get("dns") or {}
            undo.append(lambda: _delegate(conf, Env("DEL", env.container_id, env.netns,
                                                    env.ifname, env.args, env.path), stdin))
        else:
            try:
                rng = ipam.Range.from_config(conf.ipam)
                store = ipam.Store(conf.data_dir, conf.name)
                requested = None
                for want in conf.runtime.get("ips") or []:
                    requested = ipaddress.IPv4Interface(want).ip
                    break
                with store.locked():
                    existed = store.find(env.container_id, env.ifname) is not None
                    ip = store.allocate(rng, env.container_id, env.ifname, requested)
            except ipam.IPAMError as e:
                raise PluginError(ERR_IPAM, str(e)) from e
            except ValueError as e:
                raise PluginError(ERR_INVALID_CONFIG, f"invalid runtimeConfig ips: {e}") from e

            def release() -> None:
                with store.locked():
                    store.release(env.container_id, env.ifname)
            if not existed:  # a repeated ADD must not free the lease of the first one
                undo.append(release)
            iface = ipaddress.IPv4Interface(f"{ip}/{rng.subnet.prefixlen}")
            gw = rng.gateway
            routes = conf.ipam.get("routes") or [{"dst": "0.0.0.0/0"}]
            dns = conf.raw.get("dns") or {}
        subnet = iface.network
        # 2. the bridge
        br = host.link(conf.bridge)
        if br is None:
            try:
                host.create_bridge(conf.bridge, conf.mtu)
            except FileExistsError:
                pass
            br = host.link(conf.bridge)
        if br is None or br.kind != "bridge":
            raise PluginError(ERR_NETLINK, f"{conf.bridge!r} already exists and is not a bridge")
        if not br.flags & netlink.IFF_UP or (conf.promisc and not br.flags & netlink.IFF_PROMISC):
            host.set_link(br.index, up=True, promisc=True if conf.promisc else None)
        if conf.is_gateway:
            have = {(a.address, a.prefixlen) for a in host.addrs(br.index)}
            if (str(gw), subnet.prefixlen) not in have:
                try:
                    host.add_addr(br.index, str(gw), subnet.prefixlen)
                except FileExistsError:
                    pass
            _sysctl("/proc/sys/net/ipv4/ip_forward", "1")
        ports = _port_mappings(conf, str(iface.ip))
        if ports:
            # hostPort from 127.0.0.1: a 127/8 source may leave through the bridge
            _sysctl(f"/proc/sys/net/ipv4/conf/{conf.bridge}/route_localnet", "1")
        # 3. the veth pair, its pod end created right in the netns under CNI_IFNAME
        veth = host_veth_name(env.container_id, env.ifname)
        if pod.link(env.ifname) is not None:
            raise PluginError(ERR_NETLINK, f"container veth name provided ({env.ifname}) "
                              "already exists")
        stale = host.link(veth)
        if stale is not None:  # left by an attachment whose DEL never came
            host.delete_link(stale.index)
        mac = conf.runtime.get("mac") or None
        host.create_veth(veth, env.ifname, nsfd, conf.mtu or br.mtu or None, mac)
        hv = host.link(veth)
        assert hv is not None
        undo.append(lambda: host.delete_link(hv.index))
        host.set_link(hv.index, up=True, master=br.index)
        if conf.hairpin:
            _sysctl(f"/sys/class/net/{veth}/brport/hairpin_mode", "1")
        # 4. inside the pod: lo, address, routes
        lo = pod.link("lo")
        if lo is not None and not lo.flags & netlink.IFF_UP:
            pod.set_link(lo.index, up=True)
        cv = pod.link(env.ifname)
        assert cv is not None
        pod.add_addr(cv.index, str(iface.ip), subnet.prefixlen)
        pod.set_link(cv.index, up=True)
        out_routes = []
        for r in routes:
            dst = ipaddress.IPv4Network(r.get("dst", "0.0.0.0/0"))
            via = r.get("gw") or str(gw)
            pod.add_route(str(dst.network_address), dst.prefixlen, via, cv.index)
            out_routes.append({"dst": str(dst), "gw": via})
        # 5. the firewall: masquerade and hostPorts
        backend = _backend(conf) if conf.ip_masq or ports else ""
        if backend:
            try:
                if backend == "nftables":
                    firewall.setup(conf.table, str(subnet), conf.ip_masq, ports)
                else:
                    firewall.ipt_setup(conf.table, str(subnet), conf.ip_masq, ports,
                                       _comment(conf, env.container_id, env.ifname))
            except firewall.FirewallError as e:
                code = ERR_HOSTPORT if "already allocated" in str(e) else ERR_FIREWALL
                raise PluginError(code, "failed to set up nftables rules", str(e)) from e
        _write_state(conf, env.container_id, env.ifname, {
            "containerID": env.container_id, "ifname": env.ifname, "netns": env.netns,
            "veth": veth, "ip": str(iface.ip), "subnet": str(subnet), "table": conf.table,
            "firewall": backend,
            "ports": [p.__dict__ for p in ports]})
        undo.clear()
    except OSError as e:
        raise PluginError(ERR_NETLINK, f"{type(e).__name__}: {e}") from e
    finally:
        for u in reversed(undo):
            try:
                u()
            except Exception:  # noqa: BLE001 - best-effort rollback, the first error wins
                pass
        host.close()
        pod.close()
        os.close(nsfd)
    ipentry: dict[str, Any] = {"address": str(iface), "gateway": str(gw), "interface": 2}
    if _vtuple(conf.version) < (1, 0, 0):
        ipentry = {"version": "4", **ipentry}
    result: dict[str, Any] = {
        "cniVersion": conf.version,
        "interfaces": [{"name": conf.bridge, "mac": br.mac},
                       {"name": veth, "mac": hv.mac},
                       {"name": env.ifname, "mac": cv.mac, "sandbox": env.netns}],
        "ips": [ipentry], "routes": out_routes}
    if dns:
        result["dns"] = dns
    return result


def _release(conf: Conf, env: Env, stdin: bytes, state: dict[str, Any] | None) -> None:
    from . import firewall, ipam

    if conf.delegated_ipam:
        _delegate(conf, env, stdin)
    else:
        store = ipam.Store(conf.data_dir, conf.name)
        with store.locked():
            store.release(env.container_id, env.ifname)
    ports: list[Any] = []
    table = conf.table
    backend = ""
    if state is not None:
        table = state.get("table") or table
        backend = state.get("firewall") or ""
        ports = [firewall.HostPort(**p) for p in state.get("ports") or []]
    else:
        prev = conf.raw.get("prevResult") or {}
        for ipe in prev.get("ips") or []:
            try:
                ports = _port_mappings(conf, str(ipaddress.IPv4Interface(ipe["address"]).ip))
                break
            except (KeyError, ValueError):
                continue
    if ports:
        if not backend:
            backend = _backend(conf)
        if backend == "iptables":
            firewall.ipt_remove_ports(table, ports, _comment(conf, env.container_id, env.ifname))
        else:
            firewall.remove_ports(table, ports)
    try:
        os.unlink(_state_path(conf, env.container_id, env.ifname))
    except FileNotFoundError:
        pass


def cmd_del(conf: Conf, env: Env, stdin: bytes) -> None:
    """Idempotent: a missing netns, interface, lease or rule is success."""
    from . import netlink

    state = _read_state(conf, env.container_id, env.ifname)
    try:
        if env.netns:
            try:
                nsfd = os.open(env.netns, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                nsfd = -1
            if nsfd >= 0:
                try:
                    with netlink.rtnl_in(nsfd) as pod:
                        link = pod.link(env.ifname)
                        if link is not None:
                            try:
                                pod.delete_link(link.index)
                            except OSError as e:
                                if e.errno != errno.ENODEV:
                                    raise
                finally:
                    os.close(nsfd)
        with netlink.RTNL() as host:
            link = host.link(host_veth_name(env.container_id, env.ifname))
            if link is not None:
                try:
                    host.delete_link(link.index)
                except OSError as e:
                    if e.errno != errno.ENODEV:
                        raise
    except OSError as e:
        raise PluginError(ERR_NETLINK, f"failed to delete {env.ifname}", str(e)) from e
    _release(conf, env, stdin, state)


def cmd_check(conf: Conf, env: Env) -> None:
    from . import netlink

    prev = conf.raw.get("prevResult")
    if not isinstance(prev, dict):
        raise PluginError(ERR_INVALID_CONFIG, "CHECK needs a prevResult")
    want = [ipaddress.IPv4Interface(i["address"]) for i in prev.get("ips") or []]
    nsfd = _open_netns(env.netns)
    try:
        with netlink.rtnl_in(nsfd) as pod:
            link = pod.link(env.ifname)
            if link is None:
                raise PluginError(ERR_CHECK, f"interface {env.ifname} not found in {env.netns}")
            if not link.flags & netlink.IFF_UP:
                raise PluginError(ERR_CHECK, f"interface {env.ifname} is down")
            have = {(a.address, a.prefixlen) for a in pod.addrs(link.index)}
            for w in want:
                if (str(w.ip), w.network.prefixlen) not in have:
                    raise PluginError(ERR_CHECK, f"{env.ifname} lacks address {w}")
            routes = {(r.dst, r.dst_len, r.gateway) for r in pod.routes()}
            for r in prev.get("routes") or []:
                dst = ipaddress.IPv4Network(r["dst"])
                if (str(dst.network_address), dst.prefixlen, r.get("gw", "")) not in routes:
                    raise PluginError(ERR_CHECK, f"route {r['dst']} via {r.get('gw')} missing")
    finally:
        os.close(nsfd)
    with netlink.RTNL() as host:
        veth = host.link(host_veth_name(env.container_id, env.ifname))
        br = host.link(conf.bridge)
        if veth is None or br is None or veth.master != br.index:
            raise PluginError(ERR_CHECK, f"host veth of {env.ifname} is not on {conf.bridge}")


def cmd_status(conf: Conf) -> None:
    """Ready when this process could create the bridge and rules, and IPAM has room."""
    from . import firewall, ipam, netlink

    try:
        with netlink.RTNL() as host:
            br = host.link(conf.bridge)
            if br is not None and br.kind != "bridge":
                raise PluginError(ERR_NOT_AVAILABLE, f"{conf.bridge} is not a bridge")
    except OSError as e:
        raise PluginError(ERR_NOT_AVAILABLE, "netlink is not usable", str(e)) from e
    if not os.access("/proc/sys/net/ipv4/ip_forward", os.W_OK):
        raise PluginError(ERR_NOT_AVAILABLE, "not privileged (cannot configure networking)")
    if conf.ip_masq:
        usable = {"nftables": firewall.available, "iptables": firewall.ipt_available}
        if not any(usable[b]() for b in (("nftables", "iptables") if conf.firewall == "auto"
                                         else (conf.firewall,))):
            raise PluginError(ERR_NOT_AVAILABLE, f"no usable firewall ({conf.firewall})")
    if not conf.delegated_ipam:
        try:
            rng = ipam.Range.from_config(conf.ipam)
        except ipam.IPAMError as e:
            raise PluginError(ERR_INVALID_CONFIG, str(e)) from e
        used = len(ipam.Store(conf.data_dir, conf.name).leases())
        size = int(rng.end) - int(rng.start) + 1 - (1 if rng.start <= rng.gateway <= rng.end
                                                     else 0)
        if used >= size:
            raise PluginError(ERR_NOT_AVAILABLE, f"no free address in {rng.subnet}")


def cmd_gc(conf: Conf, env: Env, stdin: bytes) -> None:
    """Release every lease, rule and state of attachments not in cni.dev/valid-attachments."""
    from . import ipam

    valid = {(a.get("containerID"), a.get("ifname"))
             for a in conf.raw.get("cni.dev/valid-attachments") or [] if isinstance(a, dict)}
    stale = {(s["containerID"], s.get("ifname", "")) for s in _states(conf)}
    if not conf.delegated_ipam:
        stale |= {(c, i) for _ip, c, i in ipam.Store(conf.data_dir, conf.name).leases()}
    for cid, ifname in sorted(stale - valid):
        cmd_del(conf, Env("DEL", cid, "", ifname, "", env.path), stdin)


def run(command: str, stdin: bytes) -> dict[str, Any] | None:
    if command == "VERSION":
        try:
            version = json.loads(stdin or b"{}").get("cniVersion", "")
        except (ValueError, AttributeError):
            version = ""
        return {"cniVersion": version if version in SUPPORTED_VERSIONS else "1.1.0",
                "supportedVersions": SUPPORTED_VERSIONS}
    if command not in ("ADD", "DEL", "CHECK", "STATUS", "GC"):
        raise PluginError(ERR_INVALID_ENV, f"unknown CNI_COMMAND {command!r}")
    conf = parse_conf(stdin)
    env = read_env(command)
    if command in ("STATUS", "GC") and _vtuple(conf.version) < (1, 1, 0):
        raise PluginError(ERR_INCOMPATIBLE_VERSION, f"{command} needs cniVersion 1.1.0",
                          f'config is "{conf.version}"')
    if command == "CHECK" and _vtuple(conf.version) < (0, 4, 0):
        raise PluginError(ERR_INCOMPATIBLE_VERSION, "CHECK needs cniVersion 0.4.0")
    if command == "ADD":
        return cmd_add(conf, env, stdin)
    if command == "DEL":
        cmd_del(conf, env, stdin)
    elif command == "CHECK":
        cmd_check(conf, env)
    elif command == "STATUS":
        cmd_status(conf)
    else:
        cmd_gc(conf, env, stdin)
    return None


def main() -> int:
    command = os.environ.get("CNI_COMMAND", "")
    stdin = sys.stdin.buffer.read()
    try:
        result = run(command, stdin)
    except PluginError as e:
        err = {"cniVersion": _version_of(stdin), "code": e.code, "msg": e.msg}
        if e.details:
            err["details"] = e.details
        sys.stdout.write(json.dumps(err) + "\n")
        return 1
    except Exception as e:  # noqa: BLE001 - a CNI plugin answers with JSON, never a traceback
        sys.stdout.write(json.dumps({"cniVersion": _version_of(stdin), "code": ERR_IO,
                                     "msg": f"internal error: {type(e).__name__}",
                                     "details": str(e)}) + "\n")
        return 1
    if result is not None:
        sys.stdout.write(json.dumps(result) + "\n")
    return 0


def _version_of(stdin: bytes) -> str:
    try:
        v = json.loads(stdin).get("cniVersion")
        return v if v in SUPPORTED_VERSIONS else "1.1.0"
    except (ValueError, AttributeError):
        return "1.1.0"
