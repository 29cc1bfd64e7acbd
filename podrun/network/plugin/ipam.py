"""host-local-style IPAM: one file per leased IP under <dataDir>/<network>/, flock-protected.

The on-disk layout is host-local's (file named by the IP holding "<containerID>\\r\\n<ifname>",
`last_reserved_ip.0`, `lock`), so either plugin can read the other's leases.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LAST_RESERVED = "last_reserved_ip.0"
LOCK = "lock"
LINE_BREAK = "\r\n"


class IPAMError(Exception):
    pass


class Range:
    def __init__(self, subnet: ipaddress.IPv4Network, start: ipaddress.IPv4Address,
                 end: ipaddress.IPv4Address, gateway: ipaddress.IPv4Address) -> None:
        self.subnet, self.start, self.end, self.gateway = subnet, start, end, gateway

    @classmethod
    def from_config(cls, ipam: dict[str, Any]) -> Range:
        """`subnet`/`rangeStart`/`rangeEnd`/`gateway`, or host-local's `ranges[0][0]`."""
        r = ipam
        if "subnet" not in r and r.get("ranges"):
            r = r["ranges"][0][0]
        try:
            subnet = ipaddress.IPv4Network(r["subnet"], strict=False)
        except (KeyError, ValueError, TypeError) as e:
            raise IPAMError(f"ipam: invalid or missing IPv4 subnet: {e}") from e
        if subnet.prefixlen > 30:
            raise IPAMError(f"ipam: subnet {subnet} is too small")
        hosts_first = subnet.network_address + 1
        hosts_last = subnet.broadcast_address - 1
        try:
            gw = ipaddress.IPv4Address(r.get("gateway") or hosts_first)
            start = ipaddress.IPv4Address(r.get("rangeStart") or hosts_first)
            end = ipaddress.IPv4Address(r.get("rangeEnd") or hosts_last)
        except ValueError as e:
            raise IPAMError(f"ipam: {e}") from e
        for name, a in (("gateway", gw), ("rangeStart", start), ("rangeEnd", end)):
            if a not in subnet:
                raise IPAMError(f"ipam: {name} {a} is outside {subnet}")
        if start > end:
            raise IPAMError(f"ipam: rangeStart {start} is after rangeEnd {end}")
        return cls(subnet, start, end, gw)


class Store:
    def __init__(self, data_dir: str, network: str) -> None:
        if not network or "/" in network or network in (".", ".."):
            raise IPAMError(f"ipam: invalid network name {network!r}")
        self.dir = os.path.join(data_dir, network)

    @contextmanager
    def locked(self) -> Iterator[None]:
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        fd = os.open(os.path.join(self.dir, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _leases(self) -> Iterator[tuple[str, str, str]]:
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return
        for name in names:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                continue
            try:
                with open(os.path.join(self.dir, name), newline="") as f:
                    text = f.read()
            except FileNotFoundError:
                continue
            cid, _, ifname = text.partition(LINE_BREAK)
            yield name, cid.strip(), ifname.strip()

    def leases(self) -> list[tuple[str, str, str]]:
        """(ip, containerID, ifname) for every lease."""
        return sorted(self._leases())

    def find(self, cid: str, ifname: str) -> str | None:
        for ip, c, i in self._leases():
            if c == cid and i == ifname:
                return ip
        return None

    def _reserve(self, ip: ipaddress.IPv4Address, cid: str, ifname: str) -> bool:
        try:
            fd = os.open(os.path.join(self.dir, str(ip)),
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(cid + LINE_BREAK + ifname)
        return True

    def allocate(self, r: Range, cid: str, ifname: str,
                 requested: ipaddress.IPv4Address | None = None) -> ipaddress.IPv4Address:
        """Call with the lock held. Reuses the attachment's own lease (ADD is idempotent)."""
        own = self.find(cid, ifname)
        if own is not None:
            return ipaddress.IPv4Address(own)
        if requested is not None:
            if requested not in r.subnet or requested == r.gateway or \
                    requested in (r.subnet.network_address, r.subnet.broadcast_address):
                raise IPAMError(f"requested IP {requested} is not usable in {r.subnet}")
            if not self._reserve(requested, cid, ifname):
                raise IPAMError(f"requested IP address {requested} is not available in range "
                                f"set {r.subnet}")
            return requested
        last = self._last_reserved()
        first = r.start
        if last is not None and r.start <= last < r.end:
            first = last + 1
        for ip in self._cycle(r, first):
            if ip == r.gateway:
                continue
            if self._reserve(ip, cid, ifname):
                self._set_last_reserved(ip)
                return ip
        raise IPAMError(f"no IP addresses available in range set: {r.start}-{r.end}")

    @staticmethod
    def _cycle(r: Range, first: ipaddress.IPv4Address) -> Iterable[ipaddress.IPv4Address]:
        ip = first
        while True:
            yield ip
            ip = r.start if ip >= r.end else ip + 1
            if ip == first:
                return

    def _last_reserved(self) -> ipaddress.IPv4Address | None:
        try:
            with open(os.path.join(self.dir, LAST_RESERVED)) as f:
                return ipaddress.IPv4Address(f.read().strip())
        except (OSError, ValueError):
            return None

    def _set_last_reserved(self, ip: ipaddress.IPv4Address) -> None:
        tmp = os.path.join(self.dir, f".{LAST_RESERVED}.tmp")
        with open(tmp, "w") as f:
            f.write(str(ip))
        os.replace(tmp, os.path.join(self.dir, LAST_RESERVED))

    def release(self, cid: str, ifname: str) -> list[str]:
        """Drop every lease of this attachment (call with the lock held)."""
        gone = []
        for ip, c, i in self._leases():
            if c == cid and i == ifname:
                try:
                    os.unlink(os.path.join(self.dir, ip))
                except FileNotFoundError:
                    pass
                gone.append(ip)
        return gone
