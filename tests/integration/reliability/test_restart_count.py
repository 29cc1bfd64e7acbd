"""A container's restartCount never goes down across a daemon crash (issue 11's chaos test,
seed 3528061154: 2 -> 1 and 5 -> 4 when the daemon was SIGKILLed ~1 s after a pause kill).

When pause dies, its containers are "unknown" to the runtime; the status shows them
terminated (ContainerStatusUnknown) with restartCount + 1, and the replacement container
is created with that count. A daemon SIGKILLed between writing that status and creating
the replacement leaves exactly this on disk: the pause gone, the old container's records,
and the persisted status. The test builds that state (SIGKILL the daemon, SIGKILL pause,
append the status the daemon had written to the status journal) and restarts the daemon;
a watch from that status on sees every status the restarted daemon publishes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest

from tests.integration.pods.conftest import PodDaemon
from tests.integration.reliability.conftest import pod_manifest

pytestmark = pytest.mark.privileged

MANIFEST = pod_manifest("rc", ["sh", "-c", "echo started; sleep 1000"])


class _UnixHTTP(HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.unix_path)


def _kill_pause(d: PodDaemon, uid: str) -> None:
    """SIGKILL the pause our daemon started for the pod (the one sandbox of `uid`)."""
    pids = []
    for sb in (d.run_dir / "sandboxes").glob("*/sandbox.json"):
        if json.loads(sb.read_text()).get("podUID") == uid:
            with contextlib.suppress(OSError, ValueError):
                pids.append(int((sb.parent / "pause.pid").read_text()))
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGKILL)


def _store_dir(d: PodDaemon, pod: dict[str, Any]) -> Path:
    md = pod["metadata"]
    files = list(d.root.glob(f"**/pods/{md['namespace']}/{md['name']}.json"))
    assert len(files) == 1, files
    return files[0].parent.parent.parent


def _journal_status(d: PodDaemon, pod: dict[str, Any]) -> int:
    """Append `pod`'s status to the store's status journal as the daemon does, with the
    next resourceVersion after every one handed out (the reserved block included); that
    resourceVersion is where the restarted daemon's history starts."""
    store = _store_dir(d, pod)
    rv = max(int(pod["metadata"]["resourceVersion"]),
             int((store / "resourceVersion").read_text())) + 1
    md = pod["metadata"]
    line = {"ns": md["namespace"], "name": md["name"], "uid": md["uid"], "rv": str(rv),
            "status": pod["status"]}
    with open(store / "status.journal", "a") as f:
        f.write(json.dumps(line, separators=(",", ":")) + "\n")
    return rv


def _gone_status(cs: dict[str, Any]) -> dict[str, Any]:
    """What the daemon writes for a running container whose pause died (status.py)."""
    return {**cs, "ready": False, "started": False, "restartCount": cs["restartCount"] + 1,
            "state": {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                                     "message": "The container could not be located when "
                                                "the pod was terminated",
                                     "containerID": cs["containerID"]}}}


def _watch_counts(d: PodDaemon, since: int, want: int, until: float) -> list[tuple[int, str]]:
    """(restartCount, state) of container c in every pod event after `since`, until the
    container runs with restartCount `want` or more, or `until` (monotonic)."""
    c = _UnixHTTP(str(d.socket))
    c.request("GET", "/api/v1/namespaces/default/pods?watch=true&resourceVersion="
                     f"{since}&fieldSelector=metadata.name%3Drc")
    r = c.getresponse()
    assert r.status == 200, r.read()
    seen: list[tuple[int, str]] = []
    try:
        while time.monotonic() < until:
            line = r.readline()
            if not line:
                break
            event = json.loads(line)
            assert event["type"] != "ERROR", event
            obj = event["object"]
            for cs in (obj.get("status") or {}).get("containerStatuses") or []:
                if cs["name"] == "c":
                    seen.append((cs.get("restartCount", 0), next(iter(cs.get("state") or {"?": 0}))))
            if seen and seen[-1][1] == "running" and seen[-1][0] >= want:
                break
    finally:
        c.close()
    return seen


def test_restart_count_survives_a_daemon_crash_after_a_pause_kill(pods: PodDaemon) -> None:
    pods.apply(MANIFEST)
    pods.wait_for(lambda: "running" in pods.container("rc", "c").get("state", {}), timeout=30)
    pod = pods.pod("rc")
    assert pod is not None
    before = pods.container("rc", "c")["restartCount"]
    pods.stop(signal.SIGKILL)
    _kill_pause(pods, pod["metadata"]["uid"])
    pod["status"]["containerStatuses"] = [_gone_status(cs)
                                          for cs in pod["status"]["containerStatuses"]]
    rv = _journal_status(pods, pod)
    pods.start()
    seen = _watch_counts(pods, rv, before + 1, time.monotonic() + 40)
    print(f"\nrestartCount before {before}, written {before + 1}, then {seen}")
    assert seen and seen[-1][1] == "running", seen
    counts = [before + 1] + [n for n, _ in seen]
    assert counts == sorted(counts), f"restartCount went down: {counts}"
    assert seen[-1][0] == before + 1
    assert pods.container("rc", "c")["lastState"]["terminated"]["reason"] \
        == "ContainerStatusUnknown"
    assert pods.cli("logs", "rc").stdout == "started\n"


CRASH_ONCE = pod_manifest(
    "rc", ["sh", "-c", "[ -f /m/crashed ] || { touch /m/crashed; exit 1; }; sleep 1000"],
    container_extra="    volumeMounts:\n    - name: marks\n      mountPath: /m\n",
    spec_extra="  volumes:\n  - name: marks\n    emptyDir: {}\n")


def test_restart_count_survives_a_pause_kill_during_a_crash_backoff(pods: PodDaemon) -> None:
    """The replay of seed 3528061154 (one daemon): a crash, its restart, the pause killed
    a second later. The replacement waits for the crash's backoff, the status shows
    CrashLoopBackOff over the vanished container for several syncs: 2 -> 1 before."""
    pods.apply(CRASH_ONCE)
    pods.wait_for(lambda: (cs := pods.container("rc", "c")).get("restartCount") == 1
                  and "running" in cs.get("state", {}), timeout=40)
    pod = pods.pod("rc")
    assert pod is not None
    _kill_pause(pods, pod["metadata"]["uid"])
    seen = _watch_counts(pods, int(pod["metadata"]["resourceVersion"]), 2,
                         time.monotonic() + 60)
    print(f"\nrestartCount 1 running, pause killed, then {seen}")
    assert seen and seen[-1][1] == "running", seen
    counts = [1] + [n for n, _ in seen]
    assert counts == sorted(counts), f"restartCount went down: {counts}"
    assert seen[-1][0] == 2
