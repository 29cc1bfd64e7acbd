"""Probe worker decisions (podrun.core.probes) as tables: BEHAVIOR.md 4.2, 4.7, 2.4, 10.4."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import podrun.core.probes as core
from podrun.clock import FakeClock
from podrun.core.probes import FAILURE, SUCCESS, Gate, Outcome, ProbeRun, ProbeType, WorkerState

L, R, S = ProbeType.LIVENESS, ProbeType.READINESS, ProbeType.STARTUP


def test_pure() -> None:
    tree = ast.parse(Path(core.__file__).read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.module}
    assert not names & {"os", "socket", "asyncio", "time", "threading", "subprocess", "random"}


# -- defaults and initial results

@pytest.mark.parametrize("kwargs, want", [
    ({}, core.Timing(0, 10, 1, 1, 3, None)),
    ({"period_seconds": 0, "timeout_seconds": 0, "failure_threshold": 0},
     core.Timing(0, 10, 1, 1, 3, None)),
    ({"initial_delay_seconds": 15, "period_seconds": 1, "timeout_seconds": 5,
      "success_threshold": 2, "failure_threshold": 1, "termination_grace_period_seconds": 5},
     core.Timing(15, 1, 5, 2, 1, 5)),
], ids=["absent", "zero-means-default", "all-set"])
def test_timing_defaults(kwargs: dict[str, int], want: core.Timing) -> None:
    assert core.timing(**kwargs) == want


@pytest.mark.parametrize("ptype, want", [(R, FAILURE), (L, SUCCESS), (S, None)])
def test_initial_results(ptype: ProbeType, want: core.Published) -> None:
    assert core.initial_result(ptype) == want
    assert WorkerState(ptype, core.Timing()).published == want


# -- result runs: ops are "id:<cid>", "S" (Success), "F" (Failure), "T" (terminate);
# a new container id always counts as a change (the kubelet sets a fresh entry).

RUNS = [
    # name, type, timing kwargs, ops, published, on_hold, changes (ops that changed the value)
    ("readiness one success publishes", R, {}, "id:a S", SUCCESS, False, [1]),
    ("readiness needs 3 failures to drop", R, {}, "id:a S F F", SUCCESS, False, [1]),
    ("readiness third failure drops", R, {}, "id:a S F F F", FAILURE, False, [1, 4]),
    ("readiness failure at initial changes nothing", R, {}, "id:a F F F", FAILURE, False, []),
    ("success threshold 2: one success not enough", R, {"success_threshold": 2}, "id:a S",
     FAILURE, False, []),
    ("success threshold 2: two successes", R, {"success_threshold": 2}, "id:a S S", SUCCESS,
     False, [2]),
    ("interrupted success run restarts", R, {"success_threshold": 2}, "id:a S F S", FAILURE,
     False, []),
    ("interrupted failure run restarts", R, {}, "id:a S F F S F F", SUCCESS, False, [1]),
    ("readiness never holds", R, {"failure_threshold": 1}, "id:a F S", SUCCESS, False, [2]),
    ("liveness starts Success", L, {}, "id:a", SUCCESS, False, []),
    ("liveness fails at threshold and holds", L, {}, "id:a F F F", FAILURE, True, [3]),
    ("liveness threshold 1", L, {"failure_threshold": 1}, "id:a F", FAILURE, True, [1]),
    ("liveness 2 failures keep Success", L, {}, "id:a F F", SUCCESS, False, []),
    ("new container id resets liveness", L, {"failure_threshold": 1}, "id:a F id:b",
     SUCCESS, False, [1, 2]),
    ("new id resets the run counter", L, {}, "id:a F F id:b F F", SUCCESS, False, [3]),
    ("same id does not reset", L, {"failure_threshold": 1}, "id:a F id:a", FAILURE, True, [1]),
    ("startup starts unknown", S, {}, "id:a", None, False, []),
    ("startup success", S, {}, "id:a S", SUCCESS, False, [1]),
    ("startup fails at threshold and holds", S, {"failure_threshold": 2}, "id:a F F",
     FAILURE, True, [2]),
    ("new id resets startup to unknown", S, {}, "id:a S id:b", None, False, [1, 2]),
    ("new id resets readiness to Failure", R, {}, "id:a S id:b", FAILURE, False, [1, 2]),
    ("terminate publishes liveness Success", L, {"failure_threshold": 1}, "id:a F T",
     SUCCESS, True, [1, 2]),
    ("terminate startup from unknown", S, {}, "id:a T", SUCCESS, False, [1]),
]


@pytest.mark.parametrize("name, ptype, kw, ops, published, on_hold, changes", RUNS,
                         ids=[r[0] for r in RUNS])
def test_result_runs(name: str, ptype: ProbeType, kw: dict[str, int], ops: str,
                     published: core.Published, on_hold: bool, changes: list[int]) -> None:
    st = WorkerState(ptype, core.timing(**kw))
    changed_at = []
    for i, op in enumerate(ops.split()):
        if op.startswith("id:"):
            changed = st.observe_container(op[3:]) and i > 0
        elif op == "T":
            changed = st.terminate()
        else:
            changed = st.record(SUCCESS if op == "S" else FAILURE)
        if changed:
            changed_at.append(i)
    assert st.published == published
    assert st.on_hold is on_hold
    assert changed_at == changes


# -- gates: what a tick does before probing (kubelet worker.go order)

NOW = 1_700_000_100.0
GATES = [
    # name, type, timing kw, hold, running, terminating, started, started_at, want
    ("probe when due", L, {}, False, True, False, True, NOW - 100, Gate.PROBE),
    ("not running skips", R, {}, False, False, False, True, NOW - 100, Gate.NOT_RUNNING),
    ("on hold skips before anything", L, {}, True, False, True, False, NOW, Gate.ON_HOLD),
    ("initial delay 15 at 14.9 s", R, {"initial_delay_seconds": 15}, False, True, False, True,
     NOW - 14.9, Gate.INITIAL_DELAY),
    ("initial delay 15 at 15.0 s", R, {"initial_delay_seconds": 15}, False, True, False, True,
     NOW - 15.0, Gate.PROBE),
    ("initial delay truncates seconds", L, {"initial_delay_seconds": 1}, False, True, False,
     True, NOW - 0.99, Gate.INITIAL_DELAY),
    ("liveness waits for startup", L, {}, False, True, False, False, NOW - 100,
     Gate.NOT_STARTED),
    ("readiness waits for startup", R, {}, False, True, False, False, NOW - 100,
     Gate.NOT_STARTED),
    ("startup probes until started", S, {}, False, True, False, False, NOW - 100, Gate.PROBE),
    ("startup stops once started", S, {}, False, True, False, True, NOW - 100, Gate.STARTED),
    ("terminating stops liveness", L, {}, False, True, True, True, NOW - 100,
     Gate.STOP_TERMINATING),
    ("terminating stops startup", S, {}, False, True, True, False, NOW - 100,
     Gate.STOP_TERMINATING),
    ("terminating keeps readiness", R, {}, False, True, True, True, NOW - 100, Gate.PROBE),
    ("terminating before initial delay still stops liveness", L,
     {"initial_delay_seconds": 60}, False, True, True, True, NOW, Gate.STOP_TERMINATING),
]


@pytest.mark.parametrize("name, ptype, kw, hold, running, terminating, started, started_at, "
                         "want", GATES, ids=[g[0] for g in GATES])
def test_gates(name: str, ptype: ProbeType, kw: dict[str, int], hold: bool, running: bool,
               terminating: bool, started: bool, started_at: float, want: Gate) -> None:
    st = WorkerState(ptype, core.timing(**kw))
    st.observe_container("c1")
    st.on_hold = hold
    assert st.gate(running=running, terminating=terminating, started=started, now_wall=NOW,
                   started_at=started_at) is want


def test_initial_delay_with_fake_clock() -> None:
    clock = FakeClock()
    started_at = clock.wall()
    st = WorkerState(R, core.timing(initial_delay_seconds=15, period_seconds=1))
    st.observe_container("c1")
    first_probe = None
    for _ in range(40):
        clock.advance(1)
        if st.gate(running=True, terminating=False, started=True, now_wall=clock.wall(),
                   started_at=started_at) is Gate.PROBE:
            first_probe = clock.wall() - started_at
            break
    assert first_probe == 15


# -- jitter and tick alignment

@pytest.mark.parametrize("period, age, rand, want", [
    (10, 0.5, 0.5, 5.0),  # daemon just started: a random part of a period
    (10, 9.99, 1.0, 10.0),
    (10, 10.0, 0.5, 0.0),  # not within a period of start: no jitter
    (1, 3600, 0.9, 0.0),
])
def test_start_jitter(period: float, age: float, rand: float, want: float) -> None:
    assert core.start_jitter(period, age, rand) == pytest.approx(want)


@pytest.mark.parametrize("prev, now, want", [
    (100.0, 100.2, (110.0, 110.0)),  # a quick probe: next aligned tick
    (100.0, 109.99, (110.0, 110.0)),
    (100.0, 110.5, (110.5, 110.0)),  # a tick passed while probing: run at once
    (100.0, 125.0, (125.0, 120.0)),  # two passed: still only one immediate run
    (110.0, 111.0, (120.0, 120.0)),  # back on the grid after the catch-up
])
def test_next_run_aligned_to_worker_start(prev: float, now: float,
                                          want: tuple[float, float]) -> None:
    assert core.next_run(100.0, 10.0, prev, now) == want


# -- mapping runs to results and events

@pytest.mark.parametrize("run, result, event", [
    (ProbeRun(Outcome.SUCCESS, "ok"), SUCCESS, None),
    (ProbeRun(Outcome.WARNING, "Probe terminated redirects, Response body: x"), SUCCESS,
     ("Warning", "ProbeWarning",
      "Liveness probe warning: Probe terminated redirects, Response body: x")),
    (ProbeRun(Outcome.FAILURE, "HTTP probe failed with statuscode: 500"), FAILURE,
     ("Warning", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500")),
    (ProbeRun(Outcome.UNKNOWN, ""), FAILURE, None),
    (ProbeRun(Outcome.UNKNOWN, "", error='port "http" not found'), None,
     ("Warning", "Unhealthy",
      'Liveness probe errored and resulted in unknown state: port "http" not found')),
])
def test_results_and_events(run: ProbeRun, result: core.Published,
                            event: tuple[str, str, str] | None) -> None:
    assert core.result_of(run) == result
    assert core.event_for(L, run) == event


def test_kill_messages() -> None:
    assert core.kill_message(L, "app") == "Container app failed liveness probe, will be restarted"
    assert core.kill_message(S, "app") == "Container app failed startup probe, will be restarted"


@pytest.mark.parametrize("running, has_startup, startup, has_ready, readiness, started, ready", [
    (True, False, None, False, None, True, True),
    (True, True, None, False, None, False, False),
    (True, True, SUCCESS, True, FAILURE, True, False),
    (True, True, SUCCESS, True, SUCCESS, True, True),
    (True, False, None, True, FAILURE, True, False),
    (False, False, None, False, None, False, False),
])
def test_started_and_ready(running: bool, has_startup: bool, startup: core.Published,
                           has_ready: bool, readiness: core.Published, started: bool,
                           ready: bool) -> None:
    s = core.container_started(running=running, has_startup_probe=has_startup, startup=startup)
    assert s is started
    assert core.container_ready(started=s, has_readiness_probe=has_ready,
                                readiness=readiness) is ready


# -- named ports and $(VAR) expansion

@pytest.mark.parametrize("port, want", [
    (8080, 8080), ("http", 80), ("metrics", 9090),
    ("nope", 'port "nope" not found'), (0, "invalid port number: 0"),
    (70000, "invalid port number: 70000"), ("8080", 'port "8080" not found'),
])
def test_resolve_port(port: int | str, want: int | str) -> None:
    named = {"http": 80, "metrics": 9090}
    if isinstance(want, int):
        assert core.resolve_port(port, named) == want
    else:
        with pytest.raises(core.PortError, match=want):
            core.resolve_port(port, named)


@pytest.mark.parametrize("arg, want", [
    ("cat $(FILE)", "cat /tmp/health"),
    ("$(UNDEFINED)", "$(UNDEFINED)"),
    ("$$(FILE)", "$(FILE)"),
    ("$$", "$"),
    ("$FILE $1", "$FILE $1"),
    ("$(FILE", "$(FILE"),
    ("a$(DIR)/$(FILE)b", "a/tmp//tmp/healthb"),
    ("$", "$"),
])
def test_expand_static(arg: str, want: str) -> None:
    env = core.static_env([("DIR", "/tmp", False), ("FILE", "$(DIR)/health", False),
                           ("FROM", None, True)])
    assert "FROM" not in env
    assert core.expand_static([arg], env) == [want]


def test_output_limit() -> None:
    assert len(core.truncate_output(b"x" * 20000)) == 10 * 1024
