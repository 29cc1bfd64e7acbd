"""Table tests for getPhase, the sticky terminal phase and activeDeadlineSeconds (BEHAVIOR.md §1.1)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from podrun.core.phase import active_deadline_exceeded, get_phase, next_phase
from podrun.spec.types import (
    Container,
    ContainerState,
    ContainerStateRunning,
    ContainerStateTerminated,
    ContainerStateWaiting,
    ContainerStatus,
    ObjectMeta,
    Pod,
    PodSpec,
    StrMap,
)


def P(
    containers: Sequence[str] = ("c1",),
    inits: Sequence[str] = (),
    sidecars: Sequence[str] = (),
    *,
    policy: str | None = None,
    static: bool = False,
) -> Pod:
    """`sidecars` are init containers with restartPolicy Always, placed before `inits`."""
    init_specs = [Container(name=n, image="busybox", restart_policy="Always") for n in sidecars]
    init_specs += [Container(name=n, image="busybox") for n in inits]
    return Pod(
        metadata=ObjectMeta(
            name="p",
            annotations=StrMap({"kubernetes.io/config.source": "file"}) if static else None,
        ),
        spec=PodSpec(
            containers=tuple(Container(name=n, image="busybox") for n in containers),
            init_containers=tuple(init_specs) or None,
            restart_policy=policy,
        ),
    )


def running(name: str, *, started: bool | None = True) -> ContainerStatus:
    return ContainerStatus(
        name=name, started=started, state=ContainerState(running=ContainerStateRunning(started_at="2026-01-01T00:00:00Z"))
    )


def exited(name: str, code: int = 0) -> ContainerStatus:
    return ContainerStatus(name=name, state=ContainerState(terminated=ContainerStateTerminated(exit_code=code)))


def waiting(name: str, reason: str = "ContainerCreating", last: int | None = None) -> ContainerStatus:
    return ContainerStatus(
        name=name,
        state=ContainerState(waiting=ContainerStateWaiting(reason=reason)),
        last_state=ContainerState(terminated=ContainerStateTerminated(exit_code=last)) if last is not None else ContainerState(),
    )


def stateless(name: str) -> ContainerStatus:
    return ContainerStatus(name=name)


CASES: list[tuple[str, Pod, list[ContainerStatus], bool, str]] = [
    # (id, pod, statuses, podIsTerminal, phase)
    ("s1.1-step6-no-status-is-unknown-pending", P(), [], False, "Pending"),
    ("s1.1-step3-waiting-container-creating-pending", P(), [waiting("c1")], False, "Pending"),
    ("s1.1-never-container-creating-pending", P(policy="Never"), [waiting("c1")], False, "Pending"),
    ("s1.1-step4-running", P(), [running("c1")], False, "Running"),
    ("s1.1-step3-one-running-one-waiting-pending", P(["c1", "c2"]), [running("c1"), waiting("c2")], False, "Pending"),
    ("s1.1-step6-one-running-one-unknown-pending", P(["c1", "c2"]), [running("c1")], False, "Pending"),
    ("s1.1-always-crashloop-counts-stopped-running", P(), [waiting("c1", "CrashLoopBackOff", last=1)], False, "Running"),
    ("s1.1-step5b-always-all-exited-running", P(["c1", "c2"]), [exited("c1", 0), exited("c2", 1)], False, "Running"),
    ("s1.1-step5c-onfailure-all-succeeded", P(policy="OnFailure"), [exited("c1", 0)], False, "Succeeded"),
    ("s1.1-step5e-onfailure-one-failed-running", P(["c1", "c2"], policy="OnFailure"), [exited("c1", 0), exited("c2", 2)], False, "Running"),
    ("s1.1-step5d-never-one-failed", P(["c1", "c2"], policy="Never"), [exited("c1", 0), exited("c2", 1)], False, "Failed"),
    ("s1.1-step5c-never-all-succeeded", P(["c1", "c2"], policy="Never"), [exited("c1", 0), exited("c2", 0)], False, "Succeeded"),
    ("s1.1-never-one-done-one-running", P(["c1", "c2"], policy="Never"), [exited("c1", 0), running("c2")], False, "Running"),
    ("s1.1-step5a-terminal-always-all-zero-succeeded", P(["c1", "c2"]), [exited("c1", 0), exited("c2", 0)], True, "Succeeded"),
    ("s1.1-step5a-terminal-always-one-failed", P(["c1", "c2"]), [exited("c1", 0), exited("c2", 143)], True, "Failed"),
    ("s1.1-step5a-terminal-static-pod-excluded", P(static=True), [exited("c1", 137)], True, "Running"),
    ("s1.1-step5a-terminal-still-running-is-running", P(), [running("c1")], True, "Running"),
    ("s1.1-code-waiting-after-exit-0-is-stopped-not-succeeded", P(policy="Never"), [waiting("c1", "RunContainerError", last=0)], False, "Failed"),
    ("s1.1-status-without-state-is-unknown", P(), [stateless("c1")], False, "Pending"),
    # init containers
    ("s1.1-step2-init-without-status-pending", P(inits=["i1"]), [waiting("c1", "PodInitializing")], False, "Pending"),
    ("s1.1-step2-init-running-pending", P(inits=["i1"]), [running("i1"), waiting("c1", "PodInitializing")], False, "Pending"),
    ("s1.1-step1-init-failed-never-failed", P(inits=["i1", "i2"], policy="Never"), [exited("i1", 0), exited("i2", 1), waiting("c1", "PodInitializing")], False, "Failed"),
    ("s1.1-init-failed-always-pending", P(inits=["i1"]), [waiting("i1", "CrashLoopBackOff", last=1), waiting("c1", "PodInitializing")], False, "Pending"),
    ("s1.1-init-waiting-after-failure-never-failed", P(inits=["i1"], policy="Never"), [waiting("i1", "CrashLoopBackOff", last=1), waiting("c1", "PodInitializing")], False, "Failed"),
    ("s1.1-init-waiting-after-success-not-pending", P(inits=["i1"]), [waiting("i1", "RunContainerError", last=0), running("c1")], False, "Running"),
    ("s1.1-init-done-apps-running", P(inits=["i1"]), [exited("i1", 0), running("c1")], False, "Running"),
    ("s1.1-init-done-apps-initializing-pending", P(inits=["i1"]), [exited("i1", 0), waiting("c1", "PodInitializing")], False, "Pending"),
    # sidecars
    ("s5.2-sidecar-running-not-started-pending", P(sidecars=["s1"]), [running("s1", started=False), waiting("c1", "PodInitializing")], False, "Pending"),
    ("s5.2-sidecar-started-apps-waiting-pending", P(sidecars=["s1"]), [running("s1"), waiting("c1")], False, "Pending"),
    ("s5.2-sidecar-and-apps-running", P(sidecars=["s1"]), [running("s1"), running("c1")], False, "Running"),
    ("s5.2-sidecar-without-status-unknown-pending", P(sidecars=["s1"]), [running("c1")], False, "Pending"),
    ("s5.2-sidecar-exited-ignored-app-succeeded", P(sidecars=["s1"], policy="Never"), [exited("s1", 1), exited("c1", 0)], False, "Succeeded"),
    ("s5.2-sidecar-exited-ignored-app-failed", P(sidecars=["s1"], policy="Never"), [exited("s1", 0), exited("c1", 1)], False, "Failed"),
    ("s5.2-sidecar-waiting-after-run-ignored", P(sidecars=["s1"]), [waiting("s1", "CrashLoopBackOff", last=1), running("c1")], False, "Running"),
    ("s5.2-sidecar-waiting-first-time-pending", P(sidecars=["s1"]), [waiting("s1", "PodInitializing"), waiting("c1", "PodInitializing")], False, "Pending"),
    ("s5.2-sidecar-restarting-after-init-keeps-running", P(sidecars=["s1"]), [running("s1", started=False), running("c1")], False, "Running"),
    ("s5.2-sidecar-running-app-done-never-running", P(sidecars=["s1"], policy="Never"), [running("s1"), exited("c1", 0)], False, "Running"),
    ("s5.2-terminal-sidecar-stopped-app-zero-succeeded", P(sidecars=["s1"]), [exited("s1", 137), exited("c1", 0)], True, "Succeeded"),
]


@pytest.mark.parametrize("pod,statuses,terminal,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_get_phase(pod: Pod, statuses: list[ContainerStatus], terminal: bool, expected: str) -> None:
    assert get_phase(pod, statuses, pod_is_terminal=terminal) == expected


def test_case_count() -> None:
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES)


def test_static_override() -> None:
    assert get_phase(P(), [exited("c1", 1)], pod_is_terminal=True, static=True) == "Running"
    assert get_phase(P(static=True), [exited("c1", 1)], pod_is_terminal=True, static=False) == "Failed"


@pytest.mark.parametrize(
    "old,new,expected",
    [
        ("Succeeded", "Running", "Succeeded"),
        ("Failed", "Pending", "Failed"),
        ("Failed", "Succeeded", "Failed"),
        ("Succeeded", "Failed", "Succeeded"),
        ("Running", "Failed", "Failed"),
        ("Pending", "Running", "Running"),
        (None, "Pending", "Pending"),
    ],
    ids=lambda v: str(v),
)
def test_s1_1_sticky_terminal_phase(old: str | None, new: str, expected: str) -> None:
    assert next_phase(old, new) == expected


@pytest.mark.parametrize(
    "ads,start,now,expected",
    [
        (None, 0.0, 1e9, False),
        (10, None, 1e9, False),
        (10, 100.0, 109.9, False),
        (10, 100.0, 110.0, True),
        (0, 100.0, 100.0, True),
    ],
    ids=["no-deadline", "no-start-time", "before", "exactly-at-deadline", "zero"],
)
def test_s1_1_active_deadline(ads: int | None, start: float | None, now: float, expected: bool) -> None:
    assert active_deadline_exceeded(ads, start, now) is expected
