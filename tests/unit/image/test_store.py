"""Image store: commit/unpack once, list rows, rmi with in-use protection, GC, crash safety."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.image import oci
from podrun.image.errors import DigestMismatch, ImageInUse, ImageNotFound, NoMatchingPlatform
from podrun.image.store import ImageGCFailed, ImageStore, format_table, image_rows
from tests.support import TEST_TMP
from tests.unit.image.layers import Image, build_image, d, f, sha, tar_bytes


@pytest.fixture
def root() -> Iterator[Path]:
    p = Path(tempfile.mkdtemp(prefix="podrun-store-", dir=TEST_TMP))
    try:
        yield p
    finally:
        shutil.rmtree(p, ignore_errors=True)


def _add(store: ImageStore, img: Image, name: str) -> object:
    for dg, data in img.blobs.items():
        store.blobs.write(data, dg)
    return store.commit(name, img.digest)


BASE = tar_bytes([d("bin"), f("bin/sh", b"sh", 0o755), f("etc/os-release", b"base")])


def test_commit_unpacks_once_and_lists(root: Path) -> None:
    store = ImageStore(str(root))
    img = build_image([BASE, tar_bytes([f("app", b"app")])],
                      config={"Entrypoint": ["/app"], "Cmd": ["-v"], "Env": ["A=1"],
                              "WorkingDir": "/w", "User": "1000", "StopSignal": "SIGINT",
                              "ExposedPorts": {"80/tcp": {}}})
    rec = _add(store, img, "busybox")
    assert rec.name == "docker.io/library/busybox:latest"  # type: ignore[attr-defined]
    assert rec.id == img.config_digest  # type: ignore[attr-defined]
    assert len(rec.chain_ids) == 2  # type: ignore[attr-defined]
    snaps = store.snapshots.list()
    assert len(snaps) == 2
    top = store.snapshots.get(rec.chain_ids[1])  # type: ignore[attr-defined]
    assert top is not None and Path(top.path, "app").read_text() == "app"
    # same base layer in a second image: not unpacked again
    img2 = build_image([BASE, tar_bytes([f("other", b"o")])])
    _add(store, img2, "localhost:5000/other:v1")
    assert len(store.snapshots.list()) == 3
    cfg = store.config(rec)  # type: ignore[arg-type]
    assert cfg.entrypoint == ("/app",) and cfg.cmd == ("-v",) and cfg.env == ("A=1",)
    assert (cfg.working_dir, cfg.user, cfg.stop_signal) == ("/w", "1000", "SIGINT")
    assert cfg.exposed_ports == ("80/tcp",)
    rows = image_rows(store.list(), now=1_704_164_645 + 3 * 86400)
    assert rows[0] == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    assert rows[1][:3] == ["busybox", "latest", img.config_digest[7:19]]
    assert rows[1][3] == "3 days ago"
    assert rows[2][:2] == ["localhost:5000/other", "v1"]
    assert "IMAGE ID" in format_table(rows)
    assert store.get(img.config_digest[7:19]).name == rec.name  # type: ignore[attr-defined]
    assert store.get(f"busybox@{img.digest}").id == img.config_digest
    assert store.get(f"localhost:5000/other@{img2.digest}").name == "localhost:5000/other:v1"


def test_recommit_is_free(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ImageStore(str(root))
    img = build_image([BASE])
    _add(store, img, "a")
    import podrun.image.store as st

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("unpacked again")

    monkeypatch.setattr(st, "unpack_layer", boom)
    store.commit("b", img.digest)
    assert {r.name for r in store.list()} == {"docker.io/library/a:latest",
                                              "docker.io/library/b:latest"}


def test_bad_layer_never_visible(root: Path) -> None:
    store = ImageStore(str(root))
    img = build_image([tar_bytes([f("../escape")])])
    with pytest.raises(Exception, match=r"'\.\.'"):
        _add(store, img, "bad")
    assert store.snapshots.list() == []
    assert [n for n in os.listdir(root / "snapshots") if n not in (".lock", "metadata.json")] == []


def test_blob_digest_verified(root: Path) -> None:
    store = ImageStore(str(root))
    with pytest.raises(DigestMismatch):
        store.blobs.write(b"tampered", sha(b"original"))
    assert store.blobs.list() == []
    assert os.listdir(root / "blobs/ingest") == []


def test_remove_and_in_use(root: Path) -> None:
    used: set[str] = set()
    store = ImageStore(str(root), in_use=lambda: used)
    img = build_image([BASE])
    rec = _add(store, img, "a")
    store.tag("a", "b:2")
    used.add(img.config_digest)
    store.remove("a")  # another name keeps the image
    with pytest.raises(ImageInUse, match="in use by a container"):
        store.remove("b:2")
    used.clear()
    store.remove("b:2")
    assert store.list() == [] and store.blobs.list() == [] and store.snapshots.list() == []
    with pytest.raises(ImageNotFound):
        store.get("a")
    del rec


def test_gc_like_kubelet(root: Path) -> None:
    now = [1000.0]
    usage = {"capacity": 10000, "available": 1000}  # 90% used
    store = ImageStore(str(root), fs_stats=lambda p: (usage["capacity"], usage["available"]),
                       clock=lambda: now[0])
    imgs = []
    for i in range(3):
        now[0] += 10
        imgs.append(build_image([tar_bytes([f(f"f{i}", bytes(50))])]))
        _add(store, imgs[-1], f"img{i}")
    used = {imgs[0].config_digest}
    store.in_use_hook = lambda: used
    now[0] += 10
    store.mark_used("img1")  # img2 is now the least recently used unused one
    usage["available"] = 1900  # 81%: under high, nothing to do
    assert store.gc().removed == []
    usage["available"] = 1500  # 85%: need 2000-1500=500 bytes
    with pytest.raises(ImageGCFailed):
        store.gc(min_age=3600)  # all pulled less than an hour ago: none eligible
    res = store.gc()
    assert res.removed == ["docker.io/library/img2:latest"]
    assert res.freed >= 500
    usage["available"] = 0  # need 2000: img1 (~900 bytes) is not enough; img0 is in use
    with pytest.raises(ImageGCFailed, match="Failed to garbage collect required amount"):
        store.gc()
    assert [r.name for r in store.list()] == ["docker.io/library/img0:latest"]


def test_crash_leftovers_cleaned(root: Path) -> None:
    store = ImageStore(str(root))
    _add(store, build_image([BASE]), "a")
    (root / "snapshots/tmp-half").mkdir()
    (root / "snapshots/tmp-half/fs").mkdir()
    (root / "snapshots/99").mkdir()
    (root / "blobs/ingest/tmp-x").write_bytes(b"x")
    (root / "blobs/ingest" / (("a" * 64) + ".partial")).write_bytes(b"keep")
    (root / ".tmp-images").write_text("{")
    store = ImageStore(str(root))
    assert sorted(os.listdir(root / "snapshots")) == [".lock", "1", "metadata.json"]
    assert os.listdir(root / "blobs/ingest") == ["a" * 64 + ".partial"]
    assert not (root / ".tmp-images").exists()
    assert len(store.list()) == 1
    assert json.loads((root / "images.json").read_text())["images"]


def test_platform_selection() -> None:
    def e(p: dict[str, str], dg: str) -> oci.Descriptor:
        return oci.Descriptor(oci.OCI_MANIFEST, dg, 1, p)

    entries = [e({"os": "linux", "architecture": "arm64", "variant": "v8"}, sha(b"1")),
               e({"os": "linux", "architecture": "amd64"}, sha(b"2")),
               e({"os": "windows", "architecture": "amd64"}, sha(b"3")),
               e({"os": "linux", "architecture": "arm", "variant": "v6"}, sha(b"4")),
               e({"os": "linux", "architecture": "arm", "variant": "v7"}, sha(b"5"))]
    pick = oci.select_platform
    assert pick(entries, oci.Platform("linux", "amd64")).digest == sha(b"2")
    assert pick(entries, oci.Platform("linux", "arm64")).digest == sha(b"1")
    assert pick(entries, oci.Platform("linux", "arm", "v7")).digest == sha(b"5")
    with pytest.raises(NoMatchingPlatform, match="no match for platform linux/s390x"):
        pick(entries, oci.Platform("linux", "s390x"))
    assert str(oci.host_platform()).startswith("linux/")


def test_one_writer_per_blob(root: Path) -> None:
    import threading

    store = ImageStore(str(root))
    dg = sha(b"x")
    inside: list[int] = []
    overlap: list[bool] = []

    def work() -> None:
        with store.blobs.ingesting(dg):
            inside.append(1)
            overlap.append(len(inside) > 1)
            threading.Event().wait(0.02)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlap == [False] * 4
    assert os.listdir(root / "blobs/ingest") == []
