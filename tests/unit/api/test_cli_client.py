"""CLI output against a real API app with a fake engine, served on a Unix socket in a
background thread (no root): columns, -o name/json/yaml, apply verbs, kubectl's errors."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from click.testing import CliRunner

from podrun.agent.sources import PodConfig
from podrun.agent.store import Store
from podrun.api.server import create_app
from podrun.cli import cli, describe_pod
from podrun.cli_core import format_table, pod_row
from tests.support import TEST_TMP
from tests.unit.api.fakes import FakeManager, make_ctx


class Server:
    def __init__(self, sock: Path) -> None:
        self.sock = sock
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.store: Store
        self.manager: FakeManager

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        self.store = Store(None)
        self.manager = FakeManager()
        self.config = PodConfig(self.store, self.manager, "testnode")
        app = create_app(make_ctx(None, self.store), self.config, self.manager, check_peer=False)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.UnixSite(self.runner, str(self.sock)).start()

    def call(self, fn: Any) -> Any:
        async def wrap() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result(5)

    def stop(self) -> None:
        async def down() -> None:
            await self.config.stop()
            await self.runner.cleanup()
        asyncio.run_coroutine_threadsafe(down(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def env() -> Iterator[tuple[Server, Path]]:
    d = Path(tempfile.mkdtemp(prefix="podrun-cli-", dir=TEST_TMP))
    srv = Server(d / "api.sock")
    srv.thread.start()
    assert srv.ready.wait(10)
    try:
        yield srv, d
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)


def podrun(srv: Server, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["--socket", str(srv.sock), *args], input=input)


MANIFEST = """apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: a
    image: busybox
    ports: [{containerPort: 80}]
"""


def test_apply_created_unchanged_configured(env: tuple[Server, Path]) -> None:
    srv, d = env
    f = d / "pod.yaml"
    f.write_text(MANIFEST)
    r = podrun(srv, "apply", "-f", str(f))
    assert r.exit_code == 0, r.output
    assert r.output == "pod/web created\n"
    assert podrun(srv, "apply", "-f", str(f)).output == "pod/web unchanged\n"
    f.write_text(MANIFEST.replace("busybox", "busybox:2"))
    assert podrun(srv, "apply", "-f", str(f)).output == "pod/web configured\n"
    r = podrun(srv, "apply", "-f", "-", input=MANIFEST.replace("name: web", "name: stdin"))
    assert r.output == "pod/stdin created\n"


def test_apply_directory_applies_configmaps_first(env: tuple[Server, Path]) -> None:
    srv, d = env
    (d / "m").mkdir()
    (d / "m/a-pod.yaml").write_text(MANIFEST)
    (d / "m/b-cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                                   "data: {k: v}\n")
    (d / "m/notes.txt").write_text("ignored")
    r = podrun(srv, "apply", "-f", str(d / "m"))
    assert r.output.splitlines() == ["configmap/c created", "pod/web created"]


def test_apply_errors(env: tuple[Server, Path]) -> None:
    srv, d = env
    bad = d / "bad.yaml"
    bad.write_text(MANIFEST.replace("containerPort: 80", "containerPort: x"))
    r = podrun(srv, "apply", "-f", str(bad))
    assert r.exit_code == 1
    assert 'The Pod "web" is invalid: spec.containers[0].ports[0].containerPort' in r.output
    unknown = d / "unknown.yaml"
    unknown.write_text(MANIFEST + "    bogus: 1\n")
    r = podrun(srv, "apply", "-f", str(unknown))
    assert r.exit_code == 1 and 'unknown field "spec.containers[0].bogus"' in r.output
    r = podrun(srv, "apply", "-f", str(unknown), "--validate=warn")
    assert r.exit_code == 0
    assert 'Warning: unknown field "spec.containers[0].bogus"' in r.output
    r = podrun(srv, "apply", "-f", str(d / "missing.yaml"))
    assert r.exit_code == 2
    (d / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
    r = podrun(srv, "apply", "-f", str(d / "deploy.yaml"))
    assert r.exit_code == 1 and 'kind "Deployment" is not supported' in r.output


def test_apply_wait_fails_fast_without_engine(env: tuple[Server, Path]) -> None:
    srv, d = env
    f = d / "pod.yaml"
    f.write_text(MANIFEST)

    def no_engine() -> None:
        pod = srv.store.get("pods", "default", "web")
        assert pod is not None
    r = podrun(srv, "apply", "-f", str(f), "--wait", "--timeout", "1s")
    assert r.exit_code == 1
    assert "timed out waiting for the condition on pods/web" in r.output


def _seed(srv: Server) -> None:
    def seed() -> None:
        for name in ("web", "db"):
            p = srv.store.create("pods", {"metadata": {"name": name, "namespace": "default",
                                                       "labels": {"app": name}},
                                          "spec": {"nodeName": "testnode", "containers": [
                                              {"name": "a", "image": "busybox"}]}})
            srv.store.update_status(p["metadata"]["uid"], {
                "phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "a", "ready": True, "restartCount": 2,
                                       "image": "busybox", "imageID": "", "started": True,
                                       "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]})
        srv.store.create("pods", {"metadata": {"name": "x", "namespace": "other"},
                                  "spec": {"containers": [{"name": "a", "image": "b"}]}})
    srv.call(seed)


def test_get_pods_columns_and_formats(env: tuple[Server, Path]) -> None:
    srv, _ = env
    _seed(srv)
    r = podrun(srv, "get", "pods")
    lines = r.output.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert lines[0].startswith("NAME   READY   STATUS    RESTARTS   AGE")
    assert lines[1].split()[:4] == ["db", "1/1", "Running", "2"]
    r = podrun(srv, "get", "pods", "-o", "wide")
    assert r.output.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE",
                                                "IP", "NODE", "NOMINATED", "NODE", "READINESS",
                                                "GATES"]
    assert "10.1.0.5" in r.output and "testnode" in r.output
    assert podrun(srv, "get", "pods", "-o", "name").output == "pod/db\npod/web\n"
    data = json.loads(podrun(srv, "get", "pods", "-o", "json").output)
    assert data["kind"] == "List" and len(data["items"]) == 2
    one = yaml.safe_load(podrun(srv, "get", "pod", "web", "-o", "yaml").output)
    assert one["kind"] == "Pod" and one["status"]["phase"] == "Running"
    r = podrun(srv, "get", "pods", "-A")
    assert r.output.splitlines()[0].split()[0] == "NAMESPACE" and "other" in r.output
    assert podrun(srv, "get", "pods", "-l", "app=db", "-o", "name").output == "pod/db\n"
    r = podrun(srv, "get", "pods", "-n", "empty")
    assert r.output == "No resources found in empty namespace.\n"


def test_get_unknown_pod_is_kubectls_error(env: tuple[Server, Path]) -> None:
    srv, _ = env
    r = podrun(srv, "get", "pod", "nope")
    assert r.exit_code == 1
    assert r.output == 'Error from server (NotFound): pods "nope" not found\n'
    r = podrun(srv, "get", "deployments")
    assert r.exit_code == 1 and 'doesn\'t have a resource type "deployments"' in r.output


def test_daemon_not_running_names_the_socket(tmp_path_factory: Any) -> None:
    sock = "/var/tmp/podrun-no-such-dir/podrun.sock"
    r = CliRunner().invoke(cli, ["--socket", sock, "get", "pods"])
    assert r.exit_code == 1
    assert r.output == (f"error: cannot connect to the podrun daemon at {sock}: is it "
                        "running? (podrun daemon)\n")
    r = CliRunner().invoke(cli, ["get", "pods"], env={"PODRUN_SOCKET": sock})
    assert sock in r.output


def test_delete_and_configmaps_secrets_events(env: tuple[Server, Path]) -> None:
    srv, d = env
    _seed(srv)
    r = podrun(srv, "delete", "pod", "web")
    assert r.exit_code == 0 and r.output == 'pod "web" deleted\n'
    r = podrun(srv, "delete", "pod", "web")
    assert r.exit_code == 1 and 'pods "web" not found' in r.output
    r = podrun(srv, "delete", "pod", "db", "--force")
    assert "Immediate deletion does not wait" in r.output
    assert srv.manager.terminated[-1][1] == 0
    (d / "f.txt").write_text("filedata")
    (d / "e.env").write_text("# c\nA=1\nB=two\n")
    r = podrun(srv, "create", "configmap", "cfg", "--from-literal", "k=v",
               "--from-file", str(d / "f.txt"), "--from-env-file", str(d / "e.env"))
    assert r.output == "configmap/cfg created\n"
    cm = srv.call(lambda: srv.store.get("configmaps", "default", "cfg"))
    assert cm["data"] == {"k": "v", "f.txt": "filedata", "A": "1", "B": "two"}
    r = podrun(srv, "create", "secret", "generic", "s", "--from-literal", "pw=hunter2")
    assert r.output == "secret/s created\n"
    out = podrun(srv, "get", "secrets").output.splitlines()
    assert out[0].split() == ["NAME", "TYPE", "DATA", "AGE"] and out[1].split()[:3] == ["s", "Opaque", "1"]
    out = podrun(srv, "get", "cm").output.splitlines()
    assert out[0].split() == ["NAME", "DATA", "AGE"] and out[1].split()[:2] == ["cfg", "4"]
    srv.call(lambda: srv.store.record_event(
        {"kind": "Pod", "metadata": {"name": "x", "namespace": "default", "uid": "u"}},
        "Warning", "BackOff", "Back-off restarting failed container"))
    out = podrun(srv, "events").output.splitlines()
    assert out[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "pod/x" in out[1] and "BackOff" in out[1]


def test_logs_exec_images_without_engine(env: tuple[Server, Path]) -> None:
    srv, _ = env
    _seed(srv)
    r = podrun(srv, "logs", "web")
    assert r.exit_code == 1 and r.output.startswith("Error from server (ServiceUnavailable):")
    r = podrun(srv, "exec", "web", "--", "true")
    assert r.exit_code == 1 and "ServiceUnavailable" in r.output
    r = podrun(srv, "images")
    assert r.exit_code == 1 and "image service is not available" in r.output
    r = podrun(srv, "pull", "busybox")
    assert r.exit_code == 1


def test_logs_defaulted_container_note(env: tuple[Server, Path]) -> None:
    srv, _ = env
    srv.manager.engine = True

    def seed() -> None:
        srv.store.create("pods", {"metadata": {"name": "two", "namespace": "default"},
                                  "spec": {"containers": [{"name": "a", "image": "x"},
                                                          {"name": "b", "image": "x"}],
                                           "initContainers": [{"name": "i", "image": "x"}]}})
    srv.call(seed)
    r = podrun(srv, "logs", "two", "--tail", "5")
    assert r.exit_code == 0, r.output
    assert 'Defaulted container "a" out of: a, b, i (init)' in r.output
    assert "hello\nworld\n" in r.output
    assert srv.manager.last_logs[1] == "a" and srv.manager.last_logs[2]["tail_lines"] == 5


def test_version_prints_client_and_server(env: tuple[Server, Path]) -> None:
    srv, _ = env
    r = podrun(srv, "version")
    assert r.output.startswith("podrun ") and "Server Version: podrun" in r.output


def test_describe_layout() -> None:
    pod = {"metadata": {"name": "web", "namespace": "default", "uid": "u",
                        "labels": {"app": "web"}, "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"nodeName": "n", "containers": [{
               "name": "a", "image": "busybox", "ports": [{"containerPort": 80, "protocol": "TCP"}],
               "env": [{"name": "X", "value": "1"}],
               "volumeMounts": [{"name": "data", "mountPath": "/data"}],
               "livenessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 10}}],
               "volumes": [{"name": "data", "emptyDir": {}}]},
           "status": {"phase": "Pending", "qosClass": "BestEffort",
                      "conditions": [{"type": "PodScheduled", "status": "True"}]}}
    events = [{"type": "Normal", "reason": "Pulled", "message": "ok", "count": 3,
               "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:10Z",
               "source": {"component": "kubelet"}}]
    text = describe_pod(pod, events, now=1767225620.0)
    for heading in ("Name:             web", "Namespace:        default", "Node:             n",
                    "Labels:           app=web", "Status:           Pending", "Containers:",
                    "  a:", "    Image:", "    Port:           80/TCP", "    Liveness:",
                    "http-get http://:80/", "    Environment:", "X:  1",
                    "    Mounts:         /data from data (rw)", "Conditions:",
                    "  Type           Status", "Volumes:", "EmptyDir", "QoS Class:",
                    "Events:", "  Type     Reason   Age", "(x3 over"):
        assert heading in text, heading


def test_table_layout_is_kubectls_tabwriter() -> None:
    assert format_table(["NAME", "AGE"], [["a-long-name", "5s"]]) == (
        "NAME          AGE\na-long-name   5s")


def test_pod_row_shows_terminating() -> None:
    row = pod_row({"metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z",
                                "creationTimestamp": "2026-01-01T00:00:00Z"},
                   "spec": {"containers": [{"name": "a", "image": "b"}]},
                   "status": {"phase": "Running"}})
    assert row["STATUS"] == "Terminating"


def test_completion_script() -> None:
    r = CliRunner().invoke(cli, ["completion", "bash"])
    assert r.exit_code == 0 and "_PODRUN_COMPLETE" in r.output


def test_exec_streams_output_and_exits_with_the_commands_code(env: tuple[Server, Path]) -> None:
    from tests.unit.api.fakes import FakeExec
    srv, _ = env
    _seed(srv)
    srv.manager.engine = True
    srv.manager.exec_result = FakeExec([(1, b"out\n"), (2, b"err\n")], 7)
    r = podrun(srv, "exec", "web", "--", "sh", "-c", "exit 7")
    assert r.exit_code == 7, r.output
    assert "out\n" in r.output and "err\n" in r.output
    assert srv.manager.last_exec[2] == ["sh", "-c", "exit 7"]
    srv.manager.exec_result = FakeExec([], 0)
    assert podrun(srv, "exec", "web", "--", "true").exit_code == 0


def test_apply_replaces_a_pod_whose_change_cannot_be_made_in_place(env: tuple[Server, Path]) -> None:
    srv, d = env
    f = d / "pod.yaml"
    f.write_text(MANIFEST)
    assert podrun(srv, "apply", "-f", str(f)).exit_code == 0
    uid = srv.call(lambda: srv.store.get("pods", "default", "web"))["metadata"]["uid"]
    f.write_text(MANIFEST.replace("containerPort: 80", "containerPort: 81"))
    r = podrun(srv, "apply", "-f", str(f))
    assert (r.exit_code, r.output) == (0, "pod/web replaced\n")
    new = srv.call(lambda: srv.store.get("pods", "default", "web"))
    assert new["metadata"]["uid"] != uid
    assert new["spec"]["containers"][0]["ports"][0]["containerPort"] == 81
    assert srv.manager.terminated[-1][0] == uid


def test_exec_stdin_from_a_file_and_a_pipe(env: tuple[Server, Path]) -> None:
    import subprocess

    from tests.unit.api.fakes import FakeExec
    srv, d = env
    _seed(srv)
    srv.manager.engine = True
    podrun_bin = Path(__file__).resolve().parents[3] / ".venv/bin/podrun"
    (d / "in.txt").write_bytes(b"from a file\n")
    for how in ("file", "pipe"):
        srv.manager.exec_result = FakeExec([], 0, echo=True)
        argv = [str(podrun_bin), "--socket", str(srv.sock), "exec", "-i", "web", "--", "cat"]
        if how == "file":
            with open(d / "in.txt", "rb") as f:
                r = subprocess.run(argv, stdin=f, capture_output=True, timeout=30)
        else:
            r = subprocess.run(argv, input=b"from a file\n", capture_output=True, timeout=30)
        assert (r.returncode, r.stdout) == (0, b"from a file\n"), r.stderr
        assert srv.manager.last_exec[3] is True  # stdin requested
