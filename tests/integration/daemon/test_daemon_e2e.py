"""The real daemon driven through the installed CLI: round trips, kubectl's errors, the
root-only socket, static pods, watch order, restarts and the root lock.

No pod runtime engine is wired yet: pods stay Pending with reason NoRuntimeEngine, and the
tests assert exactly that rather than pretending pods run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.privileged

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: main
    image: {image}
    command: [sleep, "3600"]
    ports: [{{containerPort: 8080}}]
"""


def manifest(tmp: Path, name: str = "web", image: str = "busybox") -> Path:
    p = tmp / f"{name}.yaml"
    p.write_text(POD.format(name=name, image=image))
    return p


def get_pod(d: Any, name: str) -> dict[str, Any] | None:
    r = d.cli("get", "pod", name, "-o", "json")
    return json.loads(r.stdout) if r.returncode == 0 else None


def test_apply_get_describe_delete_round_trip(daemon: Any, e2e_dir: Path) -> None:
    f = manifest(e2e_dir)
    r = daemon.cli("apply", "-f", str(f))
    assert (r.returncode, r.stdout) == (0, "pod/web created\n"), r.stderr
    assert daemon.cli("apply", "-f", str(f)).stdout == "pod/web unchanged\n"
    r = daemon.cli("get", "pods")
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    # No engine yet: the pod is stored and honestly stays Pending.
    assert row.split()[:4] == ["web", "0/1", "NoRuntimeEngine", "0"]
    pod = get_pod(daemon, "web")
    assert pod is not None
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["reason"] == "NoRuntimeEngine"
    assert pod["spec"]["nodeName"] == "testnode"
    assert yaml.safe_load(daemon.cli("get", "pod", "web", "-o", "yaml").stdout)["metadata"][
        "uid"] == pod["metadata"]["uid"]
    assert daemon.cli("get", "pods", "-o", "name").stdout == "pod/web\n"
    wide = daemon.cli("get", "pods", "-o", "wide").stdout
    assert "NOMINATED NODE" in wide and "testnode" in wide
    desc = daemon.cli("describe", "pod", "web").stdout
    for text in ("Name:             web", "Status:           Pending", "Reason:           NoRuntimeEngine",
                 "Port:           8080/TCP", "Conditions:", "PodScheduled", "Events:",
                 "NoRuntimeEngine"):
        assert text in desc, text
    r = daemon.cli("apply", "-f", str(f), "--wait", "--timeout", "5s")
    assert r.returncode == 1 and "runtime engine is not available" in r.stderr
    r = daemon.cli("delete", "pod", "web")
    assert (r.returncode, r.stdout) == (0, 'pod "web" deleted\n'), r.stderr
    assert get_pod(daemon, "web") is None
    r = daemon.cli("get", "pods")
    assert r.stdout == "" and "No resources found in default namespace." in r.stderr


def test_delete_by_file_and_configmaps(daemon: Any, e2e_dir: Path) -> None:
    f = manifest(e2e_dir)
    assert daemon.cli("apply", "-f", str(f)).returncode == 0
    r = daemon.cli("create", "configmap", "cfg", "--from-literal", "a=b")
    assert r.stdout == "configmap/cfg created\n"
    assert daemon.cli("get", "configmaps").stdout.splitlines()[1].split()[:2] == ["cfg", "1"]
    r = daemon.cli("delete", "-f", str(f), "--grace-period", "1")
    assert r.stdout == 'pod "web" deleted\n'
    assert daemon.cli("delete", "configmap", "cfg").returncode == 0


def test_errors_are_worded_like_kubectl(daemon: Any, e2e_dir: Path) -> None:
    r = daemon.cli("get", "pod", "nope")
    assert r.returncode == 1
    assert r.stderr == 'Error from server (NotFound): pods "nope" not found\n'
    r = daemon.cli("delete", "pod", "nope")
    assert r.returncode == 1 and 'pods "nope" not found' in r.stderr
    bad = e2e_dir / "bad.yaml"
    bad.write_text(POD.format(name="bad", image="x").replace("containerPort: 8080",
                                                             "containerPort: eighty"))
    r = daemon.cli("apply", "-f", str(bad))
    assert r.returncode == 1
    assert 'The Pod "bad" is invalid' in r.stderr
    assert "spec.containers[0].ports[0].containerPort" in r.stderr
    r = daemon.cli("apply", "-f", str(e2e_dir / "absent.yaml"))
    assert r.returncode == 2
    r = daemon.cli("get", "pods", "--bogus-flag")
    assert r.returncode == 2


def test_daemon_not_running_names_the_socket(e2e_dir: Path) -> None:
    from tests.integration.daemon.conftest import PODRUN  # type: ignore[import-not-found]
    sock = e2e_dir / "run/podrun.sock"
    r = subprocess.run([str(PODRUN), "--socket", str(sock), "get", "pods"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr == (f"error: cannot connect to the podrun daemon at {sock}: is it running? "
                        "(podrun daemon)\n")


def _as_nobody(daemon: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return daemon.cli(*args, user=65534, group=65534, extra_groups=[])


def test_socket_is_root_only_and_non_root_peers_are_rejected(daemon: Any, e2e_dir: Path) -> None:
    assert oct(daemon.socket.stat().st_mode & 0o777) == "0o600"
    assert oct(daemon.root.stat().st_mode & 0o777) == "0o700"
    os.chmod(e2e_dir, 0o755)
    os.chmod(daemon.run_dir, 0o755)
    r = _as_nobody(daemon, "get", "pods")
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: permission denied connecting to the podrun daemon at "
                               f"{daemon.socket}")
    # Even if the socket's mode were widened by mistake, SO_PEERCRED still refuses the peer.
    os.chmod(daemon.socket, 0o666)
    r = _as_nobody(daemon, "get", "pods")
    assert r.returncode == 1
    assert r.stderr.startswith("Error from server (Forbidden): forbidden: peer uid 65534")
    assert daemon.cli("get", "pods").returncode == 0


def _wait_pod(daemon: Any, name: str, pred: Any = None, timeout: float = 10) -> dict[str, Any]:
    def check() -> Any:
        p = get_pod(daemon, name)
        return p if p is not None and (pred is None or pred(p)) else None
    return daemon.wait_for(check, timeout)  # type: ignore[no-any-return]


def test_static_pod_lifecycle(daemon: Any) -> None:
    m = daemon.manifest_dir
    (m / "web.yaml").write_text(POD.format(name="web", image="busybox"))
    (m / "bad.yaml").write_text(POD.format(name="bad", image="x").replace(
        "containerPort: 8080", "containerPort: eighty"))
    (m / ".web.yaml.swp").write_text("not yaml at all: [")
    t0 = time.monotonic()
    pod = _wait_pod(daemon, "web-testnode")
    assert time.monotonic() - t0 < 5
    ann = pod["metadata"]["annotations"]
    assert ann["kubernetes.io/config.source"] == "file"
    assert ann["kubernetes.io/config.hash"] == pod["metadata"]["uid"]
    assert ann["kubernetes.io/config.mirror"] == pod["metadata"]["uid"]
    assert ann["kubernetes.io/config.seen"]
    assert pod["metadata"]["namespace"] == "default"
    assert pod["spec"]["nodeName"] == "testnode"
    # The invalid file is reported (event + daemon log with file and field path), alone.
    events = daemon.wait_for(lambda: [e for e in json.loads(daemon.cli(
        "get", "events", "-o", "json").stdout)["items"] if e["reason"] == "FailedValidation"])
    assert "bad.yaml" in events[0]["message"]
    assert "spec.containers[0].ports[0].containerPort" in events[0]["message"]
    assert "Could not process manifest file" in daemon.log_text()
    assert get_pod(daemon, "bad-testnode") is None
    # The static pod cannot be deleted for good through the API.
    r = daemon.cli("delete", "pod", "web-testnode")
    assert r.returncode == 0 and "static pod" in r.stderr
    assert get_pod(daemon, "web-testnode")["metadata"]["uid"] == pod["metadata"]["uid"]
    # A content change replaces the pod (new UID) ...
    (m / "web.yaml").write_text(POD.format(name="web", image="busybox:2"))
    new = _wait_pod(daemon, "web-testnode",
                    lambda p: p["metadata"]["uid"] != pod["metadata"]["uid"])
    assert new["spec"]["containers"][0]["image"] == "busybox:2"
    # ... and the same content again gives the same UID as before (determinism).
    (m / "web.yaml").write_text(POD.format(name="web", image="busybox"))
    again = _wait_pod(daemon, "web-testnode",
                      lambda p: p["metadata"]["uid"] != new["metadata"]["uid"])
    assert again["metadata"]["uid"] == pod["metadata"]["uid"]
    # Removing the file terminates the pod.
    (m / "web.yaml").unlink()
    daemon.wait_for(lambda: get_pod(daemon, "web-testnode") is None)


def test_static_pod_found_by_rescan_when_inotify_is_unavailable(daemon_factory: Any) -> None:
    d = daemon_factory({"fileCheckFrequency": "1s", "staticPodInotify": False})
    (d.manifest_dir / "late.yaml").write_text(POD.format(name="late", image="busybox"))
    t0 = time.monotonic()
    _wait_pod(d, "late-testnode", timeout=5)
    assert time.monotonic() - t0 < 3


def test_static_configmap_documents_are_stored_with_the_file_source(daemon: Any) -> None:
    (daemon.manifest_dir / "all.yaml").write_text(
        POD.format(name="app", image="busybox") +
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config}\ndata: {k: v}\n")
    _wait_pod(daemon, "app-testnode")
    cm = json.loads(daemon.cli("get", "configmap", "app-config", "-o", "json").stdout)
    assert cm["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"
    assert daemon.cli("delete", "configmap", "app-config").returncode == 1


def test_watch_stream_sees_added_modified_deleted_in_order(daemon: Any, e2e_dir: Path) -> None:
    from podrun.api.client import Client
    events: list[tuple[str, str]] = []
    ready = threading.Event()

    def watch() -> None:
        ready.set()
        for ev in Client(str(daemon.socket), timeout=None).watch(
                "/api/v1/namespaces/default/pods", {"resourceVersion": "0"}):
            events.append((ev["type"], ev["object"]["metadata"]["name"]))
            if ev["type"] == "DELETED":
                return

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    ready.wait()
    time.sleep(0.3)
    f = manifest(e2e_dir)
    assert daemon.cli("apply", "-f", str(f)).returncode == 0
    assert daemon.cli("delete", "pod", "web", "--grace-period", "1").returncode == 0
    t.join(10)
    types = [t for t, _ in events]
    assert types[0] == "ADDED" and types[-1] == "DELETED"
    assert "MODIFIED" in types
    assert types.index("MODIFIED") < types.index("DELETED")


def test_sigterm_leaves_state_for_the_next_daemon(daemon_factory: Any, e2e_dir: Path) -> None:
    d = daemon_factory()
    f = manifest(e2e_dir)
    assert d.cli("apply", "-f", str(f)).returncode == 0
    uid = get_pod(d, "web")["metadata"]["uid"]
    assert d.stop(signal.SIGTERM) == 0
    assert not d.socket.exists()
    assert "podrun daemon stopping" in d.log_text()
    d2 = daemon_factory()
    pod = get_pod(d2, "web")
    assert pod is not None and pod["metadata"]["uid"] == uid
    assert d2.cli("apply", "-f", str(f)).stdout == "pod/web unchanged\n"


def test_two_daemons_on_one_root_are_refused(daemon: Any, daemon_factory: Any) -> None:
    second = daemon_factory({"fileCheckFrequency": "1s"}, start=False)
    second.start(wait=False)
    assert second.proc.wait(15) == 1
    assert "another podrun daemon" in second.log_text()
    assert daemon.cli("get", "pods").returncode == 0  # the first one is unaffected


def test_sd_notify_ready_and_stopping(daemon_factory: Any, e2e_dir: Path) -> None:
    path = e2e_dir / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(path))
        s.settimeout(15)
        d = daemon_factory(env={"NOTIFY_SOCKET": str(path)})
        assert s.recv(4096).startswith(b"READY=1")
        d.stop()
        assert s.recv(4096) == b"STOPPING=1"


def test_missing_explicit_config_file_is_an_error(e2e_dir: Path) -> None:
    from tests.integration.daemon.conftest import PODRUN  # type: ignore[import-not-found]
    r = subprocess.run([str(PODRUN), "daemon", "--config", str(e2e_dir / "nope.yaml"),
                        "--root", str(e2e_dir / "root")], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_get_pods_watch_prints_rows_as_pods_change(daemon: Any, e2e_dir: Path) -> None:
    from tests.integration.daemon.conftest import PODRUN  # type: ignore[import-not-found]
    f = manifest(e2e_dir)
    assert daemon.cli("apply", "-f", str(f)).returncode == 0
    proc = subprocess.Popen([str(PODRUN), "--socket", str(daemon.socket), "get", "pods", "-w"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert proc.stdout.readline().split()[0] == "web"
        assert daemon.cli("delete", "pod", "web", "--wait=false").returncode == 0
        # MODIFIED (deletionTimestamp) and DELETED rows follow, one line each, no header.
        nxt = proc.stdout.readline().split()
        assert nxt[0] == "web"
    finally:
        proc.kill()
        proc.wait(5)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()


def test_image_import_list_remove(daemon: Any, e2e_dir: Path) -> None:
    from tests.unit.image.layers import build_image, docker_archive_tar, f, tar_bytes
    img = build_image([tar_bytes([f("hello.txt", b"hi")])], docker=True)
    archive = e2e_dir / "img.tar"
    archive.write_bytes(docker_archive_tar(img, ["example.com/podrun/e2e:1"]))
    r = daemon.cli("image", "import", str(archive))
    assert r.returncode == 0, r.stderr
    assert "Loaded image: example.com/podrun/e2e:1" in r.stdout
    r = daemon.cli("images")
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert any(row.split()[:2] == ["example.com/podrun/e2e", "1"] for row in rows)
    r = daemon.cli("image", "rm", "example.com/podrun/e2e:1")
    assert r.returncode == 0 and r.stdout.startswith("Deleted: ")
    r = daemon.cli("image", "rm", "example.com/podrun/e2e:1")
    assert r.returncode == 1 and "NotFound" in r.stderr


def test_sigkilled_daemon_leaves_a_stale_socket_the_next_one_replaces(daemon_factory: Any,
                                                                      e2e_dir: Path) -> None:
    d = daemon_factory()
    assert d.cli("apply", "-f", str(manifest(e2e_dir))).returncode == 0
    d.stop(signal.SIGKILL)
    assert d.socket.exists()  # stale: nobody listens
    d2 = daemon_factory()
    r = d2.cli("get", "pod", "web", "-o", "json")
    assert r.returncode == 0, (r.stderr, d2.log_text())
