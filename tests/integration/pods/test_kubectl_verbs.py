"""kubectl verbs and forms users script with, against real pods: `wait` (conditions,
jsonpath, delete, timeouts), TYPE/NAME arguments, `delete -l / --all / --ignore-not-found`,
`logs --all-containers --prefix / --limit-bytes`."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.pods.conftest import IMAGE, PodDaemon

pytestmark = pytest.mark.privileged


def manifest(name: str, labels: str, *containers: tuple[str, str],
             init: tuple[str, str] | None = None, restart: str = "Always",
             grace: int = 0) -> str:
    text = (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {labels}\n"
            f"spec:\n  terminationGracePeriodSeconds: {grace}\n  restartPolicy: {restart}\n")
    if init:
        text += (f"  initContainers:\n  - name: {init[0]}\n    image: {IMAGE}\n"
                 f"    command: [\"sh\", \"-c\", {json.dumps(init[1])}]\n")
    text += "  containers:\n"
    for cname, script in containers:
        text += (f"  - name: {cname}\n    image: {IMAGE}\n"
                 f"    command: [\"sh\", \"-c\", {json.dumps(script)}]\n")
    return text


def run(pods: PodDaemon, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    r = pods.cli(*args, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def test_wait_for_conditions_jsonpath_and_delete(pods: PodDaemon) -> None:
    # Ready only after 2 s: the wait must block until then, and end right after
    # (sh as pid 1 ignores SIGTERM: its deletion takes the 3 s grace, `wait` sees it go)
    pods.apply(manifest("slow", "{app: slow}", ("c", "sleep 2; touch /tmp/ok; sleep 600"),
                        grace=3)
               .replace("    command:", "    readinessProbe:\n      exec:\n        command: "
                        "[cat, /tmp/ok]\n      periodSeconds: 1\n    command:"))
    t0 = time.monotonic()
    assert run(pods, "wait", "--for=condition=Ready", "pod/slow", "--timeout=60s") == (
        0, "pod/slow condition met\n", "")
    took = time.monotonic() - t0
    assert 1.5 < took < 20, took
    assert run(pods, "wait", "--for", "condition=Ready=false", "pod/slow",
               "--timeout=1s")[0:2] == (1, "")
    assert run(pods, "wait", "--for=jsonpath={.status.phase}=Running", "pods", "slow")[:2] == (
        0, "pod/slow condition met\n")
    assert run(pods, "wait", "--for=jsonpath=.status.podIP", "pod/slow")[0] == 0

    # a pod that ends: its phase, by label
    pods.apply(manifest("job", "{app: job}", ("c", "sleep 1; exit 0"), restart="Never"))
    assert run(pods, "wait", "--for=jsonpath={.status.phase}=Succeeded", "pods", "-l",
               "app=job", "--timeout=60s")[:2] == (0, "pod/job condition met\n")
    # every pod, Ready or not: a timeout names the one that is not
    rc, out, err = run(pods, "wait", "--for=condition=Ready", "pods", "--all",
                       "--timeout=2s")
    assert rc == 1 and "pod/job" not in out
    assert err.strip() == "error: timed out waiting for the condition on pods/job"

    assert run(pods, "wait", "--for=condition=Ready", "pod/none") == (
        1, "", 'Error from server (NotFound): pods "none" not found\n')
    assert run(pods, "wait", "--for=bogus", "pod/slow")[0] == 1
    assert run(pods, "wait", "--for=condition=Ready", "pods", "-l", "app=nothing")[::2] == (
        1, "error: no matching resources found\n")

    # deletion: the wait returns once the pod is gone
    assert run(pods, "delete", "pod", "slow", "--wait=false")[0] == 0
    assert run(pods, "wait", "--for=delete", "pod/slow", "--timeout=60s") == (
        0, "pod/slow deleted\n", "")
    assert pods.pod("slow") is None
    assert run(pods, "wait", "--for=delete", "pod/slow") == (0, "", "")


def test_type_slash_name_delete_by_label_and_all_container_logs(pods: PodDaemon) -> None:
    pods.apply(manifest("duo", "{app: duo, tier: back}", ("a", "echo one-a; echo two-a; "
                                                          "sleep 600"),
                        ("b", "echo b-line; sleep 600"),
                        init=("setup", "echo from-init")))
    pods.apply(manifest("solo", "{app: solo}", ("c", "sleep 600")))
    pods.wait_phase("duo", "Running")
    pods.wait_phase("solo", "Running")
    pods.wait_for(lambda: "b-line" in pods.cli("logs", "duo", "-c", "b").stdout)

    rc, out, _ = run(pods, "get", "pod/duo", "pod/solo", "--no-headers")
    assert rc == 0 and [ln.split()[0] for ln in out.splitlines()] == ["duo", "solo"]
    rc, out, _ = run(pods, "describe", "pod/duo")
    assert rc == 0 and out.startswith("Name:") and "duo" in out.splitlines()[0]

    rc, out, _ = run(pods, "logs", "duo", "--all-containers")
    assert (rc, out) == (0, "from-init\none-a\ntwo-a\nb-line\n")
    rc, out, _ = run(pods, "logs", "pod/duo", "--all-containers", "--prefix")
    assert out.splitlines() == ["[pod/duo/setup] from-init", "[pod/duo/a] one-a",
                                "[pod/duo/a] two-a", "[pod/duo/b] b-line"]
    assert run(pods, "logs", "duo", "-c", "a", "--limit-bytes", "3")[1] == "one"

    assert run(pods, "delete", "pod", "ghost")[0] == 1
    assert run(pods, "delete", "pod", "ghost", "--ignore-not-found") == (0, "", "")
    rc, out, err = run(pods, "delete", "pods", "-l", "tier=back", "--now")
    assert (rc, out) == (0, 'pod "duo" deleted\n')
    assert pods.pod("duo") is None and pods.pod("solo") is not None
    assert run(pods, "delete", "pods", "-l", "tier=back") == (
        0, "", "No resources found in default namespace.\n")
    rc, out, _ = run(pods, "delete", "pods", "--all", "--force", "--grace-period=0")
    assert (rc, out) == (0, 'pod "solo" deleted\n')
    assert run(pods, "get", "pods")[2] == "No resources found in default namespace.\n"


def test_create_run_label_annotate(pods: PodDaemon) -> None:
    import yaml
    path = pods.base / "made.yaml"
    path.write_text(manifest("made", "{app: made}", ("c", "sleep 600")))
    assert run(pods, "create", "-f", str(path)) == (0, "pod/made created\n", "")
    assert run(pods, "create", "-f", str(path)) == (
        1, "", f'Error from server (AlreadyExists): error when creating "{path}": pods "made" '
               "already exists\n")

    # kubectl run: a container named like the pod, args after --, labels run=NAME
    rc, out, _ = run(pods, "run", "once", f"--image={IMAGE}", "--restart=Never", "--env",
                     "WHO=podrun", "--", "sh", "-c", "echo hi $WHO")
    assert (rc, out) == (0, "pod/once created\n")
    pods.wait_phase("once", "Succeeded")
    once = pods.pod("once")
    assert once is not None
    assert once["metadata"]["labels"] == {"run": "once"}
    assert once["spec"]["containers"][0]["name"] == "once"
    assert once["spec"]["containers"][0]["args"] == ["sh", "-c", "echo hi $WHO"]
    assert once["spec"]["restartPolicy"] == "Never"
    assert run(pods, "logs", "once")[1] == "hi podrun\n"
    rc, out, _ = run(pods, "run", "dry", f"--image={IMAGE}", "--dry-run=client", "-o", "yaml",
                     "--command", "--", "sleep", "5")
    assert rc == 0 and pods.pod("dry") is None
    doc = yaml.safe_load(out)
    assert doc["kind"] == "Pod" and doc["spec"]["containers"][0]["command"] == ["sleep", "5"]
    assert run(pods, "run", "noimage")[::2] == (1, 'error: required flag(s) "image" not set\n')

    # label / annotate: set, refuse to change without --overwrite, remove with KEY-
    assert run(pods, "label", "pod", "made", "tier=front") == (0, "pod/made labeled\n", "")
    rc, _, err = run(pods, "label", "pod", "made", "tier=back")
    assert (rc, err) == (1, "error: 'tier' already has a value (front), and --overwrite is "
                            "false\n")
    assert run(pods, "label", "pod/made", "tier=back", "--overwrite")[:2] == (
        0, "pod/made labeled\n")
    assert run(pods, "get", "pods", "-l", "tier=back", "-o", "name")[1] == "pod/made\n"
    assert run(pods, "label", "pods", "--all", "app-")[1] == (
        "pod/made labeled\npod/once not labeled\n")
    assert run(pods, "annotate", "pod", "made", "note=hello world")[:2] == (
        0, "pod/made annotated\n")
    made = pods.pod("made")
    assert made is not None
    assert made["metadata"]["labels"] == {"tier": "back"}
    assert made["metadata"]["annotations"]["note"] == "hello world"
    assert pods.status("made").get("phase") in ("Pending", "Running")  # the pod ran on


def test_cp_both_ways(pods: PodDaemon) -> None:
    pods.apply(manifest("box", "{app: box}", ("c", "mkdir -p /data/sub; echo one > /data/a; "
                                                   "echo two > /data/sub/b; sleep 600")))
    pods.wait_phase("box", "Running")
    pods.wait_for(lambda: pods.cli("exec", "box", "--", "cat", "/data/sub/b").stdout == "two\n")
    out = pods.base / "cp-out"
    out.mkdir()
    assert run(pods, "cp", "box:/data", str(out / "data"))[0] == 0
    assert (out / "data" / "a").read_text() == "one\n"
    assert (out / "data" / "sub" / "b").read_text() == "two\n"
    assert run(pods, "cp", "default/box:/data/a", str(out / "a.txt"))[0] == 0
    assert (out / "a.txt").read_text() == "one\n"
    rc, _, err = run(pods, "cp", "box:/data/nope", str(out / "x"))
    assert rc == 1 and "No such file or directory" in err and not (out / "x").exists()

    local = out / "local.txt"
    local.write_text("from the host\n")
    assert run(pods, "cp", str(local), "box:/data")[0] == 0  # a directory: goes inside
    assert pods.cli("exec", "box", "--", "cat", "/data/local.txt").stdout == "from the host\n"
    assert run(pods, "cp", str(local), "box:/tmp/renamed")[0] == 0
    assert pods.cli("exec", "box", "--", "cat", "/tmp/renamed").stdout == "from the host\n"
    assert run(pods, "cp", str(out / "data"), "box:/copy")[0] == 0
    assert pods.cli("exec", "box", "--", "cat", "/copy/sub/b").stdout == "two\n"
    assert run(pods, "cp", str(local), str(out / "y"))[::2] == (
        1, "error: one of src or dest must be a remote file specification\n")
