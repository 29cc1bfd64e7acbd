"""pause as the pod's infra process and monitor, driven through podrun.runtime.pause."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from podrun.errors import HostError
from podrun.runtime.pause import (
    PauseClient,
    PauseHandle,
    kill_pause,
    launch_pause,
    open_pause_pidfd,
    read_exit_record,
    read_pause_pid,
    wait_exit_record,
    wait_for_exit,
    wait_for_pidfd,
)
from tests.integration.pause.pause_support import (
    BUSYBOX,
    REPO,
    alive,
    descendants,
    pause_binary,
    read_log,
    wait_until,
)

pytestmark = pytest.mark.privileged


def sh(script: str) -> list[str]:
    return [BUSYBOX, "sh", "-c", script]


def ns(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def nspid(pid: int) -> list[int]:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError("no NSpid")


def test_classic_pause_semantics() -> None:
    v = subprocess.run([pause_binary(), "-v"], capture_output=True, text=True, check=True)
    assert v.stdout.startswith("pause.c ")
    p = subprocess.Popen([pause_binary()])
    try:
        time.sleep(0.1)
        assert p.poll() is None
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=5) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_containers_share_pod_namespaces_and_get_their_own_pid_and_mount(start_pod, workdir):
    h = start_pod(hostname="pod-a")
    c = h.client()
    assert read_pause_pid(h.run_dir) == h.pid
    assert nspid(h.pid)[-1] == 1, "pause is PID 1 of the pod PID namespace"
    a = c.create("a", sh("hostname; exec sleep 100"), log_path=workdir / "a.log")
    b = c.create("b", [BUSYBOX, "sleep", "100"], log_path=workdir / "b.log")
    for x in (a, b):
        for kind in ("net", "ipc", "uts"):
            assert ns(x.pid, kind) == ns(h.pid, kind)
        for kind in ("pid", "mnt"):
            assert ns(x.pid, kind) != ns(h.pid, kind)
        assert nspid(x.pid)[-1] == 1, "the container's process is PID 1 of its own PID ns"
        assert nspid(x.pid)[-2] == x.ns_pid
    assert ns(a.pid, "pid") != ns(b.pid, "pid")
    assert ns(h.pid, "net") != ns(os.getpid(), "net")
    assert ns(h.pid, "pid") != ns(os.getpid(), "pid")
    wait_until(lambda: (workdir / "a.log").exists() and read_log(workdir / "a.log"))
    assert read_log(workdir / "a.log")[0][1:] == ("stdout", "F", "pod-a")
    listed = {x.id: x for x in c.list()}
    assert listed["a"].running and listed["a"].pid == a.pid
    assert listed["b"].running and listed["b"].pid == b.pid
    # pause left the launcher's session and process tree
    assert os.getsid(h.pid) != os.getsid(0)
    with open(f"/proc/{h.pid}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    assert ppid != os.getpid()


def test_shared_pid_namespace_container(start_pod, workdir):
    h = start_pod()
    a = h.client().create("a", [BUSYBOX, "sleep", "100"], new_pid_ns=False)
    assert ns(a.pid, "pid") == ns(h.pid, "pid")
    assert ns(a.pid, "mnt") != ns(h.pid, "mnt")


def test_exit_records_code_signal_and_times(start_pod, workdir):
    h = start_pod()
    c = h.client()
    before = time.time_ns()
    c.create("three", sh("exit 3"))
    killed = c.create("killed", [BUSYBOX, "sleep", "100"])
    trapped = c.create("trapped", sh("trap 'exit 7' TERM; while :; do usleep 20000; done"))
    wait_until(lambda: read_exit_record(h.run_dir, "three"))
    rec = read_exit_record(h.run_dir, "three")
    assert rec and (rec.exit_code, rec.signal, rec.core_dumped) == (3, 0, False)
    assert before <= rec.started_at <= rec.finished_at <= time.time_ns()
    assert read_exit_record(h.run_dir, "killed") is None
    c.signal("killed", signal.SIGKILL)
    time.sleep(0.2)  # the trap needs the shell to be waiting
    c.signal("trapped", signal.SIGTERM)
    wait_until(lambda: read_exit_record(h.run_dir, "killed"))
    wait_until(lambda: read_exit_record(h.run_dir, "trapped"))
    rec = read_exit_record(h.run_dir, "killed")
    assert rec and (rec.exit_code, rec.signal, rec.pid) == (137, 9, killed.ns_pid)
    rec = read_exit_record(h.run_dir, "trapped")
    assert rec and (rec.exit_code, rec.signal) == (7, 0)
    assert not alive(trapped.pid)
    listed = {x.id: x for x in c.list()}
    assert listed["killed"].exit_code == 137 and listed["killed"].signal == 9
    assert listed["three"].state == "exited" and listed["three"].pid is None
    with pytest.raises(HostError) as e:
        c.signal("three", signal.SIGTERM)
    assert e.value.errno == errno.ESRCH
    with pytest.raises(HostError) as e:
        c.create("three", sh("true"))
    assert e.value.errno == errno.EEXIST
    c.remove("three")
    c.create("three", sh("exit 4"))
    wait_until(lambda: read_exit_record(h.run_dir, "three"))
    assert read_exit_record(h.run_dir, "three").exit_code == 4  # type: ignore[union-attr]


def test_create_errors(start_pod, workdir):
    h = start_pod()
    c = h.client()
    with pytest.raises(HostError) as e:
        c.create("x", ["nosuch-command"])
    assert e.value.errno == errno.ENOENT and "nosuch-command" in str(e.value)
    with pytest.raises(HostError) as e:
        c.create("x", [BUSYBOX, "true"], cwd="/nonexistent-dir")
    assert e.value.errno == errno.ENOENT and "chdir" in str(e.value)
    with pytest.raises(HostError) as e:
        c.create("../escape", [BUSYBOX, "true"])
    assert e.value.errno == errno.EINVAL
    assert c.list() == []
    # PATH from the container's env is searched
    c.create("p", ["busybox", "true"], env={"PATH": "/nonexistent:/bin"})


def test_log_lines_partial_chunks_streams_and_timestamps(start_pod, workdir):
    h = start_pod()
    log = workdir / "0.log"
    before = datetime.now(UTC)
    h.client().create("w", sh(
        f"{BUSYBOX} head -c 20000 /dev/zero | {BUSYBOX} tr '\\0' x; echo; "
        "echo to-stderr >&2; printf 'crlf\\r\\n'; printf '' ; "
        f"{BUSYBOX} head -c 16384 /dev/zero | {BUSYBOX} tr '\\0' y; echo; printf tail"),
        log_path=log)
    wait_until(lambda: read_exit_record(h.run_dir, "w"))
    assert oct(log.stat().st_mode & 0o777) == "0o640"
    lines = read_log(log)
    out = [x for x in lines if x[1] == "stdout"]
    err = [x for x in lines if x[1] == "stderr"]
    assert [(t, len(c)) for _, _, t, c in out] == [
        ("P", 16384), ("F", 3616), ("F", 4), ("F", 16384), ("P", 4)]
    assert out[0][3] == "x" * 16384 and out[2][3] == "crlf" and out[4][3] == "tail"
    assert err == [(err[0][0], "stderr", "F", "to-stderr")]
    stamps = [datetime.strptime(x[0][:26] + "Z", "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=UTC) for x in lines]
    assert all(before.replace(microsecond=0) <= s <= datetime.now(UTC)
               for s in stamps)
    assert [x[0] for x in out] == sorted(x[0] for x in out)


def test_pause_survives_launcher_death_and_keeps_logging(workdir, start_pod):
    run = workdir / "pod"
    log = workdir / "ticks.log"
    code = (
        "import os, signal, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from podrun.runtime.pause import launch_pause\n"
        "h = launch_pause(sys.argv[2], pause_binary=sys.argv[3])\n"
        "h.client().create('tick', ['/bin/busybox', 'sh', '-c', "
        "'i=0; while :; do i=$((i+1)); echo tick$i; usleep 50000; done'], log_path=sys.argv[4])\n"
        "print(h.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    launcher = subprocess.run([sys.executable, "-c", code, str(REPO), str(run),
                               pause_binary(), str(log)], capture_output=True, text=True)
    pid = int(launcher.stdout.split()[0]) if launcher.stdout.strip() else None
    fd = os.pidfd_open(pid) if pid else None
    try:
        assert launcher.returncode == -signal.SIGKILL, launcher.stderr
        assert pid and read_pause_pid(run) == pid
        n1 = len(read_log(log))
        time.sleep(0.5)
        n2 = len(read_log(log))
        assert n2 > n1 + 3, "container output keeps flowing into the log"
        info = PauseClient(run).list()
        assert [(x.id, x.state) for x in info] == [("tick", "running")]
    finally:
        if pid:
            try:
                PauseClient(run).shutdown()
            except HostError:
                pass
            if fd is not None:
                wait_for_exit(pid, 5)
                try:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                os.close(fd)
    assert not alive(pid)  # type: ignore[arg-type]


def test_sigkill_pause_kills_every_pod_process_within_a_second(start_pod, workdir):
    h = start_pod()
    c = h.client()
    c.create("a", sh("sleep 100 & sleep 100 & wait"))
    c.create("b", [BUSYBOX, "sleep", "100"], new_pid_ns=False)
    pids = wait_until(lambda: (lambda d: d if len(d) >= 4 else None)(descendants(h.pid)))
    fds = [os.pidfd_open(p) for p in pids]  # type: ignore[union-attr]
    try:
        os.kill(h.pid, signal.SIGKILL)
        t0 = time.monotonic()
        assert wait_for_exit(h.pid, 1.0)
        import select
        for fd in fds:
            left = max(0.0, 1.0 - (time.monotonic() - t0))
            p = select.poll()
            p.register(fd, select.POLLIN)
            assert p.poll(int(left * 1000)), "a pod process outlived pause by > 1 s"
    finally:
        for fd in fds:
            os.close(fd)


def test_shutdown_leaves_no_process_and_writes_records(start_pod, workdir):
    h = start_pod()
    c = h.client()
    a = c.create("a", sh("sleep 100 & exec sleep 100"), log_path=workdir / "a.log")
    c.create("b", [BUSYBOX, "sleep", "100"], new_pid_ns=False)
    everything = [h.pid, *wait_until(lambda: (lambda d: d if len(d) >= 3 else None)(
        descendants(h.pid)))]  # type: ignore[misc]
    c.shutdown()
    assert wait_for_exit(h.pid, 2)
    assert not [p for p in everything if alive(p)]
    for cid in ("a", "b"):
        rec = read_exit_record(h.run_dir, cid)
        assert rec and (rec.exit_code, rec.signal) == (137, 9)
    assert a.ns_pid > 1
    assert sorted(os.listdir(h.run_dir)) == ["containers"], "pause.sock and pause.pid removed"


def test_sigterm_tears_down_like_shutdown(start_pod, workdir):
    h = start_pod()
    c = h.client().create("a", [BUSYBOX, "sleep", "100"])
    os.kill(h.pid, signal.SIGTERM)
    assert wait_for_exit(h.pid, 3)
    assert not alive(c.pid)
    assert read_exit_record(h.run_dir, "a").exit_code == 137  # type: ignore[union-attr]


def test_host_pid_namespace_pod_leaves_nothing(start_pod, workdir):
    """hostPID: pause is no PID 1; teardown must still kill the pod's processes."""
    h = start_pod(new_pid=False, new_net=False, new_ipc=False, new_uts=False)
    assert ns(h.pid, "pid") == ns(os.getpid(), "pid")
    assert ns(h.pid, "net") == ns(os.getpid(), "net")
    c = h.client()
    a = c.create("a", sh("sleep 100 & exec sleep 100"))
    b = c.create("b", sh("sleep 100 & exec sleep 100"), new_pid_ns=False, new_mount_ns=False)
    kids = wait_until(lambda: (lambda d: d if len(d) >= 4 else None)(descendants(h.pid)))
    c.shutdown()
    assert wait_for_exit(h.pid, 3)
    for p in [a.pid, b.pid, *kids]:  # type: ignore[misc]
        assert wait_for_exit(p, 1), f"pid {p} survived"


def test_a_flooding_container_does_not_starve_another(start_pod, workdir):
    h = start_pod()
    c = h.client()
    # The flood goes to /dev/null so the test does not fill the disk.
    c.create("flood", [BUSYBOX, "yes", "x" * 200], log_path="/dev/null")
    c.create("flood2", sh(f"exec {BUSYBOX} cat /dev/zero"), log_path="/dev/null")
    log = workdir / "quiet.log"
    c.create("quiet", sh("for i in $(seq 1 20); do echo line$i; usleep 50000; done"),
             log_path=log)
    wait_until(lambda: read_exit_record(h.run_dir, "quiet"), timeout=10)
    lines = read_log(log)
    assert [x[3] for x in lines] == [f"line{i}" for i in range(1, 21)]
    stamps = [datetime.strptime(x[0][:26] + "Z", "%Y-%m-%dT%H:%M:%S.%fZ") for x in lines]
    gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    assert max(gaps) < 0.5, f"quiet container's lines were delayed: {gaps}"
    assert {x.id: x.state for x in c.list()}["flood"] == "running"


def test_reopen_log_after_rename(start_pod, workdir):
    h = start_pod()
    c = h.client()
    log = workdir / "0.log"
    c.create("r", sh("i=0; while :; do i=$((i+1)); echo n$i; usleep 20000; done"),
             log_path=log)
    wait_until(lambda: log.exists() and len(read_log(log)) >= 5)
    rotated = workdir / "0.log.20240501-120000"
    log.rename(rotated)
    c.reopen_log("r")
    wait_until(lambda: log.exists() and len(read_log(log)) >= 5)
    c.signal("r", signal.SIGKILL)
    wait_until(lambda: read_exit_record(h.run_dir, "r"))
    seq = [int(x[3][1:]) for x in read_log(rotated) + read_log(log)]
    assert seq == list(range(1, len(seq) + 1)), "no line lost or repeated across the rotation"
    other = workdir / "other.log"
    c.remove("r")
    c.create("r", [BUSYBOX, "sleep", "100"], log_path=log)
    c.reopen_log("r", other)
    assert other.exists()
    with pytest.raises(HostError) as e:
        c.reopen_log("nosuch")
    assert e.value.errno == errno.ENOENT


def test_log_budget_drops_a_flood_until_the_reopen(start_pod, workdir):
    """logMax: a file stops at the budget (+ one entry and a marker) however fast the
    container writes; after the rotation's reopen the new file says how much was dropped
    and takes lines again."""
    h = start_pod()
    c = h.client()
    log = workdir / "0.log"
    budget = 64 * 1024
    c.create("y", [BUSYBOX, "yes", "flood-line"], log_path=log, log_max=budget)
    c.create("q", sh("while :; do echo quiet; usleep 50000; done"), log_path=workdir / "q.log",
             log_max=budget)
    wait_until(lambda: log.exists() and log.stat().st_size >= budget)
    time.sleep(1.0)  # yes writes tens of MiB/s: without the budget the file would be huge
    size = log.stat().st_size
    assert budget <= size <= budget + 16384 + 64 + 200, size
    lines = read_log(log)
    assert lines[-1][1:3] == ("stderr", "F") and "reached its limit of 65536 bytes" in lines[-1][3]
    assert all(x[3] == "flood-line" for x in lines[:-1])
    rotated = workdir / "0.log.20240501-120000"
    log.rename(rotated)
    c.reopen_log("y")
    wait_until(lambda: log.exists() and log.stat().st_size >= budget)
    new = read_log(log)
    m = re.match(r"podrun: (\d+) lines \((\d+) bytes\) of output were dropped", new[0][3])
    assert m and int(m[1]) > 0 and int(m[2]) == int(m[1]) * len("flood-line"), new[0]
    assert new[1][3] == "flood-line"
    assert rotated.stat().st_size <= budget + 16384 + 64 + 200
    # the quiet container has its own budget: its lines keep coming
    n = len(read_log(workdir / "q.log"))
    wait_until(lambda: len(read_log(workdir / "q.log")) > n + 3)
    # no logMax: no budget (what an older daemon asks for)
    c.create("u", sh(f"{BUSYBOX} head -c 300000 /dev/zero | {BUSYBOX} tr '\\0' u; echo"),
             log_path=workdir / "u.log")
    wait_until(lambda: read_exit_record(h.run_dir, "u"))
    assert (workdir / "u.log").stat().st_size > 300000
    with pytest.raises(HostError) as e:
        c.create("bad", [BUSYBOX, "true"], log_path=workdir / "b.log", log_max=-1)
    assert e.value.errno == errno.EINVAL


def test_stdin_pipe_kept_open_and_handed_out(start_pod, workdir):
    h = start_pod()
    c = h.client()
    log = workdir / "cat.log"
    c.create("cat", [BUSYBOX, "cat"], stdin_pipe=True, log_path=log)
    fd = c.stdin("cat")
    os.write(fd, b"hello\n")
    os.close(fd)
    wait_until(lambda: log.exists() and read_log(log))
    time.sleep(0.1)
    assert read_exit_record(h.run_dir, "cat") is None, "stdin stays open while pause holds it"
    c.close_stdin("cat")
    wait_until(lambda: read_exit_record(h.run_dir, "cat"))
    assert read_exit_record(h.run_dir, "cat").exit_code == 0  # type: ignore[union-attr]
    assert [x[3] for x in read_log(log)] == ["hello"]
    c.create("nostdin", [BUSYBOX, "cat"])
    wait_until(lambda: read_exit_record(h.run_dir, "nostdin"))  # /dev/null: EOF at once
    with pytest.raises(HostError):
        c.stdin("nostdin")


def test_passed_fds_become_3_and_4(start_pod, workdir):
    h = start_pod()
    r3, w3 = os.pipe()
    r4, w4 = os.pipe()
    try:
        h.client().create("fds", sh("echo three >&3; echo four >&4; ls /proc/self/fd"),
                          fds=[w3, w4], log_path=workdir / "fds.log")
        os.close(w3)
        os.close(w4)
        w3 = w4 = -1
        assert os.read(r3, 100) == b"three\n"
        assert os.read(r4, 100) == b"four\n"
        wait_until(lambda: read_exit_record(h.run_dir, "fds"))
        fds = sorted(int(x[3]) for x in read_log(workdir / "fds.log"))
        # 0-4, plus the one ls opened for listing; nothing of pause's leaked
        assert fds[:5] == [0, 1, 2, 3, 4] and len(fds) <= 6
    finally:
        for fd in (r3, w3, r4, w4):
            if fd >= 0:
                os.close(fd)


def test_env_and_cwd(start_pod, workdir):
    h = start_pod()
    log = workdir / "env.log"
    h.client().create("e", sh("echo $FOO; pwd"), env=["FOO=bar baz"], cwd="/tmp",
                      log_path=log)
    wait_until(lambda: read_exit_record(h.run_dir, "e"))
    assert [x[3] for x in read_log(log)] == ["bar baz", "/tmp"]


def test_second_pause_on_same_run_dir_is_refused(start_pod, workdir):
    h = start_pod()
    with pytest.raises(HostError) as e:
        launch_pause(h.run_dir, pause_binary=pause_binary())
    assert "another pause" in str(e.value)
    assert h.client().ping()


def test_cgroup_membership(start_pod, workdir):
    root = Path("/sys/fs/cgroup/unified")
    if not (root / "cgroup.procs").exists():
        root = Path("/sys/fs/cgroup")
        if not (root / "cgroup.controllers").exists():
            pytest.skip("no cgroup v2 hierarchy on this host")
    cg = root / f"podrun-pause-test-{os.getpid()}"
    cg.mkdir()
    try:
        h = start_pod(cgroup_dir=cg)
        with open(f"/proc/{h.pid}/cgroup") as f:
            assert f"0::/{cg.name}\n" in f.read()
        a = h.client().create("a", [BUSYBOX, "sleep", "100"])
        assert str(a.pid) in (cg / "cgroup.procs").read_text().split()
        h.client().shutdown()
        wait_for_exit(h.pid, 3)
    finally:
        wait_until(lambda: not (cg / "cgroup.procs").read_text().strip(), timeout=5)
        cg.rmdir()


def test_create_clones_into_the_asked_cgroup(start_pod, workdir):
    """create's cgroup=: the child starts in that cgroup (no migration), and pause says so;
    a directory that is no cgroup gives a plain clone into pause's cgroup, reported as such
    (the init helper then joins by itself, with its own error if it cannot)."""
    root = Path("/sys/fs/cgroup/unified")
    if not (root / "cgroup.procs").exists():
        root = Path("/sys/fs/cgroup")
        if not (root / "cgroup.controllers").exists():
            pytest.skip("no cgroup v2 hierarchy on this host")
    cg = root / f"podrun-pause-test-into-{os.getpid()}"
    cg.mkdir()
    (cg / "sandbox").mkdir()
    (cg / "c").mkdir()
    h = None
    try:
        h = start_pod(cgroup_dir=cg / "sandbox")
        a = h.client().create("a", [BUSYBOX, "sleep", "100"], cgroup_dir=cg / "c")
        assert a.in_cgroup
        assert (cg / "c" / "cgroup.procs").read_text().split() == [str(a.pid)]
        b = h.client().create("b", [BUSYBOX, "sleep", "100"], cgroup_dir=workdir)
        assert not b.in_cgroup
        assert str(b.pid) in (cg / "sandbox" / "cgroup.procs").read_text().split()
    finally:
        if h is not None:  # also when an assertion failed: the cgroups must empty
            h.client().shutdown()
            wait_for_exit(h.pid, 3)
        for d in (cg / "c", cg / "sandbox"):
            wait_until(lambda d=d: not (d / "cgroup.procs").read_text().strip(), timeout=5)
            d.rmdir()
        cg.rmdir()


def test_launch_failure_is_a_host_error(workdir):
    with pytest.raises(HostError) as e:
        launch_pause(workdir / "pod", cgroup_dir=workdir / "not-a-cgroup",
                     pause_binary=pause_binary())
    assert "cgroup" in str(e.value)
    assert not (workdir / "pod" / "pause.pid").exists()
    with pytest.raises(HostError):
        PauseClient(workdir / "pod", timeout=1).ping()


def test_large_create_request(start_pod, workdir):
    """A big environment (~150 KiB, one SEQPACKET message) reaches the container."""
    h = start_pod()
    env = [f"V{i}={'v' * 140}" for i in range(1000)]
    log = workdir / "big.log"
    h.client().create("big", sh("echo ${#V999} $(env | grep -c ^V)"), env=env, log_path=log)
    wait_until(lambda: read_exit_record(h.run_dir, "big"))
    assert [x[3] for x in read_log(log)] == ["140 1000"]
    with pytest.raises(ValueError):
        h.client().create("huge", [BUSYBOX, "true"], env=env * 2)


def test_join_network_namespace_by_path(start_pod, workdir):
    a = start_pod("a")
    b = start_pod("b", new_net=False, netns_path=f"/proc/{a.pid}/ns/net")
    assert ns(b.pid, "net") == ns(a.pid, "net")
    assert ns(b.pid, "uts") != ns(a.pid, "uts")


def test_long_run_dir_path(start_pod, workdir):
    """sun_path holds 107 bytes: pause binds relative to its run dir, the client connects
    through an O_PATH fd."""
    h = start_pod("d" * 120)
    assert len(str(h.run_dir / "pause.sock")) > 108
    assert h.client().ping()
    assert read_pause_pid(h.run_dir) == h.pid


def test_signals_from_inside_the_pod_do_not_tear_it_down(start_pod, workdir):
    h = start_pod()
    c = h.client()
    c.create("killer", sh("kill -TERM 1; kill -INT 1"), new_pid_ns=False)
    wait_until(lambda: read_exit_record(h.run_dir, "killer"))
    assert read_exit_record(h.run_dir, "killer").exit_code == 0  # type: ignore[union-attr]
    time.sleep(0.1)
    assert alive(h.pid) and c.ping()


def test_pidfd_from_create_then_exit_record_then_kill_pause(start_pod, workdir):
    h = start_pod()
    x = h.client().create("x", sh("usleep 100000; exit 5"), keep_pidfd=True)
    assert x.pidfd is not None
    try:
        assert wait_for_pidfd(x.pidfd, 5)
    finally:
        os.close(x.pidfd)
    rec = wait_exit_record(h.run_dir, "x")
    assert rec and rec.exit_code == 5
    fd = open_pause_pidfd(h)
    assert fd is not None
    os.close(fd)
    kill_pause(h)
    assert not alive(h.pid)
    assert open_pause_pidfd(h) is None
    # a live process that is not this pod's pause is never taken for it
    assert open_pause_pidfd(PauseHandle(os.getpid(), h.run_dir)) is None


def test_oom_score_adj_of_pause_is_not_inherited(start_pod, workdir):
    def score(pid: int) -> int:
        with open(f"/proc/{pid}/oom_score_adj") as f:
            return int(f.read())

    # Raising needs no privilege; -998 (the kubelet's) needs CAP_SYS_RESOURCE, which some
    # hosts (containers, sandboxes) lack: launching with it is then a HostError.
    h = start_pod(oom_score_adj=500)
    assert score(h.pid) == 500
    c = h.client()
    a = c.create("a", [BUSYBOX, "sleep", "100"])
    b = c.create("b", [BUSYBOX, "sleep", "100"], oom_score_adj=1000)
    assert score(a.pid) == score(os.getpid())
    assert score(b.pid) == 1000


def test_bad_requests_get_errors_and_pause_keeps_serving(start_pod, workdir):
    import socket
    from concurrent.futures import ThreadPoolExecutor

    h = start_pod()

    def raw(msg: bytes, fds: list[int] | None = None) -> bytes:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(5)
            s.connect(str(h.run_dir / "pause.sock"))
            if fds:
                socket.send_fds(s, [msg], fds)
            else:
                s.send(msg)
            return s.recv(65536)

    assert raw(b"ping").startswith(b"error\0errno=%d\0" % errno.EMSGSIZE)
    assert raw(b"nosuch\0").startswith(b"error\0errno=%d\0" % errno.EINVAL)
    assert raw(b"create\0id=x\0").startswith(b"error\0errno=%d\0" % errno.EINVAL)
    assert raw(b"signal\0id=x\0signal=abc\0").startswith(b"error\0errno=%d\0" % errno.ENOENT)
    r, w = os.pipe()
    try:
        assert raw(b"ping\0", [w]).startswith(b"error\0errno=%d\0" % errno.EINVAL)
    finally:
        os.close(r)
        os.close(w)
    assert raw(b"create\0id=x\0" + b"arg=" + b"a" * (200 * 1024) + b"\0").startswith(
        b"error\0errno=%d\0" % errno.EMSGSIZE)
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:  # connect, say nothing
        s.connect(str(h.run_dir / "pause.sock"))
        c = h.client()
        with ThreadPoolExecutor(8) as pool:
            assert all(pool.map(lambda _: c.ping() and c.list() == [], range(200)))
    assert c.ping()


def test_nofile_limit_of_containers_is_the_launchers(start_pod, workdir):
    import resource

    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = 1000, saved[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        h = start_pod()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, saved)
    a = h.client().create("a", [BUSYBOX, "sleep", "100"])

    def limit(pid: int) -> str:
        with open(f"/proc/{pid}/limits") as f:
            return next(line for line in f if line.startswith("Max open files")).split()[3]
    assert limit(a.pid) == str(soft)
    assert int(limit(h.pid)) >= min(hard, 65536)
    # a failed create leaves no container directory behind
    with pytest.raises(HostError):
        h.client().create("failed", ["nosuch"])
    assert not (h.run_dir / "containers" / "failed").exists()
