"""Read CRI log files (`<RFC3339Nano> <stdout|stderr> <P|F> <content>`) as the kubelet's
log reader does (BEHAVIOR.md 11.2): P chunks are joined, a newline follows each F entry,
`--timestamps` prefixes the timestamp of the entry that completed the line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    timestamp: str
    stream: str
    partial: bool
    content: bytes


def parse_line(line: bytes) -> Entry | None:
    """One log file line (without its newline); None for a malformed line."""
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr") or parts[2] not in (b"P", b"F"):
        return None
    return Entry(parts[0].decode("ascii", "replace"), parts[1].decode(), parts[2] == b"P",
                 parts[3] if len(parts) == 4 else b"")


def timestamp_ns(ts: str) -> int | None:
    """RFC 3339 with up to nine fraction digits -> ns since the epoch."""
    try:
        main, _, rest = ts.partition(".")
        frac, tz = (rest[:-1], "Z") if rest.endswith("Z") else (rest[:9], rest[9:])
        if not rest:
            main, tz = (main[:-1], "Z") if main.endswith("Z") else (main, "")
        base = dt.datetime.fromisoformat(main + ("+00:00" if tz in ("Z", "") else tz))
        digits = "".join(ch for ch in frac if ch.isdigit())[:9].ljust(9, "0")
        return int(base.timestamp()) * 1_000_000_000 + int(digits or 0)
    except ValueError:
        return None


def joined_lines(data: bytes) -> Iterator[tuple[Entry, bytes]]:
    """(last entry, full line content) for every complete line in `data`; a trailing run
    of P entries without its F is yielded as it stands (the container ended there)."""
    pending: dict[str, bytearray] = {}
    for raw in data.split(b"\n"):
        if not raw:
            continue
        e = parse_line(raw)
        if e is None:
            continue
        buf = pending.setdefault(e.stream, bytearray())
        buf += e.content
        if not e.partial:
            yield e, bytes(buf) + b"\n"
            del pending[e.stream]
    for stream, buf in pending.items():
        if buf:
            yield Entry("", stream, True, b""), bytes(buf)


def format_lines(data: bytes, *, timestamps: bool = False, tail_lines: int | None = None,
                 since_ns: int | None = None, limit_bytes: int | None = None) -> bytes:
    lines = []
    for entry, text in joined_lines(data):
        if since_ns is not None:
            t = timestamp_ns(entry.timestamp)
            if t is not None and t < since_ns:
                continue
        lines.append((entry.timestamp + " " if timestamps and entry.timestamp else "").encode()
                     + text)
    if tail_lines is not None:
        lines = lines[-tail_lines:] if tail_lines > 0 else []
    out = b"".join(lines)
    return out[:limit_bytes] if limit_bytes is not None else out


async def follow(path: Path, *, timestamps: bool = False, tail_lines: int | None = None,
                 since_ns: int | None = None, done: Callable[[], bool],
                 poll: float = 0.1) -> AsyncIterator[bytes]:
    """`kubectl logs -f`: what is there (after tail/since), then new lines as they come,
    until done() says the container has exited and the file has been read to its end.
    A rotated file (renamed away, a fresh one created) is followed into the new one."""
    data = await asyncio.to_thread(_read, path)
    complete = data[: data.rfind(b"\n") + 1]
    out = format_lines(complete, timestamps=timestamps, tail_lines=tail_lines,
                       since_ns=since_ns)
    if out:
        yield out
    offset = len(complete)
    ino = _inode(path)
    carry = b""
    while True:
        finished = done()
        cur = _inode(path)
        if cur is not None and cur != ino:  # rotated: drain the old name is gone; start over
            ino, offset = cur, 0
        chunk = await asyncio.to_thread(_read, path, offset)
        if chunk:
            offset += len(chunk)
            carry += chunk
            cut = carry.rfind(b"\n") + 1
            if cut:
                text = format_lines(carry[:cut], timestamps=timestamps, since_ns=since_ns)
                carry = carry[cut:]
                if text:
                    yield text
            continue
        if finished:
            if carry:
                yield format_lines(carry, timestamps=timestamps, since_ns=since_ns)
            return
        await asyncio.sleep(poll)


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _read(path: Path, offset: int = 0) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read()
    except FileNotFoundError:
        return b""
