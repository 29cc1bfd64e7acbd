"""httpGet and tcpSocket probes against real servers, on loopback and inside a private netns.

Every case runs twice: server on 127.0.0.1 of the host ("loopback", no root needed) and
server on 127.0.0.1 of a namespace this test created, reached by a socket made inside it
("netns", privileged). BEHAVIOR.md 4.3, 4.4, 4.7.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from podrun.agent.probes import http as H
from podrun.agent.probes import tcp as T
from podrun.agent.probes.netns import NetnsSockets
from podrun.core.probes import Outcome, ProbeRun
from tests.integration.probes.server import ProbeTestServer, listen_socket_in, loopback_socket


@dataclass
class Where:
    netns_path: str | None
    netns: NetnsSockets | None

    def listen(self) -> Any:
        return listen_socket_in(self.netns_path) if self.netns_path else loopback_socket()

    async def server(self, ssl_ctx: ssl.SSLContext | None = None) -> ProbeTestServer:
        srv = ProbeTestServer(self.listen())
        if ssl_ctx is None:
            return await srv.start()
        srv.server = await asyncio.start_server(srv._handle, sock=srv.sock, ssl=ssl_ctx)
        return srv

    async def probe(self, port: int, path: str, *, headers: list[tuple[str, str]] | None = None,
                    timeout: float = 2, scheme: str = "HTTP") -> ProbeRun:
        url = H.probe_url(scheme, "127.0.0.1", port, path)
        return await H.probe(url, H.build_headers(headers or []), timeout=timeout,
                             netns_path=self.netns_path, netns=self.netns)


@pytest.fixture(params=["loopback", pytest.param("netns", marks=pytest.mark.privileged)])
def where(request: pytest.FixtureRequest) -> Iterator[Where]:
    if request.param == "loopback":
        yield Where(None, None)
        return
    path = request.getfixturevalue("netns")
    sockets = NetnsSockets()
    try:
        yield Where(path, sockets)
    finally:
        sockets.close()


def arun(fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(fn())


def test_request_as_the_kubelet_sends_it(where: Where) -> None:
    async def body() -> None:
        srv = await where.server()
        run = await where.probe(srv.port, "/healthz?x=1&y=two",
                                headers=[("x-custom", "a"), ("X-Custom", "b"), ("Zed", "z")])
        assert run == ProbeRun(Outcome.SUCCESS, "ok")
        seen = srv.seen[0]
        assert seen.request_line == "GET /healthz?x=1&y=two HTTP/1.1"
        assert seen.headers == [("Host", f"127.0.0.1:{srv.port}"),
                                ("User-Agent", "kube-probe/1.33"), ("Accept", "*/*"),
                                ("X-Custom", "a"), ("X-Custom", "b"), ("Zed", "z"),
                                ("Connection", "close")]
        await srv.stop()
    arun(body)


def test_user_headers_override_defaults(where: Where) -> None:
    async def body() -> None:
        srv = await where.server()
        await where.probe(srv.port, "/", headers=[("Host", "example.test"), ("Accept", ""),
                                                  ("User-Agent", "mine/1")])
        await where.probe(srv.port, "/", headers=[("Accept", "application/json")])
        a, b = srv.seen
        assert a.headers == [("Host", "example.test"), ("User-Agent", "mine/1"),
                             ("Connection", "close")]
        assert b.header("Accept") == "application/json"
        await srv.stop()
    arun(body)


@pytest.mark.parametrize("code, outcome, output", [
    (200, Outcome.SUCCESS, "b"),
    (204, Outcome.SUCCESS, ""),
    (399, Outcome.WARNING, "Probe terminated redirects, Response body: b"),
    (400, Outcome.FAILURE, "HTTP probe failed with statuscode: 400"),
    (500, Outcome.FAILURE, "HTTP probe failed with statuscode: 500"),
])
def test_status_ranges(where: Where, code: int, outcome: Outcome, output: str) -> None:
    async def body() -> None:
        srv = await where.server()
        assert await where.probe(srv.port, f"/status/{code}?body=b") == ProbeRun(outcome, output)
        await srv.stop()
    arun(body)


def test_status_199_is_not_a_final_answer(where: Where) -> None:
    async def body() -> None:
        srv = await where.server()
        run = await where.probe(srv.port, "/status/199")
        assert run.outcome is Outcome.FAILURE
        assert run.output == f'Get "http://127.0.0.1:{srv.port}/status/199": EOF'
        assert (await where.probe(srv.port, "/info")).output == "after 102"
        await srv.stop()
    arun(body)


def test_redirects(where: Where) -> None:
    async def body() -> None:
        srv = await where.server()
        other = await where.server()
        p = srv.port
        # same host, relative and absolute (another port on the same host): followed
        assert (await where.probe(p, "/redirect?loc=/status/200%3Fbody%3Dfinal")).output == \
            "final"
        assert (await where.probe(p, f"/redirect?loc=http://127.0.0.1:{other.port}/x&code=301")
                ).outcome is Outcome.SUCCESS
        assert other.seen[0].request_line == "GET /x HTTP/1.1"
        # a local redirect to a failing page fails (P12)
        assert (await where.probe(p, "/redirect?loc=/status/500")).output == \
            "HTTP probe failed with statuscode: 500"
        # another host: not followed, Warning with the 3xx body (P13)
        n = len(srv.seen)
        assert await where.probe(p, "/redirect?loc=http://0.0.0.0/") == ProbeRun(
            Outcome.WARNING, "Probe terminated redirects, Response body: moved")
        assert len(srv.seen) == n + 1
        # endless local redirects: 10 requests, then a failure
        n = len(srv.seen)
        run = await where.probe(p, "/loop")
        assert run == ProbeRun(Outcome.FAILURE, f'Get "http://127.0.0.1:{p}/loop": '
                                                "stopped after 10 redirects")
        assert len(srv.seen) - n == 10
        await srv.stop()
        await other.stop()
    arun(body)


def test_body_limit_and_chunked(where: Where) -> None:
    async def body() -> None:
        srv = await where.server()
        run = await where.probe(srv.port, "/big")
        assert run.outcome is Outcome.SUCCESS and run.output == "a" * 10240
        assert (await where.probe(srv.port, "/chunked")).output == "hello world"
        await srv.stop()
    arun(body)


def test_timeout_refused_and_eof(where: Where) -> None:
    async def body() -> None:
        srv = await where.server()
        t0 = time.monotonic()
        run = await where.probe(srv.port, "/slow?s=3", timeout=1)
        assert 0.9 < time.monotonic() - t0 < 1.5
        assert run == ProbeRun(Outcome.FAILURE, f'Get "http://127.0.0.1:{srv.port}/slow?s=3": '
                                                "context deadline exceeded (Client.Timeout "
                                                "exceeded while awaiting headers)")
        assert await where.probe(srv.port, "/close") == ProbeRun(
            Outcome.FAILURE, f'Get "http://127.0.0.1:{srv.port}/close": EOF')
        port = srv.port
        await srv.stop()
        srv.sock.close()
        await asyncio.sleep(0.05)
        assert await where.probe(port, "/healthz") == ProbeRun(
            Outcome.FAILURE, f'Get "http://127.0.0.1:{port}/healthz": dial tcp '
                             f"127.0.0.1:{port}: connect: connection refused")
    arun(body)


def test_https_without_verification(where: Where, tls_context: ssl.SSLContext) -> None:
    async def body() -> None:
        srv = await where.server(tls_context)
        run = await where.probe(srv.port, "/status/200?body=secure", scheme="HTTPS")
        assert run == ProbeRun(Outcome.SUCCESS, "secure")
        plain = await where.server()
        run = await where.probe(plain.port, "/", scheme="HTTPS")
        assert run.output == (f'Get "https://127.0.0.1:{plain.port}/": '
                              "http: server gave HTTP response to HTTPS client")
        await srv.stop()
        await plain.stop()
    arun(body)


def test_tcp_open_and_closed(where: Where) -> None:
    async def body() -> None:
        srv = await where.server()
        run = await T.probe("127.0.0.1", srv.port, timeout=1, netns_path=where.netns_path,
                            netns=where.netns)
        assert run == ProbeRun(Outcome.SUCCESS, "")
        await asyncio.sleep(0.05)
        assert srv.seen == []  # nothing sent
        port = srv.port
        await srv.stop()
        srv.sock.close()
        run = await T.probe("127.0.0.1", port, timeout=1, netns_path=where.netns_path,
                            netns=where.netns)
        assert run == ProbeRun(Outcome.FAILURE,
                               f"dial tcp 127.0.0.1:{port}: connect: connection refused")
    arun(body)


@pytest.mark.privileged
def test_connect_timeouts_in_a_netns_that_drops_syns(netns: str) -> None:
    name = netns.rsplit("/", 1)[1]
    rule = ["ip", "netns", "exec", name, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "9",
            "-j", "DROP"]
    if subprocess.run(rule, capture_output=True).returncode != 0:
        pytest.skip("iptables cannot add a DROP rule in the test netns")
    listener = listen_socket_in(netns, 9)  # a listener, so only the DROP explains silence
    sockets = NetnsSockets()

    async def body() -> None:
        t0 = time.monotonic()
        run = await T.probe("127.0.0.1", 9, timeout=1, netns_path=netns, netns=sockets)
        assert run == ProbeRun(Outcome.FAILURE, "dial tcp 127.0.0.1:9: i/o timeout")
        assert 0.9 < time.monotonic() - t0 < 1.5
        run = await H.probe(H.probe_url("http", "127.0.0.1", 9, "/"), H.build_headers([]),
                            timeout=1, netns_path=netns, netns=sockets)
        assert run == ProbeRun(Outcome.FAILURE, 'Get "http://127.0.0.1:9/": context deadline '
                                                "exceeded (Client.Timeout exceeded while "
                                                "awaiting headers)")
    try:
        arun(body)
    finally:
        sockets.close()
        listener.close()
