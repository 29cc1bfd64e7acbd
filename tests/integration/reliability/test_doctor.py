"""`podrun doctor` against a real daemon: nothing to report while pods run; after the daemon
is SIGKILLed and its store lost, every orphan is found, --fix removes it all and a second
run is clean."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.pods.conftest import PodDaemon
from tests.integration.reliability.conftest import (
    _flag,
    leak_kinds,
    pause_pids,
    pod_manifest,
    run_doctor,
)

pytestmark = pytest.mark.privileged

MEMORY_VOLUME = ("    volumeMounts:\n    - name: mem\n      mountPath: /mem\n",
                 "  volumes:\n  - name: mem\n    emptyDir:\n      medium: Memory\n")


def pod(name: str, ports: str = "") -> str:
    """A pod with a memory emptyDir (a mount per pod for the doctor to find)."""
    return pod_manifest(name, ["sh", "-c", "echo up; sleep 1000"],
                        container_extra=ports + MEMORY_VOLUME[0], spec_extra=MEMORY_VOLUME[1])


def _bridge(d: PodDaemon) -> tuple[str, str, Path]:
    conf_dir = Path(_flag(d, "--cni-conf-dir"))
    conf = json.loads(next(conf_dir.glob("*.conflist")).read_text())
    plugin = conf["plugins"][0]
    return plugin["bridge"], plugin["nftTable"], Path(plugin["ipam"]["dataDir"]) / conf["name"]


def _veths(bridge: str) -> list[str]:
    try:
        return sorted(os.listdir(f"/sys/class/net/{bridge}/brif"))
    except OSError:
        return []


def test_doctor_is_clean_while_pods_run_and_finds_every_orphan(pods: PodDaemon) -> None:
    ports = "    ports:\n    - containerPort: 80\n      hostPort: 18431\n"
    pods.apply(pod("one", ports))
    pods.apply(pod("two"))
    pods.wait_phase("one", "Running")
    pods.wait_phase("two", "Running")

    rc, doc = run_doctor(pods)
    assert (rc, doc["leaks"]) == (0, []), doc
    assert doc["daemonRunning"] is True
    rc, doc = run_doctor(pods, "--min-age", "0")  # old or young, nothing of live pods
    assert (rc, doc["leaks"]) == (0, []), doc

    # the daemon dies and its store is lost: every pod is now an orphan
    bridge, table, leases = _bridge(pods)
    assert len(_veths(bridge)) == 2
    assert len(pause_pids(pods)) == 2
    pods.stop(signal.SIGKILL)
    shutil.rmtree(pods.root / "api")

    rc, doc = run_doctor(pods)
    assert rc == 1 and doc["daemonRunning"] is False
    found = leak_kinds(doc)
    assert len(found["process"]) >= 2  # the two pause monitors (+ their containers' cgroups)
    assert {int(p) for p in found["process"]} >= set(pause_pids(pods))
    assert len(found["process"]) == len(set(found["process"]))
    assert len(found["sandbox"]) == 2
    assert len(found["netns"]) == 2
    mounts = found["mount"]
    assert sum(m.endswith("/shm") for m in mounts) == 2
    assert sum("empty-dir" in m for m in mounts) == 2
    assert len(found["veth"]) == 2 and set(found["veth"]) == set(_veths(bridge))
    assert len(found["lease"]) == 2 and len(found["attachment"]) == 2
    assert len(found["cnistate"]) == 2
    assert found["firewall"] == [f"{table}/hostports_any {{ tcp . 18431 }}"]
    assert len([c for c in found["cgroup"] if Path(c).name.startswith("pod")]) == 2
    assert len(found["rootfs"]) == 2 and len(found["poddir"]) == 2
    assert len(found["logs"]) == 2
    assert found["socket"] == [str(pods.socket)]
    assert found["lock"] == [str(pods.root / "daemon.lock")]

    t0 = time.monotonic()
    rc, doc = run_doctor(pods, "--fix")
    took = time.monotonic() - t0
    assert rc == 0, json.dumps(doc, indent=1)
    assert all(lk["fixed"] for lk in doc["leaks"]) and doc["remaining"] == []
    print(f"doctor --fix: {len(doc['leaks'])} leaks removed in {took:.2f}s")

    rc, doc = run_doctor(pods)
    assert (rc, doc["leaks"]) == (0, []), doc
    # and the host agrees
    assert pause_pids(pods) == []
    assert _veths(bridge) == []
    assert not [p for p in leases.glob("10.*")]
    mountinfo = Path("/proc/self/mountinfo").read_text()
    assert str(pods.base) not in mountinfo
    cg_root = Path(_flag(pods, "--cgroup-root"))
    assert not list(cg_root.glob("pod*"))
    nft = subprocess.run(["nft", "list", "map", "ip", table, "hostports_any"],
                         capture_output=True, text=True, check=False).stdout
    assert "18431" not in nft


def test_a_restarted_daemon_removes_the_pods_it_no_longer_has_at_once(pods: PodDaemon) -> None:
    # The kubelet's HandlePodCleanups: once its sources are read, pods none of them has
    # (here: the store lost while the daemon was down) are killed and cleaned up, not left
    # running for a grace period that a stop soon after would cut short.
    pods.apply(pod("one"))
    pods.apply(pod("two"))
    pods.wait_phase("one", "Running")
    pods.wait_phase("two", "Running")
    bridge, _, _ = _bridge(pods)
    assert len(pause_pids(pods)) == 2
    assert len(list(pods.log_dir.glob("default_*"))) == 2
    pods.stop(signal.SIGKILL)
    shutil.rmtree(pods.root / "api")

    t0 = time.monotonic()
    pods.start()
    # well before the 30 s an unknown sandbox used to be given (the slack is for loaded hosts)
    pods.wait_for(lambda: pause_pids(pods) == [], timeout=25)
    pods.wait_for(lambda: not list(pods.run_dir.glob("sandboxes/*")), timeout=25)
    pods.wait_for(lambda: not list(pods.log_dir.glob("default_*")), timeout=25)
    took = time.monotonic() - t0
    assert _veths(bridge) == []
    rc, doc = run_doctor(pods, "--min-age", "0")
    assert (rc, doc["leaks"]) == (0, []), doc
    print(f"orphans removed {took:.2f}s after the daemon's start")
