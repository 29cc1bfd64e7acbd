"""The grpc probe: grpc.health.v1.Health/Check through grpcio, in a thread (K8S: pkg/probe/grpc).

A hand-written client would need HTTP/2 framing plus HPACK with its Huffman table; grpcio
(with grpcio-health-checking) is the reference implementation and installs as wheels, so
podrun uses it when importable and reports the probe as an error otherwise. grpcio dials by
itself and cannot take a socket, so for a pod reachable only through its netns the call goes
to a throw-away unix socket that the event loop relays into the netns.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from concurrent.futures import Executor
from typing import Any

from podrun import KUBE_VERSION
from podrun.agent.probes.netns import DialError, NetnsSockets, dial, join_host_port
from podrun.core.probes import Outcome, ProbeRun

_grpc: Any = None
_health: Any = None
_missing = False


def available() -> bool:
    """Whether grpcio and grpcio-health-checking can be imported."""
    global _grpc, _health, _missing
    if _missing:
        return False
    if _grpc is None:
        try:
            import grpc  # type: ignore[import-untyped,import-not-found,unused-ignore]
            from grpc_health.v1 import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
                health_pb2,
                health_pb2_grpc,
            )
        except ImportError:
            _missing = True
            return False
        _grpc = grpc
        _health = (health_pb2, health_pb2_grpc)
    return True


def _check(target: str, addr: str, service: str, timeout: float) -> ProbeRun:
    grpc = _grpc
    health_pb2, health_pb2_grpc = _health
    options = [("grpc.primary_user_agent", f"kube-probe/{KUBE_VERSION}"),
               ("grpc.enable_retries", 0), ("grpc.default_authority", addr)]
    deadline = time.monotonic() + timeout
    shown = f"{timeout:g}s"
    channel = grpc.insecure_channel(target, options=options)
    try:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return ProbeRun(Outcome.FAILURE, f'timeout: failed to connect service "{addr}" '
                                             f"within {shown}: context deadline exceeded")
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            resp = stub.Check(health_pb2.HealthCheckRequest(service=service),
                              timeout=max(0.001, deadline - time.monotonic()))
        except grpc.RpcError as e:
            code = e.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return ProbeRun(Outcome.FAILURE, "error: this server does not implement the grpc "
                                f"health protocol (grpc.health.v1.Health): {e.details()}")
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return ProbeRun(Outcome.FAILURE,
                                f"timeout: health rpc did not complete within {shown}")
            name = "".join(w.capitalize() for w in code.name.split("_"))
            return ProbeRun(Outcome.FAILURE, "error: health rpc probe failed: rpc error: "
                            f"code = {name} desc = {e.details()}")
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
            return ProbeRun(Outcome.FAILURE, f'service unhealthy (responded with "{status}")')
        return ProbeRun(Outcome.SUCCESS, "service healthy")
    finally:
        channel.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def probe(host: str, port: int, service: str | None, *, timeout: float,
                netns_path: str | None = None, netns: NetnsSockets | None = None,
                executor: Executor | None = None) -> ProbeRun:
    """Health/Check with `service` ("" when unset), connect and RPC bounded by `timeout`."""
    if not available():
        return ProbeRun(Outcome.UNKNOWN, "", error="grpc probes need the grpcio and "
                        "grpcio-health-checking packages")
    addr = join_host_port(host, port)
    loop = asyncio.get_running_loop()
    if not netns_path:
        target = f"ipv6:{addr}" if ":" in host else addr
        return await loop.run_in_executor(executor, _check, target, addr, service or "",
                                          float(timeout))

    async def relay(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            sock = await dial(host, port, netns_path=netns_path, netns=netns)
        except DialError:
            w.close()
            return
        pr, pw = await asyncio.open_connection(sock=sock)
        await asyncio.gather(_pipe(r, pw), _pipe(pr, w))

    # A path, not an abstract name: abstract unix sockets belong to a netns, and grpcio's own
    # threads may not be in the daemon's.
    tmp = tempfile.mkdtemp(prefix="podrun-grpc-")
    path = os.path.join(tmp, "s")
    server = await asyncio.start_unix_server(relay, path=path)
    try:
        return await loop.run_in_executor(executor, _check, f"unix:{path}", addr,
                                          service or "", float(timeout))
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
