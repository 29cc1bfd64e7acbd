"""`podrun exec`'s side of the exec stream: a WebSocket (v5/v4.channel.k8s.io framing, see
docs/api.md) over the daemon's Unix socket, with a raw terminal and window size for -t.

The WebSocket client (RFC 6455, client side: handshake, masked frames out, unmasked frames
in, ping/pong, close) is written on the socket module: aiohttp's import alone cost every
`podrun exec` more than the rest of the CLI's start-up. One thread pumps stdin while the
main thread reads the frames."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import struct
import sys
import threading

from podrun.api.client import ApiStatusError, DaemonUnreachable, urlencode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
MAX_MESSAGE = 1 << 22


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
    import fcntl
    import termios
    rows, cols, _, _ = struct.unpack("4H", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return cols, rows


class WebSocket:
    """A client WebSocket on a connected socket: send() is thread-safe, recv() returns
    (opcode, payload) of whole messages and answers pings itself."""

    def __init__(self, sock: socket.socket, protocol: str) -> None:
        self.sock = sock
        self.protocol = protocol
        self.file = sock.makefile("rb")
        self.lock = threading.RLock()

    def send(self, data: bytes, opcode: int = OP_BINARY) -> None:
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = (int.from_bytes(data, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")
                  ).to_bytes(n, "big") if n else b""
        with self.lock:
            self.sock.sendall(head + mask + masked)

    def _frame(self) -> tuple[bool, int, bytes]:
        head = self.file.read(2)
        if len(head) < 2:
            raise ConnectionResetError("closed")
        fin, opcode, n = head[0] & 0x80, head[0] & 0x0F, head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.file.read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.file.read(8))[0]
        mask = self.file.read(4) if head[1] & 0x80 else b""
        if n > MAX_MESSAGE:
            raise ConnectionResetError("message too large")
        data = self.file.read(n)
        if len(data) < n:
            raise ConnectionResetError("closed")
        if mask:
            data = (int.from_bytes(data, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")
                    ).to_bytes(n, "big") if n else b""
        return bool(fin), opcode, data

    def recv(self) -> tuple[int, bytes]:
        """The next data or close message (OP_CLOSE when the daemon closes or the
        connection ends)."""
        parts: list[bytes] = []
        first = OP_CLOSE
        while True:
            try:
                fin, opcode, data = self._frame()
            except (ConnectionResetError, OSError):
                return OP_CLOSE, b""
            if opcode == OP_PING:
                with contextlib.suppress(OSError):
                    self.send(data, OP_PONG)
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                with contextlib.suppress(OSError):
                    self.send(data[:2], OP_CLOSE)
                return OP_CLOSE, data
            if opcode != OP_CONT:
                first = opcode
            parts.append(data)
            if fin:
                return first, b"".join(parts)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.send(struct.pack("!H", 1000), OP_CLOSE)
        self.file.close()
        self.sock.close()


def connect(socket_path: str, path: str) -> WebSocket:
    """The exec WebSocket; the daemon's refusal (a Status in X-Podrun-Status, or the HTTP
    status) as ApiStatusError."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(socket_path)
    except OSError:
        s.close()
        raise DaemonUnreachable(
            f"cannot connect to the podrun daemon at {socket_path}: is it running? "
            "(podrun daemon)") from None
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {', '.join(PROTOCOLS)}\r\n"
               "User-Agent: podrun-cli\r\n\r\n").encode())
    ws = WebSocket(s, "")
    status_line = ws.file.readline(65536).split(None, 2)
    headers: dict[str, str] = {}
    while True:
        line = ws.file.readline(65536)
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    code = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
    if code != 101:
        reason = status_line[2].decode("latin-1").strip() if len(status_line) > 2 else ""
        st: dict[str, Any] = {"code": code, "message": reason}
        with contextlib.suppress(ValueError, TypeError):
            st = json.loads(headers.get("x-podrun-status", ""))
        ws.close()
        raise ApiStatusError(st)
    ws.protocol = headers.get("sec-websocket-protocol", "")
    return ws


def run_exec(socket_path: str, path: str, command: list[str], container: str,
             stdin: bool, tty: bool, *, stdin_fd: int | None = None, out: Any = None,
             err: Any = None) -> int:
    """Run command in the container, relaying stdin/stdout/stderr; its exit code.
    stdin_fd (default: fd 0) is read to its end; out/err (default: this process's stdout
    and stderr) are binary writers, e.g. a pipe `podrun cp` reads a tar stream from."""
    q: list[tuple[str, str]] = [("command", c) for c in command]
    q += [("container", container), ("stdout", "true"), ("stderr", "false" if tty else "true"),
          ("stdin", "true" if stdin else "false"), ("tty", "true" if tty else "false")]
    url = path + "?" + "&".join(urlencode({k: v}) for k, v in q)
    ws = connect(socket_path, url)
    v5 = ws.protocol == "v5.channel.k8s.io"
    old_attrs = None
    old_winch: Any = None
    if tty and sys.stdin.isatty():
        import termios
        import tty as _tty
        old_attrs = termios.tcgetattr(0)
        _tty.setraw(0)

    def send_size(*_: Any) -> None:
        if tty and sys.stdin.isatty():
            w, h = _winsize(0)
            with contextlib.suppress(OSError):
                ws.send(b"\x04" + json.dumps({"Width": w, "Height": h}).encode())

    if tty:
        old_winch = signal.signal(signal.SIGWINCH, send_size)
        send_size()

    out = out if out is not None else sys.stdout.buffer
    err = err if err is not None else sys.stderr.buffer

    def pump_stdin() -> None:
        fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
        try:
            while data := os.read(fd, 65536):
                ws.send(b"\x00" + data)
            if v5:
                ws.send(b"\xff\x00")
        except OSError:
            pass

    if stdin:
        threading.Thread(target=pump_stdin, daemon=True).start()
    code = 1
    try:
        while True:
            op, msg = ws.recv()
            if op == OP_CLOSE:
                break
            if op != OP_BINARY or not msg:
                continue
            ch, data = msg[0], msg[1:]
            if ch == 1:
                out.write(data)
                out.flush()
            elif ch == 2:
                err.write(data)
                err.flush()
            elif ch == 3:
                code = exit_code_of(json.loads(data))
    finally:
        if old_attrs is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, old_attrs)
        if tty:
            signal.signal(signal.SIGWINCH, old_winch or signal.SIG_DFL)
        ws.close()
    return code
