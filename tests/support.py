"""Shared test helpers: a busybox-static root filesystem and privilege checks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BUSYBOX = "/bin/busybox"
TEST_TMP = Path("/var/tmp")


def is_root() -> bool:
    return os.geteuid() == 0


def make_busybox_rootfs(dest: Path) -> Path:
    """A minimal image-like root filesystem: busybox-static and its applets, /etc/passwd."""
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "root", "home/user",
              "proc", "sys", "dev", "var/tmp"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    shutil.copy2(BUSYBOX, dest / "bin/busybox")
    applets = subprocess.run([BUSYBOX, "--list-full"], check=True, capture_output=True,
                             text=True).stdout.split()
    for applet in applets:
        link = dest / applet
        if not link.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/bin/busybox")
    (dest / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "user:x:1000:1000:user:/home/user:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (dest / "etc/group").write_text(
        "root:x:0:\nuser:x:1000:\nusers:x:100:user\nnogroup:x:65534:\n")
    return dest
