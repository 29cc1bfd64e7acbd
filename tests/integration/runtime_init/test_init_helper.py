"""The init helper builds a container with containerd's defaults (issue 4, item 2)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from podrun.runtime.capabilities import DEFAULT_CAP_MASK
from podrun.runtime.mounts import bind_mount

pytestmark = pytest.mark.privileged

DEFAULT_DEV = {"core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm",
               "stderr", "stdin", "stdout", "tty", "urandom", "zero"}


def status_field(status: str, name: str) -> str:
    m = re.search(rf"^{name}:\s*(\S+)", status, re.M)
    assert m, f"{name} missing in {status!r}"
    return m.group(1)


def test_pid1_is_the_command_with_default_security(runner):
    r = runner.run(["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; cat /proc/1/status"],
                   no_new_privs=True)
    assert r.returncode == 0, r
    assert r.sync == ""
    first, status = r.stdout.split("\n", 1)
    assert first.startswith("sh -c cat /proc/1/cmdline")
    assert int(status_field(status, "CapEff"), 16) == DEFAULT_CAP_MASK == 0xA80425FB
    assert int(status_field(status, "CapBnd"), 16) == DEFAULT_CAP_MASK
    assert int(status_field(status, "CapInh"), 16) == 0
    assert status_field(status, "NoNewPrivs") == "1"
    assert status_field(status, "Seccomp") == "2"


def test_seccomp_without_no_new_privs(runner):
    # allowPrivilegeEscalation defaults to true in Kubernetes: no NNP, filter still loaded.
    r = runner.run(["cat", "/proc/self/status"])
    assert r.returncode == 0, r
    assert status_field(r.stdout, "NoNewPrivs") == "0"
    assert status_field(r.stdout, "Seccomp") == "2"


def test_runtime_default_seccomp_refuses_user_namespaces(runner):
    # A user namespace needs no capability, only the filter stops it (unshare(2) is
    # allowed by RuntimeDefault only with CAP_SYS_ADMIN).
    free = runner.run(["unshare", "-U", "true"], seccomp_profile="Unconfined")
    if free.returncode != 0:
        pytest.skip(f"user namespaces unavailable here: {free.stderr.strip()}")
    r = runner.run(["unshare", "-U", "true"])
    assert r.returncode != 0
    assert "Operation not permitted" in r.stderr


def test_custom_seccomp_profile(runner):
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                             "errnoRet": 13}]}
    for precompile in (True, False):
        r = runner.run(["mkdir", "/newdir"], seccomp_profile=profile,
                       precompile_seccomp=precompile)
        assert r.returncode == 1
        assert "Permission denied" in r.stderr


def test_masked_and_readonly_paths(runner):
    masked = [p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/interrupts")
              if os.path.exists(p)]
    script = "; ".join(f"echo {p}=$(wc -c < {p})" for p in masked)
    script += "; ls -A /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/hostname"
    r = runner.run(["sh", "-c", script])
    for p in masked:
        assert f"{p}=0" in r.stdout, r
    assert r.stdout.splitlines()[len(masked)] == "0"  # /sys/firmware is an empty tmpfs
    assert "Read-only file system" in r.stderr


def test_dev_has_only_default_nodes(runner):
    r = runner.run(["sh", "-c", "ls -A /dev; readlink /dev/ptmx; stat -c %a /dev/null"])
    assert r.returncode == 0, r
    lines = r.stdout.split()
    assert set(lines[:-2]) == DEFAULT_DEV
    assert lines[-2:] == ["pts/ptmx", "666"]


def test_bind_mounts_and_targets_created(runner, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.0.0.5 mypod\n")
    hostname = tmp_path / "hostname"
    hostname.write_text("mypod\n")
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 10.0.0.10\n")
    term = tmp_path / "termination-log"
    term.touch(mode=0o666)
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "data").write_text("volume content\n")
    rovol = tmp_path / "rovol"
    rovol.mkdir()
    mounts = [bind_mount(str(hosts), "/etc/hosts"), bind_mount(str(hostname), "/etc/hostname"),
              bind_mount(str(resolv), "/etc/resolv.conf"),
              bind_mount(str(term), "/dev/termination-log"),
              bind_mount(str(vol), "/data/vol"),
              bind_mount(str(rovol), "/data/ro", readonly=True)]
    r = runner.run(["sh", "-c", "cat /etc/hosts /etc/hostname /etc/resolv.conf /data/vol/data;"
                    " echo bye > /dev/termination-log; touch /data/ro/x"], mounts=mounts)
    assert "10.0.0.5 mypod" in r.stdout
    assert "mypod\nnameserver 10.0.0.10\nvolume content\n" in r.stdout
    assert "Read-only file system" in r.stderr
    assert term.read_text() == "bye\n"
    assert not (rovol / "x").exists()


def test_bind_target_symlink_stays_inside_rootfs(runner, tmp_path):
    # /etc/escape -> /tmp inside the image: the target must resolve to <rootfs>/tmp.
    upper = tmp_path / "lower2"
    (upper / "etc").mkdir(parents=True)
    os.symlink("/tmp", upper / "etc" / "escape")
    src = tmp_path / "file"
    src.write_text("in\n")
    work = tmp_path / "up"
    (work / "u").mkdir(parents=True)
    (work / "w").mkdir()
    overlay = {"lowerdirs": [str(upper), str(runner.lower)], "upperdir": str(work / "u"),
               "workdir": str(work / "w")}
    r = runner.run(["cat", "/tmp/f"], overlay=overlay,
                   mounts=[bind_mount(str(src), "/etc/escape/f")])
    assert r.stdout == "in\n", r
    assert not Path("/tmp/f").exists()


def test_user_switch_and_groups(runner):
    r = runner.run(["sh", "-c", "id; grep Cap /proc/self/status"], user="1000", groups=[4242])
    assert r.returncode == 0, r
    assert r.stdout.splitlines()[0] == "uid=1000(user) gid=1000(user) groups=100(users),1000(user),4242"
    assert "CapEff:\t0000000000000000" in r.stdout  # non-root loses them at exec


def test_numeric_uid_gid(runner):
    r = runner.run(["id"], uid=1234, gid=5678)
    assert r.stdout.strip() == "uid=1234 gid=5678 groups=5678"


def test_unknown_user_is_a_start_error(runner):
    r = runner.run(["id"], user="nosuchuser")
    assert r.returncode == 128
    assert r.sync_error["step"] == "user-lookup"
    assert "unable to find user nosuchuser" in r.sync_error["message"]


def test_env_cwd_home(runner):
    r = runner.run(["sh", "-c", "pwd; echo $FOO; echo $HOME; echo $PATH"],
                   env=["FOO=bar baz"], cwd="/tmp/work")
    assert r.stdout.splitlines() == ["/tmp/work", "bar baz", "/root",
                                     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def test_readonly_rootfs(runner):
    r = runner.run(["sh", "-c", "touch /x; echo done"], readonly_rootfs=True)
    assert "Read-only file system" in r.stderr
    assert r.stdout == "done\n"


def test_missing_command_is_start_error_128(runner):
    r = runner.run(["nosuch"])
    assert r.returncode == 128
    assert r.sync_error == {"step": "exec", "errno": 2,
                            "message": 'exec: "nosuch": executable file not found in $PATH'}
    r = runner.run(["/nosuch"])
    assert r.sync_error["message"] == 'exec: "/nosuch": stat /nosuch: no such file or directory'
    r = runner.run(["/etc/passwd"])
    assert r.sync_error["message"] == 'exec: "/etc/passwd": permission denied'


def test_privileged_gets_all_caps_and_host_devices(runner):
    host_bnd = int(status_field(Path("/proc/self/status").read_text(), "CapBnd"), 16)
    host_dev = next(n for n in ("kmsg", "loop0", "vda", "sda", "tty0", "kvm")
                    if os.path.exists(f"/dev/{n}"))
    r = runner.run(["sh", "-c", f"cat /proc/1/status; ls /dev/{host_dev}; "
                    "touch /sys/x 2>&1; grep ' /sys ' /proc/mounts"], privileged=True)
    assert int(status_field(r.stdout, "CapEff"), 16) == host_bnd
    assert status_field(r.stdout, "Seccomp") == "0"
    assert f"/dev/{host_dev}" in r.stdout
    assert "sysfs /sys sysfs rw" in r.stdout


def test_cap_add_drop(runner):
    r = runner.run(["grep", "CapEff", "/proc/self/status"], cap_drop=["ALL"],
                   cap_add=["NET_ADMIN"])
    assert int(r.stdout.split()[1], 16) == 1 << 12


def test_sysctl_rlimits_hostname(runner):
    r = runner.run(["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward; ulimit -n; hostname"],
                   sysctls={"net.ipv4.ip_forward": "1"}, rlimits={"NOFILE": (1000, 2000)},
                   hostname="mypod")
    assert r.stdout.split() == ["1", "1000", "mypod"], r


def test_cgroup_join(runner, test_cgroup):
    c = runner.start(["sleep", "3600"], cgroup_path=str(test_cgroup))
    assert (test_cgroup / "cgroup.procs").read_text().split() == [str(c.pid)]
    c.stop()


def test_exit_code_and_nothing_left(runner):
    r = runner.run(["sh", "-c", "exit 7"])
    assert r.returncode == 7
    assert r.sync == ""
    # the runner fixture asserts no mount is left on the host; processes: the harness
    # and its PID namespace are gone once it returned.


def test_join_network_namespace_by_path(runner):
    # Like a second container of a pod: join the first one's network and ipc namespaces.
    first = runner.start(["sleep", "3600"])
    ns = [{"type": "network", "path": f"/proc/{first.pid}/ns/net"},
          {"type": "ipc", "path": f"/proc/{first.pid}/ns/ipc"}]
    r = runner.run(["sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc"],
                   extra_namespaces=ns)
    assert r.stdout.split() == [os.readlink(f"/proc/{first.pid}/ns/net"),
                                os.readlink(f"/proc/{first.pid}/ns/ipc")], r
    first.stop()


def test_terminal_is_refused(runner):
    r = runner.run(["true"], terminal=True)
    assert r.returncode == 128
    assert r.sync_error["step"] == "check-config"


def test_started_like_pause_in_a_fresh_mount_namespace(runner):
    # pause clones with CLONE_NEWPID|CLONE_NEWNS; the host's mounts may be shared there.
    r = runner.run(["sh", "-c", "cat /proc/1/cmdline; echo; grep -c . /proc/mounts"],
                   mount_ns=True)
    assert r.returncode == 0, r
    assert r.stdout.startswith("sh")


def test_stopped_container_leaves_no_process(runner):
    c = runner.start(["sh", "-c", "sleep 3600 & sleep 3600"])
    deadline = time.monotonic() + 5
    while not (kids := Path(f"/proc/{c.pid}/task/{c.pid}/children").read_text().split()):
        assert time.monotonic() < deadline, "sh started no children"
        time.sleep(0.01)
    c.stop()
    for pid in [c.pid, *kids]:
        assert not Path(f"/proc/{pid}").exists()
