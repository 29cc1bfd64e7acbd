"""Mount options, default mounts, and joins that never leave the rootfs."""

from __future__ import annotations

import os

from podrun.runtime import mounts as M
from podrun.runtime import syscalls as S


def test_parse_options():
    o = M.parse_options(["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"], "devpts")
    assert o.flags == S.MS_NOSUID | S.MS_NOEXEC
    assert o.data == "newinstance,ptmxmode=0666,mode=0620,gid=5"
    assert not o.is_bind


def test_parse_bind_options():
    o = M.parse_options(["rbind", "ro", "rprivate"])
    assert o.is_bind
    assert o.flags == S.MS_BIND | S.MS_REC | S.MS_RDONLY
    assert o.propagation == [S.MS_PRIVATE | S.MS_REC]
    assert M.parse_options(["rw"], "bind").flags == S.MS_BIND
    assert M.parse_options(["ro", "rw"]).flags == 0


def test_unsupported_options_are_reported():
    assert M.parse_options(["idmap"]).unsupported == ["idmap"]


def test_statvfs_flags():
    assert M.statvfs_to_mount_flags(1 | 2 | 4 | 8 | 4096) == (
        S.MS_RDONLY | S.MS_NOSUID | S.MS_NODEV | S.MS_NOEXEC | S.MS_RELATIME)


def test_default_mounts_order_and_shm():
    ms = M.default_mounts()
    assert [m["destination"] for m in ms] == ["/proc", "/dev", "/dev/pts", "/dev/shm",
                                              "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
    assert "ro" in ms[5]["options"]
    shared = M.default_mounts(shm_source="/run/podrun/pod/shm", privileged=True)
    assert shared[3] == {"destination": "/dev/shm", "type": "bind",
                         "source": "/run/podrun/pod/shm",
                         "options": ["rbind", "nosuid", "nodev", "noexec"]}
    assert "ro" not in shared[5]["options"]


def test_secure_join_keeps_symlinks_inside(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "real").mkdir()
    os.symlink("/real", root / "abs")
    os.symlink("../../../../real", root / "etc" / "rel")
    os.symlink("/etc/loop", root / "etc" / "loop")
    r = str(root)
    assert M.secure_join(r, "/etc/hosts") == f"{r}/etc/hosts"
    assert M.secure_join(r, "/abs/x") == f"{r}/real/x"
    assert M.secure_join(r, "/etc/rel/x") == f"{r}/real/x"
    assert M.secure_join(r, "/../../etc/passwd") == f"{r}/etc/passwd"
    assert M.secure_join(r, "/") == r
    try:
        M.secure_join(r, "/etc/loop/x")
    except M.EscapesRoot:
        pass
    else:
        raise AssertionError("symlink loop not detected")
