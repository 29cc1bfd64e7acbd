"""`podrun cp`'s pure parts: file specs, and what a container's tar may write locally."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from podrun.cli_more import _extract, _remote


@pytest.mark.parametrize(("spec", "want"), [
    ("web:/etc/hosts", (None, "web", "/etc/hosts")),
    ("kube-system/web:/etc", ("kube-system", "web", "/etc")),
    ("/tmp/a:b", (None, None, "/tmp/a:b")),
    ("./x:y", (None, None, "./x:y")),
    ("plain", (None, None, "plain")),
    ("web:", (None, None, "web:")),
])
def test_remote_specs(spec: str, want: tuple[str | None, str | None, str]) -> None:
    assert _remote(spec) == want


def _tar(entries: list[tuple[str, bytes | None, str]]) -> tarfile.TarFile:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            elif kind == "link":
                info.type = tarfile.SYMTYPE
                info.linkname = "/etc/passwd"
                t.addfile(info)
            else:
                assert data is not None
                info.size = len(data)
                info.mode = 0o640
                t.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return tarfile.open(fileobj=buf, mode="r")


def test_extract_renames_the_top_and_refuses_escapes(tmp_path: Path) -> None:
    tar = _tar([("data", None, "dir"), ("data/a", b"one", "file"),
                ("data/../../evil", b"x", "file"), ("/abs", b"x", "file"),
                ("data/link", None, "link"), ("other/b", b"y", "file")])
    dest = tmp_path / "copy"
    n = sum(_extract(tar, m, "data", str(dest)) for m in tar.getmembers())
    assert n == 2
    assert (dest / "a").read_bytes() == b"one"
    assert (dest / "a").stat().st_mode & 0o777 == 0o640
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()
    assert not (dest / "link").exists() and not (dest / "b").exists()
