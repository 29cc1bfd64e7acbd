"""Stop a container: stop signal to its init, wait the grace, then SIGKILL the whole cgroup.

The runtime half of the kubelet's killContainer (BEHAVIOR.md 6.2 step 5, CRI
StopContainer); the grace itself comes from podrun.core.termination. Blocking, for a
worker thread; stop_container_async does the same on an asyncio loop.

The init process is addressed through a pidfd, so a recycled PID can never receive the
signal; the pidfd turns readable the moment the process exits, which is what we wait on.
"""

from __future__ import annotations

import asyncio
import errno
import os
import select
import signal
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from podrun.clock import REAL_CLOCK, Clock
from podrun.errors import HostError
from podrun.runtime.cgroups import CgroupManager

# How long SIGKILL may take to be reaped by the kernel before we call it a failure.
KILL_TIMEOUT = 10.0


class Pidfd:
    """An open pidfd we may use but do not own (the caller closes it)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd


class Killable(Protocol):
    def kill(self, timeout: float = ...) -> None: ...


@dataclass(frozen=True)
class CgroupTarget:
    """A container's cgroup: what SIGKILL-everything acts on."""

    manager: CgroupManager
    path: Path

    def kill(self, timeout: float = KILL_TIMEOUT) -> None:
        self.manager.kill(self.path, timeout)


class StopOutcome(StrEnum):
    ALREADY_EXITED = "AlreadyExited"  # gone before the stop signal
    EXITED = "Exited"  # exited within the grace after the stop signal
    KILLED = "Killed"  # still there at the end of the grace: SIGKILL


@dataclass(frozen=True)
class StopResult:
    outcome: StopOutcome
    stop_signal: int
    grace: float
    elapsed: float  # seconds from the start of the stop to the init's exit
    exit_code: int | None  # Kubernetes style (137 = SIGKILL, 143 = SIGTERM) if we can see it


def signal_number(sig: int | str | signal.Signals) -> int:
    """SIGTERM, "SIGTERM", "TERM", 15 -> 15 (STOPSIGNAL / lifecycle.stopSignal forms)."""
    if isinstance(sig, signal.Signals):
        return int(sig)
    if isinstance(sig, int):
        return sig
    text = sig.strip().upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(signal.Signals[text])
    except KeyError:
        raise HostError("stop", f"unknown stop signal {sig!r}") from None


def _open(target: int | Pidfd) -> tuple[int | None, bool]:
    """(pidfd or None if the process is gone, whether we own the fd)."""
    if isinstance(target, Pidfd):
        return target.fd, False
    try:
        return os.pidfd_open(target), True
    except ProcessLookupError:
        return None, False
    except OSError as e:
        raise HostError("stop", "pidfd_open failed", err=e.errno or 0, path=f"pid {target}") from e


def _exited(fd: int, timeout: float) -> bool:
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(max(0, int(timeout * 1000))))


def _send(fd: int, sig: int) -> None:
    try:
        signal.pidfd_send_signal(fd, sig)
    except ProcessLookupError:
        pass
    except OSError as e:
        raise HostError("stop", f"sending signal {sig} failed", err=e.errno or 0) from e


def exit_code_of(fd: int) -> int | None:
    """The init's exit code, Kubernetes style, if we are its parent; not reaped (WNOWAIT)."""
    try:
        res = os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return None
    except OSError as e:
        if e.errno in (errno.ECHILD, errno.EINVAL):
            return None
        raise
    if res is None:
        return None
    if res.si_code == os.CLD_EXITED:
        return res.si_status
    return 128 + res.si_status


def _wait_until(fd: int, deadline: float, clock: Clock) -> bool:
    while True:
        left = deadline - clock.monotonic()
        # poll at least once even with no time left, and re-check the clock in short
        # slices so a stepped (fake) clock is honoured too
        if _exited(fd, min(max(left, 0.0), 0.25)):
            return True
        if left <= 0:
            return False


def stop_container(
    target: int | Pidfd,
    cgroup: Killable | None,
    *,
    stop_signal: int | str | signal.Signals = signal.SIGTERM,
    grace_seconds: float,
    clock: Clock = REAL_CLOCK,
    kill_remaining: bool = True,
) -> StopResult:
    """Stop a container whose init is `target` (a pid, or a Pidfd we borrow).

    Prefer a Pidfd taken while the process was known to be alive: a bare pid is only safe
    while nobody can reap it (our own unreaped child, or pause's child between exit
    records), otherwise the number may already name another process.

    1. grace > 0: send the stop signal to the init only, wait up to `grace_seconds` for it
       to exit. (A namespace PID 1 without a handler ignores SIGTERM: BEHAVIOR.md 6.6.)
    2. Still there, or grace <= 0: SIGKILL everything in the container's cgroup
       (cgroup.kill; without a cgroup, the init alone) and wait for the init to go.
    3. Once the init is gone, kill whatever else is left in the cgroup (orphans of a
       shared PID namespace), unless kill_remaining is False.

    `clock` measures the grace and elapsed time; the waits themselves are real (poll on
    the pidfd), so pass a real clock.
    """
    sig = signal_number(stop_signal)
    start = clock.monotonic()
    fd, owned = _open(target)
    try:
        if fd is None or _exited(fd, 0):
            if cgroup is not None and kill_remaining:
                cgroup.kill(KILL_TIMEOUT)
            code = exit_code_of(fd) if fd is not None else None
            return StopResult(StopOutcome.ALREADY_EXITED, sig, grace_seconds,
                              clock.monotonic() - start, code)
        outcome = StopOutcome.EXITED
        gone = False
        if grace_seconds > 0:
            _send(fd, sig)
            gone = _wait_until(fd, start + grace_seconds, clock)
        if not gone:
            outcome = StopOutcome.KILLED
            if cgroup is not None:
                cgroup.kill(KILL_TIMEOUT)
            _send(fd, signal.SIGKILL)
            if not _wait_until(fd, clock.monotonic() + KILL_TIMEOUT, clock):
                raise HostError("stop", f"the container's init survived SIGKILL for {KILL_TIMEOUT:g}s")
        elapsed = clock.monotonic() - start
        if cgroup is not None and kill_remaining:
            cgroup.kill(KILL_TIMEOUT)
        return StopResult(outcome, sig, grace_seconds, elapsed, exit_code_of(fd))
    finally:
        if owned and fd is not None:
            os.close(fd)


async def _readable(fd: int, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await asyncio.wait_for(fut, max(timeout, 0.0))
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)


async def stop_container_async(
    target: int | Pidfd,
    cgroup: Killable | None,
    *,
    stop_signal: int | str | signal.Signals = signal.SIGTERM,
    grace_seconds: float,
    clock: Clock = REAL_CLOCK,
    kill_remaining: bool = True,
) -> StopResult:
    """stop_container for an asyncio loop: waits on the pidfd with add_reader; the short
    blocking cgroup kills run in a thread."""
    sig = signal_number(stop_signal)
    start = clock.monotonic()
    fd, owned = _open(target)
    try:
        if fd is None or _exited(fd, 0):
            if cgroup is not None and kill_remaining:
                await asyncio.to_thread(cgroup.kill, KILL_TIMEOUT)
            code = exit_code_of(fd) if fd is not None else None
            return StopResult(StopOutcome.ALREADY_EXITED, sig, grace_seconds,
                              clock.monotonic() - start, code)
        outcome = StopOutcome.EXITED
        gone = False
        if grace_seconds > 0:
            _send(fd, sig)
            gone = await _readable(fd, grace_seconds)
        if not gone:
            outcome = StopOutcome.KILLED
            if cgroup is not None:
                await asyncio.to_thread(cgroup.kill, KILL_TIMEOUT)
            _send(fd, signal.SIGKILL)
            if not await _readable(fd, KILL_TIMEOUT):
                raise HostError("stop", f"the container's init survived SIGKILL for {KILL_TIMEOUT:g}s")
        elapsed = clock.monotonic() - start
        if cgroup is not None and kill_remaining:
            await asyncio.to_thread(cgroup.kill, KILL_TIMEOUT)
        return StopResult(outcome, sig, grace_seconds, elapsed, exit_code_of(fd))
    finally:
        if owned and fd is not None:
            os.close(fd)
