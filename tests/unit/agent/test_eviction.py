"""emptyDir sizeLimit eviction: the pure check, the usage walk, the kubelet's message."""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.agent import eviction as EV
from podrun.agent.volumes import EMPTY_DIR
from podrun.spec import load_text
from podrun.spec.types import Pod
from tests.support import TEST_TMP

MiB = 1 << 20


def pod(volumes: str, annotations: str = "", priority: int | None = None) -> Pod:
    text = textwrap.dedent(f"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: p
          namespace: default
          {annotations}
        spec:
          {f"priority: {priority}" if priority is not None else ""}
          containers: [{{name: c, image: busybox}}]
          volumes:
        """) + textwrap.indent(textwrap.dedent(volumes), "  ")
    recs = load_text(text)
    assert len(recs) == 1 and isinstance(recs[0].obj, Pod), [list(r.messages()) for r in recs]
    return recs[0].obj


@pytest.fixture
def pod_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="podrun-evict-", dir=TEST_TMP))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def fill(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
        f.flush()
        os.fsync(f.fileno())


VOLUMES = """
- name: scratch
  emptyDir: {sizeLimit: 1Mi}
- name: big
  emptyDir: {sizeLimit: 1000k}
- name: unlimited
  emptyDir: {}
- name: zero
  emptyDir: {sizeLimit: "0"}
- name: mem
  emptyDir: {medium: Memory, sizeLimit: 1Mi}
"""


def test_evaluate_pure() -> None:
    p = pod(VOLUMES)
    assert EV.evaluate(p, {"scratch": MiB}) == []  # equal is not over (Cmp > 0)
    ev = EV.evaluate(p, {"scratch": MiB + 1, "big": 10 * MiB, "unlimited": 10 * MiB,
                         "zero": 10 * MiB, "mem": 0})
    assert [e.volume for e in ev] == ["scratch", "big"]
    assert ev[0].message == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". '
    assert ev[1].limit == 1_000_000
    assert ev[1].message == 'Usage of EmptyDir volume "big" exceeds the limit "1M". '
    assert ev[0].event() == ("Warning", "Evicted", ev[0].message)
    assert ev[0].reason == "Evicted"
    assert EV.evaluate(p, {}) == []


def test_check_emptydir_usage(pod_dir: Path) -> None:
    p = pod(VOLUMES)
    base = pod_dir / "volumes" / EMPTY_DIR
    fill(base / "scratch" / "small", 100_000)
    fill(base / "unlimited" / "huge", 3 * MiB)
    assert EV.check_emptydir_usage(p, pod_dir) == []
    fill(base / "scratch" / "sub" / "dir" / "more", 2 * MiB)
    ev = EV.check_emptydir_usage(p, pod_dir)
    assert [e.volume for e in ev] == ["scratch"]
    assert ev[0].used >= 2 * MiB + 100_000
    assert ev[0].message == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". '


def test_missing_volume_dir_is_not_over(pod_dir: Path) -> None:
    assert EV.check_emptydir_usage(pod(VOLUMES), pod_dir) == []


def test_usage_counts_blocks_links_once_and_no_symlinks(pod_dir: Path) -> None:
    vol = pod_dir / "v"
    fill(vol / "a", MiB)
    base = EV.disk_usage(vol)
    assert base >= MiB
    os.link(vol / "a", vol / "hardlink")
    assert EV.disk_usage(vol) == base  # one inode, counted once
    outside = pod_dir / "outside"
    fill(outside / "big", 4 * MiB)
    os.symlink(outside, vol / "link-to-dir")
    os.symlink(outside / "big", vol / "link-to-file")
    assert EV.disk_usage(vol) < base + MiB  # links are not followed
    with open(vol / "sparse", "wb") as f:
        f.truncate(50 * MiB)  # size without blocks
    assert EV.disk_usage(vol) < base + MiB
    assert EV.disk_usage(pod_dir / "nothing") == 0


def test_critical_pods_are_not_evicted(pod_dir: Path) -> None:
    fill(pod_dir / "volumes" / EMPTY_DIR / "scratch" / "f", 2 * MiB)
    static = pod(VOLUMES, annotations="annotations: {kubernetes.io/config.source: file}")
    assert EV.is_critical_pod(static)
    assert EV.check_emptydir_usage(static, pod_dir) == []
    assert [e.volume for e in EV.check_emptydir_usage(static, pod_dir,
                                                     include_critical=True)] == ["scratch"]
    api = pod(VOLUMES, annotations="annotations: {kubernetes.io/config.source: api}")
    assert not EV.is_critical_pod(api)
    assert EV.is_critical_pod(pod(VOLUMES, priority=2_000_000_000))
    assert not EV.is_critical_pod(pod(VOLUMES, priority=1000))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount")
def test_usage_does_not_cross_mounts(pod_dir: Path) -> None:
    from podrun.runtime import syscalls as S
    vol = pod_dir / "v"
    (vol / "mnt").mkdir(parents=True)
    S.mount("tmpfs", str(vol / "mnt"), "tmpfs", 0, "size=8m")
    try:
        before = EV.disk_usage(vol)
        fill(vol / "mnt" / "big", 4 * MiB)
        assert EV.disk_usage(vol) == before
    finally:
        S.umount2(str(vol / "mnt"), S.MNT_DETACH)
