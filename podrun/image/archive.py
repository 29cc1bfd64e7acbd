"""`podrun image import`: oci-archive and docker-archive tarballs, from a file or a stream.

The archive is read once, front to back (stdin works): blobs stream into the blob store,
verified against their names when the layout names them by digest; the small JSON index
files are kept; then each image is committed (unpacked) and named:
- oci-archive (OCI image layout: oci-layout, index.json, blobs/sha256/...): name from --name,
  else `io.containerd.image.name`, else `org.opencontainers.image.ref.name` when it is a full
  reference (a bare tag like "latest" needs --name).
- docker-archive (`docker save`: manifest.json, <id>.json, <layer>/layer.tar or blobs/...):
  names from RepoTags, or --name. A Docker v2 schema 2 manifest is written for each image.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from podrun.image import oci
from podrun.image.digest import sha256_bytes
from podrun.image.errors import ImageError, InvalidReference
from podrun.image.reference import parse_normalized
from podrun.image.store import ImageRecord, ImageStore

_SMALL = {"oci-layout", "index.json", "manifest.json", "repositories"}


@dataclass
class _Contents:
    small: dict[str, bytes] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)  # archive path -> blob digest
    aliases: dict[str, str] = field(default_factory=dict)  # symlinks and hard links

    def digest_of(self, path: str) -> str:
        path = posixpath.normpath(path).lstrip("/")
        for _ in range(16):
            if path in self.paths:
                return self.paths[path]
            if path not in self.aliases:
                break
            path = self.aliases[path]
        raise ImageError(f"archive: {path!r} is referenced but not in the archive")


def _clean(name: str) -> str:
    return posixpath.normpath(name).lstrip("/").removeprefix("./")


def _read_archive(store: ImageStore, src: BinaryIO, lease: set[str]) -> _Contents:
    c = _Contents()
    try:
        with tarfile.open(fileobj=src, mode="r|*") as tf:
            for ti in tf:
                name = _clean(ti.name)
                if ti.issym():
                    c.aliases[name] = _clean(posixpath.join(posixpath.dirname(name),
                                                            ti.linkname))
                    continue
                if ti.islnk():
                    c.aliases[name] = _clean(ti.linkname)
                    continue
                if not ti.isreg():
                    continue
                f = tf.extractfile(ti)
                assert f is not None
                if name in _SMALL:
                    if ti.size > oci.MAX_MANIFEST_SIZE:
                        raise ImageError(f"archive: {name} is too large ({ti.size} bytes)")
                    c.small[name] = f.read()
                    continue
                parts = name.split("/")
                expected = ""
                if len(parts) == 3 and parts[0] == "blobs":
                    expected = f"{parts[1]}:{parts[2]}"
                c.paths[name] = store.blobs.ingest(f, expected, ti.size)
                lease.add(c.paths[name])
    except tarfile.TarError as e:
        raise ImageError(f"archive: not a readable tar: {e}") from None
    return c


def _name_for(desc: oci.Descriptor, name: str) -> str:
    if name:
        return name
    full = desc.annotations.get("io.containerd.image.name", "")
    if full:
        return full
    ref = desc.annotations.get(oci.REF_NAME_ANNOTATION, "")
    if ref and any(ch in ref for ch in "/:@"):
        return ref
    if ref:
        raise ImageError(f"archive: the image is named only {ref!r} (a tag); "
                         "pass --name REPOSITORY[:TAG]")
    raise ImageError("archive: the image has no name; pass --name REPOSITORY[:TAG]")


def _import_oci(store: ImageStore, c: _Contents, name: str,
                platform: oci.Platform) -> list[ImageRecord]:
    entries = oci.parse_index(c.small["index.json"])
    if not entries:
        raise ImageError("archive: index.json lists no images")
    if name and len(entries) > 1:
        raise ImageError(f"archive: holds {len(entries)} images; --name needs exactly one")
    out = []
    for desc in entries:
        data = store.blobs.read(desc.digest)
        mt = oci.media_type_of(data)
        extra: list[str] = []
        index_digest = ""
        manifest_digest = desc.digest
        if mt in oci.INDEX_TYPES:
            chosen = oci.select_platform(oci.parse_index(data), platform)
            index_digest, manifest_digest = desc.digest, chosen.digest
            extra.append(desc.digest)
        out.append(store.commit(_name_for(desc, name), manifest_digest,
                                index_digest=index_digest, extra_blobs=extra))
    return out


def _import_docker(store: ImageStore, c: _Contents, name: str) -> list[ImageRecord]:
    try:
        items: list[dict[str, Any]] = json.loads(c.small["manifest.json"])
    except ValueError as e:
        raise ImageError(f"archive: invalid manifest.json: {e}") from None
    if name and len(items) > 1:
        raise ImageError(f"archive: holds {len(items)} images; --name needs exactly one")
    out = []
    for item in items:
        cfg_digest = c.digest_of(item["Config"])
        cfg = store.blobs.read(cfg_digest)
        layers = []
        for path in item.get("Layers") or []:
            dg = c.digest_of(path)
            with store.blobs.open(dg) as f:
                head = f.read(4)
            mt = (oci.DOCKER_LAYER_GZIP if head[:2] == b"\x1f\x8b" else
                  oci.OCI_LAYER_ZSTD if head == b"\x28\xb5\x2f\xfd" else oci.DOCKER_LAYER)
            layers.append({"mediaType": mt, "digest": dg, "size": store.blobs.size(dg)})
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": oci.DOCKER_MANIFEST,
            "config": {"mediaType": oci.DOCKER_CONFIG, "digest": cfg_digest,
                       "size": len(cfg)},
            "layers": layers}, indent=3).encode()
        mdigest = store.blobs.write(manifest, sha256_bytes(manifest))
        names = [name] if name else list(item.get("RepoTags") or [])
        if not names:
            raise ImageError(f"archive: image {cfg_digest[7:19]} has no RepoTags; "
                             "pass --name REPOSITORY[:TAG]")
        rec = store.commit(names[0], mdigest)
        out.append(rec)
        for extra in names[1:]:
            out.append(store.tag(rec.name, extra))
    return out


def import_archive(store: ImageStore, src: BinaryIO, *, name: str = "",
                   platform: oci.Platform | None = None) -> list[ImageRecord]:
    """Imports every image in an oci-archive or docker-archive read from src.

    `name` (the CLI's --name) must be a valid reference; it is checked before reading."""
    if name:
        try:
            parse_normalized(name)
        except InvalidReference as e:
            raise ImageError(f"--name {name!r}: {e}") from None
    platform = platform or oci.host_platform()
    with store.lease() as lease:
        c = _read_archive(store, src, lease)
        if "index.json" in c.small and ("oci-layout" in c.small
                                        or "manifest.json" not in c.small):
            return _import_oci(store, c, name, platform)
        if "manifest.json" in c.small:
            return _import_docker(store, c, name)
    raise ImageError("archive: neither an OCI image layout (index.json) nor a docker save "
                     "archive (manifest.json)")


def import_file(store: ImageStore, path: str, *, name: str = "",
                platform: oci.Platform | None = None) -> list[ImageRecord]:
    """`podrun image import FILE` ("-" reads stdin)."""
    import sys

    if path == "-":
        return import_archive(store, sys.stdin.buffer, name=name, platform=platform)
    with open(path, "rb") as f:
        return import_archive(store, f, name=name, platform=platform)
