"""The CLI's client of the daemon API: blocking HTTP/1.1 over the Unix socket, written on
the bare socket module. http.client would import ssl and the email package (~10 ms of every
command's start, more under load) for features a local JSON API never uses; exec uses its own
WebSocket client (exec_client.py)."""

from __future__ import annotations

import json
import os
import socket
import time

from podrun.api.reasons import REASONS

TYPE_CHECKING = False  # typing costs the CLI's start-up ~2 ms; only the type checker needs it
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

DEFAULT_SOCKET = "/run/podrun/podrun.sock"
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"
MAX_HEADER_LINE = 1 << 16


class ClientError(Exception):
    """A problem the CLI prints as `error: ...` (exit 1)."""


class DaemonUnreachable(ClientError):
    pass


class ApiStatusError(ClientError):
    """The daemon answered with a v1 Status error."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status
        self.code = int(status.get("code") or 0)
        self.reason = status.get("reason") or ""
        super().__init__(status.get("message") or f"HTTP {self.code}")

    def kubectl_message(self) -> str:
        """`Error from server (NotFound): pods "x" not found`, as kubectl words it."""
        return f"Error from server ({self.reason or 'InternalError'}): {self}"


class WaitTimeout(ClientError):
    """A watch reached its deadline before the condition (the caller words the error)."""


class RequestTimeout(ClientError):
    """The daemon did not answer within the client's timeout."""


class Response:
    __slots__ = ("code", "headers", "body", "warnings")

    def __init__(self, code: int, headers: list[tuple[str, str]], body: bytes,
                 warnings: list[str] | None = None) -> None:
        self.code = code
        self.headers = headers
        self.body = body
        self.warnings = warnings if warnings is not None else []

    def json(self) -> Any:
        return json.loads(self.body)


class _Exchange:
    """One request on its own connection and the response's head; the body is read with
    read_all or chunks (Content-Length, chunked, or until the daemon closes)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self._length: int | None = None
        self._chunked = False

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def read_head(self) -> None:
        line = self.file.readline(MAX_HEADER_LINE)
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise ConnectionResetError("no HTTP status line")
        self.status = int(parts[1])
        while True:
            line = self.file.readline(MAX_HEADER_LINE)
            if not line:
                raise ConnectionResetError("connection closed in the response head")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            self.headers.append((name.strip(), value.strip()))
        for name, value in self.headers:
            low = name.lower()
            if low == "content-length":
                self._length = int(value)
            elif low == "transfer-encoding" and "chunked" in value.lower():
                self._chunked = True

    def chunks(self, deadline: float | None = None) -> Iterator[bytes]:
        """The body piece by piece as the daemon sends it (a watch event, a log line)."""
        if self._chunked:
            while True:
                self._arm(deadline)
                size_line = self.file.readline(MAX_HEADER_LINE)
                if not size_line:
                    raise ConnectionResetError("connection closed in a chunked body")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    return
                self._arm(deadline)
                data = self.file.read(size + 2)[:size]
                if len(data) < size:
                    raise ConnectionResetError("connection closed in a chunk")
                yield data
        elif self._length is not None:
            left = self._length
            while left > 0:
                self._arm(deadline)
                data = self.file.read1(min(left, 65536))
                if not data:
                    raise ConnectionResetError("connection closed in the body")
                left -= len(data)
                yield data
        else:
            while True:
                self._arm(deadline)
                data = self.file.read1(65536)
                if not data:
                    return
                yield data

    def read_all(self) -> bytes:
        return b"".join(self.chunks())

    def _arm(self, deadline: float | None) -> None:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WaitTimeout("deadline reached")
            self.sock.settimeout(left)


class Client:
    def __init__(self, socket_path: str = DEFAULT_SOCKET, timeout: float | None = 30.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def _connect_error(self, e: OSError) -> ClientError:
        if isinstance(e, PermissionError):
            return DaemonUnreachable(
                f"permission denied connecting to the podrun daemon at {self.socket_path}: "
                "the API is root-only (run as root, or ask for an allowedGroups entry)")
        return DaemonUnreachable(
            f"cannot connect to the podrun daemon at {self.socket_path}: is it running? "
            "(podrun daemon)")

    def _closed_error(self) -> ClientError:
        return ClientError(f"the podrun daemon at {self.socket_path} closed the connection "
                           "unexpectedly")

    def _open(self, method: str, path: str, query: dict[str, Any] | None, body: Any,
              content_type: str, timeout: float | None,
              extra_headers: dict[str, str] | None = None) -> _Exchange:
        if query:
            q = {k: v for k, v in query.items() if v is not None and v != ""}
            if q:
                path += "?" + urlencode(q)
        headers = {"Host": "localhost", "Accept-Encoding": "identity",
                   "Accept": "application/json", "User-Agent": "podrun-cli",
                   **(extra_headers or {})}
        if body is not None:
            headers["Content-Type"] = content_type
            headers["Content-Length"] = str(os.fstat(body.fileno()).st_size
                                             if hasattr(body, "fileno") else len(body))
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            try:
                s.connect(self.socket_path)
            except (FileNotFoundError, ConnectionRefusedError, PermissionError) as e:
                raise self._connect_error(e) from None
            ex = _Exchange(s)
            try:
                if isinstance(body, bytes):
                    s.sendall(head.encode("latin-1") + body)
                else:
                    s.sendall(head.encode("latin-1"))
                    if body is not None:
                        s.sendfile(body)
                ex.read_head()
            except (ConnectionResetError, BrokenPipeError):
                ex.close()
                raise self._closed_error() from None
            except BaseException:
                ex.close()
                raise
        except TimeoutError:
            s.close()
            raise RequestTimeout(f"timed out talking to the podrun daemon at {self.socket_path}") from None
        except BaseException:
            s.close()
            raise
        return ex

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                raise_status: bool = True, headers: dict[str, str] | None = None) -> Response:
        data: Any = None
        if body is not None:
            # bytes, a file (streamed, e.g. an image archive) or a JSON-able object
            data = body if isinstance(body, bytes) or hasattr(body, "read") else \
                json.dumps(body).encode()
        ex = self._open(method, path, query, data, content_type, self.timeout, headers)
        try:
            raw = ex.read_all()
        except ConnectionResetError:
            raise self._closed_error() from None
        except TimeoutError:
            raise ClientError(f"timed out talking to the podrun daemon at {self.socket_path}") from None
        finally:
            ex.close()
        warnings = [w for k, v in ex.headers if k.lower() == "warning"
                    for w in parse_warning_header(v)]
        out = Response(ex.status, ex.headers, raw, warnings)
        if raise_status and ex.status >= 400:
            raise ApiStatusError(_status_of(ex.status, raw))
        return out

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query).json()

    def get_table(self, path: str, **query: Any) -> Any:
        """A list or object as a meta.k8s.io/v1 Table (server-side printing)."""
        return self.request("GET", path, query=query, headers={"Accept": TABLE_ACCEPT}).json()

    def stream(self, path: str, query: dict[str, Any] | None = None, *, method: str = "GET",
               body: Any = None, deadline: float | None = None) -> Iterator[bytes]:
        """The body of a streaming GET (watch, follow logs) or POST (pull progress), chunk by
        chunk as the daemon sends it. With a deadline (time.monotonic()), WaitTimeout once it
        passes with the stream still open."""
        data = None if body is None else json.dumps(body).encode()
        timeout = None if deadline is None else max(0.001, deadline - time.monotonic())
        try:
            ex = self._open(method, path, query, data, "application/json", timeout)
        except RequestTimeout:
            if deadline is not None:
                raise WaitTimeout("deadline reached") from None
            raise
        try:
            if ex.status >= 400:
                raise ApiStatusError(_status_of(ex.status, ex.read_all()))
            yield from ex.chunks(deadline)
        except TimeoutError:
            if deadline is not None:
                raise WaitTimeout("deadline reached") from None
            raise ClientError(f"timed out talking to the podrun daemon at {self.socket_path}") from None
        except ConnectionResetError:
            raise self._closed_error() from None
        finally:
            ex.close()

    def watch(self, path: str, query: dict[str, Any] | None = None,
              deadline: float | None = None) -> Iterator[dict[str, Any]]:
        """Watch events ({"type": ..., "object": ...}) from a ?watch=true stream."""
        q = dict(query or {})
        q["watch"] = "true"
        buf = b""
        for chunk in self.stream(path, q, deadline=deadline):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    ev = json.loads(line)
                    if ev.get("type") == "ERROR":
                        raise ApiStatusError(ev.get("object") or {})
                    yield ev


def parse_warning_header(value: str) -> list[str]:
    """The texts of `299 - "text"` warnings (schema.warning_header's format), without
    importing the schema module and its regular expressions."""
    out = []
    i = 0
    while (start := value.find('299 - "', i)) >= 0:
        j = start + 7
        text = []
        while j < len(value) and value[j] != '"':
            if value[j] == "\\" and j + 1 < len(value):
                # \" and \\ are the writer's escapes; any other pair stays as it is
                text.append(value[j + 1] if value[j + 1] in '"\\' else value[j:j + 2])
                j += 2
                continue
            text.append(value[j])
            j += 1
        if j >= len(value):
            break
        out.append("".join(text))
        i = j + 1
    return out


def _status_of(code: int, raw: bytes) -> dict[str, Any]:
    try:
        st = json.loads(raw)
        if isinstance(st, dict) and st.get("kind") == "Status":
            return st
    except ValueError:
        pass
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": raw.decode(errors="replace").strip() or f"HTTP {code}",
            "reason": REASONS.get(code, ""), "code": code}


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(text: str) -> str:
    """urllib.parse.quote(text, safe=""): urllib.parse (with ipaddress) is ~1.5 ms of the
    CLI's start-up for two functions this small."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode())


def urlencode(query: dict[str, Any]) -> str:
    """urllib.parse.urlencode(query, doseq=True) for str, int and list values."""
    def plus(v: Any) -> str:
        return "+".join(quote(part) for part in str(v).split(" "))
    return "&".join(f"{plus(k)}={plus(x)}" for k, v in query.items()
                    for x in (v if isinstance(v, list | tuple) else [v]))


def pod_path(ns: str, name: str | None = None, resource: str = "pods") -> str:
    base = f"/api/v1/namespaces/{quote(ns)}/{resource}"
    return base if name is None else f"{base}/{quote(name)}"
