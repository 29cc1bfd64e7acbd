"""The container's mount list: OCI defaults, mount-option parsing, path joins inside a rootfs.

Pure except `secure_join` (reads symlinks). Stdlib-only: the init helper imports it.
"""

from __future__ import annotations

import os

from podrun.runtime import syscalls as S

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# containerd/runc defaults (containerd pkg/oci/mounts.go, oci.populateDefaultUnixSpec).
DEFAULT_MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)
DEFAULT_READONLY_PATHS = (
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)

# OCI default device nodes: (name, type, major, minor), all mode 0666 owned by root.
DEFAULT_DEVICES = (
    ("null", "c", 1, 3), ("zero", "c", 1, 5), ("full", "c", 1, 7),
    ("random", "c", 1, 8), ("urandom", "c", 1, 9), ("tty", "c", 5, 0),
)
DEFAULT_DEV_SYMLINKS = (
    ("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"), ("/proc/kcore", "core"), ("pts/ptmx", "ptmx"),
)

_FLAGS: dict[str, tuple[bool, int]] = {  # option -> (clear?, flag)
    "ro": (False, S.MS_RDONLY), "rw": (True, S.MS_RDONLY),
    "nosuid": (False, S.MS_NOSUID), "suid": (True, S.MS_NOSUID),
    "nodev": (False, S.MS_NODEV), "dev": (True, S.MS_NODEV),
    "noexec": (False, S.MS_NOEXEC), "exec": (True, S.MS_NOEXEC),
    "sync": (False, S.MS_SYNCHRONOUS), "async": (True, S.MS_SYNCHRONOUS),
    "dirsync": (False, S.MS_DIRSYNC), "remount": (False, S.MS_REMOUNT),
    "mand": (False, S.MS_MANDLOCK), "nomand": (True, S.MS_MANDLOCK),
    "atime": (True, S.MS_NOATIME), "noatime": (False, S.MS_NOATIME),
    "diratime": (True, S.MS_NODIRATIME), "nodiratime": (False, S.MS_NODIRATIME),
    "relatime": (False, S.MS_RELATIME), "norelatime": (True, S.MS_RELATIME),
    "strictatime": (False, S.MS_STRICTATIME), "nostrictatime": (True, S.MS_STRICTATIME),
    "nosymfollow": (False, S.MS_NOSYMFOLLOW),
    "bind": (False, S.MS_BIND), "rbind": (False, S.MS_BIND | S.MS_REC),
}
_PROPAGATION = {
    "private": S.MS_PRIVATE, "rprivate": S.MS_PRIVATE | S.MS_REC,
    "shared": S.MS_SHARED, "rshared": S.MS_SHARED | S.MS_REC,
    "slave": S.MS_SLAVE, "rslave": S.MS_SLAVE | S.MS_REC,
    "unbindable": S.MS_UNBINDABLE, "runbindable": S.MS_UNBINDABLE | S.MS_REC,
}
_IGNORED = {"tmpcopyup", "defaults"}

# statvfs f_flag bits -> mount flags, to keep a mount's flags across a bind remount.
_ST_TO_MS = ((1, S.MS_RDONLY), (2, S.MS_NOSUID), (4, S.MS_NODEV), (8, S.MS_NOEXEC),
             (16, S.MS_SYNCHRONOUS), (64, S.MS_MANDLOCK), (1024, S.MS_NOATIME),
             (2048, S.MS_NODIRATIME), (4096, S.MS_RELATIME))


class MountOptions:
    """One OCI mount's options split into mount(2) flags, propagation flags and fs data."""

    __slots__ = ("flags", "propagation", "data", "unsupported")

    def __init__(self, flags: int, propagation: list[int], data: str,
                 unsupported: list[str]) -> None:
        self.flags = flags
        self.propagation = propagation
        self.data = data
        self.unsupported = unsupported

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & S.MS_BIND)

    def __repr__(self) -> str:
        return (f"MountOptions(flags={self.flags:#x}, propagation={self.propagation}, "
                f"data={self.data!r}, unsupported={self.unsupported})")


def parse_options(options: list[str] | tuple[str, ...], mount_type: str = "") -> MountOptions:
    flags = 0
    propagation: list[int] = []
    data: list[str] = []
    unsupported: list[str] = []
    for opt in options:
        if opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt in _PROPAGATION:
            propagation.append(_PROPAGATION[opt])
        elif opt in _IGNORED:
            continue
        elif opt in ("idmap", "ridmap") or opt.startswith("X-"):
            unsupported.append(opt)
        else:
            data.append(opt)
    if mount_type == "bind":
        flags |= S.MS_BIND
    return MountOptions(flags, propagation, ",".join(data), unsupported)


def statvfs_to_mount_flags(f_flag: int) -> int:
    return sum(ms for st, ms in _ST_TO_MS if f_flag & st)


def default_mounts(*, shm_source: str | None = None, privileged: bool = False,
                   shm_size: str = "65536k") -> list[dict[str, Any]]:
    """The OCI/containerd default mounts, in mount order.

    `shm_source` is the pod's shared /dev/shm (bind-mounted; Kubernetes shares it through
    the pod); without it a private 64 MiB tmpfs is used. Privileged containers get /sys
    read-write, as containerd does.
    """
    sys_ro = [] if privileged else ["ro"]
    shm = ({"destination": "/dev/shm", "type": "bind", "source": shm_source,
            "options": ["rbind", "nosuid", "nodev", "noexec"]} if shm_source else
           {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"]})
    return [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                     "gid=5"]},
        shm,
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", *sys_ro]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup2", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", *sys_ro]},
    ]


def bind_mount(source: str, destination: str, *, readonly: bool = False,
               propagation: str | None = None) -> dict[str, Any]:
    """An OCI bind mount entry (volumes, /etc/hosts, /dev/termination-log...)."""
    opts = ["rbind", "ro" if readonly else "rw"]
    if propagation:
        opts.append(propagation)
    return {"destination": destination, "type": "bind", "source": source, "options": opts}


# ---- mount propagation ---------------------------------------------------------------------

ROOTFS_PROPAGATION = ("rprivate", "rslave", "rshared")  # linux.rootfsPropagation we accept


def rootfs_propagation_flags(value: str | None) -> int:
    """linux.rootfsPropagation -> the flags the helper applies to `/` (always recursive:
    a non-recursive form would leave the host's shared mounts shared below the root).
    Default rprivate. Raises ValueError for unbindable or an unknown word."""
    word = value or "rprivate"
    if word.lstrip("r") not in ("private", "slave", "shared"):
        raise ValueError(f"rootfsPropagation {value!r} is not supported "
                         f"(one of {', '.join(ROOTFS_PROPAGATION)})")
    return _PROPAGATION[word] | S.MS_REC


def rootfs_propagation(mounts: list[dict[str, Any]]) -> str | None:
    """containerd's CRI rule for linux.rootfsPropagation: rshared when a mount is
    (r)shared (Bidirectional), else rslave when one is (r)slave (HostToContainer), else
    unset (the helper's default, rprivate)."""
    opts = {o for m in mounts for o in m.get("options") or ()}
    if opts & {"shared", "rshared"}:
        return "rshared"
    if opts & {"slave", "rslave"}:
        return "rslave"
    return None


class MountInfo:
    """One line of /proc/<pid>/mountinfo (the fields propagation decisions need)."""

    __slots__ = ("mount_id", "parent_id", "mount_point", "optional")

    def __init__(self, mount_id: int, parent_id: int, mount_point: str,
                 optional: tuple[str, ...]) -> None:
        self.mount_id = mount_id
        self.parent_id = parent_id
        self.mount_point = mount_point
        self.optional = optional

    @property
    def shared(self) -> bool:
        return any(o.startswith("shared:") for o in self.optional)

    @property
    def slave(self) -> bool:
        return any(o.startswith("master:") for o in self.optional)

    def __repr__(self) -> str:
        return (f"MountInfo({self.mount_id}, {self.parent_id}, {self.mount_point!r}, "
                f"{' '.join(self.optional)!r})")


def unescape_mountinfo(s: str) -> str:
    r"""Undo the kernel's octal escapes (\040 for a space...) in a mountinfo path."""
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1:i + 4].isdigit() and len(s[i + 1:i + 4]) == 3:
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def mounts_under(prefix: object) -> list[str]:
    """Mount points at or below `prefix` in this mount namespace, deepest first."""
    p = str(prefix).rstrip("/")
    try:
        with open("/proc/self/mountinfo") as f:
            text = f.read()
    except OSError:
        return []
    found = set()
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            mp = unescape_mountinfo(fields[4])
            if mp == p or mp.startswith(p + "/"):
                found.add(mp)
    return sorted(found, key=lambda m: (-m.count("/"), m))


def parse_mountinfo(text: str) -> list[MountInfo]:
    out = []
    for line in text.splitlines():
        f = line.split(" ")
        if len(f) < 7:
            continue
        try:
            sep = f.index("-", 6)
        except ValueError:
            continue
        out.append(MountInfo(int(f[0]), int(f[1]), unescape_mountinfo(f[4]),
                             tuple(f[6:sep])))
    return out


def mount_containing(path: str, infos: list[MountInfo]) -> MountInfo | None:
    """The mount `path` (absolute, symlinks resolved) lies on: the deepest mount point at or
    above it, and of mounts stacked there the top one (not the parent of another)."""
    best = ""
    for m in infos:
        mp = m.mount_point
        if (mp == path or mp == "/" or path.startswith(mp.rstrip("/") + "/")) \
                and len(mp) > len(best):
            best = mp
    if not best:
        return None
    stack = [m for m in infos if m.mount_point == best]
    parents = {m.parent_id for m in stack}
    top = [m for m in stack if m.mount_id not in parents]
    return (top or stack)[-1]


class EscapesRoot(OSError):
    pass


def secure_join(root: str, path: str, *, max_links: int = 255) -> str:
    """root + path with every symlink resolved as if `root` were "/" (never leaving it).

    Like filepath-securejoin: a link to "/etc" inside the rootfs resolves to <root>/etc,
    and ".." stops at root. Missing components are kept as they are.
    """
    root = os.path.abspath(root)
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root + "/" + "/".join(resolved + [part])
        try:
            target = os.readlink(candidate)
        except OSError:  # not a link, or missing: take it as is
            resolved.append(part)
            continue
        links += 1
        if links > max_links:
            raise EscapesRoot(40, f"too many levels of symbolic links in {path}", path)
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return root + ("/" + "/".join(resolved) if resolved else "")
