"""A grpc test server for probe tests, run as a child (inside a netns with `ip netns exec`).

Prints "<health port> <bare port>" and serves until its stdin closes: the first server has
grpc.health.v1 ("" SERVING, "sick" NOT_SERVING), the second has no health service.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def main() -> None:
    server = grpc.server(ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    servicer.set("sick", health_pb2.HealthCheckResponse.NOT_SERVING)
    port = server.add_insecure_port("127.0.0.1:0")
    bare = grpc.server(ThreadPoolExecutor(max_workers=2))
    bare_port = bare.add_insecure_port("127.0.0.1:0")
    server.start()
    bare.start()
    print(port, bare_port, flush=True)
    sys.stdin.read()
    server.stop(0)
    bare.stop(0)


if __name__ == "__main__":
    main()
