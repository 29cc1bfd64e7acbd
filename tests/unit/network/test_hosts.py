"""Tables for the kubelet's hostname, /etc/hosts and resolv.conf rules (BEHAVIOR.md 10.1-10.3)."""

from __future__ import annotations

import pytest

from podrun.network import hosts as h
from podrun.spec.types import HostAlias, PodDNSConfig, PodDNSConfigOption

NODE = "nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example lab.example\n" \
       "options timeout:2 attempts:3\n"

# ---- hostname ------------------------------------------------------------------------------

HOSTNAME_CASES = [
    # id, name, ns, hostname, subdomain, cluster domain, expected (hostname, domain)
    ("name", "web", "default", None, None, "cluster.local", ("web", "")),
    ("spec-hostname", "web", "default", "front", None, "cluster.local", ("front", "")),
    ("subdomain", "web", "prod", None, "svc1", "cluster.local",
     ("web", "svc1.prod.svc.cluster.local")),
    ("hostname+subdomain", "web", "prod", "h", "s", "example.org", ("h", "s.prod.svc.example.org")),
    ("63 kept", "a" * 63, "default", None, None, "cluster.local", ("a" * 63, "")),
    ("64 truncated", "a" * 64, "default", None, None, "cluster.local", ("a" * 63, "")),
    ("trailing dash trimmed", "a" * 62 + "-b", "default", None, None, "cluster.local",
     ("a" * 62, "")),
    ("trailing dot and dash", "a" * 61 + ".-x", "default", None, None, "cluster.local",
     ("a" * 61, "")),
    ("static pod name", "etcd-node1", "kube-system", None, None, "cluster.local",
     ("etcd-node1", "")),
]


@pytest.mark.parametrize("name,ns,hostname,sub,domain,expected", [c[1:] for c in HOSTNAME_CASES],
                         ids=[c[0] for c in HOSTNAME_CASES])
def test_hostname_and_domain(name, ns, hostname, sub, domain, expected):
    assert h.pod_hostname_and_domain(name, ns, hostname, sub, domain) == expected


@pytest.mark.parametrize("hostname,sub", [("Bad_Name", None), ("ok", "sub.dots"), ("-x", None)])
def test_invalid_labels(hostname, sub):
    with pytest.raises(h.HostnameError):
        h.pod_hostname_and_domain("p", "default", hostname, sub)


FQDN_CASES = [
    ("no fqdn", "web", "s.ns.svc.cluster.local", False, "web"),
    ("fqdn unset", "web", "s.ns.svc.cluster.local", None, "web"),
    ("fqdn", "web", "s.ns.svc.cluster.local", True, "web.s.ns.svc.cluster.local"),
    ("fqdn without domain", "web", "", True, "web"),
    ("fqdn exactly 64", "a" * 41, "s.ns.svc.cluster.local", True,
     "a" * 41 + ".s.ns.svc.cluster.local"),
]


@pytest.mark.parametrize("hn,domain,flag,expected", [c[1:] for c in FQDN_CASES],
                         ids=[c[0] for c in FQDN_CASES])
def test_kernel_hostname(hn, domain, flag, expected):
    assert h.kernel_hostname(hn, domain, flag) == expected


def test_fqdn_over_64_fails_like_the_kubelet():
    with pytest.raises(h.HostnameError, match=r"FQDN .* is too long \(64 characters is the max, "
                                              r"65 characters requested\)"):
        h.kernel_hostname("a" * 42, "s.ns.svc.cluster.local", True)


def test_hostname_file():
    assert h.hostname_file("web") == "web\n"


# ---- /etc/hosts ----------------------------------------------------------------------------

BASE = ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")

HOSTS_CASES = [
    ("plain", (["10.85.0.5"], "web", "", None), BASE + "10.85.0.5\tweb\n"),
    ("domain", (["10.85.0.5"], "web", "s.default.svc.cluster.local", None),
     BASE + "10.85.0.5\tweb.s.default.svc.cluster.local\tweb\n"),
    ("dual stack", (["10.85.0.5", "fd00::5"], "web", "", None),
     BASE + "10.85.0.5\tweb\nfd00::5\tweb\n"),
    ("aliases objects", (["10.85.0.5"], "web", "",
                         [HostAlias(ip="123.45.67.89", hostnames=("foo", "bar")),
                          HostAlias(ip="10.1.2.3", hostnames=("baz",))]),
     BASE + "10.85.0.5\tweb\n\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n"
            "10.1.2.3\tbaz\n"),
    ("aliases dicts", (["10.85.0.5"], "web", "", [{"ip": "1.2.3.4", "hostnames": ["a"]}]),
     BASE + "10.85.0.5\tweb\n\n# Entries added by HostAliases.\n1.2.3.4\ta\n"),
    ("empty aliases", (["10.85.0.5"], "web", "", []), BASE + "10.85.0.5\tweb\n"),
    ("no ip", ([], "web", "", None), BASE),
]


@pytest.mark.parametrize("args,expected", [c[1:] for c in HOSTS_CASES],
                         ids=[c[0] for c in HOSTS_CASES])
def test_managed_hosts(args, expected):
    assert h.managed_hosts_file(*args) == expected


def test_e2e_grep_line():
    text = h.managed_hosts_file(["10.85.0.5"], "web", "",
                                [HostAlias(ip="123.45.67.89", hostnames=("foo", "bar"))])
    assert "123.45.67.89\tfoo\tbar" in text


def test_host_network_hosts():
    node = "127.0.0.1 localhost\n192.0.2.2 node1\n"
    assert h.host_network_hosts_file(node) == \
        "# Kubernetes-managed hosts file (host network).\n" + node
    assert h.host_network_hosts_file(node, [("1.2.3.4", ["x"])]) == \
        "# Kubernetes-managed hosts file (host network).\n" + node + \
        "\n# Entries added by HostAliases.\n1.2.3.4\tx\n"


# ---- resolv.conf ---------------------------------------------------------------------------

PARSE_CASES = [
    ("basic", NODE, (("192.0.2.53", "192.0.2.54"), ("corp.example", "lab.example"),
                     ("timeout:2", "attempts:3"))),
    ("comments", "# x\n; y\nnameserver 1.1.1.1\n", (("1.1.1.1",), (), ())),
    ("last search wins", "search a b\nsearch c.\n", ((), ("c",), ())),
    ("dot search dropped", "search . a\n", ((), ("a",), ())),
    ("options merge by name", "options ndots:1 rotate\noptions ndots:3\n",
     ((), (), ("ndots:3", "rotate"))),
    ("nameserver without address", "nameserver\nnameserver 9.9.9.9\n", (("9.9.9.9",), (), ())),
    ("empty", "", ((), (), ())),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in PARSE_CASES],
                         ids=[c[0] for c in PARSE_CASES])
def test_parse_resolv_conf(text, expected):
    r = h.parse_resolv_conf(text)
    assert (r.nameservers, r.searches, r.options) == expected


MISSING = ("Warning", "MissingClusterDNS", h.MISSING_CLUSTER_DNS)
DNS_CASES = [
    # id, kwargs, expected file, expected events (type, reason)
    ("ClusterFirst no clusterDNS falls back", dict(dns_policy="ClusterFirst"),
     "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
     "options timeout:2 attempts:3\n", [MISSING]),
    ("default policy is ClusterFirst", dict(),
     "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
     "options timeout:2 attempts:3\n", [MISSING]),
    ("ClusterFirst with clusterDNS", dict(dns_policy="ClusterFirst", cluster_dns=["10.96.0.10"]),
     "search prod.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n"
     "nameserver 10.96.0.10\noptions ndots:5\n", []),
    ("ClusterFirst custom domain", dict(cluster_dns=["10.96.0.10"], cluster_domain="k.test"),
     "search prod.svc.k.test svc.k.test k.test corp.example lab.example\n"
     "nameserver 10.96.0.10\noptions ndots:5\n", []),
    ("ClusterFirst dedupes host search",
     dict(cluster_dns=["10.96.0.10"], node_resolv_conf="search cluster.local x\n"),
     "search prod.svc.cluster.local svc.cluster.local cluster.local x\n"
     "nameserver 10.96.0.10\noptions ndots:5\n", []),
    ("ClusterFirst on hostNetwork is Default",
     dict(dns_policy="ClusterFirst", host_network=True, cluster_dns=["10.96.0.10"]),
     "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
     "options timeout:2 attempts:3\n", []),
    ("ClusterFirstWithHostNet", dict(dns_policy="ClusterFirstWithHostNet", host_network=True,
                                     cluster_dns=["10.96.0.10"]),
     "search prod.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n"
     "nameserver 10.96.0.10\noptions ndots:5\n", []),
    ("ClusterFirstWithHostNet without clusterDNS",
     dict(dns_policy="ClusterFirstWithHostNet", host_network=True),
     "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
     "options timeout:2 attempts:3\n", [MISSING]),
    ("Default", dict(dns_policy="Default", cluster_dns=["10.96.0.10"]),
     "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
     "options timeout:2 attempts:3\n", []),
    ("Default with empty resolvConf", dict(dns_policy="Default", node_resolv_conf=None),
     "search .\nnameserver 127.0.0.1\n", []),
    ("None with dnsConfig", dict(dns_policy="None", dns_config=PodDNSConfig(
        nameservers=("1.2.3.4",), searches=("ns1.svc.cluster-domain.example",),
        options=(PodDNSConfigOption(name="ndots", value="2"), PodDNSConfigOption(name="edns0")))),
     "search ns1.svc.cluster-domain.example\nnameserver 1.2.3.4\noptions ndots:2 edns0\n", []),
    ("None dict dnsConfig", dict(dns_policy="None", dns_config={"nameservers": ["1.2.3.4"]}),
     "nameserver 1.2.3.4\n", []),
    ("None without dnsConfig is empty", dict(dns_policy="None"), "", []),
    ("dnsConfig merged and deduped", dict(dns_policy="Default", dns_config={
        "nameservers": ["192.0.2.53", "192.0.2.99"], "searches": ["lab.example", "new.example"],
        "options": [{"name": "timeout", "value": "5"}, {"name": "rotate"}]}),
     "search corp.example lab.example new.example\nnameserver 192.0.2.53\n"
     "nameserver 192.0.2.54\nnameserver 192.0.2.99\noptions timeout:5 attempts:3 rotate\n", []),
    ("dnsConfig with ClusterFirst ndots override",
     dict(cluster_dns=["10.96.0.10"], dns_config={"options": [{"name": "ndots", "value": "1"}]}),
     "search prod.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n"
     "nameserver 10.96.0.10\noptions ndots:1\n", []),
    ("nameserver limit", dict(dns_policy="None", dns_config={
        "nameservers": ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"]}),
     "nameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\n",
     [("Warning", "DNSConfigForming", "Nameserver limits were exceeded, some nameservers have "
       "been omitted, the applied nameserver line is: 1.1.1.1 2.2.2.2 3.3.3.3")]),
    ("search count limit", dict(dns_policy="None", dns_config={
        "nameservers": ["1.1.1.1"], "searches": [f"d{i}.example" for i in range(34)]}),
     "search " + " ".join(f"d{i}.example" for i in range(32)) + "\nnameserver 1.1.1.1\n",
     [("Warning", "DNSConfigForming", "Search Line limits were exceeded, some search paths have "
       "been omitted, the applied search line is: " +
       " ".join(f"d{i}.example" for i in range(32)))]),
]


@pytest.mark.parametrize("kwargs,expected,events", [c[1:] for c in DNS_CASES],
                         ids=[c[0] for c in DNS_CASES])
def test_resolv_conf(kwargs, expected, events):
    kwargs.setdefault("node_resolv_conf", NODE)
    text, got = h.resolv_conf_file("prod", **kwargs)
    assert text == expected
    assert [(e.type, e.reason, e.message) for e in got] == events


def test_search_char_limit_cuts_from_the_end():
    names = [("x" * 200) + f".d{i}" for i in range(12)]  # 12 * 204 + 11 > 2048
    conf, events = h.pod_dns("ns", dns_policy="None",
                             dns_config={"nameservers": ["1.1.1.1"], "searches": names})
    assert len(" ".join(conf.searches)) <= h.MAX_DNS_SEARCH_LIST_CHARS
    assert list(conf.searches) == names[:len(conf.searches)] and len(conf.searches) == 10
    assert [e.reason for e in events] == ["DNSConfigForming"]


def test_overlong_search_domain_dropped():
    conf, events = h.pod_dns("ns", dns_policy="None", dns_config={
        "nameservers": ["1.1.1.1"], "searches": ["a" * 254, "ok.example"]})
    assert conf.searches == ("ok.example",)
    assert events[0].message.endswith("the applied search line is: ok.example")


@pytest.mark.parametrize("text,upstream,expected", [
    ("nameserver 127.0.0.53\noptions edns0\n", True, "/run/systemd/resolve/resolv.conf"),
    ("nameserver 127.0.0.53\n", False, "/etc/resolv.conf"),
    ("nameserver 10.0.0.1\nnameserver 127.0.0.53\n", True, "/etc/resolv.conf"),
    ("nameserver 192.0.2.53\n", True, "/etc/resolv.conf"),
])
def test_choose_resolver_file(text, upstream, expected):
    assert h.choose_resolver_file(text, upstream) == expected
