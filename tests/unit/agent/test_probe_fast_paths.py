"""The cheap paths of the prober: dial with the request sent at connect, shared wake-up slots.

These exist for CPU at scale (bench/probe_bench.py); what they must not change is what the
kubelet does: the bytes the server sees, Go's error texts, ticks at first + k * period.
Loopback only, no root.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from podrun.agent.prober import ProbeManager, ProbeTarget
from podrun.agent.probes import http as H
from podrun.agent.probes.netns import DialError, dial
from podrun.clock import FakeClock
from podrun.core.probes import Outcome
from podrun.runtime.execin import ExecResult
from podrun.spec.types import Container, ExecAction, Probe


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()  # nothing listens there now: connect is refused
    return port


async def serve_once(reply: bytes) -> tuple[asyncio.base_events.Server, int, list[bytes]]:
    seen: list[bytes] = []

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        seen.append(await r.readuntil(b"\r\n\r\n"))
        w.write(reply)
        await w.drain()
        w.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


def test_dial_sends_first_bytes_with_the_connect() -> None:
    async def body() -> None:
        server, port, seen = await serve_once(b"HTTP/1.1 204 No Content\r\n\r\n")
        async with server:
            sock = await dial("127.0.0.1", port, first=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            loop = asyncio.get_running_loop()
            assert (await loop.sock_recv(sock, 100)).startswith(b"HTTP/1.1 204")
            sock.close()
        assert seen == [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]
    asyncio.run(body())


@pytest.mark.parametrize("first", [b"", b"GET / HTTP/1.1\r\n\r\n"])
def test_refused_is_a_dial_error_with_go_text(first: bytes) -> None:
    port = free_port()

    async def body() -> None:
        with pytest.raises(DialError) as e:
            await dial("127.0.0.1", port, first=first)
        assert e.value.message == f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    asyncio.run(body())


def test_handshake_not_over_waits_for_writability() -> None:
    """A listener that never accepts and has a full queue drops SYNs: dial must wait."""
    async def body() -> None:
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(0)
        port = lst.getsockname()[1]
        held = []
        try:
            for _ in range(4):  # fill the accept queue (backlog 0 still takes one or two)
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                held.append(s)
            await asyncio.sleep(0.05)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await dial("127.0.0.1", port, first=b"GET / HTTP/1.1\r\n\r\n")
        finally:
            for s in held:
                s.close()
            lst.close()
    asyncio.run(body())


def test_http_probe_request_and_result_unchanged() -> None:
    async def body() -> None:
        server, port, seen = await serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        async with server:
            url = H.probe_url("http", "127.0.0.1", port, "/healthz")
            run = await H.probe(url, H.build_headers([]), timeout=1)
        assert (run.outcome, run.output) == (Outcome.SUCCESS, "ok")
        assert seen == [(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                         "User-Agent: kube-probe/" + H.user_agent().split("/")[1] + "\r\n"
                         "Accept: */*\r\nConnection: close\r\n\r\n").encode()]
    asyncio.run(body())


def _manager() -> tuple[ProbeManager, FakeClock]:
    clock = FakeClock()
    pm = ProbeManager(exec_sync=lambda *a: ExecResult(0, b"", b""), clock=clock,
                      on_change=lambda u, c: None, record_event=lambda *e: None,
                      daemon_started_at=clock.monotonic() - 0.1)  # just started: jitter
    return pm, clock


def test_workers_due_together_share_one_timer_and_stay_on_the_grid(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("podrun.agent.prober.random.random", lambda: 0.25)

    async def body() -> None:
        pm, clock = _manager()
        pm.record_run_times = True
        loop = asyncio.get_running_loop()
        timers: list[float] = []
        real_call_at = loop.call_at

        def counting_call_at(when: float, cb: Any, *args: Any, **kw: Any) -> Any:
            if getattr(cb, "__name__", "") == "_fire":
                timers.append(when)
            return real_call_at(when, cb, *args, **kw)
        monkeypatch.setattr(loop, "call_at", counting_call_at)
        probe = Probe(exec=ExecAction(command=("true",)), period_seconds=1)
        for i in range(20):
            pm.add_container(ProbeTarget(pod_uid=f"u{i}", pod_name=f"p{i}", namespace="d",
                                         container_name="app", container_id=f"c{i}",
                                         started_at=clock.wall() - 100, pod_ip=None,
                                         netns_path=None, sandbox_id="sb"),
                             Container(name="app", readiness_probe=probe))
        await asyncio.sleep(2.4)
        workers = [w for i in range(20) for w in pm.workers(f"u{i}", "app").values()]
        await pm.close()
        # 20 workers, same jitter: one timer per tick for all of them (3 ticks), not 20 each.
        assert len(timers) <= 4, timers
        q = pm.tick_quantum
        for w in workers:
            assert w.first_tick is not None
            assert abs(w.first_tick / q - round(w.first_tick / q)) < 1e-6  # on the grid
            assert len(w.run_times) >= 2
            for k, t in enumerate(w.run_times):
                assert 0 <= t - (w.first_tick + k) < 0.05  # first + k * period, not later
    asyncio.run(body())
