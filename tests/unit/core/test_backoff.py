"""Table tests: container restart backoff and image pull backoff (BEHAVIOR.md 3, 0).

A FakeClock drives time; nothing sleeps.
"""

from __future__ import annotations

import json

import pytest

from podrun.clock import FakeClock
from podrun.core.backoff import (
    Backoff,
    BackoffConfig,
    container_backoff_key,
    crash_loop_message,
    go_duration,
    image_backoff_key,
    image_pull_backoff_message,
)

KEY = container_backoff_key("web", "default", "uid-1", "c", "busybox:1.36")


def crash_loop(b: Backoff, clock: FakeClock, restarts: int, run_for: float = 0.0) -> list[float]:
    """A container that exits `run_for` seconds after each start; the pod worker wakes
    exactly at backoff expiry (PR #133066). Returns the delay before each restart."""
    delays = []
    clock.advance(run_for)
    finished = clock.wall()
    for _ in range(restarts):
        wait = b.remaining(KEY, finished, clock.wall())
        clock.advance(wait)
        assert not b.in_backoff(KEY, finished, clock.wall())
        b.next(KEY, finished, clock.wall())
        delays.append(clock.wall() - finished)
        clock.advance(run_for)  # runs, then crashes again
        finished = clock.wall()
    return delays


def test_timeline_first_restart_immediate_then_doubling_to_cap() -> None:
    # §3 "Resulting timeline": 0, 10, 20, 40, 80, 160, 300, 300
    b, clock = Backoff(BackoffConfig.crash_loop()), FakeClock()
    assert crash_loop(b, clock, 8) == [0, 10, 20, 40, 80, 160, 300, 300]


def test_timeline_with_short_runs() -> None:
    # a container that runs 2 s each time: delays measured from finishedAt are the same
    b, clock = Backoff(), FakeClock()
    assert crash_loop(b, clock, 5, run_for=2.0) == [0, 10, 20, 40, 80]


IN_BACKOFF = [
    # (id, backoff entry (backoff, last_update offset), finished offset, now offset, expected)
    ("§3 no entry: not in backoff", None, 0.0, 0.0, False),
    ("§3 now - finishedAt < backoff: in backoff", (10.0, 0.0), 0.0, 9.9, True),
    ("§3 exactly at backoff: free to restart", (10.0, 0.0), 0.0, 10.0, False),
    ("§3 after backoff: free", (20.0, 0.0), 0.0, 25.0, False),
    ("§3 expiry: finishedAt - lastUpdate > 600 s resets", (300.0, 0.0), 600.5, 601.0, False),
    ("§3 expiry boundary: exactly 600 s is not expired", (300.0, 0.0), 600.0, 601.0, True),
]


@pytest.mark.parametrize("rid,entry,finished,now,expected", IN_BACKOFF,
                         ids=[r[0] for r in IN_BACKOFF])
def test_in_backoff(rid: str, entry: tuple[float, float] | None, finished: float, now: float,
                    expected: bool) -> None:
    base = 1_700_000_000.0
    b = Backoff()
    if entry is not None:
        data = b.to_dict()
        data["entries"] = {KEY: {"backoff": entry[0], "lastUpdate": base + entry[1]}}
        b = Backoff.from_dict(data)
    assert b.in_backoff(KEY, base + finished, base + now) is expected


NEXT = [
    ("§3 Next with no entry -> 10 s", None, 0.0, 10.0),
    ("§3 Next doubles 10 -> 20", (10.0, 0.0), 5.0, 20.0),
    ("§3 Next doubles 160 -> 300 cap", (160.0, 0.0), 5.0, 300.0),
    ("§3 Next stays at cap 300", (300.0, 0.0), 5.0, 300.0),
    ("§3 Next after expiry (ran > 10 min) -> 10 s again", (300.0, 0.0), 700.0, 10.0),
]


@pytest.mark.parametrize("rid,entry,finished,expected", NEXT, ids=[r[0] for r in NEXT])
def test_next(rid: str, entry: tuple[float, float] | None, finished: float,
              expected: float) -> None:
    b = Backoff()
    if entry is not None:
        b = Backoff.from_dict({"version": 1, "config": b.to_dict()["config"],
                               "entries": {KEY: {"backoff": entry[0], "lastUpdate": entry[1]}}})
    assert b.next(KEY, finished, finished + 1) == expected
    assert b.get(KEY) == expected


def test_reset_after_ten_minutes_of_running() -> None:
    # §3: a container that ran > ~10 min starts over: immediate restart, next backoff 10 s
    b, clock = Backoff(), FakeClock()
    crash_loop(b, clock, 5)  # delays 0..80; entry now 160 s
    assert b.get(KEY) == 160
    clock.advance(601)  # ran 601 s since the last update
    finished = clock.wall()
    assert not b.in_backoff(KEY, finished, clock.wall())
    assert b.next(KEY, finished, clock.wall()) == 10


def test_image_change_gives_a_new_key() -> None:
    # §3 "Key": hash covers name and image; a new image restarts at once
    k1 = container_backoff_key("web", "default", "uid-1", "c", "busybox:1.36")
    k2 = container_backoff_key("web", "default", "uid-1", "c", "busybox:1.37")
    assert k1 != k2 and k1.startswith("web_default_uid-1_c_")
    b = Backoff()
    b.next(k1, 0, 0)
    b.next(k1, 0, 10)
    assert b.in_backoff(k1, 10, 11) and not b.in_backoff(k2, 10, 11)


def test_key_is_stable() -> None:
    assert KEY == container_backoff_key("web", "default", "uid-1", "c", "busybox:1.36")


CAP = [
    ("KubeletCrashLoopBackOffMax 60 s", 60, [0, 10, 20, 40, 60, 60]),
    ("cap 300 = default", 300, [0, 10, 20, 40, 80, 160]),
    ("cap below initial: initial = cap (5 s)", 5, [0, 5, 5, 5]),
    ("cap 1 s", 1, [0, 1, 1]),
]


@pytest.mark.parametrize("rid,cap,timeline", CAP, ids=[r[0] for r in CAP])
def test_configured_cap(rid: str, cap: float, timeline: list[float]) -> None:
    b, clock = Backoff(BackoffConfig.crash_loop(cap)), FakeClock()
    assert crash_loop(b, clock, len(timeline)) == timeline
    assert b.config.expiry == 600


def test_cap_out_of_range_rejected() -> None:
    with pytest.raises(ValueError, match="between 1s and 300s"):
        BackoffConfig.crash_loop(301)


def test_serialization_round_trip_keeps_timers() -> None:
    # a restarted daemon keeps its timers
    b, clock = Backoff(), FakeClock()
    crash_loop(b, clock, 3)  # delays 0, 10, 20; entry now 40
    finished = clock.wall()
    restored = Backoff.loads(json.dumps(json.loads(b.dumps())))
    assert restored.get(KEY) == 40
    assert restored.in_backoff(KEY, finished, finished + 39)
    assert restored.next(KEY, finished, finished + 40) == 80
    assert restored.to_dict()["config"] == {"initial": 10.0, "max": 300.0, "expiry": 600.0}


def test_restore_with_smaller_cap_clamps() -> None:
    b = Backoff()
    for t in range(7):
        b.next(KEY, t, t)
    assert b.get(KEY) == 300
    restored = Backoff.from_dict(b.to_dict(), BackoffConfig.crash_loop(60))
    assert restored.get(KEY) == 60


def test_bad_state_version() -> None:
    with pytest.raises(ValueError, match="version"):
        Backoff.from_dict({"version": 99})


def test_gc_drops_quiet_entries() -> None:
    b = Backoff()
    b.next("a", 0, 0)
    b.next("b", 0, 500)
    assert b.gc(700) == ["a"] and b.keys() == ["b"]


MESSAGES = [
    ("§3 message at 10 s", 10, "back-off 10s restarting failed container=c pod=web_default(uid-1)"),
    ("§3 message at 20 s", 20, "back-off 20s restarting failed container=c pod=web_default(uid-1)"),
    ("§3 Go duration 80 s = 1m20s", 80,
     "back-off 1m20s restarting failed container=c pod=web_default(uid-1)"),
    ("§3 Go duration 160 s = 2m40s", 160,
     "back-off 2m40s restarting failed container=c pod=web_default(uid-1)"),
    ("§3 Go duration 300 s = 5m0s", 300,
     "back-off 5m0s restarting failed container=c pod=web_default(uid-1)"),
]


@pytest.mark.parametrize("rid,backoff,expected", MESSAGES, ids=[r[0] for r in MESSAGES])
def test_crash_loop_message(rid: str, backoff: float, expected: str) -> None:
    assert crash_loop_message(backoff, "c", "web", "default", "uid-1") == expected


@pytest.mark.parametrize("seconds,text", [(0, "0s"), (1, "1s"), (1.5, "1.5s"), (0.25, "250ms"),
                                          (3600, "1h0m0s"), (3725, "1h2m5s"), (59.5, "59.5s")])
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_image_pull_backoff_same_machinery() -> None:
    # §0: image pull backoff 10 s -> 300 s, measured from the last failed pull
    b, clock = Backoff(BackoffConfig.image_pull()), FakeClock()
    key = image_backoff_key("uid-1", "registry.example/app:1")
    delays = []
    for _ in range(7):
        while b.in_backoff_since_update(key, clock.wall()):
            clock.advance(1)
        delays.append(b.get(key))
        b.next(key, clock.wall(), clock.wall())  # the pull failed
    assert delays == [0, 10, 20, 40, 80, 160, 300]
    assert image_pull_backoff_message("app:1") == 'Back-off pulling image "app:1"'


def test_fake_clock() -> None:
    clock = FakeClock(wall=100.0, monotonic=5.0)
    clock.sleep(2.5)
    assert (clock.wall(), clock.monotonic()) == (102.5, 7.5)
    clock.set_wall(50.0)
    assert clock.monotonic() == 7.5
    with pytest.raises(ValueError):
        clock.advance(-1)
