"""Pod volumes on the host, laid out as the kubelet does under the pod directory.

    <pod_dir>/volumes/kubernetes.io~empty-dir/<name>     emptyDir (tmpfs for medium Memory)
    <pod_dir>/volumes/kubernetes.io~configmap/<name>     atomic-writer layout (..data swap)
    <pod_dir>/volumes/kubernetes.io~secret/<name>        the same, on tmpfs
    <pod_dir>/volumes/kubernetes.io~downward-api/<name>  the same
    <pod_dir>/volumes/kubernetes.io~projected/<name>     the same, on tmpfs
    <pod_dir>/volume-subpaths/<volume>/<container>/<i>   subPath bind mounts (safe open)
    <root>/persistent-volumes/<namespace>/<claim>        persistentVolumeClaim (a local dir)

Sources: K8S pkg/volume/emptydir, configmap, secret, downwardapi, projected, hostpath
(checkType), pkg/volume/util/atomic_writer.go, pkg/volume/volume_linux.go
(SetVolumeOwnership), pkg/volume/util/subpath/subpath_linux.go. docs/volumes.md.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from podrun.core import env as E
from podrun.errors import PodrunError
from podrun.runtime import mounts as M
from podrun.runtime import syscalls
from podrun.runtime.mounts import mounts_under  # re-exported: tests and callers use it here
from podrun.spec.quantity import quantity_from_json
from podrun.spec.types import DownwardAPIVolumeFile, KeyToPath, Pod, Volume

EMPTY_DIR = "kubernetes.io~empty-dir"
CONFIGMAP = "kubernetes.io~configmap"
SECRET = "kubernetes.io~secret"
DOWNWARD_API = "kubernetes.io~downward-api"
PROJECTED = "kubernetes.io~projected"
DATA_DIR = "..data"
DATA_TMP = "..data_tmp"
DEFAULT_MODE = 0o644

Event = tuple[str, str, str]
ObjectLookup = Callable[[str, str], dict[str, Any] | None]

HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket",
                   "CharDevice", "BlockDevice")


class VolumeError(PodrunError):
    """One volume could not be set up; the message is the kubelet's cause."""


class VolumeSetupError(PodrunError):
    """Some pod volumes could not be set up (the pod stays ContainerCreating and the sync
    retries). `events` holds every event of this prepare_pod run, FailedMount ones included;
    `failed` the names of the volumes that failed."""

    def __init__(self, failed: list[str], events: list[Event]) -> None:
        self.failed = failed
        self.events = events
        super().__init__("Unable to attach or mount volumes: unmounted volumes=["
                         + " ".join(failed) + "]")


@dataclass
class VolumeContext:
    """What volume setup needs to know about the pod and its node."""

    pod: Pod
    pod_dir: Path
    facts: E.PodFacts
    configmaps: ObjectLookup
    secrets: ObjectLookup
    resources_for: Callable[[str], E.ContainerResourceView]
    pvc_root: Path
    events: list[Event] = field(default_factory=list)


# ---- object data -------------------------------------------------------------------------


def configmap_data(obj: Mapping[str, Any] | None, *, with_binary: bool) -> dict[str, bytes] | None:
    """A v1 ConfigMap dict's data (and base64 binaryData) as bytes; None when absent."""
    if obj is None:
        return None
    out = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    if with_binary:
        for k, v in (obj.get("binaryData") or {}).items():
            out[k] = _b64(v)
    return out


def secret_data(obj: Mapping[str, Any] | None) -> dict[str, bytes] | None:
    """A v1 Secret dict's base64 data plus its stringData (which wins, as on the API)."""
    if obj is None:
        return None
    out = {k: _b64(v) for k, v in (obj.get("data") or {}).items()}
    for k, v in (obj.get("stringData") or {}).items():
        out[k] = str(v).encode()
    return out


def _b64(v: Any) -> bytes:
    try:
        return base64.b64decode(str(v), validate=True)
    except (binascii.Error, ValueError):
        return str(v).encode()


def as_text(data: Mapping[str, bytes] | None) -> dict[str, str] | None:
    """For env: Go's string([]byte); invalid UTF-8 becomes U+FFFD."""
    if data is None:
        return None
    return {k: v.decode("utf-8", "replace") for k, v in data.items()}


# ---- paths ---------------------------------------------------------------------------------


def plugin_dir(volume: Volume) -> str | None:
    if volume.empty_dir is not None:
        return EMPTY_DIR
    if volume.config_map is not None:
        return CONFIGMAP
    if volume.secret is not None:
        return SECRET
    if volume.downward_api is not None:
        return DOWNWARD_API
    if volume.projected is not None:
        return PROJECTED
    return None


def volume_host_path(pod: Pod, pod_dir: Path, pvc_root: Path, volume: Volume) -> Path:
    """The host directory (or file, for hostPath) a volume's mounts bind from."""
    plugin = plugin_dir(volume)
    if plugin is not None:
        return pod_dir / "volumes" / plugin / (volume.name or "")
    if volume.host_path is not None:
        return Path(volume.host_path.path or "")
    if volume.persistent_volume_claim is not None:
        ns = (pod.metadata.namespace if pod.metadata else None) or "default"
        return pvc_root / ns / (volume.persistent_volume_claim.claim_name or "")
    raise VolumeError(f"{unsupported_kind(volume)} volumes are not supported by podrun")


def unsupported_kind(volume: Volume) -> str:
    """The JSON name of the volume's source ("nfs", "ephemeral", ...)."""
    for fl in fields(volume):
        if fl.name != "name" and getattr(volume, fl.name) is not None:
            return str(fl.metadata["json"])
    return "unknown"


# ---- mounts --------------------------------------------------------------------------------


def is_mounted(path: Path) -> bool:
    return str(path).rstrip("/") in mounts_under(path)


def mount_tmpfs(path: Path, size_bytes: int | None = None) -> None:
    """A tmpfs at path (once), as the kubelet's memory-backed emptyDir (size=sizeLimit)."""
    if is_mounted(path):
        return
    data = f"size={size_bytes}" if size_bytes else None
    try:
        syscalls.mount("tmpfs", str(path), "tmpfs", 0, data)
    except OSError as e:
        raise VolumeError(f"mount tmpfs on {path}: {e.strerror or e}") from None


def unmount_all(prefix: Path) -> None:
    """Detach every mount at or below prefix, deepest first."""
    for mp in mounts_under(prefix):
        try:
            syscalls.umount2(mp, syscalls.MNT_DETACH)
        except OSError:
            pass


# ---- mount propagation sources ---------------------------------------------------------------

SHARED_RECORD = "shared-mounts"  # <pod_dir>/...: host sources this pod's propagating mounts use
SHARED_MARKERS = "shared-mounts"  # <root>/.../<hash>: one file per shared bind podrun made
_shared_lock = threading.Lock()  # pod workers are threads: check-and-bind is one step


def _marker(root: Path, path: str) -> Path:
    return root / SHARED_MARKERS / hashlib.sha256(path.encode()).hexdigest()[:32]


def ensure_shared_source(source: Path, pod_dir: Path, *, avoid: Path | None = None) -> bool:
    """Make `source`, the host side of a HostToContainer or Bidirectional volumeMount, lie on
    a shared mount: the container's copy of it is then a slave (rslave) or a peer (rshared)
    of the host's, so mounts made later reach the container (and, rshared, come back).

    The kubelet keeps its root directory an rshared mount and containerd only checks the
    source ("... is not a shared mount"). podrun does what the kubelet does for its own
    directories, for any source: when the mount holding `source` is not shared, or is the
    mount `avoid` lies on (the rootfs's parent, which the helper makes private for rshared
    roots), `source` is bound onto itself and that bind made shared (a podrun mount point
    below pod_dir, such as a Memory emptyDir's tmpfs, is just made shared). Sources outside
    pod_dir are recorded in `<pod_dir>/shared-mounts`, and podrun's binds get a marker in
    `<root>/shared-mounts/`; `teardown` unmounts a bind once no pod records it.
    Returns True when a mount was made or changed."""
    real = os.path.realpath(source)
    pod = os.path.realpath(pod_dir)
    inside = real == pod or real.startswith(pod + "/")
    root = pod_dir.parent.parent
    with _shared_lock:
        if not inside:
            _record_shared(pod_dir, real)
        infos = M.parse_mountinfo(Path("/proc/self/mountinfo").read_text())
        m = M.mount_containing(real, infos)
        bad = M.mount_containing(os.path.realpath(avoid), infos) if avoid is not None else None
        if m is not None and m.shared and (bad is None or bad.mount_id != m.mount_id):
            return False
        try:
            if not (inside and m is not None and m.mount_point == real):
                syscalls.mount(real, real, None, syscalls.MS_BIND | syscalls.MS_REC)
                if not inside:
                    marker = _marker(root, real)
                    marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    marker.write_text(real + "\n")
            syscalls.mount(None, real, None, syscalls.MS_SHARED)
        except OSError as e:
            raise VolumeError(f"make {real} a shared mount (mountPropagation): "
                              f"{e.strerror or e}") from None
        return True


def _record_shared(pod_dir: Path, path: str) -> None:
    rec = pod_dir / SHARED_RECORD
    have = _recorded(rec)
    if path not in have:
        pod_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        with open(rec, "a") as f:
            f.write(path + "\n")


def _recorded(rec: Path) -> list[str]:
    try:
        return [line for line in rec.read_text().splitlines() if line]
    except OSError:
        return []


def release_shared_sources(pod_dir: Path) -> None:
    """Unmount the shared binds podrun made for this pod's sources outside pod_dir that no
    other pod (a sibling of pod_dir that recorded the same path) still uses."""
    mine = _recorded(pod_dir / SHARED_RECORD)
    if not mine:
        return
    root = pod_dir.parent.parent
    with _shared_lock:
        others: set[str] = set()
        try:
            siblings = [p for p in pod_dir.parent.iterdir() if p.name != pod_dir.name]
        except OSError:
            siblings = []
        for sib in siblings:
            others.update(_recorded(sib / SHARED_RECORD))
        for path in mine:
            marker = _marker(root, path)
            if path in others or not marker.exists():
                continue
            if is_mounted(Path(path)):
                try:
                    syscalls.umount2(path, syscalls.MNT_DETACH)
                except OSError as e:
                    raise VolumeError(f"unmount shared bind {path}: {e.strerror or e}") \
                        from None
            marker.unlink(missing_ok=True)
        (pod_dir / SHARED_RECORD).unlink(missing_ok=True)


# ---- atomic writer (pkg/volume/util/atomic_writer.go) ---------------------------------------


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int


def _validate_payload_path(p: str) -> str:
    """validatePath: relative, no `..` component, not starting with `..`."""
    if not p:
        raise VolumeError("invalid path: must not be empty")
    if p.startswith("/"):
        raise VolumeError(f"invalid path: must be relative path: {p}")
    parts = p.split("/")
    if ".." in parts:
        raise VolumeError(f"invalid path: must not contain '..': {p}")
    if p.startswith(".."):
        raise VolumeError(f"invalid path: must not start with '..': {p}")
    return os.path.normpath(p)


def _current_payload(target: Path) -> dict[str, FileProjection] | None:
    data_dir = target / DATA_DIR
    if not data_dir.is_symlink():
        return None
    out = {}
    base = target / os.readlink(data_dir)
    for dirpath, _dirs, files in os.walk(base):
        for name in files:
            full = Path(dirpath) / name
            st = full.lstat()
            out[str(full.relative_to(base))] = FileProjection(full.read_bytes(),
                                                              stat.S_IMODE(st.st_mode))
    return out


def atomic_write(target: Path, payload: Mapping[str, FileProjection],
                 fs_group: int | None = None) -> bool:
    """Write payload under target as the kubelet's AtomicWriter: a fresh `..<timestamp>`
    directory, `..data` swapped to it with one rename, user-visible top-level names as
    symlinks through `..data`. Returns False when the content was already current."""
    clean = {_validate_payload_path(p): f for p, f in payload.items()}
    target.mkdir(parents=True, exist_ok=True)
    if _current_payload(target) == clean:
        _sync_user_visible(target, clean)
        return False
    ts_dir = Path(tempfile.mkdtemp(prefix=time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()),
                                   dir=target))
    ts_dir.chmod(0o755)
    for rel, proj in clean.items():
        full = ts_dir / rel
        full.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            os.write(fd, proj.data)
            os.fchmod(fd, proj.mode & 0o7777)
            if fs_group is not None:
                os.fchown(fd, -1, fs_group)
        finally:
            os.close(fd)
    old = os.readlink(target / DATA_DIR) if (target / DATA_DIR).is_symlink() else None
    tmp_link = target / DATA_TMP
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(ts_dir.name, tmp_link)
    os.rename(tmp_link, target / DATA_DIR)  # the atomic swap
    _sync_user_visible(target, clean)
    if old and old != ts_dir.name:
        shutil.rmtree(target / old, ignore_errors=True)
    return True


def _sync_user_visible(target: Path, payload: Mapping[str, FileProjection]) -> None:
    wanted = {p.split("/", 1)[0] for p in payload}
    for name in wanted:
        link = target / name
        if not link.is_symlink():
            if link.exists():
                shutil.rmtree(link) if link.is_dir() else link.unlink()
            os.symlink(f"{DATA_DIR}/{name}", link)
    for entry in os.listdir(target):
        if entry.startswith("..") or entry in wanted:
            continue
        p = target / entry
        if p.is_symlink() or p.is_file():
            p.unlink()
        else:
            shutil.rmtree(p, ignore_errors=True)


# ---- fsGroup (SetVolumeOwnership) -------------------------------------------------------------


def set_volume_ownership(path: Path, fs_group: int, *, read_only: bool = False,
                         policy: str | None = None) -> None:
    """chgrp -R fsGroup, g+rw (g+r read-only), setgid + g+x on directories; symlinks
    only chgrp'd. OnRootMismatch skips a root that already matches."""
    rw, ro, exe = 0o660, 0o440, 0o110
    if policy == "OnRootMismatch":
        st = os.lstat(path)
        mask = ro if read_only else rw
        if (st.st_gid == fs_group and st.st_mode & (mask | exe) == (mask | exe)
                and st.st_mode & stat.S_ISGID):
            return
    for dirpath, dirs, files in os.walk(path):
        for name in [dirpath, *(os.path.join(dirpath, n) for n in dirs + files)]:
            st = os.lstat(name)
            os.lchown(name, -1, fs_group)
            if stat.S_ISLNK(st.st_mode):
                continue
            mask = ro if read_only else rw
            if stat.S_ISDIR(st.st_mode):
                mask |= stat.S_ISGID | exe
            os.chmod(name, stat.S_IMODE(st.st_mode) | mask)


# ---- hostPath (pkg/volume/hostpath checkType) -----------------------------------------------


def check_host_path(path: str, path_type: str | None) -> None:
    """The kubelet's type check (and creation for *OrCreate), with its messages."""
    t = path_type or ""
    if t == "":
        return
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise VolumeError(f"hostPath type check failed: {path}: {e.strerror}") from None
    if t == "DirectoryOrCreate" and st is None:
        os.makedirs(path, 0o755, exist_ok=True)
        return
    if t in ("DirectoryOrCreate", "Directory"):
        if st is None or not stat.S_ISDIR(st.st_mode):
            raise VolumeError(f"hostPath type check failed: {path} is not a directory")
        return
    if t == "FileOrCreate" and st is None:
        os.makedirs(os.path.dirname(path) or "/", 0o755, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        return
    if t in ("FileOrCreate", "File"):
        if st is None or not stat.S_ISREG(st.st_mode):
            raise VolumeError(f"hostPath type check failed: {path} is not a file")
        return
    if t == "Socket":
        if st is None or not stat.S_ISSOCK(st.st_mode):
            raise VolumeError(f"hostPath type check failed: {path} is not a socket file")
        return
    if t == "CharDevice":
        if st is None or not stat.S_ISCHR(st.st_mode):
            raise VolumeError(f"hostPath type check failed: {path} is not a character device")
        return
    if t == "BlockDevice":
        if st is None or not stat.S_ISBLK(st.st_mode):
            raise VolumeError(f"hostPath type check failed: {path} is not a block device")
        return
    raise VolumeError(f"{t} is an invalid volume type")


# ---- payloads ---------------------------------------------------------------------------------


def _key_payload(kind: str, data: Mapping[str, bytes], items: tuple[KeyToPath, ...] | None,
                 default_mode: int, optional: bool) -> dict[str, FileProjection]:
    """MakePayload for configMap / secret."""
    out: dict[str, FileProjection] = {}
    if not items:
        for k, v in data.items():
            out[k] = FileProjection(v, default_mode)
        return out
    for ktp in items:
        key = ktp.key or ""
        if key not in data:
            if optional:
                continue
            if kind == "configmap":
                raise VolumeError(f"configmap references non-existent config key: {key}")
            raise VolumeError(f"references non-existent secret key: {key}")
        out[ktp.path or key] = FileProjection(data[key],
                                              ktp.mode if ktp.mode is not None else default_mode)
    return out


def _downward_payload(ctx: VolumeContext, items: tuple[DownwardAPIVolumeFile, ...] | None,
                      default_mode: int) -> dict[str, FileProjection]:
    out: dict[str, FileProjection] = {}
    for item in items or ():
        mode = item.mode if item.mode is not None else default_mode
        if item.field_ref is not None:
            path = item.field_ref.field_path or ""
            if path.startswith("status.") or path.startswith("spec."):
                raise VolumeError(f"unsupported fieldPath: {path}")
            val = E.field_ref_value(path, ctx.facts, allow_maps=True)
        elif item.resource_field_ref is not None:
            ref = item.resource_field_ref
            val = E.resource_field_value(ref.resource or "", ref.divisor,
                                         ctx.resources_for(ref.container_name or ""))
        else:
            val = ""
        out[os.path.normpath(item.path or "")] = FileProjection(val.encode(), mode)
    return out


def _lookup(ctx: VolumeContext, kind: str, name: str) -> dict[str, bytes] | None:
    ns = ctx.facts.namespace
    if kind == "configmap":
        return configmap_data(ctx.configmaps(ns, name), with_binary=True)
    return secret_data(ctx.secrets(ns, name))


def _object_payload(ctx: VolumeContext, kind: str, name: str, optional: bool,
                    items: tuple[KeyToPath, ...] | None,
                    default_mode: int) -> dict[str, FileProjection]:
    data = _lookup(ctx, kind, name)
    if data is None:
        if optional:
            return {}
        raise VolumeError(f'{kind} "{name}" not found')
    return _key_payload(kind, data, items, default_mode, optional)


def _projected_payload(ctx: VolumeContext, volume: Volume) -> dict[str, FileProjection]:
    proj = volume.projected
    assert proj is not None
    mode = proj.default_mode if proj.default_mode is not None else DEFAULT_MODE
    out: dict[str, FileProjection] = {}
    for src in proj.sources or ():
        if src.config_map is not None:
            s = src.config_map
            out.update(_object_payload(ctx, "configmap", s.name or "", bool(s.optional),
                                       s.items, mode))
        elif src.secret is not None:
            s2 = src.secret
            out.update(_object_payload(ctx, "secret", s2.name or "", bool(s2.optional),
                                       s2.items, mode))
        elif src.downward_api is not None:
            out.update(_downward_payload(ctx, src.downward_api.items, mode))
        else:
            what = ("serviceAccountToken" if src.service_account_token is not None else
                    "clusterTrustBundle" if src.cluster_trust_bundle is not None else
                    "podCertificate")
            ctx.events.append(("Warning", "UnsupportedVolumeSource",
                               f'volume "{volume.name}": projected {what} sources are not '
                               "supported by podrun (no API server); skipped"))
    return out


# ---- setup ------------------------------------------------------------------------------------


def _size_limit(q: Any) -> int | None:
    if q is None:
        return None
    parsed = quantity_from_json(q)
    n = parsed.value()
    return n if n > 0 else None


def setup_volume(ctx: VolumeContext, volume: Volume) -> None:
    """Set up (or refresh) one volume; raises VolumeError with the kubelet's cause."""
    pod_sc = ctx.pod.spec.security_context if ctx.pod.spec else None
    fs_group = pod_sc.fs_group if pod_sc is not None else None
    policy = pod_sc.fs_group_change_policy if pod_sc is not None else None
    path = volume_host_path(ctx.pod, ctx.pod_dir, ctx.pvc_root, volume)
    if volume.host_path is not None:
        check_host_path(str(path), volume.host_path.type)
        return
    if volume.persistent_volume_claim is not None:
        fresh = not path.exists()
        path.mkdir(parents=True, exist_ok=True, mode=0o755)
        if fresh:
            path.chmod(0o777)
        if fs_group is not None:
            set_volume_ownership(path, fs_group, policy=policy)
        return
    if volume.empty_dir is not None:
        fresh = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        if fresh:
            path.chmod(0o777)  # the kubelet's emptyDir permission, umask ignored
        if volume.empty_dir.medium == "Memory":
            mount_tmpfs(path, _size_limit(volume.empty_dir.size_limit))
        elif volume.empty_dir.medium not in (None, ""):
            raise VolumeError(f"unknown storage medium {volume.empty_dir.medium!r}")
        if fresh and fs_group is not None:
            set_volume_ownership(path, fs_group, policy=policy)
        return
    plugin = plugin_dir(volume)
    if plugin is None:
        raise VolumeError(f"{unsupported_kind(volume)} volumes are not supported by podrun")
    path.mkdir(parents=True, exist_ok=True)
    if plugin in (SECRET, PROJECTED):
        mount_tmpfs(path)
    payload: dict[str, FileProjection]
    if volume.config_map is not None:
        c = volume.config_map
        payload = _object_payload(ctx, "configmap", c.name or "", bool(c.optional), c.items,
                                  c.default_mode if c.default_mode is not None else DEFAULT_MODE)
    elif volume.secret is not None:
        s = volume.secret
        payload = _object_payload(ctx, "secret", s.secret_name or "", bool(s.optional),
                                  s.items,
                                  s.default_mode if s.default_mode is not None else DEFAULT_MODE)
    elif volume.downward_api is not None:
        d = volume.downward_api
        payload = _downward_payload(ctx, d.items, d.default_mode if d.default_mode is not None
                                    else DEFAULT_MODE)
    else:
        payload = _projected_payload(ctx, volume)
    changed = atomic_write(path, payload, fs_group)
    if changed and fs_group is not None:
        set_volume_ownership(path, fs_group, read_only=True, policy=policy)


def setup_volumes(ctx: VolumeContext) -> list[Event]:
    """Every pod volume, all attempted; raises VolumeSetupError after the last one if any
    failed (events include a FailedMount per failure, worded as the kubelet's)."""
    failed: list[str] = []
    for volume in (ctx.pod.spec.volumes if ctx.pod.spec else None) or ():
        try:
            setup_volume(ctx, volume)
        except (VolumeError, E.EnvError, OSError, ValueError) as e:
            msg = e.strerror if isinstance(e, OSError) and not isinstance(e, PodrunError) \
                and e.strerror else str(e)
            ctx.events.append(("Warning", "FailedMount",
                               f'MountVolume.SetUp failed for volume "{volume.name}" : {msg}'))
            failed.append(volume.name or "")
    if failed:
        raise VolumeSetupError(failed, list(ctx.events))
    return list(ctx.events)


# ---- subPath (subpath_linux.go: safe open + bind through /proc/self/fd) ----------------------


def _open_beneath(base: str, rel: str, *, create_dirs: bool, dir_mode: int) -> int:
    """An O_PATH fd of base/rel reached without following any symlink (each component is
    opened with O_NOFOLLOW relative to its parent's fd); missing components are created as
    directories when create_dirs. Raises VolumeError on a symlink or escape."""
    flags = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(base, flags | os.O_DIRECTORY)
    try:
        for comp in [c for c in rel.split("/") if c not in ("", ".")]:
            if comp == "..":
                raise VolumeError(f"subpath {rel!r} must not contain '..'")
            try:
                nfd = os.open(comp, flags, dir_fd=fd)
            except FileNotFoundError:
                if not create_dirs:
                    raise
                try:
                    os.mkdir(comp, dir_mode, dir_fd=fd)
                except FileExistsError:
                    pass
                nfd = os.open(comp, flags, dir_fd=fd)
            os.close(fd)
            fd = nfd
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                raise VolumeError(f"subpath {rel!r}: component {comp!r} is a symlink "
                                  "(changed while it was being opened)")
        return fd
    except BaseException:
        os.close(fd)
        raise


def prepare_sub_path(volume_root: Path, sub_path: str, dest: Path) -> Path:
    """Bind base/sub_path onto dest (a fresh file or directory) the safe way: resolve
    symlinks, require the result inside the volume, then reopen every component with
    O_NOFOLLOW and bind /proc/self/fd/N, so a symlink swapped in meanwhile cannot point the
    mount outside the volume (CVE-2017-1002101). The subPath is created as a directory
    when missing, as the kubelet does."""
    base = os.path.realpath(volume_root)
    resolved = os.path.realpath(os.path.join(base, sub_path))
    if resolved != base and not resolved.startswith(base + "/"):
        raise VolumeError(f"subpath {sub_path!r} not within volume path {str(volume_root)!r}")
    rel = os.path.relpath(resolved, base)
    mode = stat.S_IMODE(os.stat(base).st_mode)
    fd = _open_beneath(base, "" if rel == "." else rel, create_dirs=True, dir_mode=mode)
    try:
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        if is_mounted(dest):
            syscalls.umount2(str(dest), syscalls.MNT_DETACH)
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        if not dest.exists():
            if is_dir:
                dest.mkdir(mode=0o750)
            else:
                os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o640))
        elif dest.is_dir() != is_dir:
            shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
            if is_dir:
                dest.mkdir(mode=0o750)
            else:
                os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o640))
        try:
            syscalls.mount(f"/proc/self/fd/{fd}", str(dest), None,
                           syscalls.MS_BIND | syscalls.MS_REC)
        except OSError as e:
            raise VolumeError(f"bind mount subpath {sub_path!r}: "
                              f"{e.strerror or errno.errorcode.get(e.errno or 0, e)}") from None
    finally:
        os.close(fd)
    return dest


def teardown(pod_dir: Path) -> None:
    """Unmount every tmpfs and subPath bind under pod_dir (and podrun's shared binds of
    the pod's propagating sources outside it, once unused) and remove it."""
    release_shared_sources(pod_dir)
    unmount_all(pod_dir)
    leftover = mounts_under(pod_dir)
    if leftover:
        raise VolumeError(f"still mounted: {', '.join(leftover)}")
    shutil.rmtree(pod_dir, ignore_errors=True)
