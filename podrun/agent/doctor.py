"""`podrun doctor`: audit the host against podrun's on-disk state and report (and with
fix=True remove) what leaked: processes, mounts, pinned netns, veths, IP leases, CNI cache
entries and plugin state, nftables/iptables elements, cgroups, container rootfs dirs, pod
dirs, log dirs, stale sockets and lock files.

What is "alive" comes from the state podrun keeps on disk, the same the daemon adopts at
start:

    <root>/api/pods/<ns>/<name>.json        the store: the pods that exist (their UIDs)
    <run_dir>/sandboxes/<id>/sandbox.json   a sandbox and its pod UID
    <run_dir>/sandboxes/<id>/configs/<cid>.json   a container of that sandbox

A sandbox is live when its pod is in the store; a container when its config is in a live
sandbox; a CNI attachment, lease, veth or hostPort element when it belongs to a live
sandbox. Everything else of podrun's is a leak.

Safety:
- With the daemon running (its flock on <root>/daemon.lock is held) objects younger than
  `min_age` are skipped: the daemon may be creating them right now. The host is scanned
  before the state is read, so anything seen existed before the sandbox/pod listing.
- With the daemon stopped, doctor holds that lock while it works, so no daemon starts
  half-way through a fix.
- Only podrun's objects are touched: pause processes whose --run-dir is below our run dir,
  cgroups below the cgroup root that carry the trusted.podrun.owner marker, veths named
  `pr<hex>` on the bridges of podrun-bridge networks, leases and elements of those
  networks and tables, mounts below the root and run dir.

The host is behind `Host` so unit tests run everything against fake trees.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podrun.runtime.cgroups import CgroupFS, CgroupManager

# Fix order: processes first (nothing holds what follows), the CNI DEL while the pinned
# netns still exists, then the rest, directories last (after their mounts are gone).
KINDS = ("process", "attachment", "lease", "cnistate", "veth", "firewall", "netns", "mount",
         "cgroup", "sandbox", "rootfs", "poddir", "snapshot", "logs", "socket", "lock")
DEFAULT_MIN_AGE = 5.0
# A lease is written at the start of an ADD, the cache entry at its end (the plugin timeout).
CNI_SLACK = 35.0
BRIDGE_PLUGIN = "podrun-bridge"
_VETH = re.compile(r"^pr[0-9a-f]{11}$")
_HOSTPORT_ANY = re.compile(r"(\w+) \. (\d+) : (\d+\.\d+\.\d+\.\d+) \. (\d+)")
_HOSTPORT_IP = re.compile(r"(\w+) \. (\d+\.\d+\.\d+\.\d+) \. (\d+) : (\d+\.\d+\.\d+\.\d+) \. (\d+)")


@dataclass
class Leak:
    kind: str
    id: str
    detail: str
    path: str = ""
    pod_uid: str = ""
    fixed: bool = False
    error: str = ""
    fix: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, "id": self.id, "detail": self.detail, "path": self.path,
             "podUID": self.pod_uid, "fixed": self.fixed}
        if self.error:
            d["error"] = self.error
        return d


@dataclass
class Report:
    daemon_running: bool
    leaks: list[Leak]
    skipped: list[str]  # young objects not judged (daemon running)
    remaining: list[Leak] = field(default_factory=list)  # after fix: what a re-audit found
    fixed_run: bool = False

    @property
    def exit_code(self) -> int:
        if self.fixed_run:
            return 0 if not self.remaining and all(lk.fixed for lk in self.leaks) else 1
        return 1 if self.leaks else 0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"daemonRunning": self.daemon_running,
                             "leaks": [lk.to_dict() for lk in self.leaks],
                             "skippedYoung": self.skipped}
        if self.fixed_run:
            d["remaining"] = [lk.to_dict() for lk in self.remaining]
        return d


# ---- the host seam ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    exe: str
    argv: tuple[str, ...]
    age: float


@dataclass(frozen=True)
class MountInfo:
    point: str
    fstype: str
    source: str


class Host:
    """Everything doctor reads from or does to the kernel (fakes override it)."""

    def __init__(self, proc: Path = Path("/proc"),
                 mountinfo: Path = Path("/proc/self/mountinfo"),
                 sys_net: Path = Path("/sys/class/net"),
                 cgroup_fs: CgroupFS | None = None) -> None:
        self.proc = proc
        self.mountinfo = mountinfo
        self.sys_net = sys_net
        self.cgroup_fs = cgroup_fs or CgroupFS()

    # -- reading --
    def processes(self) -> Iterator[ProcInfo]:
        now = time.time()
        try:
            names = os.listdir(self.proc)
        except OSError:
            return
        for n in names:
            if not n.isdigit():
                continue
            d = self.proc / n
            try:
                argv = tuple(a.decode(errors="surrogateescape")
                             for a in (d / "cmdline").read_bytes().split(b"\0") if a)
            except OSError:
                continue
            if "--monitor" not in argv:  # only pause monitors interest us: cheap filter
                continue
            try:
                exe = os.readlink(d / "exe")
            except OSError:
                exe = argv[0] if argv else ""
            try:
                age = now - d.stat().st_ctime
            except OSError:
                continue
            yield ProcInfo(int(n), exe, argv, age)

    def mounts(self) -> list[MountInfo]:
        out: list[MountInfo] = []
        try:
            text = self.mountinfo.read_text()
        except OSError:
            return out
        for line in text.splitlines():
            left, sep, right = line.partition(" - ")
            fields = left.split()
            if not sep or len(fields) < 5:
                continue
            r = right.split()
            out.append(MountInfo(_unescape(fields[4]), r[0] if r else "",
                                 r[1] if len(r) > 1 else ""))
        return out

    def bridge_ports(self, bridge: str) -> list[str]:
        try:
            return sorted(os.listdir(self.sys_net / bridge / "brif"))
        except OSError:
            return []

    def nft_list_map(self, table: str, name: str) -> str:
        from podrun.network.plugin import firewall
        try:
            return firewall.nft(f"list map ip {table} {name}\n")
        except firewall.FirewallError:
            return ""

    def ipt_rules(self, chain: str) -> list[str]:
        binary = shutil.which("iptables", path="/usr/sbin:/sbin:/usr/bin:/bin")
        if binary is None:
            return []
        p = subprocess.run([binary, "-w", "-t", "nat", "-S", chain], capture_output=True,
                           text=True, check=False)
        return p.stdout.splitlines() if p.returncode == 0 else []

    def socket_listening(self, path: Path) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            try:
                s.connect(str(path))
                return True
            except OSError:
                return False

    # -- acting --
    def kill_pause(self, pid: int, run_dir: str, timeout: float = 5.0) -> None:
        """SIGTERM (pause tears its pod down), SIGKILL after timeout; the pid is pinned by
        a pidfd and must still be the pause of run_dir."""
        from podrun.runtime.pause import PauseHandle, kill_pause
        kill_pause(PauseHandle(pid, Path(run_dir)), timeout=timeout)

    def umount(self, path: str) -> None:
        from podrun.runtime import syscalls
        try:
            syscalls.umount2(path, syscalls.MNT_DETACH)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ENOENT):
                raise

    def link_del(self, name: str) -> None:
        p = subprocess.run(["ip", "link", "del", name], capture_output=True, text=True,
                           check=False)
        if p.returncode != 0 and "Cannot find device" not in p.stderr:
            raise OSError(p.stderr.strip() or f"ip link del {name} failed")

    def nft(self, script: str) -> None:
        from podrun.network.plugin import firewall
        try:
            firewall.nft(script)
        except firewall.FirewallError as e:
            if "No such file" not in str(e):
                raise OSError(str(e)) from e

    def ipt_delete(self, chain: str, rule: list[str]) -> None:
        binary = shutil.which("iptables", path="/usr/sbin:/sbin:/usr/bin:/bin")
        if binary is None:
            raise OSError("iptables is not installed")
        subprocess.run([binary, "-w", "-t", "nat", "-D", chain, *rule], capture_output=True,
                       check=False)

    def cni_del(self, cni: Any, attachment: Any) -> None:
        cni.teardown(attachment.container_id, None, attachment=attachment)

    def cni_del_plain(self, cni: Any, net: NetConf, container_id: str, ifname: str) -> None:
        from podrun.network.cni import _Call, build_plugin_config, cni_args
        call = _Call("DEL", container_id, "", ifname, cni_args("", "", container_id, ""))
        for plugin in reversed(net.conf.plugins):
            cni.runtime.exec_plugin(plugin["type"], call,
                                    build_plugin_config(net.conf, plugin, None, {}),
                                    want_result=False)


def _unescape(s: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


# ---- settings ----------------------------------------------------------------------------


@dataclass
class NetConf:
    """A podrun-bridge network from a conflist (conf dir or a cached attachment)."""

    name: str
    bridge: str
    table: str
    data_dir: Path
    state_dir: Path
    conf: Any  # podrun.network.cni.NetworkConfigList


@dataclass
class DoctorConfig:
    root: Path
    run_dir: Path
    cgroup_root: Path | None = None
    cni_conf_dir: Path | None = None
    cni_bin_dirs: tuple[str, ...] = ()
    log_dir: Path | None = None
    socket: Path | None = None
    min_age: float | None = None  # None: DEFAULT_MIN_AGE with the daemon running, else 0
    cni_timeout: float = 10.0


# ---- the audit ---------------------------------------------------------------------------


class Doctor:
    def __init__(self, cfg: DoctorConfig, host: Host | None = None) -> None:
        self.cfg = cfg
        self.host = host or Host()
        self.root = Path(cfg.root)
        self.run_dir = Path(cfg.run_dir)
        self.sandboxes_dir = self.run_dir / "sandboxes"
        self.socket = Path(cfg.socket) if cfg.socket else self.run_dir / "podrun.sock"
        self._lock_fd: int | None = None
        self.daemon_running = False
        self.cgroups = (CgroupManager(Path(cfg.cgroup_root), fs=self.host.cgroup_fs)
                        if cfg.cgroup_root else None)
        self._cni: Any = None

    # -- the daemon's lock --

    def _take_lock(self) -> None:
        """Hold <root>/daemon.lock if nobody does (no daemon starts meanwhile); a held
        lock means a daemon is running."""
        path = self.root / "daemon.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                self.daemon_running = True
                return
            raise
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def min_age(self) -> float:
        if self.cfg.min_age is not None:
            return self.cfg.min_age
        return DEFAULT_MIN_AGE if self.daemon_running else 0.0

    # -- entry points --

    def run(self, fix: bool = False) -> Report:
        self._take_lock()
        try:
            report = self.audit()
            if fix and report.leaks:
                self.apply_fixes(report.leaks)
                again = self.audit()
                report.remaining = again.leaks
                report.fixed_run = True
            elif fix:
                report.fixed_run = True
            return report
        finally:
            self._release_lock()

    def apply_fixes(self, leaks: list[Leak]) -> None:
        order = {k: i for i, k in enumerate(KINDS)}
        for lk in sorted(leaks, key=lambda x: order.get(x.kind, len(KINDS))):
            if lk.fix is None:
                lk.error = "no automatic fix"
                continue
            try:
                lk.fix()
                lk.fixed = True
            except Exception as e:  # noqa: BLE001 - report it, go on with the rest
                lk.error = str(e) or type(e).__name__

    def audit(self) -> Report:
        """Scan the host first, then read the state: whatever the scan saw existed before
        the sandboxes and pods were listed, so a creation under way is never a leak."""
        skipped: list[str] = []
        procs = list(self.host.processes())
        mounts = self.host.mounts()
        nets = self._networks()
        ports = {n.bridge: self.host.bridge_ports(n.bridge) for n in nets}
        fw = {t: self._firewall(t) for t in sorted({n.table for n in nets})}
        leases = {n.name: self._leases(n) for n in nets}
        states = {n.name: self._cni_states(n) for n in nets}
        attachments = self._attachments()
        cgroups = self._cgroups()
        # the state, newest view last
        sandboxes = self._sandboxes()
        known = self._known_pods()
        live = {sid: sb for sid, sb in sandboxes.items() if sb["podUID"] in known}
        live_containers = {cid for sb in live.values() for cid in sb["containers"]}
        live_pods = {sb["podUID"] for sb in live.values()}

        leaks: list[Leak] = []

        def young(path: Path | None, age: float | None = None, slack: float = 0.0) -> bool:
            limit = self.min_age + (slack if self.min_age > 0 else 0.0)
            if limit <= 0:
                return False
            if age is None:
                age = _age(path) if path is not None else None
            if age is None or age < limit:
                skipped.append(str(path) if path is not None else "?")
                return True
            return False

        # A stopped sandbox (pause gone) of a live pod keeps its record, but its network
        # must be torn down (StopPodSandbox): its attachment, lease, veth, hostPort
        # elements and pinned netns are leaks once it is older than min_age.
        netlive = {sid for sid, sb in live.items()
                   if sb["pid"] is not None or young(sb["dir"])}
        stopped = set(live) - netlive
        # sandboxes (their pause, dir); mounts and netns below
        for sid, sb in sorted(sandboxes.items()):
            if sid in live or young(sb["dir"]):
                continue
            uid = sb["podUID"]
            why = (f"pod {uid} is not in the store" if uid else "no usable sandbox.json")
            pid = sb["pid"]
            if pid is not None:
                leaks.append(Leak("process", str(pid), f"pause of sandbox {sid}: {why}",
                                  str(sb["dir"]), uid,
                                  fix=self._fix_pause(pid, str(sb["dir"]))))
            leaks.append(Leak("sandbox", sid, f"sandbox dir: {why}", str(sb["dir"]), uid,
                              fix=self._fix_dir(sb["dir"])))
        # pause processes found in /proc (also those whose sandbox dir is gone)
        reported = {lk.id for lk in leaks if lk.kind == "process"}
        for p in procs:
            rd = _arg(p.argv, "--run-dir")
            if rd is None or not _pause_exe(p.exe) or str(p.pid) in reported:
                continue
            rdp = Path(os.path.abspath(rd))
            if rdp.parent != self.sandboxes_dir.absolute():
                continue
            if rdp.name in live or young(None, p.age):
                continue
            owner = sandboxes.get(rdp.name)
            leaks.append(Leak("process", str(p.pid),
                              f"pause with run dir {rdp}: its sandbox "
                              f"{'belongs to no known pod' if owner else 'does not exist'}",
                              str(rdp), owner["podUID"] if owner else "",
                              fix=self._fix_pause(p.pid, str(rdp))))
        # mounts below the run dir and the root
        for m in mounts:
            mowner = self._mount_owner(Path(m.point))
            if mowner is None:
                continue
            kind_of, ident, owner_dir = mowner
            kind = "netns" if m.fstype == "nsfs" or (kind_of == "sandbox" and
                                                     Path(m.point).name == "netns") else "mount"
            alive = (ident in live if kind_of == "sandbox" else
                     ident in known if kind_of == "pod" else ident in live_containers)
            if kind == "netns" and ident in stopped:
                leaks.append(Leak(kind, m.point, f"pinned netns of stopped sandbox {ident} "
                                  "(pause gone): never unpinned", m.point,
                                  fix=self._fix_umount(m.point)))
                continue
            if alive or young(owner_dir):
                continue
            leaks.append(Leak(kind, m.point, f"{m.fstype} mount of {kind_of} {ident}, which "
                              f"is gone", m.point, fix=self._fix_umount(m.point)))
        # CNI: cached attachments, leases, plugin state, veths, hostPort elements
        live_ifaces = {(a.container_id, a.ifname) for a in attachments
                       if a.container_id in netlive}
        for a in attachments:
            if a.container_id in netlive or young(a.path):
                continue
            why = ("is stopped (pause gone) but was never torn down"
                   if a.container_id in stopped else "belongs to no known pod"
                   if a.container_id in sandboxes else "does not exist")
            leaks.append(Leak("attachment", a.container_id,
                              f"cached CNI result of network {a.network} ({a.ifname}, "
                              f"{_ips(a.result)}) for a sandbox that {why}",
                              str(a.path), fix=self._fix_attachment(a)))
        cached = {(a.container_id, a.ifname) for a in attachments}
        live_ips: set[str] = set()
        for a in attachments:
            if a.container_id in netlive:
                live_ips.update(_ips(a.result))
        for n in nets:
            for ip, cid, ifname, path in leases[n.name]:
                if cid in netlive:
                    live_ips.add(ip)
                    if (cid, ifname) in cached:
                        continue
                if young(path, slack=CNI_SLACK):
                    continue
                why = ("no cached attachment" if (cid, ifname) not in cached
                       else "its sandbox is gone")
                if cid in netlive:
                    why = "no cached attachment (an ADD that never finished)"
                elif cid in stopped:
                    why = "its sandbox is stopped but was never torn down"
                leaks.append(Leak("lease", f"{n.name}/{ip}", f"IP lease of {cid}/{ifname}: "
                                  f"{why}", str(path), fix=self._fix_lease(n, ip, cid, ifname)))
            for cid, ifname, path in states[n.name]:
                if cid in netlive or young(path, slack=CNI_SLACK):
                    continue
                leaks.append(Leak("cnistate", f"{n.name}/{cid}-{ifname}",
                                  "podrun-bridge attachment state of a sandbox that is gone",
                                  str(path), fix=self._fix_cnistate(n, cid, ifname, path)))
        from podrun.network.plugin.main import host_veth_name
        expected = {host_veth_name(cid, i) for cid, i in live_ifaces}
        expected |= {host_veth_name(sid, "eth0") for sid in netlive}
        for n in nets:
            for port in ports.get(n.bridge, []):
                if _VETH.match(port) and port not in expected:
                    leaks.append(Leak("veth", port, f"on bridge {n.bridge}, no live sandbox "
                                      "owns it", fix=self._fix_link(port)))
        for table, (elements, rules) in fw.items():
            for mapname, key, pod_ip in elements:
                if pod_ip not in live_ips:
                    leaks.append(Leak("firewall", f"{table}/{mapname} {{ {key} }}",
                                      f"hostPort element to {pod_ip}, which no live sandbox "
                                      "holds", fix=self._fix_nft(table, mapname, key)))
            for chain, rule, cid in rules:
                if cid not in netlive:
                    leaks.append(Leak("firewall", f"{chain}: {' '.join(rule)}",
                                      f"iptables hostPort rule of sandbox {cid}, which is gone",
                                      fix=self._fix_ipt(chain, rule)))
        # cgroups
        for path, cg_uid, leaf, procs_in in cgroups:
            if leaf is None:
                alive = cg_uid in live_pods
            else:
                alive = cg_uid in live_pods and (leaf == "sandbox" or leaf in live_containers)
            if alive or young(path):
                continue
            what = f"pod {cg_uid}" if leaf is None else f"container {leaf} of pod {cg_uid}"
            leaks.append(Leak("cgroup", str(path), f"cgroup of {what}, which has no live "
                              "sandbox", str(path), cg_uid, fix=self._fix_cgroup(path)))
            for pid in procs_in:
                if any(lk.kind == "process" and lk.id == str(pid) for lk in leaks):
                    continue  # a pause already reported (its sandbox cgroup)
                leaks.append(Leak("process", str(pid), f"in leaked cgroup {path}", str(path),
                                  cg_uid, fix=self._fix_cgroup_kill(path)))
        # container rootfs dirs, pod dirs, image snapshot temporaries, log dirs
        for d in _subdirs(self.root / "containers"):
            if d.name in live_containers or young(d):
                continue
            leaks.append(Leak("rootfs", d.name, "overlay dirs of a container that no live "
                              "sandbox has", str(d), fix=self._fix_dir(d)))
        for d in _subdirs(self.root / "pods"):
            if d.name in known or young(d):
                continue
            leaks.append(Leak("poddir", d.name, "pod files/volumes of a pod not in the store",
                              str(d), d.name, fix=self._fix_dir(d)))
        if not self.daemon_running:  # a running image store owns its temporaries
            for d in _subdirs(self.root / "images" / "snapshots"):
                if d.name.startswith("tmp-") and not young(d):
                    leaks.append(Leak("snapshot", d.name, "unfinished layer unpack or removal",
                                      str(d), fix=self._fix_dir(d)))
        if self.cfg.log_dir is not None:
            for d in _subdirs(Path(self.cfg.log_dir)):
                parts = d.name.split("_")
                if len(parts) < 3 or not _looks_like_uid(parts[-1]):
                    continue
                if parts[-1] in known or young(d):
                    continue
                leaks.append(Leak("logs", d.name, "log dir of a pod not in the store", str(d),
                                  parts[-1], fix=self._fix_dir(d)))
        # the daemon's socket and lock
        if not self.daemon_running:
            if _is_socket(self.socket) and not self.host.socket_listening(self.socket):
                leaks.append(Leak("socket", str(self.socket), "API socket with no daemon "
                                  "listening", str(self.socket), fix=self._fix_unlink(self.socket)))
            lock = self.root / "daemon.lock"
            holder = _read(lock).strip()
            if holder:
                leaks.append(Leak("lock", str(lock), f"names daemon pid {holder}, which holds "
                                  "no lock any more", str(lock), fix=self._fix_truncate(lock)))
        return Report(self.daemon_running, leaks, skipped)

    # -- reading the state --

    def _known_pods(self) -> set[str]:
        out: set[str] = set()
        for f in (self.root / "api" / "pods").glob("*/*.json"):
            try:
                uid = json.loads(f.read_bytes())["metadata"]["uid"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if isinstance(uid, str) and uid:
                out.add(uid)
        return out

    def _sandboxes(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for d in _subdirs(self.sandboxes_dir):
            try:
                rec = json.loads((d / "sandbox.json").read_bytes())
                uid = str(rec.get("podUID") or "")
            except (OSError, ValueError, AttributeError):
                uid = ""
            containers = {p.stem for p in (d / "configs").glob("*.json")}
            out[d.name] = {"dir": d, "podUID": uid, "containers": containers,
                           "pid": self._pause_pid(d)}
        return out

    def _pause_pid(self, d: Path) -> int | None:
        try:
            pid = int((d / "pause.pid").read_text())
        except (OSError, ValueError):
            return None
        try:
            argv = (self.host.proc / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        want = os.fsencode(os.path.abspath(d))
        for a, b in zip(argv, argv[1:], strict=False):
            if a == b"--run-dir" and os.path.abspath(b) == want:
                return pid
        return None

    def _mount_owner(self, point: Path) -> tuple[str, str, Path] | None:
        """(sandbox|pod|container, id, owner dir) for a mount below our dirs."""
        for base, kind in ((self.sandboxes_dir, "sandbox"), (self.root / "pods", "pod"),
                           (self.root / "containers", "container")):
            try:
                rel = point.relative_to(base)
            except ValueError:
                continue
            if rel.parts:
                return kind, rel.parts[0], base / rel.parts[0]
        return None

    def _networks(self) -> list[NetConf]:
        """podrun-bridge networks of the conf dir and of the cache (a changed conf dir does
        not hide what an older config left)."""
        from podrun.network.cni import CNIError, conf_files, parse_conf_list
        confs = []
        if self.cfg.cni_conf_dir is not None:
            for f in conf_files(self.cfg.cni_conf_dir):
                try:
                    confs.append(parse_conf_list(f.read_bytes(), str(f)))
                except (CNIError, OSError):
                    continue
        for a in self._attachments():
            with contextlib.suppress(CNIError, ValueError):
                confs.append(parse_conf_list(a.config, str(a.path)))
        out: dict[tuple[str, str, str], NetConf] = {}
        for c in confs:
            for p in c.plugins:
                if p.get("type") != BRIDGE_PLUGIN:
                    continue
                ipam = p.get("ipam") or {}
                n = NetConf(c.name, str(p.get("bridge") or "podrun0"),
                            str(p.get("nftTable") or "podrun"),
                            Path(ipam.get("dataDir") or "/var/lib/cni/networks"),
                            Path(p.get("stateDir") or "/var/lib/cni/podrun-bridge"), c)
                out.setdefault((n.name, n.bridge, str(n.data_dir)), n)
        return list(out.values())

    def _cni_manager(self) -> Any:
        if self._cni is None:
            from podrun.network.cni import NetworkManager, shipped_cni_dir
            bins = [*self.cfg.cni_bin_dirs]
            shipped = shipped_cni_dir()
            bins += [str(shipped)] if shipped else []
            bins += ["/usr/lib/cni", "/opt/cni/bin"]
            self._cni = NetworkManager(self.cfg.cni_conf_dir or (shipped or "/etc/cni/net.d"),
                                       bins, self.root / "cni", timeout=self.cfg.cni_timeout)
        return self._cni

    def _attachments(self) -> list[Any]:
        return list(self._cni_manager().cached_attachments())

    def _leases(self, n: NetConf) -> list[tuple[str, str, str, Path]]:
        d = n.data_dir / n.name
        out = []
        for f in _files(d):
            if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", f.name):
                continue
            cid, _, ifname = _read(f).partition("\r\n")
            out.append((f.name, cid.strip(), ifname.strip(), f))
        return out

    def _cni_states(self, n: NetConf) -> list[tuple[str, str, Path]]:
        out = []
        for f in _files(n.state_dir / n.name):
            if not f.name.endswith(".json"):
                continue
            try:
                doc = json.loads(f.read_bytes())
                out.append((str(doc["containerID"]), str(doc.get("ifname") or
                                                         f.stem.rsplit("-", 1)[-1]), f))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return out

    def _firewall(self, table: str) -> tuple[list[tuple[str, str, str]],
                                             list[tuple[str, list[str], str]]]:
        elements = []
        for line in _elements_text(self.host.nft_list_map(table, "hostports_any")):
            for e in _HOSTPORT_ANY.finditer(line):
                elements.append(("hostports_any", f"{e.group(1)} . {e.group(2)}", e.group(3)))
        for line in _elements_text(self.host.nft_list_map(table, "hostports_ip")):
            for e in _HOSTPORT_IP.finditer(line):
                elements.append(("hostports_ip", f"{e.group(1)} . {e.group(2)} . {e.group(3)}",
                                 e.group(4)))
        from podrun.network.plugin.firewall import _chains
        hp, _ = _chains(table)
        rules = []
        for line in self.host.ipt_rules(hp):
            m: re.Match[str] | None = re.search(r'--comment "?podrun-bridge \S+ ([^/\s"]+)/', line)
            if not line.startswith("-A ") or m is None:
                continue
            rule = _split_rule(line)[2:]
            rules.append((hp, rule, m.group(1)))
        return elements, rules

    def _cgroups(self) -> list[tuple[Path, str, str | None, list[int]]]:
        """(path, pod uid, container id or None for the pod cgroup, pids inside)."""
        cg = self.cgroups
        if cg is None or not cg.fs.is_dir(cg.root):
            return []
        out: list[tuple[Path, str, str | None, list[int]]] = []
        for pod in cg.fs.subdirs(cg.root):
            if not pod.name.startswith("pod") or cg.fs.has_marker(pod) is not True:
                continue
            uid = pod.name[3:]
            out.append((pod, uid, None, _quiet_procs(cg, pod)))
            for leaf in cg.fs.subdirs(pod):
                if cg.fs.has_marker(leaf) is True:
                    out.append((leaf, uid, leaf.name, _quiet_procs(cg, leaf)))
        return out

    # -- fixes (each idempotent: an earlier fix may have done it already) --

    def _fix_pause(self, pid: int, run_dir: str) -> Callable[[], None]:
        return lambda: self.host.kill_pause(pid, run_dir)

    def _fix_umount(self, point: str) -> Callable[[], None]:
        return lambda: self.host.umount(point)

    def _fix_dir(self, d: Path) -> Callable[[], None]:
        def fix() -> None:
            # whatever is still mounted below goes first (deepest first)
            below = [m.point for m in self.host.mounts()
                     if m.point == str(d) or m.point.startswith(str(d) + "/")]
            for point in sorted(below, key=len, reverse=True):
                self.host.umount(point)
            if d.is_dir() and not d.is_symlink():
                shutil.rmtree(d)
            elif d.exists():
                d.unlink()
        return fix

    def _fix_attachment(self, a: Any) -> Callable[[], None]:
        def fix() -> None:
            if a.path.exists():
                self.host.cni_del(self._cni_manager(), a)
        return fix

    def _fix_lease(self, n: NetConf, ip: str, cid: str, ifname: str) -> Callable[[], None]:
        def fix() -> None:
            path = n.data_dir / n.name / ip
            if not path.exists():
                return
            with contextlib.suppress(Exception):  # the plugin's DEL also drops ports, state
                self.host.cni_del_plain(self._cni_manager(), n, cid, ifname)
            with _flocked(n.data_dir / n.name / "lock"):
                if _read(path).partition("\r\n")[0].strip() == cid:
                    path.unlink(missing_ok=True)
        return fix

    def _fix_cnistate(self, n: NetConf, cid: str, ifname: str, path: Path) -> Callable[[], None]:
        def fix() -> None:
            if not path.exists():
                return
            with contextlib.suppress(Exception):
                self.host.cni_del_plain(self._cni_manager(), n, cid, ifname)
            path.unlink(missing_ok=True)
        return fix

    def _fix_link(self, name: str) -> Callable[[], None]:
        return lambda: self.host.link_del(name)

    def _fix_nft(self, table: str, mapname: str, key: str) -> Callable[[], None]:
        return lambda: self.host.nft(f"delete element ip {table} {mapname} {{ {key} }}\n")

    def _fix_ipt(self, chain: str, rule: list[str]) -> Callable[[], None]:
        return lambda: self.host.ipt_delete(chain, rule)

    def _fix_cgroup_kill(self, path: Path) -> Callable[[], None]:
        def fix() -> None:
            assert self.cgroups is not None
            self.cgroups.kill(path)
        return fix

    def _fix_cgroup(self, path: Path) -> Callable[[], None]:
        def fix() -> None:
            assert self.cgroups is not None
            self.cgroups.kill(path)
            self.cgroups.remove(path)
        return fix

    def _fix_unlink(self, path: Path) -> Callable[[], None]:
        return lambda: path.unlink(missing_ok=True)

    def _fix_truncate(self, path: Path) -> Callable[[], None]:
        def fix() -> None:
            # only while we hold the lock: a daemon's own file is never touched
            if self._lock_fd is None:
                raise OSError("the lock is held by a daemon now; left alone")
            os.ftruncate(self._lock_fd, 0)
        return fix


# ---- helpers -----------------------------------------------------------------------------


def _age(path: Path) -> float | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return time.time() - max(st.st_mtime, st.st_ctime)


def _subdirs(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def _files(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if p.is_file())
    except OSError:
        return []


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _is_socket(path: Path) -> bool:
    import stat
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def _arg(argv: Iterable[str], flag: str) -> str | None:
    args = list(argv)
    for a, b in zip(args, args[1:], strict=False):
        if a == flag:
            return b
    return None


def _pause_exe(exe: str) -> bool:
    name = os.path.basename(exe.removesuffix(" (deleted)"))
    return name == "pause" or name.startswith("pause")


def _ips(result: Any) -> list[str]:
    out = []
    for ip in (result or {}).get("ips") or []:
        addr = str(ip.get("address", "")) if isinstance(ip, dict) else ""
        if addr:
            out.append(addr.split("/")[0])
    return out


def _looks_like_uid(s: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-fA-F-]{8,64}", s))


def _elements_text(text: str) -> list[str]:
    """The `elements = { ... }` part of an nft map listing, as lines."""
    i = text.find("elements")
    if i < 0:
        return []
    j = text.find("}", i)
    return [text[i:j if j > 0 else None].replace("\n", " ")]


def _split_rule(line: str) -> list[str]:
    import shlex
    return shlex.split(line)


def _quiet_procs(cg: CgroupManager, path: Path) -> list[int]:
    try:
        return cg.procs(path)
    except Exception:  # noqa: BLE001
        return []


@contextlib.contextmanager
def _flocked(path: Path) -> Iterator[None]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def format_report(report: Report) -> str:
    lines = []
    state = "running" if report.daemon_running else "stopped"
    if not report.leaks:
        lines.append(f"no leaks found (daemon {state})")
    else:
        lines.append(f"{'KIND':<11} {'STATUS':<8} ID / DETAIL")
        for lk in report.leaks:
            status = ("fixed" if lk.fixed else "FAILED" if lk.error else "leaked")
            lines.append(f"{lk.kind:<11} {status:<8} {lk.id}: {lk.detail}"
                         + (f" ({lk.error})" if lk.error else ""))
        lines.append(f"{len(report.leaks)} leak(s) found (daemon {state})")
    if report.fixed_run and report.remaining:
        lines.append(f"{len(report.remaining)} leak(s) remain after --fix:")
        lines += [f"  {lk.kind}: {lk.id}: {lk.detail}" for lk in report.remaining]
    if report.skipped:
        lines.append(f"{len(report.skipped)} object(s) younger than the minimum age were "
                     "not judged (the daemon may be creating them)")
    return "\n".join(lines)


__all__ = ["Doctor", "DoctorConfig", "Host", "Leak", "MountInfo", "ProcInfo", "Report",
           "format_report"]
