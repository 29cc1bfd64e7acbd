"""Sockets for probes: dialled from the host, or created inside a pod's network namespace.

Until the pod has an IP (no CNI yet) the pod is reachable only from inside its netns. One
thread enters the netns with setns(CLONE_NEWNET) (which moves only that thread), creates the
socket, and goes home; the socket keeps the netns it was created in, so the event loop
connects and talks on it like on any other socket. No thread or process per probe.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import ipaddress
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from podrun.runtime import syscalls


class DialError(Exception):
    """A connect failure, worded like Go's net.OpError (`dial tcp 10.88.0.5:80: connect: ...`)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.timeout = timeout


def join_host_port(host: str, port: int) -> str:
    """Go's net.JoinHostPort: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def go_errno_text(err: OSError) -> str:
    """Go's syscall.Errno text: the C library sentence with a lower-case first letter."""
    text = os.strerror(err.errno) if err.errno else str(err)
    return text[:1].lower() + text[1:]


class NetnsSockets:
    """Creates sockets inside network namespaces from one dedicated thread.

    Each trip to the thread (a wake-up and two setns calls) makes `batch` sockets and keeps
    the spares per (netns, family), so steady probing pays for a trip every few probes.
    `forget()` drops the spares of a netns that is going away.
    """

    def __init__(self, batch: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="podrun-netns")
        self._home: int | None = None
        self._lock = threading.Lock()
        self._spare: dict[tuple[str, int], list[socket.socket]] = {}
        self.batch = max(1, batch)
        self.created = 0
        self.trips = 0

    def _create(self, netns_path: str, family: int, count: int) -> list[socket.socket]:
        with self._lock:
            if self._home is None:
                # This thread's own netns (the daemon's), to come back to after each batch.
                self._home = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net",
                                     os.O_RDONLY | os.O_CLOEXEC)
            socks: list[socket.socket] = []
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                syscalls.setns(fd, syscalls.CLONE_NEWNET)
                try:
                    for _ in range(count):
                        socks.append(socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC))
                finally:
                    syscalls.setns(self._home, syscalls.CLONE_NEWNET)
            except BaseException:
                for s in socks:
                    s.close()
                raise
            finally:
                os.close(fd)
            for s in socks:
                s.setblocking(False)
            self.created += len(socks)
            self.trips += 1
            return socks

    async def socket(self, netns_path: str, family: int = socket.AF_INET) -> socket.socket:
        """A new unconnected, non-blocking TCP socket that lives in `netns_path`."""
        spare = self._spare.get((netns_path, family))
        if spare:
            return spare.pop()
        loop = asyncio.get_running_loop()
        socks = await loop.run_in_executor(self._pool, self._create, netns_path, family,
                                           self.batch)
        sock = socks.pop()
        if socks:
            self._spare.setdefault((netns_path, family), []).extend(socks)
        return sock

    def forget(self, netns_path: str) -> None:
        """Close the spare sockets made in `netns_path` (its pod is going away)."""
        for key in [k for k in self._spare if k[0] == netns_path]:
            for s in self._spare.pop(key):
                s.close()

    def close(self) -> None:
        for socks in self._spare.values():
            for s in socks:
                s.close()
        self._spare.clear()
        self._pool.shutdown(wait=False)
        if self._home is not None:
            os.close(self._home)
            self._home = None


@functools.lru_cache(maxsize=4096)
def _ip_family(host: str) -> int | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return socket.AF_INET6 if ip.version == 6 else socket.AF_INET


async def dial(host: str, port: int, *, netns_path: str | None = None,
               netns: NetnsSockets | None = None, first: bytes = b"") -> socket.socket:
    """A connected non-blocking TCP socket to host:port (no timeout here: the caller's).

    With `netns_path`, the socket is created inside that network namespace. `first` is sent
    as soon as the connection is up (`dial` returns with it sent).
    """
    loop = asyncio.get_running_loop()
    family_or_none = _ip_family(host)
    if family_or_none is not None:
        family = family_or_none
        addr: tuple[str, int] = (host, port)
    else:
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            raise DialError(f"dial tcp: lookup {host}: no such host") from None
        family, _, _, _, sockaddr = infos[0]
        addr = (str(sockaddr[0]), int(sockaddr[1]))
    if netns_path:
        if netns is None:
            raise DialError(f"dial tcp {join_host_port(host, port)}: no netns socket factory")
        try:
            sock = await netns.socket(netns_path, family)
        except OSError as e:
            raise DialError(f"dial tcp {join_host_port(host, port)}: setns {netns_path}: "
                            f"{go_errno_text(e)}") from None
    else:
        # non-blocking from socket(): no FIONBIO ioctl per probe
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK
                             | socket.SOCK_CLOEXEC)
    try:
        sent = _connect_and_send(sock, addr, first)
        if sent < 0:
            await _writable(loop, sock)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
            sent = 0
    except asyncio.CancelledError:
        sock.close()
        raise
    except OSError as e:
        sock.close()
        if e.errno == errno.ETIMEDOUT:
            raise DialError(f"dial tcp {join_host_port(host, port)}: i/o timeout",
                            timeout=True) from None
        raise DialError(f"dial tcp {join_host_port(host, port)}: connect: "
                        f"{go_errno_text(e)}") from None
    if sent < len(first):
        try:
            await loop.sock_sendall(sock, first[sent:])
        except BaseException:
            sock.close()
            raise
    return sock


def _connect_and_send(sock: socket.socket, addr: tuple[str, int], first: bytes) -> int:
    """connect(), and send `first` at once if the handshake is already over: bytes sent.

    -1: still connecting. To a pod on this host (veth or loopback) the kernel completes the
    handshake inside connect() even though it answers EINPROGRESS, so the request goes out
    without waiting for writability: one event-loop wake-up and two epoll_ctl calls less per
    probe, the same bytes on the wire. A send() on a socket that is still connecting fails
    with EAGAIN, or with the connection's own error (refused, unreachable), a dial error.
    """
    err = sock.connect_ex(addr)
    if err == 0:
        return 0  # connected: the caller sends (its errors are not dial errors)
    if err not in (errno.EINPROGRESS, errno.EAGAIN, errno.EINTR):
        raise OSError(err, os.strerror(err))
    try:
        if first:
            return sock.send(first)
        sock.getpeername()  # ENOTCONN until the handshake is over
        return 0
    except (BlockingIOError, InterruptedError):
        return -1
    except OSError as e:
        if e.errno == errno.ENOTCONN:
            return -1
        raise


async def _writable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    fut: asyncio.Future[None] = loop.create_future()
    fd = sock.fileno()
    loop.add_writer(fd, _done, fut)
    try:
        await fut
    finally:
        loop.remove_writer(fd)


async def readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    """Wait until `sock` has data (or EOF, or an error) to read."""
    fut: asyncio.Future[None] = loop.create_future()
    fd = sock.fileno()
    loop.add_reader(fd, _done, fut)
    try:
        await fut
    finally:
        loop.remove_reader(fd)


def _done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
