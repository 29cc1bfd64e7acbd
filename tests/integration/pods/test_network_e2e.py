"""Pod networking end to end through the CLI (issue 8, BEHAVIOR.md 10.1-10.3): traffic only
inside the fixture's private bridge and /24 and on the host's loopback (hostPort).
"""

from __future__ import annotations

import ipaddress
import json
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.pods.conftest import IMAGE, PodDaemon

pytestmark = pytest.mark.privileged

WEB = ("mkdir -p /www; echo hello-from-$(hostname) > /www/index.html; "
       "exec httpd -f -p {port} -h /www")


def manifest(name: str, containers: list[tuple[str, str, str]], extra: str = "") -> str:
    text = (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n"
            f"  terminationGracePeriodSeconds: 1\n{extra}  containers:\n")
    for cname, script, more in containers:
        text += (f"  - name: {cname}\n    image: {IMAGE}\n"
                 f"    command: [\"sh\", \"-c\", {json.dumps(script)}]\n{more}")
    return text


def network(pods: PodDaemon) -> dict[str, Any]:
    conf = json.loads((pods.base / "cni-conf/10-test.conflist").read_text())
    plugin = conf["plugins"][0]
    return {"bridge": plugin["bridge"], "subnet": plugin["ipam"]["subnet"],
            "ipam": Path(plugin["ipam"]["dataDir"])}


def default_route_dev() -> str:
    for line in Path("/proc/net/route").read_text().splitlines()[1:]:
        f = line.split()
        if f[1] == "00000000":
            return f"{f[0]}:"
    return "lo:"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 3.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - test URL
        return str(r.read().decode())


def wait_http(pods: PodDaemon, url: str) -> str:
    def get() -> str:
        try:
            return http_get(url, timeout=1.0)
        except OSError:
            return ""
    return str(pods.wait_for(get, timeout=15))


def veths(bridge: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True,
                         text=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def leases(ipam: Path) -> list[str]:
    out = []
    for p in ipam.rglob("*") if ipam.exists() else []:
        try:
            ipaddress.ip_address(p.name)
            out.append(str(p))
        except ValueError:
            pass
    return out


def test_pod_to_pod_host_to_pod_and_host_port(pods: PodDaemon) -> None:
    hp = free_port()
    pods.apply(manifest("web", [("httpd", WEB.format(port=8080),
                                 f"    ports:\n    - containerPort: 8080\n      hostPort: {hp}\n")]))
    pods.apply(manifest("client", [("c", "sleep 1000", "")]))
    st = pods.wait_phase("web", "Running")
    pods.wait_phase("client", "Running")
    ip = st["podIP"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(network(pods)["subnet"])
    assert st["podIPs"] == [{"ip": ip}]
    # host -> pod over the private bridge
    assert wait_http(pods, f"http://{ip}:8080/") == "hello-from-web\n"
    # pod -> pod over the pod IPs
    r = pods.cli("exec", "client", "--", "wget", "-qO-", f"http://{ip}:8080/")
    assert (r.returncode, r.stdout) == (0, "hello-from-web\n"), r.stderr
    # hostPort from the host's loopback
    assert wait_http(pods, f"http://127.0.0.1:{hp}/") == "hello-from-web\n"
    wide = pods.cli("get", "pods", "-o", "wide").stdout
    assert ip in wide and "testnode" in wide, wide


def test_two_containers_of_a_pod_talk_over_localhost(pods: PodDaemon) -> None:
    pods.apply(manifest("duo", [
        ("server", WEB.format(port=8081), ""),
        ("client", "while ! wget -qO- http://127.0.0.1:8081/ > /tmp/got; do sleep 0.2; done; "
                   "cat /tmp/got; sleep 1000", "")]))
    pods.wait_phase("duo", "Running")
    assert pods.wait_for(lambda: pods.cli("logs", "duo", "-c", "client").stdout
                         == "hello-from-duo\n", timeout=15)


def test_host_network_pod_shares_the_host_network(pods: PodDaemon) -> None:
    pods.apply(manifest("hostnet", [("c", "cat /etc/hosts; sleep 1000", "")],
                        extra="  hostNetwork: true\n  hostAliases:\n  - ip: 123.45.67.89\n"
                              "    hostnames: [foo, bar]\n"))
    st = pods.wait_phase("hostnet", "Running")
    assert st["podIP"] == st["hostIP"], st
    r = pods.cli("exec", "hostnet", "--", "cat", "/proc/net/route")
    assert r.returncode == 0, r.stderr
    assert r.stdout == Path("/proc/net/route").read_text()  # the host's routes
    r = pods.cli("exec", "hostnet", "--", "ip", "-o", "link", "show")
    assert default_route_dev() in r.stdout, r.stdout  # and its interfaces
    assert pods.cli("exec", "hostnet", "--", "hostname").stdout.strip() == socket.gethostname()
    hosts = pods.wait_for(lambda: pods.cli("logs", "hostnet").stdout)
    assert hosts.startswith("# Kubernetes-managed hosts file (host network).\n"), hosts
    assert Path("/etc/hosts").read_text() in hosts
    assert hosts.endswith("\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n"), hosts


def test_etc_hosts_hostname_and_subdomain(pods: PodDaemon) -> None:
    pods.apply(manifest("named", [("c", "sleep 1000", "")],
                        extra="  hostname: myhost\n  subdomain: sub\n  hostAliases:\n"
                              "  - ip: 123.45.67.89\n    hostnames: [foo, bar]\n"
                              "  - ip: 10.9.8.7\n    hostnames: [baz]\n"))
    ip = pods.wait_phase("named", "Running")["podIP"]
    hosts = pods.cli("exec", "named", "--", "cat", "/etc/hosts").stdout
    assert hosts == ("# Kubernetes-managed hosts file.\n"
                     "127.0.0.1\tlocalhost\n"
                     "::1\tlocalhost ip6-localhost ip6-loopback\n"
                     "fe00::0\tip6-localnet\n"
                     "fe00::0\tip6-mcastprefix\n"
                     "fe00::1\tip6-allnodes\n"
                     "fe00::2\tip6-allrouters\n"
                     f"{ip}\tmyhost.sub.default.svc.cluster.local\tmyhost\n"
                     "\n# Entries added by HostAliases.\n"
                     "123.45.67.89\tfoo\tbar\n"
                     "10.9.8.7\tbaz\n"), hosts
    assert pods.cli("exec", "named", "--", "cat", "/etc/hostname").stdout == "myhost\n"
    assert pods.cli("exec", "named", "--", "hostname").stdout == "myhost\n"
    r = pods.cli("exec", "named", "--", "sh", "-c", "echo $HOSTNAME")
    assert r.stdout == "myhost\n"
    # without spec.hostname: the pod's name
    pods.apply(manifest("plain-name", [("c", "sleep 1000", "")]))
    ip = pods.wait_phase("plain-name", "Running")["podIP"]
    hosts = pods.cli("exec", "plain-name", "--", "cat", "/etc/hosts").stdout
    assert hosts.endswith(f"\n{ip}\tplain-name\n"), hosts
    assert pods.cli("exec", "plain-name", "--", "hostname").stdout == "plain-name\n"


def host_resolv() -> tuple[list[str], list[str]]:
    servers, search = [], []
    for line in Path("/etc/resolv.conf").read_text().splitlines():
        f = line.split()
        if f and f[0] == "nameserver":
            servers.append(f[1])
        elif f and f[0] == "search":
            search = f[1:]
    return servers, search


def test_resolv_conf_per_dns_policy(pods: PodDaemon) -> None:
    pods.apply(manifest("dns-none", [("c", "sleep 1000", "")], extra="""  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.53, 192.0.2.54]
    searches: [one.example, two.example]
    options:
    - name: ndots
      value: "2"
    - name: edns0
"""))
    pods.apply(manifest("dns-default", [("c", "sleep 1000", "")],
                        extra="  dnsPolicy: Default\n"))
    pods.apply(manifest("dns-cluster-first", [("c", "sleep 1000", "")]))
    for n in ("dns-none", "dns-default", "dns-cluster-first"):
        pods.wait_phase(n, "Running")
    none = pods.cli("exec", "dns-none", "--", "cat", "/etc/resolv.conf").stdout
    lines = none.splitlines()
    assert lines[:3] == ["search one.example two.example", "nameserver 192.0.2.53",
                         "nameserver 192.0.2.54"], none
    assert lines[3].startswith("options ") and sorted(lines[3].split()[1:]) == \
        ["edns0", "ndots:2"], none
    assert len(lines) == 4, none
    servers, search = host_resolv()
    for n in ("dns-default", "dns-cluster-first"):
        text = pods.cli("exec", n, "--", "cat", "/etc/resolv.conf").stdout
        got = [line.split()[1] for line in text.splitlines() if line.startswith("nameserver")]
        assert got == servers[:3], (n, text)
        if search:
            assert f"search {' '.join(search)}" in text, text
    # ClusterFirst without clusterDNS falls back to Default and says so
    text = pods.cli("describe", "pod", "dns-cluster-first").stdout
    assert "MissingClusterDNS" in text and 'Falling back to "Default" policy' in text, text
    assert "MissingClusterDNS" not in pods.cli("describe", "pod", "dns-default").stdout


def test_delete_after_daemon_sigkill_leaves_no_veth_or_lease(pods: PodDaemon) -> None:
    net = network(pods)
    pods.apply(manifest("survivor", [("c", "sleep 1000", "")]))
    pods.apply(manifest("survivor2", [("c", "sleep 1000", "")]))
    ip = pods.wait_phase("survivor", "Running")["podIP"]
    pods.wait_phase("survivor2", "Running")
    assert len(veths(net["bridge"])) == 2
    assert len(leases(net["ipam"])) == 2, leases(net["ipam"])
    pods.stop(signal.SIGKILL)
    time.sleep(1)
    assert wait_http_free(ip)  # the pod still has its address while no daemon runs
    pods.start()
    assert pods.status("survivor")["podIP"] == ip
    r = pods.cli("delete", "pod", "survivor", "survivor2", "--wait", timeout=60)
    assert r.returncode == 0, r.stderr
    assert pods.wait_for(lambda: not veths(net["bridge"]), timeout=10), veths(net["bridge"])
    assert leases(net["ipam"]) == []


def wait_http_free(ip: str) -> bool:
    """The pod answers ping-like TCP: a connection refused (no listener) proves the address
    is still there; a timeout would mean it is gone."""
    try:
        with socket.create_connection((ip, 9), timeout=2):
            return True
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def _live_pauses(pods: PodDaemon) -> int:
    """pause processes of this daemon's sandboxes that are still running."""
    n = 0
    for pidfile in pods.run_dir.glob("sandboxes/*/pause.pid"):
        try:
            stat = Path(f"/proc/{int(pidfile.read_text())}/stat").read_text()
        except (OSError, ValueError):
            continue
        n += stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    return n


def test_failing_network_setup_leaves_no_sandbox_per_retry(pods: PodDaemon) -> None:
    # A CNI plugin that cannot run: every sandbox attempt fails in ADD; each failed attempt
    # must be torn down whole (pause, pinned netns, mounts), not pile up per retry.
    pods.stop()
    conf = next((pods.base / "cni-conf").glob("*.conflist"))
    good = conf.read_text()
    broken = json.loads(good)
    broken["plugins"][0]["type"] = "podrun-no-such-plugin"
    conf.write_text(json.dumps(broken))
    pods.start()
    try:
        t0 = time.monotonic()
        pods.apply(manifest("netfail", [("c", "sleep 600", "")]))
        pods.wait_for(lambda: pods.cli("describe", "pod", "netfail").stdout
                      .count("failed to setup network") >= 3, timeout=60, interval=0.5)
        # retried after the kubelet's backOffPeriod (10 s), not in a busy loop
        assert time.monotonic() - t0 > 15
        assert pods.status("netfail")["phase"] == "Pending"
        assert _live_pauses(pods) <= 1, pods.cli("describe", "pod", "netfail").stdout
        mounts = [ln.split()[4] for ln in Path("/proc/self/mountinfo").read_text().splitlines()
                  if "/sandboxes/" in ln.split()[4] and str(pods.run_dir) in ln.split()[4]]
        # at most the attempt under way (its shm and pinned netns), none left from before
        assert len({m.split("/sandboxes/")[1].split("/")[0] for m in mounts}) <= 1, mounts
        failed = [e for e in json.loads(pods.cli("get", "events", "-o", "json").stdout)["items"]
                  if e["reason"] == "FailedCreatePodSandBox"]
        assert sum(e.get("count", 1) for e in failed) <= 4, failed
    finally:
        pods.cli("delete", "pod", "netfail", "--grace-period", "0", "--force")
        pods.stop()
        conf.write_text(good)
        pods.start()


SLOW_PLUGIN = '''#!/usr/bin/python3 -IS
"""A chained CNI plugin that passes prevResult through after {delay} s in ADD."""
import json, os, sys, time
conf = json.load(sys.stdin)
cmd = os.environ.get("CNI_COMMAND")
if cmd == "VERSION":
    print(json.dumps({{"cniVersion": "1.1.0", "supportedVersions": ["1.0.0", "1.1.0"]}}))
elif cmd == "ADD":
    open("{marker}", "a").write(os.environ.get("CNI_CONTAINERID", "") + "\\n")
    time.sleep({delay})
    print(json.dumps(conf["prevResult"]))
'''


def test_deletion_during_network_setup_waits_for_it_and_leaves_nothing(
        pods: PodDaemon) -> None:
    # A pod deleted while its sandbox's CNI ADD still runs (in a thread the deletion cannot
    # cancel): the teardown must come after the ADD, or the ADD's result outlives it (a
    # cached attachment, a lease, a sandbox a thread was still making). kubectl delete
    # returns once the pod is gone; nothing of it may be left then.
    from tests.integration.reliability.conftest import leak_kinds, run_doctor
    pods.stop()
    bindir = pods.base / "cni-bin"
    bindir.mkdir()
    marker = pods.base / "slow-add"
    plugin = bindir / "podrun-test-slow"
    plugin.write_text(SLOW_PLUGIN.format(delay=3, marker=marker))
    plugin.chmod(0o755)
    conf_path = next((pods.base / "cni-conf").glob("*.conflist"))
    good = conf_path.read_text()
    conf = json.loads(good)
    conf["plugins"].append({"type": "podrun-test-slow"})
    conf_path.write_text(json.dumps(conf))
    saved = pods.extra_args
    pods.extra_args = [*saved, "--cni-bin-dir", str(bindir)]
    net = network(pods)
    pods.start()
    try:
        pods.apply(manifest("slowadd", [("c", "sleep 600", "")]))
        pods.wait_for(marker.exists, timeout=30, interval=0.05)
        add_ends = time.monotonic() + 3
        assert _live_pauses(pods) == 1
        r = pods.cli("delete", "pod", "slowadd", "--grace-period", "0", "--force",
                     timeout=60)
        assert r.returncode == 0, r.stderr
        assert pods.pod("slowadd") is None
        # the pod is gone: so is everything it had, at once, and for good (an ADD that
        # ended after the teardown would leave its attachment behind)
        time.sleep(max(0.0, add_ends + 1 - time.monotonic()))
        assert _live_pauses(pods) == 0
        assert not list(pods.run_dir.glob("sandboxes/*"))
        assert veths(net["bridge"]) == []
        assert leases(net["ipam"]) == []
        _, doc = run_doctor(pods, "--min-age", "0")
        assert leak_kinds(doc) == {}, doc
    finally:
        pods.cli("delete", "pod", "slowadd", "--grace-period", "0", "--force")
        pods.stop()
        conf_path.write_text(good)
        pods.extra_args = saved
        pods.start()
