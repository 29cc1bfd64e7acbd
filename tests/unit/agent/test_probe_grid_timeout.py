"""The prober's probe timeouts on its wake-up grid (no timer of their own per probe run) and
the HTTP client reading a response in pieces: a real event loop, servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from podrun.agent.prober import ProbeManager, ProbeTarget
from podrun.agent.probes import http as H
from podrun.clock import FakeClock
from podrun.core.probes import Outcome, ProbeRun
from podrun.runtime.execin import ExecResult
from podrun.spec.types import Container, HTTPGetAction, Probe


def _manager(events: list[tuple[str, ...]]) -> ProbeManager:
    clock = FakeClock()
    return ProbeManager(exec_sync=lambda *a: ExecResult(0, b"", b""), clock=clock,
                        on_change=lambda u, c: None, record_event=lambda *e: events.append(e),
                        daemon_started_at=clock.monotonic() - 3600)


def _target() -> ProbeTarget:
    return ProbeTarget(pod_uid="u1", pod_name="web", namespace="default",
                       container_name="app", container_id="c1", started_at=0.0,
                       pod_ip="127.0.0.1", netns_path=None, sandbox_id="sb1")


async def _silent_server() -> tuple[asyncio.AbstractServer, int, list[float]]:
    """Accepts, reads the request, never answers; the times requests came in."""
    seen: list[float] = []

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        seen.append(time.monotonic())
        try:
            await r.read()  # until the prober hangs up
        finally:
            w.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


def test_manager_probe_times_out_on_the_grid_with_gos_message() -> None:
    events: list[tuple[str, ...]] = []

    async def body() -> None:
        server, port, seen = await _silent_server()
        pm = _manager(events)
        try:
            probe = Probe(http_get=HTTPGetAction(path="/healthz", port=port), period_seconds=1,
                          timeout_seconds=1)
            pm.add_container(_target(), Container(name="app", readiness_probe=probe))
            start = time.monotonic()
            while not seen and time.monotonic() - start < 5:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            # in flight: its timeout waits in a grid slot, not in a timer of its own
            assert any(type(x).__name__ == "_GridTimeout"
                       for xs in pm._slots.values() for x in xs), pm._slots
            while not events and time.monotonic() - start < 5:
                await asyncio.sleep(0.01)
            took = time.monotonic() - seen[0]
        finally:
            await pm.close()
            server.close()
        assert events, "no Unhealthy event within 5 s"
        # the 1 s timeout, at most one 10 ms grid step (and some scheduling) late
        assert 0.95 <= took < 1.3, took
    asyncio.run(body())
    _uid, type_, reason, message = events[0]
    assert (type_, reason) == ("Warning", "Unhealthy")
    assert message.startswith('Readiness probe failed: Get "http://127.0.0.1:'), message
    assert message.endswith('/healthz": context deadline exceeded '
                            '(Client.Timeout exceeded while awaiting headers)'), message


def test_grid_timeout_left_early_never_cancels_later_and_outer_cancel_stays() -> None:
    async def body() -> None:
        pm = _manager([])
        # left early: the slot fires later and must not touch the task
        async with pm.timeout(0.05):
            await asyncio.sleep(0)
        await asyncio.sleep(0.12)  # past the deadline slot: still running, not cancelled
        # expiring: TimeoutError out of the block, the task's cancel count back to 0
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            async with pm.timeout(0.05):
                await asyncio.sleep(5)
        assert 0.04 <= time.monotonic() - t0 < 0.5
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0

        # an outer cancel inside the block stays a CancelledError
        async def inner() -> None:
            async with pm.timeout(5):
                await asyncio.sleep(5)
        t = asyncio.create_task(inner())
        await asyncio.sleep(0.02)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        await pm.close()
    asyncio.run(body())


@pytest.mark.parametrize("pieces,status,body", [
    # head and body in separate writes, a line split across writes, the body in bits
    ([b"HTTP/1.1 200 OK\r\nContent-Len", b"gth: 5\r\n\r\n", b"he", b"llo"], 200, "hello"),
    # 1xx before the answer, chunked body in pieces
    ([b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      b"3\r\nabc\r\n", b"2\r\nde\r\n0\r\n\r\n"], 200, "abcde"),
    # no length: the body runs to EOF
    ([b"HTTP/1.0 404 Not Found\n\n", b"gone", b""], 404, "gone"),
])
def test_response_read_in_pieces(pieces: list[bytes], status: int, body: str) -> None:
    async def run() -> H.Response:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                await r.readuntil(b"\r\n\r\n")
                for p in pieces:
                    w.write(p)
                    await w.drain()
                    await asyncio.sleep(0.02)
            finally:
                w.close()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await H.get(H.probe_url("http", "127.0.0.1", port, "/"), H.build_headers([]),
                               timeout=3)
        finally:
            server.close()
            await asyncio.sleep(0.1)  # the handler's last sleep and close
    resp = asyncio.run(run())
    assert (resp.status, resp.body.decode()) == (status, body)


def test_eof_inside_the_body_is_an_error_after_the_head() -> None:
    async def run() -> ProbeRun:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await r.readuntil(b"\r\n\r\n")
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            await w.drain()
            w.close()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            return await H.probe(H.probe_url("http", "127.0.0.1", port, "/"),
                                 H.build_headers([]), timeout=3)
        finally:
            server.close()
    res = asyncio.run(run())
    # the head was read: a probe error (thrown away by the worker), as upstream
    assert res.outcome is Outcome.FAILURE, res
    assert res.error is not None and res.error.endswith('/": unexpected EOF'), res


@pytest.mark.parametrize("delay", [0.0, 0.05])
def test_answers_read_on_the_next_wake_up_without_epoll_registration(
        monkeypatch: pytest.MonkeyPatch, delay: float) -> None:
    """A quick answer is read on the grid's next wake-up (settle), with no add_reader; a
    slow one (50 ms, past that wake-up) falls back to waiting for the socket."""
    events: list[tuple[str, ...]] = []
    readers: list[int] = []

    async def body() -> list[int]:
        loop = asyncio.get_running_loop()
        real_add_reader = loop.add_reader

        def counting_add_reader(fd: object, cb: object, *args: object) -> None:
            readers.append(1)
            real_add_reader(fd, cb, *args)  # type: ignore[arg-type]
        monkeypatch.setattr(loop, "add_reader", counting_add_reader)

        # the server in a thread of its own, answering on its own time like a pod
        lsock = socket.create_server(("127.0.0.1", 0))
        port = lsock.getsockname()[1]
        stop = threading.Event()

        def serve() -> None:
            lsock.settimeout(0.1)
            while not stop.is_set():
                try:
                    conn, _ = lsock.accept()
                except TimeoutError:
                    continue
                with conn:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(4096)
                    time.sleep(delay)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        pm = _manager(events)
        try:
            probe = Probe(http_get=HTTPGetAction(path="/", port=port), period_seconds=1)
            pm.add_container(_target(), Container(name="app", readiness_probe=probe))
            await asyncio.sleep(2.5)
            w = pm.workers("u1", "app")
            runs = sum(x.runs for x in w.values())
            ready = pm.results("u1", "app", "c1").ready
        finally:
            await pm.close()
            stop.set()
            thread.join()
            lsock.close()
        assert ready and runs >= 2, (ready, runs)
        return [runs]
    runs = asyncio.run(body())[0]
    assert not events
    if delay == 0.0:
        assert len(readers) < runs, (readers, runs)  # nearly always none
    else:
        assert len(readers) >= runs, (readers, runs)
