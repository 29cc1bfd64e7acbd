"""Build a single-layer OCI image archive from a directory (like `buildah from scratch` +
`umoci`), so a host without registry access can still make images: the demo and the tests
turn Debian's busybox-static into `localhost/busybox:<tag>` this way.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path

BUSYBOX = "/bin/busybox"


def busybox_rootfs(dest: Path, busybox: str = BUSYBOX) -> Path:
    """A minimal image-like root filesystem: a static busybox, its applets as symlinks, and
    /etc/passwd and /etc/group with root, user (1000) and nobody."""
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "root", "home/user",
              "proc", "sys", "dev", "var/tmp"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    shutil.copy2(busybox, dest / "bin/busybox")
    applets = subprocess.run([busybox, "--list-full"], check=True, capture_output=True,
                             text=True).stdout.split()
    for applet in applets:
        link = dest / applet
        if not link.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/bin/busybox")
    (dest / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "user:x:1000:1000:user:/home/user:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (dest / "etc/group").write_text(
        "root:x:0:\nuser:x:1000:\nusers:x:100:user\nnogroup:x:65534:\n")
    return dest


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(rootfs: Path) -> bytes:
    """An uncompressed, reproducible tar of rootfs (sorted, mtime kept, owners root)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = Path(dirpath) / name
                arc = str(full.relative_to(rootfs))
                info = tar.gettarinfo(str(full), arcname=arc)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                if info.isfile():
                    with open(full, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def oci_archive(rootfs: Path, out: Path, ref: str, *, entrypoint: Sequence[str] = (),
                cmd: Sequence[str] = ("sh",), env: Sequence[str] = (
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
                working_dir: str = "", user: str = "", stop_signal: str = "") -> Path:
    """Write an oci-archive (OCI image layout tarball) of `rootfs` tagged `ref`."""
    raw = layer_tar(rootfs)
    diff_id = _digest(raw)
    layer = gzip.compress(raw, compresslevel=1, mtime=0)
    config_doc: dict[str, object] = {"Env": list(env), "Cmd": list(cmd)}
    if entrypoint:
        config_doc["Entrypoint"] = list(entrypoint)
    if working_dir:
        config_doc["WorkingDir"] = working_dir
    if user:
        config_doc["User"] = user
    if stop_signal:
        config_doc["StopSignal"] = stop_signal
    config = json.dumps({
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "architecture": "amd64" if os.uname().machine == "x86_64" else os.uname().machine,
        "os": "linux", "config": config_doc,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _digest(layer), "size": len(layer)}],
    }, sort_keys=True).encode()
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": _digest(manifest), "size": len(manifest),
                       "annotations": {"org.opencontainers.image.ref.name": ref}}],
    }).encode()
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": index}
    for blob in (layer, config, manifest):
        files["blobs/sha256/" + _digest(blob).split(":", 1)[1]] = blob
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w") as tar:
        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out
