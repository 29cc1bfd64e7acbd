"""Linux capability names and the container capability sets (containerd's defaults).

Pure: `container_capabilities` maps a Kubernetes securityContext onto OCI capability lists;
the helpers turn OCI names into bit masks. Stdlib-only (the init helper imports it).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # collections.abc costs ~2.5 ms of the helper's start
    from collections.abc import Iterable

# Index = capability number (linux/capability.h).
CAPABILITY_NAMES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
    "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",
    "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE",
    "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
    "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
    "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
CAPABILITY_NUMBERS = {name: i for i, name in enumerate(CAPABILITY_NAMES)}

# containerd's default set (pkg/oci/spec.go defaultUnixCaps), in containerd's order.
DEFAULT_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)
DEFAULT_CAP_MASK = 0xA80425FB  # CapEff of a root container with the defaults

OCI_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


class UnknownCapability(ValueError):
    """A capability name that is not a Linux capability."""


def normalize(name: str) -> str:
    """Kubernetes style ("NET_ADMIN", "net_admin", "CAP_NET_ADMIN") -> "NET_ADMIN"."""
    n = name.strip().upper()
    return n[4:] if n.startswith("CAP_") else n


def container_capabilities(privileged: bool = False, add: Iterable[str] = (),
                           drop: Iterable[str] = ()) -> dict[str, list[str]]:
    """OCI process.capabilities for a container, as containerd's CRI plugin computes them.

    Privileged: every capability. Otherwise the default 14, then `drop` (with "ALL" dropping
    everything), then `add` (with "ALL" adding everything): containerd applies drops before
    adds, so `drop: [ALL], add: [NET_ADMIN]` yields just NET_ADMIN. Inheritable and ambient
    stay empty, as in containerd (so a non-root user ends with no effective capabilities).
    """
    add = [normalize(c) for c in add]
    drop = [normalize(c) for c in drop]
    for c in (*add, *drop):
        if c != "ALL" and c not in CAPABILITY_NUMBERS:
            raise UnknownCapability(f"unknown capability {c!r}")
    if privileged:
        caps = list(CAPABILITY_NAMES)
    else:
        caps = list(DEFAULT_CAPABILITIES)
        if "ALL" in drop:
            caps = []
        else:
            caps = [c for c in caps if c not in drop]
        if "ALL" in add:
            caps = list(CAPABILITY_NAMES)
        else:
            caps += [c for c in add if c not in caps]
    oci = ["CAP_" + c for c in caps]
    return {"bounding": list(oci), "effective": list(oci), "permitted": list(oci),
            "inheritable": [], "ambient": []}


def to_mask(names: Iterable[str], last_cap: int = len(CAPABILITY_NAMES) - 1) -> int:
    """OCI names -> bit mask; names beyond the kernel's last capability are left out."""
    mask = 0
    for name in names:
        n = normalize(name)
        if n not in CAPABILITY_NUMBERS:
            raise UnknownCapability(f"unknown capability {name!r}")
        bit = CAPABILITY_NUMBERS[n]
        if bit <= last_cap:
            mask |= 1 << bit
    return mask


def from_mask(mask: int) -> list[str]:
    return ["CAP_" + n for i, n in enumerate(CAPABILITY_NAMES) if mask >> i & 1]
