"""A tiny pod runner for the volume/env tests: sandbox + prepare_pod + build_container + start.

Each test gets a Runtime over a temporary root under /var/tmp and a podrun-test-* cgroup;
teardown removes the sandboxes, runs cleanup_pod and checks no mount or cgroup is left.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from podrun.agent.containers import (
    ContainerLaunch,
    ImageConfig,
    PodContext,
    build_container,
    cleanup_pod,
    prepare_pod,
)
from podrun.runtime.cgroups import CgroupManager, Layout, detect_host
from podrun.runtime.runtime import Runtime, SandboxOptions
from podrun.spec import load_text
from podrun.spec.types import Pod
from tests.support import TEST_TMP

POD_IP = "10.244.7.9"
NO_IMAGE_CONFIG = ImageConfig()


def parse_pod(text: str) -> Pod:
    recs = load_text(text)
    assert len(recs) == 1 and recs[0].ok, [list(r.messages()) for r in recs]
    obj = recs[0].obj
    assert isinstance(obj, Pod)
    return obj


@dataclass
class PodRun:
    """One pod: its context, sandbox and the containers started in it."""

    rt: Runtime
    ctx: PodContext
    sandbox: str
    rootfs: Path
    log_dir: Path
    launches: dict[str, ContainerLaunch] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)

    def start(self, name: str, image: ImageConfig = NO_IMAGE_CONFIG, restart_count: int = 0
              ) -> ContainerLaunch:
        spec = self.ctx.pod.spec
        assert spec is not None
        container = next(c for c in (*(spec.containers or ()), *(spec.init_containers or ()))
                         if c.name == name)
        launch = build_container(self.ctx, container, image, restart_count=restart_count,
                                 is_init=False)
        self.launches[name] = launch
        cid = f"{name}-{restart_count}"
        self.rt.create_container(self.sandbox, cid, launch.config,
                                 log_path=self.log_dir / name / f"{restart_count}.log",
                                 lowerdirs=[str(self.rootfs)],
                                 cgroup_values=launch.cgroup_values)
        return launch

    def wait(self, name: str, restart_count: int = 0, timeout: float = 10.0) -> Any:
        cid = f"{name}-{restart_count}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.rt.container_status(self.sandbox, cid)
            if st.state != "running":
                return st
            time.sleep(0.05)
        raise AssertionError(f"{cid} still running after {timeout}s")

    def output(self, name: str, restart_count: int = 0) -> str:
        path = self.log_dir / name / f"{restart_count}.log"
        lines = []
        text = path.read_text() if path.exists() else ""
        for line in text.splitlines():
            _ts, _stream, tag, content = (line.split(" ", 3) + [""])[:4]
            lines.append(content + ("\n" if tag == "F" else ""))
        return "".join(lines)

    def run(self, name: str, image: ImageConfig = NO_IMAGE_CONFIG, restart_count: int = 0
            ) -> tuple[int, str]:
        self.start(name, image, restart_count)
        st = self.wait(name, restart_count)
        return st.exit_code, self.output(name, restart_count)

    def exec(self, name: str, argv: list[str], restart_count: int = 0) -> Any:
        return self.rt.exec_sync(self.sandbox, f"{name}-{restart_count}", argv, timeout=10)


@pytest.fixture
def base() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="podrun-vol-", dir=TEST_TMP))
    try:
        yield d
    finally:
        leftovers = [line for line in Path("/proc/self/mountinfo").read_text().splitlines()
                     if str(d) in line]
        shutil.rmtree(d, ignore_errors=True)
        assert not leftovers, f"mounts left behind: {leftovers}"


@pytest.fixture
def make_pod(busybox_rootfs: Path, base: Path) -> Iterator[Callable[..., PodRun]]:
    host = detect_host()
    if host.layout is Layout.NONE or host.mountpoint is None:
        pytest.skip("no cgroup v2 hierarchy mounted on this host")
    cg_root = host.mountpoint / f"podrun-test-{uuid.uuid4().hex[:8]}"
    cgroups = CgroupManager(cg_root, mountpoint=host.mountpoint, layout=host.layout)
    cgroups.setup()
    rt = Runtime(base / "run", base / "root", cgroups=cgroups)
    runs: list[PodRun] = []

    def make(manifest: str, *, configmaps: dict[str, dict[str, Any]] | None = None,
             secrets: dict[str, dict[str, Any]] | None = None, **ctx_kw: Any) -> PodRun:
        pod = parse_pod(manifest)
        assert pod.metadata is not None and pod.spec is not None
        uid = pod.metadata.uid or uuid.uuid4().hex
        if not pod.metadata.uid:
            from dataclasses import replace
            pod = replace(pod, metadata=replace(pod.metadata, uid=uid))
        cms = configmaps if configmaps is not None else {}
        secs = secrets if secrets is not None else {}
        sb = "sb" + uuid.uuid4().hex[:10]
        status = rt.create_sandbox(sb, SandboxOptions(pod_uid=uid, hostname=pod.metadata.name))
        ctx = PodContext(pod=pod, pod_dir=base / "root" / "pods" / uid, node_name="node1",
                         host_ip="192.0.2.1", pod_ips=(POD_IP,), shm_path=status.shm_path,
                         configmaps=lambda ns, n: cms.get(n), secrets=lambda ns, n: secs.get(n),
                         **ctx_kw)
        run = PodRun(rt, ctx, sb, busybox_rootfs, base / "logs" / uid)
        runs.append(run)
        run.events.extend(prepare_pod(ctx))
        return run

    try:
        yield make
    finally:
        for run in runs:
            try:
                rt.remove_sandbox(run.sandbox)
            except Exception:  # noqa: BLE001 - keep cleaning
                pass
            cleanup_pod(run.ctx)
            assert not run.ctx.pod_dir.exists()
        cgroups.remove_root()
        assert not cg_root.exists(), f"cgroup root left behind: {cg_root}"
