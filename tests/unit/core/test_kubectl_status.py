"""Table tests for the `kubectl get pods` columns (kubectl printPod, printers.go).

Ids name the printPod rule each case checks.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from podrun.core.observed import rfc3339
from podrun.core.status import (
    human_duration,
    kubectl_ready,
    kubectl_restarts,
    kubectl_row,
    kubectl_status,
)
from podrun.spec.types import (
    Container,
    ContainerState,
    ContainerStateRunning,
    ContainerStateTerminated,
    ContainerStateWaiting,
    ContainerStatus,
    ObjectMeta,
    Pod,
    PodCondition,
    PodIP,
    PodReadinessGate,
    PodSpec,
    PodStatus,
)

NOW = 1_700_000_000.0


def P(
    containers: Sequence[str] = ("c1",),
    inits: Sequence[str] = (),
    sidecars: Sequence[str] = (),
    *,
    deleted: bool = False,
    created: float | None = NOW - 300,
    gates: Sequence[str] = (),
    node: str | None = "node1",
) -> Pod:
    init_specs = [Container(name=n, image="busybox", restart_policy="Always") for n in sidecars]
    init_specs += [Container(name=n, image="busybox") for n in inits]
    return Pod(
        metadata=ObjectMeta(
            name="web",
            namespace="default",
            creation_timestamp=rfc3339(created) if created is not None else None,
            deletion_timestamp=rfc3339(NOW) if deleted else None,
        ),
        spec=PodSpec(
            containers=tuple(Container(name=n, image="busybox") for n in containers),
            init_containers=tuple(init_specs) or None,
            readiness_gates=tuple(PodReadinessGate(condition_type=g) for g in gates) or None,
            node_name=node,
        ),
    )


def run(name: str, *, ready: bool = True, started: bool = True, restarts: int = 0, last_finished: float | None = None) -> ContainerStatus:
    return ContainerStatus(
        name=name,
        ready=ready,
        started=started,
        restart_count=restarts,
        state=ContainerState(running=ContainerStateRunning(started_at=rfc3339(NOW - 10))),
        last_state=_last(last_finished),
    )


def wait(name: str, reason: str, *, restarts: int = 0, last_finished: float | None = None, started: bool = False) -> ContainerStatus:
    return ContainerStatus(
        name=name,
        ready=False,
        started=started,
        restart_count=restarts,
        state=ContainerState(waiting=ContainerStateWaiting(reason=reason)),
        last_state=_last(last_finished),
    )


def term(name: str, code: int, reason: str | None = None, *, signal: int | None = None, restarts: int = 0) -> ContainerStatus:
    return ContainerStatus(
        name=name,
        ready=False,
        restart_count=restarts,
        state=ContainerState(terminated=ContainerStateTerminated(exit_code=code, reason=reason, signal=signal)),
    )


def _last(finished: float | None) -> ContainerState:
    if finished is None:
        return ContainerState()
    return ContainerState(terminated=ContainerStateTerminated(exit_code=1, reason="Error", finished_at=rfc3339(finished)))


def S(
    phase: str,
    containers: Sequence[ContainerStatus] = (),
    inits: Sequence[ContainerStatus] = (),
    *,
    reason: str | None = None,
    ready: bool | None = None,
    initialized: bool | None = None,
    extra: Sequence[PodCondition] = (),
    ip: str | None = None,
) -> PodStatus:
    conds = list(extra)
    if initialized is not None:
        conds.append(PodCondition(type="Initialized", status="True" if initialized else "False"))
    if ready is not None:
        conds.append(PodCondition(type="Ready", status="True" if ready else "False"))
    return PodStatus(
        phase=phase,
        reason=reason,
        conditions=tuple(conds) or None,
        container_statuses=tuple(containers) or None,
        init_container_statuses=tuple(inits) or None,
        pod_ips=(PodIP(ip=ip),) if ip else None,
    )


STATUS_CASES: list[tuple[str, Pod, PodStatus, str, str]] = [
    # (id, pod, status, STATUS, READY)
    ("printPod-phase-when-no-statuses", P(), S("Pending"), "Pending", "0/1"),
    ("printPod-waiting-reason-container-creating", P(), S("Pending", [wait("c1", "ContainerCreating")]), "ContainerCreating", "0/1"),
    ("printPod-running-ready", P(), S("Running", [run("c1")], ready=True), "Running", "1/1"),
    ("printPod-running-not-ready", P(), S("Running", [run("c1", ready=False)], ready=False), "Running", "0/1"),
    ("printPod-terminated-completed", P(), S("Succeeded", [term("c1", 0, "Completed")]), "Completed", "0/1"),
    ("printPod-terminated-error", P(), S("Failed", [term("c1", 1, "Error")]), "Error", "0/1"),
    ("printPod-waiting-crashloopbackoff", P(), S("Running", [wait("c1", "CrashLoopBackOff")]), "CrashLoopBackOff", "0/1"),
    ("printPod-waiting-imagepullbackoff", P(), S("Pending", [wait("c1", "ImagePullBackOff")]), "ImagePullBackOff", "0/1"),
    ("printPod-waiting-errimagepull", P(), S("Pending", [wait("c1", "ErrImagePull")]), "ErrImagePull", "0/1"),
    ("printPod-terminated-oomkilled", P(), S("Failed", [term("c1", 137, "OOMKilled")]), "OOMKilled", "0/1"),
    ("printPod-terminated-no-reason-signal", P(), S("Failed", [term("c1", 137, signal=9)]), "Signal:9", "0/1"),
    ("printPod-terminated-no-reason-exit-code", P(), S("Failed", [term("c1", 3)]), "ExitCode:3", "0/1"),
    ("printPod-first-container-by-name-wins", P(["a", "b"]), S("Running", [wait("a", "CrashLoopBackOff"), run("b")]), "CrashLoopBackOff", "1/2"),
    ("printPod-later-container-reason-if-first-running", P(["a", "b"]), S("Running", [run("a"), term("b", 1, "Error")]), "Error", "1/2"),
    ("printPod-completed-with-running-and-ready-is-running", P(["a", "b"]), S("Running", [run("a"), term("b", 0, "Completed")], ready=True), "Running", "1/2"),
    ("printPod-completed-with-running-not-ready-is-notready", P(["a", "b"]), S("Running", [run("a"), term("b", 0, "Completed")], ready=False), "NotReady", "1/2"),
    ("printPod-init-running-n-of-m", P(inits=["i1", "i2"]), S("Pending", [wait("c1", "PodInitializing")], [run("i1"), wait("i2", "PodInitializing")]), "Init:0/2", "0/1"),
    ("printPod-init-second-running", P(inits=["i1", "i2"]), S("Pending", [wait("c1", "PodInitializing")], [term("i1", 0, "Completed"), run("i2")]), "Init:1/2", "0/1"),
    ("printPod-init-podinitializing-is-n-of-m", P(inits=["i1", "i2"]), S("Pending", [wait("c1", "PodInitializing")], [wait("i1", "PodInitializing"), wait("i2", "PodInitializing")]), "Init:0/2", "0/1"),
    ("printPod-init-error", P(inits=["i1"]), S("Failed", [wait("c1", "PodInitializing")], [term("i1", 1, "Error")]), "Init:Error", "0/1"),
    ("printPod-init-crashloopbackoff", P(inits=["i1"]), S("Pending", [wait("c1", "PodInitializing")], [wait("i1", "CrashLoopBackOff")]), "Init:CrashLoopBackOff", "0/1"),
    ("printPod-init-oomkilled", P(inits=["i1"]), S("Failed", [wait("c1", "PodInitializing")], [term("i1", 137, "OOMKilled")]), "Init:OOMKilled", "0/1"),
    ("printPod-init-exit-code-without-reason", P(inits=["i1"]), S("Failed", [], [term("i1", 2)]), "Init:ExitCode:2", "0/1"),
    ("printPod-init-signal-without-reason", P(inits=["i1"]), S("Failed", [], [term("i1", 137, signal=9)]), "Init:Signal:9", "0/1"),
    ("printPod-init-done-app-podinitializing", P(inits=["i1"]), S("Pending", [wait("c1", "PodInitializing")], [term("i1", 0, "Completed")], initialized=True), "PodInitializing", "0/1"),
    ("printPod-deletion-timestamp-terminating", P(deleted=True), S("Running", [run("c1")], ready=True), "Terminating", "1/1"),
    ("printPod-deletion-of-terminal-pod-not-terminating", P(deleted=True), S("Succeeded", [term("c1", 0, "Completed")]), "Completed", "0/1"),
    ("printPod-deletion-node-lost-unknown", P(deleted=True), S("Running", [run("c1")], reason="NodeLost"), "Unknown", "1/1"),
    ("printPod-status-reason-deadline-exceeded", P(), S("Failed", [run("c1", ready=False)], reason="DeadlineExceeded"), "DeadlineExceeded", "0/1"),
    ("printPod-scheduling-gated", P(), S("Pending", extra=[PodCondition(type="PodScheduled", status="False", reason="SchedulingGated")]), "SchedulingGated", "0/1"),
    ("printPod-sidecar-counted-in-ready", P(sidecars=["s1"]), S("Running", [run("c1")], [run("s1")], ready=True, initialized=True), "Running", "2/2"),
    ("printPod-sidecar-started-app-initializing", P(sidecars=["s1"]), S("Pending", [wait("c1", "PodInitializing")], [run("s1")], initialized=True), "PodInitializing", "1/2"),
    ("printPod-sidecar-not-started-init-n-of-m", P(sidecars=["s1"]), S("Pending", [wait("c1", "PodInitializing")], [run("s1", started=False, ready=False)]), "Init:0/1", "0/2"),
    ("printPod-sidecar-crashloop-after-init-keeps-init-reason", P(sidecars=["s1"]), S("Running", [run("c1")], [wait("s1", "CrashLoopBackOff")], initialized=True, ready=False), "Init:CrashLoopBackOff", "1/2"),
    ("printPod-sidecar-before-regular-init", P(inits=["i1"], sidecars=["s1"]), S("Pending", [wait("c1", "PodInitializing")], [run("s1"), run("i1")]), "Init:1/2", "1/2"),
]


@pytest.mark.parametrize("pod,status,expected,ready", [c[1:] for c in STATUS_CASES], ids=[c[0] for c in STATUS_CASES])
def test_kubectl_status_and_ready(pod: Pod, status: PodStatus, expected: str, ready: str) -> None:
    assert kubectl_status(pod, status) == expected
    assert kubectl_ready(pod, status) == ready


def test_case_count() -> None:
    assert len(STATUS_CASES) >= 25
    assert len({c[0] for c in STATUS_CASES}) == len(STATUS_CASES)


RESTART_CASES: list[tuple[str, Pod, PodStatus, str]] = [
    ("printPod-restarts-zero", P(), S("Running", [run("c1")]), "0"),
    ("printPod-restarts-with-age", P(), S("Running", [run("c1", restarts=5, last_finished=NOW - 120)]), "5 (2m ago)"),
    ("printPod-restarts-without-last-state", P(), S("Running", [run("c1", restarts=4)]), "4"),
    ("printPod-restarts-summed-newest-finish", P(["a", "b"]), S("Running", [run("a", restarts=1, last_finished=NOW - 3600), run("b", restarts=2, last_finished=NOW - 45)]), "3 (45s ago)"),
    ("printPod-restarts-while-initializing-count-init", P(inits=["i1"]), S("Pending", [wait("c1", "PodInitializing")], [wait("i1", "CrashLoopBackOff", restarts=3, last_finished=NOW - 30)]), "3 (30s ago)"),
    (
        "printPod-restarts-after-init-exclude-regular-init",
        P(inits=["i1"], sidecars=["s1"]),
        S("Running", [run("c1", restarts=1, last_finished=NOW - 600)], [run("s1", restarts=2, last_finished=NOW - 900), term("i1", 0, "Completed", restarts=7)], initialized=True),
        "3 (10m ago)",
    ),
]


@pytest.mark.parametrize("pod,status,expected", [c[1:] for c in RESTART_CASES], ids=[c[0] for c in RESTART_CASES])
def test_kubectl_restarts(pod: Pod, status: PodStatus, expected: str) -> None:
    assert kubectl_restarts(pod, NOW, status) == expected


@pytest.mark.parametrize(
    "seconds,text",
    [
        (-5, "<invalid>"),
        (-1.5, "0s"),
        (0, "0s"),
        (59.9, "59s"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60 + 59, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 600, "3h10m"),
        (8 * 3600 + 600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (52 * 3600, "2d4h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (730 * 86400, "2y"),
        (740 * 86400, "2y10d"),
        (9 * 365 * 86400, "9y"),
    ],
    ids=lambda v: str(v),
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_row_columns_and_wide() -> None:
    row = kubectl_row(P(gates=["g1", "g2"]), NOW, S("Running", [run("c1")], ready=True, ip="10.88.0.9", extra=[PodCondition(type="g1", status="True")]))
    assert (row.name, row.ready, row.status, row.restarts, row.age) == ("web", "1/1", "Running", "0", "5m")
    assert (row.ip, row.node, row.nominated_node, row.readiness_gates) == ("10.88.0.9", "node1", "<none>", "1/2")
    row = kubectl_row(P(created=None, node=None), NOW, S("Pending"))
    assert (row.age, row.ip, row.node, row.readiness_gates) == ("<unknown>", "<none>", "<none>", "<none>")


def test_status_defaults_to_pod_status() -> None:
    pod = Pod(metadata=P().metadata, spec=P().spec, status=S("Running", [wait("c1", "CrashLoopBackOff")]))
    assert kubectl_status(pod) == "CrashLoopBackOff"
