"""Static pods with the real engine (issue 9, DESIGN.md 5, BEHAVIOR.md 7): files in the
daemon's --manifest-dir become pods named <name>-testnode that really run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.integration.pods.conftest import IMAGE, PodDaemon

pytestmark = pytest.mark.privileged


@pytest.fixture(autouse=True)
def remove_static_files(pods: PodDaemon) -> Iterator[None]:
    """Static pods come back after an API delete: remove their files before the fixture's
    cleanup, and wait until they are gone."""
    yield
    for p in pods.manifest_dir.iterdir():
        p.unlink()
    pods.wait_for(lambda: pods.cli("get", "pods", "-A", "-o", "name").stdout.strip() == "",
                  timeout=60)


def static(name: str, script: str, *, extra_env: str = "", tgps: int = 1) -> str:
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  terminationGracePeriodSeconds: {tgps}
  containers:
  - name: c
    image: {IMAGE}
    command: ["sh", "-c", {script!r}]
{extra_env}"""


def write(pods: PodDaemon, fname: str, text: str) -> float:
    """Atomic write (temp dot-file, then rename) as editors and config tools do."""
    tmp = pods.manifest_dir / f".{fname}.tmp"
    tmp.write_text(text)
    t0 = time.monotonic()
    os.rename(tmp, pods.manifest_dir / fname)
    return t0


def running(pods: PodDaemon, name: str) -> bool:
    st = pods.status(name)
    return st.get("phase") == "Running" and all(
        "running" in (c.get("state") or {}) for c in st.get("containerStatuses") or [{}])


def test_static_pod_appears_runs_is_replaced_and_removed(pods: PodDaemon) -> None:
    t0 = write(pods, "web.yaml", static("web", "echo v1; trap 'exit 0' TERM; "
                                               "while :; do sleep 0.1; done"))
    pods.wait_for(lambda: running(pods, "web-testnode"), timeout=20, interval=0.02)
    took = time.monotonic() - t0
    print(f"\nstatic manifest written -> pod Running: {took:.2f}s (target <= 1 s)")
    assert took < 10, took
    pod = pods.pod("web-testnode")
    assert pod is not None
    ann = pod["metadata"]["annotations"]
    uid1 = pod["metadata"]["uid"]
    assert ann["kubernetes.io/config.source"] == "file"
    assert ann["kubernetes.io/config.hash"] == uid1
    assert pod["spec"]["nodeName"] == "testnode"
    assert pods.wait_for(lambda: pods.cli("logs", "web-testnode").stdout == "v1\n")
    cid1 = pods.container("web-testnode", "c")["containerID"]

    # a changed file: a new UID, a fresh pod (restartCount 0, new container, new log)
    write(pods, "web.yaml", static("web", "echo v2; trap 'exit 0' TERM; "
                                          "while :; do sleep 0.1; done"))
    pods.wait_for(lambda: (p := pods.pod("web-testnode")) is not None
                  and p["metadata"]["uid"] != uid1 and running(pods, "web-testnode"),
                  timeout=30)
    cs = pods.container("web-testnode", "c")
    assert cs["containerID"] != cid1 and cs["restartCount"] == 0
    assert pods.wait_for(lambda: pods.cli("logs", "web-testnode").stdout == "v2\n")
    assert len([p for p in pods.cli("get", "pods", "-o", "name").stdout.split() if p]) == 1

    # the file removed: the pod terminates gracefully and is gone
    (pods.manifest_dir / "web.yaml").unlink()
    pods.wait_for(lambda: pods.pod("web-testnode") is None, timeout=30)
    assert "web-testnode" not in pods.cli("get", "pods").stdout


def test_static_uid_is_deterministic_across_removal(pods: PodDaemon) -> None:
    text = static("det", "sleep 1000")
    write(pods, "det.yaml", text)
    pods.wait_for(lambda: running(pods, "det-testnode"), timeout=20)
    uid = pods.pod("det-testnode")["metadata"]["uid"]  # type: ignore[index]
    (pods.manifest_dir / "det.yaml").unlink()
    pods.wait_for(lambda: pods.pod("det-testnode") is None, timeout=30)
    write(pods, "det.yaml", "# a comment and other whitespace change nothing\n" + text)
    pods.wait_for(lambda: running(pods, "det-testnode"), timeout=20)
    assert pods.pod("det-testnode")["metadata"]["uid"] == uid  # type: ignore[index]


def test_bad_file_does_not_disturb_a_good_one(pods: PodDaemon) -> None:
    write(pods, "good.yaml", static("good", "sleep 1000"))
    pods.wait_for(lambda: running(pods, "good-testnode"), timeout=20)
    uid = pods.pod("good-testnode")["metadata"]["uid"]  # type: ignore[index]
    cid = pods.container("good-testnode", "c")["containerID"]
    bad = static("bad", "sleep 1000").replace("    image:", "    ports:\n"
                                              "    - containerPort: 99999\n    image:")
    write(pods, "bad.yaml", bad)
    write(pods, "broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
    pods.wait_for(lambda: "bad.yaml" in pods.log_text() and "broken.yaml" in pods.log_text(),
                  timeout=15)
    log = pods.log_text()
    assert "spec.containers[0].ports[0].containerPort" in log, log[-3000:]
    assert pods.pod("bad-testnode") is None
    time.sleep(1.5)  # a rescan later the good pod is untouched
    assert pods.pod("good-testnode")["metadata"]["uid"] == uid  # type: ignore[index]
    cs = pods.container("good-testnode", "c")
    assert cs["containerID"] == cid and cs["restartCount"] == 0 and "running" in cs["state"]
    ev = pods.cli("get", "events").stdout
    assert "bad.yaml" in ev, ev


def test_configmap_documents_are_usable_by_static_pods(pods: PodDaemon) -> None:
    env = """    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef:
          name: static-config
          key: greeting
    envFrom:
    - configMapRef:
        name: static-config
"""
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: static-config\n"
            "data:\n  greeting: hello-static\n  COLOR: blue\n---\n"
            + static("cmuser", "echo $GREETING $COLOR; sleep 1000", extra_env=env))
    write(pods, "with-config.yaml", text)
    pods.wait_for(lambda: running(pods, "cmuser-testnode"), timeout=20)
    assert pods.wait_for(lambda: pods.cli("logs", "cmuser-testnode").stdout
                         == "hello-static blue\n")
    # a Pod of the same dir may not be deleted for good through the API
    r = pods.cli("delete", "pod", "cmuser-testnode")
    assert r.returncode == 0, r.stderr
    assert 'pod "cmuser-testnode" is a static pod from file' in r.stderr, r.stderr
    assert "remove the manifest file to delete it" in r.stderr
    time.sleep(1)
    pods.wait_for(lambda: running(pods, "cmuser-testnode"), timeout=30)
