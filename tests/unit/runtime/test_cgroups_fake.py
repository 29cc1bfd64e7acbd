"""CgroupManager against FakeCgroupFS: layout, translation to file writes, reports, kill,
removal rules, host detection. No root needed."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from podrun.clock import FakeClock
from podrun.core.resources import (
    ContainerResources,
    PodResources,
    container_cgroup_values,
    pod_cgroup_values,
)
from podrun.errors import HostError
from podrun.runtime.cgroups import (
    CgroupHost,
    CgroupManager,
    FakeCgroupFS,
    Layout,
    UnitCgroup,
    cgroup2_mounts,
    describe_not_enforced,
    detect_host,
    enter_delegated_subtree,
    enter_pods_unit,
    own_cgroup_path,
    systemd_pods_root,
)

UID = "1234-abcd"


def manager(tmp_path: Path, controllers: tuple[str, ...] = ("cpu", "memory", "pids"),
            *, layout: Layout = Layout.UNIFIED, kill_file: bool = True,
            subtree: tuple[str, ...] | None = None) -> tuple[CgroupManager, FakeCgroupFS]:
    mount = tmp_path / "cgroup"
    fs = FakeCgroupFS(mount, controllers, kill_file=kill_file,
                      subtree_control=controllers if subtree is None else subtree)
    m = CgroupManager(mount / "podrun", mountpoint=mount, layout=layout, fs=fs,
                      clock=FakeClock())
    return m, fs


def test_setup_creates_root_and_enables_controllers(tmp_path: Path) -> None:
    m, fs = manager(tmp_path)
    assert m.setup() == {"cpu", "memory", "pids"}
    assert m.created_root and fs.has_marker(m.root)
    assert (m.root / "cgroup.subtree_control").read_text().split() == ["cpu", "memory", "pids"]


def test_pod_and_container_values_written(tmp_path: Path) -> None:
    m, fs = manager(tmp_path)
    m.setup()
    pod = PodResources([ContainerResources("c", {"cpu": "250m"}, {"cpu": "500m", "memory": "64Mi"})])
    ppath, ne = m.create_pod(UID, pod_cgroup_values(pod))
    assert ne == []
    assert ppath == m.root / f"pod{UID}"
    assert (ppath / "cpu.max").read_text() == "50000 100000\n"
    assert (ppath / "memory.max").read_text() == "67108864\n"
    assert (ppath / "pids.max").read_text() == "max\n"
    cpath, ne = m.create_container(UID, "c1", container_cgroup_values({"cpu": "250m"}, {}))
    assert ne == []
    assert (cpath / "cpu.weight").read_text() == "35\n"
    assert (cpath / "memory.swap.max").read_text() == "0\n"
    assert m.create_sandbox(UID) == ppath / "sandbox"
    assert sorted(p.name for p in fs.subdirs(ppath)) == ["c1", "sandbox"]


def test_hybrid_host_reports_every_limit(tmp_path: Path) -> None:
    # like this build machine: cgroup2 at .../unified with hugetlb only
    m, _ = manager(tmp_path, ("hugetlb",), layout=Layout.HYBRID)
    assert m.setup() == set()
    m.create_pod(UID)
    _, ne = m.create_container(UID, "c1", container_cgroup_values({"cpu": "2"}, {"memory": "1Gi"}))
    lines = [str(n) for n in ne]
    assert lines == [
        f"cpu.weight not enforced: the cpu controller is not available in the cgroup v2 "
        f"hierarchy at {m.mountpoint} (hybrid host)",
        f"memory.max not enforced: the memory controller is not available in the cgroup v2 "
        f"hierarchy at {m.mountpoint} (hybrid host)",
    ]
    # memory.swap.max is skipped quietly, as the kubelet does without a swap controller
    # cpu.max "max 100000" restricts nothing, so it is not reported
    assert all(n.file != "cpu.max" for n in ne)
    assert describe_not_enforced(ne + ne)[0].startswith("cpu.weight=174 not enforced")


def test_parent_not_delegating_is_reported_not_changed(tmp_path: Path) -> None:
    # memory exists in the hierarchy but the parent does not enable it for our root
    m, fs = manager(tmp_path, subtree=("cpu", "pids"))
    m.setup()
    _, ne = m.create_pod(UID, {"memory.max": "1000"})
    assert len(ne) == 1 and "does not list it in cgroup.subtree_control" in ne[0].reason
    assert (m.mountpoint / "cgroup.subtree_control").read_text().split() == ["cpu", "pids"]
    assert all(p.parent != m.mountpoint or p.name != "cgroup.subtree_control"
               for p, _ in fs.writes)


def test_write_failure_is_reported(tmp_path: Path) -> None:
    m, _ = manager(tmp_path)
    m.setup()
    path, _ = m.create_pod(UID)
    (path / "memory.swap.max").unlink()  # kernel without swap accounting: quiet
    assert m.apply(path, {"memory.swap.max": "0"}) == []
    (path / "pids.max").unlink()
    ne = m.apply(path, {"pids.max": "100"})
    assert ne[0].reason.startswith("the kernel does not offer pids.max")


def test_stats_and_oom(tmp_path: Path) -> None:
    m, fs = manager(tmp_path)
    m.setup()
    m.create_pod(UID)
    cpath, _ = m.create_container(UID, "c1")
    assert m.oom_kill_count(cpath) == 0
    fs.set_memory_event(cpath, "oom_kill", 2)
    assert m.oom_kill_count(cpath) == 2
    assert m.cpu_stat(cpath)["usage_usec"] == 0
    hybrid, _ = manager(tmp_path / "h", ("hugetlb",), layout=Layout.HYBRID)
    hybrid.setup()
    hybrid.create_pod(UID)
    hpath, _ = hybrid.create_container(UID, "c1")
    assert hybrid.oom_kill_count(hpath) is None


def test_kill_with_cgroup_kill(tmp_path: Path) -> None:
    m, fs = manager(tmp_path)
    m.setup()
    m.create_pod(UID)
    cpath, _ = m.create_container(UID, "c1")
    m.add_process(cpath, 101)
    m.add_process(cpath, 102)
    assert m.procs(cpath) == [101, 102] and m.populated(m.pod_path(UID))
    m.kill(m.pod_path(UID))
    assert m.procs(m.pod_path(UID), recursive=True) == []
    assert any(p.name == "cgroup.kill" for p, _ in fs.writes)
    assert not m.populated(m.pod_path(UID))


def test_kill_fallback_freezes_and_signals_each_pid(tmp_path: Path) -> None:
    m, fs = manager(tmp_path, kill_file=False)
    m.setup()
    m.create_pod(UID)
    cpath, _ = m.create_container(UID, "c1")
    sand = m.create_sandbox(UID)
    m.add_process(cpath, 201)
    m.add_process(sand, 202)
    m.kill(m.pod_path(UID))
    assert sorted(fs.signals) == [(201, signal.SIGKILL), (202, signal.SIGKILL)]
    frozen_writes = [d for p, d in fs.writes if p.name == "cgroup.freeze"]
    assert frozen_writes[0] == "1" and frozen_writes[-1] == "0"


def test_kill_gives_up_on_a_survivor(tmp_path: Path) -> None:
    m, fs = manager(tmp_path, kill_file=False)
    m.setup()
    m.create_pod(UID)
    cpath, _ = m.create_container(UID, "c1")
    m.add_process(cpath, 301)
    fs.immortal.add(301)
    with pytest.raises(HostError, match="survived SIGKILL"):
        m.kill(cpath, timeout=1.0)


def test_remove_leaves_first_and_only_ours(tmp_path: Path) -> None:
    m, fs = manager(tmp_path)
    m.setup()
    m.create_pod(UID)
    m.create_container(UID, "c1")
    m.create_sandbox(UID)
    nested = m.container_path(UID, "c1") / "inner"  # made by the container itself
    fs.mkdir(nested)
    m.remove_pod(UID)
    assert not m.pod_path(UID).exists()
    m.remove_root()
    assert not m.root.exists()


def test_remove_refuses_foreign_cgroups(tmp_path: Path) -> None:
    m, fs = manager(tmp_path)
    m.setup()
    foreign = m.root / "podforeign"
    fs.mkdir(foreign)  # not created through the manager: no marker
    with pytest.raises(HostError, match="did not create"):
        m.remove(foreign)
    outside = m.mountpoint / "system.slice"
    fs.mkdir(outside)
    with pytest.raises(HostError, match="outside podrun's root"):
        m.remove(outside)
    with pytest.raises(HostError, match="outside podrun's root"):
        m.remove(m.root / ".." / "system.slice")
    assert foreign.exists() and outside.exists()


def test_remove_busy_cgroup_fails_after_retries(tmp_path: Path) -> None:
    m, _ = manager(tmp_path)
    m.setup()
    m.create_pod(UID)
    cpath, _ = m.create_container(UID, "c1")
    m.add_process(cpath, 401)
    with pytest.raises(HostError, match="EBUSY"):
        m.remove(cpath, timeout=0.5)


def test_root_we_did_not_create_is_kept(tmp_path: Path) -> None:
    m, fs = manager(tmp_path)
    fs.mkdir(m.root)  # an existing --cgroup-root
    m.setup()
    assert not m.created_root
    m.remove_root()
    assert m.root.exists()


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "cpu.max", "-x", "a" * 300])
def test_names_are_checked(tmp_path: Path, bad: str) -> None:
    m, _ = manager(tmp_path)
    with pytest.raises(HostError, match="invalid"):
        m.container_path(UID, bad)


def test_sandbox_name_reserved(tmp_path: Path) -> None:
    m, _ = manager(tmp_path)
    with pytest.raises(HostError, match="reserved"):
        m.container_path(UID, "sandbox")


def test_list_pods(tmp_path: Path) -> None:
    m, _ = manager(tmp_path)
    m.setup()
    m.create_pod("a1")
    m.create_pod("b2")
    assert m.list_pods() == ["a1", "b2"]


MOUNTINFO_UNIFIED = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
MOUNTINFO_HYBRID = (
    "25 24 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    "27 25 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
)
MOUNTINFO_V1 = "27 25 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"


@pytest.mark.parametrize("text,layout,root", [
    (MOUNTINFO_UNIFIED, Layout.UNIFIED, Path("/sys/fs/cgroup/podrun")),
    (MOUNTINFO_HYBRID, Layout.HYBRID, Path("/sys/fs/cgroup/unified/podrun")),
    (MOUNTINFO_V1, Layout.NONE, None),
])
def test_detect_layout(tmp_path: Path, text: str, layout: Layout, root: Path | None) -> None:
    (tmp_path / "mountinfo").write_text(text)
    (tmp_path / "cgroup").write_text("0::/user.slice/session-1.scope\n")
    host = detect_host(mountinfo=tmp_path / "mountinfo", proc_cgroup=tmp_path / "cgroup",
                       environ={}, pid=1, systemd_dir=tmp_path / "nosystemd")
    assert host.layout is layout
    assert host.default_root() == root
    assert not host.delegated


def test_no_v2_is_a_clear_error() -> None:
    with pytest.raises(HostError, match="no cgroup v2 hierarchy"):
        CgroupManager.for_host(CgroupHost(Layout.NONE, None))


def test_parsers() -> None:
    assert cgroup2_mounts(MOUNTINFO_HYBRID) == [Path("/sys/fs/cgroup/unified")]
    assert own_cgroup_path("12:pids:/\n0::/system.slice/podrun.service\n") == \
        "/system.slice/podrun.service"
    assert own_cgroup_path("4:memory:/x\n") is None


def test_delegated_subtree(tmp_path: Path) -> None:
    mount = tmp_path / "cgroup"
    fs = FakeCgroupFS(mount, ("cpu", "memory", "pids"), subtree_control=("cpu", "memory", "pids"))
    fs.mkdir(mount / "system.slice")
    fs.write(mount / "system.slice" / "cgroup.subtree_control", "+cpu +memory +pids")
    unit = mount / "system.slice" / "podrun.service"
    fs.mkdir(unit)
    fs.write(unit / "cgroup.procs", "4242")
    host = CgroupHost(Layout.UNIFIED, mount, "/system.slice/podrun.service", delegated=True)
    assert host.default_root() == unit / "pods"
    pods_root = enter_delegated_subtree(host, fs)
    assert pods_root == unit / "pods"
    assert (unit / "daemon" / "cgroup.procs").read_text().split() == ["4242"]
    assert (unit / "cgroup.procs").read_text().split() == []
    m = CgroupManager(pods_root, mountpoint=mount, fs=fs, clock=FakeClock())
    assert m.setup() == {"cpu", "memory", "pids"}
    with pytest.raises(HostError, match="not running in a delegated"):
        enter_delegated_subtree(CgroupHost(Layout.UNIFIED, mount, "/"), fs)


def _pods_unit(tmp_path: Path) -> tuple[Path, Path, FakeCgroupFS]:
    """A fake v2 tree with system.slice/podrun-pods.service holding the holder, pid 77."""
    mount = tmp_path / "cgroup"
    fs = FakeCgroupFS(mount, ("cpu", "memory", "pids"), subtree_control=("cpu", "memory", "pids"))
    fs.mkdir(mount / "system.slice")
    fs.write(mount / "system.slice" / "cgroup.subtree_control", "+cpu +memory +pids")
    for unit in ("podrun.service", "podrun-pods.service"):
        fs.mkdir(mount / "system.slice" / unit)
    fs.write(mount / "system.slice" / "podrun-pods.service" / "cgroup.procs", "77")
    return mount, mount / "system.slice" / "podrun-pods.service", fs


def _show(state: str = "active", delegate: bool = True) -> UnitCgroup:
    cg = "/system.slice/podrun-pods.service" if state == "active" else ""
    return UnitCgroup("podrun-pods.service", cg, delegate, state)


def test_pods_unit_holds_the_pods_outside_the_daemons_unit(tmp_path: Path) -> None:
    """The shipped units: the holder leaves the pods unit's cgroup for a leaf, which then
    passes cpu, memory and pids to <unit>/pods; the daemon's own unit gets no controllers,
    so systemd can start a new daemon in it while pods run (no 219/CGROUP)."""
    mount, unit, fs = _pods_unit(tmp_path)
    host = CgroupHost(Layout.UNIFIED, mount, "/system.slice/podrun.service")
    root = enter_pods_unit(host, "podrun-pods.service", fs=fs, show=lambda u: _show())
    assert root == unit / "pods"
    assert (unit / "holder" / "cgroup.procs").read_text().split() == ["77"]
    assert (unit / "cgroup.procs").read_text().split() == []
    assert (unit / "cgroup.subtree_control").read_text().split() == ["cpu", "memory", "pids"]
    daemon_unit = mount / "system.slice" / "podrun.service"
    assert (daemon_unit / "cgroup.subtree_control").read_text().split() == []
    m = CgroupManager(root, mountpoint=mount, fs=fs, clock=FakeClock())
    assert m.setup() == {"cpu", "memory", "pids"}
    path, not_enforced = m.create_pod(UID, {"memory.max": "67108864"})
    assert not_enforced == [] and (path / "memory.max").read_text().strip() == "67108864"
    # The next daemon (after `systemctl restart podrun`) finds the same root and the pod.
    assert enter_pods_unit(host, "podrun-pods.service", fs=fs, show=lambda u: _show()) == root
    assert CgroupManager(root, mountpoint=mount, fs=fs).list_pods() == [UID]


@pytest.mark.parametrize(("info", "own", "match"), [
    (_show("inactive"), "/system.slice/podrun.service", "not running .ActiveState=inactive"),
    (_show(delegate=False), "/system.slice/podrun.service", "needs Delegate=yes"),
    (_show(), "/system.slice/podrun-pods.service", "must not contain the daemon"),
])
def test_pods_unit_errors(tmp_path: Path, info: UnitCgroup, own: str, match: str) -> None:
    mount, unit, fs = _pods_unit(tmp_path)
    with pytest.raises(HostError, match=match):
        enter_pods_unit(CgroupHost(Layout.UNIFIED, mount, own), "podrun-pods.service", fs=fs,
                        show=lambda u: info)
    assert (unit / "cgroup.procs").read_text().split() == ["77"]  # nothing moved


def test_no_pods_unit_without_the_variable() -> None:
    assert systemd_pods_root({}) is None
