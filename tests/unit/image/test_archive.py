"""`podrun image import`: oci-archive and docker-archive, from a file or a pipe."""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.image.archive import import_archive
from podrun.image.errors import DigestMismatch, ImageError
from podrun.image.oci import Platform
from podrun.image.store import ImageStore
from tests.support import TEST_TMP
from tests.unit.image.layers import (
    build_image,
    build_index,
    docker_archive_tar,
    f,
    oci_layout_tar,
    plain_tar,
    tar_bytes,
)


class Pipe(io.RawIOBase):
    """A non-seekable stream, like stdin."""

    def __init__(self, data: bytes) -> None:
        self.b = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.b.read(min(len(buf), 1000))
        buf[: len(data)] = data
        return len(data)


@pytest.fixture
def store() -> Iterator[ImageStore]:
    p = Path(tempfile.mkdtemp(prefix="podrun-archive-", dir=TEST_TMP))
    try:
        yield ImageStore(str(p))
    finally:
        shutil.rmtree(p, ignore_errors=True)


IMG = build_image([tar_bytes([f("hello", b"world")]), tar_bytes([f("two", b"2")])])


def test_oci_archive_ref_name(store: ImageStore) -> None:
    data = oci_layout_tar(IMG.manifest, IMG.blobs, "localhost:5000/hello:v1")
    (rec,) = import_archive(store, Pipe(data))  # type: ignore[arg-type]
    assert rec.name == "localhost:5000/hello:v1"
    assert rec.digest == IMG.digest
    assert len(store.snapshots.list()) == 2


def test_oci_archive_tag_only_needs_name(store: ImageStore) -> None:
    data = oci_layout_tar(IMG.manifest, IMG.blobs, "latest")
    with pytest.raises(ImageError, match="pass --name"):
        import_archive(store, io.BytesIO(data))
    (rec,) = import_archive(store, io.BytesIO(data), name="hello")
    assert rec.name == "docker.io/library/hello:latest"


def test_oci_archive_index_picks_platform(store: ImageStore) -> None:
    arm = build_image([tar_bytes([f("arch", b"arm64")])], arch="arm64")
    amd = build_image([tar_bytes([f("arch", b"amd64")])], arch="amd64")
    index, blobs = build_index({"linux/arm64/v8": arm, "linux/amd64": amd})
    data = oci_layout_tar(index, blobs, "multi:1",
                          top_type="application/vnd.oci.image.index.v1+json")
    (rec,) = import_archive(store, io.BytesIO(data), platform=Platform("linux", "amd64"))
    assert rec.digest == amd.digest and rec.index_digest.startswith("sha256:")
    assert rec.platform == "linux/amd64"


def test_docker_archive(store: ImageStore) -> None:
    data = docker_archive_tar(IMG, ["hello:v2", "localhost/hello:v3"])
    recs = import_archive(store, Pipe(data))  # type: ignore[arg-type]
    assert [r.name for r in recs] == ["docker.io/library/hello:v2", "localhost/hello:v3"]
    assert recs[0].id == IMG.config_digest
    top = store.snapshots.get(recs[0].chain_ids[-1])
    assert top is not None and Path(top.path, "two").read_text() == "2"


def test_tampered_blob_rejected(store: ImageStore) -> None:
    blobs = dict(IMG.blobs)
    layer = next(d for d, b in blobs.items() if b[:2] == b"\x1f\x8b")
    blobs[layer] = blobs[layer][:-1] + bytes([blobs[layer][-1] ^ 1])
    with pytest.raises(DigestMismatch):
        import_archive(store, io.BytesIO(oci_layout_tar(IMG.manifest, blobs, "x:1")))
    assert store.list() == []


def test_not_an_archive(store: ImageStore) -> None:
    with pytest.raises(ImageError, match="neither an OCI image layout"):
        import_archive(store, io.BytesIO(plain_tar({"hello": b"x"})))
    with pytest.raises(ImageError, match="not a readable tar"):
        import_archive(store, io.BytesIO(b"garbage" * 100))


def test_docker_archive_symlinked_layer(store: ImageStore) -> None:
    import json
    import tarfile

    base = docker_archive_tar(IMG, ["a:1"])
    # `docker save` of two images sharing a layer stores it once and symlinks the other
    src = tarfile.open(fileobj=io.BytesIO(base))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        manifest: list[dict[str, object]] = []
        for ti in src.getmembers():
            data = src.extractfile(ti)
            if ti.name == "manifest.json":
                assert data is not None
                manifest = json.loads(data.read())
                continue
            tf.addfile(ti, data)
        first = manifest[0]["Layers"][0]  # type: ignore[index]
        link = tarfile.TarInfo("dup/layer.tar")
        link.type = tarfile.SYMTYPE
        link.linkname = "../" + str(first)
        tf.addfile(link)
        layers = list(manifest[0]["Layers"])  # type: ignore[call-overload]
        manifest.append({"Config": manifest[0]["Config"], "RepoTags": ["b:1"],
                         "Layers": ["dup/layer.tar", *layers[1:]]})
        mdata = json.dumps(manifest).encode()
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(mdata)
        tf.addfile(ti, io.BytesIO(mdata))
    recs = import_archive(store, io.BytesIO(out.getvalue()))
    assert [r.name for r in recs] == ["docker.io/library/a:1", "docker.io/library/b:1"]
    assert recs[0].chain_ids == recs[1].chain_ids
