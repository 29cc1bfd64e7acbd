"""podrun under systemd (DESIGN.md 4, docs/cgroups.md "Under systemd"), in the test VM
booted with systemd as PID 1.

- The real daemon under the shipped units (podrun.service + podrun-pods.service, installed
  from the checkout as examples/run does): pods run in podrun-pods.service's delegated
  cgroup with their limits, and `systemctl restart podrun` keeps them running and adopted
  (on Debian 12's systemd 252 too, where a unit holding the pods itself fails to restart
  with 219/CGROUP); `systemctl stop podrun` leaves them running.
- enter_delegated_subtree, for a unit that holds its pods itself: a service running
  tests/vm/delegated_pod.py (podrun's runtime) with Delegate=yes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
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
TOP = Path(__file__).resolve().parents[2]
PODRUN = TOP / ".venv" / "bin" / "podrun"
CGROUP2 = Path("/sys/fs/cgroup")
# Where the shipped units go (examples/run) and the daemon's default paths they use.
ETC_UNITS = Path("/etc/systemd/system")
DAEMON_PATHS = (Path("/var/lib/podrun"), Path("/run/podrun"), Path("/etc/podrun"))
SOCKET = "/run/podrun/podrun.sock"
IMAGE = "localhost/podrun-vmtest:1"
POD = "sd-restart"
MANIFEST = f"""apiVersion: v1
kind: Pod
metadata:
  name: {POD}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sleeper
    image: {IMAGE}
    command: ["sleep", "100000"]
    resources:
      limits: {{memory: 64Mi, cpu: 500m}}
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


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


# ---- the real daemon under the shipped units ----------------------------------------------


def _sh(*cmd: str | Path, check: bool = True, timeout: float = 180) -> str:
    """Run a command; on failure, fail with its output and the units' journal."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "PODRUN_SOCKET": SOCKET})
    if check and r.returncode != 0:
        journal = subprocess.run(["journalctl", "--no-pager", "-n", "60", "-u", "podrun",
                                  "-u", "podrun-pods"], capture_output=True, text=True).stdout
        pytest.fail(f"{' '.join(map(str, cmd))}: exit {r.returncode}\n{r.stdout}{r.stderr}\n"
                    f"journal:\n{journal}")
    return r.stdout


def _prop(unit: str, name: str) -> str:
    return _sh("systemctl", "show", f"--property={name}", "--value", unit).strip()


def _shipped_units() -> list[Path]:
    return sorted((TOP / "podrun").glob("*.service"))


@pytest.fixture
def shipped_units(tmp_path: Path) -> Iterator[None]:
    """The checkout's units installed the README's way (examples/run: @VENV@ -> .venv, into
    /etc/systemd/system), and an archive of localhost/podrun-vmtest:1 in tmp_path.
    Afterwards: the pod deleted through the daemon, both units stopped and removed, and the
    daemon's directories removed if the test created them."""
    if not full_cgroup_v2():
        pytest.skip(FULL_V2_REASON)
    if not pid1_is_systemd() or shutil.which("systemctl") is None:
        pytest.skip("needs systemd as PID 1 (tests/vm/run boots the VM with systemd)")
    units = _shipped_units()
    for unit in units:
        if _prop(unit.name, "LoadState") != "not-found" or (ETC_UNITS / unit.name).exists():
            pytest.skip(f"{unit.name} is already installed on this machine; this test installs "
                        "and removes its own")
    fresh = [p for p in DAEMON_PATHS if not p.exists()]
    from podrun.image.scratch import busybox_rootfs, oci_archive
    oci_archive(busybox_rootfs(tmp_path / "rootfs"), tmp_path / "image.tar", IMAGE)
    for unit in units:
        (ETC_UNITS / unit.name).write_text(unit.read_text().replace("@VENV@", str(TOP / ".venv")))
    _sh("systemctl", "daemon-reload")
    try:
        yield
    finally:
        _sh("systemctl", "start", "podrun", check=False)
        _sh(PODRUN, "delete", "pod", POD, "--force", "--timeout", "60s", check=False)
        for unit in reversed(units):
            _sh("systemctl", "stop", unit.name, check=False)
            (ETC_UNITS / unit.name).unlink(missing_ok=True)
            _sh("systemctl", "reset-failed", unit.name, check=False)
        _sh("systemctl", "daemon-reload", check=False)
        for p in fresh + sorted(Path("/var/log/pods").glob(f"default_{POD}_*")):
            shutil.rmtree(p, ignore_errors=True)


def _import_image(tmp_path: Path) -> None:
    _sh(PODRUN, "image", "import", tmp_path / "image.tar")


def _pod() -> dict[str, Any]:
    return json.loads(_sh(PODRUN, "get", "pod", POD, "-o", "json"))  # type: ignore[no-any-return]


def _procs(cg: Path) -> list[int]:
    return [int(p) for p in (cg / "cgroup.procs").read_text().split()]


def _cgroup_of(pid: int) -> str:
    return Path(f"/proc/{pid}/cgroup").read_text().strip()


def _placement(pods_unit_cg: str, pod: dict[str, Any]) -> dict[str, Any]:
    """Where the pod's processes are and what limits its cgroups have."""
    uid = pod["metadata"]["uid"]
    [status] = pod["status"]["containerStatuses"]
    cid = status["containerID"].split("://", 1)[1]
    rel = f"{pods_unit_cg}/pods/pod{uid}"
    pod_cg = CGROUP2 / rel.lstrip("/")
    [pause] = _procs(pod_cg / "sandbox")
    [sleeper] = _procs(pod_cg / cid)
    return {
        "pause": pause, "sleeper": sleeper, "cid": cid, "restarts": status["restartCount"],
        "started": status["state"]["running"]["startedAt"], "phase": pod["status"]["phase"],
        "pause_cgroup": _cgroup_of(pause), "sleeper_cgroup": _cgroup_of(sleeper),
        "want_pause": f"0::{rel}/sandbox", "want_sleeper": f"0::{rel}/{cid}",
        "sleeper_cmd": Path(f"/proc/{sleeper}/cmdline").read_bytes().split(b"\0")[:2],
        "limits": {f: (pod_cg / cid / f).read_text().strip() for f in ("memory.max", "cpu.max")},
        "pod_memory_max": (pod_cg / "memory.max").read_text().strip(),
    }


def _wait_running(timeout: float = 120) -> dict[str, Any]:
    """The pod once Running with its container ready."""
    deadline = time.monotonic() + timeout
    while True:
        pod = _pod()
        conds = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        if pod["status"].get("phase") == "Running" and conds.get("Ready") == "True":
            return pod
        assert time.monotonic() < deadline, f"pod not Running and Ready: {pod['status']}"
        time.sleep(1)


@pytest.mark.timeout(900)
def test_real_daemon_pods_survive_systemctl_restart(shipped_units: None, tmp_path: Path) -> None:
    _sh("systemctl", "start", "podrun", timeout=300)
    assert _prop("podrun.service", "ActiveState") == "active"
    assert _prop("podrun-pods.service", "ActiveState") == "active"
    assert _prop("podrun-pods.service", "Delegate") == "yes"
    pods_unit_cg = _prop("podrun-pods.service", "ControlGroup")
    daemon_cg = CGROUP2 / _prop("podrun.service", "ControlGroup").lstrip("/")
    _import_image(tmp_path)
    (tmp_path / "pod.yaml").write_text(MANIFEST)
    _sh(PODRUN, "apply", "-f", tmp_path / "pod.yaml", "--wait", "--timeout", "150s", timeout=300)
    first = _placement(pods_unit_cg, _wait_running())

    # Inside podrun-pods.service's delegated subtree, with limits.memory/cpu written.
    assert first["pause_cgroup"] == first["want_pause"]
    assert first["sleeper_cgroup"] == first["want_sleeper"]
    assert first["sleeper_cmd"] == [b"sleep", b"100000"]
    assert first["limits"] == {"memory.max": str(64 * 2**20), "cpu.max": "50000 100000"}
    assert first["pod_memory_max"] == str(64 * 2**20)
    # The holder left the pods unit's own cgroup, the daemon's unit holds only the daemon.
    holder = CGROUP2 / pods_unit_cg.lstrip("/")
    assert _procs(holder) == [] and _procs(holder / "holder") == [
        int(_prop("podrun-pods.service", "MainPID"))]
    old_daemon = int(_prop("podrun.service", "MainPID"))
    assert _procs(daemon_cg) == [old_daemon]
    assert (daemon_cg / "cgroup.subtree_control").read_text().split() == []

    # systemctl restart: a new daemon (systemd 252 puts it in the unit's own cgroup, which
    # works because that cgroup passes no controllers down), same pod, same processes.
    _sh("systemctl", "restart", "podrun", timeout=300)
    assert _prop("podrun.service", "ActiveState") == "active"
    new_daemon = int(_prop("podrun.service", "MainPID"))
    assert new_daemon != old_daemon
    assert _cgroup_of(new_daemon) == f"0::/{daemon_cg.relative_to(CGROUP2)}"
    second = _placement(pods_unit_cg, _wait_running())
    assert second == first, "the restart changed the pod"
    assert second["restarts"] == 0 and second["phase"] == "Running"
    listing = _sh(PODRUN, "get", "pods")
    assert POD in listing and "Running" in listing, listing

    # systemctl stop: only the daemon stops; the pod's processes keep running in place.
    _sh("systemctl", "stop", "podrun", timeout=300)
    assert _prop("podrun.service", "ActiveState") == "inactive"
    assert _prop("podrun-pods.service", "ActiveState") == "active"
    for who in ("pause", "sleeper"):
        assert _alive(first[who]), f"{who} died with the daemon"
        assert _cgroup_of(first[who]) == first[f"want_{who}"]
