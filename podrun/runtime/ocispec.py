"""Builds the per-container config document the init helper reads (OCI config.json shape).

Pure: explicit parameters in, a JSON-ready dict out. The lifecycle engine maps a Kubernetes
container onto these parameters; docs/init-helper.md describes every field.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from podrun.runtime import capabilities as caps
from podrun.runtime import mounts as M
from podrun.runtime import seccomp

OCI_VERSION = "1.1.0"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_RLIMIT_NAMES = {"AS", "CORE", "CPU", "DATA", "FSIZE", "LOCKS", "MEMLOCK", "MSGQUEUE",
                 "NICE", "NOFILE", "NPROC", "RSS", "RTPRIO", "RTTIME", "SIGPENDING", "STACK"}


def build_config(
    args: Sequence[str],
    *,
    env: Iterable[str] | Mapping[str, str] = (),
    cwd: str = "/",
    uid: int = 0,
    gid: int = 0,
    groups: Iterable[int] = (),
    user: str | None = None,
    umask: int | None = 0o022,
    rootfs: str,
    overlay: Mapping[str, Any] | None = None,
    readonly_rootfs: bool = False,
    mounts: Iterable[Mapping[str, Any]] = (),
    shm_source: str | None = None,
    privileged: bool = False,
    cap_add: Iterable[str] = (),
    cap_drop: Iterable[str] = (),
    seccomp_profile: str | Mapping[str, Any] | None = "RuntimeDefault",
    no_new_privs: bool = False,
    masked_paths: Sequence[str] | None = None,
    readonly_paths: Sequence[str] | None = None,
    sysctls: Mapping[str, str] | None = None,
    hostname: str | None = None,
    cgroup_path: str | None = None,
    rlimits: Mapping[str, tuple[int, int]] | None = None,
    pid_namespace: bool = True,
    cgroup_namespace: bool = True,
    devices: Iterable[Mapping[str, Any]] = (),
    precompile_seccomp: bool = True,
) -> dict[str, Any]:
    """One container's config document.

    args: the final argv (command + args, already $(VAR)-expanded by the engine).
    env: "K=V" strings or a mapping, in order; PATH is added when missing (the image
      normally supplies it). uid/gid/groups: numeric identity; `user` ("name", "uid",
      "name:group") is instead resolved in the rootfs's /etc/passwd and /etc/group by the
      helper, and then also adds the groups the user is a member of (containerd does so).
    rootfs: the directory that becomes "/"; with `overlay` ({"lowerdirs": [...],
      "upperdir": ..., "workdir": ...}) the helper mounts the overlay onto it first.
    mounts: extra OCI mounts (volumes, /etc/hosts, ...) applied after the defaults, in order.
    seccomp_profile: "RuntimeDefault", "Unconfined"/None, or an OCI seccomp object.
    masked_paths/readonly_paths: None = containerd's defaults (none when privileged).
    pid_namespace: False for shareProcessNamespace / hostPID (the helper then checks
      nothing about being PID 1). cgroup_namespace: a private cgroup namespace, as
      containerd gives on cgroup v2.
    precompile_seccomp: also put the compiled BPF program into podrun.seccompBpf (cached
      per distinct profile), so the helper skips libseccomp's ~15 ms compilation.
    """
    if not args:
        raise ValueError("args must not be empty")
    env_list = [f"{k}={v}" for k, v in env.items()] if isinstance(env, Mapping) else list(env)
    if not any(e.startswith("PATH=") for e in env_list):
        env_list.insert(0, f"PATH={DEFAULT_PATH}")
    capset = caps.container_capabilities(privileged, cap_add, cap_drop)
    proc: dict[str, Any] = {
        "terminal": False,
        # containerd lists the primary gid among the supplementary groups too (with
        # `user`, the helper adds the gid it resolves).
        "user": {"uid": uid, "gid": gid,
                 "additionalGids": sorted(set(groups)) if user is not None
                 else [gid, *sorted(set(groups) - {gid})]},
        "args": list(args),
        "env": env_list,
        "cwd": cwd or "/",
        "capabilities": capset,
        "noNewPrivileges": bool(no_new_privs),
    }
    if umask is not None:
        proc["user"]["umask"] = umask
    if rlimits:
        proc["rlimits"] = []
        for name, (soft, hard) in rlimits.items():
            n = name.upper().removeprefix("RLIMIT_")
            if n not in _RLIMIT_NAMES:
                raise ValueError(f"unknown rlimit {name!r}")
            proc["rlimits"].append({"type": "RLIMIT_" + n, "soft": soft, "hard": hard})

    namespaces = [{"type": "mount"}]
    if pid_namespace:
        namespaces.append({"type": "pid"})
    if cgroup_namespace:
        namespaces.append({"type": "cgroup"})
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "maskedPaths": [] if privileged else list(
            M.DEFAULT_MASKED_PATHS if masked_paths is None else masked_paths),
        "readonlyPaths": [] if privileged else list(
            M.DEFAULT_READONLY_PATHS if readonly_paths is None else readonly_paths),
        "devices": [dict(d) for d in devices],
    }
    if cgroup_path:
        linux["cgroupsPath"] = cgroup_path
    if sysctls:
        linux["sysctl"] = dict(sysctls)
    if not privileged and seccomp_profile not in (None, "Unconfined"):
        if seccomp_profile == "RuntimeDefault":
            linux["seccomp"] = seccomp.runtime_default(capset["bounding"])
        elif isinstance(seccomp_profile, Mapping):
            linux["seccomp"] = dict(seccomp_profile)
        else:
            raise ValueError(f"unknown seccomp profile {seccomp_profile!r}")

    config: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": proc,
        "root": {"path": rootfs, "readonly": bool(readonly_rootfs)},
        "mounts": M.default_mounts(shm_source=shm_source, privileged=privileged)
        + [dict(m) for m in mounts],
        "linux": linux,
        "podrun": {"hostDevices": bool(privileged)},
    }
    if precompile_seccomp and "seccomp" in linux:
        config["podrun"]["seccompBpf"] = _compiled(json.dumps(linux["seccomp"], sort_keys=True))
    if hostname is not None:
        config["hostname"] = hostname
    if overlay is not None:
        config["podrun"]["overlay"] = {
            "lowerdirs": list(overlay["lowerdirs"]), "upperdir": overlay.get("upperdir"),
            "workdir": overlay.get("workdir")}
    if user is not None:
        config["podrun"]["user"] = user
    return config


@functools.lru_cache(maxsize=32)
def _compiled(profile_json: str) -> str:
    return base64.b64encode(seccomp.compile_bpf(json.loads(profile_json))).decode()
