"""One Kubernetes container of a pod -> the init helper's config document (and the pod files).

prepare_pod writes what the sandbox shares (/etc/hosts, /etc/hostname, /etc/resolv.conf,
volumes); build_container computes argv, env, user, security, mounts and cgroup values for
one container instance; cleanup_pod removes everything. The rules are the kubelet's
(kubelet_pods.go makeMounts/makeEnvironmentVariables, kuberuntime_container.go) and
containerd's CRI plugin (container_create_linux.go); docs/volumes.md has the details.
"""

from __future__ import annotations

import json
import os
import secrets as _random
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podrun.agent import volumes as V
from podrun.core import env as E
from podrun.core import securitycontext as SC
from podrun.core.resources import DEFAULT_OPTIONS, CgroupOptions, container_cgroup_values
from podrun.errors import PodrunError
from podrun.network import hosts as H
from podrun.runtime import mounts as M
from podrun.runtime import ocispec
from podrun.spec.types import Container, Pod, PodSpec

Event = tuple[str, str, str]

ETC_HOSTS = "etc-hosts"
ETC_HOSTNAME = "etc-hostname"
RESOLV_CONF = "resolv.conf"
DEFAULT_STOP_SIGNAL = "SIGTERM"


class CreateContainerConfigError(PodrunError):
    """The container config cannot be generated: waiting reason CreateContainerConfigError
    (missing configMap/secret or key, bad subPath(Expr), runAsNonRoot with a root user...)."""

    reason = "CreateContainerConfigError"


class CreateContainerError(PodrunError):
    """What containerd would fail in CreateContainer: waiting reason CreateContainerError
    (an unreadable Localhost seccomp profile, no command at all)."""

    reason = "CreateContainerError"


@dataclass(frozen=True)
class PodContext:
    pod: Pod  # typed, defaulted
    pod_dir: Path  # <root>/pods/<uid>
    node_name: str
    host_ip: str
    pod_ips: tuple[str, ...]  # () until the network is up; the host IPs for hostNetwork
    shm_path: Path | None
    configmaps: Callable[[str, str], dict[str, Any] | None]  # (namespace, name) -> v1 dict
    secrets: Callable[[str, str], dict[str, Any] | None]
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    resolv_conf: Path = Path("/etc/resolv.conf")
    # Optional node settings (KubeletConfiguration names in comments).
    host_ips: tuple[str, ...] = ()  # status.hostIPs; () = (host_ip,)
    seccomp_default: bool = False  # seccompDefault
    seccomp_root: Path | None = None  # Localhost profiles; None = <root>/seccomp
    allowed_unsafe_sysctls: tuple[str, ...] = ()  # allowedUnsafeSysctls
    cgroup_options: CgroupOptions = DEFAULT_OPTIONS
    allocatable: Mapping[str, str] | None = None  # None = host CPUs, MemTotal, root fs size
    pvc_root: Path | None = None  # None = <root>/persistent-volumes
    etc_hosts: Path = Path("/etc/hosts")  # the node's, for hostNetwork pods

    @property
    def root(self) -> Path:
        return self.pod_dir.parent.parent


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()  # "K=V"
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""


@dataclass(frozen=True)
class ContainerLaunch:
    config: dict[str, Any]  # ocispec.build_config output; rootfs left for the runtime
    cgroup_values: dict[str, str]
    stop_signal: str
    termination_message_path: Path | None  # host file bound at terminationMessagePath
    events: tuple[tuple[str, str, str], ...] = ()


# ---- pod facts -------------------------------------------------------------------------------


def _spec(pod: Pod) -> PodSpec:
    return pod.spec or PodSpec()


def _meta(pod: Pod) -> tuple[str, str, str]:
    m = pod.metadata
    return ((m.name if m else None) or "", (m.namespace if m else None) or "default",
            (m.uid if m else None) or "")


def pod_display(pod: Pod) -> str:
    """format.Pod: `name_namespace(uid)`."""
    name, ns, uid = _meta(pod)
    return f"{name}_{ns}({uid})"


def pod_hostname(ctx: PodContext) -> tuple[str, str, str]:
    """(hostname, domain, kernel hostname) for the pod; a hostNetwork pod has the node's
    hostname. Raises network.hosts.HostnameError (the sandbox cannot be created)."""
    spec = _spec(ctx.pod)
    if spec.host_network:
        node = socket.gethostname()
        return node, "", node
    name, ns, _ = _meta(ctx.pod)
    hostname, domain = H.pod_hostname_and_domain(name, ns, spec.hostname, spec.subdomain,
                                                 ctx.cluster_domain)
    return hostname, domain, H.kernel_hostname(hostname, domain, spec.set_hostname_as_fqdn)


def pod_facts(ctx: PodContext) -> E.PodFacts:
    name, ns, uid = _meta(ctx.pod)
    m = ctx.pod.metadata
    spec = _spec(ctx.pod)
    return E.PodFacts(
        name=name, namespace=ns, uid=uid,
        labels=dict(m.labels or {}) if m else {},
        annotations=dict(m.annotations or {}) if m else {},
        node_name=spec.node_name or ctx.node_name,
        service_account_name=spec.service_account_name or "",
        host_ips=ctx.host_ips or ((ctx.host_ip,) if ctx.host_ip else ()),
        pod_ips=ctx.pod_ips)


def node_allocatable(ctx: PodContext) -> dict[str, str]:
    """The downward API's fallback for unset limits: the host's CPUs, memory and the size
    of the filesystem holding podrun's root (podrun reserves nothing)."""
    if ctx.allocatable is not None:
        return dict(ctx.allocatable)
    out = {"cpu": str(os.cpu_count() or 1)}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                out["memory"] = str(int(line.split()[1]) * 1024)
                break
    except OSError:
        pass
    for p in (ctx.root, ctx.pod_dir.parent, Path("/")):
        try:
            st = os.statvfs(p)
        except OSError:
            continue
        out["ephemeral-storage"] = str(st.f_blocks * st.f_frsize)
        break
    return out


def _resources_for(ctx: PodContext, current: Container) -> Callable[[str], E.ContainerResourceView]:
    allocatable: dict[str, str] | None = None
    spec = _spec(ctx.pod)

    def view(name: str) -> E.ContainerResourceView:
        nonlocal allocatable
        c = current
        if name and name != current.name:
            for other in (*(spec.containers or ()), *(spec.init_containers or ())):
                if other.name == name:
                    c = other
                    break
            else:
                raise E.EnvError(f"container {name} not found")
        if allocatable is None:
            allocatable = node_allocatable(ctx)
        res = c.resources
        return E.with_allocatable_limits(
            dict(res.requests or {}) if res else {}, dict(res.limits or {}) if res else {},
            allocatable)

    return view


def _volume_context(ctx: PodContext, current: Container | None = None) -> V.VolumeContext:
    dummy = current or Container(name="")
    return V.VolumeContext(
        pod=ctx.pod, pod_dir=ctx.pod_dir, facts=pod_facts(ctx), configmaps=ctx.configmaps,
        secrets=ctx.secrets, resources_for=_resources_for(ctx, dummy),
        pvc_root=ctx.pvc_root or ctx.root / "persistent-volumes")


# ---- prepare_pod -----------------------------------------------------------------------------


def _write_if_changed(path: Path, content: str, mode: int = 0o644) -> bool:
    try:
        if path.read_text() == content:
            return False
    except OSError:
        pass
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(content)
    tmp.chmod(mode)
    os.replace(tmp, path)
    return True


def prepare_pod(ctx: PodContext) -> list[Event]:
    """The sandbox-level files and every pod volume; idempotent (call on every sync: it
    refreshes configMap/secret/downwardAPI content through the ..data swap). Raises
    volumes.VolumeSetupError (with .events) when a volume cannot be set up, and
    network.hosts.HostnameError for a hostname the sandbox cannot have."""
    events: list[Event] = []
    ctx.pod_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    spec = _spec(ctx.pod)
    hostname, domain, kernel = pod_hostname(ctx)
    if spec.host_network:
        try:
            node_hosts = ctx.etc_hosts.read_text()
        except OSError:
            node_hosts = ""
        hosts = H.host_network_hosts_file(node_hosts, spec.host_aliases)
    else:
        hosts = H.managed_hosts_file(ctx.pod_ips, hostname, domain, spec.host_aliases)
    _write_if_changed(ctx.pod_dir / ETC_HOSTS, hosts)
    _write_if_changed(ctx.pod_dir / ETC_HOSTNAME, H.hostname_file(kernel))
    try:
        node_resolv: str | None = ctx.resolv_conf.read_text()
    except OSError:
        node_resolv = None
    _, ns, _ = _meta(ctx.pod)
    resolv, dns_events = H.resolv_conf_file(
        ns, dns_policy=spec.dns_policy, host_network=bool(spec.host_network),
        dns_config=spec.dns_config, node_resolv_conf=node_resolv,
        cluster_dns=ctx.cluster_dns, cluster_domain=ctx.cluster_domain)
    if _write_if_changed(ctx.pod_dir / RESOLV_CONF, resolv):
        # The kubelet computes DNS once per sandbox: report its events once, not per sync.
        events.extend((e.type, e.reason, e.message) for e in dns_events)
    vctx = _volume_context(ctx)
    try:
        events.extend(V.setup_volumes(vctx))
    except V.VolumeSetupError as e:
        raise V.VolumeSetupError(e.failed, events + e.events) from None
    return events


# ---- build_container -------------------------------------------------------------------------


def _text_lookup(ctx: PodContext, kind: str) -> E.Lookup:
    ns = _meta(ctx.pod)[1]

    def lookup(name: str) -> Mapping[str, str] | None:
        if kind == "configmap":
            return V.as_text(V.configmap_data(ctx.configmaps(ns, name), with_binary=False))
        return V.as_text(V.secret_data(ctx.secrets(ns, name)))

    return lookup


def _stop_signal(container: Container, image: ImageConfig) -> str:
    sig = (container.lifecycle.stop_signal if container.lifecycle else None) or image.stop_signal
    if not sig:
        return DEFAULT_STOP_SIGNAL
    if sig.isdigit():
        return sig
    sig = sig.upper()
    return sig if sig.startswith("SIG") else "SIG" + sig


def _seccomp(sec: SC.Seccomp) -> str | dict[str, Any]:
    if sec.kind != SC.SECCOMP_LOCALHOST:
        return sec.kind
    path = sec.path or ""
    try:
        profile = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise CreateContainerError(f"failed to generate seccomp spec opts: cannot load seccomp "
                                   f"profile {path!r}: {e}") from None
    if not isinstance(profile, dict):
        raise CreateContainerError(f"seccomp profile {path!r} is not a JSON object")
    return profile


def _termination_file(ctx: PodContext, container: Container) -> Path:
    """A fresh empty file per container instance, mode 0666 so any user can write it."""
    d = ctx.pod_dir / "containers" / (container.name or "")
    d.mkdir(parents=True, exist_ok=True, mode=0o750)
    path = d / _random.token_hex(4)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o666)
    os.fchmod(fd, 0o666)
    os.close(fd)
    return path


def _volume_mounts(ctx: PodContext, container: Container, env_map: Mapping[str, str],
                   privileged: bool) -> list[dict[str, Any]]:
    spec = _spec(ctx.pod)
    by_name = {v.name: v for v in spec.volumes or ()}
    pvc_root = ctx.pvc_root or ctx.root / "persistent-volumes"
    # With a Bidirectional mount the root is rshared and the helper makes the rootfs's
    # parent mount private: a propagating source must not rely on that mount.
    rootfs_parent = ctx.root / "containers" / (container.name or "c") if any(
        vm.mount_propagation == SC.PROPAGATION_BIDIRECTIONAL
        for vm in container.volume_mounts or ()) else None
    out = []
    for i, vm in enumerate(container.volume_mounts or ()):
        volume = by_name.get(vm.name)
        if volume is None:
            raise CreateContainerConfigError(f"cannot find volume {vm.name!r} to mount into "
                                             f"container {container.name!r}")
        try:
            src = V.volume_host_path(ctx.pod, ctx.pod_dir, pvc_root, volume)
            if vm.sub_path_expr:
                sub = E.expand_sub_path_expr(vm.sub_path_expr, env_map)
            else:
                sub = E.check_sub_path(vm.sub_path or "")
            if volume.host_path is not None and not src.exists() and not sub:
                src.mkdir(parents=True, mode=0o755)  # containerd creates a missing source
            propagation = SC.propagation_option(vm.mount_propagation, privileged)
            if propagation in ("rslave", "rshared"):
                try:
                    V.ensure_shared_source(src, ctx.pod_dir, avoid=rootfs_parent)
                except V.VolumeError as e:  # containerd fails this in CreateContainer
                    raise CreateContainerError(str(e)) from None
            if sub:
                dest = (ctx.pod_dir / "volume-subpaths" / (vm.name or "")
                        / (container.name or "") / str(i))
                src = V.prepare_sub_path(src, sub, dest)
        except (E.EnvError, SC.SecurityContextError, V.VolumeError) as e:
            raise CreateContainerConfigError(str(e)) from None
        except OSError as e:
            raise CreateContainerConfigError(
                f"failed to prepare subPath for volumeMount {vm.name!r} of container "
                f"{container.name!r}: {e.strerror or e}") from None
        # configMap, secret, downwardAPI and projected volumes are always read-only
        # (since Kubernetes 1.10, CVE-2017-1002102).
        api_data = V.plugin_dir(volume) in (V.CONFIGMAP, V.SECRET, V.DOWNWARD_API, V.PROJECTED)
        out.append(M.bind_mount(str(src), vm.mount_path or "",
                                readonly=bool(vm.read_only) or api_data,
                                propagation=propagation))
    return out


def build_container(ctx: PodContext, container: Container, image: ImageConfig, *,
                    restart_count: int, is_init: bool) -> ContainerLaunch:
    """The init helper config for one instance of `container`. Raises
    CreateContainerConfigError / CreateContainerError with the kubelet's (containerd's)
    sentence. Creates the instance's termination-message file and subPath binds."""
    del restart_count, is_init  # same config for every instance and container kind
    spec = _spec(ctx.pod)
    facts = pod_facts(ctx)
    events: list[Event] = []
    try:
        env_result = E.make_environment(
            container, facts, configmap=_text_lookup(ctx, "configmap"),
            secret=_text_lookup(ctx, "secret"),
            resources_for=_resources_for(ctx, container))
    except E.EnvError as e:
        raise CreateContainerConfigError(str(e)) from None
    events.extend(env_result.events)
    env_map = env_result.as_map()
    command, args = E.expand_command_and_args(container.command, container.args, env_map)
    try:
        argv = E.container_argv(command, args, image.entrypoint, image.cmd)
    except E.EnvError as e:
        raise CreateContainerError(str(e)) from None
    hostname, _domain, kernel = pod_hostname(ctx)
    process_env = E.container_env(kernel, image.env, env_result.env)
    options = SC.SecurityOptions(
        seccomp_default=ctx.seccomp_default,
        seccomp_profile_root=str(ctx.seccomp_root or ctx.root / "seccomp"),
        allowed_unsafe_sysctls=ctx.allowed_unsafe_sysctls)
    try:
        sec = SC.process_security(spec, container, image.user, pod_display=pod_display(ctx.pod),
                                  options=options)
        sysctls = SC.pod_sysctls(spec, options)
    except SC.SecurityContextError as e:
        raise CreateContainerConfigError(str(e)) from None
    events.extend(sec.events)
    seccomp_profile = _seccomp(sec.seccomp)

    mounts = _volume_mounts(ctx, container, env_map, sec.privileged)
    destinations = {m["destination"].rstrip("/") for m in mounts}
    if "/etc/hosts" not in destinations and (ctx.pod_ips or spec.host_network):
        mounts.append(M.bind_mount(str(ctx.pod_dir / ETC_HOSTS), "/etc/hosts"))
    if "/etc/hostname" not in destinations:
        mounts.append(M.bind_mount(str(ctx.pod_dir / ETC_HOSTNAME), "/etc/hostname",
                                   readonly=sec.readonly_rootfs))
    if "/etc/resolv.conf" not in destinations:
        mounts.append(M.bind_mount(str(ctx.pod_dir / RESOLV_CONF), "/etc/resolv.conf",
                                   readonly=sec.readonly_rootfs))
    term_path: Path | None = None
    if container.termination_message_path:
        term_path = _termination_file(ctx, container)
        mounts.append(M.bind_mount(str(term_path), container.termination_message_path))
    # containerd orders CRI mounts by destination depth (parents first), stably.
    mounts.sort(key=lambda m: len([p for p in m["destination"].split("/") if p]))

    res = container.resources
    cgroup_values = container_cgroup_values(
        dict(res.requests or {}) if res else {}, dict(res.limits or {}) if res else {},
        ctx.cgroup_options)
    try:
        config = ocispec.build_config(
            argv, env=process_env, cwd=container.working_dir or image.working_dir or "/",
            user=sec.user, groups=sec.groups, rootfs="", readonly_rootfs=sec.readonly_rootfs,
            mounts=mounts, shm_source=str(ctx.shm_path) if ctx.shm_path else None,
            privileged=sec.privileged, cap_add=sec.cap_add, cap_drop=sec.cap_drop,
            seccomp_profile=seccomp_profile, no_new_privs=sec.no_new_privs,
            masked_paths=sec.masked_paths, readonly_paths=sec.readonly_paths,
            sysctls=sysctls or None,
            hostname=None if spec.host_network else kernel,
            pid_namespace=not (spec.share_process_namespace or spec.host_pid))
    except ValueError as e:  # an unknown capability name
        raise CreateContainerConfigError(str(e)) from None
    # containerd: rshared with a Bidirectional mount, rslave with a HostToContainer one.
    root_propagation = M.rootfs_propagation(mounts)
    if root_propagation:
        config.setdefault("linux", {})["rootfsPropagation"] = root_propagation
    del hostname
    return ContainerLaunch(config=config, cgroup_values=cgroup_values,
                           stop_signal=_stop_signal(container, image),
                           termination_message_path=term_path, events=tuple(events))


def cleanup_pod(ctx_or_pod_dir: PodContext | Path | str) -> None:
    """Unmount the pod's tmpfs volumes and subPath binds, remove pod_dir (nothing left)."""
    pod_dir = ctx_or_pod_dir.pod_dir if isinstance(ctx_or_pod_dir, PodContext) \
        else Path(ctx_or_pod_dir)
    try:
        V.teardown(pod_dir)
    except V.VolumeError as e:
        raise PodrunError(f"cleanup of {pod_dir}: {e}") from None


__all__ = ["ContainerLaunch", "CreateContainerConfigError", "CreateContainerError",
           "ImageConfig", "PodContext", "build_container", "cleanup_pod",
           "pod_display", "pod_hostname", "prepare_pod"]
