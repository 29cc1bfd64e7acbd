"""Seccomp: containerd's RuntimeDefault profile as an OCI object, and loading OCI profiles.

`runtime_default(bounding)` is pure (the daemon puts its result into the container config);
`load(profile)` runs in the init/exec helper and installs the filter through libseccomp
(ctypes, mode 2). Stdlib-only.
"""

from __future__ import annotations

import ctypes
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# containerd contrib/seccomp/seccomp_default.go (DefaultProfile), read at containerd commit
# 96929a5d: the unconditional allowlist. Later containerd releases added the names in
# _LATER_ADDITIONS (same source file, newer revisions; all harmless, needed by newer libcs).
_ALLOWED = (
    "accept", "accept4", "access", "alarm", "bind", "brk", "capget", "capset", "chdir",
    "chmod", "chown", "chown32", "clock_getres", "clock_getres_time64", "clock_gettime",
    "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "connect",
    "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_wait", "epoll_wait_old", "eventfd",
    "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2",
    "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
    "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr",
    "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64",
    "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
    "futex_time64", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
    "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
    "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
    "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
    "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
    "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
    "io_setup", "io_submit", "ipc", "kill", "lchown", "lchown32", "lgetxattr", "link",
    "linkat", "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek",
    "lsetxattr", "lstat", "lstat64", "madvise", "memfd_create", "mincore", "mkdir", "mkdirat",
    "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect",
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
    "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget",
    "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap", "nanosleep",
    "newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pipe", "pipe2",
    "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "prlimit64", "pselect6",
    "pselect6_time64", "pwrite64", "pwritev", "read", "readahead", "readlink", "readlinkat",
    "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
    "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall",
    "rmdir", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
    "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
    "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
    "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32",
    "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
    "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
    "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list",
    "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32",
    "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
    "signalfd4", "sigprocmask", "sigreturn", "socket", "socketcall", "socketpair", "splice",
    "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "syslog", "tee", "tgkill", "time",
    "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
    "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
    "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill",
    "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime",
    "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid",
    "waitpid", "write", "writev",
)
_LATER_ADDITIONS = (
    "close_range", "epoll_pwait2", "futex_waitv", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "membarrier", "pidfd_open",
    "pidfd_send_signal", "process_mrelease", "rseq",
)
_BY_ARCH = {
    "x86_64": (["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
               ("arch_prctl", "modify_ldt")),
    "aarch64": (["SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"],
                ("arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush",
                 "set_tls")),
}
# Capability -> syscalls allowed when the capability is in the bounding set.
_BY_CAPABILITY = {
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
    "CAP_SYS_ADMIN": ("bpf", "clone", "clone3", "fanotify_init", "lookup_dcookie", "mount",
                      "name_to_handle_at", "perf_event_open", "setdomainname", "sethostname",
                      "setns", "umount", "umount2", "unshare"),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_CHROOT": ("chroot",),
    "CAP_SYS_MODULE": ("delete_module", "init_module", "finit_module", "query_module"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_PTRACE": ("kcmp", "pidfd_getfd", "process_vm_readv", "process_vm_writev",
                       "ptrace"),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_TIME": ("settimeofday", "stime", "adjtimex"),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
}
_CLONE_NS_FLAGS = 0x7E020000  # NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP
EPERM = 1
ENOSYS = 38


def runtime_default(bounding: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """containerd's RuntimeDefault profile for a container with this bounding set (OCI)."""
    arches, arch_calls = _BY_ARCH.get(os.uname().machine, ([], ()))
    syscalls: list[dict[str, Any]] = [
        {"names": sorted(set(_ALLOWED + _LATER_ADDITIONS + arch_calls)),
         "action": "SCMP_ACT_ALLOW"},
    ]
    for value in (0x0, 0x0008, 0xFFFFFFFF):
        syscalls.append({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 0, "value": value, "op": "SCMP_CMP_EQ"}]})
    admin = "CAP_SYS_ADMIN" in bounding
    for cap in bounding:
        if cap in _BY_CAPABILITY:
            syscalls.append({"names": list(_BY_CAPABILITY[cap]), "action": "SCMP_ACT_ALLOW"})
    if not admin:
        # clone without namespace flags only; clone3 cannot be filtered on its flags (they
        # are behind a pointer), so it fails with ENOSYS and libcs fall back to clone.
        index = 1 if os.uname().machine.startswith("s390") else 0
        syscalls.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": index, "value": _CLONE_NS_FLAGS, "valueTwo": 0,
                                   "op": "SCMP_CMP_MASKED_EQ"}]})
        syscalls.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO",
                         "errnoRet": ENOSYS})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": EPERM,
            "architectures": list(arches), "syscalls": syscalls}


# ---- loading (helper side) ------------------------------------------------------------

_ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000, "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
        "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
_SCMP_FLTATR_CTL_NNP = 3
_SCMP_FLTATR_CTL_OPTIMIZE = 8


class SeccompError(OSError):
    pass


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _action(name: str, errno_ret: int | None, default_errno: int) -> int:
    if name not in _ACTIONS:
        raise SeccompError(22, f"unsupported seccomp action {name}")
    act = _ACTIONS[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        act |= (errno_ret if errno_ret is not None else default_errno) & 0xFFFF
    return act


_lib_cache: list[ctypes.CDLL] = []


def _lib() -> ctypes.CDLL:
    if _lib_cache:
        return _lib_cache[0]
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    _lib_cache.append(lib)
    return lib


class Filter:
    """An OCI seccomp object compiled by libseccomp, ready to load.

    Built before pivot_root (libseccomp lives on the host's filesystem), loaded later.
    Does not set no_new_privs (libseccomp's default): the caller decides, and without it
    loading needs CAP_SYS_ADMIN. Syscalls unknown on this kernel/arch are skipped, as runc
    does.
    """

    def __init__(self, profile: dict[str, Any]) -> None:
        lib = self.lib = _lib()
        default_errno = profile.get("defaultErrnoRet", EPERM)
        default = _action(profile.get("defaultAction", "SCMP_ACT_ALLOW"),
                          profile.get("defaultErrnoRet"), EPERM)
        self.ctx = lib.seccomp_init(default)
        if not self.ctx:
            raise SeccompError(12, "seccomp_init failed")
        try:
            self._build(profile, default, default_errno)
        except BaseException:
            self.release()
            raise

    def _build(self, profile: dict[str, Any], default: int, default_errno: int) -> None:
        lib, ctx = self.lib, self.ctx
        if lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_NNP, 0) < 0:
            raise SeccompError(22, "seccomp_attr_set(CTL_NNP) failed")
        # A binary tree of syscall numbers instead of a linear list: every syscall of the
        # container runs this filter (libseccomp >= 2.5; older ones keep the default).
        lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_OPTIMIZE, 2)
        for arch in profile.get("architectures") or ():
            token = lib.seccomp_arch_resolve_name(arch.lower().removeprefix("scmp_arch_")
                                                  .encode())
            if token == 0:
                raise SeccompError(22, f"unknown seccomp architecture {arch}")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and rc != -17:  # -EEXIST: the native arch is already there
                raise SeccompError(-rc, f"seccomp_arch_add {arch} failed")
        for rule in profile.get("syscalls") or ():
            act = _action(rule["action"], rule.get("errnoRet"), default_errno)
            if act == default:
                continue  # libseccomp refuses rules that repeat the default action
            args = rule.get("args") or []
            cmps = [_ArgCmp(a["index"], _OPS[a["op"]], a.get("value", 0),
                            a.get("valueTwo", 0)) for a in args]
            # Several conditions on the same argument can never all hold: runc turns
            # them into one rule per condition (OR); distinct arguments are ANDed.
            groups = ([[c] for c in cmps] if len({a["index"] for a in args}) < len(args)
                      else [cmps])
            for name in rule["names"]:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == -1:  # __NR_SCMP_ERROR: unknown on this arch
                    continue
                for group in groups:
                    arr = (_ArgCmp * max(len(group), 1))(*group)
                    rc = lib.seccomp_rule_add_array(ctx, act, nr, len(group), arr)
                    if rc < 0:
                        raise SeccompError(-rc, f"seccomp rule for {name} failed")

    def export_bpf(self) -> bytes:
        """The compiled classic-BPF program (struct sock_filter[], native byte order)."""
        fd = os.memfd_create("podrun-seccomp", os.MFD_CLOEXEC)
        try:
            self.lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
            rc = self.lib.seccomp_export_bpf(self.ctx, fd)
            if rc < 0:
                raise SeccompError(-rc, "seccomp_export_bpf failed")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while b := os.read(fd, 1 << 16):
                chunks.append(b)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def load(self) -> None:
        rc = self.lib.seccomp_load(self.ctx)
        if rc < 0:
            raise SeccompError(-rc, f"seccomp_load failed: {os.strerror(-rc)}")

    def release(self) -> None:
        if self.ctx:
            self.lib.seccomp_release(self.ctx)
            self.ctx = None


def load(profile: dict[str, Any]) -> None:
    """Install an OCI seccomp object as this thread's filter (seccomp mode 2)."""
    f = Filter(profile)
    try:
        f.load()
    finally:
        f.release()


def compile_bpf(profile: dict[str, Any]) -> bytes:
    """Compile an OCI seccomp object to the BPF program the kernel loads.

    libseccomp's compilation of RuntimeDefault costs ~15 ms; the daemon does it once per
    distinct profile (ocispec caches it) so a container start only hands the program over.
    """
    f = Filter(profile)
    try:
        return f.export_bpf()
    finally:
        f.release()


def load_bpf(program: bytes) -> None:
    """Install a compiled program (from compile_bpf) as this thread's filter."""
    from podrun.runtime.syscalls import seccomp_load_bpf
    seccomp_load_bpf(program)
