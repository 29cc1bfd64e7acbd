"""cni/podrun-bridge speaks the CNI protocol by itself: started by path with the CNI env vars
and the config on stdin, as any CNI runtime starts it."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.integration.network.conftest import PODRUN_BIN

pytestmark = pytest.mark.privileged
PLUGIN = str(PODRUN_BIN / "podrun-bridge")


def call(command: str, conf: dict | bytes, **env: str) -> tuple[int, dict | None]:
    stdin = conf if isinstance(conf, bytes) else json.dumps(conf).encode()
    e = {"CNI_COMMAND": command, "CNI_PATH": "/usr/lib/cni", "PATH": os.environ["PATH"], **env}
    p = subprocess.run([PLUGIN], input=stdin, capture_output=True, env=e, timeout=30,
                       check=False)
    assert p.stderr == b"", p.stderr
    out = p.stdout.strip()
    return p.returncode, (json.loads(out) if out else None)


@pytest.fixture
def conf(make_net):
    net = make_net("podrun")
    doc = json.loads((net.conf_dir / "10-test.conflist").read_text())
    plugin = doc["plugins"][0]
    plugin.pop("capabilities")
    return net, {"cniVersion": "1.1.0", "name": net.name, **plugin}


def test_version():
    rc, out = call("VERSION", {"cniVersion": "1.0.0"})
    assert rc == 0 and out == {"cniVersion": "1.0.0",
                               "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]}


@pytest.mark.parametrize("stdin,code", [
    (b"{not json", 6), (b"[1, 2]", 6), (json.dumps({"cniVersion": "0.2.0", "name": "x"}).encode(), 1),
    (json.dumps({"cniVersion": "9.0.0", "name": "x"}).encode(), 1),
    (json.dumps({"cniVersion": "1.0.0"}).encode(), 7),
    (json.dumps({"cniVersion": "1.0.0", "name": "x", "mtu": 5}).encode(), 7),
])
def test_errors(stdin, code):
    rc, out = call("ADD", stdin, CNI_CONTAINERID="c", CNI_NETNS="/x", CNI_IFNAME="eth0")
    assert rc == 1 and out["code"] == code and out["msg"] and "cniVersion" in out


def test_missing_env_and_netns(conf):
    _net, c = conf
    rc, out = call("ADD", c, CNI_NETNS="/x", CNI_IFNAME="eth0")
    assert rc == 1 and out["code"] == 4 and "CNI_CONTAINERID" in out["msg"]
    rc, out = call("ADD", c, CNI_CONTAINERID="c", CNI_NETNS="/nonexistent/netns",
                   CNI_IFNAME="eth0")
    assert rc == 1 and out["code"] == 4 and "failed to open netns" in out["msg"]
    rc, out = call("FROB", c)
    assert rc == 1 and out["code"] == 4


def test_add_check_del(conf, sandboxes):
    net, c = conf
    sb = sandboxes("p")
    env = {"CNI_CONTAINERID": "proto-1", "CNI_NETNS": sb.netns, "CNI_IFNAME": "eth0",
           "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=p"}
    rc, res = call("ADD", c, **env)
    assert rc == 0, res
    assert res["cniVersion"] == "1.1.0"
    assert [i["name"] for i in res["interfaces"]][::2] == [net.bridge, "eth0"]
    assert res["interfaces"][2]["sandbox"] == sb.netns
    (ip,) = res["ips"]
    assert ip["interface"] == 2 and ip["gateway"] == net.gateway and "version" not in ip
    # ADD again for the same attachment: the interface exists -> error, lease kept
    rc, out = call("ADD", c, **env)
    assert rc == 1 and "already exists" in out["msg"]
    assert net.leases() == [ip["address"].split("/")[0]]
    rc, out = call("CHECK", {**c, "prevResult": res}, **env)
    assert rc == 0, out
    sb.ns("ip", "addr", "flush", "dev", "eth0")
    rc, out = call("CHECK", {**c, "prevResult": res}, **env)
    assert rc == 1 and "lacks address" in out["msg"]
    rc, out = call("DEL", {**c, "prevResult": res}, **env)
    assert (rc, out) == (0, None)
    assert net.leases() == [] and net.bridge_ports() == []
    # DEL is idempotent, also without netns and prevResult
    assert call("DEL", c, **env) == (0, None)
    assert call("DEL", c, **{**env, "CNI_NETNS": ""}) == (0, None)
    assert call("DEL", c, **{**env, "CNI_NETNS": "/nonexistent"}) == (0, None)


def test_result_for_0_4_0(conf, sandboxes):
    net, c = conf
    sb = sandboxes("p")
    env = {"CNI_CONTAINERID": "proto-2", "CNI_NETNS": sb.netns, "CNI_IFNAME": "eth0"}
    rc, res = call("ADD", {**c, "cniVersion": "0.4.0"}, **env)
    assert rc == 0 and res["cniVersion"] == "0.4.0" and res["ips"][0]["version"] == "4"
    assert call("DEL", {**c, "cniVersion": "0.4.0"}, **env) == (0, None)
    assert net.leases() == []


def test_status_and_gc(conf, sandboxes):
    net, c = conf
    assert call("STATUS", c) == (0, None)
    rc, out = call("STATUS", {**c, "cniVersion": "1.0.0"})
    assert rc == 1 and out["code"] == 1
    a, b = sandboxes("a"), sandboxes("b")
    for cid, sb in (("gc-keep", a), ("gc-drop", b)):
        rc, out = call("ADD", c, CNI_CONTAINERID=cid, CNI_NETNS=sb.netns, CNI_IFNAME="eth0")
        assert rc == 0, out
    keep_ip = [ip for ip in net.leases()]
    rc, out = call("GC", {**c, "cni.dev/valid-attachments": [
        {"containerID": "gc-keep", "ifname": "eth0"}]})
    assert (rc, out) == (0, None)
    assert len(net.leases()) == 1 and net.leases()[0] in keep_ip
    assert call("DEL", c, CNI_CONTAINERID="gc-keep", CNI_NETNS=a.netns,
                CNI_IFNAME="eth0") == (0, None)
    assert net.leases() == []


def test_delegated_ipam_host_local(conf, sandboxes):
    """ipam.type other than podrun: the IPAM plugin is run from CNI_PATH (here host-local)."""
    from tests.integration.network.conftest import reference_missing
    if reference_missing():
        pytest.skip(reference_missing())
    net, c = conf
    c = {**c, "cniVersion": "1.0.0", "ipam": {"type": "host-local", "ranges": [[{"subnet": net.subnet}]],
                       "dataDir": str(net.data_dir), "routes": [{"dst": "0.0.0.0/0"}]}}
    sb = sandboxes("p")
    env = {"CNI_CONTAINERID": "deleg", "CNI_NETNS": sb.netns, "CNI_IFNAME": "eth0"}
    rc, res = call("ADD", c, **env)
    assert rc == 0, res
    assert res["ips"][0]["address"].split("/")[0] in net.leases()
    assert call("DEL", c, **env) == (0, None)
    assert net.leases() == []
