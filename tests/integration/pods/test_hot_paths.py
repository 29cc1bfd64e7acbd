"""The daemon's hot paths keep their promises: a deleted pod's directories are gone when
DELETED is reported (their deletion runs in the background, and a crash mid-removal is
finished at the next start), a ConfigMap change reaches a mounted volume without waiting
for the 60 s periodic resync, and status and resourceVersions survive a SIGKILL although
neither is fsynced per change."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.integration.pods.conftest import IMAGE, PodDaemon

pytestmark = pytest.mark.privileged


def _pod(name: str, extra: str = "") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 5
  hostNetwork: true
  containers:
  - name: c
    image: {IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
{extra}"""


def test_a_deleted_pods_directories_are_gone_when_delete_returns(pods: PodDaemon) -> None:
    pods.apply(_pod("gone", """    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes: [{name: scratch, emptyDir: {}}]
"""))
    pods.wait_phase("gone", "Running")
    uid = (pods.pod("gone") or {})["metadata"]["uid"]
    sandboxes = list((pods.run_dir / "sandboxes").iterdir())
    containers = list((pods.root / "containers").iterdir())
    assert (pods.root / "pods" / uid).is_dir() and sandboxes and containers
    r = pods.cli("delete", "pod", "gone", "--wait")
    assert r.returncode == 0, r.stderr
    # gone from their places at once (renamed into .trash), deleted soon after
    assert not (pods.root / "pods" / uid).exists()
    assert not any(p.exists() for p in sandboxes + containers)
    assert not list(pods.log_dir.glob(f"*_{uid}"))
    pods.wait_for(lambda: not any((b / ".trash").exists() and any((b / ".trash").iterdir())
                                  for b in (pods.root, pods.run_dir, pods.log_dir)), timeout=10)


def test_what_a_crash_left_in_the_trash_is_removed_at_the_next_start(pods: PodDaemon) -> None:
    pods.stop(signal.SIGKILL)
    for base in (pods.root, pods.run_dir, pods.log_dir):
        left = base / ".trash" / "pod-dir.1234abcd" / "volumes" / "x"
        left.mkdir(parents=True)
        (left / "data").write_text("half-removed")
    pods.start()
    pods.wait_for(lambda: not any(any((b / ".trash").iterdir())
                                  for b in (pods.root, pods.run_dir, pods.log_dir)), timeout=10)


def test_a_configmap_change_reaches_the_volume_before_the_periodic_resync(
        pods: PodDaemon) -> None:
    def put(value: str) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "cfg", "namespace": "default"}, "data": {"k": value}}
        r = pods.cli("apply", "-f", "-", input=json.dumps(body))
        assert r.returncode == 0, r.stderr
    put("one")
    pods.apply(_pod("cmvol", """    volumeMounts: [{name: cfg, mountPath: /cfg}]
  volumes: [{name: cfg, configMap: {name: cfg}}]
"""))
    pods.wait_phase("cmvol", "Running")

    def content() -> str:
        r = pods.cli("exec", "cmvol", "--", "cat", "/cfg/k")
        return r.stdout.strip() if r.returncode == 0 else ""
    assert pods.wait_for(lambda: content() == "one", timeout=10)
    put("two")
    t0 = time.monotonic()
    assert pods.wait_for(lambda: content() == "two", timeout=20)
    assert time.monotonic() - t0 < 15  # the periodic resync is 60 s


def test_status_and_resource_versions_survive_a_sigkill(pods: PodDaemon) -> None:
    pods.apply(_pod("steady"))
    running = pods.wait_phase("steady", "Running")
    before = pods.pod("steady") or {}
    rv = int(before["metadata"]["resourceVersion"])
    time.sleep(1.1)  # a startTime set anew after the restart would differ
    pods.stop(signal.SIGKILL)
    journal = pods.root / "api" / "status.journal"
    assert b'"phase":"Running"' in journal.read_bytes()  # status went to the journal
    pods.start()
    after = pods.pod("steady") or {}
    assert after["status"]["phase"] == "Running"
    # startTime comes from the stored status (a lost one would be set anew)
    assert after["status"]["startTime"] == running["startTime"]
    assert int(after["metadata"]["resourceVersion"]) >= rv
    pods.apply(_pod("later"))
    later = pods.pod("later") or {}
    assert int(later["metadata"]["resourceVersion"]) > rv


def test_a_deletion_cut_after_its_sandboxes_were_removed_finishes_at_the_next_start(
        pods: PodDaemon) -> None:
    # The state a daemon SIGKILLed in the middle of a pod's deletion leaves: the pod still
    # stored with its deletionTimestamp, its sandboxes already removed, its pod directory
    # and logs not yet. The next daemon resumes the deletion and removes those too.
    pods.apply(_pod("halfdel"))
    pods.wait_phase("halfdel", "Running")
    pod = pods.pod("halfdel") or {}
    uid = pod["metadata"]["uid"]
    assert pods.cli("delete", "pod", "halfdel", "--wait").returncode == 0
    pods.stop(signal.SIGKILL)
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    pod["metadata"]["deletionGracePeriodSeconds"] = 5
    stored = pods.root / "api" / "pods" / "default" / "halfdel.json"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps(pod))
    pod_dir = pods.root / "pods" / uid / "volumes" / "kubernetes.io~empty-dir" / "scratch"
    pod_dir.mkdir(parents=True)
    log_dir = pods.log_dir / f"default_halfdel_{uid}" / "c"
    log_dir.mkdir(parents=True)
    (log_dir / "0.log").write_text("2026-01-01T00:00:00.000000000Z stdout F last words\n")
    pods.start()
    pods.wait_for(lambda: pods.pod("halfdel") is None, timeout=20)
    assert not (pods.root / "pods" / uid).exists()
    assert not list(pods.log_dir.glob(f"*_{uid}"))
