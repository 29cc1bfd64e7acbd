"""Pod networking through NetworkManager on real network namespaces held by pause, with
podrun's plugin and with the reference plugins (each test runs for both)."""

from __future__ import annotations

import os
import time

import pytest

from podrun.network.cni import CNIError, PortMapping
from tests.integration.network.conftest import BUSYBOX, free_port

pytestmark = pytest.mark.privileged


def wget(sb_or_none, url: str) -> str:
    argv = [BUSYBOX, "wget", "-q", "-O", "-", url]  # (-T segfaults in busybox 1.35)
    if sb_or_none is None:
        import subprocess
        return subprocess.run(argv, capture_output=True, text=True, check=True,
                              timeout=20).stdout
    return sb_or_none.ns(*argv).stdout


def test_pod_to_pod_host_to_pod_and_hostport(net, sandboxes):
    a, b = sandboxes("a"), sandboxes("b")
    m = net.manager()
    hp = free_port()
    ra = m.setup("default", "a", "uid-a", "sb-a", a.netns)
    rb = m.setup("default", "b", "uid-b", "sb-b", b.netns,
                 port_mappings=[PortMapping(hp, 8000, "TCP")])
    try:
        ipa, ipb = ra.ips[0], rb.ips[0]
        assert ipa != ipb and ipa.startswith(net.subnet[:-5])
        assert ra.gateway == net.gateway
        b.httpd(8000, "hello from b")
        a.ns(BUSYBOX, "ping", "-c", "1", "-W", "3", ipb)
        assert wget(a, f"http://{ipb}:8000/") == "hello from b"          # pod to pod
        assert wget(None, f"http://{ipb}:8000/") == "hello from b"       # host to pod
        assert wget(None, f"http://127.0.0.1:{hp}/") == "hello from b"   # hostPort, loopback
        assert wget(a, f"http://{net.gateway}:{hp}/") == "hello from b"  # hostPort from a pod
        assert wget(b, f"http://{net.gateway}:{hp}/") == "hello from b"  # hairpin
        m.check("sb-a", a.netns)
        assert sorted(net.leases()) == sorted([ipa, ipb])
        assert len(net.bridge_ports()) == 2
    finally:
        b.kill()
        m.teardown("sb-a", a.netns)
        m.teardown("sb-b", b.netns)
    assert net.leases() == []
    assert net.bridge_ports() == []
    assert net.rules_for("sb-a", ipa) == [] and net.rules_for("sb-b", ipb) == []
    assert "eth0" not in a.ns("ip", "-o", "link").stdout
    assert m.cached_attachments() == []
    # DEL again: idempotent
    m.teardown("sb-a", a.netns)


def test_del_after_daemon_crash_uses_the_cache(net, sandboxes):
    a = sandboxes("a")
    hp = free_port()
    r = net.manager().setup("default", "a", "uid-a", "sb-crash", a.netns,
                            port_mappings=[PortMapping(hp, 8000)])
    ip = r.ips[0]
    # the daemon "dies": a new manager knows only what the cache says
    m2 = net.manager()
    (att,) = m2.cached_attachments()
    assert (att.container_id, att.netns) == ("sb-crash", a.netns)
    m2.teardown("sb-crash", None)
    assert net.leases() == [] and net.bridge_ports() == []
    assert net.rules_for("sb-crash", ip) == []
    assert "eth0" not in a.ns("ip", "-o", "link").stdout


def test_del_after_sandbox_died(net, sandboxes):
    """pause died and its netns is gone: DEL with an empty CNI_NETNS still frees the IP and
    the rules; the kernel removed the veth with the namespace."""
    from podrun.network.cni import unpin_netns
    from tests.integration.network.conftest import stop_pause

    a = sandboxes("a")
    hp = free_port()
    m = net.manager()
    r = m.setup("default", "a", "uid-a", "sb-dead", a.netns, port_mappings=[PortMapping(hp, 80)])
    stop_pause(a)
    unpin_netns(a.netns)
    deadline = time.monotonic() + 5
    while net.bridge_ports() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert net.bridge_ports() == []
    assert not os.path.exists(a.netns)
    m.teardown("sb-dead", a.netns)
    assert net.leases() == []
    if net.kind == "reference":
        # bridge 1.1.1 returns early on an empty CNI_NETNS and leaves its masquerade chain:
        # the reason podrun hands CNI a pinned netns that outlives pause (docs/network.md)
        from tests.integration.network.conftest import purge_iptables_for
        assert purge_iptables_for(net.name)
    assert net.rules_for("sb-dead", r.ips[0]) == []


def test_gc_removes_stale_attachments(net, sandboxes):
    a, b = sandboxes("a"), sandboxes("b")
    m = net.manager()
    ra = m.setup("default", "a", "uid-a", "sb-keep", a.netns)
    m.setup("default", "b", "uid-b", "sb-gone", b.netns)
    assert m.gc(["sb-keep"]) == []
    assert net.leases() == [ra.ips[0]]
    assert [x.container_id for x in m.cached_attachments()] == ["sb-keep"]
    m.teardown("sb-keep", a.netns)
    assert net.leases() == [] and net.bridge_ports() == []


@pytest.mark.parametrize("kind", ["podrun", "podrun-iptables"])
def test_hostport_conflict_is_reported(make_net, sandboxes, kind):
    net = make_net(kind)
    a, b = sandboxes("a"), sandboxes("b")
    m = net.manager()
    hp = free_port()
    m.setup("default", "a", "uid-a", "sb-1", a.netns, port_mappings=[PortMapping(hp, 80)])
    with pytest.raises(CNIError, match="hostPort already allocated") as ei:
        m.setup("default", "b", "uid-b", "sb-2", b.netns, port_mappings=[PortMapping(hp, 80)])
    assert ei.value.code == 101
    # the failed ADD was rolled back: only a's lease and port remain
    assert len(net.leases()) == 1 and len(net.bridge_ports()) == 1
    m.teardown("sb-1", a.netns)
    assert net.leases() == []


def test_status_and_requested_ip_and_mac(make_net, sandboxes):
    net = make_net("podrun")
    a = sandboxes("a")
    m = net.manager()
    m.status()
    want = net.subnet.replace(".0/24", ".77")
    r = m.setup("default", "a", "uid-a", "sb-ip", a.netns, ips=[want + "/24"],
                mac="02:42:ac:11:00:77")
    assert r.ips == (want,)
    assert "02:42:ac:11:00:77" in a.ns("ip", "link", "show", "eth0").stdout
    m.teardown("sb-ip", a.netns)


def test_containers_of_a_pod_talk_over_localhost(net, sandboxes):
    """lo is up in every sandbox, whatever the conflist holds (the reference chain's loopback
    plugin runs with CNI_IFNAME=eth0 and would leave lo down)."""
    a = sandboxes("a")
    m = net.manager()
    m.setup("default", "a", "uid-a", "sb-lo", a.netns)
    try:
        a.httpd(8000, "same pod")
        assert wget(a, "http://127.0.0.1:8000/") == "same pod"
    finally:
        a.kill()
        m.teardown("sb-lo", a.netns)


def test_podrun_bridge_chained_with_reference_bandwidth(make_net, sandboxes):
    """Any plugin chains after podrun-bridge: the reference bandwidth plugin reads the host
    veth from prevResult and shapes it from the pod's bandwidth annotations."""
    import json

    from podrun.network.cni import bandwidth_from_annotations
    from tests.integration.network.conftest import REFERENCE_BIN, reference_missing, run
    if reference_missing() or not (REFERENCE_BIN / "bandwidth").exists():
        pytest.skip("reference bandwidth plugin missing: install containernetworking-plugins")
    net = make_net("podrun")
    path = net.conf_dir / "10-test.conflist"
    doc = json.loads(path.read_text())
    doc["cniVersion"] = "1.0.0"  # Debian's plugins 1.1.1 speak up to 1.0.0
    doc["plugins"].append({"type": "bandwidth", "capabilities": {"bandwidth": True}})
    path.write_text(json.dumps(doc))
    net.bin_dirs.append(REFERENCE_BIN)
    a = sandboxes("a")
    m = net.manager()
    bw = bandwidth_from_annotations({"kubernetes.io/ingress-bandwidth": "1M",
                                     "kubernetes.io/egress-bandwidth": "2M"})
    r = m.setup("default", "a", "uid-a", "sb-bw", a.netns, bandwidth=bw)
    try:
        host_veth = r.interfaces[1]["name"]
        assert "tbf" in run("tc", "qdisc", "show", "dev", host_veth).stdout
        ifbs = [i["name"] for i in r.interfaces if i["name"].startswith("bwp")]
        assert ifbs, r.interfaces
    finally:
        m.teardown("sb-bw", a.netns)
    assert run("ip", "link", "show", ifbs[0], check=False).returncode != 0
    assert net.leases() == [] and net.bridge_ports() == []
