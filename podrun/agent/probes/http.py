"""The httpGet probe and hook client: one HTTP/1.1 GET per connection, as the kubelet sends it.

Written on asyncio streams rather than httpx/aiohttp because the request must be byte-exact
(Go's header order and canonical names, no Accept-Encoding, Connection: close), the socket
may come from inside a pod's netns (netns.py), and the errors must read like Go's
(`Get "http://10.88.0.5:8080/healthz": dial tcp 10.88.0.5:8080: connect: connection refused`).
BEHAVIOR.md 4.3 and 6.4; K8S: pkg/probe/http/{request.go,http.go}.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from podrun import KUBE_VERSION
from podrun.agent.probes.netns import DialError, NetnsSockets, dial, join_host_port
from podrun.core.probes import MAX_OUTPUT_BYTES, MAX_REDIRECTS, Outcome, ProbeRun

MAX_HEADER_BYTES = 1 << 20
_REDIRECT_CODES = {301, 302, 303, 307, 308}
_TLS = ssl.create_default_context()
_TLS.check_hostname = False
_TLS.verify_mode = ssl.CERT_NONE  # InsecureSkipVerify, as the kubelet
HTTP_TO_HTTPS = "http: server gave HTTP response to HTTPS client"


def user_agent(purpose: str = "probe") -> str:
    """`kube-probe/1.33` or `kube-lifecycle/1.33` (request.go userAgent)."""
    return f"kube-{purpose}/{KUBE_VERSION}"


def canonical_header_key(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: `x-custom-header` -> `X-Custom-Header`."""
    if not name or any(c in name for c in " :\t\r\n"):
        return name
    return "-".join(p[:1].upper() + p[1:].lower() for p in name.split("-"))


@dataclass(frozen=True)
class URL:
    """The parts of a probe URL; str() is Go's url.URL.String() for it."""

    scheme: str
    host: str
    port: int
    path: str = "/"
    query: str = ""

    @property
    def hostport(self) -> str:
        return join_host_port(self.host, self.port)

    @property
    def request_uri(self) -> str:
        uri = self.path or "/"
        return f"{uri}?{self.query}" if self.query else uri

    def __str__(self) -> str:
        return f"{self.scheme}://{self.hostport}{self.request_uri if self.path or self.query else ''}"


def probe_url(scheme: str | None, host: str, port: int, path: str | None) -> URL:
    """request.go formatURL: the path may carry a query; the scheme is lower-cased."""
    raw = path or ""
    raw = raw.split("#", 1)[0]
    p, _, q = raw.partition("?")
    if p and not p.startswith("/"):
        p = "/" + p
    p = quote(p, safe="/:@!$&'()*+,;=-._~%")
    return URL((scheme or "http").lower(), host, port, p, q)


def build_headers(user: Iterable[tuple[str | None, str | None]], purpose: str = "probe"
                  ) -> list[tuple[str, str]]:
    """request.go newProbeRequest: user headers, then User-Agent and Accept defaults.

    A user `Accept` with an empty value removes Accept; a user `User-Agent` replaces ours.
    Returned in the user's order with canonical keys (Host included; the writer takes it out).
    """
    headers = [(canonical_header_key(n or ""), v or "") for n, v in user if n]
    keys = {k for k, _ in headers}
    if "User-Agent" not in keys:
        headers.append(("User-Agent", user_agent(purpose)))
    if "Accept" not in keys:
        headers.append(("Accept", "*/*"))
    elif next(v for k, v in headers if k == "Accept") == "":
        headers = [(k, v) for k, v in headers if k != "Accept"]
    return headers


def request_bytes(url: URL, headers: Sequence[tuple[str, str]], host: str | None = None) -> bytes:
    """The request as Go's Request.write puts it on the wire (cached: probes repeat it)."""
    return _request_bytes(url, tuple(headers), host)


@functools.lru_cache(maxsize=8192)
def _request_bytes(url: URL, headers: tuple[tuple[str, str], ...], host: str | None) -> bytes:
    """Keep-alives disabled: request line, Host, User-Agent (absent when set empty), the
    other headers sorted by key (values in order), then `Connection: close`.
    """
    host_value = host or next((v for k, v in headers if k == "Host" and v), url.hostport)
    lines = [f"GET {url.request_uri} HTTP/1.1", f"Host: {host_value}"]
    ua = next((v for k, v in headers if k == "User-Agent"), "")
    if ua:
        lines.append(f"User-Agent: {ua}")
    rest = [(k, v) for k, v in headers if k not in ("Host", "User-Agent", "Connection")]
    for k in sorted({k for k, _ in rest}):
        lines.extend(f"{k}: {v}" for kk, v in rest if kk == k)
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")


@dataclass
class Response:
    """What the client keeps of a response: status, headers and the first 10 KiB of body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    url: URL | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


class HTTPError(Exception):
    """A transport-level failure with Go's url.Error text; `in_body` if after the headers."""

    def __init__(self, message: str, *, in_body: bool = False, https_to_http: bool = False):
        super().__init__(message)
        self.message = message
        self.in_body = in_body
        self.https_to_http = https_to_http


class _SockReader:
    """StreamReader's read methods straight on a non-blocking socket (plain HTTP).

    Cheaper than a transport, protocol and StreamReader per probe: two event-loop calls
    per response on a quick server.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._buf = bytearray()
        self._eof = False

    async def _fill(self) -> bool:
        if self._eof:
            return False
        data = await self._loop.sock_recv(self._sock, 65536)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    async def readuntil(self, sep: bytes) -> bytes:
        start = 0
        while True:
            i = self._buf.find(sep, start)
            if i >= 0:
                out = bytes(self._buf[:i + len(sep)])
                del self._buf[:i + len(sep)]
                return out
            if len(self._buf) > MAX_HEADER_BYTES:
                raise asyncio.LimitOverrunError("header too long", len(self._buf))
            start = max(0, len(self._buf) - len(sep) + 1)
            if not await self._fill():
                partial = bytes(self._buf)
                self._buf.clear()
                raise asyncio.IncompleteReadError(partial, None)

    def buffered_line(self) -> bytes | None:
        """The next line if it is already buffered (no coroutine round trip), else None."""
        i = self._buf.find(b"\n")
        if i < 0 or i >= MAX_HEADER_BYTES:
            return None
        out = bytes(self._buf[:i + 1])
        del self._buf[:i + 1]
        return out

    async def readline(self) -> bytes:
        try:
            return await self.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            return e.partial

    async def readexactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not await self._fill():
                partial = bytes(self._buf)
                self._buf.clear()
                raise asyncio.IncompleteReadError(partial, n)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def read(self, n: int) -> bytes:
        if not self._buf and not await self._fill():
            return b""
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


class _Exchange:
    """One GET on one connection."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.in_body = False

    async def run(self, headers: Sequence[tuple[str, str]], host_header: str | None, *,
                  netns_path: str | None, netns: NetnsSockets | None) -> Response:
        url = self.url
        request = request_bytes(url, headers, host_header)
        plain = url.scheme != "https"
        sock = await dial(url.host, url.port, netns_path=netns_path, netns=netns,
                          first=request if plain else b"")
        writer: asyncio.StreamWriter | None = None
        reader: Any
        try:
            if not plain:
                try:
                    reader, writer = await asyncio.open_connection(
                        sock=sock, ssl=_TLS, server_hostname=url.host, limit=MAX_HEADER_BYTES)
                except ssl.SSLError as e:
                    if e.reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE",
                                    "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG"):
                        raise HTTPError(HTTP_TO_HTTPS, https_to_http=True) from None
                    reason = (e.reason or str(e)).lower().replace("_", " ")
                    raise HTTPError(f"tls: {reason}") from None
                writer.write(request)
                await writer.drain()
            else:
                reader = _SockReader(sock)  # dial sent the request
            resp = await self._read_head(reader)
            resp.url = url
            self.in_body = True
            resp.body = await self._read_body(reader, resp)
            return resp
        except (ConnectionError, OSError) as e:
            if isinstance(e, ssl.SSLError):
                raise HTTPError(f"tls: {e.reason or e}", in_body=self.in_body) from None
            if isinstance(e, ConnectionResetError):
                raise HTTPError("read: connection reset by peer", in_body=self.in_body) from None
            raise HTTPError(str(e), in_body=self.in_body) from None
        finally:
            if writer is not None:
                writer.close()
            else:
                sock.close()

    async def _read_head(self, reader: Any) -> Response:
        while True:
            # Line by line, a line ending in "\r\n" or a bare "\n", as Go's textproto
            # reader accepts (busybox httpd passes a CGI's bare-LF headers through).
            lines: list[str] = []
            total = 0
            buffered = getattr(reader, "buffered_line", None)
            while True:
                try:
                    raw = buffered() if buffered is not None else None
                    if raw is None:
                        raw = await reader.readline()
                except asyncio.IncompleteReadError as e:
                    raw = e.partial
                except asyncio.LimitOverrunError:
                    raw = b"x" * (MAX_HEADER_BYTES + 1)
                total += len(raw)
                if total > MAX_HEADER_BYTES:
                    raise HTTPError("net/http: server response headers exceeded "
                                    f"{MAX_HEADER_BYTES} bytes; aborted") from None
                if not raw.endswith(b"\n"):
                    raise HTTPError("unexpected EOF" if lines or raw else "EOF") from None
                line = raw[:-1].removesuffix(b"\r").decode("latin-1")
                if not line:
                    if lines:
                        break
                    continue
                lines.append(line)
            status_line, *header_lines = lines
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit() \
                    or len(parts[1]) != 3:
                raise HTTPError(f"net/http: HTTP/1.x transport connection broken: "
                                f"malformed HTTP response {status_line!r}".replace("'", '"'))
            status = int(parts[1])
            headers = []
            for line in header_lines:
                if not line:
                    continue
                k, sep, v = line.partition(":")
                if not sep:
                    raise HTTPError("net/http: HTTP/1.x transport connection broken: "
                                    f'malformed MIME header line: {line}')
                headers.append((k.strip(), v.strip()))
            if 100 <= status < 200 and status != 101:
                continue  # informational: Go reads the next response
            return Response(status, headers)

    async def _read_body(self, reader: Any, resp: Response) -> bytes:
        if resp.status in (204, 304) or 100 <= resp.status < 200:
            return b""
        te = (resp.header("Transfer-Encoding") or "").lower()
        limit = MAX_OUTPUT_BYTES
        if "chunked" in te:
            out = bytearray()
            while len(out) < limit:
                size_line = await reader.readline()
                if not size_line.endswith(b"\n"):
                    raise HTTPError("unexpected EOF", in_body=True)
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise HTTPError("invalid byte in chunk length", in_body=True) from None
                if size == 0:
                    break
                try:
                    chunk = await reader.readexactly(min(size, limit - len(out)))
                except asyncio.IncompleteReadError:
                    raise HTTPError("unexpected EOF", in_body=True) from None
                out += chunk
                if len(chunk) < size:
                    break  # limit reached: the rest is not read (non-fatal truncation)
                await reader.readline()
            return bytes(out)
        cl = resp.header("Content-Length")
        want = limit
        if cl is not None:
            try:
                want = min(int(cl), limit)
            except ValueError:
                raise HTTPError(f"bad Content-Length {cl!r}".replace("'", '"')) from None
            try:
                body: bytes = await reader.readexactly(want)
                return body
            except asyncio.IncompleteReadError:
                raise HTTPError("unexpected EOF", in_body=True) from None
        out = bytearray()
        while len(out) < want:
            data = await reader.read(want - len(out))
            if not data:
                break
            out += data
        return bytes(out)


async def get(url: URL, headers: Sequence[tuple[str, str]], *, timeout: float | None,
              netns_path: str | None = None, netns: NetnsSockets | None = None) -> Response:
    """GET with the kubelet's redirect policy; raises HTTPError worded like Go's client.

    Redirects (301/302/303/307/308 with a Location) are followed only while the hostname
    stays the same, at most 10 requests in all; a redirect elsewhere returns the 3xx itself.
    `timeout` covers everything (Go's Client.Timeout). The netns (if any) is used only for
    the first hostname, which is the pod's; a relative redirect keeps a user Host header.
    """
    user_host = next((v for k, v in headers if k == "Host" and v), None)
    current = url
    host_header = user_host
    requests = 0
    exchange: _Exchange | None = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                requests += 1
                exchange = _Exchange(current)
                resp = await exchange.run(headers, host_header, netns_path=netns_path,
                                          netns=netns)
                location = resp.header("Location")
                if resp.status not in _REDIRECT_CODES or location is None:
                    return resp
                nxt = _resolve(current, location)
                if nxt is None or nxt.host != url.host:
                    return resp  # http.ErrUseLastResponse: a non-local redirect
                if requests >= MAX_REDIRECTS:
                    raise HTTPError(f'Get "{nxt}": stopped after {MAX_REDIRECTS} redirects',
                                    in_body=False)
                if not urlsplit(location).netloc:
                    host_header = user_host
                else:
                    host_header = None
                current = nxt
    except TimeoutError:
        in_body = exchange is not None and exchange.in_body
        why = ("(Client.Timeout or context cancellation while reading body)" if in_body
               else "(Client.Timeout exceeded while awaiting headers)")
        raise HTTPError(f'Get "{current}": context deadline exceeded {why}',
                        in_body=in_body) from None
    except DialError as e:
        raise HTTPError(f'Get "{current}": {e.message}') from None
    except HTTPError as e:
        if e.message.startswith('Get "'):
            raise
        raise HTTPError(f'Get "{current}": {e.message}', in_body=e.in_body,
                        https_to_http=e.https_to_http) from None


def _resolve(base: URL, location: str) -> URL | None:
    target = urlsplit(urljoin(str(base), location))
    if target.scheme not in ("http", "https") or not target.hostname:
        return None
    try:
        port = target.port or (443 if target.scheme == "https" else 80)
    except ValueError:
        return None
    return URL(target.scheme, target.hostname, port, target.path or "/", target.query)


async def probe(url: URL, headers: Sequence[tuple[str, str]], *, timeout: float,
                netns_path: str | None = None, netns: NetnsSockets | None = None) -> ProbeRun:
    """K8S http.go DoHTTPProbe: 200-399 Success, a kept 3xx Warning, else Failure.

    Transport failures and timeouts are Failures with Go's message; a failure while reading
    the body (other than hitting the 10 KiB limit) is a probe error, as upstream.
    """
    try:
        resp = await get(url, headers, timeout=timeout, netns_path=netns_path, netns=netns)
    except HTTPError as e:
        if e.in_body:
            return ProbeRun(Outcome.FAILURE, "", error=e.message)
        return ProbeRun(Outcome.FAILURE, e.message)
    body = resp.body.decode("utf-8", errors="replace")
    if 200 <= resp.status < 400:
        if resp.status >= 300:
            return ProbeRun(Outcome.WARNING, f"Probe terminated redirects, Response body: {body}")
        return ProbeRun(Outcome.SUCCESS, body)
    return ProbeRun(Outcome.FAILURE, f"HTTP probe failed with statuscode: {resp.status}")
