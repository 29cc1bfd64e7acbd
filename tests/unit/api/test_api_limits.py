"""The API's limits against broken or hostile clients (podrun/api/server.py, docs/api.md
"Limits"), on a real Unix socket with the fake engine: nesting, YAML size, unparsable HTTP,
slow headers and bodies, idle connections, the connection limit, and the event loop staying
free while a large body is decoded. The end-to-end fuzzer is
tests/integration/reliability/test_api_fuzz.py."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podrun.agent.sources import PodConfig
from podrun.agent.store import Store
from podrun.api import server
from tests.support import TEST_TMP
from tests.unit.api.fakes import FakeManager, make_ctx


@pytest.fixture
def sock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """serve_unix with the API app, in a thread; small timeouts and connection limit."""
    monkeypatch.setattr(server, "HEADER_TIMEOUT", 0.5)
    monkeypatch.setattr(server, "BODY_TIMEOUT", 0.5)
    monkeypatch.setattr(server, "MAX_CONNECTIONS", 8)
    path = Path(tempfile.mkdtemp(prefix="podrun-api-", dir=TEST_TMP)) / "api.sock"
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        store = Store(None)
        mgr = FakeManager()
        state["config"] = PodConfig(store, mgr, "testnode")
        app = server.create_app(make_ctx(None, store), state["config"], mgr, check_peer=False)
        state["runner"] = await server.serve_unix(app, path)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(10), "the API server did not start"
        yield path
        async def stop() -> None:
            await state["config"].stop()
            await state["runner"].cleanup()
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        if not thread.is_alive():
            loop.close()
        shutil.rmtree(path.parent, ignore_errors=True)


def connect(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(str(path))
    return s


def exchange(path: Path, data: bytes) -> tuple[int, dict[str, Any] | None]:
    """Send raw bytes, read until the daemon closes; (HTTP code, the JSON body or None)."""
    s = connect(path)
    s.sendall(data)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    code = int(head.split(b" ")[1])
    try:
        return code, json.loads(body)
    except ValueError:
        return code, None


def post(body: bytes, ctype: str = "application/json") -> bytes:
    return (f"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
            f"Connection: close\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"\r\n").encode() + body


def assert_status(st: dict[str, Any] | None, code: int, text: str) -> None:
    assert st is not None and st["kind"] == "Status" and st["code"] == code, st
    assert text in st["message"], st


@pytest.mark.parametrize("depth", [101, 900, 5000, 100000])
def test_deep_nesting_is_a_400_status(sock: Path, depth: int) -> None:
    # 5000 and more: deeper than Python's recursion limit (was a 500 with a traceback)
    code, st = exchange(sock, post(b"[" * depth + b"]" * depth))
    assert code == 400
    assert_status(st, 400, "nested deeper than 100 levels")
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}, "data": {}}
    inner: Any = "x"
    for _ in range(depth if depth < 1000 else 200):
        inner = {"a": inner}
    obj["metadata"]["annotations"] = inner
    code, st = exchange(sock, post(json.dumps(obj).encode()))
    assert code == 400


def test_a_pod_deep_enough_is_fine(sock: Path) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ok"},
          "data": {"k": "v"}}
    code, st = exchange(sock, post(json.dumps(cm).encode()))
    assert code == 201, st


def test_yaml_body_over_its_limit_is_413(sock: Path) -> None:
    data = "".join(f"  k{i}: v\n" for i in range(70000))
    body = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: y}}\ndata:\n{data}".encode()
    assert len(body) > server.MAX_YAML_BODY_BYTES
    code, st = exchange(sock, post(body, "application/yaml"))
    assert_status(st, 413, f"larger than {server.MAX_YAML_BODY_BYTES} bytes")
    # the same as JSON is fine (3 MiB limit)
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"},
           "data": {f"k{i}": "v" for i in range(70000)}}
    code, st = exchange(sock, post(json.dumps(obj).encode()))
    assert code == 201, st


def test_a_chunked_body_over_the_limit_is_413(sock: Path) -> None:
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(60)) + b"0\r\n\r\n"
    req = (b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    code, st = exchange(sock, req)
    assert_status(st, 413, "larger than")


@pytest.mark.parametrize("raw", [
    b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /\xc3\xbc HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # a TLS client hello
])
def test_unparsable_http_gets_a_status_and_a_close(sock: Path, raw: bytes) -> None:
    code, st = exchange(sock, raw)
    assert code in (400, 413, 431)
    assert_status(st, code, "could not be parsed")


def test_a_stalled_body_gets_408(sock: Path) -> None:
    s = connect(sock)
    s.sendall(post(b"{" + b" " * 99)[:-90])
    t0 = time.monotonic()
    head = s.recv(65536)
    assert head.startswith(b"HTTP/1.1 408"), head
    assert b'"reason": "Timeout"' in head
    assert 0.4 < time.monotonic() - t0 < 3
    s.close()


def test_idle_and_slow_header_connections_are_closed(sock: Path) -> None:
    idle = connect(sock)
    slow = connect(sock)
    t0 = time.monotonic()
    slow.sendall(b"GET /healthz HTTP/1.1\r\n")
    for part in (b"Host: x\r\n", b"X-A: b\r\n"):
        time.sleep(0.2)
        slow.sendall(part)
    assert idle.recv(10) == b"" and slow.recv(10) == b""
    assert time.monotonic() - t0 < 3
    idle.close()
    slow.close()
    code, _ = exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert code == 200


def test_connections_beyond_the_limit_get_429(sock: Path) -> None:
    held = [connect(sock) for _ in range(server.MAX_CONNECTIONS)]
    time.sleep(0.2)
    code, st = exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_status(st, 429, "too many open connections")
    for s in held:
        s.close()
    time.sleep(0.2)
    code, _ = exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert code == 200


def test_decoding_a_large_body_leaves_the_loop_free(sock: Path) -> None:
    """A YAML body near its limit takes seconds in PyYAML: it is decoded in a thread, so
    /healthz keeps answering meanwhile (it waited for the whole decode before)."""
    data = "".join(f"  k{i}: v\n" for i in range(10000))
    body = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata:\n{data}".encode()
    result: dict[str, Any] = {}

    def send() -> None:
        result["t0"] = time.monotonic()
        result["answer"] = exchange(sock, post(body, "application/yaml"))
        result["took"] = time.monotonic() - result["t0"]

    th = threading.Thread(target=send)
    th.start()
    lat = []
    time.sleep(0.05)
    while th.is_alive():
        t0 = time.monotonic()
        code, _ = exchange(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close"
                                 b"\r\n\r\n")
        lat.append(time.monotonic() - t0)
        assert code == 200
        time.sleep(0.02)
    th.join()
    assert result["answer"][0] == 201, result
    assert lat and max(lat) < max(0.5, result["took"] / 3), (lat, result["took"])
