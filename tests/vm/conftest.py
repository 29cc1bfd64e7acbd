"""Fixtures for the tests that need a pure cgroup v2 host (run inside the test VM).

`rt`: podrun's runtime (pause, init helper, cgroups) over a throwaway cgroup root
<mount>/podrun-vmtest-<random> and run/root directories under /var/tmp; everything it made
is removed after the test, also on failure, and the test fails if anything is left.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.runtime.cgroups import CgroupManager, Layout, detect_host
from podrun.runtime.runtime import Runtime
from tests.support import TEST_TMP
from tests.vm.vmsupport import FULL_V2_REASON, full_cgroup_v2


@pytest.fixture(scope="session")
def full_v2() -> None:
    if not full_cgroup_v2():
        pytest.skip(FULL_V2_REASON)


@pytest.fixture
def cgroups(full_v2: None) -> Iterator[CgroupManager]:
    host = detect_host()
    assert host.layout is Layout.UNIFIED and host.mountpoint is not None
    # podrun never enables controllers above its root (docs/cgroups.md); the host's admin
    # does. systemd enables at the top only what some unit needs (often not cpu), so the
    # test does the admin's part at the root cgroup.
    top = host.mountpoint / "cgroup.subtree_control"
    for c in ("cpu", "memory", "pids"):
        if c not in top.read_text().split():
            top.write_text(f"+{c}")
    mgr = CgroupManager(host.mountpoint / f"podrun-vmtest-{uuid.uuid4().hex[:8]}",
                        mountpoint=host.mountpoint, layout=host.layout)
    enabled = mgr.setup()
    assert {"cpu", "memory", "pids"} <= enabled, enabled
    try:
        yield mgr
    finally:
        for uid in mgr.list_pods():
            try:
                mgr.remove_pod(uid)
            except Exception:  # noqa: BLE001 - keep cleaning; the assert below reports it
                pass
        mgr.remove_root()
        assert not mgr.root.exists(), f"cgroup root left behind: {mgr.root}"


@pytest.fixture
def rt(cgroups: CgroupManager) -> Iterator[Runtime]:
    base = Path(tempfile.mkdtemp(prefix="podrun-vmtest-", dir=TEST_TMP))
    runtime = Runtime(base / "run", base / "root", cgroups=cgroups)
    try:
        yield runtime
    finally:
        for sb in runtime.list_sandboxes():
            try:
                runtime.remove_sandbox(sb.id)
            except Exception:  # noqa: BLE001 - keep cleaning
                pass
        leftovers = [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
                     if str(base) in line]
        shutil.rmtree(base, ignore_errors=True)
        assert not leftovers, f"mounts left behind: {leftovers}"
