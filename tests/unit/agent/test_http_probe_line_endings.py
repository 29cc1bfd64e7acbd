"""Go's net/http (the kubelet's probe client) reads response header lines ending in a bare
"\n" too; busybox httpd passes a CGI script's bare-LF headers through unchanged."""

import asyncio

import pytest

from podrun.agent.probes.http import build_headers, probe, probe_url
from podrun.core.probes import Outcome, ProbeRun


async def _serve(response: bytes) -> tuple[asyncio.AbstractServer, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(response)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("response,ok", [
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\n\nok\n", True),
    (b"HTTP/1.0 200 OK\nContent-Length: 2\n\nok", True),
    (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", False),
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n", False),  # EOF inside the head
])
def test_bare_lf_headers(response: bytes, ok: bool) -> None:
    async def run() -> ProbeRun:
        server, port = await _serve(response)
        try:
            return await probe(probe_url("http", "127.0.0.1", port, "/"), build_headers([]),
                               timeout=2)
        finally:
            server.close()
            await server.wait_closed()

    result = asyncio.run(run())
    assert (result.outcome is Outcome.SUCCESS) is ok, result
