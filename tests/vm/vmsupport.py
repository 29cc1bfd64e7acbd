"""Helpers shared by the VM tests (guest side) and the host-side stage test."""

from __future__ import annotations

from pathlib import Path

CGROUP2 = Path("/sys/fs/cgroup")
NEEDED = ("cpu", "memory", "pids")
FULL_V2_REASON = ("needs a pure cgroup v2 host with the cpu, memory and pids controllers "
                  "(this host has hybrid or v1 cgroups): run tests/vm/run")


def full_cgroup_v2(mount: Path = CGROUP2) -> bool:
    """cgroup2 mounted at /sys/fs/cgroup with cpu, memory and pids available."""
    try:
        controllers = (mount / "cgroup.controllers").read_text().split()
    except OSError:
        return False
    return all(c in controllers for c in NEEDED)


def pid1_is_systemd() -> bool:
    try:
        return Path("/proc/1/comm").read_text().strip() == "systemd"
    except OSError:
        return False
