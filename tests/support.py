"""Shared test helpers: a busybox-static root filesystem and privilege checks."""

from __future__ import annotations

import os
from pathlib import Path

from podrun.image.scratch import busybox_rootfs

BUSYBOX = "/bin/busybox"
TEST_TMP = Path("/var/tmp")
# `tests/run --full` sets PODRUN_FULL=1 (and PODRUN_FUZZ_EXAMPLES=10000)
FULL = os.environ.get("PODRUN_FULL") == "1"


def fuzz_examples(default: int) -> int:
    """Hypothesis examples of a fuzz test: `default` keeps CI short; the full mode asks for
    PODRUN_FUZZ_EXAMPLES (10,000) so every fuzzer sees at least that many inputs."""
    want = int(os.environ.get("PODRUN_FUZZ_EXAMPLES") or 0)
    return max(default, want)


def is_root() -> bool:
    return os.geteuid() == 0


def make_busybox_rootfs(dest: Path) -> Path:
    """A minimal image-like root filesystem: busybox-static and its applets, /etc/passwd."""
    return busybox_rootfs(dest)
