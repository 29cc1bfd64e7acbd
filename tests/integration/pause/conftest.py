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

from podrun.runtime.pause import PauseHandle, kill_pause, launch_pause
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
    handles: list[PauseHandle] = []
    pidfds: list[int] = []

    def start(name: str = "pod", **kw: object) -> PauseHandle:
        kw.setdefault("pause_binary", pause_binary())
        h = launch_pause(workdir / name, **kw)  # type: ignore[arg-type]
        handles.append(h)
        pidfds.append(os.pidfd_open(h.pid))
        return h

    try:
        yield start
    finally:
        for h, fd in zip(handles, pidfds, strict=True):
            try:
                kill_pause(h, timeout=5)
            finally:
                try:
                    signal.pidfd_send_signal(fd, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                os.close(fd)

