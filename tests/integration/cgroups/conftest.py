"""Fixtures for the cgroup and stop tests: a throwaway root in the host's cgroup v2 tree.

Each test gets <v2 mount>/podrun-test-<random>/ (on a hybrid host under
/sys/fs/cgroup/unified). Teardown SIGKILLs what the test started, kills and removes the
whole test root bottom-up, also after a failure, and fails the test if anything is left.
Nothing outside the test root is written.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from podrun.runtime.cgroups import CgroupFS, CgroupHost, CgroupManager, Layout, detect_host

BUSYBOX = "/bin/busybox"
NEEDS_V2_MEMORY = "needs the memory controller in cgroup v2 (run in tests/vm)"


@pytest.fixture(scope="session")
def cgroup_host() -> CgroupHost:
    host = detect_host()
    if host.layout is Layout.NONE or host.mountpoint is None:
        pytest.skip("no cgroup v2 hierarchy mounted on this host")
    return host


def _teardown(root: Path) -> list[str]:
    """Kill and remove everything under the test root; return what could not be removed."""
    fs = CgroupFS()
    problems: list[str] = []
    if not root.exists():
        return problems
    dirs = sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    for d in [*dirs, root]:
        kill = d / "cgroup.kill"
        if kill.exists():
            try:
                fs.write(kill, "1")
            except OSError as e:
                problems.append(f"{kill}: {e}")
    for d in [*dirs, root]:
        for _ in range(200):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)
        else:
            problems.append(f"could not remove {d}")
    return problems


@pytest.fixture
def cg(cgroup_host: CgroupHost) -> Iterator[CgroupManager]:
    """A CgroupManager whose root is a fresh test cgroup, set up and torn down."""
    assert cgroup_host.mountpoint is not None
    root = cgroup_host.mountpoint / f"podrun-test-{uuid.uuid4().hex[:12]}"
    mgr = CgroupManager(root, mountpoint=cgroup_host.mountpoint, layout=cgroup_host.layout)
    try:
        mgr.setup()
        yield mgr
    finally:
        problems = _teardown(root)
        assert not problems, problems
        assert not root.exists()


Spawn = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start a command already inside a cgroup (it joins before exec, so its first fork is
    inside too). Teardown SIGKILLs and reaps whatever it started that is still alive."""
    started: list[subprocess.Popen[bytes]] = []

    def run(cgroup: Path, *argv: str) -> subprocess.Popen[bytes]:
        procs = str(cgroup / "cgroup.procs")

        def join() -> None:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)

        p = subprocess.Popen(list(argv), preexec_fn=join, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(p)
        return p

    yield run
    for p in started:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)


@pytest.fixture
def memory_v2(cg: CgroupManager) -> CgroupManager:
    """The test root, if it has the memory controller; else the test is skipped."""
    if "memory" not in cg.setup():
        pytest.skip(NEEDS_V2_MEMORY)
    return cg
