"""mountPropagation through the real runtime: None, HostToContainer, Bidirectional.

A hostPath volume on a directory under the test's temporary root. Host-side mounts are made
under it after the container started, container-side ones through exec (the containers are
privileged so they may mount). Every mount a test makes is undone in `finally`; the volume
fixtures then check that podrun left no mount behind (its shared bind included).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from podrun.agent import volumes as V
from podrun.runtime import mounts as M
from podrun.runtime import syscalls as S

from .conftest import PodRun

pytestmark = pytest.mark.privileged

MakePod = Callable[..., PodRun]


def manifest(host_dir: Path, propagation: str | None, *, privileged: bool = True) -> str:
    prop = f", mountPropagation: {propagation}" if propagation else ""
    return textwrap.dedent(f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: prop, namespace: default}}
        spec:
          restartPolicy: Never
          volumes:
          - name: host
            hostPath: {{path: {host_dir}, type: Directory}}
          containers:
          - name: c
            image: busybox
            command: [sleep, "3600"]
            securityContext: {{privileged: {str(privileged).lower()}}}
            volumeMounts:
            - {{name: host, mountPath: /vol{prop}}}
        """)


def _infos() -> list[M.MountInfo]:
    return M.parse_mountinfo(Path("/proc/self/mountinfo").read_text())


def mount_points() -> set[str]:
    return {m.mount_point for m in _infos()}


@pytest.fixture
def host_dir(base: Path) -> Iterator[Path]:
    """The hostPath volume's directory; every mount below it is removed at the end (the
    one at the directory itself is podrun's, and its cleanup is what the fixtures check)."""
    d = base / "host"
    d.mkdir()
    try:
        yield d
    finally:
        for mp in V.mounts_under(d):
            if mp != str(d):
                S.umount2(mp, S.MNT_DETACH)


def host_mount(where: Path, marker: str) -> None:
    where.mkdir(exist_ok=True)
    S.mount("tmpfs", str(where), "tmpfs", 0, "size=1m")
    (where / "marker").write_text(marker)


def sees(run: PodRun, path: str) -> str | None:
    """The content of `path` inside the container, None when it is not there."""
    r = run.exec("c", ["cat", path])
    return r.stdout.decode() if r.exit_code == 0 else None


def container_mount(run: PodRun, where: str, marker: str) -> None:
    r = run.exec("c", ["sh", "-c", f"mkdir -p {where} && mount -t tmpfs tmpfs {where} "
                       f"&& echo -n {marker} > {where}/marker"])
    assert r.exit_code == 0, (r.stdout, r.stderr, r.error)


def test_host_to_container(make_pod: MakePod, host_dir: Path) -> None:
    run = make_pod(manifest(host_dir, "HostToContainer"))
    launch = run.start("c")
    assert launch.config["linux"]["rootfsPropagation"] == "rslave"
    assert "rslave" in next(m for m in launch.config["mounts"]
                            if m["destination"] == "/vol")["options"]
    host_mount(host_dir / "late", "from-host")
    assert sees(run, "/vol/late/marker") == "from-host"
    # rslave: nothing goes back to the host.
    container_mount(run, "/vol/inner", "from-container")
    assert str(host_dir / "inner") not in mount_points()
    assert not (host_dir / "inner" / "marker").exists()


def test_host_to_container_unprivileged(make_pod: MakePod, host_dir: Path) -> None:
    run = make_pod(manifest(host_dir, "HostToContainer", privileged=False))
    run.start("c")
    host_mount(host_dir / "late", "from-host")
    assert sees(run, "/vol/late/marker") == "from-host"


def test_bidirectional(make_pod: MakePod, host_dir: Path) -> None:
    run = make_pod(manifest(host_dir, "Bidirectional"))
    launch = run.start("c")
    assert launch.config["linux"]["rootfsPropagation"] == "rshared"
    container_mount(run, "/vol/inner", "from-container")
    assert str(host_dir / "inner") in mount_points()
    assert (host_dir / "inner" / "marker").read_text() == "from-container"
    host_mount(host_dir / "late", "from-host")
    assert sees(run, "/vol/late/marker") == "from-host"
    # (Bidirectional without privileged is refused at validation: test_validate.py.)
    # The container's own setup mounts (rootfs, /proc, ...) did not reach the host.
    leaked = [mp for mp in mount_points() if "/containers/" in mp]
    assert not leaked, leaked


def test_none_propagates_nothing(make_pod: MakePod, host_dir: Path) -> None:
    # The host side is shared, so only the container's private copy can stop propagation.
    S.mount(str(host_dir), str(host_dir), None, S.MS_BIND)
    S.mount(None, str(host_dir), None, S.MS_SHARED)
    try:
        run = make_pod(manifest(host_dir, None))
        launch = run.start("c")
        assert "rootfsPropagation" not in launch.config.get("linux", {})
        host_mount(host_dir / "late", "from-host")
        assert sees(run, "/vol/late/marker") is None
        container_mount(run, "/vol/inner", "from-container")
        assert str(host_dir / "inner") not in mount_points()
        assert not (host_dir / "inner" / "marker").exists()
    finally:
        for mp in V.mounts_under(host_dir):
            S.umount2(mp, S.MNT_DETACH)


def test_two_pods_share_the_bind(make_pod: MakePod, host_dir: Path) -> None:
    """podrun's shared bind of a hostPath stays while another pod still uses it."""
    a = make_pod(manifest(host_dir, "HostToContainer"))
    a.start("c")
    b = make_pod(manifest(host_dir, "HostToContainer").replace("name: prop", "name: prop2"))
    b.start("c")
    shared = [m for m in _infos() if m.mount_point == str(host_dir)]
    assert len(shared) == 1 and shared[0].shared
    a.rt.remove_sandbox(a.sandbox)
    from podrun.agent.containers import cleanup_pod
    cleanup_pod(a.ctx)
    assert str(host_dir) in mount_points()  # b still records it
    host_mount(host_dir / "late", "from-host")
    assert sees(b, "/vol/late/marker") == "from-host"


def test_emptydir_bidirectional(make_pod: MakePod) -> None:
    """A pod-owned volume: podrun makes it a shared mount below the pod dir (as the
    kubelet's rshared root) and cleanup_pod removes it."""
    run = make_pod(textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: ed, namespace: default}
        spec:
          restartPolicy: Never
          volumes:
          - {name: scratch, emptyDir: {}}
          containers:
          - name: c
            image: busybox
            command: [sleep, "3600"]
            securityContext: {privileged: true}
            volumeMounts:
            - {name: scratch, mountPath: /scratch, mountPropagation: Bidirectional}
        """))
    run.start("c")
    vol = run.ctx.pod_dir / "volumes" / V.EMPTY_DIR / "scratch"
    try:
        container_mount(run, "/scratch/inner", "from-container")
        assert (vol / "inner" / "marker").read_text() == "from-container"
    finally:
        for mp in V.mounts_under(vol):
            if mp != str(vol):
                S.umount2(mp, S.MNT_DETACH)
    assert V.is_mounted(vol)


def test_host_to_container_subpath(make_pod: MakePod, host_dir: Path) -> None:
    """A subPath of a propagating volume: the subPath bind is made after the source is
    shared, so it is in the same peer group and host mounts below it still arrive."""
    (host_dir / "sub").mkdir()
    text = manifest(host_dir, "HostToContainer").replace(
        "mountPath: /vol,", "mountPath: /vol, subPath: sub,")
    run = make_pod(text)
    run.start("c")
    host_mount(host_dir / "sub" / "late", "from-host")
    assert sees(run, "/vol/late/marker") == "from-host"
