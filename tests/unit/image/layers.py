"""Synthetic layer tars built in memory, for unpack tests."""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass


@dataclass
class E:
    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 1_700_000_000
    pax: dict[str, str] | None = None
    devmajor: int = 0
    devminor: int = 0


def f(name: str, data: bytes = b"x", mode: int = 0o644, **kw: object) -> E:
    return E(name, tarfile.REGTYPE, data, mode=mode, **kw)  # type: ignore[arg-type]


def d(name: str, mode: int = 0o755, **kw: object) -> E:
    return E(name, tarfile.DIRTYPE, mode=mode, **kw)  # type: ignore[arg-type]


def sym(name: str, target: str) -> E:
    return E(name, tarfile.SYMTYPE, linkname=target, mode=0o777)


def hl(name: str, target: str) -> E:
    return E(name, tarfile.LNKTYPE, linkname=target)


def chr_dev(name: str, major: int = 1, minor: int = 3) -> E:
    return E(name, tarfile.CHRTYPE, mode=0o666, devmajor=major, devminor=minor)


def fifo(name: str) -> E:
    return E(name, tarfile.FIFOTYPE, mode=0o600)


def tar_bytes(entries: list[E], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e.name)
            ti.type = e.type
            ti.mode = e.mode
            ti.uid, ti.gid = e.uid, e.gid
            ti.mtime = e.mtime
            ti.linkname = e.linkname
            ti.devmajor, ti.devminor = e.devmajor, e.devminor
            if e.pax:
                ti.pax_headers = dict(e.pax)
            if e.type == tarfile.REGTYPE:
                ti.size = len(e.data)
                tf.addfile(ti, io.BytesIO(e.data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Image:
    """An image as blobs: build with build_image(), write with oci_layout_tar()."""

    manifest: bytes
    config: bytes
    blobs: dict[str, bytes]

    @property
    def digest(self) -> str:
        return sha(self.manifest)

    @property
    def config_digest(self) -> str:
        return sha(self.config)


def build_image(layer_tars: list[bytes], compression: str = "gzip", *,
                config: dict[str, object] | None = None, arch: str = "amd64",
                docker: bool = False) -> Image:
    import json

    blobs: dict[str, bytes] = {}
    layers = []
    for raw in layer_tars:
        if compression == "gzip":
            blob, mt = gz(raw), "application/vnd.oci.image.layer.v1.tar+gzip"
        elif compression == "zstd":
            import zstandard

            blob, mt = (zstandard.ZstdCompressor().compress(raw),
                        "application/vnd.oci.image.layer.v1.tar+zstd")
        else:
            blob, mt = raw, "application/vnd.oci.image.layer.v1.tar"
        if docker:
            mt = ("application/vnd.docker.image.rootfs.diff.tar.gzip" if compression == "gzip"
                  else "application/vnd.docker.image.rootfs.diff.tar")
        blobs[sha(blob)] = blob
        layers.append({"mediaType": mt, "digest": sha(blob), "size": len(blob)})
    cfg = json.dumps({
        "created": "2024-01-02T03:04:05Z", "architecture": arch, "os": "linux",
        "config": config or {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in layer_tars]},
    }, sort_keys=True).encode()
    blobs[sha(cfg)] = cfg
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": ("application/vnd.docker.distribution.manifest.v2+json" if docker
                      else "application/vnd.oci.image.manifest.v1+json"),
        "config": {"mediaType": ("application/vnd.docker.container.image.v1+json" if docker
                                 else "application/vnd.oci.image.config.v1+json"),
                   "digest": sha(cfg), "size": len(cfg)},
        "layers": layers,
    }, sort_keys=True).encode()
    blobs[sha(manifest)] = manifest
    return Image(manifest, cfg, blobs)


def build_index(images: dict[str, Image]) -> tuple[bytes, dict[str, bytes]]:
    """An OCI index over images keyed by "os/arch[/variant]"."""
    import json

    blobs: dict[str, bytes] = {}
    entries = []
    for plat, img in images.items():
        parts = plat.split("/")
        p = {"os": parts[0], "architecture": parts[1]}
        if len(parts) > 2:
            p["variant"] = parts[2]
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": img.digest, "size": len(img.manifest), "platform": p})
        blobs.update(img.blobs)
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": entries}, sort_keys=True).encode()
    blobs[sha(index)] = index
    return index, blobs


def oci_layout_tar(top: bytes, blobs: dict[str, bytes], ref_name: str = "",
                   top_type: str = "application/vnd.oci.image.manifest.v1+json") -> bytes:
    """An oci-archive: oci-layout, index.json pointing at `top`, blobs/sha256/*."""
    import json

    desc: dict[str, object] = {"mediaType": top_type, "digest": sha(top), "size": len(top)}
    if ref_name:
        desc["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
             "index.json": json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()}
    for dg, data in blobs.items():
        files["blobs/sha256/" + dg[7:]] = data
    files.setdefault("blobs/sha256/" + sha(top)[7:], top)
    return plain_tar(files)


def docker_archive_tar(img: Image, repo_tags: list[str]) -> bytes:
    """A `docker save` archive (classic layout: <id>/layer.tar, <config-hex>.json)."""
    import json

    m = json.loads(img.manifest)
    cfg = json.loads(img.config)
    files: dict[str, bytes] = {}
    layer_paths = []
    for layer, diff_id in zip(m["layers"], cfg["rootfs"]["diff_ids"], strict=True):
        blob = img.blobs[layer["digest"]]
        raw = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
        path = f"{diff_id[7:]}/layer.tar"
        files[path] = raw
        files[f"{diff_id[7:]}/VERSION"] = b"1.0"
        layer_paths.append(path)
    files[img.config_digest[7:] + ".json"] = img.config
    files["manifest.json"] = json.dumps([{"Config": img.config_digest[7:] + ".json",
                                          "RepoTags": repo_tags,
                                          "Layers": layer_paths}]).encode()
    return plain_tar(files)


def plain_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()
