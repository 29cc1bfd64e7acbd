"""`podrun exec`'s side of the exec stream: a WebSocket (v5/v4.channel.k8s.io framing, see
docs/api.md) over the daemon's Unix socket, with a raw terminal and window size for -t."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import struct
import sys
import termios
import tty as _tty
import urllib.parse
from typing import Any

from podrun.api.client import ApiStatusError, DaemonUnreachable

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")


def exit_code_of(status: dict[str, Any]) -> int:
    """The command's exit code from the error channel's Status."""
    if status.get("status") == "Success":
        return 0
    for c in (status.get("details") or {}).get("causes") or []:
        if c.get("reason") == "ExitCode":
            with contextlib.suppress(ValueError, TypeError):
                return int(c.get("message"))
    raise ApiStatusError({"code": 500, "reason": status.get("reason") or "InternalError",
                          "message": status.get("message") or "exec failed"})


def _winsize(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("4H", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return cols, rows


def run_exec(socket_path: str, path: str, command: list[str], container: str,
             stdin: bool, tty: bool) -> int:
    return asyncio.run(_run(socket_path, path, command, container, stdin, tty))


async def _run(socket_path: str, path: str, command: list[str], container: str,
               stdin: bool, tty: bool) -> int:
    import aiohttp

    q: list[tuple[str, str]] = [("command", c) for c in command]
    q += [("container", container), ("stdout", "true"), ("stderr", "false" if tty else "true"),
          ("stdin", "true" if stdin else "false"), ("tty", "true" if tty else "false")]
    url = "http://localhost" + path + "?" + urllib.parse.urlencode(q)
    conn = aiohttp.UnixConnector(path=socket_path)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=conn) as session:
        try:
            ws = await session.ws_connect(url, protocols=PROTOCOLS, max_msg_size=1 << 22)
        except aiohttp.WSServerHandshakeError as e:
            st: dict[str, Any] = {"code": e.status, "message": e.message}
            with contextlib.suppress(ValueError, TypeError):
                st = json.loads(e.headers.get("X-Podrun-Status", "") if e.headers else "")
            raise ApiStatusError(st) from None
        except aiohttp.ClientConnectorError:
            raise DaemonUnreachable(
                f"cannot connect to the podrun daemon at {socket_path}: is it running? "
                "(podrun daemon)") from None
        v5 = ws.protocol == "v5.channel.k8s.io"
        old_attrs = None
        if tty and sys.stdin.isatty():
            old_attrs = termios.tcgetattr(0)
            _tty.setraw(0)

        def send_size() -> None:
            if tty and sys.stdin.isatty():
                w, h = _winsize(0)
                loop.create_task(ws.send_bytes(b"\x04" + json.dumps(
                    {"Width": w, "Height": h}).encode()))

        if tty:
            loop.add_signal_handler(signal.SIGWINCH, send_size)
            send_size()

        async def pump_stdin() -> None:
            fd = sys.stdin.fileno()
            try:
                reader = asyncio.StreamReader()
                await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                             os.fdopen(os.dup(fd), "rb", 0))
                while data := await reader.read(65536):
                    await ws.send_bytes(b"\x00" + data)
            except ValueError:
                # A regular file (podrun exec -i x -- cmd < file): no pipe transport.
                while data := await asyncio.to_thread(os.read, fd, 65536):
                    await ws.send_bytes(b"\x00" + data)
            if v5:
                await ws.send_bytes(b"\xff\x00")

        stdin_task = loop.create_task(pump_stdin()) if stdin else None
        code = 1
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                    continue
                ch, data = msg.data[0], msg.data[1:]
                if ch == 1:
                    sys.stdout.buffer.write(data)
                    sys.stdout.buffer.flush()
                elif ch == 2:
                    sys.stderr.buffer.write(data)
                    sys.stderr.buffer.flush()
                elif ch == 3:
                    code = exit_code_of(json.loads(data))
        finally:
            if stdin_task is not None:
                stdin_task.cancel()
            if old_attrs is not None:
                termios.tcsetattr(0, termios.TCSADRAIN, old_attrs)
            if tty:
                loop.remove_signal_handler(signal.SIGWINCH)
        return code
