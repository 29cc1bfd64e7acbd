"""Test doubles for the daemon side: a recording PodManager and an API app on a test server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from podrun.agent import DaemonContext, EngineUnavailable
from podrun.agent.sources import PodConfig
from podrun.agent.store import Store
from podrun.api.server import create_app

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "a", "image": "busybox", "command": ["sleep", "3600"]}]},
}


def pod(name: str = "web", **labels: str) -> dict[str, Any]:
    p: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": name, "labels": labels or {"app": name}},
                         "spec": {"containers": [{"name": "a", "image": "busybox"}]}}
    return p


class FakeExec:
    def __init__(self, out: list[tuple[int, bytes]], code: int, echo: bool = False) -> None:
        self.out = list(out)
        self.code = code
        self.echo = echo  # like `cat`: after `out`, stdin comes back on stdout at EOF
        self.stdin = b""
        self.stdin_closed = asyncio.Event()
        self.sizes: list[tuple[int, int]] = []

    async def write_stdin(self, data: bytes) -> None:
        self.stdin += data

    async def close_stdin(self) -> None:
        self.stdin_closed.set()

    async def read(self) -> tuple[int, bytes] | None:
        if self.out:
            return self.out.pop(0)
        if self.echo:
            self.echo = False
            await asyncio.wait_for(self.stdin_closed.wait(), 10)
            return (1, self.stdin)
        return None

    def resize(self, width: int, height: int) -> None:
        self.sizes.append((width, height))

    async def wait(self) -> int:
        return self.code

    async def kill(self) -> None:
        return None


class FakeManager:
    """Records calls; terminations finish when `release` is set (at once by default)."""

    def __init__(self, *, engine: bool = False) -> None:
        self.synced: list[dict[str, Any]] = []
        self.terminated: list[tuple[str, int | None]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.engine = engine
        self.log_lines: list[bytes] = [b"hello\n", b"world\n"]
        self.exec_result: FakeExec | None = None
        self.closed: bool | None = None

    async def start(self) -> None:
        return None

    async def sync_pod(self, pod: dict[str, Any]) -> None:
        self.synced.append(pod)

    async def terminate_pod(self, uid: str, grace: int | None) -> None:
        self.terminated.append((uid, grace))
        await self.release.wait()

    def status(self, uid: str) -> dict[str, Any] | None:
        return None

    def logs(self, uid: str, container: str, **kw: Any) -> AsyncIterator[bytes]:
        if not self.engine:
            raise EngineUnavailable("the pod runtime engine is not available yet")
        self.last_logs = (uid, container, kw)
        lines = list(self.log_lines)

        async def gen() -> AsyncIterator[bytes]:
            for ln in lines:
                yield ln
        return gen()

    async def exec(self, uid: str, container: str, command: list[str], *, stdin: bool,
                   tty: bool) -> Any:
        if not self.engine:
            raise EngineUnavailable("the pod runtime engine is not available yet")
        self.last_exec = (uid, container, command, stdin, tty)
        assert self.exec_result is not None
        return self.exec_result

    async def close(self, stop_pods: bool) -> None:
        self.closed = stop_pods


def make_ctx(root: Path | None, store: Store | None = None) -> DaemonContext:
    base = root or Path("/nonexistent")
    return DaemonContext(store=store or Store(root), node_name="testnode", root=base,
                         run_dir=base / "run", log_dir=base / "log",
                         manifest_dir=base / "manifests")


@contextlib.asynccontextmanager
async def api_client(root: Path | None = None, manager: FakeManager | None = None,
                     store: Store | None = None) -> AsyncIterator[tuple[TestClient, Store, PodConfig, FakeManager]]:
    store = store or Store(root)
    ctx = make_ctx(root, store)
    mgr = manager or FakeManager()
    config = PodConfig(store, mgr, "testnode")
    app = create_app(ctx, config, mgr, check_peer=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client, store, config, mgr
    finally:
        await config.stop()
        await client.close()
