"""Full mode (PODRUN_VAGRANT_TEST=1), on the HOST: `vagrant up` with vagrant-libvirt and a
box built from the VM stage's image proves the top-level Vagrantfile: the checkout is
synced, provisioning installs podrun the README's way, runs the test command and
examples/run (podrun under systemd with the example pods), and `vagrant ssh -c 'sudo podrun
get pods'` lists them.

Needs the Debian packages vagrant, vagrant-libvirt, libvirt-daemon-system, qemu-utils and
dnsmasq-base; libvirtd is started by hand when it is not running (and stopped afterwards).
Everything Vagrant keeps goes to a temporary VAGRANT_HOME / .vagrant directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vm import harness

pytestmark = [pytest.mark.slow, pytest.mark.privileged]

TOP = Path(__file__).resolve().parents[2]
WHEELS = harness.CACHE / "wheels"
# What provisioning runs (tests/run's arguments): the tests that need the VM's kernel.
TEST_ARGS = "-m cgroupv2"


def _pid_of(pidfile: str) -> int | None:
    try:
        pid = int(Path(pidfile).read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _active_networks() -> set[str]:
    r = subprocess.run(["virsh", "net-list", "--name"], capture_output=True, text=True)
    return set(r.stdout.split())


@pytest.fixture
def libvirtd() -> Iterator[None]:
    if os.environ.get("PODRUN_VAGRANT_TEST") != "1":
        pytest.skip("full mode only (PODRUN_VAGRANT_TEST=1): boots a VM with vagrant-libvirt")
    for cmd in ("vagrant", "libvirtd", "virsh", "qemu-img"):
        if shutil.which(cmd) is None:
            pytest.skip(f"needs {cmd} (Debian: vagrant vagrant-libvirt libvirt-daemon-system "
                        "qemu-utils dnsmasq-base)")
    started: list[int] = []
    for daemon, pidfile in (("virtlogd", "/run/virtlogd.pid"), ("libvirtd", "/run/libvirtd.pid")):
        if _pid_of(pidfile) is None:
            subprocess.run([daemon, "-d"], check=True)
            for _ in range(50):
                if (pid := _pid_of(pidfile)) is not None:
                    started.append(pid)
                    break
                time.sleep(0.1)
    before = _active_networks()
    try:
        yield
    finally:
        # Networks that came up meanwhile (vagrant-libvirt's) run a dnsmasq each: stop them.
        for net in _active_networks() - before:
            subprocess.run(["virsh", "net-destroy", net], capture_output=True)
        for pid in reversed(started):
            os.kill(pid, signal.SIGTERM)


@pytest.mark.timeout(3600)
def test_vagrant_up_provisions_and_runs_the_tests(libvirtd: None, tmp_path: Path) -> None:
    box = harness.build_box(harness.build_image())
    if not WHEELS.is_dir() or not any(WHEELS.iterdir()):
        # The box has no PyPI access: the venv comes from these wheels (pip --no-index).
        subprocess.run([str(TOP / ".venv/bin/pip"), "download", "-q", "-d", str(WHEELS), "pip",
                        "setuptools>=68", "wheel", f"{TOP}[test]"], check=True)
    env = dict(os.environ, VAGRANT_HOME=str(tmp_path / "vagrant.d"), VAGRANT_CWD=str(TOP),
               VAGRANT_DOTFILE_PATH=str(tmp_path / "dot"), VAGRANT_DEFAULT_PROVIDER="libvirt",
               PODRUN_VAGRANT_BOX=harness.BOX_NAME, PODRUN_VAGRANT_WHEELS=str(WHEELS),
               PODRUN_VAGRANT_TEST_ARGS=TEST_ARGS,
               PODRUN_LIBVIRT_DRIVER="qemu" if harness.choose_accel() == "tcg" else "kvm")

    def vagrant(*args: str, timeout: float = 2400) -> subprocess.CompletedProcess[str]:
        # Output goes to a file as it comes (a long `vagrant up` can be followed there).
        log = tmp_path / f"vagrant-{args[0]}.log"
        with open(log, "w") as f:
            r = subprocess.run(["vagrant", *args], env=env, text=True, stdout=f,
                               stderr=subprocess.STDOUT, timeout=timeout)
        return subprocess.CompletedProcess(r.args, r.returncode, log.read_text(), "")

    subprocess.run(["vagrant", "box", "add", "--force", "--name", harness.BOX_NAME, str(box)],
                   env=env, check=True, capture_output=True)
    try:
        t0 = time.monotonic()
        up = vagrant("up", "--provider=libvirt")
        print(up.stdout[-20000:])
        print(f"vagrant up: {time.monotonic() - t0:.0f}s")
        assert up.returncode == 0, up.stdout[-3000:]
        assert "passed" in up.stdout and " failed" not in up.stdout
        version = vagrant("ssh", "-c", "sudo podrun version --client", timeout=300)
        assert version.returncode == 0, version.stdout
        assert any(line.startswith("podrun ") for line in version.stdout.splitlines()), \
            version.stdout
        # examples/run started the daemon under systemd: the example pods are listed.
        pods = vagrant("ssh", "-c", "sudo podrun get pods && systemctl is-active podrun "
                       "podrun-pods", timeout=300)
        assert pods.returncode == 0, pods.stdout
        assert "web" in pods.stdout and "Running" in pods.stdout, pods.stdout
    finally:
        vagrant("destroy", "-f", timeout=600)
        vagrant("box", "remove", "--force", "--all", harness.BOX_NAME, timeout=300)
        # vagrant-libvirt uploads the box into the default pool: remove that volume too.
        vols = subprocess.run(["virsh", "vol-list", "--pool", "default"], capture_output=True,
                              text=True).stdout.split()
        for vol in vols:
            if vol.startswith(harness.BOX_NAME.replace("/", "-VAGRANTSLASH-")):
                subprocess.run(["virsh", "vol-delete", "--pool", "default", vol],
                               capture_output=True)
