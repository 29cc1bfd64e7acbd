"""podrun-bridge's parts that need no root: IPAM on a temp dir, config parsing, nft elements,
netlink attribute encoding."""

from __future__ import annotations

import ipaddress
import json
import threading

import pytest

from podrun.network.plugin import firewall, ipam, netlink
from podrun.network.plugin.main import PluginError, host_veth_name, parse_conf, run


def rng(subnet="10.251.9.0/29", **kw):
    return ipam.Range.from_config({"subnet": subnet, **kw})


def test_allocation_skips_gateway_rotates_and_exhausts(tmp_path):
    s = ipam.Store(str(tmp_path), "n")
    r = rng()  # hosts .1-.6, gateway .1
    with s.locked():
        got = [str(s.allocate(r, f"c{i}", "eth0")) for i in range(5)]
        assert got == [f"10.251.9.{i}" for i in range(2, 7)]
        with pytest.raises(ipam.IPAMError, match="no IP addresses available"):
            s.allocate(r, "c9", "eth0")
        assert s.release("c1", "eth0") == ["10.251.9.3"]
        # after the last reserved (.6) the search wraps to the freed .3
        assert str(s.allocate(r, "c10", "eth0")) == "10.251.9.3"
        # same attachment again: the same lease
        assert str(s.allocate(r, "c10", "eth0")) == "10.251.9.3"
    assert (tmp_path / "n" / "10.251.9.3").read_bytes() == b"c10\r\neth0"
    assert (tmp_path / "n" / "last_reserved_ip.0").read_text() == "10.251.9.3"


def test_release_is_per_container_and_ifname(tmp_path):
    s = ipam.Store(str(tmp_path), "n")
    r = rng("10.251.9.0/24")
    with s.locked():
        s.allocate(r, "c", "eth0")
        s.allocate(r, "c", "net1")
        assert s.release("c", "net1") == ["10.251.9.3"]
        assert s.release("c", "net1") == []
    assert s.leases() == [("10.251.9.2", "c", "eth0")]


def test_requested_ip(tmp_path):
    s = ipam.Store(str(tmp_path), "n")
    r = rng("10.251.9.0/24")
    with s.locked():
        assert str(s.allocate(r, "a", "eth0", ipaddress.IPv4Address("10.251.9.50"))) == \
            "10.251.9.50"
        with pytest.raises(ipam.IPAMError, match="not available"):
            s.allocate(r, "b", "eth0", ipaddress.IPv4Address("10.251.9.50"))
        with pytest.raises(ipam.IPAMError, match="not usable"):
            s.allocate(r, "b", "eth0", ipaddress.IPv4Address("10.251.9.1"))


def test_concurrent_allocations_never_share(tmp_path):
    r = rng("10.251.9.0/24")
    out: list[str] = []

    def worker(i: int) -> None:
        s = ipam.Store(str(tmp_path), "n")
        for j in range(20):
            with s.locked():
                out.append(str(s.allocate(r, f"t{i}-{j}", "eth0")))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(5)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(out) == len(set(out)) == 100


@pytest.mark.parametrize("cfg,match", [
    ({"subnet": "nonsense"}, "invalid or missing"), ({}, "invalid or missing"),
    ({"subnet": "10.0.0.0/31"}, "too small"),
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.1.1"}, "outside"),
    ({"subnet": "10.0.0.0/24", "rangeStart": "10.0.0.9", "rangeEnd": "10.0.0.5"}, "after"),
])
def test_bad_ranges(cfg, match):
    with pytest.raises(ipam.IPAMError, match=match):
        ipam.Range.from_config(cfg)


def test_host_local_ranges_shape():
    r = ipam.Range.from_config({"ranges": [[{"subnet": "10.251.3.0/24",
                                             "rangeStart": "10.251.3.10"}]]})
    assert (str(r.start), str(r.end), str(r.gateway)) == ("10.251.3.10", "10.251.3.254",
                                                          "10.251.3.1")


def test_parse_conf_defaults():
    c = parse_conf(json.dumps({"cniVersion": "1.1.0", "name": "podrun",
                               "ipam": {"subnet": "10.86.0.0/16"}}).encode())
    assert (c.bridge, c.is_gateway, c.ip_masq, c.hairpin, c.table) == \
        ("podrun0", True, True, True, "podrun")
    assert c.delegated_ipam is None
    assert parse_conf(json.dumps({"cniVersion": "1.0.0", "name": "x",
                                  "ipam": {"type": "host-local"}}).encode()
                      ).delegated_ipam == "host-local"


@pytest.mark.parametrize("doc,code", [
    ({"cniVersion": "1.1.0", "name": "x", "bridge": "a" * 16}, 7),
    ({"cniVersion": "1.1.0", "name": "x", "nftTable": "bad table"}, 7),
    ({"cniVersion": "1.1.0", "name": "x", "ipam": "host-local"}, 7),
    ({"cniVersion": "0.3.1", "name": "x"}, 1),
    ({"cniVersion": 1, "name": "x"}, 6),
])
def test_parse_conf_errors(doc, code):
    with pytest.raises(PluginError) as ei:
        parse_conf(json.dumps(doc).encode())
    assert ei.value.code == code


def test_version_command_needs_no_env():
    assert run("VERSION", b'{"cniVersion": "0.4.0"}') == {
        "cniVersion": "0.4.0", "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]}


def test_status_gc_need_1_1(monkeypatch):
    with pytest.raises(PluginError) as ei:
        run("GC", json.dumps({"cniVersion": "1.0.0", "name": "x"}).encode())
    assert ei.value.code == 1


def test_veth_names_are_stable_and_short():
    a = host_veth_name("abc", "eth0")
    assert a == host_veth_name("abc", "eth0") != host_veth_name("abc", "net1")
    assert len(a) <= 15 and a.startswith("pr")


def test_hostport_elements():
    any_ = firewall.HostPort(8080, 80, "tcp", "", "10.86.0.5")
    ip = firewall.HostPort(53, 53, "udp", "127.0.0.1", "10.86.0.5")
    assert any_.elements() == ("hostports_any", "tcp . 8080 : 10.86.0.5 . 80")
    assert ip.elements() == ("hostports_ip", "udp . 127.0.0.1 . 53 : 10.86.0.5 . 53")
    assert ip.key() == ("hostports_ip", "udp . 127.0.0.1 . 53")
    assert "flush chain ip t postrouting" in firewall.base_script("t")


def test_netlink_attrs_round_trip():
    data = netlink._rta_str(netlink.IFLA_IFNAME, "eth0") + netlink._rta_u32(netlink.IFLA_MTU,
                                                                          1450)
    a = netlink._attrs(data)
    assert a[netlink.IFLA_IFNAME] == b"eth0\0"
    assert int.from_bytes(a[netlink.IFLA_MTU], "little") == 1450
    assert len(netlink._rta(1, b"abcde")) == 12  # padded to 4
