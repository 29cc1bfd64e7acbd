"""The CLI with the real engine (issue 9): logs -f/-p/--tail/--timestamps, exec -i/-t,
apply --wait, delete --wait, get pods -w, describe, the STATUS column; and a daemon SIGKILL
with pods running (DESIGN.md 7, invariant 1).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from datetime import datetime

import pytest

from tests.integration.daemon.conftest import PODRUN
from tests.integration.pods.conftest import IMAGE, PodDaemon

pytestmark = pytest.mark.privileged


def manifest(name: str, script: str, *, restart: str = "Always", tgps: int = 1,
             more: str = "", extra: str = "", init: str = "") -> str:
    text = (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n"
            f"  restartPolicy: {restart}\n  terminationGracePeriodSeconds: {tgps}\n{extra}")
    if init:
        text += (f"  initContainers:\n  - name: init\n    image: {IMAGE}\n"
                 f"    command: [\"sh\", \"-c\", {json.dumps(init)}]\n")
    return text + (f"  containers:\n  - name: c\n    image: {IMAGE}\n"
                   f"    command: [\"sh\", \"-c\", {json.dumps(script)}]\n{more}")


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def popen(pods: PodDaemon, *args: str, **kw: object) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "PODRUN_SOCKET"}
    argv = [str(PODRUN), "--socket", str(pods.socket), *args]
    return subprocess.Popen(argv, env=env, **kw)  # type: ignore[call-overload, no-any-return]


def stop(proc: subprocess.Popen[bytes]) -> str:
    """Ends a CLI process this test started (by its pid) and returns its stdout."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=5)
    return (out or b"").decode(errors="replace")


def status_of(pods: PodDaemon, name: str) -> str:
    for line in pods.cli("get", "pods").stdout.splitlines()[1:]:
        cols = line.split()
        if cols and cols[0] == name:
            return cols[2]
    return ""


# ------------------------------------------------------------------------------ logs


def test_logs_follow_streams_lines_and_ends_with_the_container(pods: PodDaemon) -> None:
    pods.apply(manifest("follow", "sleep 1; for i in 1 2 3 4 5; do echo line$i; sleep 0.4; "
                                  "done", restart="Never"))
    pods.wait_for(lambda: pods.container("follow", "c").get("containerID"), timeout=20)
    proc = popen(pods, "logs", "-f", "follow", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        arrivals: list[tuple[float, bytes]] = []
        for line in iter(proc.stdout.readline, b""):
            arrivals.append((time.monotonic(), line))
        proc.wait(10)
    finally:
        stop(proc)
    assert [x[1] for x in arrivals] == [f"line{i}\n".encode() for i in range(1, 6)]
    # streamed as written (0.4 s apart), not all at once at the end
    assert arrivals[-1][0] - arrivals[0][0] > 1.2, arrivals
    assert proc.returncode == 0
    pods.wait_phase("follow", "Succeeded")


def test_logs_previous_tail_timestamps_and_describe(pods: PodDaemon) -> None:
    script = ("n=$(cat /d/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /d/n; "
              "echo instance-$n a; echo instance-$n b; echo instance-$n c; "
              "if [ $n -eq 1 ]; then exit 3; fi; sleep 1000")
    pods.apply(manifest("prev", script, more="    volumeMounts:\n    - name: d\n"
                                              "      mountPath: /d\n",
                        extra="  volumes:\n  - name: d\n    emptyDir: {}\n"))
    pods.wait_for(lambda: pods.container("prev", "c").get("restartCount") == 1
                  and "running" in pods.container("prev", "c")["state"], timeout=30)
    cur = "instance-2 a\ninstance-2 b\ninstance-2 c\n"
    assert pods.wait_for(lambda: pods.cli("logs", "prev").stdout == cur)
    r = pods.cli("logs", "prev", "-p")
    assert r.stdout == "instance-1 a\ninstance-1 b\ninstance-1 c\n", r.stderr
    assert pods.cli("logs", "prev", "--previous", "--tail", "1").stdout == "instance-1 c\n"
    assert pods.cli("logs", "prev", "--tail", "2").stdout == "instance-2 b\ninstance-2 c\n"
    assert pods.cli("logs", "prev", "--tail", "0").stdout == ""
    stamped = pods.cli("logs", "prev", "--timestamps").stdout.splitlines()
    assert len(stamped) == 3
    started = ts(pods.container("prev", "c")["state"]["running"]["startedAt"])
    for line, want in zip(stamped, cur.splitlines(), strict=True):
        stamp, _, text = line.partition(" ")
        assert text == want
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)", stamp), stamp
        assert abs(ts(stamp[:26] + "Z" if stamp.endswith("Z") else stamp) - started) < 5
    r = pods.cli("logs", "prev", "-c", "nope")
    assert r.returncode == 1 and "nope" in r.stderr, r.stderr
    r = pods.cli("logs", "ghost")
    assert r.returncode == 1
    assert r.stderr.strip() == 'Error from server (NotFound): pods "ghost" not found', r.stderr

    text = pods.cli("describe", "pod", "prev").stdout
    assert re.search(r"State:\s+Running\n\s+Started:", text), text
    assert re.search(r"Last State:\s+Terminated\n\s+Reason:\s+Error\n\s+Exit Code:\s+3", text), \
        text
    assert re.search(r"Restart Count:\s+1\n", text), text
    assert re.search(r"Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message", text), text
    for reason in ("Created", "Started"):
        assert re.search(rf"Normal\s+{reason}\s", text), text


# ------------------------------------------------------------------------------ exec


def test_exec_stdin_and_tty(pods: PodDaemon) -> None:
    pods.apply(manifest("sh", "sleep 1000"))
    pods.wait_phase("sh", "Running")
    r = pods.cli("exec", "-i", "sh", "--", "cat", input="hi\nthere\n")
    assert (r.returncode, r.stdout) == (0, "hi\nthere\n"), r.stderr
    r = pods.cli("exec", "-i", "sh", "--", "sh", "-c", "wc -c; exit 4", input="x" * 100000)
    assert (r.returncode, r.stdout.strip()) == (4, "100000"), r.stderr
    # without -i the command sees no stdin (EOF at once)
    r = pods.cli("exec", "sh", "--", "cat", input="ignored\n")
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    r = pods.cli("exec", "sh", "--", "sh", "-c", "test -t 0 && echo tty || echo notty")
    assert r.stdout == "notty\n"

    # -t with a terminal on the CLI side: a pty inside, and the window size passed on
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 97, 0, 0))
    proc = popen(pods, "exec", "-i", "-t", "sh", "--", "sh", "-c",
                 "tty; test -t 0 && echo isatty; sleep 1; stty size; exit 5",
                 stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the CLI closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        proc.wait(10)
    finally:
        stop(proc)
        os.close(master)
    text = out.decode(errors="replace").replace("\r\n", "\n")
    assert re.search(r"^/dev/pts/\d+$", text, re.M), text
    assert "isatty" in text and "31 97" in text, text
    assert proc.returncode == 5


# ------------------------------------------------------------------------------ apply / delete / watch


def test_apply_wait_returns_when_ready(pods: PodDaemon) -> None:
    probe = ("    readinessProbe:\n      exec:\n        command: [\"test\", \"-f\", \"/tmp/ready\"]\n"
             "      periodSeconds: 1\n")
    t0 = time.monotonic()
    r = pods.cli("apply", "-f", "-", "--wait", "--timeout", "30s", input=manifest(
        "waiter", "sleep 2; touch /tmp/ready; sleep 1000", more=probe), timeout=60)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert 'pod/waiter created' in r.stdout, r.stdout
    conds = {c["type"]: c["status"] for c in pods.status("waiter")["conditions"]}
    assert conds["Ready"] == "True", conds
    assert 2 <= took < 15, took
    # --wait on a pod that can never become Ready ends at --timeout with an error
    r = pods.cli("apply", "-f", "-", "--wait", "--timeout", "2s",
                 input=manifest("never-ready", "sleep 1000",
                                more=probe.replace("/tmp/ready", "/nope")), timeout=30)
    assert r.returncode == 1, r.stdout
    assert "timed out" in r.stderr.lower(), r.stderr


def test_status_column_and_watch(pods: PodDaemon) -> None:
    watch = popen(pods, "get", "pods", "-w", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        pods.apply(manifest("done-ok", "true", restart="Never"))
        pods.apply(manifest("done-err", "exit 2", restart="Never"))
        pods.apply(manifest("crashing", "exit 1"))
        pods.apply(manifest("initing", "sleep 1000", init="sleep 1000"))
        pods.apply(manifest("slow-stop", "trap '' TERM; while :; do sleep 0.2; done", tgps=4))
        for name, want in (("done-ok", "Completed"), ("done-err", "Error"),
                           ("crashing", "CrashLoopBackOff"), ("initing", "Init:0/1"),
                           ("slow-stop", "Running")):
            pods.wait_for(lambda n=name, w=want: status_of(pods, n) == w, timeout=30)
        row = pods.cli("get", "pods").stdout
        assert re.search(r"initing\s+0/1\s+Init:0/1\s+0\s", row), row
        assert re.search(r"done-ok\s+0/1\s+Completed\s+0\s", row), row
        # a slow delete shows Terminating until the grace period ends
        t0 = time.monotonic()
        r = pods.cli("delete", "pod", "slow-stop", "--wait=false")
        assert r.returncode == 0 and 'pod "slow-stop" deleted' in r.stdout, r
        assert pods.wait_for(lambda: status_of(pods, "slow-stop") == "Terminating", timeout=3)
        r = pods.cli("delete", "pod", "slow-stop", "--wait", timeout=30)
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stderr
        assert 3 <= took < 8, took
        assert pods.pod("slow-stop") is None
        r = pods.cli("get", "pod", "slow-stop")
        assert r.stderr.strip() == 'Error from server (NotFound): pods "slow-stop" not found'
        time.sleep(0.5)
    finally:
        out = stop(watch)
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], out
    seen = {(ln.split()[0], ln.split()[2]) for ln in lines[1:] if len(ln.split()) >= 3}
    for pair in (("done-ok", "Completed"), ("done-err", "Error"), ("slow-stop", "Running"),
                 ("slow-stop", "Terminating"), ("initing", "Init:0/1")):
        assert pair in seen, (pair, out)
    assert any(n == "crashing" and s in ("CrashLoopBackOff", "Error") for n, s in seen), out


# ------------------------------------------------------------------------------ daemon restart


def test_daemon_sigkill_loses_nothing(pods: PodDaemon) -> None:
    """DESIGN.md 7 invariant 1: no container stopped, no log line or exit code lost,
    restarts resume."""
    pods.apply(manifest("counter", "i=0; while :; do i=$((i+1)); echo $i; sleep 0.2; done"))
    pods.apply(manifest("crasher", "echo crash; exit 1"))
    pods.apply(manifest("exiter", "sleep 4; exit 7", restart="Never"))
    pods.wait_phase("counter", "Running")
    pods.wait_phase("exiter", "Running")
    pods.wait_for(lambda: pods.container("crasher", "c").get("restartCount", 0) >= 1,
                  timeout=20)
    before = pods.container("counter", "c")
    crash_before = pods.container("crasher", "c")["restartCount"]
    ex_started = ts(pods.container("exiter", "c")["state"]["running"]["startedAt"])
    time.sleep(1)

    ex_cid = pods.container("exiter", "c")["containerID"].split("://", 1)[1]
    pods.stop(signal.SIGKILL)
    t_kill = time.time()
    # the exiter exits while no daemon runs: wait for pause's exit record of it
    deadline = time.time() + 20
    while not list(pods.run_dir.glob(f"sandboxes/*/containers/{ex_cid}/exit")):
        assert time.time() < deadline, "the exiter did not exit"
        time.sleep(0.1)
    time.sleep(max(0.0, 2.0 - (time.time() - t_kill)))
    t_restart = time.time()
    pods.start()

    after = pods.container("counter", "c")
    assert after["containerID"] == before["containerID"]
    assert after["restartCount"] == before["restartCount"] == 0
    assert after["state"]["running"]["startedAt"] == before["state"]["running"]["startedAt"]
    term = pods.wait_for(lambda: (pods.container("exiter", "c").get("state") or {})
                         .get("terminated"), timeout=10)
    assert term["exitCode"] == 7 and term["reason"] == "Error", term
    assert t_kill - 1 < ts(term["finishedAt"]) < t_restart, (t_kill, term, t_restart)
    assert ts(term["finishedAt"]) - ex_started == pytest.approx(4, abs=1)
    assert pods.status("exiter")["phase"] == "Failed"

    # every counter line is there, consecutive, and it keeps counting
    time.sleep(1)
    nums = [int(x) for x in pods.cli("logs", "counter").stdout.split()]
    assert nums == list(range(1, len(nums) + 1)), nums
    assert len(nums) >= (time.time() - ts(before["state"]["running"]["startedAt"])) / 0.2 * 0.7

    # the crash loop resumes where it was
    assert pods.container("crasher", "c")["restartCount"] >= crash_before
    pods.wait_for(lambda: pods.container("crasher", "c").get("restartCount", 0)
                  > crash_before, timeout=40)
    assert status_of(pods, "crasher") in ("CrashLoopBackOff", "Error", "Running")
