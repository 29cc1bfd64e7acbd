"""The tcpSocket probe: connect within the timeout and close at once (K8S: pkg/probe/tcp)."""

from __future__ import annotations

import asyncio

from podrun.agent.probes.http import Deadline
from podrun.agent.probes.netns import DialError, NetnsSockets, dial, join_host_port
from podrun.core.probes import Outcome, ProbeRun


async def probe(host: str, port: int, *, timeout: float, netns_path: str | None = None,
                netns: NetnsSockets | None = None, deadline: Deadline | None = None
                ) -> ProbeRun:
    """Success when a TCP connection opens; no data is sent. Failures carry the dial error.
    `deadline`: the timeout context manager factory (default asyncio.timeout)."""
    try:
        async with (deadline or asyncio.timeout)(timeout):
            sock = await dial(host, port, netns_path=netns_path, netns=netns)
    except TimeoutError:
        return ProbeRun(Outcome.FAILURE, f"dial tcp {join_host_port(host, port)}: i/o timeout")
    except DialError as e:
        return ProbeRun(Outcome.FAILURE, e.message)
    sock.close()
    return ProbeRun(Outcome.SUCCESS, "")
