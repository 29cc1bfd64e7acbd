"""podrun under systemd with Delegate=yes (DESIGN.md 4), in the test VM booted with systemd
as PID 1: pods go inside the unit's delegated subtree, survive a restart of the unit
(KillMode=process) and are adopted by the next instance.

The service runs tests/vm/delegated_pod.py (podrun's runtime, as the daemon would use it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import TEST_TMP
from tests.vm.vmsupport import FULL_V2_REASON, full_cgroup_v2, pid1_is_systemd

pytestmark = [pytest.mark.cgroupv2, pytest.mark.privileged]

SCRIPT = Path(__file__).with_name("delegated_pod.py")
UNIT_DIR = Path("/run/systemd/system")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _systemd_version() -> int:
    if shutil.which("systemctl") is None:
        return 0
    r = subprocess.run(["systemctl", "--version"], capture_output=True, text=True)
    words = r.stdout.split()
    return int(words[1]) if len(words) > 1 and words[1].isdigit() else 0


@pytest.fixture
def unit(busybox_rootfs: Path) -> Iterator[Callable[[str], tuple[str, Path]]]:
    """unit(mode) -> (name, workdir): a service unit running delegated_pod.py MODE with
    Delegate=yes and KillMode=process (the settings podrun's unit ships with). Everything it
    left is removed after the test."""
    if not full_cgroup_v2():
        pytest.skip(FULL_V2_REASON)
    if not pid1_is_systemd() or shutil.which("systemctl") is None:
        pytest.skip("needs systemd as PID 1 (tests/vm/run boots the VM with systemd)")
    made: list[tuple[str, Path]] = []

    def make(mode: str) -> tuple[str, Path]:
        name = f"podrun-vmtest-{uuid.uuid4().hex[:8]}.service"
        work = Path(tempfile.mkdtemp(prefix="podrun-vmtest-sd-", dir=TEST_TMP))
        made.append((name, work))
        # The checkout's python (the venv) and the rootfs are passed as they are here.
        # DelegateSubgroup (systemd >= 254) puts the main process into <unit>/daemon, the
        # leaf podrun moves itself to anyway; older systemd ignores the line with a warning.
        (UNIT_DIR / name).write_text(f"""[Unit]
Description=podrun VM test: pods in a delegated subtree
[Service]
Type=oneshot
RemainAfterExit=yes
Delegate=yes
DelegateSubgroup=daemon
KillMode=process
Environment=PYTHONDONTWRITEBYTECODE=1
ExecStart={sys.executable} {SCRIPT} {mode} {busybox_rootfs} {work}
StandardOutput=append:{work}/out.jsonl
StandardError=append:{work}/err.log
""")
        subprocess.run(["systemctl", "daemon-reload"], check=True)
        return name, work

    try:
        yield make
    finally:
        for name, work in made:
            # KillMode=process spares the pods on stop: kill the whole unit first.
            subprocess.run(["systemctl", "kill", "--kill-whom=all", "--signal=SIGKILL", name],
                           capture_output=True)
            subprocess.run(["systemctl", "stop", name], capture_output=True)
            (UNIT_DIR / name).unlink()
            subprocess.run(["systemctl", "reset-failed", name], capture_output=True)
            for line in Path("/proc/self/mountinfo").read_text().splitlines():
                if str(work) in line:
                    subprocess.run(["umount", "-l", line.split()[4]], capture_output=True)
            shutil.rmtree(work, ignore_errors=True)
        subprocess.run(["systemctl", "daemon-reload"], check=True)


def _reports(work: Path) -> list[dict[str, Any]]:
    out = work / "out.jsonl"
    lines = out.read_text().splitlines() if out.exists() else []
    return [json.loads(line) for line in lines if line.startswith("{")]


def _systemctl(*args: str, work: Path) -> None:
    r = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        err = (work / "err.log").read_text() if (work / "err.log").exists() else ""
        status = subprocess.run(["systemctl", "status", "--no-pager", "-l", args[-1]],
                                capture_output=True, text=True).stdout
        pytest.fail(f"systemctl {' '.join(args)}: {r.stderr}\n{status}\nstderr:\n{err}")


def _check_placement(first: dict[str, Any], name: str) -> None:
    own = f"/system.slice/{name}"
    assert first["layout"] == "unified" and first["delegated"] is True, first
    assert first["own_before"] == own
    # The service's own process left for a leaf, so the unit cgroup can pass controllers on.
    assert first["own_after"] == f"0::{own}/daemon"
    assert first["root"] == first["pods_root"] == f"/sys/fs/cgroup{own}/pods"
    assert {"cpu", "memory", "pids"} <= set(first["enabled"])
    assert first["not_enforced"] == []
    assert first["pause_cgroup"] == f"0::{own}/pods/poduid1/sandbox"
    assert first["container_cgroup"] == f"0::{own}/pods/poduid1/sleeper"
    # requests.cpu 250m, limits.cpu 500m, limits.memory 64Mi
    assert first["files"] == {"memory.max": str(64 * 2**20), "cpu.max": "50000 100000",
                              "cpu.weight": "35"}


def _check_oom_and_cleanup(second: dict[str, Any], name: str) -> None:
    assert second["hog_exit"] == 137 and second["hog_reason"] == "OOMKilled", second
    assert second["pod_cgroup_left"] is False and second["root_left"] is False
    assert not Path(f"/sys/fs/cgroup/system.slice/{name}/pods").exists()


def test_pods_live_in_the_delegated_subtree(unit: Callable[[str], tuple[str, Path]]) -> None:
    name, work = unit("all")
    _systemctl("start", name, work=work)
    first, second = _reports(work)
    _check_placement(first, name)
    assert second["sleeper_state"] == "running"
    _check_oom_and_cleanup(second, name)
    assert not _alive(int(first["pause_pid"]))


@pytest.mark.xfail(_systemd_version() < 254, strict=True, reason=(
    "systemd < 254 (Debian 12 has 252) starts a restarted service's main process in the unit's "
    "own cgroup, which cannot take processes while podrun's pods use controllers below it "
    "(cgroup v2 'no internal processes'): the restart fails with 219/CGROUP. systemd >= 254 "
    "has DelegateSubgroup= for this"))
def test_pods_survive_a_restart_of_the_service(unit: Callable[[str], tuple[str, Path]]) -> None:
    name, work = unit("auto")
    _systemctl("start", name, work=work)
    [first] = _reports(work)
    _check_placement(first, name)
    # KillMode=process: a restart stops the service's own process, never the pods.
    _systemctl("restart", name, work=work)
    reports = _reports(work)
    assert len(reports) == 2, reports
    second = reports[1]
    assert second["sleeper_state"] == "running", second
    assert second["sleeper_pid"] == first["container_pid"]
    _check_oom_and_cleanup(second, name)
