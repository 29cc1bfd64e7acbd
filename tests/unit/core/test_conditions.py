"""Table tests for the kubelet-owned pod conditions (BEHAVIOR.md §1.2, status/generate.go)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from podrun.core.conditions import (
    condition,
    containers_ready_condition,
    generate_conditions,
    initialized_condition,
    pod_ready_condition,
    ready_to_start_containers_condition,
    update_conditions,
)
from podrun.core.observed import PodObservation, SandboxObservation, rfc3339
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
    PodReadinessGate,
    PodSpec,
)

NOW = 1_700_000_000.0


def P(
    containers: Sequence[str] = ("c1",),
    inits: Sequence[str] = (),
    sidecars: Sequence[str] = (),
    gates: Sequence[str] = (),
) -> Pod:
    init_specs = [Container(name=n, image="busybox", restart_policy="Always") for n in sidecars]
    init_specs += [Container(name=n, image="busybox") for n in inits]
    return Pod(
        metadata=ObjectMeta(name="p", namespace="default", uid="u1"),
        spec=PodSpec(
            containers=tuple(Container(name=n, image="busybox") for n in containers),
            init_containers=tuple(init_specs) or None,
            readiness_gates=tuple(PodReadinessGate(condition_type=g) for g in gates) or None,
        ),
    )


def S(name: str, kind: str = "running", *, ready: bool = False, started: bool | None = None, code: int = 0) -> ContainerStatus:
    if kind == "running":
        state = ContainerState(running=ContainerStateRunning(started_at="2026-01-01T00:00:00Z"))
    elif kind == "exited":
        state = ContainerState(terminated=ContainerStateTerminated(exit_code=code))
    else:
        state = ContainerState(waiting=ContainerStateWaiting(reason=kind))
    return ContainerStatus(name=name, state=state, ready=ready, started=started)


def triple(c: PodCondition) -> tuple[str | None, str | None, str | None]:
    return (c.status, c.reason, c.message)


INIT_CASES: list[tuple[str, Pod, list[ContainerStatus] | None, str, tuple[str | None, str | None, str | None]]] = [
    ("s1.2-initialized-no-init-containers-true", P(), [], "Pending", ("True", None, None)),
    ("s1.2-initialized-no-init-containers-before-sandbox", P(), None, "Pending", ("True", None, None)),
    (
        "s5.1-initialized-incomplete-always-e2e",
        P(inits=["init1", "init2"]),
        [S("init1", "CrashLoopBackOff"), S("init2", "PodInitializing"), S("run1", "PodInitializing")],
        "Pending",
        ("False", "ContainersNotInitialized", "containers with incomplete status: [init1 init2]"),
    ),
    (
        "s5.1-initialized-incomplete-never-e2e",
        P(inits=["init1", "init2"]),
        [S("init1", "exited", ready=True), S("init2", "exited", code=1), S("c1", "PodInitializing")],
        "Failed",
        ("False", "ContainersNotInitialized", "containers with incomplete status: [init2]"),
    ),
    ("s1.2-initialized-all-init-ready", P(inits=["i1", "i2"]), [S("i1", "exited", ready=True), S("i2", "exited", ready=True)], "Pending", ("True", None, None)),
    ("s1.2-initialized-unknown-status", P(inits=["i1", "i2"]), [], "Pending", ("False", "ContainersNotInitialized", "containers with unknown status: [i1 i2]")),
    (
        "s1.2-initialized-unknown-and-incomplete-joined",
        P(inits=["i1", "i2"]),
        [S("i2", "PodInitializing")],
        "Pending",
        ("False", "ContainersNotInitialized", "containers with unknown status: [i1], containers with incomplete status: [i2]"),
    ),
    ("s1.2-initialized-pod-completed", P(inits=["i1"]), [S("i1", "exited", ready=True), S("c1", "exited")], "Succeeded", ("True", "PodCompleted", None)),
    ("s1.2-initialized-statuses-nil", P(inits=["i1"]), None, "Pending", ("False", "UnknownContainerStatuses", None)),
    ("s1.2-initialized-true-once-app-started", P(sidecars=["s1"]), [S("s1", "CrashLoopBackOff"), S("c1", "running")], "Running", ("True", None, None)),
    ("s5.2-initialized-sidecar-started", P(sidecars=["s1"]), [S("s1", started=True), S("c1", "PodInitializing")], "Pending", ("True", None, None)),
    ("s5.2-initialized-sidecar-not-started", P(sidecars=["s1"]), [S("s1", started=False), S("c1", "PodInitializing")], "Pending", ("False", "ContainersNotInitialized", "containers with incomplete status: [s1]")),
]


@pytest.mark.parametrize("pod,statuses,phase,expected", [c[1:] for c in INIT_CASES], ids=[c[0] for c in INIT_CASES])
def test_initialized(pod: Pod, statuses: list[ContainerStatus] | None, phase: str, expected: tuple[str, str | None, str | None]) -> None:
    c = initialized_condition(pod, statuses, phase)
    assert c.type == "Initialized"
    assert triple(c) == expected


READY_CASES: list[tuple[str, Pod, list[ContainerStatus] | None, str, tuple[str | None, str | None, str | None]]] = [
    ("s1.2-containers-ready-all-ready", P(["c1", "c2"]), [S("c1", ready=True), S("c2", ready=True)], "Running", ("True", None, None)),
    ("s1.2-containers-ready-unready-list", P(["c1", "c2"]), [S("c1"), S("c2")], "Running", ("False", "ContainersNotReady", "containers with unready status: [c1 c2]")),
    ("s5.2-containers-ready-sidecar-counted-first", P(["c1"], sidecars=["s1"]), [S("s1"), S("c1")], "Running", ("False", "ContainersNotReady", "containers with unready status: [s1 c1]")),
    ("s5.1-containers-ready-regular-init-not-counted", P(["c1"], inits=["i1"]), [S("i1", "exited"), S("c1", ready=True)], "Running", ("True", None, None)),
    (
        "s1.2-containers-ready-unknown-and-unready-joined",
        P(["c1", "c2"]),
        [S("c2")],
        "Pending",
        ("False", "ContainersNotReady", "containers with unknown status: [c1], containers with unready status: [c2]"),
    ),
    ("s1.2-containers-ready-pod-completed", P(), [S("c1", "exited")], "Succeeded", ("False", "PodCompleted", None)),
    ("s1.2-containers-ready-pod-failed", P(), [S("c1", ready=True)], "Failed", ("False", "PodFailed", None)),
    ("s1.2-containers-ready-succeeded-with-unknown-lists", P(["c1", "c2"]), [S("c1", "exited")], "Succeeded", ("False", "ContainersNotReady", "containers with unknown status: [c2], containers with unready status: [c1]")),
    ("s1.2-containers-ready-statuses-nil", P(), None, "Pending", ("False", "UnknownContainerStatuses", None)),
]


@pytest.mark.parametrize("pod,statuses,phase,expected", [c[1:] for c in READY_CASES], ids=[c[0] for c in READY_CASES])
def test_containers_ready(pod: Pod, statuses: list[ContainerStatus] | None, phase: str, expected: tuple[str, str | None, str | None]) -> None:
    c = containers_ready_condition(pod, statuses, phase)
    assert c.type == "ContainersReady"
    assert triple(c) == expected
    # Ready mirrors ContainersReady while that is not True.
    r = pod_ready_condition(pod, [], statuses, phase)
    assert r.type == "Ready"
    if expected[0] != "True":
        assert triple(r) == expected


def gate(type_: str, status: str) -> PodCondition:
    return PodCondition(type=type_, status=status)


GATE_CASES: list[tuple[str, list[str], list[PodCondition], tuple[str | None, str | None, str | None]]] = [
    ("s1.2-ready-no-gates", [], [], ("True", None, None)),
    ("s1.2-ready-gate-true", ["example.com/lb"], [gate("example.com/lb", "True")], ("True", None, None)),
    (
        "s1.2-ready-gate-missing",
        ["example.com/lb"],
        [],
        ("False", "ReadinessGatesNotReady", 'corresponding condition of pod readiness gate "example.com/lb" does not exist.'),
    ),
    (
        "s1.2-ready-gate-false",
        ["example.com/lb"],
        [gate("example.com/lb", "False")],
        ("False", "ReadinessGatesNotReady", 'the status of pod readiness gate "example.com/lb" is not "True", but False'),
    ),
    (
        "s1.2-ready-two-gates-joined",
        ["a", "b"],
        [gate("b", "Unknown")],
        (
            "False",
            "ReadinessGatesNotReady",
            'corresponding condition of pod readiness gate "a" does not exist., '
            'the status of pod readiness gate "b" is not "True", but Unknown',
        ),
    ),
]


@pytest.mark.parametrize("gates,conds,expected", [c[1:] for c in GATE_CASES], ids=[c[0] for c in GATE_CASES])
def test_ready_gates(gates: list[str], conds: list[PodCondition], expected: tuple[str, str | None, str | None]) -> None:
    pod = P(gates=gates)
    assert triple(pod_ready_condition(pod, conds, [S("c1", ready=True)], "Running")) == expected


def obs(sandbox: str, ips: tuple[str, ...] = ("10.88.0.5",)) -> PodObservation:
    if sandbox == "none":
        return PodObservation()
    return PodObservation.build([SandboxObservation(id="sb", ready=sandbox == "ready", ips=ips)])


@pytest.mark.parametrize(
    "observed,expected",
    [(obs("ready"), "True"), (obs("none"), "False"), (obs("notready"), "False"), (obs("ready", ips=()), "False")],
    ids=["s8.1-sandbox-ready", "s1.2-creating-sandbox", "s8.2-sandbox-died", "s8.1-sandbox-without-ip"],
)
def test_ready_to_start_containers(observed: PodObservation, expected: str) -> None:
    c = ready_to_start_containers_condition(P(), observed)
    assert (c.type, c.status) == ("PodReadyToStartContainers", expected)


def test_case_count() -> None:
    assert len(INIT_CASES) + len(READY_CASES) + len(GATE_CASES) + 4 >= 20


def test_s1_2_generate_order_and_foreign_conditions_kept() -> None:
    existing = [gate("example.com/lb", "True"), gate("Ready", "False")]
    conds = generate_conditions(P(gates=["example.com/lb"]), [S("c1", ready=True)], "Running", obs("ready"), existing)
    assert [c.type for c in conds] == [
        "example.com/lb",
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    assert all(c.status == "True" for c in conds)
    assert condition(conds, "PodScheduled") is not None
    assert condition(conds, "Nope") is None


def test_s1_2_blocked_sandbox_e2e_expectations() -> None:
    # no init containers: Initialized True before the sandbox exists; Ready False
    conds = generate_conditions(P(), [S("c1", "ContainerCreating")], "Pending", obs("none"))
    got = {c.type: c.status for c in conds}
    assert got == {"PodReadyToStartContainers": "False", "Initialized": "True", "Ready": "False", "ContainersReady": "False", "PodScheduled": "True"}
    conds = generate_conditions(P(inits=["i1"]), [S("i1", "PodInitializing"), S("c1", "PodInitializing")], "Pending", obs("none"))
    assert {c.type: c.status for c in conds}["Initialized"] == "False"


T0 = rfc3339(NOW - 100)
T1 = rfc3339(NOW)


@pytest.mark.parametrize(
    "old,new,expected",
    [
        ([], [PodCondition(type="Ready", status="False")], [T1]),
        ([PodCondition(type="Ready", status="False", last_transition_time=T0)], [PodCondition(type="Ready", status="False", reason="X")], [T0]),
        ([PodCondition(type="Ready", status="False", last_transition_time=T0)], [PodCondition(type="Ready", status="True")], [T1]),
        ([PodCondition(type="Initialized", status="True", last_transition_time=T0)], [PodCondition(type="Ready", status="True")], [T1]),
        ([], [PodCondition(type="example.com/gate", status="True", last_transition_time=T0)], [T0]),
        ([], [PodCondition(type="example.com/gate", status="True")], [None]),
    ],
    ids=[
        "s1.2-ltt-new-condition-gets-now",
        "s1.2-ltt-unchanged-status-keeps-time",
        "s1.2-ltt-changed-status-gets-now",
        "s1.2-ltt-other-type-does-not-count",
        "s1.2-ltt-foreign-condition-untouched",
        "s1.2-ltt-foreign-condition-not-stamped",
    ],
)
def test_update_conditions(old: list[PodCondition], new: list[PodCondition], expected: list[str | None]) -> None:
    assert [c.last_transition_time for c in update_conditions(old, new, NOW)] == expected
