"""The ProbeManager end to end: httpGet/tcpSocket probes into a pod netns (no pod IP) or
to a pod IP (loopback), named ports, events, kills, termination. Real 1 s periods."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from podrun.agent.prober import ProbeManager, ProbeTarget
from podrun.clock import FakeClock
from podrun.spec.types import Container, ContainerPort, HTTPGetAction, Probe, TCPSocketAction
from tests.integration.probes.server import ProbeTestServer, listen_socket_in, loopback_socket


@pytest.fixture(params=["pod-ip", pytest.param("netns", marks=pytest.mark.privileged)])
def mode(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None: the pod is reached at pod IP 127.0.0.1; else the pod netns path."""
    yield None if request.param == "pod-ip" else request.getfixturevalue("netns")


class Env:
    def __init__(self, netns_path: str | None) -> None:
        self.netns_path = netns_path
        self.clock = FakeClock()
        self.events: list[tuple[str, str, str, str]] = []
        self.changes: list[tuple[str, str]] = []
        self.pm = ProbeManager(exec_sync=lambda *a: None, clock=self.clock,
                               on_change=lambda u, c: self.changes.append((u, c)),
                               record_event=lambda *e: self.events.append(e),
                               daemon_started_at=self.clock.monotonic() - 3600)

    async def server(self) -> ProbeTestServer:
        sock = listen_socket_in(self.netns_path) if self.netns_path else loopback_socket()
        return await ProbeTestServer(sock).start()

    def target(self, ports: dict[str, int], cid: str = "c1") -> ProbeTarget:
        return ProbeTarget(pod_uid="u1", pod_name="web", namespace="default",
                           container_name="app", container_id=cid,
                           started_at=self.clock.wall() - 100,
                           pod_ip=None if self.netns_path else "127.0.0.1",
                           netns_path=self.netns_path, sandbox_id="sb", ports=ports)


async def until(cond: Callable[[], Any], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        await asyncio.sleep(0.02)


def test_http_and_tcp_probes_with_named_ports(mode: str | None) -> None:
    env = Env(mode)

    async def body() -> None:
        srv = await env.server()
        c = Container(
            name="app", ports=(ContainerPort(name="http", container_port=srv.port),),
            readiness_probe=Probe(http_get=HTTPGetAction(path="/healthz", port="http"),
                                  period_seconds=1),
            liveness_probe=Probe(tcp_socket=TCPSocketAction(port="http"), period_seconds=1,
                                 failure_threshold=1))
        env.pm.add_container(env.target({}), c)
        assert not env.pm.results("u1", "app", "c1").ready
        await until(lambda: env.pm.results("u1", "app", "c1").ready)
        seen = srv.seen[0]
        assert seen.request_line == "GET /healthz HTTP/1.1"
        assert seen.header("User-Agent") == "kube-probe/1.33"
        assert ("u1", "app") in env.changes
        # the server goes away: readiness drops after 3 failures, liveness (tcp) kills
        await srv.stop()
        await until(lambda: env.pm.results("u1", "app", "c1").liveness_failed, timeout=4)
        r = env.pm.results("u1", "app", "c1")
        assert r.kill_message == "Container app failed liveness probe, will be restarted"
        assert any(e[2] == "Unhealthy" and e[3].startswith("Liveness probe failed: dial tcp "
                                                           "127.0.0.1:") for e in env.events)
        await until(lambda: not env.pm.results("u1", "app", "c1").ready, timeout=5)
        assert any(e[3].startswith('Readiness probe failed: Get "http://127.0.0.1:')
                   for e in env.events)
        await env.pm.close()
    asyncio.run(body())


def test_liveness_http_500_kills_and_non_local_redirect_warns(mode: str | None) -> None:
    env = Env(mode)

    async def body() -> None:
        srv = await env.server()
        redirect = Container(name="app", liveness_probe=Probe(
            http_get=HTTPGetAction(path="/redirect?loc=http://0.0.0.0/", port=srv.port),
            period_seconds=1, failure_threshold=1))
        env.pm.add_container(env.target({}), redirect)
        await until(lambda: any(e[2] == "ProbeWarning" for e in env.events))
        assert ("u1", "Warning", "ProbeWarning", "Liveness probe warning: Probe terminated "
                "redirects, Response body: moved") in env.events
        assert not env.pm.results("u1", "app", "c1").liveness_failed
        env.pm.remove_container("u1", "app")
        failing = Container(name="app", liveness_probe=Probe(
            http_get=HTTPGetAction(path="/redirect?loc=/status/500", port=srv.port),
            period_seconds=1, failure_threshold=1, termination_grace_period_seconds=5))
        env.pm.add_container(env.target({}, cid="c2"), failing)
        await until(lambda: env.pm.results("u1", "app", "c2").liveness_failed)
        assert env.pm.results("u1", "app", "c2").kill_grace_seconds == 5
        assert ("u1", "Warning", "Unhealthy",
                "Liveness probe failed: HTTP probe failed with statuscode: 500") in env.events
        await srv.stop()
        await env.pm.close()
    asyncio.run(body())


def test_readiness_goes_false_while_terminating(mode: str | None) -> None:
    env = Env(mode)

    async def body() -> None:
        srv = await env.server()
        c = Container(name="app",
                      readiness_probe=Probe(http_get=HTTPGetAction(path="/", port=srv.port),
                                            period_seconds=1, failure_threshold=1),
                      liveness_probe=Probe(http_get=HTTPGetAction(path="/", port=srv.port),
                                           period_seconds=1, failure_threshold=1))
        env.pm.add_container(env.target({}), c)
        await until(lambda: env.pm.results("u1", "app", "c1").ready)
        env.pm.pod_terminating("u1")
        await srv.stop()
        await until(lambda: not env.pm.results("u1", "app", "c1").ready, timeout=3)
        await asyncio.sleep(1.1)
        r = env.pm.results("u1", "app", "c1")
        assert r.liveness == "Success" and not r.liveness_failed
        assert not any(e[3].startswith("Liveness") for e in env.events)
        await env.pm.close()
    asyncio.run(body())
