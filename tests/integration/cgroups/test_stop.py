"""The stop sequence on real processes in a real cgroup: stop signal, grace, cgroup kill
(issue "Runtime core" acceptance: a SIGTERM-ignoring container dies by SIGKILL at grace
+-0.5 s with 137; a trapping one exits with its own code)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from podrun.runtime.cgroups import CgroupManager
from podrun.runtime.stop import (
    CgroupTarget,
    Pidfd,
    StopOutcome,
    signal_number,
    stop_container,
    stop_container_async,
)
from tests.integration.cgroups.conftest import BUSYBOX, Spawn

pytestmark = pytest.mark.privileged

UID = "5a6b7c8d-stop"
IGNORES_TERM = f"trap '' TERM; exec {BUSYBOX} sleep 1000"
TRAPS_TERM = f"trap 'exit 7' TERM; while :; do {BUSYBOX} sleep 0.1; done"


def _ready(cg: CgroupManager, ctr: object, n: int = 1) -> None:
    deadline = time.monotonic() + 5
    while len(cg.procs(ctr)) < n:  # type: ignore[arg-type]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.1)  # let the shell install its trap


def test_term_ignoring_process_is_killed_at_grace(cg: CgroupManager, spawn: Spawn) -> None:
    cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    p = spawn(ctr, BUSYBOX, "sh", "-c", IGNORES_TERM)
    _ready(cg, ctr)
    t0 = time.monotonic()
    r = stop_container(p.pid, CgroupTarget(cg, ctr), grace_seconds=2)
    took = time.monotonic() - t0
    assert r.outcome is StopOutcome.KILLED
    assert 1.5 <= took <= 2.5 and 1.5 <= r.elapsed <= 2.5
    assert r.exit_code == 137
    assert p.wait(timeout=5) == -signal.SIGKILL
    assert cg.procs(ctr) == []
    cg.remove_pod(UID)


def test_trapping_process_exits_with_its_own_code(cg: CgroupManager, spawn: Spawn) -> None:
    cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    p = spawn(ctr, BUSYBOX, "sh", "-c", TRAPS_TERM)
    _ready(cg, ctr)
    r = stop_container(p.pid, CgroupTarget(cg, ctr), stop_signal="SIGTERM", grace_seconds=10)
    assert r.outcome is StopOutcome.EXITED
    assert r.elapsed < 1.5
    assert r.exit_code == 7
    assert p.wait(timeout=5) == 7
    cg.remove_pod(UID)


def test_default_action_gives_143(cg: CgroupManager, spawn: Spawn) -> None:
    cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    p = spawn(ctr, BUSYBOX, "sleep", "1000")
    _ready(cg, ctr)
    r = stop_container(p.pid, CgroupTarget(cg, ctr), grace_seconds=5)
    assert (r.outcome, r.exit_code) == (StopOutcome.EXITED, 143)
    p.wait(timeout=5)
    cg.remove_pod(UID)


def test_custom_stop_signal(cg: CgroupManager, spawn: Spawn) -> None:
    cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    p = spawn(ctr, BUSYBOX, "sh", "-c", f"trap 'exit 3' USR1; trap '' TERM; while :; do {BUSYBOX} sleep 0.1; done")
    _ready(cg, ctr)
    r = stop_container(p.pid, CgroupTarget(cg, ctr), stop_signal="USR1", grace_seconds=5)
    assert (r.outcome, r.exit_code, r.stop_signal) == (StopOutcome.EXITED, 3, signal.SIGUSR1)
    p.wait(timeout=5)
    cg.remove_pod(UID)


def test_grace_zero_kills_at_once(cg: CgroupManager, spawn: Spawn) -> None:
    cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    p = spawn(ctr, BUSYBOX, "sh", "-c", IGNORES_TERM)
    _ready(cg, ctr)
    r = stop_container(p.pid, CgroupTarget(cg, ctr), grace_seconds=0)
    assert r.outcome is StopOutcome.KILLED and r.elapsed < 0.5
    p.wait(timeout=5)
    cg.remove_pod(UID)


def test_orphans_left_after_init_exit_are_killed(cg: CgroupManager, spawn: Spawn) -> None:
    cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    # init traps TERM and exits; its background child would linger without the cgroup kill
    p = spawn(ctr, BUSYBOX, "sh", "-c",
              f"{BUSYBOX} sleep 1000 & trap 'exit 0' TERM; while :; do {BUSYBOX} sleep 0.1; done")
    _ready(cg, ctr, 2)
    r = stop_container(p.pid, CgroupTarget(cg, ctr), grace_seconds=5)
    assert (r.outcome, r.exit_code) == (StopOutcome.EXITED, 0)
    assert cg.procs(ctr) == []
    p.wait(timeout=5)
    cg.remove_pod(UID)


def test_already_exited_and_borrowed_pidfd(cg: CgroupManager, spawn: Spawn) -> None:
    cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    p = spawn(ctr, BUSYBOX, "true")
    fd = os.pidfd_open(p.pid)
    try:
        deadline = time.monotonic() + 5
        while cg.procs(ctr):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        r = stop_container(Pidfd(fd), CgroupTarget(cg, ctr), grace_seconds=30)
        assert (r.outcome, r.exit_code) == (StopOutcome.ALREADY_EXITED, 0)
        os.fstat(fd)  # a borrowed pidfd stays open
    finally:
        os.close(fd)
    p.wait(timeout=5)
    cg.remove_pod(UID)


def test_without_cgroup_kills_the_init(cg: CgroupManager, spawn: Spawn) -> None:
    cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    p = spawn(ctr, BUSYBOX, "sh", "-c", IGNORES_TERM)
    _ready(cg, ctr)
    r = stop_container(p.pid, None, grace_seconds=1)
    assert (r.outcome, r.exit_code) == (StopOutcome.KILLED, 137)
    p.wait(timeout=5)
    cg.remove_pod(UID)


def test_async_variant(cg: CgroupManager, spawn: Spawn) -> None:
    cg.create_pod(UID)
    ctr, _ = cg.create_container(UID, "c1")
    ignoring = spawn(ctr, BUSYBOX, "sh", "-c", IGNORES_TERM)
    _ready(cg, ctr)
    r = asyncio.run(stop_container_async(ignoring.pid, CgroupTarget(cg, ctr), grace_seconds=1))
    assert r.outcome is StopOutcome.KILLED and 0.5 <= r.elapsed <= 1.5 and r.exit_code == 137
    ignoring.wait(timeout=5)
    trapping = spawn(ctr, BUSYBOX, "sh", "-c", TRAPS_TERM)
    _ready(cg, ctr)
    r = asyncio.run(stop_container_async(trapping.pid, CgroupTarget(cg, ctr), grace_seconds=10))
    assert (r.outcome, r.exit_code) == (StopOutcome.EXITED, 7)
    trapping.wait(timeout=5)
    cg.remove_pod(UID)


@pytest.mark.parametrize("given,number", [("SIGTERM", 15), ("TERM", 15), ("9", 9),
                                          (signal.SIGINT, 2), (10, 10)])
def test_signal_number(given: object, number: int) -> None:
    assert signal_number(given) == number  # type: ignore[arg-type]


def test_unknown_signal() -> None:
    with pytest.raises(Exception, match="unknown stop signal"):
        signal_number("SIGNOPE")
