"""grpc probes (grpc.health.v1.Health/Check) against grpcio test servers (BEHAVIOR.md 4.6).

Skipped when grpcio or grpcio-health-checking is not installed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.agent.probes import grpc as G
from podrun.agent.probes.netns import NetnsSockets
from podrun.core.probes import Outcome, ProbeRun

pytest.importorskip("grpc", reason="grpcio is not installed")
pytest.importorskip("grpc_health.v1.health", reason="grpcio-health-checking is not installed")

SERVER = Path(__file__).with_name("grpc_server.py")


class Servers:
    """The grpc_server.py child: a health server and a bare one on its 127.0.0.1."""

    def __init__(self, netns_path: str | None) -> None:
        prefix = ["ip", "netns", "exec", os.path.basename(netns_path)] if netns_path else []
        self.proc = subprocess.Popen(prefix + [sys.executable, str(SERVER)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port, self.bare_port = map(int, self.proc.stdout.readline().split())

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(params=["loopback", pytest.param("netns", marks=pytest.mark.privileged)])
def where(request: pytest.FixtureRequest) -> Iterator[tuple[str | None, NetnsSockets | None]]:
    if request.param == "loopback":
        yield None, None
        return
    path = request.getfixturevalue("netns")
    sockets = NetnsSockets()
    try:
        yield path, sockets
    finally:
        sockets.close()


def test_grpc_health(where: tuple[str | None, NetnsSockets | None]) -> None:
    netns_path, sockets = where
    servers = Servers(netns_path)
    port, bare_port = servers.port, servers.bare_port

    async def probe(p: int, service: str | None, timeout: float = 2) -> ProbeRun:
        return await G.probe("127.0.0.1", p, service, timeout=timeout, netns_path=netns_path,
                             netns=sockets)

    async def body() -> None:
        assert await probe(port, None) == ProbeRun(Outcome.SUCCESS, "service healthy")
        assert await probe(port, "sick") == ProbeRun(
            Outcome.FAILURE, 'service unhealthy (responded with "NOT_SERVING")')
        run = await probe(port, "unknown-service")
        assert run.outcome is Outcome.FAILURE and "code = NotFound" in run.output
        run = await probe(bare_port, None)
        assert run.outcome is Outcome.FAILURE
        assert run.output.startswith("error: this server does not implement the grpc health "
                                     "protocol (grpc.health.v1.Health)")
        servers.stop()
        await asyncio.sleep(0.1)
        run = await probe(port, None, timeout=1)
        assert run == ProbeRun(Outcome.FAILURE, f'timeout: failed to connect service '
                                                f'"127.0.0.1:{port}" within 1s: context '
                                                "deadline exceeded")

    try:
        asyncio.run(body())
    finally:
        servers.stop()
