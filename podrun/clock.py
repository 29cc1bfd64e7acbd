"""Injectable time: monotonic seconds for deadlines, wall seconds for timestamps.

The pure core never reads the time itself; callers pass a Clock (or plain numbers taken
from one), so tests of backoff, probes and grace periods run on a FakeClock without sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What podrun needs from time: two readings and a way to wait."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (deadlines, timeouts, durations)."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch (finishedAt, lastUpdate, event times)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for `seconds`; a fake clock just advances."""
        ...


class RealClock:
    """The host's clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that moves only when told to; both readings advance together."""

    def __init__(self, wall: float = 1_700_000_000.0, monotonic: float = 1_000.0) -> None:
        self._wall = float(wall)
        self._monotonic = float(monotonic)

    def monotonic(self) -> float:
        return self._monotonic

    def wall(self) -> float:
        return self._wall

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move both clocks forward; going backwards is a test bug."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds}s)")
        self._wall += seconds
        self._monotonic += seconds

    def set_wall(self, wall: float) -> None:
        """Jump the wall clock (NTP step, suspend); the monotonic clock is not touched."""
        self._wall = float(wall)


REAL_CLOCK = RealClock()
