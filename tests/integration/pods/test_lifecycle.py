"""Pod lifecycle end to end through the CLI, as the kubelet behaves (BEHAVIOR.md 1-6, 9).

Each test applies a manifest to a real daemon and watches `podrun get pod -o json`.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.pods.conftest import IMAGE, PodDaemon

pytestmark = pytest.mark.privileged


def pod(name: str, containers: str, *, restart: str = "Always", extra: str = "",
        init: str = "", tgps: int | None = None) -> str:
    text = f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: {restart}
"""
    if tgps is not None:
        text += f"  terminationGracePeriodSeconds: {tgps}\n"
    if init:
        text += "  initContainers:\n" + init
    text += "  containers:\n" + containers + extra
    return text


def container(name: str, script: str, extra: str = "") -> str:
    return (f"  - name: {name}\n    image: {IMAGE}\n"
            f"    command: [\"sh\", \"-c\", {script!r}]\n" + extra)


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_pod_runs_and_prints_to_its_log(pods: PodDaemon) -> None:
    pods.apply(pod("hello", container("c", "echo 'Hello World'; sleep 240")))
    st = pods.wait_phase("hello", "Running")
    cs = pods.container("hello", "c")
    assert "running" in cs["state"] and cs["ready"] is True and cs["restartCount"] == 0
    assert cs["containerID"].startswith("podrun://")
    assert st["podIP"] and st["hostIP"] and st["startTime"]
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    assert conds == {"PodReadyToStartContainers": "True", "Initialized": "True",
                     "Ready": "True", "ContainersReady": "True", "PodScheduled": "True"}
    assert pods.wait_for(lambda: pods.cli("logs", "hello").stdout == "Hello World\n")
    row = pods.cli("get", "pods").stdout.splitlines()
    assert row[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row[1].split()[:4] == ["hello", "1/1", "Running", "0"]


def test_exec_returns_the_command_exit_code_and_sees_the_container(pods: PodDaemon) -> None:
    pods.apply(pod("ex", container("c", "sleep 1000", "    env:\n    - name: GREETING\n"
                                                      "      value: hi\n")))
    pods.wait_phase("ex", "Running")
    r = pods.cli("exec", "ex", "--", "sh", "-c", "echo $GREETING; exit 3")
    assert (r.returncode, r.stdout) == (3, "hi\n")


@pytest.mark.parametrize("policy,restarts,phase,state", [
    ("Always", 2, "Running", "running"),
    ("OnFailure", 1, "Succeeded", "terminated"),
    ("Never", 0, "Failed", "terminated"),
])
def test_restart_policies_like_the_runtime_conformance_test(pods: PodDaemon, policy: str,
                                                            restarts: int, phase: str,
                                                            state: str) -> None:
    # runtime.go "should run with the expected status": exit 1, then exit 0, then loop.
    script = ("echo x >> /restart-count/restartCount; n=$(wc -l < /restart-count/restartCount); "
              "if [ $n -eq 1 ]; then exit 1; fi; if [ $n -eq 2 ]; then exit 0; fi; "
              "while true; do sleep 1; done")
    name = f"terminate-cmd-{policy.lower()}"
    pods.apply(pod(name, container("c", script,
                                   "    volumeMounts:\n    - name: rc\n      mountPath: /restart-count\n"),
                   restart=policy, extra="  volumes:\n  - name: rc\n    emptyDir: {}\n"))
    pods.wait_for(lambda: (pods.container(name, "c").get("restartCount") == restarts
                           and pods.status(name).get("phase") == phase
                           and state in pods.container(name, "c").get("state", {})),
                  timeout=60)
    time.sleep(2)  # and it stays so
    cs = pods.container(name, "c")
    assert cs["restartCount"] == restarts and pods.status(name)["phase"] == phase
    assert cs["ready"] is (policy == "Always")


def test_backoff_schedule_zero_ten_twenty(pods: PodDaemon) -> None:
    pods.apply(pod("sched", container("c", "exit 1")))
    t0 = time.monotonic()
    times: dict[int, float] = {}
    deadline = t0 + 60
    while time.monotonic() < deadline and 3 not in times:
        n = pods.container("sched", "c").get("restartCount", 0)
        for k in range(1, n + 1):
            times.setdefault(k, time.monotonic() - t0)
        time.sleep(0.1)
    assert set(times) >= {1, 2, 3}, times
    assert times[1] < 3, times
    assert 8 <= times[2] - times[1] <= 13, times
    assert 18 <= times[3] - times[2] <= 23, times
    waiting = pods.container("sched", "c")["state"].get("waiting") or {}
    if waiting:
        assert waiting["reason"] == "CrashLoopBackOff"
        assert waiting["message"].startswith("back-off ")


def test_init_containers_run_in_order_on_a_never_pod(pods: PodDaemon, tmp_path: Path) -> None:
    init = (container("init1", "true") + container("init2", "true"))
    pods.apply(pod("init-never", container("run1", "true"), restart="Never", init=init))
    st = pods.wait_phase("init-never", "Succeeded", timeout=60)
    inits = {c["name"]: c for c in st["initContainerStatuses"]}
    t1 = inits["init1"]["state"]["terminated"]
    t2 = inits["init2"]["state"]["terminated"]
    run1 = pods.container("init-never", "run1")["state"]["terminated"]
    assert t1["exitCode"] == t2["exitCode"] == 0 and t1["reason"] == "Completed"
    assert ts(t1["finishedAt"]) <= ts(t2["startedAt"])
    assert ts(t2["finishedAt"]) <= ts(run1["startedAt"])
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Initialized"]["status"] == "True"


def test_failed_init_container_fails_a_never_pod(pods: PodDaemon) -> None:
    init = container("init1", "true") + container("init2", "false")
    pods.apply(pod("init-fail", container("run1", "true"), restart="Never", init=init))
    st = pods.wait_phase("init-fail", "Failed", timeout=60)
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Initialized"]["status"] == "False"
    assert conds["Initialized"]["message"] == "containers with incomplete status: [init2]"
    run1 = pods.container("init-fail", "run1")
    assert run1["state"]["waiting"]["reason"] == "PodInitializing"
    assert pods.container("init-fail", "init2", init=True)["state"]["terminated"]["exitCode"] != 0


def test_failing_init_container_keeps_an_always_pod_pending(pods: PodDaemon) -> None:
    init = container("init1", "false") + container("init2", "true")
    pods.apply(pod("init-always", container("run1", "sleep 1000"), init=init))
    pods.wait_for(lambda: pods.container("init-always", "init1", init=True)
                  .get("restartCount", 0) >= 2, timeout=60)
    st = pods.status("init-always")
    assert st["phase"] == "Pending"
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Initialized"]["message"] == "containers with incomplete status: [init1 init2]"
    assert pods.container("init-always", "run1")["state"]["waiting"]["reason"] == "PodInitializing"
    row = pods.cli("get", "pods").stdout.splitlines()[1].split()
    assert row[2].startswith("Init:")


def test_delete_kills_a_term_ignoring_container_at_the_grace_period(pods: PodDaemon) -> None:
    pods.apply(pod("stubborn", container("c", "exec sleep 1000"), tgps=3))
    pods.wait_phase("stubborn", "Running")
    t0 = time.monotonic()
    r = pods.cli("delete", "pod", "stubborn", "--wait", timeout=60)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert 2.5 <= took <= 5.5, took
    assert pods.pod("stubborn") is None


def test_delete_of_a_trapping_container_is_quick(pods: PodDaemon) -> None:
    pods.apply(pod("polite", container("c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"),
                   tgps=30))
    pods.wait_phase("polite", "Running")
    time.sleep(0.5)
    t0 = time.monotonic()
    assert pods.cli("delete", "pod", "polite", "--wait", timeout=60).returncode == 0
    assert time.monotonic() - t0 < 5


def test_termination_messages(pods: PodDaemon) -> None:
    pods.apply(pod("tm-file", container("c", "echo -n DONE > /dev/termination-log"),
                   restart="Never"))
    pods.apply(pod("tm-logs", container("c", "echo -n DONE; false",
                                        "    terminationMessagePolicy: FallbackToLogsOnError\n"),
                   restart="Never"))
    pods.wait_phase("tm-file", "Succeeded")
    pods.wait_phase("tm-logs", "Failed")
    assert pods.container("tm-file", "c")["state"]["terminated"]["message"] == "DONE"
    assert pods.container("tm-logs", "c")["state"]["terminated"]["message"] == "DONE"


def test_active_deadline_fails_the_pod(pods: PodDaemon) -> None:
    pods.apply(pod("deadline", container("c", "sleep 1000"),
                   extra="  activeDeadlineSeconds: 3\n"))
    st = pods.wait_phase("deadline", "Failed", timeout=30)
    assert st["reason"] == "DeadlineExceeded"


def test_sandbox_death_recreates_the_sandbox_and_reruns_init(pods: PodDaemon) -> None:
    pods.apply(pod("sbdeath", container("c", "sleep 1000"), init=container("init1", "true")))
    pods.wait_phase("sbdeath", "Running")
    pidfiles = list(pods.run_dir.glob("sandboxes/*/pause.pid"))
    assert len(pidfiles) == 1
    os.kill(int(pidfiles[0].read_text()), signal.SIGKILL)
    pods.wait_for(lambda: pods.container("sbdeath", "c").get("restartCount") == 1
                  and "running" in pods.container("sbdeath", "c").get("state", {}), timeout=30)
    init = pods.container("sbdeath", "init1", init=True)
    assert init["state"]["terminated"]["exitCode"] == 0
    assert pods.status("sbdeath")["phase"] == "Running"


def test_logs_rotate_by_size_and_count(pods: PodDaemon) -> None:
    """BEHAVIOR.md 11.3 with containerLogMaxSize 2Ki and containerLogMaxFiles 3; the daemon
    is restarted with that config, so this also checks that a new daemon adopts the pod."""
    pods.apply(pod("chatty", container(
        "c", "i=0; while true; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
             "i=$((i+1)); sleep 0.02; done")))
    pods.wait_phase("chatty", "Running")
    before = pods.container("chatty", "c")
    pods.stop()
    pods.config.update({"containerLogMaxSize": "2Ki", "containerLogMaxFiles": 3})
    pods.start()
    uid = pods.pod("chatty")["metadata"]["uid"]
    logdir = pods.log_dir / f"default_chatty_{uid}" / "c"
    pods.wait_for(lambda: len(list(logdir.glob("0.log.*"))) >= 2, timeout=40)
    time.sleep(1)
    names = sorted(p.name for p in logdir.iterdir())
    assert len(names) <= 3, names
    assert any(n.endswith(".gz") for n in names), names
    after = pods.container("chatty", "c")
    assert after["containerID"] == before["containerID"]
    assert after["restartCount"] == 0
    out = pods.cli("logs", "chatty", "--tail", "3").stdout.splitlines()
    nums = [int(line.split("-")[1]) for line in out]
    assert len(nums) == 3 and nums == list(range(nums[0], nums[0] + 3))


def test_emptydir_over_its_size_limit_evicts_the_pod(pods: PodDaemon) -> None:
    """The kubelet's eviction manager: disk emptyDir usage above sizeLimit -> Failed,
    reason Evicted, containers killed, nothing restarted."""
    pods.apply(pod("hog", container("c", "head -c 3000000 /dev/zero > /scratch/fill; sleep 600",
                                    "    volumeMounts:\n    - name: scratch\n"
                                    "      mountPath: /scratch\n"),
                   extra="  volumes:\n  - name: scratch\n    emptyDir:\n      sizeLimit: 1Mi\n"))
    st = pods.wait_phase("hog", "Failed", timeout=40)
    assert st["reason"] == "Evicted"
    assert st["message"] == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". '
    pods.wait_for(lambda: "terminated" in pods.container("hog", "c").get("state", {}), timeout=20)
    time.sleep(2)
    assert pods.container("hog", "c")["restartCount"] == 0
    assert "Evicted" in pods.cli("describe", "pod", "hog").stdout
