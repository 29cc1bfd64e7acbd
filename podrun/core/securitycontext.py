"""Pod and container securityContext -> the init helper's process and sandbox settings.

Pure: the kubelet's rules (pkg/securitycontext/util.go DetermineEffectiveSecurityContext,
kuberuntime/security_context.go, security_context_others.go verifyRunAsNonRoot,
getSeccompProfile, pkg/kubelet/sysctl/allowlist.go) and containerd's user string
(generateUserString). The caller reads files (Localhost seccomp profiles) and builds the
config with podrun.runtime.ocispec.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from podrun.spec.types import (
    Capabilities,
    Container,
    PodSecurityContext,
    PodSpec,
    SeccompProfile,
    SecurityContext,
)

Event = tuple[str, str, str]

SECCOMP_RUNTIME_DEFAULT = "RuntimeDefault"
SECCOMP_UNCONFINED = "Unconfined"
SECCOMP_LOCALHOST = "Localhost"

PROPAGATION_NONE = "None"
PROPAGATION_HOST_TO_CONTAINER = "HostToContainer"
PROPAGATION_BIDIRECTIONAL = "Bidirectional"

# K8S pkg/kubelet/sysctl/safe_sysctls.go: name -> namespace ("ipc" / "net").
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced": "ipc",
    "net.ipv4.ip_local_port_range": "net",
    "net.ipv4.tcp_syncookies": "net",
    "net.ipv4.ping_group_range": "net",
    "net.ipv4.ip_unprivileged_port_start": "net",
    "net.ipv4.ip_local_reserved_ports": "net",
    "net.ipv4.tcp_keepalive_time": "net",
    "net.ipv4.tcp_fin_timeout": "net",
    "net.ipv4.tcp_keepalive_intvl": "net",
    "net.ipv4.tcp_keepalive_probes": "net",
    "net.ipv4.tcp_rmem": "net",
    "net.ipv4.tcp_wmem": "net",
}
# K8S pkg/proxy/util/sysctl + component-helpers NamespacedBy: what allowedUnsafeSysctls may
# name (everything else is node-wide and never allowed).
_NAMESPACED_PREFIXES = (("kernel.shm", "ipc"), ("kernel.msg", "ipc"), ("fs.mqueue.", "ipc"),
                        ("net.", "net"))
_NAMESPACED_EXACT = {"kernel.sem": "ipc"}


class SecurityContextError(ValueError):
    """The container cannot be configured (the kubelet's CreateContainerConfigError)."""


@dataclass(frozen=True)
class SecurityOptions:
    """Node settings that change the translation (KubeletConfiguration names)."""

    seccomp_default: bool = False  # --seccomp-default / seccompDefault: RuntimeDefault if unset
    seccomp_profile_root: str = "/var/lib/podrun/seccomp"  # <root>/seccomp
    allowed_unsafe_sysctls: tuple[str, ...] = ()  # allowedUnsafeSysctls (patterns with *)


@dataclass(frozen=True)
class Seccomp:
    """The profile to apply: kind RuntimeDefault / Unconfined, or Localhost with a host path."""

    kind: str
    path: str | None = None


@dataclass(frozen=True)
class ProcessSecurity:
    """What build_config needs from the security context."""

    user: str  # for the helper: "uid", "uid:gid", "name" or "name:gid"
    groups: tuple[int, ...]  # additional gids: fsGroup, then supplementalGroups
    privileged: bool
    cap_add: tuple[str, ...]
    cap_drop: tuple[str, ...]
    no_new_privs: bool
    readonly_rootfs: bool
    seccomp: Seccomp
    masked_paths: tuple[str, ...] | None  # None = the runtime's defaults; () = Unmasked
    readonly_paths: tuple[str, ...] | None
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Effective:
    """DetermineEffectiveSecurityContext: container fields win over pod fields."""

    run_as_user: int | None
    run_as_group: int | None
    run_as_non_root: bool | None
    privileged: bool
    allow_privilege_escalation: bool | None
    capabilities: Capabilities | None
    read_only_root_filesystem: bool
    proc_mount: str | None


def effective(pod_sc: PodSecurityContext | None, sc: SecurityContext | None) -> Effective:
    def pick(name: str) -> object:
        c = getattr(sc, name, None) if sc is not None else None
        if c is not None:
            return c
        return getattr(pod_sc, name, None) if pod_sc is not None else None

    run_as_user = pick("run_as_user")
    run_as_group = pick("run_as_group")
    run_as_non_root = pick("run_as_non_root")
    s = sc or SecurityContext()
    return Effective(
        run_as_user=run_as_user if isinstance(run_as_user, int) else None,
        run_as_group=run_as_group if isinstance(run_as_group, int) else None,
        run_as_non_root=run_as_non_root if isinstance(run_as_non_root, bool) else None,
        privileged=bool(s.privileged),
        allow_privilege_escalation=s.allow_privilege_escalation,
        capabilities=s.capabilities,
        read_only_root_filesystem=bool(s.read_only_root_filesystem),
        proc_mount=s.proc_mount,
    )


def image_user(user: str) -> tuple[int | None, str]:
    """containerd getUserFromImage: (uid, "") for a numeric user, (None, name) for a name;
    an empty image user is root (the kubelet treats "neither" as uid 0)."""
    if not user:
        return 0, ""
    name = user.split(":", 1)[0]
    try:
        uid = int(name, 10)
    except ValueError:
        return None, name
    return (uid, "") if uid >= 0 else (None, name)


def verify_run_as_non_root(eff: Effective, uid: int | None, username: str, pod_display: str,
                           container_name: str) -> None:
    """verifyRunAsNonRoot with the kubelet's sentences. pod_display is format.Pod:
    `name_namespace(uid)`."""
    if not eff.run_as_non_root:
        return
    if eff.run_as_user is not None:
        if eff.run_as_user == 0:
            raise SecurityContextError(
                f"container's runAsUser breaks non-root policy (pod: \"{pod_display}\", "
                f"container: {container_name})")
        return
    if uid is not None and uid == 0:
        raise SecurityContextError(
            f"container has runAsNonRoot and image will run as root (pod: \"{pod_display}\", "
            f"container: {container_name})")
    if uid is None and username:
        raise SecurityContextError(
            f"container has runAsNonRoot and image has non-numeric user ({username}), cannot "
            f"verify user is non-root (pod: \"{pod_display}\", container: {container_name})")


def user_string(eff: Effective, image_user_value: str) -> str:
    """containerd generateUserString over the kubelet's RunAsUser/RunAsUsername: runAsUser,
    else the image's uid or user name; `:runAsGroup` when set. The image's own group is
    dropped once a uid is known, as with containerd."""
    uid, username = image_user(image_user_value)
    if eff.run_as_user is not None:
        base = str(eff.run_as_user)
    elif uid is not None:
        base = str(uid)
    else:
        base = username
    if eff.run_as_group is not None:
        return f"{base}:{eff.run_as_group}"
    return base


def seccomp_for(pod_sc: PodSecurityContext | None, sc: SecurityContext | None,
                options: SecurityOptions) -> Seccomp:
    """getSeccompProfile: the container's field, else the pod's, else RuntimeDefault with
    seccompDefault, else Unconfined."""
    prof: SeccompProfile | None = None
    if sc is not None and sc.seccomp_profile is not None:
        prof = sc.seccomp_profile
    elif pod_sc is not None and pod_sc.seccomp_profile is not None:
        prof = pod_sc.seccomp_profile
    if prof is None:
        return Seccomp(SECCOMP_RUNTIME_DEFAULT if options.seccomp_default else SECCOMP_UNCONFINED)
    kind = prof.type or ""
    if kind == SECCOMP_RUNTIME_DEFAULT:
        return Seccomp(SECCOMP_RUNTIME_DEFAULT)
    if kind == SECCOMP_UNCONFINED:
        return Seccomp(SECCOMP_UNCONFINED)
    if kind == SECCOMP_LOCALHOST:
        name = prof.localhost_profile or ""
        if not name:
            raise SecurityContextError("localhostProfile must be set if seccompProfile type "
                                       "is Localhost.")
        path = posixpath.normpath(posixpath.join(options.seccomp_profile_root, name))
        root = posixpath.normpath(options.seccomp_profile_root)
        if not path.startswith(root + "/"):
            raise SecurityContextError(f"localhostProfile {name!r} is outside the seccomp "
                                       f"profile root {root}")
        return Seccomp(SECCOMP_LOCALHOST, path)
    raise SecurityContextError(f"unknown seccomp profile type: {kind}")


def process_security(spec: PodSpec, container: Container, image_user_value: str, *,
                     pod_display: str, options: SecurityOptions = SecurityOptions()
                     ) -> ProcessSecurity:
    """The whole translation for one container; raises SecurityContextError."""
    pod_sc = spec.security_context
    sc = container.security_context
    eff = effective(pod_sc, sc)
    uid, username = image_user(image_user_value)
    verify_run_as_non_root(eff, uid, username, pod_display, container.name or "")
    groups: list[int] = []
    events: list[Event] = []
    if pod_sc is not None:
        if pod_sc.fs_group is not None:
            groups.append(pod_sc.fs_group)
        groups.extend(pod_sc.supplemental_groups or ())
        if pod_sc.supplemental_groups_policy == "Strict":
            events.append(("Warning", "NotEnforced",
                           "securityContext.supplementalGroupsPolicy Strict is not enforced "
                           "by podrun: the groups of the image's /etc/group are still added"))
    for ctx in (pod_sc, sc):
        if ctx is not None and ctx.se_linux_options is not None:
            events.append(("Warning", "NotEnforced",
                           "securityContext.seLinuxOptions is not enforced by podrun"))
            break
    for ctx in (pod_sc, sc):
        prof = getattr(ctx, "app_armor_profile", None) if ctx is not None else None
        if prof is not None and prof.type not in (None, "Unconfined"):
            events.append(("Warning", "NotEnforced",
                           "securityContext.appArmorProfile is not enforced by podrun"))
            break
    caps = eff.capabilities
    unmasked = eff.proc_mount == "Unmasked"
    return ProcessSecurity(
        user=user_string(eff, image_user_value),
        groups=tuple(groups),
        privileged=eff.privileged,
        cap_add=tuple(caps.add or ()) if caps else (),
        cap_drop=tuple(caps.drop or ()) if caps else (),
        no_new_privs=eff.allow_privilege_escalation is False,
        readonly_rootfs=eff.read_only_root_filesystem,
        seccomp=seccomp_for(pod_sc, sc, options),
        masked_paths=() if unmasked else None,
        readonly_paths=() if unmasked else None,
        events=tuple(events),
    )


# ---- sysctls -------------------------------------------------------------------------------


def normalize_sysctl(name: str) -> str:
    """utilsysctl.NormalizeName: `net/ipv4/ip_forward` -> `net.ipv4.ip_forward`."""
    first = min((i for i in (name.find("."), name.find("/")) if i >= 0), default=-1)
    if first >= 0 and name[first] == "/":
        return name.translate(str.maketrans("/.", "./"))
    return name


def _namespace_of(name: str) -> str | None:
    if name in _NAMESPACED_EXACT:
        return _NAMESPACED_EXACT[name]
    for prefix, ns in _NAMESPACED_PREFIXES:
        if name.startswith(prefix):
            return ns
    return None


def sysctl_error(name: str, *, host_network: bool, host_ipc: bool,
                 allowed_unsafe: Sequence[str] = ()) -> str | None:
    """patternAllowlist.validateSysctl: None if allowed, else the kubelet's reason."""
    name = normalize_sysctl(name)
    ns: str | None = None
    if name in SAFE_SYSCTLS:
        ns = SAFE_SYSCTLS[name]
    else:
        for pattern in allowed_unsafe:
            if (pattern.endswith("*") and name.startswith(pattern[:-1])) or pattern == name:
                ns = _namespace_of(name)
                break
        else:
            return f'"{name}" not allowlisted'
    if ns == "ipc" and host_ipc:
        return f'"{name}" not allowed with host ipc enabled'
    if ns == "net" and host_network:
        return f'"{name}" not allowed with host net enabled'
    return None


def pod_sysctls(spec: PodSpec, options: SecurityOptions = SecurityOptions()) -> dict[str, str]:
    """The pod's sysctls for the helper; raises SecurityContextError with the admission
    message (`forbidden sysctl: ...`, reason SysctlForbidden) for one that is not allowed."""
    out: dict[str, str] = {}
    sc = spec.security_context
    for s in (sc.sysctls or ()) if sc is not None else ():
        name = normalize_sysctl(s.name or "")
        err = sysctl_error(name, host_network=bool(spec.host_network),
                           host_ipc=bool(spec.host_ipc),
                           allowed_unsafe=options.allowed_unsafe_sysctls)
        if err:
            raise SecurityContextError(f"forbidden sysctl: {err}")
        out[name] = s.value or ""
    return out


def propagation_option(mode: str | None, privileged: bool) -> str:
    """mountPropagation -> the OCI propagation word (containerd): None -> rprivate,
    HostToContainer -> rslave, Bidirectional -> rshared (privileged containers only)."""
    if mode in (None, "", PROPAGATION_NONE):
        return "rprivate"
    if mode == PROPAGATION_HOST_TO_CONTAINER:
        return "rslave"
    if mode == PROPAGATION_BIDIRECTIONAL:
        if not privileged:
            raise SecurityContextError("Bidirectional mount propagation is available only to "
                                       "privileged containers")
        return "rshared"
    raise SecurityContextError(f"invalid mount propagation mode {mode!r}")
