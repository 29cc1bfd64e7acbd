"""Fixtures for the init/exec helper tests: run a container from a busybox overlay.

A test harness (harness.py) stands in for pause: it unshares PID, net, ipc and uts
namespaces and forks the init helper as PID 1. The rootfs is an overlay over the shared
busybox rootfs that the helper mounts inside its own mount namespace, so nothing is
mounted on the host and the shared rootfs is never written.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from podrun.runtime.ocispec import build_config
from tests.support import TEST_TMP

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness.py"
INIT = HERE.parent.parent.parent / "podrun" / "runtime" / "init.py"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    sync: str  # what the helper wrote on the sync fd ("" = exec succeeded)

    @property
    def sync_error(self) -> dict[str, Any] | None:
        return json.loads(self.sync) if self.sync.strip() else None


@dataclass
class Container:
    harness: subprocess.Popen[bytes]
    pid: int  # host pid of the container's PID 1
    config: dict[str, Any]
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        if self.harness.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)  # PID 1: the whole namespace goes with it
            except ProcessLookupError:
                pass
            try:
                self.harness.wait(10)
            except subprocess.TimeoutExpired:
                self.harness.kill()
                self.harness.wait()


class Runner:
    """Builds configs over a fresh overlay per container and runs them under the harness."""

    def __init__(self, lower: Path, tmp: Path) -> None:
        self.lower = lower
        self.tmp = tmp
        self.n = 0
        self.started: list[Container] = []

    def config(self, args: list[str], *, extra_namespaces: list[dict[str, str]] = (),
               terminal: bool = False, **kw: Any) -> dict[str, Any]:
        """build_config over a fresh overlay; extra_namespaces and terminal edit the result
        (build_config has no parameter for them: the daemon never asks for either)."""
        self.n += 1
        d = self.tmp / f"c{self.n}"
        for sub in ("upper", "work", "merged"):
            (d / sub).mkdir(parents=True)
        kw.setdefault("overlay", {"lowerdirs": [str(self.lower)],
                                  "upperdir": str(d / "upper"), "workdir": str(d / "work")})
        config = build_config(args, rootfs=str(d / "merged"), **kw)
        config["linux"]["namespaces"] += list(extra_namespaces)
        config["process"]["terminal"] = terminal
        return config

    def _spawn(self, config: dict[str, Any], stdout: Any, stderr: Any,
               host_net: bool = False, mount_ns: bool = False
               ) -> tuple[subprocess.Popen[bytes], socket.socket]:
        ours, theirs = socket.socketpair()
        flags = ["--host-net"] * host_net + ["--mount-ns"] * mount_ns
        cmd = [sys.executable, str(HARNESS), *flags, "--",
               sys.executable, "-I", "-S", str(INIT), f"--sync-fd={theirs.fileno()}"]
        p = subprocess.Popen(cmd, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                             stdout=stdout, stderr=stderr)
        theirs.close()
        ours.sendall(json.dumps(config).encode() + b"\n")
        return p, ours

    def run(self, args: list[str], *, timeout: float = 20, host_net: bool = False,
            mount_ns: bool = False, **kw: Any) -> Result:
        config = self.config(args, **kw)
        p, sock = self._spawn(config, subprocess.PIPE, subprocess.PIPE, host_net, mount_ns)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)  # the harness kills its PID 1
            p.communicate()
            raise
        sync = _read_all(sock)
        return Result(p.returncode, out.decode(), err.decode(), sync.decode())

    def start(self, args: list[str], **kw: Any) -> Container:
        """A long-running container; returns once its command was exec'd."""
        config = self.config(args, **kw)
        p, sock = self._spawn(config, subprocess.DEVNULL, subprocess.DEVNULL)
        try:
            sync = _read_all(sock)
            if sync:
                p.wait(10)
                raise AssertionError(f"container did not start: {sync!r}")
            pid = _child_of(p.pid)
        except BaseException:
            p.send_signal(signal.SIGTERM)  # the harness kills its PID 1
            p.wait(10)
            raise
        c = Container(p, pid, config)
        self.started.append(c)
        return c

    def stop_all(self) -> None:
        for c in self.started:
            c.stop()


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    sock.settimeout(20)
    try:
        while b := sock.recv(65536):
            data += b
    finally:
        sock.close()
    return data


def _child_of(ppid: int) -> int:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for task in os.listdir(f"/proc/{ppid}/task"):
            try:
                kids = Path(f"/proc/{ppid}/task/{task}/children").read_text().split()
            except OSError:
                kids = []
            if kids:
                return int(kids[0])
        time.sleep(0.01)
    raise AssertionError(f"harness {ppid} has no child")


def host_mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if str(path) in line]


@pytest.fixture
def runner(busybox_rootfs: Path) -> Iterator[Runner]:
    tmp = Path(tempfile.mkdtemp(prefix="podrun-test-init-", dir=TEST_TMP))
    r = Runner(busybox_rootfs, tmp)
    try:
        yield r
    finally:
        r.stop_all()
        leaked = host_mounts_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        assert not leaked, f"mounts leaked onto the host: {leaked}"


@pytest.fixture
def test_cgroup() -> Iterator[Path]:
    """A cgroup v2 directory of our own (removed after; its processes must be gone)."""
    base = Path("/sys/fs/cgroup/unified")
    if not (base / "cgroup.procs").exists():
        base = Path("/sys/fs/cgroup")
    if not (base / "cgroup.procs").exists():
        pytest.skip("no cgroup v2 hierarchy mounted")
    cg = base / f"podrun-test-{os.getpid()}-{time.monotonic_ns()}"
    cg.mkdir()
    try:
        yield cg
    finally:
        deadline = time.monotonic() + 5
        while (cg / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.02)
        cg.rmdir()
