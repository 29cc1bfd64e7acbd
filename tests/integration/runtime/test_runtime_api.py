"""The runtime API end to end: real pause, init helper, cgroups and a busybox rootfs.

Issue "Runtime core", acceptance: shared namespaces, survival of the daemon, sandbox death,
stop with grace, security defaults, exec, CRI logs, nothing left after remove.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.runtime import ocispec
from podrun.runtime.cgroups import CgroupManager, Layout, detect_host
from podrun.runtime.runtime import ContainerStartError, Runtime, SandboxOptions
from tests.support import TEST_TMP

pytestmark = pytest.mark.privileged

CONTAINERD_DEFAULT_CAPEFF = "00000000a80425fb"


@pytest.fixture
def rt(busybox_rootfs: Path) -> Iterator[Runtime]:
    host = detect_host()
    if host.layout is Layout.NONE or host.mountpoint is None:
        pytest.skip("no cgroup v2 hierarchy mounted on this host")
    base = Path(tempfile.mkdtemp(prefix="podrun-rt-", dir=TEST_TMP))
    cg_root = host.mountpoint / f"podrun-test-{uuid.uuid4().hex[:8]}"
    cgroups = CgroupManager(cg_root, mountpoint=host.mountpoint, layout=host.layout)
    cgroups.setup()
    runtime = Runtime(base / "run", base / "root", cgroups=cgroups)
    try:
        yield runtime
    finally:
        for sb in runtime.list_sandboxes():
            try:
                runtime.remove_sandbox(sb.id)
            except Exception:  # noqa: BLE001 - keep cleaning
                pass
        cgroups.remove_root()
        leftovers = [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
                     if str(base) in line]
        shutil.rmtree(base, ignore_errors=True)
        assert not cg_root.exists(), f"cgroup root left behind: {cg_root}"
        assert not leftovers, f"mounts left behind: {leftovers}"


def config(rootfs: Path, args: list[str], **kw: object) -> dict:
    return ocispec.build_config(args, rootfs=str(rootfs), hostname="pod", **kw)  # type: ignore[arg-type]


def start(rt: Runtime, sb: str, cid: str, rootfs: Path, script: str, log: Path | None = None,
          **kw: object):
    cfg = config(rootfs, ["sh", "-c", script], **kw)
    status, _ = rt.create_container(sb, cid, cfg, log_path=log, lowerdirs=[str(rootfs)])
    return status


def new_sandbox(rt: Runtime, **kw: object) -> str:
    sid = "sb" + uuid.uuid4().hex[:10]
    rt.create_sandbox(sid, SandboxOptions(pod_uid=uuid.uuid4().hex, hostname="pod", **kw))  # type: ignore[arg-type]
    return sid


def wait_until(pred, timeout: float = 5.0, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


def ns(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def log_entries(path: Path) -> list[tuple[str, str, str, str]]:
    out = []
    for line in path.read_text().splitlines():
        ts, stream, tag, content = (line.split(" ", 3) + [""])[:4]
        out.append((ts, stream, tag, content))
    return out


def test_containers_share_pod_namespaces_with_their_own_mount_and_pid(rt: Runtime,
                                                                      busybox_rootfs: Path) -> None:
    sb = new_sandbox(rt)
    pause_pid = rt.sandbox_status(sb).pid
    assert pause_pid
    a = start(rt, sb, "a", busybox_rootfs, "exec sleep 1000")
    b = start(rt, sb, "b", busybox_rootfs, "exec sleep 1000")
    for c in (a, b):
        for kind in ("net", "ipc", "uts"):
            assert ns(c.pid, kind) == ns(pause_pid, kind)
        assert ns(c.pid, "mnt") != ns(pause_pid, "mnt")
        assert ns(c.pid, "pid") != ns(pause_pid, "pid")
    assert ns(a.pid, "mnt") != ns(b.pid, "mnt")
    r = rt.exec_sync(sb, "a", ["cat", "/proc/1/cmdline"], timeout=10)
    assert r.exit_code == 0 and r.stdout.split(b"\0")[:2] == [b"sleep", b"1000"]
    r = rt.exec_sync(sb, "a", ["hostname"], timeout=10)
    assert r.stdout.strip() == b"pod"


def test_share_process_namespace_shows_pause_as_pid_1(rt: Runtime, busybox_rootfs: Path) -> None:
    sb = new_sandbox(rt, share_process_namespace=True)
    cfg = config(busybox_rootfs, ["sleep", "1000"], pid_namespace=False)
    rt.create_container(sb, "a", cfg, log_path=None, lowerdirs=[str(busybox_rootfs)])
    r = rt.exec_sync(sb, "a", ["cat", "/proc/1/cmdline"], timeout=10)
    assert r.stdout.split(b"\0")[0].endswith(b"pause")


def test_logs_are_cri_lines_with_partial_chunks(rt: Runtime, busybox_rootfs: Path,
                                                tmp_path: Path) -> None:
    sb = new_sandbox(rt)
    log = tmp_path / "c" / "0.log"
    start(rt, sb, "c", busybox_rootfs,
          "echo out; echo err >&2; head -c 20000 /dev/zero | tr '\\0' x; echo", log)
    assert wait_until(lambda: rt.container_status(sb, "c").state == "exited")
    entries = log_entries(log)
    assert ("stdout", "F", "out") in [(s, t, c) for _, s, t, c in entries]
    assert ("stderr", "F", "err") in [(s, t, c) for _, s, t, c in entries]
    long = [(t, len(c)) for _, s, t, c in entries if c.startswith("x")]
    assert long == [("P", 16384), ("F", 20000 - 16384)]
    for ts, *_ in entries:
        assert len(ts) == len("2024-05-01T12:00:00.123456789Z") and ts.endswith("Z")


def test_exit_codes_and_reasons(rt: Runtime, busybox_rootfs: Path) -> None:
    sb = new_sandbox(rt)
    start(rt, sb, "ok", busybox_rootfs, "exit 0")
    start(rt, sb, "bad", busybox_rootfs, "exit 3")
    assert wait_until(lambda: all(c.state == "exited" for c in rt.list_containers(sb)))
    by_id = {c.id: c for c in rt.list_containers(sb)}
    assert (by_id["ok"].exit_code, by_id["ok"].reason) == (0, "Completed")
    assert (by_id["bad"].exit_code, by_id["bad"].reason) == (3, "Error")
    assert by_id["bad"].finished_at >= by_id["bad"].started_at


def test_missing_command_is_a_start_error(rt: Runtime, busybox_rootfs: Path) -> None:
    sb = new_sandbox(rt)
    cfg = config(busybox_rootfs, ["nosuch"])
    with pytest.raises(ContainerStartError) as e:
        rt.create_container(sb, "x", cfg, log_path=None, lowerdirs=[str(busybox_rootfs)])
    assert 'exec: "nosuch": executable file not found in $PATH' in str(e.value)
    st = rt.container_status(sb, "x")
    assert (st.state, st.exit_code, st.reason) == ("exited", 128, "StartError")
    assert "executable file not found" in st.message


def test_stop_with_grace_kills_a_term_ignoring_container_at_grace(rt: Runtime,
                                                                  busybox_rootfs: Path) -> None:
    sb = new_sandbox(rt)
    # busybox sleep as PID 1 without a handler ignores SIGTERM (BEHAVIOR.md 6.6).
    start(rt, sb, "stubborn", busybox_rootfs, "exec sleep 1000")
    t0 = time.monotonic()
    rt.stop_container(sb, "stubborn", grace_seconds=2)
    took = time.monotonic() - t0
    assert 1.5 <= took <= 2.5, took
    st = rt.container_status(sb, "stubborn")
    assert (st.exit_code, st.signal) == (137, 9)


def test_stop_lets_a_trapping_container_exit_with_its_own_code(rt: Runtime,
                                                               busybox_rootfs: Path) -> None:
    sb = new_sandbox(rt)
    start(rt, sb, "polite", busybox_rootfs,
          "trap 'exit 7' TERM; while true; do sleep 0.1; done")
    time.sleep(0.3)  # let the shell install its trap
    t0 = time.monotonic()
    rt.stop_container(sb, "polite", grace_seconds=10)
    assert time.monotonic() - t0 < 3
    assert rt.container_status(sb, "polite").exit_code == 7


def test_killing_pause_kills_the_pod_and_signals_sandbox_death(rt: Runtime,
                                                               busybox_rootfs: Path) -> None:
    sb = new_sandbox(rt)
    a = start(rt, sb, "a", busybox_rootfs, "sleep 1000 & exec sleep 1000")
    pidfd = rt.sandbox_pidfd(sb)
    assert pidfd is not None
    try:
        os.kill(rt.sandbox_status(sb).pid, signal.SIGKILL)
        t0 = time.monotonic()
        assert select.select([pidfd], [], [], 1.0)[0], "sandbox death not signalled"
        assert wait_until(lambda: not os.path.exists(f"/proc/{a.pid}"), timeout=1.0)
        assert time.monotonic() - t0 < 1.0
    finally:
        os.close(pidfd)
    assert not rt.sandbox_status(sb).ready
    st = rt.container_status(sb, "a")
    assert st.state in ("unknown", "exited")


def test_security_defaults_and_privileged(rt: Runtime, busybox_rootfs: Path) -> None:
    sb = new_sandbox(rt)
    start(rt, sb, "def", busybox_rootfs, "exec sleep 1000", no_new_privs=True)
    status = rt.exec_sync(sb, "def", ["cat", "/proc/1/status"], timeout=10).stdout.decode()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["CapEff"].strip() == CONTAINERD_DEFAULT_CAPEFF
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"
    from podrun.runtime.mounts import DEFAULT_MASKED_PATHS
    masked_files = [p for p in DEFAULT_MASKED_PATHS if os.path.isfile(p)]
    assert masked_files, "no masked file exists on this kernel"
    for p in masked_files:
        r = rt.exec_sync(sb, "def", ["sh", "-c", f"wc -c < {p}"], timeout=10)
        assert r.stdout.split()[:1] == [b"0"], (p, r)
    r = rt.exec_sync(sb, "def", ["sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid"], timeout=10)
    assert r.exit_code != 0 and b"Read-only file system" in r.stderr
    devs = rt.exec_sync(sb, "def", ["ls", "/dev"], timeout=10).stdout.split()
    assert b"null" in devs and not any(d.startswith((b"sd", b"vd", b"nvme")) for d in devs)

    start(rt, sb, "priv", busybox_rootfs, "exec sleep 1000", privileged=True)
    status = rt.exec_sync(sb, "priv", ["cat", "/proc/1/status"], timeout=10).stdout.decode()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert int(fields["CapEff"], 16) == int(Path("/proc/self/status").read_text()
                                            .split("CapBnd:\t")[1].split()[0], 16)
    assert fields["Seccomp"].strip() == "0"
    host_devs = {d for d in os.listdir("/dev") if d.startswith(("vd", "sd", "nvme"))}
    if host_devs:
        devs = set(rt.exec_sync(sb, "priv", ["ls", "/dev"], timeout=10).stdout.decode().split())
        assert host_devs <= devs


def test_exec_sees_env_cwd_and_mounts_and_returns_exit_code(rt: Runtime, busybox_rootfs: Path,
                                                            tmp_path: Path) -> None:
    sb = new_sandbox(rt)
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "data").write_text("volume-data\n")
    start(rt, sb, "c", busybox_rootfs, "exec sleep 1000", env={"GREETING": "hi"},
          cwd="/tmp", mounts=[{"destination": "/data", "type": "bind", "source": str(vol),
                               "options": ["rbind", "ro"]}])
    r = rt.exec_sync(sb, "c", ["sh", "-c", "echo $GREETING; pwd; cat /data/data; exit 5"],
                     timeout=10)
    assert r.exit_code == 5
    assert r.stdout.decode().split() == ["hi", "/tmp", "volume-data"]


def test_containers_survive_the_daemon_and_a_new_runtime_adopts_them(
        rt: Runtime, busybox_rootfs: Path, tmp_path: Path) -> None:
    sb = "sb" + uuid.uuid4().hex[:10]
    log = tmp_path / "0.log"
    # The "daemon": a separate process that creates the pod, then dies by SIGKILL.
    code = textwrap.dedent(f"""
        import json, os, signal, sys
        from pathlib import Path
        from podrun.runtime import ocispec
        from podrun.runtime.cgroups import CgroupManager, Layout
        from podrun.runtime.runtime import Runtime, SandboxOptions
        cg = CgroupManager(Path({str(rt.cgroups.root)!r}), mountpoint=Path({str(rt.cgroups.mountpoint)!r}),
                           layout=Layout({rt.cgroups.layout.value!r}))
        r = Runtime(Path({str(rt.run_dir)!r}), Path({str(rt.root_dir)!r}), cgroups=cg)
        r.create_sandbox({sb!r}, SandboxOptions(pod_uid="adopt{uuid.uuid4().hex[:8]}", hostname="pod"))
        cfg = ocispec.build_config(["sh", "-c", "i=0; while [ $i -lt 30 ]; do echo line $i; i=$((i+1)); sleep 0.1; done; exit 4"],
                                   rootfs={str(busybox_rootfs)!r})
        r.create_container({sb!r}, "c", cfg, log_path=Path({str(log)!r}), lowerdirs=[{str(busybox_rootfs)!r}])
        print("ready", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[3], timeout=60)
    assert proc.stdout.strip() == "ready", proc.stderr
    assert proc.returncode == -signal.SIGKILL
    fresh = Runtime(rt.run_dir, rt.root_dir, cgroups=rt.cgroups)
    assert [s.id for s in fresh.list_sandboxes()] == [sb]
    assert fresh.container_status(sb, "c").state == "running"
    st = wait_until(lambda: (s := fresh.container_status(sb, "c")).state == "exited" and s,
                    timeout=10)
    assert st and st.exit_code == 4
    lines = [c for _, _, _, c in log_entries(log)]
    assert lines == [f"line {i}" for i in range(30)]


def test_remove_leaves_nothing_behind(rt: Runtime, busybox_rootfs: Path) -> None:
    sb = new_sandbox(rt)
    a = start(rt, sb, "a", busybox_rootfs, "exec sleep 1000")
    sbdir = rt.sandbox_dir(sb)
    pod_cg = rt.cgroups.pod_path(rt.sandbox_status(sb).pod_uid)
    pause_pid = rt.sandbox_status(sb).pid
    assert pod_cg.exists()
    rt.remove_sandbox(sb)
    assert not sbdir.exists()
    assert not pod_cg.exists()
    assert not rt.container_dir("a").exists()
    # Gone, or a zombie for the instant before init reaps the re-parented process.
    assert wait_until(lambda: _gone(a.pid) and _gone(pause_pid), timeout=2)
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(sbdir) not in mounts and str(rt.root_dir) not in mounts


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
