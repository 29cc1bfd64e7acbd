"""Fixtures for pause tests: a run directory under /var/tmp and pods that are always torn
down, also when a test fails (SIGTERM, then SIGKILL: the kernel kills the pod PID ns)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from podrun.runtime.pause import PauseHandle, launch_pause, wait_for_pidfd
from tests.integration.pause.pause_support import pause_binary
from tests.support import TEST_TMP


@pytest.fixture
def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="podrun-pause-", dir=TEST_TMP))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def start_pod(workdir: Path) -> Iterator[Callable[..., PauseHandle]]:
    """start_pod(**launch_pause kwargs) -> handle; every pod started is gone after the test."""
    pidfds: list[int] = []

    def start(name: str = "pod", **kw: object) -> PauseHandle:
        kw.setdefault("pause_binary", pause_binary())
        h = launch_pause(workdir / name, **kw)  # type: ignore[arg-type]
        pidfds.append(os.pidfd_open(h.pid))
        return h

    try:
        yield start
    finally:
        # Through the pidfds taken at launch: never a pid that another process reused.
        for fd in pidfds:
            try:
                signal.pidfd_send_signal(fd, signal.SIGTERM)
                if not wait_for_pidfd(fd, 5):
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                    wait_for_pidfd(fd, 5)
            except ProcessLookupError:
                pass
            finally:
                os.close(fd)
