"""The layer extractor: whiteouts, metadata, digests, and malicious layers that must not
write outside their snapshot (a canary dir next to it is checked after each)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.image.errors import DigestMismatch, LayerLimitExceeded, UnsafeLayer
from podrun.image.unpack import OPAQUE_XATTR, UnpackOptions, unpack_layer
from tests.support import TEST_TMP
from tests.unit.image.layers import E, chr_dev, d, f, fifo, gz, hl, sym, tar_bytes

ROOT = os.geteuid() == 0
# vfs_cap_data v2, effective, permitted = CAP_NET_RAW (13)
CAP_NET_RAW = bytes([0x01, 0, 0, 0x02, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])


class Box:
    """<base>/a/b/fs is the snapshot; <base>/canary holds a file that must stay alone."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.fs = base / "a" / "b" / "fs"
        self.fs.mkdir(parents=True)
        self.canary = base / "canary"
        self.canary.mkdir()
        (self.canary / "secret").write_text("s")

    def outside(self) -> list[str]:
        """Every path under base that is not inside the snapshot."""
        out = []
        for dirpath, dirnames, filenames in os.walk(self.base):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                if p != str(self.fs) and not p.startswith(str(self.fs) + "/"):
                    out.append(os.path.relpath(p, self.base))
        return sorted(out)

    def unpack(self, data: bytes, **kw: object) -> object:
        return unpack_layer(io.BytesIO(data), str(self.fs), **kw)  # type: ignore[arg-type]


UNTOUCHED = ["a", "a/b", "canary", "canary/secret"]


@pytest.fixture
def box() -> Iterator[Box]:
    base = Path(tempfile.mkdtemp(prefix="podrun-unpack-", dir=TEST_TMP))
    try:
        yield Box(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_regular_tree(box: Box) -> None:
    data = tar_bytes([d("./"), d("bin", 0o755), f("bin/tool", b"#!x", 0o4755, uid=0),
                      sym("bin/sh", "/bin/tool"), hl("bin/tool2", "bin/tool"),
                      d("etc", 0o700, mtime=1000), f("etc/conf", b"c", 0o600, mtime=2000),
                      f("deep/implicit/file", b"i")])
    r = box.unpack(data, digest="sha256:" + hashlib.sha256(data).hexdigest(),
                   diff_id="sha256:" + hashlib.sha256(data).hexdigest())
    fs = box.fs
    assert (fs / "bin/tool").read_bytes() == b"#!x"
    assert stat.S_IMODE((fs / "bin/tool").stat().st_mode) == 0o4755
    assert os.readlink(fs / "bin/sh") == "/bin/tool"
    assert (fs / "bin/tool2").stat().st_ino == (fs / "bin/tool").stat().st_ino
    assert stat.S_IMODE((fs / "etc").stat().st_mode) == 0o700
    assert (fs / "etc").stat().st_mtime == 1000
    assert (fs / "etc/conf").stat().st_mtime == 2000
    assert (fs / "deep/implicit/file").read_bytes() == b"i"
    assert r.entries == 8  # type: ignore[attr-defined]
    assert box.outside() == UNTOUCHED


def test_gzip_and_digests(box: Box) -> None:
    raw = tar_bytes([f("x", b"hello")])
    blob = gz(raw)
    r = box.unpack(blob, digest="sha256:" + hashlib.sha256(blob).hexdigest(), size=len(blob),
                   diff_id="sha256:" + hashlib.sha256(raw).hexdigest())
    assert r.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()  # type: ignore[attr-defined]
    assert (box.fs / "x").read_bytes() == b"hello"


def test_zstd(box: Box) -> None:
    zstandard = pytest.importorskip("zstandard")
    raw = tar_bytes([f("z", b"zz" * 1000)])
    blob = zstandard.ZstdCompressor().compress(raw)
    r = box.unpack(blob, media_type="application/vnd.oci.image.layer.v1.tar+zstd",
                   diff_id="sha256:" + hashlib.sha256(raw).hexdigest())
    assert (box.fs / "z").read_bytes() == b"zz" * 1000
    assert r.compressed_size == len(blob)  # type: ignore[attr-defined]


def test_wrong_digest_and_diff_id(box: Box) -> None:
    blob = gz(tar_bytes([f("x")]))
    with pytest.raises(DigestMismatch, match="digest mismatch"):
        box.unpack(blob, digest="sha256:" + "0" * 64)
    with pytest.raises(DigestMismatch, match="diffID"):
        box.unpack(blob, diff_id="sha256:" + "0" * 64)
    with pytest.raises(DigestMismatch, match="bytes"):
        box.unpack(blob, digest="sha256:" + hashlib.sha256(blob).hexdigest(), size=1)


def test_truncated_gzip(box: Box) -> None:
    blob = gz(tar_bytes([f("x", os.urandom(100_000))]))
    with pytest.raises(UnsafeLayer, match="truncated|malformed"):
        box.unpack(blob[: len(blob) // 2])


@pytest.mark.skipif(not ROOT, reason="overlay whiteouts are char devices: needs root")
def test_whiteouts_and_opaque(box: Box) -> None:
    box.unpack(tar_bytes([d("etc"), f("etc/.wh.passwd", b""), d("var"),
                          f("var/.wh..wh..opq", b""), f("var/new"), f(".wh.gone", b""),
                          f(".wh.redo", b""), d("redo"), f("redo/x"),
                          f("usr/.wh..wh.plnk", b"")]))
    st = os.lstat(box.fs / "etc/passwd")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(box.fs / "var", OPAQUE_XATTR) == b"y"
    assert stat.S_ISCHR(os.lstat(box.fs / "gone").st_mode)
    assert os.getxattr(box.fs / "redo", OPAQUE_XATTR) == b"y"  # whited out then re-created
    assert not os.path.lexists(box.fs / "usr/.wh..wh.plnk")
    assert not os.path.lexists(box.fs / "etc/.wh.passwd")


@pytest.mark.skipif(not ROOT, reason="owners and device nodes need root")
def test_owners_devices_xattrs(box: Box) -> None:
    box.unpack(tar_bytes([f("owned", b"o", 0o2755, uid=1234, gid=5678),
                          chr_dev("null", 1, 3), fifo("pipe"),
                          f("cap", b"c", pax={"SCHILY.xattr.user.note": "hi",
                                             "SCHILY.xattr.trusted.overlay.opaque": "y"}),
                          f("ping", b"\x7fELF", 0o755, pax={
                              "SCHILY.xattr.security.capability":
                                  CAP_NET_RAW.decode("utf-8", "surrogateescape")})]))
    st = os.lstat(box.fs / "owned")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, 0o2755)
    st = os.lstat(box.fs / "null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert stat.S_ISFIFO(os.lstat(box.fs / "pipe").st_mode)
    assert os.getxattr(box.fs / "cap", "user.note") == b"hi"
    # file capabilities (binary xattr) survive: set after the data and the chown
    assert os.getxattr(box.fs / "ping", "security.capability") == CAP_NET_RAW
    assert os.lstat(box.fs / "ping").st_uid == 0
    with pytest.raises(OSError):
        os.getxattr(box.fs / "cap", "trusted.overlay.opaque")


def test_duplicates_later_wins(box: Box) -> None:
    box.unpack(tar_bytes([f("x", b"first"), f("x", b"second"), d("dd"), f("dd/in"),
                          f("dd", b"now a file"), sym("s", "a"), f("s", b"file over link"),
                          d("k"), f("k/one"), d("k", 0o700)]))
    assert (box.fs / "x").read_bytes() == b"second"
    assert (box.fs / "dd").read_bytes() == b"now a file"
    assert (box.fs / "s").read_bytes() == b"file over link"
    assert (box.fs / "k/one").exists()
    assert stat.S_IMODE((box.fs / "k").stat().st_mode) == 0o700


def test_pax_long_names(box: Box) -> None:
    long = "/".join(["d" * 100] * 5) + "/" + "f" * 200
    box.unpack(tar_bytes([f(long, b"long")]))
    assert (box.fs / long).read_bytes() == b"long"
    long_gnu = "g" * 150 + "/" + "h" * 180
    box.unpack(tar_bytes([f(long_gnu, b"gnu")], fmt=2))  # GNU longname records
    assert (box.fs / long_gnu).read_bytes() == b"gnu"


# --- malicious layers: each must fail clearly and leave everything outside untouched ---


def _malicious(box: Box) -> list[tuple[str, list[E], str, dict[str, object]]]:
    c = str(box.canary)
    return [
        ("traversal", [f("../../x", b"evil")], "'..'", {}),
        ("traversal-deep", [f("ok/../../../../canary/secret", b"evil")], "'..'", {}),
        ("absolute", [f("/etc/x", b"evil")], "absolute path", {}),
        ("absolute-canary", [f(c + "/secret", b"evil")], "absolute path", {}),
        ("symlink-then-write", [sym("a", c), f("a/file", b"evil")], "symlink 'a'", {}),
        ("symlink-tmp-then-write", [sym("a", "/tmp/podrun-outside"), f("a/file", b"evil")],
         "symlink 'a'", {}),
        ("symlink-dotdot-then-write", [sym("up", ".."), f("up/x", b"evil")], "symlink 'up'",
         {}),
        ("symlink-dotdot-deep", [d("x"), sym("x/up", "../../.."), f("x/up/canary/secret")],
         "symlink 'x/up'", {}),
        ("hardlink-etc-passwd", [hl("p", "/etc/passwd")], "absolute path", {}),
        ("hardlink-outside", [hl("p", "../../../canary/secret")], "'..'", {}),
        ("hardlink-not-in-layer", [hl("p", "etc/shadow")], "not a file extracted", {}),
        ("hardlink-through-symlink", [f("real"), sym("l", c), hl("l/secret", "real")],
         "symlink 'l'", {}),
        ("hardlink-to-symlink-dir", [sym("l", c), hl("x", "l/secret")],
         "not a file extracted", {}),
        ("symlink-loop", [sym("l1", "l2"), sym("l2", "l1"), f("l1/x", b"evil")],
         "symlink 'l1'", {}),
        ("whiteout-dotdot", [f(".wh...", b"")], "whiteout of '..'", {}),
        ("whiteout-dot", [d("etc"), f("etc/.wh..", b"")], "whiteout of '.'", {}),
        ("whiteout-through-symlink", [sym("a", c), f("a/.wh.secret", b"")], "symlink 'a'", {}),
        ("opaque-through-symlink", [sym("a", c), f("a/.wh..wh..opq", b"")], "symlink 'a'", {}),
        ("dir-replaced-by-symlink", [d("a"), sym("a", c), f("a/secret", b"evil")],
         "symlink 'a'", {}),
        ("file-count", [f(f"f{i}") for i in range(50)], "more than 20 entries",
         {"options": UnpackOptions(max_entries=20)}),
        ("byte-limit", [f("big", b"x" * 5000)], "more than 4096 bytes",
         {"options": UnpackOptions(max_bytes=4096)}),
        ("device-unprivileged", [chr_dev("mem", 1, 1)], "device node not allowed",
         {"options": UnpackOptions(devices="reject")}),
        ("pax-long-traversal", [f("a/" * 60 + "../" * 70 + "canary/secret", b"evil")], "'..'",
         {}),
        ("pax-path-override", [f("innocent", b"evil", pax={"path": "../../canary/secret"})],
         "'..'", {}),
        ("parent-is-file", [f("p", b"file"), f("p/x", b"evil")], "not a directory", {}),
    ]


def test_malicious_layers(box: Box) -> None:
    cases = _malicious(box)
    assert len(cases) >= 10
    for name, entries, reason, kw in cases:
        shutil.rmtree(box.fs)
        box.fs.mkdir()
        with pytest.raises(UnsafeLayer) as exc:
            box.unpack(tar_bytes(entries), **kw)
        assert reason in str(exc.value), (name, str(exc.value))
        assert box.outside() == UNTOUCHED, name
        assert (box.canary / "secret").read_text() == "s", name
        assert (box.canary / "secret").stat().st_nlink == 1, name
        assert not os.path.lexists("/tmp/podrun-outside"), name
    assert isinstance(exc.value, UnsafeLayer)


def test_limits_are_their_own_error(box: Box) -> None:
    with pytest.raises(LayerLimitExceeded):
        box.unpack(tar_bytes([f("a"), f("b")]), options=UnpackOptions(max_entries=1))


def test_device_skipped_unprivileged(box: Box) -> None:
    r = box.unpack(tar_bytes([chr_dev("mem", 1, 1), fifo("p"), f("ok")]),
                   options=UnpackOptions(devices="skip"))
    assert not os.path.lexists(box.fs / "mem") and not os.path.lexists(box.fs / "p")
    assert any("skipping device node" in w for w in r.warnings)  # type: ignore[attr-defined]
    assert (box.fs / "ok").exists()


def test_gzip_bomb_is_bounded(box: Box) -> None:
    blob = gz(tar_bytes([f("zeros", bytes(64 << 20))]))
    assert len(blob) < 1 << 20
    with pytest.raises(LayerLimitExceeded):
        box.unpack(blob, options=UnpackOptions(max_bytes=1 << 20))


def test_replacing_nested_dirs_keeps_parent_fds_valid(box: Box) -> None:
    # a nested dir replaced by a symlink, a file and a hard link: the parent's cached fd
    # must stay valid (it used to be closed with the whole cache)
    box.unpack(tar_bytes([d("p"), d("p/q"), f("p/q/x"), sym("p/q", "elsewhere"),
                          d("p/r"), f("p/r/y"), f("p/r", b"file"), f("p/t", b"t"),
                          d("p/s"), hl("p/s", "p/t")]))
    assert os.readlink(box.fs / "p/q") == "elsewhere"
    assert (box.fs / "p/r").read_bytes() == b"file"
    assert (box.fs / "p/s").stat().st_ino == (box.fs / "p/t").stat().st_ino
    with pytest.raises(UnsafeLayer, match="was removed by this entry"):
        box.unpack(tar_bytes([d("k"), f("k/t"), hl("k", "k/t")]))
    assert box.outside() == UNTOUCHED


def test_many_dirs_no_fd_leak(box: Box) -> None:
    before = len(os.listdir("/proc/self/fd"))
    entries = [d(f"d{i % 300}/e{i}") for i in range(600)] + [f("d3/e3/file", b"x")]
    box.unpack(tar_bytes(entries))
    assert len(os.listdir("/proc/self/fd")) == before
    assert (box.fs / "d3/e3/file").read_bytes() == b"x"
