"""The narrow syscall layer of the runtime: ctypes wrappers for what Python 3.11's os lacks.

Stdlib-only and cheap to import: the init and exec helpers load it in a `python -I -S`
interpreter. Every wrapper raises OSError(errno, message, path) on failure.
"""

from __future__ import annotations

import os

# not `import ctypes`: its import is a tenth of the init helper's start (ctypes_lite says why)
from podrun.runtime import ctypes_lite as ctypes

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# Syscall numbers glibc may not wrap (or wraps only in newer versions), per architecture.
_NR = {
    "x86_64": {"pivot_root": 155, "capget": 125, "capset": 126, "close_range": 436,
               "pidfd_open": 434, "pidfd_send_signal": 424},
    "aarch64": {"pivot_root": 41, "capget": 90, "capset": 91, "close_range": 436,
                "pidfd_open": 434, "pidfd_send_signal": 424},
}[os.uname().machine]

# mount(2) flags
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 0x2

# namespaces
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
NAMESPACE_FLAGS = {
    "mount": CLONE_NEWNS, "cgroup": CLONE_NEWCGROUP, "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC, "user": CLONE_NEWUSER, "pid": CLONE_NEWPID, "network": CLONE_NEWNET,
    "time": CLONE_NEWTIME,
}

# prctl(2)
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

CLOSE_RANGE_CLOEXEC = 1 << 2
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _check(ret: int, what: str, path: str | None = None) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return ret


def _b(s: str | bytes | None) -> bytes | None:
    return s.encode() if isinstance(s, str) else s


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
           f"mount {source or fstype} on {target}", target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), f"umount {target}", target)


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.syscall(_NR["pivot_root"], _b(new_root), _b(put_old)), "pivot_root", new_root)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def sethostname(name: str) -> None:
    b = name.encode()
    _check(_libc.sethostname(b, len(b)), "sethostname")


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    return _check(_libc.prctl(option, ctypes.c_ulong(a2), ctypes.c_ulong(a3),
                              ctypes.c_ulong(a4), ctypes.c_ulong(a5)), f"prctl({option})")


def close_range_cloexec(first: int) -> None:
    """Mark every fd >= first close-on-exec in one syscall (kernel 5.11+)."""
    if _libc.syscall(_NR["close_range"], ctypes.c_uint(first), ctypes.c_uint(0xFFFFFFFF),
                     ctypes.c_uint(CLOSE_RANGE_CLOEXEC)) == 0:
        return
    if ctypes.get_errno() not in (38, 22):  # ENOSYS (< 5.9), EINVAL (no CLOEXEC, < 5.11)
        _check(-1, "close_range")
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the listing's own fd, already closed


TIOCSCTTY = 0x540E


def ioctl_int(fd: int, request: int, arg: int) -> int:
    return _check(_libc.ioctl(fd, ctypes.c_ulong(request), ctypes.c_long(arg)),
                  f"ioctl({request:#x})")


def pidfd_open(pid: int) -> int:
    return _check(_libc.syscall(_NR["pidfd_open"], pid, 0), "pidfd_open")


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    _check(_libc.syscall(_NR["pidfd_send_signal"], pidfd, sig, None, 0), "pidfd_send_signal")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def capget() -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of this thread as 64-bit masks."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.syscall(_NR["capget"], ctypes.byref(hdr), ctypes.byref(data)), "capget")
    return tuple(getattr(data[0], f) | (getattr(data[1], f) << 32)
                 for f in ("effective", "permitted", "inheritable"))


def capset(effective: int, permitted: int, inheritable: int) -> None:
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in (0, 1):
        data[i].effective = (effective >> (32 * i)) & 0xFFFFFFFF
        data[i].permitted = (permitted >> (32 * i)) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> (32 * i)) & 0xFFFFFFFF
    _check(_libc.syscall(_NR["capset"], ctypes.byref(hdr), ctypes.byref(data)), "capset")


def cap_last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
            return int(f.read())
    except OSError:
        return 40


def mknod(path: str, mode: int, major: int, minor: int) -> None:
    os.mknod(path, mode, os.makedev(major, minor))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def seccomp_load_bpf(program: bytes) -> None:
    """Install a compiled classic-BPF seccomp program (struct sock_filter[]) on this thread."""
    if not program or len(program) % 8:
        raise OSError(22, "seccomp: BPF program size is not a multiple of 8")
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0),
           "seccomp: loading the filter")
