"""The probe manager on a real event loop with a fake exec and a FakeClock for wall time.

Periods are 1 s (the API minimum), so each test runs a few seconds; the exec runtime is a
fake, so nothing here needs root or a network.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from podrun.agent.prober import ProbeManager, ProbeTarget
from podrun.clock import FakeClock
from podrun.runtime.execin import ExecResult
from podrun.spec.types import (
    Container,
    ContainerPort,
    EnvVar,
    EnvVarSource,
    ExecAction,
    GRPCAction,
    HTTPGetAction,
    ObjectFieldSelector,
    Probe,
)


class FakeExec:
    """exec_sync stand-in: argv[0] decides (`true`, `false`, `sleep`, `error`, `raise`)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()
        self.files: set[str] = set()

    def __call__(self, sandbox_id: str, container_id: str, argv: list[str],
                 timeout: float) -> ExecResult:
        with self.lock:
            self.calls.append(list(argv))
        cmd = argv[0]
        if cmd == "true":
            return ExecResult(0, b"ok\n", b"")
        if cmd == "false":
            return ExecResult(1, b"out\n", b"err\n")
        if cmd == "cat":
            return (ExecResult(0, b"ok", b"") if argv[1] in self.files
                    else ExecResult(1, b"", f"cat: can't open '{argv[1]}'\n".encode()))
        if cmd == "sleep":
            time.sleep(min(float(argv[1]), timeout))
            if float(argv[1]) > timeout:
                return ExecResult(137, b"", b"", timed_out=True)
            return ExecResult(0, b"", b"")
        if cmd == "error":
            return ExecResult(126, b"", b"", error="exec: \"nope\": not found")
        raise RuntimeError("container not running")

    def count(self, argv0: str) -> int:
        with self.lock:
            return sum(1 for c in self.calls if c[0] == argv0)


class Harness:
    def __init__(self, *, daemon_age: float = 3600.0) -> None:
        self.clock = FakeClock()
        self.exec = FakeExec()
        self.changes: list[tuple[str, str]] = []
        self.events: list[tuple[str, str, str, str]] = []
        self.pm = ProbeManager(exec_sync=self.exec, clock=self.clock,
                               on_change=lambda u, c: self.changes.append((u, c)),
                               record_event=lambda *e: self.events.append(e),
                               daemon_started_at=self.clock.monotonic() - daemon_age)

    def target(self, cid: str = "c1", *, started_ago: float = 1000.0, name: str = "app",
               uid: str = "uid1") -> ProbeTarget:
        return ProbeTarget(pod_uid=uid, pod_name="web", namespace="default",
                           container_name=name, container_id=cid,
                           started_at=self.clock.wall() - started_ago, pod_ip=None,
                           netns_path=None, sandbox_id="sb1", ports={})

    def reasons(self) -> list[str]:
        return [e[3] for e in self.events]


def run(coro_fn: Callable[[Harness], Awaitable[None]], **kw: Any) -> Harness:
    h = Harness(**kw)

    async def main() -> None:
        try:
            await coro_fn(h)
        finally:
            await h.pm.close()
    asyncio.run(main())
    return h


def exec_probe(*argv: str, **kw: Any) -> Probe:
    return Probe(exec=ExecAction(command=tuple(argv)), period_seconds=kw.pop("period", 1), **kw)


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> float:
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def test_no_probes_means_started_and_ready() -> None:
    async def body(h: Harness) -> None:
        h.pm.add_container(h.target(), Container(name="app"))
        r = h.pm.results("uid1", "app", "c1")
        assert (r.started, r.ready, r.liveness, r.readiness, r.startup) == (True, True, None,
                                                                            None, None)
        assert h.pm.results("other", "x", "y").ready
    run(body)


def test_liveness_failure_publishes_kill_with_probe_grace() -> None:
    async def body(h: Harness) -> None:
        c = Container(name="app", liveness_probe=exec_probe(
            "false", failure_threshold=1, termination_grace_period_seconds=5))
        h.pm.add_container(h.target(), c)
        assert h.pm.results("uid1", "app", "c1").liveness == "Success"
        await until(lambda: h.pm.results("uid1", "app", "c1").liveness_failed)
        r = h.pm.results("uid1", "app", "c1")
        assert r.liveness == "Failure"
        assert r.kill_message == "Container app failed liveness probe, will be restarted"
        assert r.kill_grace_seconds == 5
        assert ("uid1", "app") in h.changes
        assert ("uid1", "Warning", "Unhealthy", "Liveness probe failed: out\nerr\n") in h.events
        # on hold: no more probes for this container instance
        n = h.exec.count("false")
        await asyncio.sleep(1.3)
        assert h.exec.count("false") == n
        # a new container id resets and probing resumes
        h.pm.add_container(h.target("c2"), c)
        r2 = h.pm.results("uid1", "app", "c2")
        assert (r2.liveness, r2.liveness_failed, r2.kill_message) == ("Success", False, None)
        await until(lambda: h.exec.count("false") > n)
    run(body)


def test_readiness_initial_failure_then_ready() -> None:
    async def body(h: Harness) -> None:
        c = Container(name="app", readiness_probe=exec_probe("cat", "/tmp/ready"))
        h.pm.add_container(h.target(), c)
        r = h.pm.results("uid1", "app", "c1")
        assert (r.readiness, r.started, r.ready) == ("Failure", True, False)
        await until(lambda: h.exec.count("cat") >= 1)
        assert not h.pm.results("uid1", "app", "c1").ready
        h.exec.files.add("/tmp/ready")
        await until(lambda: h.pm.results("uid1", "app", "c1").ready)
        # readiness failure threshold 3: two failures keep it ready
        h.exec.files.clear()
        n = h.exec.count("cat")
        await until(lambda: h.exec.count("cat") >= n + 2)
        assert h.pm.results("uid1", "app", "c1").ready
        await until(lambda: not h.pm.results("uid1", "app", "c1").ready)
    run(body)


def test_startup_gates_liveness_and_readiness() -> None:
    async def body(h: Harness) -> None:
        c = Container(name="app",
                      liveness_probe=exec_probe("false", failure_threshold=1),
                      readiness_probe=exec_probe("true"),
                      startup_probe=exec_probe("cat", "/tmp/startup", failure_threshold=60))
        h.pm.add_container(h.target(), c)
        r = h.pm.results("uid1", "app", "c1")
        assert (r.startup, r.started, r.ready) == (None, False, False)
        await until(lambda: h.exec.count("cat") >= 2)
        assert h.exec.count("false") == 0 and h.exec.count("true") == 0
        assert not h.pm.results("uid1", "app", "c1").liveness_failed
        h.exec.files.add("/tmp/startup")
        await until(lambda: h.pm.results("uid1", "app", "c1").liveness_failed)
        assert h.pm.results("uid1", "app", "c1").started
        n = h.exec.count("cat")
        await asyncio.sleep(1.2)
        assert h.exec.count("cat") == n  # startup stops probing once started
    run(body)


def test_startup_failure_kills() -> None:
    async def body(h: Harness) -> None:
        c = Container(name="app", liveness_probe=exec_probe("true"),
                      startup_probe=exec_probe("false", failure_threshold=2,
                                               termination_grace_period_seconds=7))
        h.pm.add_container(h.target(), c)
        await until(lambda: h.pm.results("uid1", "app", "c1").startup_failed, timeout=5)
        r = h.pm.results("uid1", "app", "c1")
        assert r.kill_message == "Container app failed startup probe, will be restarted"
        assert r.kill_grace_seconds == 7 and not r.liveness_failed and not r.started
    run(body)


def test_ready_right_after_startup_with_long_readiness_period() -> None:
    async def body(h: Harness) -> None:
        c = Container(name="app", readiness_probe=exec_probe("true", period=60),
                      startup_probe=exec_probe("cat", "/tmp/startup", failure_threshold=120))
        h.pm.add_container(h.target(), c)
        await until(lambda: h.exec.count("cat") >= 1)
        h.exec.files.add("/tmp/startup")
        await until(lambda: h.pm.results("uid1", "app", "c1").started)
        dt = await until(lambda: h.pm.results("uid1", "app", "c1").ready, timeout=3)
        assert dt < 1.0
    run(body)


def test_initial_delay_measured_from_started_at_with_fake_clock() -> None:
    async def body(h: Harness) -> None:
        c = Container(name="app", readiness_probe=exec_probe("true", initial_delay_seconds=15))
        h.pm.add_container(h.target(started_ago=0), c)
        await asyncio.sleep(1.5)
        assert h.exec.count("true") == 0
        h.clock.advance(15)
        await until(lambda: h.pm.results("uid1", "app", "c1").ready, timeout=2.5)
    run(body)


def test_terminating_stops_liveness_keeps_readiness() -> None:
    async def body(h: Harness) -> None:
        c = Container(name="app", liveness_probe=exec_probe("false", failure_threshold=2),
                      readiness_probe=exec_probe("cat", "/tmp/ready", failure_threshold=1))
        h.exec.files.add("/tmp/ready")
        h.pm.add_container(h.target(), c)
        await until(lambda: h.pm.results("uid1", "app", "c1").ready)
        h.pm.pod_terminating("uid1")
        r = h.pm.results("uid1", "app", "c1")
        assert r.liveness == "Success" and not r.liveness_failed
        n = h.exec.count("false")
        h.exec.files.clear()
        await until(lambda: not h.pm.results("uid1", "app", "c1").ready)
        assert h.exec.count("false") <= n + 1  # at most an in-flight run, discarded
        assert not h.pm.results("uid1", "app", "c1").liveness_failed
    run(body)


def test_errors_are_retried_three_times_and_thrown_away() -> None:
    async def body(h: Harness) -> None:
        c = Container(name="app",
                      liveness_probe=exec_probe("error", failure_threshold=1),
                      readiness_probe=Probe(http_get=HTTPGetAction(port="nope", path="/"),
                                            period_seconds=1))
        h.pm.add_container(h.target(), c)
        await until(lambda: h.exec.count("error") >= 3)
        await asyncio.sleep(0.1)
        assert h.exec.count("error") == 3  # one tick: three tries
        r = h.pm.results("uid1", "app", "c1")
        assert r.liveness == "Success" and not r.liveness_failed and not r.ready
        msgs = [e[3] for e in h.events]
        assert 'Liveness probe errored and resulted in unknown state: exec: "nope": not found' \
            in msgs
        assert 'Readiness probe errored and resulted in unknown state: port "nope" not found' \
            in msgs
    run(body)


def test_exec_timeout_is_a_failure_and_env_is_expanded() -> None:
    async def body(h: Harness) -> None:
        env = (EnvVar(name="T", value="3"),
               EnvVar(name="POD", value_from=EnvVarSource(
                   field_ref=ObjectFieldSelector(field_path="metadata.name"))))
        c = Container(name="app", env=env, liveness_probe=exec_probe(
            "sleep", "$(T)", failure_threshold=1, timeout_seconds=1))
        h.pm.add_container(h.target(), c)
        await until(lambda: h.pm.results("uid1", "app", "c1").liveness_failed, timeout=6)
        assert h.exec.calls[0] == ["sleep", "3"]
        assert ("uid1", "Warning", "Unhealthy",
                'Liveness probe failed: command "sleep 3" timed out') in h.events
    run(body)


def test_runtime_exception_is_an_error() -> None:
    async def body(h: Harness) -> None:
        c = Container(name="app", readiness_probe=exec_probe("boom"))
        h.pm.add_container(h.target(), c)
        await until(lambda: any("errored" in e[3] for e in h.events))
        assert "Readiness probe errored and resulted in unknown state: container not running" \
            in [e[3] for e in h.events]
    run(body)


def test_ticks_aligned_and_jitter_only_after_daemon_start(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setattr("podrun.agent.prober.random.random", lambda: 0.5)

    async def body(h: Harness) -> None:
        h.pm.record_run_times = True
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        h.pm.add_container(h.target(), Container(name="app", readiness_probe=exec_probe("true")))
        await until(lambda: h.exec.count("true") >= 3)
        w = h.pm.workers("uid1", "app")
        times = w[next(iter(w))].run_times
        assert 0.45 <= times[0] - t0 <= 0.7  # half a period of jitter
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(abs(g - 1.0) < 0.05 for g in gaps), gaps

    run(body, daemon_age=0.1)

    async def body2(h: Harness) -> None:
        h.pm.record_run_times = True
        t0 = asyncio.get_running_loop().time()
        h.pm.add_container(h.target(), Container(name="app", readiness_probe=exec_probe("true")))
        await until(lambda: h.exec.count("true") >= 1)
        w = h.pm.workers("uid1", "app")
        assert w[next(iter(w))].run_times[0] - t0 < 0.1  # no jitter long after start

    run(body2, daemon_age=3600)


def test_remove_container_and_pod_stop_workers() -> None:
    async def body(h: Harness) -> None:
        c = Container(name="app", readiness_probe=exec_probe("true"))
        h.pm.add_container(h.target(), c)
        h.pm.add_container(h.target(name="side"), Container(
            name="side", readiness_probe=exec_probe("true")), is_sidecar=True)
        await until(lambda: h.exec.count("true") >= 2)
        h.pm.remove_container("uid1", "app")
        assert h.pm.workers("uid1", "app") == {}
        h.pm.remove_pod("uid1")
        await asyncio.sleep(0.05)
        n = h.exec.count("true")
        await asyncio.sleep(1.2)
        assert h.exec.count("true") == n
    run(body)


def test_grpc_without_grpcio_or_named_port_is_an_error() -> None:
    async def body(h: Harness) -> None:
        c = Container(name="app", ports=(ContainerPort(name="g", container_port=1),),
                      readiness_probe=Probe(grpc=GRPCAction(port=0), period_seconds=1))
        h.pm.add_container(h.target(), c)
        await until(lambda: bool(h.events))
        assert h.events[0][3] == \
            "Readiness probe errored and resulted in unknown state: invalid port number: 0"
    run(body)
