"""Table tests for the pod planner (kubelet computePodActions + doBackOff).

Each case id starts with the BEHAVIOR.md section it checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podrun.core.backoff import Backoff, go_duration
from podrun.core.observed import (
    ContainerInstance,
    ContainerRuntimeState,
    PodObservation,
    ProbeResult,
    SandboxObservation,
)
from podrun.core.plan import (
    ContainerKind,
    PodActions,
    PodKillReason,
    backoff_key,
    compute_pod_actions,
    container_hash,
    crash_loop_backoff,
)
from podrun.core.termination import KillReason
from podrun.spec.types import Container, ExecAction, ObjectMeta, Pod, PodSpec, Probe

NOW = 1_700_000_000.0
CREATED = ContainerRuntimeState.CREATED
RUNNING = ContainerRuntimeState.RUNNING
EXITED = ContainerRuntimeState.EXITED
UNKNOWN = ContainerRuntimeState.UNKNOWN
OK = ProbeResult.SUCCESS
FAIL = ProbeResult.FAILURE

PROBE = Probe(exec=ExecAction(command=("true",)))


def C(
    name: str,
    image: str = "busybox",
    *,
    sidecar: bool = False,
    startup: bool = False,
    liveness: bool = False,
    readiness: bool = False,
) -> Container:
    return Container(
        name=name,
        image=image,
        restart_policy="Always" if sidecar else None,
        startup_probe=PROBE if startup else None,
        liveness_probe=PROBE if liveness else None,
        readiness_probe=PROBE if readiness else None,
    )


def P(
    containers: Sequence[Container] = (),
    inits: Sequence[Container] = (),
    *,
    policy: str | None = None,
    deleted: bool = False,
    deadline: int | None = None,
    host_network: bool | None = None,
) -> Pod:
    return Pod(
        metadata=ObjectMeta(
            name="p",
            namespace="default",
            uid="u1",
            deletion_timestamp="2026-01-01T00:00:00Z" if deleted else None,
        ),
        spec=PodSpec(
            containers=tuple(containers) or (C("c1"),),
            init_containers=tuple(inits) or None,
            restart_policy=policy,
            active_deadline_seconds=deadline,
            host_network=host_network,
        ),
    )


_seq = iter(range(1, 1_000_000))


def inst(
    name: str,
    state: ContainerRuntimeState,
    *,
    exit: int = 0,
    reason: str = "",
    restart: int = 0,
    age: float = 100.0,
    finished: float | None = None,
    liveness: ProbeResult | None = None,
    startup: ProbeResult | None = None,
    spec_hash: str = "",
    post_start_done: bool = True,
    post_start_failed: bool = False,
) -> ContainerInstance:
    n = next(_seq)
    created = NOW - age
    return ContainerInstance(
        id=f"{name}-{n}",
        name=name,
        state=state,
        restart_index=restart,
        exit_code=exit,
        reason=reason,
        created_at=created,
        started_at=created + 1,
        finished_at=(finished if finished is not None else created + 2) if state is EXITED else None,
        liveness=liveness,
        startup=startup,
        spec_hash=spec_hash,
        post_start_done=post_start_done,
        post_start_failed=post_start_failed,
    )


def observe(
    *instances: ContainerInstance,
    sandbox: str = "ready",
    ips: tuple[str, ...] = ("10.88.0.5",),
    attempt: int = 0,
    host_network: bool = False,
) -> PodObservation:
    if sandbox == "none":
        sbs: list[SandboxObservation] = []
    elif sandbox == "two":
        sbs = [
            SandboxObservation(id="sb1", ready=True, attempt=attempt, created_at=NOW - 500, ips=ips),
            SandboxObservation(id="sb2", ready=True, attempt=attempt + 1, created_at=NOW - 400, ips=ips),
        ]
    else:
        sbs = [
            SandboxObservation(
                id="sb1",
                ready=sandbox == "ready",
                attempt=attempt,
                created_at=NOW - 500,
                ips=ips,
                host_network=host_network,
            )
        ]
    return PodObservation.build(sbs, instances)


def no_backoff(name: str, image: str, finished: float, now: float) -> float:
    return 0.0


def backoff_for(*names: str, remaining: float = 15.0) -> Any:
    def f(name: str, image: str, finished: float, now: float) -> float:
        return remaining if name in names else 0.0

    return f


def summary(a: PodActions) -> dict[str, Any]:
    return {
        "kill_pod": a.kill_pod,
        "create": a.create_sandbox,
        "kill": sorted(a.containers_to_kill),
        "init": [s.name for s in a.init_containers_to_start],
        "start": [s.name for s in a.containers_to_start],
        "wait": sorted(a.backoff),
        "done": a.pod_done,
    }


def E(
    *,
    kill_pod: bool = False,
    create: bool = False,
    kill: Sequence[str] = (),
    init: Sequence[str] = (),
    start: Sequence[str] = (),
    wait: Sequence[str] = (),
    done: bool = False,
) -> dict[str, Any]:
    return {
        "kill_pod": kill_pod,
        "create": create,
        "kill": sorted(kill),
        "init": list(init),
        "start": list(start),
        "wait": sorted(wait),
        "done": done,
    }


H1 = container_hash(C("c1"))
TWO = [C("c1"), C("c2")]
INITS2 = [C("i1"), C("i2")]

CASES: list[tuple[str, Pod, PodObservation, dict[str, Any], dict[str, Any]]] = [
    # --- §8 sandbox ---
    ("s8.1-no-sandbox-first-start", P(TWO), observe(sandbox="none"), {}, E(kill_pod=True, create=True, start=["c1", "c2"])),
    ("s8.1-no-sandbox-first-start-init-first", P(TWO, INITS2), observe(sandbox="none"), {}, E(kill_pod=True, create=True, init=["i1"])),
    ("s8.1-sandbox-not-ready-recreate", P(), observe(inst("c1", EXITED, exit=137), sandbox="notready"), {}, E(kill_pod=True, create=True, start=["c1"])),
    ("s8.1-two-ready-sandboxes-recreate", P(), observe(inst("c1", RUNNING), sandbox="two"), {}, E(kill_pod=True, create=True, start=["c1"])),
    ("s8.1-no-ip-recreate", P(), observe(inst("c1", RUNNING), ips=()), {}, E(kill_pod=True, create=True, start=["c1"])),
    ("s8.1-host-network-needs-no-ip", P(host_network=True), observe(inst("c1", RUNNING), ips=(), host_network=True), {}, E()),
    ("s8.1-host-network-toggled-recreate", P(host_network=True), observe(inst("c1", RUNNING)), {}, E(kill_pod=True, create=True, start=["c1"])),
    ("s8.2-sandbox-death-reruns-init-from-first", P([C("c1")], INITS2), observe(inst("i1", EXITED), inst("i2", EXITED), inst("c1", RUNNING), sandbox="notready"), {}, E(kill_pod=True, create=True, init=["i1"])),
    ("s8.2-never-pod-gets-no-new-sandbox", P(policy="Never"), observe(inst("c1", EXITED, exit=1), sandbox="notready"), {}, E(kill_pod=True, done=True)),
    ("s8.2-never-pod-running-container-killed-not-restarted", P(policy="Never"), observe(inst("c1", RUNNING), sandbox="notready"), {}, E(kill_pod=True, done=True)),
    ("s8.2-never-pod-without-containers-retries-sandbox", P(policy="Never"), observe(sandbox="notready"), {}, E(kill_pod=True, create=True, start=["c1"])),
    ("s8.2-onfailure-all-succeeded-no-extra-sandbox", P(TWO, policy="OnFailure"), observe(inst("c1", EXITED), inst("c2", EXITED), sandbox="notready"), {}, E(kill_pod=True, done=True)),
    ("s8.2-onfailure-recreate-starts-only-failed", P(TWO, policy="OnFailure"), observe(inst("c1", EXITED), inst("c2", EXITED, exit=2), sandbox="notready"), {}, E(kill_pod=True, create=True, start=["c2"])),
    ("s8.2-always-all-exited-0-recreated", P(TWO), observe(inst("c1", EXITED), inst("c2", EXITED), sandbox="notready"), {}, E(kill_pod=True, create=True, start=["c1", "c2"])),
    ("s3-backoff-applies-after-sandbox-recreate", P(), observe(inst("c1", EXITED, exit=1), sandbox="notready"), {"in_backoff": backoff_for("c1")}, E(kill_pod=True, create=True, wait=["c1"])),
    # --- §3 / §5 regular containers and restartPolicy ---
    ("s3-always-running-kept", P(), observe(inst("c1", RUNNING)), {}, E()),
    ("s3-always-exit-0-restarted", P(), observe(inst("c1", EXITED)), {}, E(start=["c1"])),
    ("s3-always-exit-1-restarted", P(), observe(inst("c1", EXITED, exit=1)), {}, E(start=["c1"])),
    ("s3-onfailure-exit-0-not-restarted-pod-done", P(policy="OnFailure"), observe(inst("c1", EXITED)), {}, E(kill_pod=True, done=True)),
    ("s3-onfailure-exit-1-restarted", P(policy="OnFailure"), observe(inst("c1", EXITED, exit=1)), {}, E(start=["c1"])),
    ("s3-onfailure-oomkilled-restarted", P(policy="OnFailure"), observe(inst("c1", EXITED, exit=137, reason="OOMKilled")), {}, E(start=["c1"])),
    ("s3-never-exit-1-pod-done", P(policy="Never"), observe(inst("c1", EXITED, exit=1)), {}, E(kill_pod=True, done=True)),
    ("s1.1-never-one-exited-one-running-kept", P(TWO, policy="Never"), observe(inst("c1", EXITED), inst("c2", RUNNING)), {}, E()),
    ("s2.1-never-started-container-started", P(TWO), observe(inst("c1", RUNNING)), {}, E(start=["c2"])),
    ("s2.1-created-not-started-restarted", P(), observe(inst("c1", CREATED)), {}, E(start=["c1"])),
    ("s2.1-unknown-killed-then-restarted", P(), observe(inst("c1", UNKNOWN)), {}, E(kill=["c1"], start=["c1"])),
    ("s2.1-unknown-restarted-even-under-never", P(policy="Never"), observe(inst("c1", UNKNOWN)), {}, E(kill=["c1"], start=["c1"])),
    ("s4-liveness-failure-kill-and-restart", P(), observe(inst("c1", RUNNING, liveness=FAIL)), {}, E(kill=["c1"], start=["c1"])),
    ("s4-liveness-failure-never-kill-only-pod-done", P(policy="Never"), observe(inst("c1", RUNNING, liveness=FAIL)), {}, E(kill_pod=True, kill=["c1"], done=True)),
    ("s4-liveness-failure-never-other-running", P(TWO, policy="Never"), observe(inst("c1", RUNNING, liveness=FAIL), inst("c2", RUNNING)), {}, E(kill=["c1"])),
    ("s4-liveness-success-kept", P(), observe(inst("c1", RUNNING, liveness=OK)), {}, E()),
    ("s4-startup-failure-kill-and-restart", P(), observe(inst("c1", RUNNING, startup=FAIL)), {}, E(kill=["c1"], start=["c1"])),
    ("s8.3-hash-changed-kill-and-restart", P(), observe(inst("c1", RUNNING, spec_hash="stale")), {}, E(kill=["c1"], start=["c1"])),
    ("s8.3-hash-changed-restarts-even-under-never", P(policy="Never"), observe(inst("c1", RUNNING, spec_hash="stale")), {}, E(kill=["c1"], start=["c1"])),
    ("s8.3-hash-matching-kept", P(), observe(inst("c1", RUNNING, spec_hash=H1)), {}, E()),
    ("s6.5-poststart-failed-killed-not-restarted-yet", P(TWO), observe(inst("c1", RUNNING, post_start_failed=True), inst("c2", RUNNING)), {}, E(kill=["c1"])),
    ("s6.5-poststart-running-container-kept", P(), observe(inst("c1", RUNNING, post_start_done=False)), {}, E()),
    ("s3-in-backoff-waits-crashloop", P(), observe(inst("c1", EXITED, exit=1)), {"in_backoff": backoff_for("c1")}, E(wait=["c1"])),
    ("s3-backoff-is-per-container", P(TWO), observe(inst("c1", EXITED, exit=1), inst("c2", EXITED, exit=1)), {"in_backoff": backoff_for("c2")}, E(start=["c1"], wait=["c2"])),
    ("s3-liveness-kill-restart-waits-for-previous-backoff", P(), observe(inst("c1", RUNNING, liveness=FAIL, restart=3, age=10), inst("c1", EXITED, exit=1, restart=2, age=50)), {"in_backoff": backoff_for("c1")}, E(kill=["c1"], wait=["c1"])),
    ("s3-running-without-exited-instance-no-backoff-check", P(), observe(inst("c1", RUNNING, liveness=FAIL)), {"in_backoff": backoff_for("c1")}, E(kill=["c1"], start=["c1"])),
    ("s5.1-apps-start-in-spec-order", P([C("zz"), C("aa")]), observe(), {}, E(start=["zz", "aa"])),
    # --- §5.1 regular init containers ---
    ("s5.1-init-one-at-a-time-running-waits", P([C("c1")], INITS2), observe(inst("i1", RUNNING)), {}, E()),
    ("s5.1-init-next-after-success", P([C("c1")], INITS2), observe(inst("i1", EXITED)), {}, E(init=["i2"])),
    ("s5.1-init-all-done-apps-start", P(TWO, INITS2), observe(inst("i1", EXITED), inst("i2", EXITED)), {}, E(start=["c1", "c2"])),
    ("s5.1-init-failed-always-retried", P([C("c1")], INITS2), observe(inst("i1", EXITED, exit=1)), {}, E(init=["i1"])),
    ("s5.1-init-failed-onfailure-retried", P([C("c1")], INITS2, policy="OnFailure"), observe(inst("i1", EXITED), inst("i2", EXITED, exit=3)), {}, E(init=["i2"])),
    ("s5.1-init-failed-never-pod-failed", P([C("c1")], INITS2, policy="Never"), observe(inst("i1", EXITED), inst("i2", EXITED, exit=1)), {}, E(kill_pod=True)),
    ("s2.3-init-oomkilled-exit-0-counts-failed", P([C("c1")], INITS2, policy="Never"), observe(inst("i1", EXITED, reason="OOMKilled")), {}, E(kill_pod=True)),
    ("s3-init-failed-in-backoff-waits", P([C("c1")], INITS2), observe(inst("i1", EXITED, exit=1)), {"in_backoff": backoff_for("i1")}, E(wait=["i1"])),
    ("s5.1-init-not-rerun-when-app-restarts", P([C("c1")], INITS2), observe(inst("i1", EXITED), inst("i2", EXITED), inst("c1", EXITED, exit=1)), {}, E(start=["c1"])),
    ("s5.1-init-not-rerun-after-gc-app-running", P([C("c1")], INITS2), observe(inst("c1", RUNNING)), {}, E()),
    ("s5.1-init-unknown-killed-and-restarted", P([C("c1")], INITS2), observe(inst("i1", UNKNOWN)), {}, E(kill=["i1"], init=["i1"])),
    ("s5.1-init-unknown-never-pod-failed", P([C("c1")], INITS2, policy="Never"), observe(inst("i1", UNKNOWN)), {}, E(kill_pod=True)),
    ("s5.1-init-created-restarted", P([C("c1")], INITS2), observe(inst("i1", CREATED)), {}, E(init=["i1"])),
    # --- §5.2 sidecars ---
    ("s5.2-sidecar-started-next-init-starts", P([C("c1")], [C("s1", sidecar=True), C("i2")]), observe(inst("s1", RUNNING)), {}, E(init=["i2"])),
    ("s5.2-sidecar-waits-for-startup-probe", P([C("c1")], [C("s1", sidecar=True, startup=True), C("i2")]), observe(inst("s1", RUNNING)), {}, E()),
    ("s5.2-sidecar-startup-success-next-starts", P([C("c1")], [C("s1", sidecar=True, startup=True), C("i2")]), observe(inst("s1", RUNNING, startup=OK)), {}, E(init=["i2"])),
    ("s5.2-sidecar-startup-failure-restarted", P([C("c1")], [C("s1", sidecar=True, startup=True), C("i2")]), observe(inst("s1", RUNNING, startup=FAIL)), {}, E(kill=["s1"], init=["s1"])),
    ("s6.5-sidecar-waits-for-poststart", P([C("c1")], [C("s1", sidecar=True), C("i2")]), observe(inst("s1", RUNNING, post_start_done=False)), {}, E()),
    ("s5.2-last-sidecar-started-apps-start", P(TWO, [C("s1", sidecar=True)]), observe(inst("s1", RUNNING)), {}, E(start=["c1", "c2"])),
    ("s5.2-sidecar-then-regular-init-done-apps-start", P([C("c1")], [C("s1", sidecar=True), C("i2")]), observe(inst("s1", RUNNING), inst("i2", EXITED)), {}, E(start=["c1"])),
    ("s5.2-sidecar-restarts-under-never", P([C("c1")], [C("s1", sidecar=True)], policy="Never"), observe(inst("s1", EXITED, exit=1), inst("c1", RUNNING)), {}, E(init=["s1"])),
    ("s5.2-sidecar-exit-0-restarted", P([C("c1")], [C("s1", sidecar=True)], policy="OnFailure"), observe(inst("s1", EXITED), inst("c1", RUNNING)), {}, E(init=["s1"])),
    ("s5.2-sidecar-liveness-failure-restarts-only-it", P([C("c1")], [C("s1", sidecar=True, liveness=True)]), observe(inst("s1", RUNNING, liveness=FAIL), inst("c1", RUNNING)), {}, E(kill=["s1"], init=["s1"])),
    ("s5.2-sidecars-do-not-keep-completed-pod-alive", P([C("c1")], [C("s1", sidecar=True)], policy="Never"), observe(inst("s1", RUNNING), inst("c1", EXITED)), {}, E(kill_pod=True, done=True)),
    # exited regular containers do not prove initialization (node-reboot workaround), so an
    # exited sidecar is started again before keepCount == 0 can be seen
    ("s5.2-exited-sidecar-restarted-before-completion-seen", P([C("c1")], [C("s1", sidecar=True)], policy="OnFailure"), observe(inst("s1", EXITED, exit=1), inst("c1", EXITED)), {}, E(init=["s1"])),
    ("s5.2-sidecar-status-gone-restarted", P([C("c1")], [C("s1", sidecar=True)]), observe(inst("c1", RUNNING)), {}, E(init=["s1"])),
    ("s5.2-sidecar-backoff-does-not-block-apps", P(TWO, [C("s1", sidecar=True)]), observe(inst("s1", EXITED, exit=1), inst("c1", EXITED, exit=1), inst("c2", RUNNING)), {"in_backoff": backoff_for("s1")}, E(start=["c1"], wait=["s1"])),
    ("s5.2-sidecar-in-backoff-app-keeps-running", P([C("c1")], [C("s1", sidecar=True)]), observe(inst("s1", EXITED, exit=1), inst("c1", RUNNING)), {"in_backoff": backoff_for("s1")}, E(wait=["s1"])),
    ("s5.2-sidecar-exited-apps-exited-waits-for-sidecar", P([C("c1")], [C("s1", sidecar=True)]), observe(inst("s1", EXITED, exit=1), inst("c1", EXITED, exit=1)), {}, E(init=["s1"])),
    ("s5.2-sidecar-definition-changed-restarted", P([C("c1")], [C("s1", sidecar=True)]), observe(inst("s1", RUNNING, spec_hash="stale"), inst("c1", RUNNING)), {}, E(kill=["s1"], init=["s1"])),
    ("s5.2-sidecar-unknown-killed-and-restarted", P([C("c1")], [C("s1", sidecar=True)], policy="Never"), observe(inst("s1", UNKNOWN), inst("c1", RUNNING)), {}, E(kill=["s1"], init=["s1"])),
    ("s6.5-sidecar-poststart-failed-killed", P([C("c1")], [C("s1", sidecar=True), C("i2")]), observe(inst("s1", RUNNING, post_start_failed=True)), {}, E(kill=["s1"])),
    ("s5.2-sidecar-restart-count-during-init", P([C("c1")], [C("s1", sidecar=True), C("i2")]), observe(inst("s1", EXITED, exit=1, restart=2), inst("i2", RUNNING)), {}, E(init=["s1"])),
    # --- §6 termination, §1.1 activeDeadlineSeconds ---
    ("s6.1-deletion-kills-everything-starts-nothing", P(TWO, deleted=True), observe(inst("c1", RUNNING), inst("c2", EXITED, exit=1)), {}, E(kill_pod=True)),
    ("s6.1-terminating-flag-kills-everything", P(), observe(inst("c1", RUNNING)), {"terminating": True}, E(kill_pod=True)),
    ("s6.1-terminating-never-creates-sandbox", P(), observe(sandbox="none"), {"terminating": True}, E(kill_pod=True)),
    ("s1.1-active-deadline-exceeded-kills-pod", P(deadline=30), observe(inst("c1", RUNNING)), {"start_time": NOW - 30}, E(kill_pod=True)),
    ("s1.1-active-deadline-not-reached", P(deadline=30), observe(inst("c1", RUNNING)), {"start_time": NOW - 29.5}, E()),
    ("s1.1-active-deadline-without-start-time", P(deadline=30), observe(inst("c1", RUNNING)), {}, E()),
]


@pytest.mark.parametrize("pod,observed,kwargs,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan_table(pod: Pod, observed: PodObservation, kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    kwargs = {"in_backoff": no_backoff, **kwargs}
    assert summary(compute_pod_actions(pod, observed, NOW, **kwargs)) == expected


def test_case_count() -> None:
    assert len(CASES) >= 50
    assert len({c[0] for c in CASES}) == len(CASES)


# --- details the table does not show ---


def test_s8_2_attempt_and_sandbox_changed_reason() -> None:
    a = compute_pod_actions(P(), observe(inst("c1", EXITED), sandbox="notready", attempt=2), NOW, in_backoff=no_backoff)
    assert (a.attempt, a.sandbox_id, a.purge_init_containers) == (3, "sb1", True)
    assert a.kill_reason is PodKillReason.SANDBOX_CHANGED
    assert a.kill_message == "Pod sandbox changed, it will be killed and re-created."


def test_s8_1_first_start_has_no_sandbox_changed_event() -> None:
    a = compute_pod_actions(P(), observe(sandbox="none"), NOW, in_backoff=no_backoff)
    assert (a.attempt, a.kill_reason, a.kill_order) == (0, PodKillReason.NONE, ())


def test_s2_4_restart_count_of_new_instance() -> None:
    a = compute_pod_actions(P(TWO), observe(inst("c1", EXITED, restart=4)), NOW, in_backoff=no_backoff)
    starts = {s.name: s for s in a.containers_to_start}
    assert starts["c1"].restart_count == 5
    assert starts["c2"].restart_count is None  # unknown: derived from the log dir
    assert starts["c1"].kind is ContainerKind.REGULAR


def test_s3_backoff_looks_at_newest_exited_instance_and_spec_image() -> None:
    seen: list[tuple[str, str, float, float]] = []

    def spy(name: str, image: str, finished: float, now: float) -> float:
        seen.append((name, image, finished, now))
        return 0.0

    obs = observe(inst("c1", EXITED, exit=1, age=50, finished=NOW - 10), inst("c1", EXITED, exit=1, age=90, finished=NOW - 80))
    a = compute_pod_actions(P([C("c1", "busybox:1.36")]), obs, NOW, in_backoff=spy)
    assert seen == [("c1", "busybox:1.36", NOW - 10, NOW)]
    assert a.containers_to_start[0].backoff_since == NOW - 10


def test_s3_crashloop_message_and_wake_after() -> None:
    a = compute_pod_actions(
        P(),
        observe(inst("c1", EXITED, exit=1)),
        NOW,
        in_backoff=backoff_for("c1", remaining=7.5),
        backoff_period=lambda name, image: 20.0,
    )
    w = a.backoff["c1"]
    assert w.message == "back-off 20s restarting failed container=c1 pod=p_default(u1)"
    assert w.event_message == "Back-off restarting failed container c1 in pod p_default(u1)"
    assert w.start_failure.reason == "CrashLoopBackOff"
    assert a.wake_after == 7.5


def test_s3_regular_init_in_backoff_blocks_the_rest_of_the_sync() -> None:
    # a sidecar restart and a failed init container in backoff: SyncPod returns at the init
    pod = P([C("c1")], [C("s1", sidecar=True), C("i2")])
    obs = observe(inst("s1", EXITED, exit=1), inst("i2", EXITED, exit=1))
    a = compute_pod_actions(pod, obs, NOW, in_backoff=backoff_for("i2"))
    assert [s.name for s in a.init_containers_to_start] == ["s1"]
    assert sorted(a.backoff) == ["i2"]


def test_s4_kill_messages_and_reasons() -> None:
    a = compute_pod_actions(P(), observe(inst("c1", RUNNING, liveness=FAIL)), NOW, in_backoff=no_backoff)
    k = a.containers_to_kill["c1"]
    assert (k.message, k.reason) == ("Container c1 failed liveness probe, will be restarted", KillReason.LIVENESS_PROBE)
    a = compute_pod_actions(P(policy="Never"), observe(inst("c1", RUNNING, startup=FAIL)), NOW, in_backoff=no_backoff)
    k = a.containers_to_kill["c1"]
    assert (k.message, k.reason) == ("Container c1 failed startup probe", KillReason.STARTUP_PROBE)
    a = compute_pod_actions(P(), observe(inst("c1", RUNNING, spec_hash="x")), NOW, in_backoff=no_backoff)
    assert a.containers_to_kill["c1"].message == "Container c1 definition changed, will be restarted"
    a = compute_pod_actions(P(), observe(inst("c1", UNKNOWN)), NOW, in_backoff=no_backoff)
    assert a.containers_to_kill["c1"].message == 'Container is in "unknown" state, try killing it before restart'


def test_s6_3_kill_order_regular_first_then_sidecars_reversed() -> None:
    pod = P([C("b"), C("a")], [C("s1", sidecar=True), C("s2", sidecar=True), C("s3", sidecar=True)], deleted=True)
    obs = observe(*(inst(n, RUNNING) for n in ("s1", "s2", "s3", "a", "b")))
    a = compute_pod_actions(pod, obs, NOW, in_backoff=no_backoff)
    assert a.kill_order == ("b", "a", "s3", "s2", "s1")
    assert a.kill_reason is PodKillReason.TERMINATING


def test_s1_1_deadline_reason() -> None:
    a = compute_pod_actions(P(deadline=5), observe(inst("c1", RUNNING)), NOW, in_backoff=no_backoff, start_time=NOW - 6)
    assert a.kill_reason is PodKillReason.DEADLINE_EXCEEDED and a.pod_failed
    assert a.kill_message == "Pod was active on the node longer than the specified deadline"


def test_s5_1_never_init_failure_marks_pod_failed() -> None:
    a = compute_pod_actions(P([C("c1")], INITS2, policy="Never"), observe(inst("i1", EXITED, exit=1)), NOW, in_backoff=no_backoff)
    assert a.pod_failed and a.kill_reason is PodKillReason.INIT_CONTAINER_FAILED
    assert a.next_init_container_to_start is None


def test_next_init_container_and_kinds() -> None:
    a = compute_pod_actions(P([C("c1")], [C("s1", sidecar=True), C("i2")]), observe(inst("s1", RUNNING)), NOW, in_backoff=no_backoff)
    assert a.next_init_container_to_start == "i2"
    assert a.init_containers_to_start[0].kind is ContainerKind.INIT
    assert not a.is_noop


@pytest.mark.parametrize(
    "seconds,text",
    [(10, "10s"), (20, "20s"), (80, "1m20s"), (160, "2m40s"), (300, "5m0s"), (3600, "1h0m0s"), (1.5, "1.5s"), (0.5, "500ms"), (0, "0s")],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_s3_schedule_with_the_real_backoff() -> None:
    """A container that always exits at once: restarts at 0, then 10 s, 20 s, 40 s (§3)."""
    pod = P()
    backoff = Backoff()
    in_backoff, period = crash_loop_backoff(backoff, pod)
    t = NOW
    restart = 0
    delays: list[float] = []
    for _ in range(4):
        finished = t + 1  # it runs for a second, then exits 1
        obs = observe(inst("c1", EXITED, exit=1, restart=restart, age=NOW - t, finished=finished))
        now = finished
        while True:
            a = compute_pod_actions(pod, obs, now, in_backoff=in_backoff, backoff_period=period)
            if a.containers_to_start:
                break
            w = a.backoff["c1"]
            assert w.message == (
                f"back-off {go_duration(w.period)} restarting failed container=c1 pod=p_default(u1)"
            )
            assert a.wake_after is not None
            now += a.wake_after
        start = a.containers_to_start[0]
        assert start.backoff_key == backoff_key(pod, C("c1"))
        assert start.backoff_since == finished
        backoff.next(start.backoff_key, finished, now)
        delays.append(now - finished)
        t = now
        restart += 1
    assert delays == [0.0, 10.0, 20.0, 40.0]


def test_s3_new_image_gets_a_fresh_backoff_key() -> None:
    assert backoff_key(P(), C("c1", "busybox:1")) != backoff_key(P(), C("c1", "busybox:2"))
    assert container_hash(C("c1", "busybox:1")) != container_hash(C("c1", "busybox:2"))


@pytest.mark.parametrize("module", ["observed", "plan", "phase", "conditions", "status"])
def test_pure_core_imports_no_io(module: str) -> None:
    """DESIGN.md §2: the decisions live in modules without os/subprocess/socket/asyncio/time."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(f"podrun.core.{module}")
    assert spec is not None and spec.origin is not None
    with open(spec.origin, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & {"os", "subprocess", "socket", "asyncio", "time", "threading"}


# --- invariants over random pods (hypothesis) ---

_STATES = [None, CREATED, RUNNING, EXITED, UNKNOWN]


@st.composite
def _scenario(draw: st.DrawFn) -> tuple[Pod, PodObservation, set[str], bool]:
    n_init = draw(st.integers(0, 3))
    inits = [C(f"i{k}", sidecar=draw(st.booleans()), startup=draw(st.booleans())) for k in range(n_init)]
    apps = [C(f"c{k}") for k in range(draw(st.integers(1, 3)))]
    pod = P(apps, inits, policy=draw(st.sampled_from([None, "Always", "OnFailure", "Never"])))
    instances = []
    for c in inits + apps:
        state = draw(st.sampled_from(_STATES))
        if state is None:
            continue
        instances.append(
            inst(
                c.name or "",
                state,
                exit=draw(st.sampled_from([0, 1, 137])),
                restart=draw(st.integers(0, 5)),
                liveness=draw(st.sampled_from([None, OK, FAIL])),
                startup=draw(st.sampled_from([None, OK, FAIL])),
                post_start_done=draw(st.booleans()),
            )
        )
    sandbox = draw(st.sampled_from(["ready", "notready", "none", "two"]))
    backoff = set(draw(st.lists(st.sampled_from([c.name or "" for c in inits + apps]))))
    return pod, observe(*instances, sandbox=sandbox), backoff, draw(st.booleans())


@settings(max_examples=250, deadline=None)
@given(_scenario())
def test_plan_invariants(scenario: tuple[Pod, PodObservation, set[str], bool]) -> None:
    pod, obs, in_backoff, terminating = scenario
    a = compute_pod_actions(pod, obs, NOW, in_backoff=backoff_for(*in_backoff), terminating=terminating)
    starts = list(a.init_containers_to_start) + list(a.containers_to_start)
    names = [s.name for s in starts]
    assert len(names) == len(set(names)), "a container is started twice"
    if terminating:
        assert a.kill_pod and not starts and not a.create_sandbox
    for s in starts:
        latest = obs.latest(s.name)
        # never start a second running instance unless this sync kills the first one
        if latest is not None and latest.state is RUNNING and not a.create_sandbox:
            assert s.name in a.containers_to_kill
        assert s.name not in a.backoff
        assert s.name not in in_backoff or obs.latest_exited(s.name) is None
    for k in a.containers_to_kill.values():
        latest = obs.latest(k.name)
        assert latest is not None and latest.state in (RUNNING, UNKNOWN)
    assert [s.index for s in a.init_containers_to_start] == sorted(s.index for s in a.init_containers_to_start)
    assert [s.index for s in a.containers_to_start] == sorted(s.index for s in a.containers_to_start)
    if a.kill_pod and not a.create_sandbox:
        assert not starts
    if a.create_sandbox:
        assert not a.containers_to_kill and len(a.init_containers_to_start) <= 1
