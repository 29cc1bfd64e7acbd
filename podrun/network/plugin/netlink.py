"""A minimal rtnetlink client: links, addresses and routes, in the current or another netns.

The plugin is one short-lived process per CNI call, so start-up time is the cost that matters:
pyroute2 0.9 takes ~250 ms to import (36 ms for its message classes alone), this module and
the standard library ~10 ms. It knows only the few messages a bridge + veth plugin needs.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import struct
from collections import namedtuple
from collections.abc import Iterator
from contextlib import contextmanager

NETLINK_ROUTE = 0
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
F_REQUEST, F_ACK, F_DUMP = 0x1, 0x4, 0x300
F_EXCL, F_CREATE = 0x200, 0x400
NLA_F_NESTED = 0x8000

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_NET_NS_FD = 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
IFF_UP, IFF_PROMISC = 0x1, 0x100
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RTN_UNICAST = 254, 3, 0, 253, 1
CLONE_NEWNET = 0x40000000

_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_HDR = struct.Struct("=IHHII")


def _rta(kind: int, data: bytes) -> bytes:
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * (-length % 4)


def _rta_str(kind: int, s: str) -> bytes:
    return _rta(kind, s.encode() + b"\0")


def _rta_u32(kind: int, v: int) -> bytes:
    return _rta(kind, struct.pack("=I", v))


def _attrs(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    off = 0
    while off + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, off)
        if length < 4:
            break
        out[kind & ~NLA_F_NESTED] = data[off + 4:off + length]
        off += (length + 3) & ~3
    return out


Link = namedtuple("Link", "index name kind flags mtu master mac")
Addr = namedtuple("Addr", "index address prefixlen")
Route = namedtuple("Route", "dst dst_len gateway oif")


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _parse_link(body: bytes) -> Link:
    _fam, _type, index, flags, _change = _IFINFO.unpack_from(body)
    a = _attrs(body[_IFINFO.size:])
    kind = ""
    if IFLA_LINKINFO in a:
        kind = _attrs(a[IFLA_LINKINFO]).get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode()
    return Link(index=index, name=a.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(), kind=kind,
                flags=flags, mtu=struct.unpack("=I", a[IFLA_MTU])[0] if IFLA_MTU in a else 0,
                master=struct.unpack("=I", a[IFLA_MASTER])[0] if IFLA_MASTER in a else 0,
                mac=_mac(a.get(IFLA_ADDRESS, b"")))


class RTNL:
    """One NETLINK_ROUTE socket; it stays bound to the netns it was created in."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                  NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RTNL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, msg_type: int, flags: int, body: bytes) -> list[bytes]:
        self.seq += 1
        dump = (flags & F_DUMP) == F_DUMP
        flags |= F_REQUEST | (0 if dump else F_ACK)
        self.sock.send(_HDR.pack(_HDR.size + len(body), msg_type, flags, self.seq, 0) + body)
        out: list[bytes] = []
        while True:
            data = self.sock.recv(1 << 16)
            off = 0
            while off + _HDR.size <= len(data):
                length, kind, _flags, seq, _pid = _HDR.unpack_from(data, off)
                payload = data[off + _HDR.size:off + length]
                off += (length + 3) & ~3
                if seq != self.seq:
                    continue
                if kind == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", payload)
                    if err:
                        raise OSError(-err, os.strerror(-err))
                    return out
                if kind == NLMSG_DONE:
                    return out
                out.append(payload)

    # -- links --

    def link(self, name: str) -> Link | None:
        try:
            (body,) = self.request(RTM_GETLINK, 0, _IFINFO.pack(0, 0, 0, 0, 0) +
                                   _rta_str(IFLA_IFNAME, name))
        except OSError as e:
            if e.errno in (errno.ENODEV, errno.ENOENT):
                return None
            raise
        return _parse_link(body)

    def links(self) -> list[Link]:
        return [_parse_link(b) for b in self.request(RTM_GETLINK, F_DUMP,
                                                     _IFINFO.pack(0, 0, 0, 0, 0))]

    def create_bridge(self, name: str, mtu: int | None) -> None:
        attrs = _rta_str(IFLA_IFNAME, name)
        if mtu:
            attrs += _rta_u32(IFLA_MTU, mtu)
        attrs += _rta(IFLA_LINKINFO | NLA_F_NESTED, _rta_str(IFLA_INFO_KIND, "bridge"))
        self.request(RTM_NEWLINK, F_CREATE | F_EXCL, _IFINFO.pack(0, 0, 0, 0, 0) + attrs)

    def create_veth(self, name: str, peer: str, peer_netns_fd: int, mtu: int | None,
                    peer_mac: str | None = None) -> None:
        peer_attrs = _rta_str(IFLA_IFNAME, peer) + _rta_u32(IFLA_NET_NS_FD, peer_netns_fd)
        attrs = _rta_str(IFLA_IFNAME, name)
        if mtu:
            attrs += _rta_u32(IFLA_MTU, mtu)
            peer_attrs += _rta_u32(IFLA_MTU, mtu)
        if peer_mac:
            peer_attrs += _rta(IFLA_ADDRESS, bytes(int(x, 16) for x in peer_mac.split(":")))
        info = _rta_str(IFLA_INFO_KIND, "veth") + _rta(
            IFLA_INFO_DATA | NLA_F_NESTED,
            _rta(VETH_INFO_PEER | NLA_F_NESTED, _IFINFO.pack(0, 0, 0, 0, 0) + peer_attrs))
        attrs += _rta(IFLA_LINKINFO | NLA_F_NESTED, info)
        self.request(RTM_NEWLINK, F_CREATE | F_EXCL, _IFINFO.pack(0, 0, 0, 0, 0) + attrs)

    def set_link(self, index: int, *, up: bool | None = None, promisc: bool | None = None,
                 mtu: int | None = None, master: int | None = None) -> None:
        flags = change = 0
        if up is not None:
            change |= IFF_UP
            flags |= IFF_UP if up else 0
        if promisc is not None:
            change |= IFF_PROMISC
            flags |= IFF_PROMISC if promisc else 0
        attrs = b""
        if mtu:
            attrs += _rta_u32(IFLA_MTU, mtu)
        if master is not None:
            attrs += _rta_u32(IFLA_MASTER, master)
        self.request(RTM_NEWLINK, 0, _IFINFO.pack(0, 0, index, flags, change) + attrs)

    def delete_link(self, index: int) -> None:
        self.request(RTM_DELLINK, 0, _IFINFO.pack(0, 0, index, 0, 0))

    # -- addresses and routes (IPv4) --

    def add_addr(self, index: int, address: str, prefixlen: int) -> None:
        raw = socket.inet_aton(address)
        self.request(RTM_NEWADDR, F_CREATE | F_EXCL,
                     _IFADDR.pack(socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, index) +
                     _rta(IFA_LOCAL, raw) + _rta(IFA_ADDRESS, raw))

    def addrs(self, index: int | None = None) -> list[Addr]:
        out = []
        for body in self.request(RTM_GETADDR, F_DUMP, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)):
            _fam, plen, _fl, _scope, idx = _IFADDR.unpack_from(body)
            a = _attrs(body[_IFADDR.size:])
            raw = a.get(IFA_LOCAL) or a.get(IFA_ADDRESS)
            if raw and (index is None or idx == index):
                out.append(Addr(idx, socket.inet_ntoa(raw), plen))
        return out

    def add_route(self, dst: str, dst_len: int, gateway: str | None, oif: int) -> None:
        scope = RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK
        attrs = _rta_u32(RTA_OIF, oif)
        if dst_len:
            attrs += _rta(RTA_DST, socket.inet_aton(dst))
        if gateway:
            attrs += _rta(RTA_GATEWAY, socket.inet_aton(gateway))
        self.request(RTM_NEWROUTE, F_CREATE | F_EXCL,
                     _RTMSG.pack(socket.AF_INET, dst_len, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT,
                                 scope, RTN_UNICAST, 0) + attrs)

    def routes(self) -> list[Route]:
        out = []
        for body in self.request(RTM_GETROUTE, F_DUMP,
                                 _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)):
            fields = _RTMSG.unpack_from(body)
            a = _attrs(body[_RTMSG.size:])
            table = struct.unpack("=I", a[RTA_TABLE])[0] if RTA_TABLE in a else fields[4]
            if table != RT_TABLE_MAIN:
                continue
            out.append(Route(socket.inet_ntoa(a[RTA_DST]) if RTA_DST in a else "0.0.0.0",
                             fields[1],
                             socket.inet_ntoa(a[RTA_GATEWAY]) if RTA_GATEWAY in a else "",
                             struct.unpack("=I", a[RTA_OIF])[0] if RTA_OIF in a else 0))
        return out


_libc = None


def setns(fd: int) -> None:
    global _libc
    if hasattr(os, "setns"):  # Python >= 3.12
        os.setns(fd, CLONE_NEWNET)
        return
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextmanager
def in_netns(netns_fd: int) -> Iterator[None]:
    """Run the block in another network namespace (this process is single-threaded)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)  # setns is per thread
    try:
        setns(netns_fd)
        try:
            yield
        finally:
            setns(own)
    finally:
        os.close(own)


def rtnl_in(netns_fd: int) -> RTNL:
    """A netlink socket that works on another netns for its whole life."""
    with in_netns(netns_fd):
        return RTNL()
