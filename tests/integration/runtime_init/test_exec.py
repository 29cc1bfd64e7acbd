"""Exec into a running container (issue 4, item 5)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from podrun.runtime.execin import ExecTimeout, exec_capture, exec_in_container
from podrun.runtime.mounts import bind_mount

pytestmark = pytest.mark.privileged


@pytest.fixture
def container(runner, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("10.1.2.3 mypod\n")
    return runner.start(["sleep", "3600"], env=["FOO=from-container"], cwd="/tmp",
                        mounts=[bind_mount(str(hosts), "/etc/hosts")], no_new_privs=True)


def test_exec_exit_code_env_cwd_mounts(container):
    r = exec_capture(container.pid, container.config,
                     ["sh", "-c", "echo $FOO $BAR; pwd; cat /etc/hosts; "
                      "tr '\\0' ' ' < /proc/1/cmdline; echo; grep -E 'CapEff|NoNewPrivs|Seccomp:' "
                      "/proc/self/status; exit 3"], env=["BAR=extra"])
    assert r.exit_code == 3, r
    lines = r.stdout.decode().splitlines()
    assert lines[:4] == ["from-container extra", "/tmp", "10.1.2.3 mypod", "sleep 3600 "]
    status = "\n".join(lines[4:])
    assert "CapEff:\t00000000a80425fb" in status
    assert "NoNewPrivs:\t1" in status
    assert "Seccomp:\t2" in status
    assert r.error is None


def test_exec_shares_the_container_namespaces(container):
    r = exec_capture(container.pid, container.config, ["sh", "-c", "for n in mnt net pid ipc uts; "
                     "do readlink /proc/self/ns/$n; done"])
    want = [os.readlink(f"/proc/{container.pid}/ns/{n}") for n in ("mnt", "net", "pid", "ipc",
                                                                  "uts")]
    assert r.stdout.decode().split() == want


def test_exec_as_other_user_and_cwd(container):
    r = exec_capture(container.pid, container.config, ["id"], cwd="/")
    assert r.stdout.decode().startswith("uid=0(root) gid=0(root)")


def test_exec_missing_command(container):
    r = exec_capture(container.pid, container.config, ["nosuch"])
    assert r.exit_code == 127
    assert r.error == 'exec: "nosuch": executable file not found in $PATH'
    assert r.error.encode() in r.stderr
    r = exec_capture(container.pid, container.config, ["/etc/passwd"])
    assert r.exit_code == 126
    assert r.error == 'exec: "/etc/passwd": permission denied'


def test_exec_stdin_and_inherited_fds(container, tmp_path):
    r = exec_capture(container.pid, container.config, ["cat"], stdin=b"hello\n")
    assert r.stdout == b"hello\n"
    out = tmp_path / "out"
    with open(out, "wb") as f:
        code = exec_in_container(container.pid, container.config, ["sh", "-c", "echo hi; exit 5"],
                                 stdout=f, stdin=subprocess.DEVNULL)
    assert code == 5
    assert out.read_bytes() == b"hi\n"


def test_exec_timeout_kills_the_command(container):
    t0 = time.monotonic()
    r = exec_capture(container.pid, container.config, ["sleep", "30"], timeout=0.5)
    assert r.timed_out
    assert time.monotonic() - t0 < 5
    # the exec'd sleep is gone (only PID 1 is left in the container)
    deadline = time.monotonic() + 3
    while True:
        ps = exec_capture(container.pid, container.config, ["ps", "-o", "pid,args"])
        procs = [line for line in ps.stdout.decode().splitlines()[1:] if "sleep 30" in line]
        if not procs or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not procs
    with pytest.raises(ExecTimeout):
        exec_in_container(container.pid, container.config, ["sleep", "30"], timeout=0.3,
                          stdout=subprocess.DEVNULL)


def test_exec_joins_the_container_cgroup(runner, test_cgroup):
    c = runner.start(["sleep", "3600"], cgroup_path=str(test_cgroup))
    r = exec_capture(c.pid, c.config, ["sh", "-c", "cat /proc/self/cgroup"])
    assert r.stdout.decode().strip().endswith("::/")  # the container's cgroup namespace root
    c.stop()


def test_exec_with_tty(container):
    master, slave = os.openpty()
    try:
        code = exec_in_container(container.pid, container.config,
                                 ["sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo TTY; "
                                  "cut -d' ' -f7 /proc/self/stat"], tty=True,
                                 stdin=slave, stdout=slave, stderr=slave)
        out = os.read(master, 4096).decode()
    finally:
        os.close(master)
        os.close(slave)
    assert code == 0
    lines = out.split()
    assert lines[0] == "TTY"
    assert lines[1] != "0"  # a controlling terminal
    with pytest.raises(Exception, match="needs stdin to be a terminal"):
        exec_in_container(container.pid, container.config, ["true"], tty=True,
                          stdin=subprocess.DEVNULL)


def test_exec_compiles_seccomp_and_sets_rlimits(runner):
    # No precompiled BPF: libseccomp must be loaded before the helper chroots.
    c = runner.start(["sleep", "3600"], precompile_seccomp=False,
                     rlimits={"NOFILE": (500, 600)})
    r = exec_capture(c.pid, c.config, ["sh", "-c", "ulimit -n; grep Seccomp: /proc/self/status"])
    assert r.stdout.decode().split() == ["500", "Seccomp:", "2"], r
    c.stop()
