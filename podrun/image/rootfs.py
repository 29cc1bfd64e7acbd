"""A container's root filesystem: the image's layer snapshots as overlay lowerdirs (top layer
first) plus a per-container upperdir and workdir under <root>/containers/<id>/.

prepare_rootfs() only makes directories and records which image the container uses (so the
store never removes it); the init helper receives the returned paths and mounts them, or
mount_overlay() does. remove_container_rootfs() unmounts and deletes all of it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
from typing import Any

from podrun.errors import HostError
from podrun.image.errors import ImageError
from podrun.image.snapshots import write_json_atomic
from podrun.image.store import ImageRecord, ImageStore

MS_RDONLY = 1
MNT_DETACH = 2
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_libc: Any = None


def _lib() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def container_dir(store: ImageStore, container_id: str) -> str:
    if not _ID.match(container_id):
        raise ImageError(f"invalid container id {container_id!r}")
    return os.path.join(store.containers_dir, container_id)


def prepare_rootfs(store: ImageStore, image: ImageRecord | str,
                   container_id: str) -> dict[str, Any]:
    """-> {"lowerdir": [top ... bottom], "upperdir", "workdir", "target"}, plus the same as
    {"rootfs": target, "overlay": {"lowerdirs", "upperdir", "workdir"}} for
    podrun.runtime.ocispec.build_config. Idempotent."""
    rec = store.get(image) if isinstance(image, str) else image
    lower = []
    for chain in reversed(rec.chain_ids):
        snap = store.snapshots.get(chain)
        if snap is None:
            raise ImageError(f"image {rec.name}: layer {chain[:19]} is not unpacked; "
                             "pull the image again")
        lower.append(snap.path)
    cdir = container_dir(store, container_id)
    upper, work, target = (os.path.join(cdir, n) for n in ("upper", "work", "rootfs"))
    try:
        for d, mode in ((cdir, 0o700), (upper, 0o755), (work, 0o700), (target, 0o755)):
            os.makedirs(d, mode, exist_ok=True)
        if not lower:  # an image without layers: overlay still needs one lowerdir
            lower = [os.path.join(cdir, "empty")]
            os.makedirs(lower[0], 0o755, exist_ok=True)
        write_json_atomic(os.path.join(cdir, "image.json"),
                          {"image_id": rec.id, "name": rec.name, "chain_ids": rec.chain_ids})
    except OSError as e:
        raise HostError("prepare rootfs", e.strerror or str(e), err=e.errno or 0,
                        path=e.filename or cdir) from None
    store.mark_used(rec.name)
    return {"lowerdir": lower, "upperdir": upper, "workdir": work, "target": target,
            # the runtime's build_config(rootfs=..., overlay=...) spelling
            "rootfs": target, "overlay": {"lowerdirs": lower, "upperdir": upper,
                                          "workdir": work}}


def overlay_options(lowerdir: list[str], upperdir: str = "", workdir: str = "") -> str:
    for p in [*lowerdir, upperdir, workdir]:
        if any(c in p for c in ":,\\"):
            raise ImageError(f"overlay path {p!r} contains ':', ',' or '\\'")
    opts = "lowerdir=" + ":".join(lowerdir)
    if upperdir:
        opts += f",upperdir={upperdir},workdir={workdir}"
    if len(opts) >= os.sysconf("SC_PAGE_SIZE"):
        raise ImageError(f"overlay mount options too long ({len(opts)} bytes, "
                         f"{len(lowerdir)} layers)")
    return opts


def mount_overlay(target: str, lowerdir: list[str], upperdir: str = "", workdir: str = "",
                  *, readonly: bool = False) -> None:
    """mount -t overlay overlay -o lowerdir=...,upperdir=...,workdir=... target"""
    opts = overlay_options(lowerdir, upperdir, workdir)
    rc = _lib().mount(b"overlay", target.encode(), b"overlay",
                      ctypes.c_ulong(MS_RDONLY if readonly else 0), opts.encode())
    if rc != 0:
        err = ctypes.get_errno()
        raise HostError("mount overlay", os.strerror(err), err=err, path=target)


def unmount(target: str, *, detach: bool = False) -> bool:
    """Returns False when nothing was mounted there."""
    rc = _lib().umount2(target.encode(), MNT_DETACH if detach else 0)
    if rc != 0:
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOENT):
            return False
        raise HostError("unmount", os.strerror(err), err=err, path=target)
    return True


def remove_container_rootfs(store: ImageStore, container_id: str) -> None:
    """Unmounts <id>/rootfs if mounted and deletes the container's upper/work dirs."""
    cdir = container_dir(store, container_id)
    target = os.path.join(cdir, "rootfs")
    if os.path.isdir(target):
        while unmount(target, detach=True):
            pass
    try:
        shutil.rmtree(cdir)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise HostError("remove container rootfs", e.strerror or str(e), err=e.errno or 0,
                        path=e.filename or cdir) from None
