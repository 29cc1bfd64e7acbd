"""Synthetic layer tars built in memory, for unpack tests."""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass


@dataclass
class E:
    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 1_700_000_000
    pax: dict[str, str] | None = None
    devmajor: int = 0
    devminor: int = 0


def f(name: str, data: bytes = b"x", mode: int = 0o644, **kw: object) -> E:
    return E(name, tarfile.REGTYPE, data, mode=mode, **kw)  # type: ignore[arg-type]


def d(name: str, mode: int = 0o755, **kw: object) -> E:
    return E(name, tarfile.DIRTYPE, mode=mode, **kw)  # type: ignore[arg-type]


def sym(name: str, target: str) -> E:
    return E(name, tarfile.SYMTYPE, linkname=target, mode=0o777)


def hl(name: str, target: str) -> E:
    return E(name, tarfile.LNKTYPE, linkname=target)


def chr_dev(name: str, major: int = 1, minor: int = 3) -> E:
    return E(name, tarfile.CHRTYPE, mode=0o666, devmajor=major, devminor=minor)


def fifo(name: str) -> E:
    return E(name, tarfile.FIFOTYPE, mode=0o600)


def tar_bytes(entries: list[E], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e.name)
            ti.type = e.type
            ti.mode = e.mode
            ti.uid, ti.gid = e.uid, e.gid
            ti.mtime = e.mtime
            ti.linkname = e.linkname
            ti.devmajor, ti.devminor = e.devmajor, e.devminor
            if e.pax:
                ti.pax_headers = dict(e.pax)
            if e.type == tarfile.REGTYPE:
                ti.size = len(e.data)
                tf.addfile(ti, io.BytesIO(e.data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)
