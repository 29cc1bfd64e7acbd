"""podrun's CNI runtime (libcni's job, CNI spec 1.0/1.1): load a network config list, run its
plugins for ADD/CHECK/DEL/STATUS/GC/VERSION and keep libcni's result cache.

Blocking on purpose: the asyncio daemon calls it in a worker thread. Every plugin failure is a
CNIError(code, msg, details) carrying the plugin's own message; the daemon turns it into a
FailedCreatePodSandBox event. docs/network.md describes the choices made here.

    CNIError
     ├── code 1-11     what the plugin reported (spec error codes) or found in its output
     └── code 999      the runtime's own: no config, plugin missing, timeout, bad output
"""

from __future__ import annotations

import base64
import errno as _errno
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podrun.errors import PodrunError

CONF_EXTENSIONS = (".conf", ".conflist", ".json")
DEFAULT_CACHE_DIR = "/var/lib/cni"
DEFAULT_TIMEOUT = 30.0
DEFAULT_IFNAME = "eth0"
CACHE_KIND = "cniCacheV1"
VALID_ATTACHMENTS_KEY = "cni.dev/valid-attachments"
INGRESS_BANDWIDTH_ANNOTATION = "kubernetes.io/ingress-bandwidth"
EGRESS_BANDWIDTH_ANNOTATION = "kubernetes.io/egress-bandwidth"
MAX_UINT32 = 2**32 - 1

# spec error codes
ERR_INCOMPATIBLE_VERSION = 1
ERR_UNSUPPORTED_FIELD = 2
ERR_UNKNOWN_CONTAINER = 3
ERR_INVALID_ENV = 4
ERR_IO = 5
ERR_DECODE = 6
ERR_INVALID_CONFIG = 7
ERR_TRY_AGAIN = 11
ERR_RUNTIME = 999  # podrun's own (the spec leaves 100+ to plugins)


class CNIError(PodrunError):
    """A CNI operation failed. code/msg/details are the plugin's when it sent an error."""

    def __init__(self, code: int, msg: str, details: str = "", *, plugin: str = "",
                 command: str = "") -> None:
        self.code = code
        self.msg = msg
        self.details = details
        self.plugin = plugin
        self.command = command
        where = f"plugin type={plugin!r} " if plugin else ""
        text = f"{where}{command + ' ' if command else ''}failed ({code}): {msg}"
        if details:
            text += f": {details}"
        super().__init__(text)


# ---- versions ------------------------------------------------------------------------------


def parse_version(v: str) -> tuple[int, int, int]:
    try:
        parts = [int(p) for p in v.split(".")]
    except (AttributeError, ValueError) as e:
        raise CNIError(ERR_INVALID_CONFIG, f"invalid cniVersion {v!r}") from e
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def version_at_least(v: str, minimum: str) -> bool:
    return parse_version(v or "0.1.0") >= parse_version(minimum)


def convert_result(result: dict[str, Any], to_version: str) -> dict[str, Any]:
    """Convert between the 0.3/0.4 and 1.x result shapes (only `ips[].version` differs)."""
    out = dict(result)
    src = str(result.get("cniVersion", to_version))
    if src == to_version:
        return out
    ips = [dict(ip) for ip in result.get("ips") or []]
    if version_at_least(to_version, "1.0.0"):
        for ip in ips:
            ip.pop("version", None)
    elif version_at_least(to_version, "0.3.0"):
        for ip in ips:
            ip.setdefault("version", "6" if ":" in str(ip.get("address", "")) else "4")
    else:
        raise CNIError(ERR_INCOMPATIBLE_VERSION,
                       f"cannot convert a {src} result to {to_version}")
    if ips:
        out["ips"] = ips
    out["cniVersion"] = to_version
    return out


# ---- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkConfigList:
    name: str
    cni_version: str
    plugins: tuple[dict[str, Any], ...]
    disable_check: bool = False
    disable_gc: bool = False
    raw: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def to_bytes(self) -> bytes:
        return json.dumps(self.raw, separators=(",", ":")).encode()


def parse_conf_list(data: bytes | str | Mapping[str, Any], source: str = "") -> NetworkConfigList:
    """A .conflist, or a single-plugin .conf wrapped as a list (libcni's ConfListFromConf)."""
    where = f" in {source}" if source else ""
    if isinstance(data, Mapping):
        doc: Any = dict(data)
    else:
        try:
            doc = json.loads(data)
        except ValueError as e:
            raise CNIError(ERR_INVALID_CONFIG, f"error parsing configuration{where}: {e}") from e
    if not isinstance(doc, dict):
        raise CNIError(ERR_INVALID_CONFIG, f"configuration{where} is not a JSON object")
    if "plugins" not in doc:
        if not doc.get("type"):
            raise CNIError(ERR_INVALID_CONFIG, f"configuration{where} has no plugins and no type")
        plugin = dict(doc)
        doc = {"cniVersion": doc.get("cniVersion", ""), "name": doc.get("name", ""),
               "plugins": [plugin]}
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise CNIError(ERR_INVALID_CONFIG, f"configuration{where} has no network name")
    version = doc.get("cniVersion") or ""
    if not isinstance(version, str):
        raise CNIError(ERR_INVALID_CONFIG, f"cniVersion{where} is not a string")
    if version:
        parse_version(version)
    plugins = doc.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise CNIError(ERR_INVALID_CONFIG, f"configuration{where} has an empty plugins list")
    for i, p in enumerate(plugins):
        if not isinstance(p, dict) or not isinstance(p.get("type"), str) or not p["type"]:
            raise CNIError(ERR_INVALID_CONFIG, f"plugins[{i}]{where} has no type")
        if "/" in p["type"]:
            raise CNIError(ERR_INVALID_CONFIG, f"plugins[{i}]{where}: type must be a file name")
    return NetworkConfigList(
        name=name, cni_version=version, plugins=tuple(plugins),
        disable_check=bool(doc.get("disableCheck", False)),
        disable_gc=bool(doc.get("disableGC", False)), raw=doc, source=source)


def conf_files(conf_dir: str | os.PathLike[str]) -> list[Path]:
    """Config files sorted by name (libcni ConfFiles)."""
    try:
        names = sorted(os.listdir(conf_dir))
    except FileNotFoundError:
        return []
    return [Path(conf_dir) / n for n in names
            if n.endswith(CONF_EXTENSIONS) and not n.startswith(".")
            and (Path(conf_dir) / n).is_file()]


def load_conf_list(conf_dir: str | os.PathLike[str], name: str | None = None
                   ) -> NetworkConfigList:
    """The first valid config by file name, or the one whose network is `name`."""
    errors = []
    for path in conf_files(conf_dir):
        try:
            conf = parse_conf_list(path.read_bytes(), str(path))
        except (CNIError, OSError) as e:
            errors.append(str(e))
            continue
        if name is None or conf.name == name:
            return conf
    what = f"network {name!r}" if name else "network config"
    detail = "; ".join(errors)
    raise CNIError(ERR_RUNTIME, f"no valid {what} found in {conf_dir}", detail)


# ---- what the pod asks for -----------------------------------------------------------------


@dataclass(frozen=True)
class PortMapping:
    host_port: int
    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""

    def to_cni(self) -> dict[str, Any]:
        d: dict[str, Any] = {"hostPort": self.host_port, "containerPort": self.container_port,
                             "protocol": self.protocol.lower()}
        if self.host_ip:
            d["hostIP"] = self.host_ip
        return d


def port_mappings_from_containers(containers: Iterable[Any]) -> list[PortMapping]:
    """Every containerPort with a hostPort (what the kubelet hands the runtime)."""
    out = []
    for c in containers:
        for p in getattr(c, "ports", None) or ():
            if p.host_port:
                out.append(PortMapping(p.host_port, p.container_port,
                                       (p.protocol or "TCP").lower(), p.host_ip or ""))
    return out


@dataclass(frozen=True)
class Bandwidth:
    """Bits per second, as the bandwidth plugin wants them."""

    ingress_rate: int | None = None
    egress_rate: int | None = None

    def to_cni(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.ingress_rate is not None:
            d["ingressRate"] = self.ingress_rate
            d["ingressBurst"] = MAX_UINT32
        if self.egress_rate is not None:
            d["egressRate"] = self.egress_rate
            d["egressBurst"] = MAX_UINT32
        return d


def bandwidth_from_annotations(annotations: Mapping[str, str] | None) -> Bandwidth | None:
    """kubernetes.io/ingress-bandwidth and egress-bandwidth (quantities in bit/s, 1k..1P), as
    ExtractPodBandwidthResources + containerd's toCNIBandWidth read them."""
    from podrun.spec.quantity import QuantityError, parse_quantity

    if not annotations:
        return None
    rates: dict[str, int] = {}
    for key in (INGRESS_BANDWIDTH_ANNOTATION, EGRESS_BANDWIDTH_ANNOTATION):
        text = annotations.get(key)
        if text is None:
            continue
        try:
            q = parse_quantity(text)
        except QuantityError as e:
            raise CNIError(ERR_RUNTIME, f"invalid {key} annotation {text!r}: {e}") from e
        if q < parse_quantity("1k"):
            raise CNIError(ERR_RUNTIME, f"{key}: resource is unreasonably small (< 1kbit)")
        if q > parse_quantity("1P"):
            raise CNIError(ERR_RUNTIME, f"{key}: resource is unreasonably large (> 1Pbit)")
        rates[key] = q.value()
    if not rates:
        return None
    return Bandwidth(rates.get(INGRESS_BANDWIDTH_ANNOTATION), rates.get(EGRESS_BANDWIDTH_ANNOTATION))


def cni_args(pod_ns: str, pod_name: str, sandbox_id: str, pod_uid: str) -> list[tuple[str, str]]:
    return [("IgnoreUnknown", "1"), ("K8S_POD_NAMESPACE", pod_ns), ("K8S_POD_NAME", pod_name),
            ("K8S_POD_INFRA_CONTAINER_ID", sandbox_id), ("K8S_POD_UID", pod_uid)]


def format_cni_args(args: Sequence[Sequence[str]]) -> str:
    return ";".join(f"{k}={v}" for k, v in args)


# ---- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkResult:
    """The final ADD result: pod IPs (no prefix length), the first gateway, interfaces."""

    ips: tuple[str, ...]
    gateway: str | None
    interfaces: tuple[dict[str, Any], ...]
    raw: dict[str, Any]

    @classmethod
    def from_result(cls, raw: dict[str, Any]) -> NetworkResult:
        ips, gw = [], None
        for ip in raw.get("ips") or []:
            addr = str(ip.get("address", ""))
            if addr:
                ips.append(addr.split("/")[0])
            if gw is None and ip.get("gateway"):
                gw = str(ip["gateway"])
        return cls(tuple(ips), gw, tuple(raw.get("interfaces") or []), raw)


@dataclass(frozen=True)
class CachedAttachment:
    """One libcni cache entry: what DEL and GC need after a daemon restart."""

    network: str
    container_id: str
    ifname: str
    netns: str
    cni_args: tuple[tuple[str, str], ...]
    capability_args: dict[str, Any]
    config: bytes
    result: dict[str, Any] | None
    path: Path


@dataclass
class _Call:
    command: str
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: Sequence[Sequence[str]] = ()


# ---- the runtime ---------------------------------------------------------------------------


class CNIRuntime:
    """Runs plugins found in bin_dirs, one process per call (the exec protocol)."""

    def __init__(self, bin_dirs: Sequence[str | os.PathLike[str]], *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.bin_dirs = [str(d) for d in bin_dirs]
        self.timeout = timeout

    def find_plugin(self, plugin_type: str) -> str:
        for d in self.bin_dirs:
            p = os.path.join(d, plugin_type)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
        raise CNIError(ERR_RUNTIME, f"failed to find plugin {plugin_type!r} in path "
                       f"{self.bin_dirs}", plugin=plugin_type)

    def exec_plugin(self, plugin_type: str, call: _Call, stdin: bytes,
                    *, want_result: bool) -> dict[str, Any] | None:
        path = self.find_plugin(plugin_type)
        env = {"CNI_COMMAND": call.command, "CNI_PATH": os.pathsep.join(self.bin_dirs),
               "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        if call.container_id:
            env["CNI_CONTAINERID"] = call.container_id
        if call.command in ("ADD", "DEL", "CHECK"):
            env["CNI_NETNS"] = call.netns
            env["CNI_IFNAME"] = call.ifname
            env["CNI_ARGS"] = format_cni_args(call.args)
        try:
            proc = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, close_fds=True,
                                    start_new_session=True)
        except OSError as e:
            raise CNIError(ERR_RUNTIME, f"cannot run {path}: {e.strerror}",
                           plugin=plugin_type, command=call.command) from e
        try:
            out, err = proc.communicate(stdin, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            # The whole process group: a plugin's own children (iptables, ...) die with it.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.kill()
            proc.communicate()
            raise CNIError(ERR_RUNTIME, f"timed out after {self.timeout:g}s; plugin killed",
                           plugin=plugin_type, command=call.command) from None
        return self._decode(plugin_type, call.command, proc.returncode, out, err, want_result)

    @staticmethod
    def _decode(plugin: str, command: str, rc: int, out: bytes, err: bytes,
                want_result: bool) -> dict[str, Any] | None:
        stderr = err.decode(errors="replace").strip()[-2000:]
        doc: Any = None
        if out.strip():
            try:
                doc = json.loads(out)
            except ValueError:
                doc = ValueError(out[:200].decode(errors="replace"))
        if rc != 0:
            if isinstance(doc, dict) and "code" in doc:
                try:
                    code = int(doc["code"])
                except (TypeError, ValueError):
                    code = ERR_RUNTIME
                raise CNIError(code, str(doc.get("msg", "")), str(doc.get("details", "")),
                               plugin=plugin, command=command)
            text = stderr or (str(doc) if doc is not None else "") or f"exit status {rc}"
            raise CNIError(ERR_RUNTIME, f"netplugin failed: {text}", plugin=plugin,
                           command=command)
        if isinstance(doc, ValueError):
            raise CNIError(ERR_RUNTIME, f"plugin output is not valid JSON: {doc}",
                           stderr, plugin=plugin, command=command)
        if doc is None:
            if want_result:
                raise CNIError(ERR_RUNTIME, "plugin returned no result", stderr,
                               plugin=plugin, command=command)
            return None
        if not isinstance(doc, dict):
            raise CNIError(ERR_RUNTIME, f"plugin output is not a JSON object: {out[:200]!r}",
                           plugin=plugin, command=command)
        if "code" in doc and "msg" in doc and not doc.get("ips") and not doc.get("interfaces"):
            # an error printed with exit status 0: still an error
            raise CNIError(int(doc.get("code") or ERR_RUNTIME), str(doc.get("msg")),
                           str(doc.get("details", "")), plugin=plugin, command=command)
        return doc

    def version(self, plugin_type: str, cni_version: str = "1.1.0") -> dict[str, Any]:
        stdin = json.dumps({"cniVersion": cni_version}).encode()
        info = self.exec_plugin(plugin_type, _Call("VERSION"), stdin, want_result=True)
        assert info is not None
        return info


def build_plugin_config(conf: NetworkConfigList, plugin: Mapping[str, Any],
                        prev_result: Mapping[str, Any] | None,
                        capability_args: Mapping[str, Any]) -> bytes:
    """libcni buildOneConfig: name and cniVersion from the list, prevResult, and a
    runtimeConfig holding only the capabilities this plugin declares."""
    p = dict(plugin)
    p["name"] = conf.name
    p["cniVersion"] = conf.cni_version
    if prev_result is not None:
        p["prevResult"] = prev_result
    caps = plugin.get("capabilities") or {}
    runtime = {k: v for k, v in capability_args.items()
               if isinstance(caps, dict) and caps.get(k) is True}
    if runtime:
        p["runtimeConfig"] = {**(plugin.get("runtimeConfig") or {}), **runtime}
    return json.dumps(p, separators=(",", ":")).encode()


class NetworkManager:
    """The pod network of one conflist: setup/teardown/check per sandbox, status, GC.

    Thread-safe: calls for different sandboxes may run in parallel threads."""

    def __init__(self, conf_dir: str | os.PathLike[str],
                 bin_dirs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
                 cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR, *,
                 network_name: str | None = None, ifname: str = DEFAULT_IFNAME,
                 timeout: float = DEFAULT_TIMEOUT, loopback: bool = True) -> None:
        """loopback: bring `lo` up in every sandbox before ADD (what containerd does with its
        separate loopback network): containers of a pod talk over localhost whatever the
        conflist holds."""
        if isinstance(bin_dirs, str | os.PathLike):
            bin_dirs = [bin_dirs]
        self.conf_dir = Path(conf_dir)
        self.cache_dir = Path(cache_dir)
        self.network_name = network_name
        self.ifname = ifname
        self.runtime = CNIRuntime(bin_dirs, timeout=timeout)
        self.loopback = loopback

    # -- config and cache --

    def config(self) -> NetworkConfigList:
        """Re-read on every call, like containerd's conf syncer picking up changes."""
        return load_conf_list(self.conf_dir, self.network_name)

    def _cache_path(self, network: str, container_id: str, ifname: str) -> Path:
        return self.cache_dir / "results" / f"{network}-{container_id}-{ifname}"

    def _write_cache(self, conf: NetworkConfigList, call: _Call, caps: Mapping[str, Any],
                     result: Mapping[str, Any]) -> None:
        doc = {"kind": CACHE_KIND, "containerId": call.container_id,
               "config": base64.b64encode(conf.to_bytes()).decode(),
               "ifName": call.ifname, "networkName": conf.name, "netns": call.netns,
               "cniArgs": [list(a) for a in call.args], "capabilityArgs": dict(caps),
               "result": dict(result)}
        path = self._cache_path(conf.name, call.container_id, call.ifname)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.tmp{threading.get_ident()}")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, path)

    def _read_cache_file(self, path: Path) -> CachedAttachment | None:
        try:
            doc = json.loads(path.read_bytes())
            if doc.get("kind") != CACHE_KIND:
                return None
            return CachedAttachment(
                network=doc["networkName"], container_id=doc["containerId"],
                ifname=doc["ifName"], netns=doc.get("netns", ""),
                cni_args=tuple((str(a[0]), str(a[1])) for a in doc.get("cniArgs") or []),
                capability_args=dict(doc.get("capabilityArgs") or {}),
                config=base64.b64decode(doc.get("config") or ""),
                result=doc.get("result"), path=path)
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def cached_attachment(self, sandbox_id: str, network: str | None = None,
                          ifname: str | None = None) -> CachedAttachment | None:
        if network is None:
            try:
                network = self.config().name
            except CNIError:
                for a in self.cached_attachments():
                    if a.container_id == sandbox_id and a.ifname == (ifname or self.ifname):
                        return a
                return None
        return self._read_cache_file(self._cache_path(network, sandbox_id, ifname or self.ifname))

    def cached_attachments(self, network: str | None = None) -> list[CachedAttachment]:
        """Every attachment in the cache (all networks unless one is named): after a crash,
        the ones whose sandbox is gone are what teardown/gc must delete."""
        d = self.cache_dir / "results"
        try:
            names = sorted(os.listdir(d))
        except FileNotFoundError:
            return []
        out = []
        for n in names:
            if n.startswith("."):
                continue
            a = self._read_cache_file(d / n)
            if a is not None and (network is None or a.network == network):
                out.append(a)
        return out

    # -- operations --

    @staticmethod
    def capability_args(port_mappings: Iterable[PortMapping | Mapping[str, Any]] = (),
                        bandwidth: Bandwidth | Mapping[str, Any] | None = None,
                        dns: Mapping[str, Any] | None = None, ips: Sequence[str] = (),
                        mac: str | None = None) -> dict[str, Any]:
        caps: dict[str, Any] = {}
        pms = [p.to_cni() if isinstance(p, PortMapping) else dict(p) for p in port_mappings]
        if pms:
            caps["portMappings"] = pms
        if bandwidth:
            bw = bandwidth.to_cni() if isinstance(bandwidth, Bandwidth) else dict(bandwidth)
            if bw:
                caps["bandwidth"] = bw
        if dns:
            caps["dns"] = dict(dns)
        if ips:
            caps["ips"] = list(ips)
        if mac:
            caps["mac"] = mac
        return caps

    def setup(self, pod_ns: str, pod_name: str, pod_uid: str, sandbox_id: str, netns_path: str,
              port_mappings: Iterable[PortMapping | Mapping[str, Any]] = (),
              bandwidth: Bandwidth | Mapping[str, Any] | None = None,
              dns: Mapping[str, Any] | None = None, ips: Sequence[str] = (),
              mac: str | None = None) -> NetworkResult:
        """ADD every plugin of the list in order, chaining prevResult; cache the result.

        On failure the plugins are DELeted (best effort, like containerd's undo of a failed
        sandbox network setup) and the first error is raised."""
        conf = self.config()
        caps = self.capability_args(port_mappings, bandwidth, dns, ips, mac)
        if self.loopback:
            loopback_up(netns_path)
        call = _Call("ADD", sandbox_id, netns_path, self.ifname,
                     cni_args(pod_ns, pod_name, sandbox_id, pod_uid))
        prev: dict[str, Any] | None = None
        try:
            for plugin in conf.plugins:
                stdin = build_plugin_config(conf, plugin, prev, caps)
                res = self.runtime.exec_plugin(plugin["type"], call, stdin, want_result=True)
                assert res is not None
                prev = self._conform(res, conf, plugin["type"])
        except CNIError:
            try:
                self._delete(conf, _Call("DEL", sandbox_id, netns_path, self.ifname, call.args),
                             caps, prev)
            except CNIError:
                pass
            raise
        assert prev is not None
        self._write_cache(conf, call, caps, prev)
        return NetworkResult.from_result(prev)

    @staticmethod
    def _conform(res: dict[str, Any], conf: NetworkConfigList, plugin: str) -> dict[str, Any]:
        ver = res.get("cniVersion")
        if not isinstance(ver, str) or not ver:
            raise CNIError(ERR_RUNTIME, "plugin result has no cniVersion", plugin=plugin,
                           command="ADD")
        ips = res.get("ips", [])
        ifaces = res.get("interfaces", [])
        if not isinstance(ips, list) or not all(isinstance(i, dict) for i in ips) or \
                not isinstance(ifaces, list):
            raise CNIError(ERR_RUNTIME, "plugin result has malformed ips/interfaces",
                           json.dumps(res)[:300], plugin=plugin, command="ADD")
        if conf.cni_version and ver != conf.cni_version:
            res = convert_result(res, conf.cni_version)
        return res

    def _delete(self, conf: NetworkConfigList, call: _Call, caps: Mapping[str, Any],
                prev: Mapping[str, Any] | None) -> None:
        if not version_at_least(conf.cni_version, "0.4.0"):
            prev = None
        errors: list[CNIError] = []
        for plugin in reversed(conf.plugins):
            stdin = build_plugin_config(conf, plugin, prev, caps)
            try:
                self.runtime.exec_plugin(plugin["type"], call, stdin, want_result=False)
            except CNIError as e:
                errors.append(e)
        if errors:
            raise errors[0]

    def teardown(self, sandbox_id: str, netns_path: str | None = None, pod_ns: str = "",
                 pod_name: str = "", pod_uid: str = "", *,
                 attachment: CachedAttachment | None = None) -> None:
        """DEL in reverse order with the cached result as prevResult, then drop the cache.

        The config, args and capability args are the cached ones when the cache has them, so
        DEL undoes exactly what ADD did even after a daemon restart or a config change.
        netns_path None or missing on disk: CNI_NETNS is empty (plugins release IPs and
        rules; the kernel already removed the interfaces with the namespace)."""
        a = attachment or self.cached_attachment(sandbox_id)
        if a is not None:
            conf = parse_conf_list(a.config, str(a.path)) if a.config else self.config()
            args: Sequence[Sequence[str]] = a.cni_args or cni_args(pod_ns, pod_name,
                                                                   sandbox_id, pod_uid)
            caps = a.capability_args
            prev = a.result
            ifname = a.ifname
            if netns_path is None and not a.netns.startswith("/proc/"):
                # a pinned path is still right; /proc/<pid> may be a reused pid by now
                netns_path = a.netns
        else:
            conf = self.config()
            args, caps, prev, ifname = cni_args(pod_ns, pod_name, sandbox_id, pod_uid), {}, \
                None, self.ifname
        if netns_path and not os.path.exists(netns_path):
            netns_path = ""
        self._delete(conf, _Call("DEL", sandbox_id, netns_path or "", ifname, args), caps, prev)
        path = a.path if a is not None else self._cache_path(conf.name, sandbox_id, ifname)
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    def check(self, sandbox_id: str, netns_path: str, pod_ns: str = "", pod_name: str = "",
              pod_uid: str = "") -> None:
        """CHECK with the cached result (spec >= 0.4.0, unless disableCheck)."""
        conf = self.config()
        if conf.disable_check or not version_at_least(conf.cni_version, "0.4.0"):
            return
        a = self.cached_attachment(sandbox_id, conf.name)
        if a is None or a.result is None:
            raise CNIError(ERR_RUNTIME, f"no cached result for {conf.name}/{sandbox_id}/"
                           f"{self.ifname}: the network was never set up by this runtime")
        call = _Call("CHECK", sandbox_id, netns_path, a.ifname,
                     a.cni_args or cni_args(pod_ns, pod_name, sandbox_id, pod_uid))
        for plugin in conf.plugins:
            stdin = build_plugin_config(conf, plugin, a.result, a.capability_args)
            self.runtime.exec_plugin(plugin["type"], call, stdin, want_result=False)

    def status(self) -> None:
        """STATUS of every plugin (spec >= 1.1.0); raises CNIError when not ready."""
        conf = self.config()
        if not version_at_least(conf.cni_version, "1.1.0"):
            return
        for plugin in conf.plugins:
            stdin = build_plugin_config(conf, plugin, None, {})
            self.runtime.exec_plugin(plugin["type"], _Call("STATUS"), stdin, want_result=False)

    def gc(self, valid_attachments: Iterable[str | tuple[str, str]]) -> list[CNIError]:
        """libcni GCNetworkList: DEL every cached attachment of this network not in the valid
        set, then GC each plugin with cni.dev/valid-attachments (spec >= 1.1.0).
        A valid attachment is a sandbox id (with the default ifname) or (id, ifname).
        Returns the errors (each failed DEL keeps its cache entry for a later retry)."""
        conf = self.config()
        if conf.disable_gc:
            return []
        valid = {(v, self.ifname) if isinstance(v, str) else (v[0], v[1])
                 for v in valid_attachments}
        errors: list[CNIError] = []
        for a in self.cached_attachments(conf.name):
            if (a.container_id, a.ifname) in valid:
                continue
            try:
                self.teardown(a.container_id, None, attachment=a)
            except CNIError as e:
                errors.append(e)
        if errors or not version_at_least(conf.cni_version, "1.1.0"):
            return errors
        inject = {VALID_ATTACHMENTS_KEY: [{"containerID": c, "ifname": i}
                                          for c, i in sorted(valid)]}
        for plugin in conf.plugins:
            stdin = build_plugin_config(conf, {**plugin, **inject}, None, {})
            try:
                self.runtime.exec_plugin(plugin["type"], _Call("GC"), stdin, want_result=False)
            except CNIError as e:
                errors.append(e)
        return errors

    def versions(self) -> dict[str, dict[str, Any]]:
        """VERSION of every plugin in the list."""
        conf = self.config()
        return {p["type"]: self.runtime.version(p["type"], conf.cni_version or "1.1.0")
                for p in conf.plugins}


def loopback_up(netns_path: str) -> None:
    """Set `lo` up inside the netns (one netlink request, no plugin exec)."""
    from podrun.network.plugin import netlink

    try:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise CNIError(ERR_RUNTIME, f"cannot open netns {netns_path}: {e.strerror}") from e
    try:
        with netlink.rtnl_in(fd) as rt:
            lo = rt.link("lo")
            if lo is not None and not lo.flags & netlink.IFF_UP:
                rt.set_link(lo.index, up=True)
    except OSError as e:
        raise CNIError(ERR_RUNTIME, f"cannot set lo up in {netns_path}: {e.strerror}") from e
    finally:
        os.close(fd)


def shipped_cni_dir() -> Path | None:
    """podrun's own `cni/` (podrun-bridge + 10-podrun.conflist) in the source tree or an
    editable install: add it to bin_dirs (and use it as conf_dir when the configured one holds
    no config) so a fresh host needs no extra binaries."""
    d = Path(__file__).resolve().parents[2] / "cni"
    return d if (d / "podrun-bridge").exists() else None


def netns_path_of(pid: int) -> str:
    return f"/proc/{pid}/ns/net"


def pin_netns(pid: int, dest: str | os.PathLike[str]) -> str:
    """Bind-mount /proc/<pid>/ns/net on dest (a new empty file), as containerd does under
    /var/run/netns: the path stays valid for DEL after pause died and cannot be confused with
    a reused pid. unpin_netns after the DEL. Call it right after launching pause, while the
    pid is known to be pause (the daemon holds its pidfd)."""
    from podrun.errors import HostError
    from podrun.runtime import syscalls

    dest = str(dest)
    try:
        fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o444)
        os.close(fd)
    except OSError as e:
        raise HostError("pin netns", e.strerror or str(e), err=e.errno or 0, path=dest) from e
    try:
        syscalls.mount(netns_path_of(pid), dest, None, 4096)  # MS_BIND
    except OSError as e:
        os.unlink(dest)
        raise HostError("pin netns", e.strerror or str(e), err=e.errno or 0,
                        path=netns_path_of(pid)) from e
    return dest


def unpin_netns(dest: str | os.PathLike[str]) -> None:
    """Undo pin_netns; a missing file is fine (idempotent)."""
    from podrun.errors import HostError
    from podrun.runtime import syscalls

    dest = str(dest)
    try:
        syscalls.umount2(dest, 2)  # MNT_DETACH
    except OSError as e:
        if e.errno not in (_errno.EINVAL, _errno.ENOENT):
            raise HostError("unpin netns", e.strerror or str(e), err=e.errno or 0,
                            path=dest) from e
    try:
        os.unlink(dest)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise HostError("unpin netns", e.strerror or str(e), err=e.errno or 0, path=dest) from e
