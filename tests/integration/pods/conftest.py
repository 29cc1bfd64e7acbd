"""A real daemon with the pod engine, driven through the installed CLI: its own cgroup
root, the busybox image `localhost/busybox:1.35` built from Debian's busybox-static and
imported before the daemon starts. Everything is removed at the end, also on failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podrun.image.archive import import_file
from podrun.image.scratch import oci_archive
from podrun.image.store import ImageStore
from podrun.runtime.cgroups import Layout, detect_host
from tests.integration.daemon.conftest import Daemon
from tests.integration.daemon.conftest import e2e_dir as e2e_dir  # the fixture
from tests.support import make_busybox_rootfs

IMAGE = "localhost/busybox:1.35"


@pytest.fixture(scope="session")
def busybox_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("image")
    return oci_archive(make_busybox_rootfs(d / "rootfs"), d / "busybox.tar", IMAGE)


class PodDaemon(Daemon):
    extra_args: list[str] = []

    def argv(self) -> list[str]:
        return [*super().argv(), *self.extra_args]

    def pod(self, name: str, ns: str = "default") -> dict[str, Any] | None:
        r = self.cli("get", "pod", name, "-n", ns, "-o", "json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def status(self, name: str) -> dict[str, Any]:
        return dict((self.pod(name) or {}).get("status") or {})

    def container(self, name: str, container: str, init: bool = False) -> dict[str, Any]:
        key = "initContainerStatuses" if init else "containerStatuses"
        for c in self.status(name).get(key) or []:
            if c["name"] == container:
                return dict(c)
        return {}

    def apply(self, manifest: str) -> subprocess.CompletedProcess[str]:
        r = self.cli("apply", "-f", "-", input=manifest)
        assert r.returncode == 0, r.stderr + self.log_text()[-3000:]
        return r

    def wait_phase(self, name: str, phase: str, timeout: float = 30) -> dict[str, Any]:
        return self.wait_for(lambda: (st := self.status(name)).get("phase") == phase and st,
                             timeout=timeout)

    def delete_all(self) -> None:
        names = self.cli("get", "pods", "-A", "-o", "json").stdout
        try:
            items = json.loads(names).get("items", [])
        except ValueError:
            items = []
        for pod in items:
            md = pod["metadata"]
            self.cli("delete", "pod", md["name"], "-n", md.get("namespace", "default"),
                     "--grace-period", "0", "--force", "--wait", timeout=60)


@pytest.fixture
def pods(e2e_dir: Path, busybox_archive: Path) -> Iterator[PodDaemon]:
    host = detect_host()
    if host.layout is Layout.NONE or host.mountpoint is None:
        pytest.skip("no cgroup v2 hierarchy mounted on this host")
    cg_root = host.mountpoint / f"podrun-test-{uuid.uuid4().hex[:8]}"
    d = PodDaemon(e2e_dir, config={"fileCheckFrequency": "1s"})
    net = _private_network(e2e_dir)
    d.extra_args = ["--cgroup-root", str(cg_root), "--cni-conf-dir", str(net["confDir"])]
    import_file(ImageStore(str(d.root / "images")), str(busybox_archive))
    try:
        yield d.start()
    finally:
        try:
            if d.proc is not None and d.proc.poll() is None:
                d.delete_all()
        finally:
            d.stop()
            # DESIGN.md 7 invariant 2: `podrun doctor` finds nothing once the pods are gone
            from tests.integration.reliability.conftest import run_doctor
            _, doc = run_doctor(d, "--min-age", "0")
            doctor_leaks = [f"{lk['kind']}: {lk['id']}" for lk in doc.get("leaks", [])]
            if doctor_leaks:
                run_doctor(d, "--fix", "--min-age", "0")
            leftovers = _leftovers(e2e_dir, cg_root)
            _force_cleanup(e2e_dir, cg_root)
            _remove_network(net)
        assert not leftovers and not doctor_leaks, f"left behind: {leftovers} {doctor_leaks}"


def _private_network(base: Path) -> dict[str, Any]:
    """A conflist of podrun's plugin on a bridge and /24 of this test's own."""
    tag = uuid.uuid4().hex[:6]
    octet = int(tag[:2], 16)
    conf_dir = base / "cni-conf"
    conf_dir.mkdir()
    conf = {
        "cniVersion": "1.1.0", "name": f"prt-{tag}",
        "plugins": [{
            "type": "podrun-bridge", "bridge": f"prt-{tag}", "isGateway": True,
            "ipMasq": True, "hairpinMode": True, "nftTable": f"prt_{tag}",
            "ipam": {"subnet": f"10.251.{octet}.0/24", "gateway": f"10.251.{octet}.1",
                     "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(base / "ipam")},
            "stateDir": str(base / "cni-state"),
            "capabilities": {"portMappings": True},
        }],
    }
    (conf_dir / "10-test.conflist").write_text(json.dumps(conf))
    return {"confDir": conf_dir, "bridge": f"prt-{tag}", "table": f"prt_{tag}"}


def _remove_network(net: dict[str, Any]) -> None:
    subprocess.run(["ip", "link", "del", net["bridge"]], check=False, capture_output=True)
    for family in ("inet", "ip", "ip6"):
        subprocess.run(["nft", "delete", "table", family, net["table"]], check=False,
                       capture_output=True)


def _leftovers(base: Path, cg_root: Path) -> list[str]:
    out = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
           if str(base) in line.split()[4]]
    if cg_root.exists():
        out += [str(p) for p in cg_root.glob("pod*")]
    out += [f"pause still running: {p}" for p in base.glob("run/sandboxes/*/pause.pid")]
    return out


def _force_cleanup(base: Path, cg_root: Path) -> None:
    """Only after a failure: kill what the test's daemon left, unmount, remove cgroups."""
    for pidfile in base.glob("run/sandboxes/*/pause.pid"):
        try:
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
        except (ValueError, OSError):
            pass
    for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
        mnt = line.split()[4]
        if mnt.startswith(str(base)):
            subprocess.run(["umount", "-l", mnt], check=False, capture_output=True)
    if cg_root.exists():
        dirs = sorted((p for p in cg_root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for p in [*dirs, cg_root]:
            try:
                (p / "cgroup.kill").write_text("1")
            except OSError:
                pass
        for p in [*dirs, cg_root]:
            for _ in range(100):
                try:
                    p.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
