"""Table tests: the kubelet's grace arithmetic (podrun.core.termination).

Every row names the BEHAVIOR.md rule or case it checks.
"""

from __future__ import annotations

import math

import pytest

from podrun.core.termination import (
    ContainerRef,
    KillReason,
    after_ordering_wait,
    after_prestop,
    apply_floor,
    container_kill_grace,
    deletion_grace_period,
    effective_grace_period,
    grace_left,
    runs_prestop,
    spec_grace_period,
    stop_timeout,
    termination_ordering,
    time_to_death,
)

SPEC_GRACE = [
    ("§0 default TGPS 30 when unset", None, 30),
    ("§6.1 negative TGPS defaults to 1 (e2e 'pod with negative grace period')", -5, 1),
    ("§6.1 TGPS 0 stays 0", 0, 0),
    ("§6.1 TGPS 100 kept", 100, 100),
]


@pytest.mark.parametrize("rid,tgps,expected", SPEC_GRACE, ids=[r[0] for r in SPEC_GRACE])
def test_spec_grace_period(rid: str, tgps: int | None, expected: int) -> None:
    assert spec_grace_period(tgps) == expected


DELETION = [
    ("§6.1 no request -> spec TGPS", None, 45, False, False, 45),
    ("§6.1 no request, no TGPS -> 30", None, None, False, False, 30),
    ("§6.1 request wins over spec", 5, 45, False, False, 5),
    ("§6.1 grace 0 without force -> minimum 1", 0, 30, False, False, 1),
    ("§6.1 force with 0 -> 0", 0, 30, True, False, 0),
    ("§6.1 negative request ignored (kubectl) -> spec", -1, 12, False, False, 12),
    ("§6.1 finished pod removed at once", 30, 30, False, True, 0),
    ("§6.1 spec TGPS 0 without force -> 1", None, 0, False, False, 1),
]


@pytest.mark.parametrize("rid,requested,tgps,force,terminal,expected", DELETION,
                         ids=[r[0] for r in DELETION])
def test_deletion_grace_period(rid: str, requested: int | None, tgps: int | None, force: bool,
                               terminal: bool, expected: int) -> None:
    assert deletion_grace_period(requested, tgps, force=force, pod_terminal=terminal) == expected


EFFECTIVE = [
    # (id, in_flight, deletion, override, tgps, grace, shortened)
    ("§6.1 first delete uses its grace", None, 30, None, 30, 30, False),
    ("§6.1 no request -> spec TGPS", None, None, None, 60, 60, False),
    ("§6.1 second delete shortens", 30, 10, None, 30, 10, True),
    ("§6.1 second delete with longer grace ignored", 10, 30, None, 30, 10, False),
    ("§6.1 same grace again: not shortened", 10, 10, None, 30, 10, False),
    ("§6.1 eviction override shortens", 30, None, 5, 30, 5, True),
    ("§6.1 deletion and override: smaller wins", None, 20, 7, 30, 7, False),
    ("§6.1 minimum 1: grace 0 becomes 1", None, 0, None, 30, 1, False),
    ("§6.1 minimum 1: spec TGPS 0", None, None, None, 0, 1, False),
    ("§6.1 in-flight 30 shortened to 0 -> 1", 30, 0, None, 30, 1, True),
]


@pytest.mark.parametrize("rid,in_flight,deletion,override,tgps,grace,shortened", EFFECTIVE,
                         ids=[r[0] for r in EFFECTIVE])
def test_effective_grace_period(rid: str, in_flight: int | None, deletion: int | None,
                                override: int | None, tgps: int | None, grace: int,
                                shortened: bool) -> None:
    got = effective_grace_period(in_flight, deletion_grace=deletion, spec_tgps=tgps,
                                 override=override)
    assert (got.grace, got.shortened) == (grace, shortened)


KILL_GRACE = [
    # (id, deletion, tgps, reason, probe, override, expected)
    ("§6.2.1 deletion grace first", 15, 30, KillReason.UNKNOWN, None, None, 15),
    ("§6.2.1 deletion grace beats probe grace", 15, 30, KillReason.LIVENESS_PROBE, 5, None, 15),
    ("§4.8 liveness kill uses probe TGPS", None, 500, KillReason.LIVENESS_PROBE, 5, None, 5),
    ("§4.8 startup kill uses probe TGPS", None, 600, KillReason.STARTUP_PROBE, 7, None, 7),
    ("§4.8 probe without TGPS -> spec TGPS", None, 500, KillReason.LIVENESS_PROBE, None, None, 500),
    ("§6.2.1 probe TGPS ignored for a postStart kill", None, 30,
     KillReason.FAILED_POST_START_HOOK, 5, None, 30),
    ("§6.2.1 spec TGPS", None, 45, KillReason.UNKNOWN, None, None, 45),
    ("§6.2.1 nothing set -> 2 s", None, None, KillReason.UNKNOWN, None, None, 2),
    ("§6.2.1 override replaces everything", 15, 30, KillReason.UNKNOWN, None, 3, 3),
]


@pytest.mark.parametrize("rid,deletion,tgps,reason,probe,override,expected", KILL_GRACE,
                         ids=[r[0] for r in KILL_GRACE])
def test_container_kill_grace(rid: str, deletion: int | None, tgps: int | None,
                              reason: KillReason, probe: int | None, override: int | None,
                              expected: int) -> None:
    assert container_kill_grace(deletion_grace=deletion, spec_tgps=tgps, reason=reason,
                                probe_grace=probe, override=override) == expected


STOP_TIMEOUT = [
    # (id, grace, prestop_elapsed, ordering_wait, force, expected)
    ("§6.2 no preStop: timeout = grace", 30, None, None, False, 30),
    ("§6.2.2 preStop 10.9 s < T=30: whole seconds subtracted", 30, 10.9, None, False, 20),
    ("§6.2.2 preStop 0.4 s subtracts nothing", 30, 0.4, None, False, 30),
    ("§6.2.4 preStop eats the grace -> 2 s floor", 30, 30.0, None, False, 2),
    ("§6.2.4 preStop never ends (bounded by grace) -> 2 s floor", 30, 1e9, None, False, 2),
    ("§6.2.4 preStop leaves 1 s -> floor 2", 30, 29.5, None, False, 2),
    ("§6.2.4 grace 1 -> floor 2", 1, None, None, False, 2),
    ("§6.2.4 grace 0 (not force) -> floor 2", 0, None, None, False, 2),
    ("§6.2.3 sidecar ordering wait 5.7 s subtracts 5", 30, None, 5.7, False, 25),
    ("§6.2.3 preStop then ordering wait", 30, 10.0, 15.2, False, 5),
    ("§6.2.3 ordering wait bounded by remaining grace -> floor", 10, 8.0, 60.0, False, 2),
    ("podrun --force --grace-period 0: no floor", 0, None, None, True, 0),
    ("force with grace > 0 behaves normally", 5, None, None, True, 5),
]


@pytest.mark.parametrize("rid,grace,prestop,wait,force,expected", STOP_TIMEOUT,
                         ids=[r[0] for r in STOP_TIMEOUT])
def test_stop_timeout(rid: str, grace: int, prestop: float | None, wait: float | None,
                      force: bool, expected: int) -> None:
    assert stop_timeout(grace, prestop_elapsed=prestop, ordering_wait=wait, force=force) == expected


TIMING = [
    # BEHAVIOR.md 6.2 timing table: T = TGPS, P = preStop duration
    ("§6.2 table: no preStop, SIGTERM handled at once -> ~0", 30, None, True, 0.0, 0.0),
    ("§6.2 table: no preStop, SIGTERM ignored -> T", 30, None, False, 0.0, 30.0),
    ("§6.2 table: preStop P<T, SIGTERM handled -> ~P", 30, 10.0, True, 0.0, 10.0),
    ("§6.2 table: preStop P<T, SIGTERM ignored -> max(T, P+2)", 30, 10.0, False, 0.0, 30.0),
    ("§6.2 table: preStop P close to T, ignored -> P+2", 30, 29.0, False, 0.0, 31.0),
    ("§6.2 table: preStop never ends -> T+2", 30, math.inf, False, 0.0, 32.0),
    ("§5.2 e2e: never-ending preStop, TGPS 30 -> ~32 s even if TERM handled", 30, math.inf,
     True, 5.0, 32.0),
    ("§6.6 PID-1 sleep ignores TERM -> dies at grace", 5, None, False, 0.0, 5.0),
    ("§9.3 e2e sleep preStop 50 s, TGPS 100, exits on TERM -> 50..100", 100, 50.0, True, 0.0, 50.0),
    ("§9.3 e2e same with delete grace 30 -> 30..50", 30, 50.0, True, 0.0, 30.0),
]


@pytest.mark.parametrize("rid,grace,prestop,handles,delay,expected", TIMING,
                         ids=[r[0] for r in TIMING])
def test_time_to_death(rid: str, grace: int, prestop: float | None, handles: bool, delay: float,
                       expected: float) -> None:
    assert time_to_death(grace, prestop_seconds=prestop, handles_stop_signal=handles,
                         exit_delay=delay) == pytest.approx(expected)


def test_prestop_runs_only_with_grace() -> None:
    # §6.2.2: "if the container has one and grace > 0"
    assert runs_prestop(1, True) and not runs_prestop(0, True) and not runs_prestop(5, False)


def test_small_helpers() -> None:
    assert after_prestop(30, -1.0) == 30
    assert after_ordering_wait(0, 5.0) == 0
    assert apply_floor(3) == 3
    assert grace_left(10, 3.9) == 7 and grace_left(3, 10.0) == 0


# --- §6.3 sidecar termination ordering -----------------------------------------------

APPS = ["app1", "app2"]
SIDECARS = [ContainerRef("side1", True), ContainerRef("init", False),
            ContainerRef("side2", True), ContainerRef("side3", True)]


def test_no_sidecars_no_ordering() -> None:
    # killContainersWithSyncResult orders only pods with restartable init containers
    assert termination_ordering(APPS, [ContainerRef("init")], APPS) is None


def test_ordering_waves_regular_first_then_reverse_sidecars() -> None:
    # §5.2 e2e: regular containers exit first, then sidecar3, sidecar2, sidecar1
    order = termination_ordering(APPS, SIDECARS, [*APPS, "side1", "side2", "side3"])
    assert order is not None
    assert order.waves() == [["app1", "app2"], ["side3"], ["side2"], ["side1"]]


def test_ordering_prereqs() -> None:
    order = termination_ordering(APPS, SIDECARS, [*APPS, "side1", "side2", "side3"])
    assert order is not None
    assert order.waits_for("app1") == ()
    assert order.waits_for("side3") == ("app1", "app2")
    assert order.waits_for("side1") == ("app1", "app2", "side2")
    assert not order.may_stop("side2", ["app1", "app2"])
    assert order.may_stop("side2", ["app1", "app2", "side3"])


def test_ordering_skips_containers_not_running() -> None:
    # a container that is not running counts as exited (its channel is pre-closed)
    order = termination_ordering(APPS, SIDECARS, ["app2", "side1", "side3"])
    assert order is not None
    assert order.waits_for("side3") == ("app2",)
    # side1's later neighbour side2 is not running: no wait on it (kubelet quirk kept)
    assert order.waits_for("side1") == ("app2",)
    assert "app1" not in order.prereqs
