"""Shared test helpers: a busybox-static root filesystem and privilege checks."""

from __future__ import annotations

import os
from pathlib import Path

from podrun.image.scratch import busybox_rootfs

BUSYBOX = "/bin/busybox"
TEST_TMP = Path("/var/tmp")


def is_root() -> bool:
    return os.geteuid() == 0


def make_busybox_rootfs(dest: Path) -> Path:
    """A minimal image-like root filesystem: busybox-static and its applets, /etc/passwd."""
    return busybox_rootfs(dest)
