"""Faults against a real daemon (issue 11 part 4), each with the expected event/status and
the measured outcome printed: a CNI plugin that hangs or answers garbage, a log flood, the
static directory removed and recreated, 200 concurrent API requests, a bounded fork bomb,
pause killed. Every test ends with `podrun doctor` finding nothing."""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.integration.daemon.conftest import REPO
from tests.integration.pods.conftest import PodDaemon
from tests.integration.reliability.conftest import leak_kinds, pod_manifest, run_doctor

pytestmark = pytest.mark.privileged


def pod(name: str, script: str, container_extra: str = "") -> str:
    return pod_manifest(name, ["sh", "-c", script], container_extra=container_extra)


def events(d: PodDaemon, name: str) -> list[dict[str, Any]]:
    r = d.cli("get", "events", "-o", "json")
    if r.returncode != 0:
        return []
    return [e for e in json.loads(r.stdout).get("items", [])
            if e.get("involvedObject", {}).get("name") == name]


def reasons(d: PodDaemon, name: str) -> list[str]:
    return [e["reason"] for e in events(d, name)]


def get_latency(d: PodDaemon) -> float:
    t0 = time.monotonic()
    r = d.cli("get", "pods", timeout=30)
    assert r.returncode == 0, r.stderr
    return time.monotonic() - t0


def assert_clean(d: PodDaemon) -> None:
    d.delete_all()
    rc, doc = run_doctor(d, "--min-age", "0")
    assert rc == 0, f"doctor: {leak_kinds(doc)}\n{json.dumps(doc, indent=1)}"


def restart_daemon(d: PodDaemon) -> None:
    d.stop()
    d.start()


# ---- CNI faults ------------------------------------------------------------------------

WRAPPER = """#!/bin/sh
# podrun-bridge, except for pods named hang-* (ADD sleeps) and garbage-* (ADD prints junk)
echo "$CNI_COMMAND $CNI_ARGS" >> {calls}
case "$CNI_COMMAND:$CNI_ARGS" in
  ADD:*K8S_POD_NAME=hang*) exec sleep 3600 ;;
  ADD:*K8S_POD_NAME=garbage*) cat >/dev/null; echo 'this is {{ not json'; exit 0 ;;
esac
exec {real}
"""


@pytest.fixture
def faulty_cni(pods: PodDaemon) -> PodDaemon:
    bins = pods.base / "cni-bin"
    bins.mkdir()
    plugin = bins / "podrun-bridge"
    plugin.write_text(WRAPPER.format(calls=pods.base / "cni-calls",
                                     real=REPO / "cni" / "podrun-bridge"))
    plugin.chmod(0o755)
    pods.stop()
    pods.extra_args = [*pods.extra_args, "--cni-bin-dir", str(bins)]
    pods.start()
    return pods


def test_cni_plugin_that_hangs(faulty_cni: PodDaemon) -> None:
    d = faulty_cni
    d.apply(pod("hang-1", "sleep 1000"))
    time.sleep(1)
    t0 = time.monotonic()
    d.apply(pod("ok-1", "sleep 1000"))
    d.wait_phase("ok-1", "Running", timeout=30)  # other pods are not held up
    ok_after = time.monotonic() - t0
    lat = get_latency(d)
    # the runtime's plugin timeout (30 s, not configurable yet) kills the plugin
    ev = d.wait_for(lambda: [e for e in events(d, "hang-1")
                             if e["reason"] == "FailedCreatePodSandBox"], timeout=60)
    assert "timed out after 30s" in ev[0]["message"], ev
    # and the sandbox is retried
    calls = d.base / "cni-calls"
    d.wait_for(lambda: calls.read_text().count("ADD IgnoreUnknown=1;K8S_POD_NAMESPACE=default;"
                                               "K8S_POD_NAME=hang-1") >= 2, timeout=20)
    assert d.status("hang-1").get("phase") == "Pending"
    print(f"\nhanging CNI: other pod Running after {ok_after:.1f}s, get pods {lat:.2f}s, "
          f"event: {ev[0]['message'][:160]}")
    assert_clean(d)


def test_cni_plugin_that_returns_garbage(faulty_cni: PodDaemon) -> None:
    d = faulty_cni
    d.apply(pod("garbage-1", "sleep 1000"))
    d.apply(pod("ok-2", "sleep 1000"))
    d.wait_phase("ok-2", "Running", timeout=30)
    ev = d.wait_for(lambda: [e for e in events(d, "garbage-1")
                             if e["reason"] == "FailedCreatePodSandBox"], timeout=30)
    assert "not valid JSON" in ev[0]["message"], ev
    d.wait_for(lambda: (d.base / "cni-calls").read_text().count("K8S_POD_NAME=garbage-1")
               >= 3, timeout=30)  # ADD, its undo DEL, the next ADD: retried
    assert d.proc is not None and d.proc.poll() is None
    print(f"\ngarbage CNI: event: {ev[0]['message'][:160]}; count {ev[0].get('count')}")
    assert_clean(d)


# ---- log flood ---------------------------------------------------------------------------


def api_latency(d: PodDaemon) -> float:
    """One GET /api/v1/pods round trip on the daemon's socket (no CLI start-up)."""
    t0 = time.monotonic()
    c = _UnixHTTP(str(d.socket))
    c.request("GET", "/api/v1/pods")
    r = c.getresponse()
    r.read()
    c.close()
    assert r.status == 200
    return time.monotonic() - t0


def _dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _counter_gaps(log_dir: Path) -> list[int]:
    """The quiet pod's counter lines (0, 1, 2, ...) across its log files: what is missing."""
    nums = []
    for f in sorted(log_dir.rglob("*.log*")):
        if f.name.endswith(".gz"):
            with gzip.open(f, "rt") as g:
                text = g.read()
        else:
            text = f.read_text()
        nums += [int(x.split(" ", 3)[3]) for x in text.splitlines()
                 if x.split(" ", 3)[3].isdigit()]
    nums.sort()
    return sorted(set(range(nums[-1] + 1)) - set(nums)) if nums else [-1]


FLOOD_SECONDS = 15.0


def test_log_flood_keeps_the_disk_bounded_and_the_daemon_responsive(pods: PodDaemon) -> None:
    """`yes` writes as fast as it can: pause's per-file budget (containerLogMaxSize) keeps
    the pod's log dir within maxSize * maxFiles between the engine's 10 s rotation checks,
    the daemon answers, and a quiet pod's log loses nothing."""
    max_size, max_files = 10 * 2**20, 5  # the kubelet's defaults, the daemon's too
    pods.apply(pod("flood", "exec yes flood-0123456789-0123456789-0123456789"))
    pods.apply(pod("quiet", "i=0; while :; do echo $i; i=$((i+1)); sleep 0.1; done"))
    pods.wait_phase("flood", "Running")
    pods.wait_phase("quiet", "Running")
    uid = pods.pod("flood")["metadata"]["uid"]  # type: ignore[index]
    flood_dir = pods.log_dir / f"default_flood_{uid}"
    t0 = time.monotonic()
    api, cli, sizes = [], [], []
    while time.monotonic() - t0 < FLOOD_SECONDS:
        api.append(api_latency(pods))
        cli.append(get_latency(pods))
        sizes.append(_dir_size(flood_dir))
        time.sleep(0.2)
    files = sorted(f"{f.name}:{f.stat().st_size // 1024}K" for f in flood_dir.rglob("*")
                   if f.is_file())
    quiet_uid = pods.pod("quiet")["metadata"]["uid"]  # type: ignore[index]
    gaps = _counter_gaps(pods.log_dir / f"default_quiet_{quiet_uid}")
    print(f"\nlog flood {FLOOD_SECONDS:.0f}s: flood log dir max {max(sizes) / 2**20:.1f} MiB "
          f"(bound {max_size * max_files / 2**20:.0f} MiB); files {files}; API max "
          f"{max(api):.3f}s; `get pods` max {max(cli):.2f}s median "
          f"{sorted(cli)[len(cli) // 2]:.2f}s over {len(cli)} calls; quiet pod gaps {gaps}")
    # margin: one 16 KiB entry and a marker line over the budget per uncompressed file
    assert max(sizes) <= max_size * max_files + 2**20, sizes
    assert max(api) < 1.0, api
    # CLI start-up included (~0.5 s on this shared 2-CPU host): the median is the daemon's
    # answer, the max also catches one stuck call
    assert sorted(cli)[len(cli) // 2] < 1.0 and max(cli) < 2.0, cli
    assert gaps == [], gaps
    r = pods.cli("logs", "flood", "--tail", "3")
    assert r.returncode == 0, r.stderr
    assert any(f.name.startswith("0.log.") for f in flood_dir.rglob("*")), files
    assert_clean(pods)


# ---- static directory --------------------------------------------------------------------


def test_static_directory_removed_and_recreated(pods: PodDaemon) -> None:
    mdir = pods.manifest_dir
    (mdir / "web.yaml").write_text(pod("web", "sleep 1000"))
    pods.wait_phase("web-testnode", "Running", timeout=30)
    uid = pods.pod("web-testnode")["metadata"]["uid"]  # type: ignore[index]
    shutil.rmtree(mdir)
    pods.wait_for(lambda: pods.pod("web-testnode") is None, timeout=40)
    assert pods.proc is not None and pods.proc.poll() is None
    mdir.mkdir()
    (mdir / "web.yaml").write_text(pod("web", "sleep 1000"))
    st = pods.wait_phase("web-testnode", "Running", timeout=40)
    new_uid = pods.pod("web-testnode")["metadata"]["uid"]  # type: ignore[index]
    print(f"\nstatic dir: pod removed with the dir, back after recreation (uid {uid[:8]} -> "
          f"{new_uid[:8]}), phase {st['phase']}")
    (mdir / "web.yaml").unlink()
    pods.wait_for(lambda: pods.pod("web-testnode") is None, timeout=40)
    assert_clean(pods)


# ---- API flood ---------------------------------------------------------------------------


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.path)


def test_api_flood_of_concurrent_requests(pods: PodDaemon) -> None:
    for i in range(3):
        pods.apply(pod(f"api-{i}", "sleep 1000"))
    assert pods.proc is not None
    proc = psutil.Process(pods.proc.pid)
    rss0 = proc.memory_info().rss
    results: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Event()

    def one(i: int) -> None:
        start.wait()
        try:
            c = _UnixHTTP(str(pods.socket))
            path = "/api/v1/pods" if i % 2 else "/api/v1/namespaces/default/pods/api-0"
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            with lock:
                results.append(r.status)
            c.close()
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append(repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    start.set()
    for t in threads:
        t.join(120)
    took = time.monotonic() - t0
    rss1 = proc.memory_info().rss
    print(f"\nAPI flood: {len(results)} answered in {took:.2f}s, errors {errors[:3]}, "
          f"daemon RSS {rss0 / 2**20:.1f} -> {rss1 / 2**20:.1f} MiB")
    assert not errors and results == [200] * 200
    assert rss1 - rss0 < 64 * 2**20
    assert get_latency(pods) < 1.0
    assert_clean(pods)


# ---- fork bomb ---------------------------------------------------------------------------


def test_bounded_fork_bomb_leaves_the_daemon_responsive(pods: PodDaemon) -> None:
    # 2^11 - 1 shells at most, each gone after ~2 s: harmless for the host, no pids limit
    # on a hybrid host (pids.max is not enforceable there)
    bomb = ("b() { if [ $1 -gt 0 ]; then b $(($1-1)) & b $(($1-1)) & fi; sleep 2; }; "
            "touch /tmp/go; b 10; wait; echo bomb-done; sleep 1000")
    pods.apply(pod("bomb", bomb))
    pods.wait_phase("bomb", "Running")
    t0 = time.monotonic()
    lat = []
    while time.monotonic() - t0 < 6:
        lat.append(get_latency(pods))
        time.sleep(0.2)
    done = pods.wait_for(lambda: "bomb-done" in pods.cli("logs", "bomb").stdout, timeout=60)
    ne = [e["message"] for e in events(pods, "bomb") if e["reason"] == "LimitsNotEnforced"]
    print(f"\nfork bomb: get pods max {max(lat):.2f}s over {len(lat)} calls; "
          f"bomb finished: {bool(done)}; LimitsNotEnforced: {ne[:2]}")
    assert max(lat) < 1.0, lat
    assert_clean(pods)


# ---- pause killed ------------------------------------------------------------------------


def _kill_pause_of(d: PodDaemon, name: str) -> None:
    uid = d.pod(name)["metadata"]["uid"]  # type: ignore[index]
    pids = []
    for sb in (d.run_dir / "sandboxes").glob("*/sandbox.json"):
        if json.loads(sb.read_text()).get("podUID") == uid:
            with contextlib.suppress(OSError, ValueError):
                pids.append(int((sb.parent / "pause.pid").read_text()))
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)  # the pause our daemon started for this test


def test_pause_killed_recreates_the_sandbox(pods: PodDaemon) -> None:
    pods.apply(pod("victim", "echo started; sleep 1000"))
    st = pods.wait_phase("victim", "Running")
    ip0 = st.get("podIP")
    _kill_pause_of(pods, "victim")
    t0 = time.monotonic()
    pods.wait_for(lambda: pods.container("victim", "c").get("restartCount", 0) >= 1
                  and "running" in pods.container("victim", "c").get("state", {}), timeout=40)
    took = time.monotonic() - t0
    st = pods.status("victim")
    cs = pods.container("victim", "c")
    rs = reasons(pods, "victim")
    print(f"\npause killed: running again after {took:.1f}s, restartCount "
          f"{cs['restartCount']}, lastState {cs.get('lastState')}, podIP {ip0} -> "
          f"{st.get('podIP')}, events {sorted(set(rs))}")
    assert st["phase"] == "Running" and st.get("podIP")
    assert cs["lastState"]["terminated"]["reason"] in ("ContainerStatusUnknown", "Error")
    assert pods.cli("logs", "victim").stdout == "started\n"
    assert_clean(pods)


def test_pause_killed_sandbox_network_is_released(pods: PodDaemon) -> None:
    ports = "    ports:\n    - containerPort: 80\n      hostPort: 18432\n"
    pods.apply(pod("victim2", "sleep 1000", ports))
    pods.wait_phase("victim2", "Running")
    time.sleep(6)  # older than doctor's min age
    _kill_pause_of(pods, "victim2")
    pods.wait_for(lambda: pods.container("victim2", "c").get("restartCount", 0) >= 1,
                  timeout=40)
    time.sleep(6)
    rc, doc = run_doctor(pods)
    kinds = leak_kinds(doc)
    print(f"\npause killed, doctor: {kinds}; events {sorted(set(reasons(pods, 'victim2')))}; "
          f"phase {pods.status('victim2').get('phase')}")
    try:
        assert "SandboxChanged" in reasons(pods, "victim2")
        assert rc == 0, kinds
        # the new sandbox got the hostPort (the dead one's element does not block it)
        assert pods.container("victim2", "c").get("state", {}).get("running")
    finally:
        pods.delete_all()
        run_doctor(pods, "--fix", "--min-age", "0")
