"""The files the kubelet gives every container: /etc/hosts, /etc/hostname, /etc/resolv.conf.

Pure: callers pass the node's files as text and get back (content, events). The rules and
messages are the kubelet's (pkg/kubelet/kubelet_pods.go, pkg/kubelet/network/dns/dns.go) and
containerd's resolv.conf writer; docs/network.md lists where podrun differs and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MANAGED_HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
MANAGED_HOSTS_HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n"
HOSTNAME_MAX_LEN = 63
FQDN_MAX_LEN = 64  # the kernel's nodename field
MAX_DNS_NAMESERVERS = 3
MAX_DNS_SEARCH_PATHS = 32
MAX_DNS_SEARCH_LIST_CHARS = 2048
DNS1123_SUBDOMAIN_MAX_LEN = 253
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
DEFAULT_DNS_OPTIONS = ("ndots:5",)

DNS_CLUSTER_FIRST = "ClusterFirst"
DNS_CLUSTER_FIRST_WITH_HOST_NET = "ClusterFirstWithHostNet"
DNS_DEFAULT = "Default"
DNS_NONE = "None"

MISSING_CLUSTER_DNS = (
    'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" '
    'policy. Falling back to "Default" policy.')

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Event:
    """A pod event to record: type (Normal/Warning), reason, message."""

    type: str
    reason: str
    message: str


class HostnameError(ValueError):
    """The sandbox cannot be created with this hostname (the kubelet fails the sandbox)."""


# ---- hostname ------------------------------------------------------------------------------


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS1123_LABEL.match(value))


def truncate_hostname(hostname: str) -> str:
    """Cap at 63 characters, then drop a trailing '-' or '.' (truncatePodHostnameIfNeeded)."""
    if len(hostname) <= HOSTNAME_MAX_LEN:
        return hostname
    truncated = hostname[:HOSTNAME_MAX_LEN].rstrip("-.")
    if not truncated:
        raise HostnameError(f"hostname for pod was invalid: {hostname!r}")
    return truncated


def pod_hostname_and_domain(pod_name: str, namespace: str, hostname: str | None = None,
                            subdomain: str | None = None,
                            cluster_domain: str = DEFAULT_CLUSTER_DOMAIN) -> tuple[str, str]:
    """(hostname, domain) as GeneratePodHostNameAndDomain computes them; domain may be ""."""
    name = pod_name
    if hostname:
        if not is_dns1123_label(hostname):
            raise HostnameError(f"pod Hostname {hostname!r} is not a valid DNS label")
        name = hostname
    name = truncate_hostname(name)
    domain = ""
    if subdomain:
        if not is_dns1123_label(subdomain):
            raise HostnameError(f"pod Subdomain {subdomain!r} is not a valid DNS label")
        domain = f"{subdomain}.{namespace}.svc.{cluster_domain}"
    return name, domain


def kernel_hostname(hostname: str, domain: str, set_hostname_as_fqdn: bool | None) -> str:
    """The UTS hostname: `<hostname>.<domain>` with setHostnameAsFQDN (at most 64 chars)."""
    if domain and set_hostname_as_fqdn:
        fqdn = f"{hostname}.{domain}"
        if len(fqdn) > FQDN_MAX_LEN:
            raise HostnameError(
                f"failed to construct FQDN from pod hostname and cluster domain, FQDN {fqdn} "
                f"is too long ({FQDN_MAX_LEN} characters is the max, {len(fqdn)} characters "
                f"requested)")
        return fqdn
    return hostname


def hostname_file(hostname: str) -> str:
    """/etc/hostname as containerd writes it."""
    return hostname + "\n"


# ---- /etc/hosts ----------------------------------------------------------------------------


def _alias_fields(alias: Any) -> tuple[str, Sequence[str]]:
    if isinstance(alias, dict):
        return alias.get("ip") or "", alias.get("hostnames") or ()
    if isinstance(alias, tuple | list):
        return alias[0], alias[1]
    return alias.ip or "", alias.hostnames or ()


def host_aliases_section(host_aliases: Iterable[Any] | None) -> str:
    """hostsEntriesFromHostAliases: blank line, comment, `<ip>\\t<h1>\\t<h2>` per alias.
    Aliases may be spec HostAlias objects, {"ip", "hostnames"} dicts or (ip, names) pairs."""
    aliases = list(host_aliases or ())
    if not aliases:
        return ""
    out = ["\n", "# Entries added by HostAliases.\n"]
    for alias in aliases:
        ip, names = _alias_fields(alias)
        out.append(f"{ip}\t" + "\t".join(names) + "\n")
    return "".join(out)


def managed_hosts_file(pod_ips: Sequence[str], hostname: str, domain: str = "",
                       host_aliases: Iterable[Any] | None = None) -> str:
    """The kubelet's /etc/hosts for a pod with its own network namespace."""
    out = [MANAGED_HOSTS_HEADER,
           "127.0.0.1\tlocalhost\n",
           "::1\tlocalhost ip6-localhost ip6-loopback\n",
           "fe00::0\tip6-localnet\n",
           "fe00::0\tip6-mcastprefix\n",
           "fe00::1\tip6-allnodes\n",
           "fe00::2\tip6-allrouters\n"]
    for ip in pod_ips:
        if domain:
            out.append(f"{ip}\t{hostname}.{domain}\t{hostname}\n")
        else:
            out.append(f"{ip}\t{hostname}\n")
    out.append(host_aliases_section(host_aliases))
    return "".join(out)


def host_network_hosts_file(node_hosts: str, host_aliases: Iterable[Any] | None = None) -> str:
    """A hostNetwork pod's /etc/hosts: the header, the node's file verbatim, the aliases."""
    return MANAGED_HOSTS_HEADER_HOST_NETWORK + node_hosts + host_aliases_section(host_aliases)


# ---- resolv.conf ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    def render(self) -> str:
        """containerd's writer: each line only when non-empty."""
        out = ""
        if self.searches:
            out += "search " + " ".join(self.searches) + "\n"
        for ns in self.nameservers:
            out += f"nameserver {ns}\n"
        if self.options:
            out += "options " + " ".join(self.options) + "\n"
        return out


def _opt_name(option: str) -> str:
    return option.split(":", 1)[0]


def _append_options(options: list[str], new: Iterable[str]) -> list[str]:
    """Later options with the same name replace earlier ones (kubelet appendOptions); podrun
    keeps first-seen order where the kubelet's map makes it random."""
    by_name: dict[str, str] = {_opt_name(o): o for o in options}
    for o in new:
        by_name[_opt_name(o)] = o
    return list(by_name.values())


def parse_resolv_conf(text: str) -> ResolvConf:
    """nameserver lines accumulate; the last search line wins; options merge by name."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.split("\n"):
        trimmed = line.strip()
        if trimmed.startswith("#") or trimmed.startswith(";"):
            continue
        fields = trimmed.split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) >= 2:
            nameservers.append(fields[1])
        elif fields[0] == "search":
            searches = [s.removesuffix(".") for s in fields[1:] if s != "."]
        elif fields[0] == "options":
            options = _append_options(options, fields[1:])
    return ResolvConf(tuple(nameservers), tuple(searches), tuple(options))


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for i in items:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def _merge_pod_options(existing: Sequence[str], pod_options: Iterable[Any]) -> list[str]:
    by_name: dict[str, str] = {}
    for existing_op in existing:
        name, _, text = existing_op.partition(":")
        by_name[name] = text
    for op in pod_options:
        value: Any
        if isinstance(op, dict):
            name, value = op.get("name") or "", op.get("value")
        elif isinstance(op, tuple | list):
            name, value = op[0], op[1]
        else:
            name, value = op.name or "", op.value
        by_name[name] = value or ""
    return [f"{k}:{v}" if v else k for k, v in by_name.items()]


def _fit_nameservers(servers: list[str], events: list[Event]) -> list[str]:
    if len(servers) > MAX_DNS_NAMESERVERS:
        servers = servers[:MAX_DNS_NAMESERVERS]
        events.append(Event("Warning", "DNSConfigForming",
                            "Nameserver limits were exceeded, some nameservers have been "
                            "omitted, the applied nameserver line is: " + " ".join(servers)))
    return servers


def _fit_searches(searches: list[str], events: list[Event]) -> list[str]:
    exceeded = False
    if len(searches) > MAX_DNS_SEARCH_PATHS:
        searches = searches[:MAX_DNS_SEARCH_PATHS]
        exceeded = True
    kept = [s for s in searches if len(s) <= DNS1123_SUBDOMAIN_MAX_LEN]
    if len(kept) != len(searches):
        exceeded = True
    searches = kept
    line_len = len(" ".join(searches))
    if line_len > MAX_DNS_SEARCH_LIST_CHARS:
        cut_num = cut_len = 0
        for s in reversed(searches):
            cut_len += len(s) + 1
            cut_num += 1
            if line_len - cut_len <= MAX_DNS_SEARCH_LIST_CHARS:
                break
        searches = searches[:len(searches) - cut_num]
        exceeded = True
    if exceeded:
        events.append(Event("Warning", "DNSConfigForming",
                            "Search Line limits were exceeded, some search paths have been "
                            "omitted, the applied search line is: " + " ".join(searches)))
    return searches


def pod_dns_type(dns_policy: str | None, host_network: bool) -> str:
    """Which base a policy uses: "none", "cluster" or "host" (getPodDNSType)."""
    policy = dns_policy or DNS_CLUSTER_FIRST
    if policy == DNS_NONE:
        return "none"
    if policy == DNS_CLUSTER_FIRST_WITH_HOST_NET:
        return "cluster"
    if policy == DNS_CLUSTER_FIRST:
        return "host" if host_network else "cluster"
    if policy == DNS_DEFAULT:
        return "host"
    return "cluster"  # the kubelet falls back to ClusterFirst for an unknown policy


def pod_dns(namespace: str, *, dns_policy: str | None = None, host_network: bool = False,
            dns_config: Any = None, node_resolv_conf: str | None = "",
            cluster_dns: Sequence[str] = (), cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
            ) -> tuple[ResolvConf, list[Event]]:
    """GetPodDNS: the pod's servers, searches and options, and the events to record.

    node_resolv_conf is the text of the node's resolver file (--resolv-conf / resolvConf);
    None means "resolvConf is empty", where the kubelet points pods at 127.0.0.1.
    dns_config is spec.dnsConfig (PodDNSConfig, a dict with the API's keys, or None)."""
    events: list[Event] = []
    host = parse_resolv_conf(node_resolv_conf) if node_resolv_conf else ResolvConf()
    servers, searches, options = list(host.nameservers), list(host.searches), list(host.options)
    kind = pod_dns_type(dns_policy, host_network)
    if kind == "none":
        servers, searches, options = [], [], []
    elif kind == "cluster" and cluster_dns:
        servers = list(cluster_dns)
        if cluster_domain:
            searches = _dedupe([f"{namespace}.svc.{cluster_domain}", f"svc.{cluster_domain}",
                                cluster_domain, *searches])
        options = list(DEFAULT_DNS_OPTIONS)
    else:
        if kind == "cluster":
            events.append(Event("Warning", "MissingClusterDNS", MISSING_CLUSTER_DNS))
        if node_resolv_conf is None:
            servers, searches = ["127.0.0.1"], ["."]
    if dns_config is not None:
        if isinstance(dns_config, dict):
            d_ns = dns_config.get("nameservers") or ()
            d_search = dns_config.get("searches") or ()
            d_opts = dns_config.get("options") or ()
        else:
            d_ns = dns_config.nameservers or ()
            d_search = dns_config.searches or ()
            d_opts = dns_config.options or ()
        servers = _dedupe([*servers, *d_ns])
        searches = _dedupe([*searches, *d_search])
        options = _merge_pod_options(options, d_opts)
    servers = _fit_nameservers(servers, events)
    searches = _fit_searches(searches, events)
    return ResolvConf(tuple(servers), tuple(searches), tuple(options)), events


def resolv_conf_file(namespace: str, **kwargs: Any) -> tuple[str, list[Event]]:
    """pod_dns rendered as the file containerd mounts at /etc/resolv.conf."""
    conf, events = pod_dns(namespace, **kwargs)
    return conf.render(), events


SYSTEMD_RESOLVED_STUB = "127.0.0.53"
SYSTEMD_RESOLVED_UPSTREAM = "/run/systemd/resolve/resolv.conf"


def choose_resolver_file(etc_resolv_conf: str, upstream_exists: bool) -> str:
    """Which node file feeds dnsPolicy Default when the config names none (kubeadm's rule):
    /etc/resolv.conf, unless its only nameserver is systemd-resolved's 127.0.0.53 stub, which
    a pod's network namespace cannot reach; then resolved's upstream list."""
    servers = parse_resolv_conf(etc_resolv_conf).nameservers
    if upstream_exists and servers and all(s == SYSTEMD_RESOLVED_STUB for s in servers):
        return SYSTEMD_RESOLVED_UPSTREAM
    return "/etc/resolv.conf"
