"""Image config application, progress and event messages, rootfs preparation (no mount)."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.image.errors import ImageError
from podrun.image.oci import ImageConfig, container_command, merge_env
from podrun.image.progress import (
    TextProgress,
    go_duration,
    pulled_message,
    pulling_message,
)
from podrun.image.rootfs import container_dir, overlay_options, prepare_rootfs
from podrun.image.store import ImageStore
from podrun.image.unpack import UnpackOptions, unpack_layer
from tests.support import TEST_TMP
from tests.unit.image.layers import build_image, d, f, tar_bytes

CFG = ImageConfig(entrypoint=("/ep",), cmd=("c1", "c2"))


@pytest.mark.parametrize(("command", "args", "want"), [
    ((), (), ["/ep", "c1", "c2"]),
    (("/bin/sh",), (), ["/bin/sh"]),
    (("/bin/sh",), ("-c", "x"), ["/bin/sh", "-c", "x"]),
    ((), ("a1",), ["/ep", "a1"]),
])
def test_container_command(command: tuple[str, ...], args: tuple[str, ...],
                           want: list[str]) -> None:
    assert container_command(CFG, command, args) == want


def test_merge_env() -> None:
    assert merge_env(("PATH=/bin", "A=1"), [("A", "2"), ("B", "3")]) == \
        ["PATH=/bin", "A=2", "B=3"]


def test_go_duration_and_messages() -> None:
    assert go_duration(1.5) == "1.5s"
    assert go_duration(0.25) == "250ms"
    assert go_duration(123.5) == "2m3.5s"
    assert pulling_message("busybox") == 'Pulling image "busybox"'
    assert pulled_message("busybox", 1.5, 100) == (
        'Successfully pulled image "busybox" in 1.5s (1.5s including waiting). '
        "Image size: 100 bytes.")


def test_text_progress() -> None:
    out = io.StringIO()
    p = TextProgress(out, tty=False)
    p("sha256:" + "a" * 64, 50, 100)
    p("sha256:" + "a" * 64, 100, 100)
    assert out.getvalue() == "aaaaaaaaaaaa: done 100B\n"
    assert p.totals() == (100, 100)
    tty = io.StringIO()
    t = TextProgress(tty, tty=True, fps=1e9)
    t("sha256:" + "b" * 64, 10, 100)
    t("sha256:" + "b" * 64, 20, 100)
    assert "\x1b[1F" in tty.getvalue() and "downloading" in tty.getvalue()


@pytest.fixture
def store() -> Iterator[ImageStore]:
    p = Path(tempfile.mkdtemp(prefix="podrun-rootfs-unit-", dir=TEST_TMP))
    try:
        yield ImageStore(str(p))
    finally:
        shutil.rmtree(p, ignore_errors=True)


def test_prepare_rootfs_paths_and_in_use(store: ImageStore) -> None:
    img = build_image([tar_bytes([f("a")]), tar_bytes([f("b")])])
    for dg, data in img.blobs.items():
        store.blobs.write(data, dg)
    rec = store.commit("x", img.digest)
    fs = prepare_rootfs(store, rec, "pod1_c1")
    snaps = [store.snapshots.get(c) for c in rec.chain_ids]
    assert fs["lowerdir"] == [s.path for s in reversed(snaps) if s]  # top layer first
    cdir = container_dir(store, "pod1_c1")
    assert fs["upperdir"] == os.path.join(cdir, "upper")
    assert fs["workdir"] == os.path.join(cdir, "work")
    assert json.loads(Path(cdir, "image.json").read_text())["image_id"] == rec.id
    assert store.images_in_use() == {rec.id}
    opts = overlay_options(fs["lowerdir"], fs["upperdir"], fs["workdir"])
    assert opts.startswith("lowerdir=" + fs["lowerdir"][0] + ":")
    with pytest.raises(ImageError, match="invalid container id"):
        prepare_rootfs(store, rec, "../escape")
    with pytest.raises(ImageError, match="contains"):
        overlay_options(["/a:b"])


def test_unprivileged_whiteouts_are_markers() -> None:
    base = Path(tempfile.mkdtemp(prefix="podrun-unpriv-", dir=TEST_TMP))
    try:
        data = tar_bytes([d("etc"), f("etc/.wh.passwd", b""), f("etc/.wh..wh..opq", b"")])
        opts = UnpackOptions(privileged=False, devices="skip", chown=False)
        r = unpack_layer(io.BytesIO(data), str(base), options=opts)
        assert (base / "etc/.wh.passwd").is_file()  # kept as a marker, not a device
        assert os.getxattr(base / "etc", "user.overlay.opaque") == b"y"
        assert any("not privileged" in w for w in r.warnings)
    finally:
        shutil.rmtree(base, ignore_errors=True)
