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
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from podrun import KUBE_VERSION
from podrun.agent.probes.netns import DialError, NetnsSockets, dial, join_host_port, readable
from podrun.core.probes import MAX_OUTPUT_BYTES, MAX_REDIRECTS, Outcome, ProbeRun

# A timeout context manager factory, called with the seconds: asyncio.timeout's signature.
Deadline = Callable[[float | None], AbstractAsyncContextManager[Any]]
# Waits a little before the first read of an answer (the prober's: until its next wake-up).
Settle = Callable[[], Awaitable[None]]

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
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


class HTTPError(Exception):
    """A transport-level failure with Go's url.Error text; `in_body` if after the headers."""

    def __init__(self, message: str, *, in_body: bool = False, https_to_http: bool = False):
        super().__init__(message)
        self.message = message
        self.in_body = in_body
        self.https_to_http = https_to_http


class _NeedMore(Exception):
    """The bytes read so far end inside what is being parsed, and more may come."""


class _TooLong(Exception):
    """A line longer than MAX_HEADER_BYTES."""


class _Buffer:
    """The response bytes read so far, parsed from the start on each attempt like a
    StreamReader at the same position would read them: at EOF a line comes back partial and
    an exact read short; before EOF a read past the end raises _NeedMore (read more, parse
    again: a probe's response is small and nearly always arrives in one piece)."""

    __slots__ = ("data", "pos", "eof")

    def __init__(self, data: bytearray, eof: bool) -> None:
        self.data = data
        self.pos = 0
        self.eof = eof

    def line(self) -> bytes:
        """StreamReader.readline: up to and with b"\\n", or the rest at EOF."""
        data, pos = self.data, self.pos
        i = data.find(b"\n", pos)
        if 0 <= i < pos + MAX_HEADER_BYTES:
            self.pos = i + 1
            return bytes(data[pos:i + 1])
        if len(data) - pos > MAX_HEADER_BYTES:
            raise _TooLong
        if not self.eof:
            raise _NeedMore
        self.pos = len(data)
        return bytes(data[pos:])

    def exactly(self, n: int) -> bytes | None:
        """StreamReader.readexactly: n bytes, or None when EOF comes first."""
        data, pos = self.data, self.pos
        if len(data) - pos >= n:
            self.pos = pos + n
            return bytes(data[pos:pos + n])
        if not self.eof:
            raise _NeedMore
        return None

    def upto(self, n: int) -> bytes:
        """n bytes, or fewer if EOF comes first (a body without a length)."""
        data, pos = self.data, self.pos
        if len(data) - pos < n and not self.eof:
            raise _NeedMore
        out = bytes(data[pos:pos + n])
        self.pos = pos + len(out)
        return out


def _parse_head(buf: _Buffer) -> Response:
    """A response's status line and headers (1xx informational ones skipped, as Go)."""
    while True:
        # Line by line, a line ending in "\r\n" or a bare "\n", as Go's textproto
        # reader accepts (busybox httpd passes a CGI's bare-LF headers through).
        lines: list[str] = []
        total = 0
        while True:
            try:
                raw = buf.line()
            except _TooLong:
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


def _parse_body(buf: _Buffer, resp: Response) -> bytes:
    """The first MAX_OUTPUT_BYTES of the body: chunked, by Content-Length or up to EOF."""
    if resp.status in (204, 304) or 100 <= resp.status < 200:
        return b""
    te = (resp.header("Transfer-Encoding") or "").lower()
    limit = MAX_OUTPUT_BYTES
    if "chunked" in te:
        out = bytearray()
        while len(out) < limit:
            try:
                size_line = buf.line()
            except _TooLong:
                raise HTTPError("header line too long", in_body=True) from None
            if not size_line.endswith(b"\n"):
                raise HTTPError("unexpected EOF", in_body=True)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HTTPError("invalid byte in chunk length", in_body=True) from None
            if size == 0:
                break
            chunk = buf.exactly(min(size, limit - len(out)))
            if chunk is None:
                raise HTTPError("unexpected EOF", in_body=True) from None
            out += chunk
            if len(chunk) < size:
                break  # limit reached: the rest is not read (non-fatal truncation)
            try:
                buf.line()  # the chunk's CRLF
            except _TooLong:
                raise HTTPError("header line too long", in_body=True) from None
        return bytes(out)
    cl = resp.header("Content-Length")
    if cl is not None:
        try:
            want = min(int(cl), limit)
        except ValueError:
            raise HTTPError(f"bad Content-Length {cl!r}".replace("'", '"')) from None
        body = buf.exactly(want)
        if body is None:
            raise HTTPError("unexpected EOF", in_body=True) from None
        return body
    return buf.upto(limit)


class _Exchange:
    """One GET on one connection."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.in_body = False

    async def run(self, headers: Sequence[tuple[str, str]], host_header: str | None, *,
                  netns_path: str | None, netns: NetnsSockets | None,
                  settle: Settle | None = None) -> Response:
        url = self.url
        request = request_bytes(url, headers, host_header)
        plain = url.scheme != "https"
        sock = await dial(url.host, url.port, netns_path=netns_path, netns=netns,
                          first=request if plain else b"")
        writer: asyncio.StreamWriter | None = None
        reader: asyncio.StreamReader | None = None
        loop = asyncio.get_running_loop()
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
            # else: dial sent the request; the answer is hardly ever there yet, so the
            # first read waits for it (no failed recv() and BlockingIOError first): with
            # `settle`, until the prober's next wake-up, when the answer is nearly always in
            # and is read with that wake-up's other work (no wake-up of its own, no epoll
            # registration); else until the socket is readable.
            data = bytearray()
            eof = False
            waited = False
            while True:
                if data or eof:
                    try:
                        buf = _Buffer(data, eof)
                        resp = _parse_head(buf)
                        self.in_body = True
                        resp.body = _parse_body(buf, resp)
                        resp.url = url
                        return resp
                    except _NeedMore:
                        pass
                if reader is not None:
                    chunk = await reader.read(65536)
                else:
                    if not waited:
                        waited = True
                        await (settle() if settle is not None else readable(loop, sock))
                    while True:
                        try:
                            chunk = sock.recv(65536)
                            break
                        except (BlockingIOError, InterruptedError):
                            await readable(loop, sock)
                if chunk:
                    data += chunk
                else:
                    eof = True
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


async def get(url: URL, headers: Sequence[tuple[str, str]], *, timeout: float | None,
              netns_path: str | None = None, netns: NetnsSockets | None = None,
              deadline: Deadline | None = None, settle: Settle | None = None) -> Response:
    """GET with the kubelet's redirect policy; raises HTTPError worded like Go's client.

    Redirects (301/302/303/307/308 with a Location) are followed only while the hostname
    stays the same, at most 10 requests in all; a redirect elsewhere returns the 3xx itself.
    `timeout` covers everything (Go's Client.Timeout); `deadline` (default asyncio.timeout)
    makes the context manager that enforces it (the prober's shares its wake-up grid);
    `settle` is awaited before the first read of each answer (plain HTTP). The netns (if any) is used only for
    the first hostname, which is the pod's; a relative redirect keeps a user Host header.
    """
    user_host = next((v for k, v in headers if k == "Host" and v), None)
    current = url
    host_header = user_host
    requests = 0
    exchange: _Exchange | None = None
    try:
        async with (deadline or asyncio.timeout)(timeout):
            while True:
                requests += 1
                exchange = _Exchange(current)
                resp = await exchange.run(headers, host_header, netns_path=netns_path,
                                          netns=netns, settle=settle)
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
                netns_path: str | None = None, netns: NetnsSockets | None = None,
                deadline: Deadline | None = None, settle: Settle | None = None) -> ProbeRun:
    """K8S http.go DoHTTPProbe: 200-399 Success, a kept 3xx Warning, else Failure.

    Transport failures and timeouts are Failures with Go's message; a failure while reading
    the body (other than hitting the 10 KiB limit) is a probe error, as upstream.
    """
    try:
        resp = await get(url, headers, timeout=timeout, netns_path=netns_path, netns=netns,
                         deadline=deadline, settle=settle)
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
