"""A small raw HTTP/1.1 test server on asyncio that records every request it sees.

Routes: /status/<code>[?body=..], /redirect?loc=<url>[&code=302], /big (20 KiB),
/chunked (3 chunks), /slow?s=<seconds>, /close (closes without answering), anything else 200.
It listens on a socket the caller provides or on 127.0.0.1, so a test can put it inside a
network namespace (listen_socket_in) or on loopback.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from podrun.runtime import syscalls


@dataclass
class Seen:
    request_line: str
    headers: list[tuple[str, str]]

    @property
    def path(self) -> str:
        return self.request_line.split(" ")[1]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class ProbeTestServer:
    sock: socket.socket
    seen: list[Seen] = field(default_factory=list)
    server: asyncio.AbstractServer | None = None
    connections: int = 0

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    async def start(self) -> ProbeTestServer:
        self.server = await asyncio.start_server(self._handle, sock=self.sock)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        self.sock.close()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            first = await r.readexactly(2)
            if first == b"\x16\x03":  # a TLS ClientHello at a plain server: answer like Go's
                w.write(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an "
                        b"HTTPS server.\n")
                await w.drain()
                w.close()
                return
            head = first + await r.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            w.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        hdrs = [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:] if ln]
        seen = Seen(lines[0], [(k, v) for k, v in hdrs])  # type: ignore[misc]
        self.seen.append(seen)
        url = urlsplit(seen.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            await self._route(url.path, q, w)
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    async def _route(self, path: str, q: dict[str, str], w: asyncio.StreamWriter) -> None:
        def respond(code: int, body: bytes = b"", extra: str = "") -> None:
            w.write(f"HTTP/1.1 {code} X\r\nContent-Length: {len(body)}\r\n{extra}"
                    "Connection: close\r\n\r\n".encode() + body)

        if path.startswith("/status/"):
            respond(int(path.rsplit("/", 1)[1]), q.get("body", "").encode())
        elif path == "/redirect":
            respond(int(q.get("code", "302")), b"moved", f"Location: {q['loc']}\r\n")
        elif path == "/loop":
            respond(302, b"", "Location: /loop\r\n")
        elif path == "/big":
            respond(200, b"a" * 20000)
        elif path == "/chunked":
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n")
        elif path == "/slow":
            await asyncio.sleep(float(q.get("s", "5")))
            respond(200, b"late")
        elif path == "/close":
            return
        elif path == "/info":  # a 1xx informational response first, then the real one
            w.write(b"HTTP/1.1 102 Processing\r\n\r\n")
            respond(200, b"after 102")
        else:
            respond(200, b"ok")
        await w.drain()


def loopback_socket(port: int = 0) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(512)
    s.setblocking(False)
    return s


def listen_socket_in(netns_path: str, port: int = 0, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket created inside a network namespace (from a throw-away thread)."""
    out: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY)
            try:
                syscalls.setns(fd, syscalls.CLONE_NEWNET)
            finally:
                os.close(fd)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(512)
            s.setblocking(False)
            out.append(s)
        except BaseException as e:  # handed to the caller
            out.append(e)

    t = threading.Thread(target=make)  # this thread ends in the netns and then exits
    t.start()
    t.join()
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]
