"""Probes, hooks and sidecars end to end through the CLI (BEHAVIOR.md 4, 5.2, 6, 9.1-9.3).

The images hold no curl or nc: podrun runs httpGet and tcpSocket probes from the host.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.pods.conftest import IMAGE, PodDaemon

pytestmark = pytest.mark.privileged


def manifest(name: str, body: str, *, restart: str = "Always", tgps: int = 30,
             extra: str = "") -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n"
            f"  restartPolicy: {restart}\n  terminationGracePeriodSeconds: {tgps}\n"
            + extra + body)


def conditions(pods: PodDaemon, name: str) -> dict[str, str]:
    return {c["type"]: c["status"] for c in pods.status(name).get("conditions") or []}


def events(pods: PodDaemon, name: str) -> str:
    return pods.cli("describe", "pod", name).stdout


def test_liveness_exec_failure_restarts_with_unhealthy_event(pods: PodDaemon) -> None:
    # BEHAVIOR.md 9.1 P1-style: the probe file disappears, liveness fails, kill, restart.
    pods.apply(manifest("live-exec", f"""  containers:
  - name: c
    image: {IMAGE}
    command: ["sh", "-c", "touch /tmp/healthy; sleep 3; rm -f /tmp/healthy; sleep 600"]
    livenessProbe:
      exec:
        command: ["cat", "/tmp/healthy"]
      periodSeconds: 1
      failureThreshold: 1
      terminationGracePeriodSeconds: 1
"""))
    pods.wait_for(lambda: pods.container("live-exec", "c").get("restartCount", 0) >= 1,
                  timeout=40)
    text = events(pods, "live-exec")
    assert "Liveness probe failed" in text
    assert "failed liveness probe, will be restarted" in text


def test_readiness_http_probe_gates_ready_and_sees_kubelet_headers(pods: PodDaemon) -> None:
    # busybox httpd serves a CGI script that records the request headers it was sent.
    script = ("mkdir -p /www/cgi-bin; "
              "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\n"
              "env > /tmp/probe-env\\necho ok\\n' > /www/cgi-bin/h; chmod +x /www/cgi-bin/h; "
              "sleep 2; exec httpd -f -p 8080 -h /www")
    pods.apply(manifest("ready-http", f"""  containers:
  - name: web
    image: {IMAGE}
    command: ["sh", "-c", {script!r}]
    ports:
    - name: http
      containerPort: 8080
    readinessProbe:
      httpGet:
        path: /cgi-bin/h?x=1
        port: http
        httpHeaders:
        - name: X-Custom
          value: probe
      periodSeconds: 1
"""))
    pods.wait_phase("ready-http", "Running")
    assert conditions(pods, "ready-http").get("Ready") == "False"  # initial readiness Failure
    try:
        pods.wait_for(lambda: conditions(pods, "ready-http").get("Ready") == "True", timeout=30)
    except AssertionError:
        raise AssertionError(events(pods, "ready-http")) from None
    env = pods.cli("exec", "ready-http", "--", "cat", "/tmp/probe-env").stdout
    assert "HTTP_USER_AGENT=kube-probe/1." in env
    assert "HTTP_X_CUSTOM=probe" in env
    assert "QUERY_STRING=x=1" in env
    assert "REQUEST_METHOD=GET" in env


def test_readiness_never_ready_keeps_pod_running_not_ready(pods: PodDaemon) -> None:
    pods.apply(manifest("never-ready", f"""  containers:
  - name: c
    image: {IMAGE}
    command: ["sleep", "600"]
    readinessProbe:
      tcpSocket:
        port: 9999
      periodSeconds: 1
"""))
    pods.wait_phase("never-ready", "Running")
    time.sleep(4)
    cs = pods.container("never-ready", "c")
    assert cs["ready"] is False and cs["restartCount"] == 0
    assert conditions(pods, "never-ready")["ContainersReady"] == "False"
    row = pods.cli("get", "pods").stdout.splitlines()
    assert any(r.split()[:3] == ["never-ready", "0/1", "Running"] for r in row)


def test_startup_probe_gates_liveness(pods: PodDaemon) -> None:
    # P15-like: liveness would fail at once, but startup never succeeds, so no restart;
    # started stays false.
    pods.apply(manifest("startup-gate", f"""  containers:
  - name: c
    image: {IMAGE}
    command: ["sleep", "600"]
    livenessProbe:
      exec:
        command: ["false"]
      periodSeconds: 1
      failureThreshold: 1
    startupProbe:
      exec:
        command: ["false"]
      periodSeconds: 1
      failureThreshold: 60
"""))
    pods.wait_phase("startup-gate", "Running")
    time.sleep(5)
    cs = pods.container("startup-gate", "c")
    assert cs["restartCount"] == 0 and cs["started"] is False and cs["ready"] is False


def test_post_start_and_pre_stop_hooks_run_in_order(pods: PodDaemon, tmp_path: Path) -> None:
    log = tmp_path / "hooks"
    log.mkdir()
    pods.apply(manifest("hooks", f"""  containers:
  - name: c
    image: {IMAGE}
    command: ["sh", "-c", "echo main >> /hooks/log; trap 'echo term >> /hooks/log; exit 0' TERM; while true; do sleep 0.2; done"]
    volumeMounts:
    - name: hooks
      mountPath: /hooks
    lifecycle:
      postStart:
        exec:
          command: ["sh", "-c", "echo poststart >> /hooks/log"]
      preStop:
        exec:
          command: ["sh", "-c", "echo prestop >> /hooks/log"]
  volumes:
  - name: hooks
    hostPath:
      path: {log}
""", tgps=10))
    pods.wait_for(lambda: pods.container("hooks", "c").get("started") is True, timeout=30)
    assert pods.cli("delete", "pod", "hooks", "--wait", timeout=60).returncode == 0
    lines = (log / "log").read_text().split()
    assert set(lines) == {"main", "poststart", "prestop", "term"}, lines
    assert lines.index("prestop") < lines.index("term")


def test_sidecar_starts_before_app_and_stops_after_it(pods: PodDaemon, tmp_path: Path) -> None:
    log = tmp_path / "order"
    log.mkdir()
    def sc(name: str) -> str:
        return (f"echo {name} start >> /o/log; "
                f"trap 'sleep 0.5; echo {name} exit >> /o/log; exit 0' TERM; "
                "while true; do sleep 0.1; done")
    pods.apply(manifest("sidecars", f"""  initContainers:
  - name: side
    image: {IMAGE}
    restartPolicy: Always
    command: ["sh", "-c", {sc('side')!r}]
    volumeMounts:
    - {{name: o, mountPath: /o}}
  containers:
  - name: app
    image: {IMAGE}
    command: ["sh", "-c", {sc('app')!r}]
    volumeMounts:
    - {{name: o, mountPath: /o}}
  volumes:
  - name: o
    hostPath:
      path: {log}
""", tgps=10))
    pods.wait_for(lambda: conditions(pods, "sidecars").get("Ready") == "True", timeout=30)
    assert pods.cli("delete", "pod", "sidecars", "--wait", timeout=60).returncode == 0
    lines = [line for line in (log / "log").read_text().splitlines() if line]
    assert lines == ["side start", "app start", "app exit", "side exit"], lines


def test_exited_sidecar_restarts_even_on_a_never_pod(pods: PodDaemon) -> None:
    pods.apply(manifest("sidecar-restart", f"""  initContainers:
  - name: side
    image: {IMAGE}
    restartPolicy: Always
    command: ["sh", "-c", "sleep 1; exit 1"]
  containers:
  - name: app
    image: {IMAGE}
    command: ["sleep", "600"]
""", restart="Never"))
    pods.wait_for(lambda: pods.container("sidecar-restart", "side", init=True)
                  .get("restartCount", 0) >= 1, timeout=40)
    assert pods.status("sidecar-restart")["phase"] == "Running"


def test_exec_probe_timeout_is_a_failure(pods: PodDaemon) -> None:
    # BEHAVIOR.md 4.5: a command running past timeoutSeconds fails the probe (ExecProbeTimeout).
    pods.apply(manifest("exec-timeout", f"""  containers:
  - name: c
    image: {IMAGE}
    command: ["sleep", "600"]
    livenessProbe:
      exec:
        command: ["sleep", "10"]
      timeoutSeconds: 1
      periodSeconds: 2
      failureThreshold: 1
      terminationGracePeriodSeconds: 1
"""))
    pods.wait_for(lambda: pods.container("exec-timeout", "c").get("restartCount", 0) >= 1,
                  timeout=40)
    assert "Liveness probe failed" in events(pods, "exec-timeout")


def test_startup_probe_failure_restarts_the_container(pods: PodDaemon) -> None:
    # P14: startup never succeeds, failureThreshold 2 -> killed and restarted.
    pods.apply(manifest("startup-fail", f"""  containers:
  - name: c
    image: {IMAGE}
    command: ["sleep", "600"]
    startupProbe:
      exec:
        command: ["false"]
      periodSeconds: 1
      failureThreshold: 2
      terminationGracePeriodSeconds: 1
"""))
    pods.wait_for(lambda: pods.container("startup-fail", "c").get("restartCount", 0) >= 1,
                  timeout=40)
    assert "failed startup probe, will be restarted" in events(pods, "startup-fail")


def test_ready_right_after_startup_succeeds(pods: PodDaemon) -> None:
    # P17: readiness period 60 s, but readiness is triggered when the container starts.
    pods.apply(manifest("ready-after-startup", f"""  containers:
  - name: c
    image: {IMAGE}
    command: ["sh", "-c", "echo ok > /tmp/health; sleep 3; echo ok > /tmp/startup; sleep 600"]
    readinessProbe:
      exec:
        command: ["cat", "/tmp/health"]
      periodSeconds: 60
    startupProbe:
      exec:
        command: ["cat", "/tmp/startup"]
      periodSeconds: 1
      failureThreshold: 60
"""))
    pods.wait_for(lambda: pods.container("ready-after-startup", "c").get("started") is True,
                  timeout=30)
    t_started = time.monotonic()
    pods.wait_for(lambda: pods.container("ready-after-startup", "c").get("ready") is True,
                  timeout=15)
    assert time.monotonic() - t_started < 5


def test_readiness_goes_false_while_terminating(pods: PodDaemon) -> None:
    # P22: on TERM the container removes its ready file and keeps running for a while;
    # readiness keeps probing during termination, so Ready turns False before it is gone.
    script = ("trap 'rm -f /tmp/ready; sleep 8; exit 0' TERM; touch /tmp/ready; "
              "while true; do sleep 0.2; done")
    pods.apply(manifest("ready-term", f"""  containers:
  - name: c
    image: {IMAGE}
    command: ["sh", "-c", {script!r}]
    readinessProbe:
      exec:
        command: ["cat", "/tmp/ready"]
      periodSeconds: 1
      failureThreshold: 1
""", tgps=20))
    pods.wait_for(lambda: conditions(pods, "ready-term").get("Ready") == "True", timeout=30)
    r = pods.cli("delete", "pod", "ready-term", "--wait=false")
    assert r.returncode == 0, r.stderr
    try:
        pods.wait_for(lambda: conditions(pods, "ready-term").get("Ready") == "False", timeout=8)
    except AssertionError:
        raise AssertionError(f"{pods.status('ready-term')}\n{events(pods, 'ready-term')}") from None
    assert pods.pod("ready-term") is not None  # still terminating
    pods.wait_for(lambda: pods.pod("ready-term") is None, timeout=30)
