"""The CLI's client of the daemon API: blocking HTTP/1.1 over the Unix socket (stdlib
http.client, so a CLI call starts fast); exec uses aiohttp's WebSocket client."""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from podrun.api import schema

DEFAULT_SOCKET = "/run/podrun/podrun.sock"
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"


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


@dataclass
class Response:
    code: int
    headers: list[tuple[str, str]]
    body: bytes
    warnings: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            s.settimeout(self.timeout)
        try:
            s.connect(self.socket_path)
        except BaseException:
            s.close()
            raise
        self.sock = s


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

    def _open(self, method: str, path: str, query: dict[str, Any] | None, body: Any,
              content_type: str, timeout: float | None,
              extra_headers: dict[str, str] | None = None,
              ) -> tuple[_UnixConnection, http.client.HTTPResponse]:
        if query:
            q = {k: v for k, v in query.items() if v is not None and v != ""}
            if q:
                path += "?" + urllib.parse.urlencode(q, doseq=True)
        conn = _UnixConnection(self.socket_path, timeout)
        headers = {"Accept": "application/json", "User-Agent": "podrun-cli",
                   **(extra_headers or {})}
        if body is not None:
            headers["Content-Type"] = content_type
            if hasattr(body, "fileno"):
                headers["Content-Length"] = str(os.fstat(body.fileno()).st_size)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
        except (FileNotFoundError, ConnectionRefusedError, PermissionError) as e:
            conn.close()
            raise self._connect_error(e) from None
        except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
            conn.close()
            raise ClientError(f"the podrun daemon at {self.socket_path} closed the connection "
                              "unexpectedly") from None
        except TimeoutError:
            conn.close()
            raise ClientError(f"timed out talking to the podrun daemon at {self.socket_path}") from None
        return conn, resp

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                raise_status: bool = True, headers: dict[str, str] | None = None) -> Response:
        data: Any = None
        if body is not None:
            # bytes, a file (streamed, e.g. an image archive) or a JSON-able object
            data = body if isinstance(body, bytes) or hasattr(body, "read") else \
                json.dumps(body).encode()
        conn, resp = self._open(method, path, query, data, content_type, self.timeout,
                                headers)
        try:
            raw = resp.read()
        finally:
            conn.close()
        got = resp.getheaders()
        warnings = [w for k, v in got if k.lower() == "warning"
                    for w in schema.parse_warning_header(v)]
        out = Response(resp.status, got, raw, warnings)
        if raise_status and resp.status >= 400:
            raise ApiStatusError(_status_of(resp.status, raw))
        return out

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query).json()

    def get_table(self, path: str, **query: Any) -> Any:
        """A list or object as a meta.k8s.io/v1 Table (server-side printing)."""
        return self.request("GET", path, query=query, headers={"Accept": TABLE_ACCEPT}).json()

    def stream(self, path: str, query: dict[str, Any] | None = None, *, method: str = "GET",
               body: Any = None) -> Iterator[bytes]:
        """The body of a streaming GET (watch, follow logs) or POST (pull progress), chunk by
        chunk."""
        data = None if body is None else json.dumps(body).encode()
        conn, resp = self._open(method, path, query, data, "application/json", None)
        try:
            if resp.status >= 400:
                raise ApiStatusError(_status_of(resp.status, resp.read()))
            while True:
                chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
                if not chunk:
                    return
                yield chunk
        finally:
            conn.close()

    def watch(self, path: str, query: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Watch events ({"type": ..., "object": ...}) from a ?watch=true stream."""
        q = dict(query or {})
        q["watch"] = "true"
        buf = b""
        for chunk in self.stream(path, q):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    ev = json.loads(line)
                    if ev.get("type") == "ERROR":
                        raise ApiStatusError(ev.get("object") or {})
                    yield ev


def _status_of(code: int, raw: bytes) -> dict[str, Any]:
    try:
        st = json.loads(raw)
        if isinstance(st, dict) and st.get("kind") == "Status":
            return st
    except ValueError:
        pass
    return schema.status(code, raw.decode(errors="replace").strip() or f"HTTP {code}")


def pod_path(ns: str, name: str | None = None, resource: str = "pods") -> str:
    base = f"/api/v1/namespaces/{urllib.parse.quote(ns, safe='')}/{resource}"
    return base if name is None else f"{base}/{urllib.parse.quote(name, safe='')}"
