"""podrun doctor on fake state trees: every kind of leak is found and fixed, a clean state
reports nothing, and a running daemon's young objects are left alone."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest

from podrun.agent.doctor import Doctor, DoctorConfig, Host, format_report
from podrun.network.plugin.main import host_veth_name
from podrun.runtime.cgroups import CgroupManager, FakeCgroupFS

NET = "testnet"
LIVE_UID = str(uuid.UUID(int=1))
GONE_UID = str(uuid.UUID(int=2))


class FakeHost(Host):
    """Processes from a fake /proc, mounts from a fake mountinfo; links, nftables and CNI
    calls act on in-memory tables."""

    def __init__(self, base: Path) -> None:
        super().__init__(proc=base / "proc", mountinfo=base / "mountinfo",
                         sys_net=base / "sysnet", cgroup_fs=FakeCgroupFS(base / "cg"))
        self.base = base
        self.nft_elements: dict[str, list[str]] = {}
        self.ipt: list[str] = []
        self.actions: list[tuple[str, str]] = []
        self.listening: set[str] = set()

    def add_pause(self, pid: int, run_dir: Path) -> None:
        d = self.proc / str(pid)
        d.mkdir(parents=True)
        (d / "cmdline").write_bytes(b"\0".join([b"/opt/podrun/pause", b"--monitor",
                                                b"--run-dir", os.fsencode(run_dir)]) + b"\0")
        os.symlink("/opt/podrun/pause", d / "exe")

    def add_mount(self, point: Path, fstype: str) -> None:
        with open(self.mountinfo, "a") as f:
            f.write(f"99 1 0:99 / {point} rw - {fstype} {fstype} rw\n")

    def add_port(self, bridge: str, name: str) -> None:
        (self.sys_net / bridge / "brif" / name).mkdir(parents=True)

    # reading
    def nft_list_map(self, table: str, name: str) -> str:
        els = self.nft_elements.get(f"{table}/{name}")
        if not els:
            return ""
        return (f"table ip {table} {{\n\tmap {name} {{\n\t\ttype inet_proto . inet_service : "
                f"ipv4_addr . inet_service\n\t\telements = {{ {', '.join(els)} }}\n\t}}\n}}\n")

    def ipt_rules(self, chain: str) -> list[str]:
        return [r for r in self.ipt if r.startswith(f"-A {chain} ")]

    def socket_listening(self, path: Path) -> bool:
        return str(path) in self.listening

    # acting
    def kill_pause(self, pid: int, run_dir: str, timeout: float = 5.0) -> None:
        self.actions.append(("kill", str(pid)))
        d = self.proc / str(pid)
        if d.exists():
            (d / "exe").unlink()
            (d / "cmdline").unlink()
            d.rmdir()

    def umount(self, path: str) -> None:
        self.actions.append(("umount", path))
        lines = self.mountinfo.read_text().splitlines(keepends=True)
        self.mountinfo.write_text("".join(x for x in lines if x.split()[4] != path))

    def link_del(self, name: str) -> None:
        self.actions.append(("link", name))
        for brif in self.sys_net.glob(f"*/brif/{name}"):
            brif.rmdir()

    def nft(self, script: str) -> None:
        self.actions.append(("nft", script.strip()))
        words = script.split()
        table, mapname = words[3], words[4]
        key = script.split("{", 1)[1].rsplit("}", 1)[0].strip()
        self.nft_elements[f"{table}/{mapname}"] = [
            e for e in self.nft_elements.get(f"{table}/{mapname}", [])
            if not e.startswith(key + " :")]

    def ipt_delete(self, chain: str, rule: list[str]) -> None:
        self.actions.append(("ipt", " ".join(rule)))
        self.ipt = [r for r in self.ipt if f"-A {chain} " not in r or
                    "podrun-bridge" not in r or rule[-1] not in r]

    def _plugin_del(self, cid: str) -> None:
        for lease in (self.base / "ipam" / NET).glob("10.*"):
            if lease.read_text().split("\r\n")[0] == cid:
                lease.unlink()
        for st in (self.base / "state" / NET).glob(f"{cid}-*.json"):
            st.unlink()

    def cni_del(self, cni: Any, attachment: Any) -> None:
        self.actions.append(("cnidel", attachment.container_id))
        self._plugin_del(attachment.container_id)
        attachment.path.unlink()

    def cni_del_plain(self, cni: Any, net: Any, container_id: str, ifname: str) -> None:
        self.actions.append(("cnidel-plain", container_id))
        self._plugin_del(container_id)


def _conflist() -> dict[str, Any]:
    return {"cniVersion": "1.1.0", "name": NET, "plugins": [{
        "type": "podrun-bridge", "bridge": "tbr0", "nftTable": "ttab",
        "stateDir": "STATE", "ipam": {"subnet": "10.0.0.0/24", "dataDir": "IPAM"}}]}


class Tree:
    """A podrun root, run dir, CNI dirs and cgroup root with one live pod."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.run = base / "run"
        self.logs = base / "logs"
        self.host = FakeHost(base)
        self.host.proc.mkdir()
        self.host.mountinfo.write_text("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
        self.host.sys_net.mkdir()
        conf = json.loads(json.dumps(_conflist()).replace("STATE", str(base / "state"))
                          .replace("IPAM", str(base / "ipam")))
        self.conf = conf
        (base / "cniconf").mkdir()
        (base / "cniconf" / "10-test.conflist").write_text(json.dumps(conf))
        self.cg = CgroupManager(base / "cg" / "podrun", mountpoint=base / "cg",
                                fs=self.host.cgroup_fs)
        self.cg.setup()
        for d in (self.root / "api" / "pods", self.run / "sandboxes", self.root / "containers",
                  self.root / "pods", self.logs, base / "ipam" / NET, base / "state" / NET):
            d.mkdir(parents=True, exist_ok=True)
        (base / "ipam" / NET / "lock").write_text("")
        (self.root / "daemon.lock").write_text("")
        self.pod("live", LIVE_UID)
        self.sandbox("sb-live", LIVE_UID, ["c-live"], pause_pid=4100, ip="10.0.0.2",
                     hostport=8080)

    def pod(self, name: str, uid: str) -> None:
        d = self.root / "api" / "pods" / "default"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.json").write_text(json.dumps(
            {"metadata": {"name": name, "namespace": "default", "uid": uid}}))
        (self.root / "pods" / uid).mkdir()
        (self.logs / f"default_{name}_{uid}").mkdir()

    def sandbox(self, sid: str, uid: str, containers: list[str], *, pause_pid: int | None,
                ip: str | None, hostport: int | None = None, dir_too: bool = True) -> None:
        d = self.run / "sandboxes" / sid
        if dir_too:
            (d / "configs").mkdir(parents=True)
            (d / "sandbox.json").write_text(json.dumps({"id": sid, "podUID": uid}))
            self.host.add_mount(d / "shm", "tmpfs")
            self.host.add_mount(d / "netns", "nsfs")
            for c in containers:
                (d / "configs" / f"{c}.json").write_text("{}")
        for c in containers:
            (self.root / "containers" / c / "upper").mkdir(parents=True)
        if pause_pid is not None:
            if dir_too:
                (d / "pause.pid").write_text(f"{pause_pid}\n")
            self.host.add_pause(pause_pid, d)
        self.cg.create_pod(uid)
        self.cg.create_sandbox(uid)
        for c in containers:
            self.cg.create_container(uid, c)
        if ip is not None:
            self.attach(sid, ip, hostport)

    def attach(self, sid: str, ip: str, hostport: int | None = None, *,
               cache: bool = True) -> None:
        (self.base / "ipam" / NET / ip).write_text(f"{sid}\r\neth0")
        (self.base / "state" / NET / f"{sid}-eth0.json").write_text(
            json.dumps({"containerID": sid, "ifname": "eth0"}))
        self.host.add_port("tbr0", host_veth_name(sid, "eth0"))
        if hostport:
            self.host.nft_elements.setdefault("ttab/hostports_any", []).append(
                f"tcp . {hostport} : {ip} . 80")
        if cache:
            res = self.root / "cni" / "results"
            res.mkdir(parents=True, exist_ok=True)
            (res / f"{NET}-{sid}-eth0").write_text(json.dumps({
                "kind": "cniCacheV1", "containerId": sid, "ifName": "eth0",
                "networkName": NET, "netns": str(self.run / "sandboxes" / sid / "netns"),
                "config": base64.b64encode(json.dumps(self.conf).encode()).decode(),
                "cniArgs": [], "capabilityArgs": {},
                "result": {"cniVersion": "1.1.0", "ips": [{"address": f"{ip}/24"}]}}))

    def doctor(self, **kw: Any) -> Doctor:
        cfg = DoctorConfig(root=self.root, run_dir=self.run, cgroup_root=self.cg.root,
                           cni_conf_dir=self.base / "cniconf", log_dir=self.logs, **kw)
        return Doctor(cfg, self.host)

    def leak_everything(self) -> None:
        """One of each kind, all of pods that no longer exist."""
        # a sandbox of a deleted pod: pause, shm, pinned netns, cgroups with a process,
        # rootfs, CNI attachment + lease + state + veth + hostPort element
        self.sandbox("sb-dead", GONE_UID, ["c-dead"], pause_pid=4242, ip="10.0.0.3",
                     hostport=9090)
        self.host.cgroup_fs.write(self.cg.container_path(GONE_UID, "c-dead") / "cgroup.procs",
                                  "777")
        # a pause whose sandbox dir is gone
        self.host.add_pause(5000, self.run / "sandboxes" / "sb-vanished")
        # a CNI attachment (cache, lease, veth) whose sandbox dir is gone
        self.attach("sb-gone2", "10.0.0.5")
        # a lease and plugin state of an ADD that never got cached, sandbox gone
        self.attach("sb-x", "10.0.0.4", cache=False)
        # an old container leaf in the live pod, and its rootfs dir
        self.cg.create_container(LIVE_UID, "c-old")
        (self.root / "containers" / "c-old").mkdir()
        # a pod dir with a volume mount, and a log dir, of a deleted pod
        (self.root / "pods" / GONE_UID / "volumes").mkdir(parents=True)
        self.host.add_mount(self.root / "pods" / GONE_UID / "volumes", "tmpfs")
        (self.logs / f"default_gone_{GONE_UID}").mkdir()
        # an iptables hostPort rule of a gone sandbox
        from podrun.network.plugin.firewall import _chains
        self.host.ipt.append(f'-A {_chains("ttab")[0]} -p tcp -m tcp --dport 7070 -m comment --comment '
                             '"podrun-bridge testnet sb-gone2/eth0" -j DNAT --to-destination '
                             '10.0.0.5:80')
        # an unfinished layer unpack
        (self.root / "images" / "snapshots" / "tmp-123").mkdir(parents=True)
        # a stale API socket and a stale lock
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(self.run / "podrun.sock"))
        s.close()
        (self.root / "daemon.lock").write_text("123456\n")


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


def kinds(report: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for lk in report.leaks:
        out.setdefault(lk.kind, set()).add(lk.id)
    return out


def test_clean_state_reports_nothing(tree: Tree) -> None:
    report = tree.doctor().run()
    assert report.leaks == [], format_report(report)
    assert report.exit_code == 0
    assert tree.doctor().run(fix=True).exit_code == 0
    assert tree.host.actions == []


def test_every_kind_of_leak_is_found(tree: Tree) -> None:
    tree.leak_everything()
    report = tree.doctor().run()
    assert report.exit_code == 1
    found = kinds(report)
    sb = tree.run / "sandboxes"
    assert found["process"] == {"4242", "5000", "777"}
    assert found["sandbox"] == {"sb-dead"}
    assert found["mount"] == {str(sb / "sb-dead" / "shm"),
                              str(tree.root / "pods" / GONE_UID / "volumes")}
    assert found["netns"] == {str(sb / "sb-dead" / "netns")}
    assert found["attachment"] == {"sb-dead", "sb-gone2"}
    assert found["lease"] == {f"{NET}/10.0.0.3", f"{NET}/10.0.0.4", f"{NET}/10.0.0.5"}
    assert found["cnistate"] == {f"{NET}/sb-dead-eth0", f"{NET}/sb-gone2-eth0",
                                 f"{NET}/sb-x-eth0"}
    assert found["veth"] == {host_veth_name(s, "eth0") for s in ("sb-dead", "sb-gone2", "sb-x")}
    assert len(found["firewall"]) == 2
    assert "ttab/hostports_any { tcp . 9090 }" in found["firewall"]
    assert any("sb-gone2" in lk.detail for lk in report.leaks if lk.kind == "firewall")
    cg = tree.cg
    assert found["cgroup"] == {str(cg.pod_path(GONE_UID)),
                               str(cg.sandbox_path(GONE_UID)),
                               str(cg.container_path(GONE_UID, "c-dead")),
                               str(cg.container_path(LIVE_UID, "c-old"))}
    assert found["rootfs"] == {"c-dead", "c-old"}
    assert found["poddir"] == {GONE_UID}
    assert found["logs"] == {f"default_gone_{GONE_UID}"}
    assert found["snapshot"] == {"tmp-123"}
    assert found["socket"] == {str(tree.run / "podrun.sock")}
    assert found["lock"] == {str(tree.root / "daemon.lock")}
    # nothing of the live pod
    text = json.dumps(report.to_dict())
    assert "sb-live" not in text and "c-live" not in text and "4100" not in text
    assert host_veth_name("sb-live", "eth0") not in text and "8080" not in text


def test_fix_removes_everything_and_a_second_run_is_clean(tree: Tree) -> None:
    tree.leak_everything()
    report = tree.doctor().run(fix=True)
    assert all(lk.fixed for lk in report.leaks), format_report(report)
    assert report.remaining == [] and report.exit_code == 0, format_report(report)
    again = tree.doctor().run()
    assert again.leaks == [] and again.exit_code == 0
    # processes were ended before the network was torn down, dirs after their mounts
    acts = [a for a, _ in tree.host.actions]
    assert acts.index("kill") < acts.index("cnidel") < acts.index("umount")
    # the live pod is untouched
    assert (tree.run / "sandboxes" / "sb-live" / "sandbox.json").exists()
    assert (tree.root / "containers" / "c-live").exists()
    assert (tree.base / "ipam" / NET / "10.0.0.2").exists()
    assert tree.host.nft_elements["ttab/hostports_any"] == ["tcp . 8080 : 10.0.0.2 . 80"]
    assert tree.cg.container_path(LIVE_UID, "c-live").exists()
    assert (tree.host.proc / "4100").exists()
    assert str(tree.run / "sandboxes" / "sb-live" / "shm") in tree.host.mountinfo.read_text()
    assert not (tree.run / "sandboxes" / "sb-dead").exists()
    assert not tree.cg.pod_path(GONE_UID).exists()
    assert (tree.root / "daemon.lock").read_text() == ""
    assert not (tree.run / "podrun.sock").exists()


def test_a_failed_fix_is_reported_and_exits_1(tree: Tree) -> None:
    tree.leak_everything()

    def broken(name: str) -> None:
        raise OSError("device busy")
    tree.host.link_del = broken  # type: ignore[method-assign]
    # the plugin DEL would have taken the veth too: keep it from doing so
    tree.host._plugin_del = lambda cid: None  # type: ignore[method-assign]
    report = tree.doctor().run(fix=True)
    assert report.exit_code == 1
    failed = [lk for lk in report.leaks if lk.error]
    assert failed and all(lk.kind == "veth" and "device busy" in lk.error for lk in failed)
    assert {lk.kind for lk in report.remaining} >= {"veth"}


def test_cgroups_without_the_marker_are_not_ours(tree: Tree) -> None:
    foreign = tree.cg.root / f"pod{GONE_UID}"
    tree.host.cgroup_fs.mkdir(foreign)  # no marker: someone else's
    assert tree.doctor().run(fix=True).leaks == []
    assert foreign.exists()


def test_pause_of_another_run_dir_is_not_ours(tree: Tree) -> None:
    tree.host.add_pause(6000, tree.base / "other-run" / "sandboxes" / "sb1")
    assert tree.doctor().run().leaks == []


def test_a_running_daemon_keeps_its_young_objects(tree: Tree) -> None:
    tree.leak_everything()
    fd = os.open(tree.root / "daemon.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "the daemon" holds its lock
        report = tree.doctor().run()
        assert report.daemon_running
        assert report.skipped  # every file, dir, cgroup and process is seconds old
        # veths and hostPort elements carry no age: the host is scanned before the state
        # is read, so one the daemon is creating belongs to a sandbox that is listed
        assert {lk.kind for lk in report.leaks} == {"veth", "firewall"}
        # old enough (min age 0): leaks found, but the daemon's socket and lock are its own
        report = tree.doctor(min_age=0).run()
        found = kinds(report)
        assert "socket" not in found and "lock" not in found and "snapshot" not in found
        assert found["sandbox"] == {"sb-dead"}
    finally:
        os.close(fd)


def test_lease_of_a_live_sandbox_without_a_cached_result(tree: Tree) -> None:
    """A daemon killed during the ADD: the sandbox lives on, its lease has no cache entry."""
    tree.sandbox("sb-half", LIVE_UID, [], pause_pid=None, ip=None)
    tree.attach("sb-half", "10.0.0.7", cache=False)
    found = kinds(tree.doctor().run())
    assert found.get("lease") == {f"{NET}/10.0.0.7"}


def test_json_output_shape(tree: Tree) -> None:
    tree.leak_everything()
    d = tree.doctor().run().to_dict()
    assert d["daemonRunning"] is False
    assert {"kind", "id", "detail", "path", "podUID", "fixed"} <= set(d["leaks"][0])


def test_stopped_sandbox_of_a_live_pod_must_not_keep_its_network(tree: Tree) -> None:
    """Pause died (no pid): the record stays for the pod's status, but its attachment,
    lease, veth, hostPort element and pinned netns are leaks (StopPodSandbox's job)."""
    tree.sandbox("sb-stopped", LIVE_UID, ["c-prev"], pause_pid=None, ip="10.0.0.8",
                 hostport=8181)
    found = kinds(tree.doctor().run())
    sb = tree.run / "sandboxes" / "sb-stopped"
    assert found.pop("attachment") == {"sb-stopped"}
    assert found.pop("lease") == {f"{NET}/10.0.0.8"}
    assert found.pop("cnistate") == {f"{NET}/sb-stopped-eth0"}
    assert found.pop("veth") == {host_veth_name("sb-stopped", "eth0")}
    assert found.pop("firewall") == {"ttab/hostports_any { tcp . 8181 }"}
    assert found.pop("netns") == {str(sb / "netns")}
    assert found == {}  # its record, shm, rootfs and cgroups are the pod's to keep
    assert tree.doctor().run(fix=True).exit_code == 0
    assert (sb / "sandbox.json").exists()


def test_cli_audits_the_cgroup_root_the_daemon_recorded(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the systemd units the pods live in podrun-pods.service's subtree: a `podrun
    doctor` from a shell must audit that one (the daemon records it in <root>/cgroup-root),
    and an explicit --cgroup-root still wins."""
    from click.testing import CliRunner

    from podrun import cli_doctor
    from podrun.agent import doctor as doctor_mod
    from podrun.defaults import CGROUP_ROOT_FILE

    seen: list[Path | None] = []

    class Spy(doctor_mod.Doctor):
        def __init__(self, cfg: DoctorConfig) -> None:
            seen.append(cfg.cgroup_root)
            raise SystemExit(0)

    monkeypatch.setattr(doctor_mod, "Doctor", Spy)
    pods_root = "/sys/fs/cgroup/system.slice/podrun-pods.service/pods"
    (tmp_path / CGROUP_ROOT_FILE).write_text(pods_root + "\n")
    args = ["--root", str(tmp_path), "--run-dir", str(tmp_path / "run")]
    CliRunner().invoke(cli_doctor.doctor, args)
    CliRunner().invoke(cli_doctor.doctor, [*args, "--cgroup-root", "/sys/fs/cgroup/x"])
    assert seen == [Path(pods_root), Path("/sys/fs/cgroup/x")]
