"""The CNI runtime against fake plugins: small scripts this test writes into a temp bin dir.

Each fake logs (command, env, stdin config) to a JSON-lines file and answers from its own
behaviour, so the tests see exactly what the runtime sent and in which order."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from podrun.network import cni
from podrun.network.cni import CNIError, NetworkManager, PortMapping

FAKE = r'''#!{python} -IS
import json, os, sys, time
name = os.path.basename(sys.argv[0])
raw = sys.stdin.buffer.read()
cmd = os.environ.get("CNI_COMMAND", "")
env = {{k: v for k, v in os.environ.items() if k.startswith("CNI_")}}
with open({log!r}, "a") as f:
    f.write(json.dumps({{"plugin": name, "cmd": cmd, "env": env, "stdin": raw.decode()}}) + "\n")
mode = {mode!r}
conf = json.loads(raw)
ver = conf.get("cniVersion", "")
if cmd == "VERSION":
    print(json.dumps({{"cniVersion": ver, "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]}}))
    sys.exit(0)
if mode == "sleep":
    with open({log!r} + ".pid", "w") as f:
        f.write(str(os.getpid()))
    time.sleep(60)
if mode == "garbage" and cmd == "ADD":
    print("this is not json {{")
    sys.exit(0)
if mode == "error" and cmd in ("ADD", "STATUS"):
    print(json.dumps({{"cniVersion": ver, "code": 11, "msg": "bridge busy", "details": "try later"}}))
    sys.exit(1)
if mode == "stderr" and cmd == "ADD":
    sys.stderr.write("panic: something broke\n")
    sys.exit(2)
if mode == "badresult" and cmd == "ADD":
    print(json.dumps({{"cniVersion": ver, "ips": "10.0.0.1"}}))
    sys.exit(0)
if mode == "noversion" and cmd == "ADD":
    print(json.dumps({{"ips": []}}))
    sys.exit(0)
if mode == "array" and cmd == "ADD":
    print("[1, 2]")
    sys.exit(0)
if mode == "empty" and cmd == "ADD":
    sys.exit(0)
if mode == "oldver" and cmd == "ADD":
    print(json.dumps({{"cniVersion": "0.4.0", "ips": [{{"version": "4", "address": "10.251.0.9/24"}}]}}))
    sys.exit(0)
if cmd == "ADD":
    prev = conf.get("prevResult")
    if prev is None:
        res = {{"cniVersion": ver, "interfaces": [{{"name": "eth0", "sandbox": os.environ["CNI_NETNS"]}}],
               "ips": [{{"address": "10.251.0.5/24", "gateway": "10.251.0.1", "interface": 0}}],
               "routes": [{{"dst": "0.0.0.0/0"}}]}}
    else:
        res = dict(prev)
        res["dns"] = {{"nameservers": [name]}}
    print(json.dumps(res))
'''


class Fakes:
    def __init__(self, tmp: Path) -> None:
        self.bin = tmp / "bin"
        self.bin2 = tmp / "bin2"
        self.conf = tmp / "net.d"
        self.cache = tmp / "cache"
        self.log = tmp / "calls.jsonl"
        for d in (self.bin, self.bin2, self.conf):
            d.mkdir()

    def plugin(self, name: str, mode: str = "ok", bin_dir: Path | None = None) -> None:
        p = (bin_dir or self.bin) / name
        p.write_text(FAKE.format(python=sys.executable, log=str(self.log), mode=mode))
        p.chmod(0o755)

    def conflist(self, plugins: list[dict], version: str = "1.1.0", name: str = "testnet",
                 file: str = "10-test.conflist", **extra) -> None:
        (self.conf / file).write_text(json.dumps(
            {"cniVersion": version, "name": name, "plugins": plugins, **extra}))

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        out = [json.loads(line) for line in self.log.read_text().splitlines()]
        self.log.unlink()
        return out

    def manager(self, **kw) -> NetworkManager:
        kw.setdefault("loopback", False)  # the fake netns paths do not exist
        return NetworkManager(self.conf, [self.bin, self.bin2], self.cache, **kw)


@pytest.fixture
def fakes(tmp_path: Path) -> Fakes:
    return Fakes(tmp_path)


def setup(m: NetworkManager, sid: str = "sb1", **kw):
    return m.setup("prod", "web", "uid-1", sid, "/var/run/netns/x", **kw)


def test_add_chains_prev_result_and_passes_env(fakes):
    fakes.plugin("a")
    fakes.plugin("b", bin_dir=fakes.bin2)
    fakes.conflist([{"type": "a"}, {"type": "b"}])
    res = setup(fakes.manager())
    assert res.ips == ("10.251.0.5",) and res.gateway == "10.251.0.1"
    assert res.raw["dns"] == {"nameservers": ["b"]}
    calls = fakes.calls()
    assert [(c["plugin"], c["cmd"]) for c in calls] == [("a", "ADD"), ("b", "ADD")]
    env = calls[0]["env"]
    assert env["CNI_CONTAINERID"] == "sb1" and env["CNI_NETNS"] == "/var/run/netns/x"
    assert env["CNI_IFNAME"] == "eth0"
    assert env["CNI_PATH"] == f"{fakes.bin}:{fakes.bin2}"
    assert env["CNI_ARGS"] == ("IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web;"
                               "K8S_POD_INFRA_CONTAINER_ID=sb1;K8S_POD_UID=uid-1")
    first, second = (json.loads(c["stdin"]) for c in calls)
    assert first["name"] == "testnet" and first["cniVersion"] == "1.1.0"
    assert "prevResult" not in first
    assert second["prevResult"]["ips"][0]["address"] == "10.251.0.5/24"


def test_del_reverse_order_with_cached_prev_result_after_restart(fakes):
    fakes.plugin("a")
    fakes.plugin("b")
    fakes.conflist([{"type": "a"}, {"type": "b"}])
    setup(fakes.manager(), port_mappings=[PortMapping(8080, 80)])
    fakes.calls()
    cache = fakes.cache / "results" / "testnet-sb1-eth0"
    doc = json.loads(cache.read_text())
    assert doc["kind"] == "cniCacheV1" and doc["result"]["dns"] == {"nameservers": ["b"]}
    assert doc["cniArgs"][1] == ["K8S_POD_NAMESPACE", "prod"]
    # "restart": a new manager, and the conf dir changed meanwhile; DEL uses the cached list
    fakes.conflist([{"type": "a"}], file="10-test.conflist")
    m2 = fakes.manager()
    assert [a.container_id for a in m2.cached_attachments()] == ["sb1"]
    m2.teardown("sb1", None)
    calls = fakes.calls()
    assert [(c["plugin"], c["cmd"]) for c in calls] == [("b", "DEL"), ("a", "DEL")]
    for c in calls:
        conf = json.loads(c["stdin"])
        assert conf["prevResult"]["dns"] == {"nameservers": ["b"]}
        assert c["env"]["CNI_ARGS"].startswith("IgnoreUnknown=1;K8S_POD_NAMESPACE=prod")
        assert c["env"]["CNI_NETNS"] == ""  # cached path is gone from disk
    assert not cache.exists()
    assert m2.cached_attachments() == []


def test_del_without_cache_is_still_a_del(fakes):
    fakes.plugin("a")
    fakes.conflist([{"type": "a"}])
    fakes.manager().teardown("never", "/nonexistent/netns", "ns", "p", "u")
    (c,) = fakes.calls()
    assert c["cmd"] == "DEL" and "prevResult" not in json.loads(c["stdin"])


def test_capabilities_only_when_declared(fakes):
    fakes.plugin("a")
    fakes.plugin("pm")
    fakes.conflist([{"type": "a"}, {"type": "pm", "capabilities": {"portMappings": True,
                                                                   "bandwidth": False}}])
    setup(fakes.manager(), port_mappings=[PortMapping(8080, 80, "TCP", "127.0.0.1"),
                                          {"hostPort": 53, "containerPort": 53,
                                           "protocol": "udp"}],
          bandwidth=cni.Bandwidth(1000, None), mac="02:00:00:00:00:01")
    a, pm = (json.loads(c["stdin"]) for c in fakes.calls())
    assert "runtimeConfig" not in a
    assert pm["runtimeConfig"] == {"portMappings": [
        {"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"},
        {"hostPort": 53, "containerPort": 53, "protocol": "udp"}]}


def test_all_capabilities(fakes):
    fakes.plugin("a")
    fakes.conflist([{"type": "a", "capabilities": {k: True for k in
                                                   ("portMappings", "bandwidth", "dns", "ips",
                                                    "mac")}}])
    setup(fakes.manager(), bandwidth=cni.bandwidth_from_annotations(
        {"kubernetes.io/ingress-bandwidth": "10M", "kubernetes.io/egress-bandwidth": "1Mi"}),
          dns={"servers": ["1.1.1.1"]}, ips=["10.251.0.7/24"], mac="02:00:00:00:00:01")
    (c,) = fakes.calls()
    rc = json.loads(c["stdin"])["runtimeConfig"]
    assert rc == {"bandwidth": {"ingressRate": 10_000_000, "ingressBurst": 2**32 - 1,
                                "egressRate": 1048576, "egressBurst": 2**32 - 1},
                  "dns": {"servers": ["1.1.1.1"]}, "ips": ["10.251.0.7/24"],
                  "mac": "02:00:00:00:00:01"}


@pytest.mark.parametrize("ann,error", [
    ({}, None), ({"kubernetes.io/ingress-bandwidth": "500"}, "unreasonably small"),
    ({"kubernetes.io/egress-bandwidth": "2P"}, "unreasonably large"),
    ({"kubernetes.io/egress-bandwidth": "fast"}, "invalid"),
])
def test_bandwidth_annotations(ann, error):
    if error is None:
        assert cni.bandwidth_from_annotations(ann) is None
    else:
        with pytest.raises(CNIError, match=error):
            cni.bandwidth_from_annotations(ann)


def test_plugin_error_surfaces_code_and_message_and_rolls_back(fakes):
    fakes.plugin("a")
    fakes.plugin("bad", "error")
    fakes.conflist([{"type": "a"}, {"type": "bad"}])
    with pytest.raises(CNIError) as ei:
        setup(fakes.manager())
    e = ei.value
    assert (e.code, e.msg, e.details, e.plugin) == (11, "bridge busy", "try later", "bad")
    assert "bridge busy" in str(e)
    cmds = [(c["plugin"], c["cmd"]) for c in fakes.calls()]
    assert cmds == [("a", "ADD"), ("bad", "ADD"), ("bad", "DEL"), ("a", "DEL")]
    assert fakes.manager().cached_attachments() == []


@pytest.mark.parametrize("mode,match", [
    ("garbage", "not valid JSON"), ("stderr", "panic: something broke"),
    ("badresult", "malformed ips"), ("noversion", "no cniVersion"),
    ("array", "not a JSON object"), ("empty", "no result")])
def test_bad_plugin_output_is_an_error(fakes, mode, match):
    fakes.plugin("a", mode)
    fakes.conflist([{"type": "a"}])
    with pytest.raises(CNIError, match=match) as ei:
        setup(fakes.manager())
    assert ei.value.code == cni.ERR_RUNTIME


def test_timeout_kills_the_plugin(fakes):
    fakes.plugin("a", "sleep")
    fakes.conflist([{"type": "a"}])
    t0 = time.monotonic()
    with pytest.raises(CNIError, match="timed out after 0.5s"):
        setup(fakes.manager(timeout=0.5))
    assert time.monotonic() - t0 < 10
    pid = int(Path(str(fakes.log) + ".pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_missing_plugin(fakes):
    fakes.conflist([{"type": "nope"}])
    with pytest.raises(CNIError, match="failed to find plugin 'nope'"):
        setup(fakes.manager())


def test_result_converted_to_list_version(fakes):
    fakes.plugin("a", "oldver")
    fakes.conflist([{"type": "a"}], version="1.0.0")
    res = setup(fakes.manager())
    assert res.raw["cniVersion"] == "1.0.0" and "version" not in res.raw["ips"][0]
    assert res.ips == ("10.251.0.9",)


@pytest.mark.parametrize("version,check,status,gc", [
    ("0.3.1", False, False, False), ("0.4.0", True, False, False),
    ("1.0.0", True, False, False), ("1.1.0", True, True, True)])
def test_version_gates(fakes, version, check, status, gc):
    fakes.plugin("a")
    fakes.conflist([{"type": "a"}], version=version)
    m = fakes.manager()
    setup(m)
    fakes.calls()
    m.check("sb1", "/var/run/netns/x")
    m.status()
    assert m.gc(["other"]) == []
    cmds = [c["cmd"] for c in fakes.calls()]
    expected = (["CHECK"] if check else []) + (["STATUS"] if status else []) + ["DEL"] + \
        (["GC"] if gc else [])
    assert cmds == expected


def test_gc_deletes_stale_and_passes_valid_attachments(fakes):
    fakes.plugin("a")
    fakes.conflist([{"type": "a"}])
    m = fakes.manager()
    setup(m, "keep")
    setup(m, "stale")
    fakes.calls()
    assert m.gc(["keep"]) == []
    calls = fakes.calls()
    assert [(c["cmd"], c["env"].get("CNI_CONTAINERID")) for c in calls] == \
        [("DEL", "stale"), ("GC", None)]
    assert json.loads(calls[1]["stdin"])["cni.dev/valid-attachments"] == \
        [{"containerID": "keep", "ifname": "eth0"}]
    assert [a.container_id for a in m.cached_attachments()] == ["keep"]


def test_disable_check_and_gc(fakes):
    fakes.plugin("a")
    fakes.conflist([{"type": "a"}], disableCheck=True, disableGC=True)
    m = fakes.manager()
    setup(m)
    fakes.calls()
    m.check("sb1", "x")
    m.gc([])
    assert fakes.calls() == []


def test_check_needs_a_cached_result(fakes):
    fakes.plugin("a")
    fakes.conflist([{"type": "a"}])
    with pytest.raises(CNIError, match="no cached result"):
        fakes.manager().check("unknown", "/x")


def test_status_error(fakes):
    fakes.plugin("a", "error")
    fakes.conflist([{"type": "a"}])
    with pytest.raises(CNIError) as ei:
        fakes.manager().status()
    assert ei.value.code == 11


def test_versions(fakes):
    fakes.plugin("a")
    fakes.conflist([{"type": "a"}])
    assert fakes.manager().versions()["a"]["supportedVersions"][-1] == "1.1.0"


# ---- config loading ------------------------------------------------------------------------


def test_first_file_by_name_and_conf_wrapped(tmp_path):
    (tmp_path / "20-b.conflist").write_text(json.dumps(
        {"cniVersion": "1.0.0", "name": "b", "plugins": [{"type": "x"}]}))
    (tmp_path / "10-a.conf").write_text(json.dumps(
        {"cniVersion": "0.4.0", "name": "a", "type": "bridge", "bridge": "br0"}))
    (tmp_path / "05-ignored.txt").write_text("{}")
    (tmp_path / "00-broken.json").write_text("{not json")
    conf = cni.load_conf_list(tmp_path)
    assert conf.name == "a" and conf.cni_version == "0.4.0"
    assert conf.plugins == ({"cniVersion": "0.4.0", "name": "a", "type": "bridge",
                             "bridge": "br0"},)
    assert cni.load_conf_list(tmp_path, "b").plugins == ({"type": "x"},)


@pytest.mark.parametrize("doc,match", [
    ("[]", "not a JSON object"), ('{"name": "x"}', "no plugins and no type"),
    ('{"name": "x", "plugins": []}', "empty plugins"),
    ('{"plugins": [{"type": "a"}]}', "no network name"),
    ('{"name": "x", "plugins": [{}]}', "has no type"),
    ('{"name": "x", "plugins": [{"type": "../a"}]}', "file name"),
    ('{"name": "x", "cniVersion": "one", "plugins": [{"type": "a"}]}', "invalid cniVersion"),
])
def test_invalid_configs(doc, match):
    with pytest.raises(CNIError, match=match):
        cni.parse_conf_list(doc)


def test_no_config(tmp_path):
    with pytest.raises(CNIError, match="no valid network config"):
        cni.load_conf_list(tmp_path / "missing")


def test_port_mappings_from_containers():
    from podrun.spec.types import Container, ContainerPort
    c = Container(name="c", ports=(ContainerPort(container_port=80, host_port=8080),
                                   ContainerPort(container_port=53, protocol="UDP"),
                                   ContainerPort(container_port=443, host_port=8443,
                                                 protocol="TCP", host_ip="127.0.0.1")))
    assert cni.port_mappings_from_containers([c]) == [
        PortMapping(8080, 80, "tcp", ""), PortMapping(8443, 443, "tcp", "127.0.0.1")]
