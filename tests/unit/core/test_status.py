"""Tests for container status composition, termination messages and the whole PodStatus
(BEHAVIOR.md §2, §10.5, §1)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podrun.core.observed import (
    ContainerInstance,
    ContainerRuntimeState,
    PodObservation,
    ProbeResult,
    SandboxObservation,
    StartFailure,
    rfc3339,
)
from podrun.core.status import (
    compose_container_statuses,
    compose_terminated_message,
    generate_pod_status,
    termination_message,
    termination_message_from_logs,
    truncate_termination_messages,
)
from podrun.spec.types import (
    Container,
    ContainerState,
    ContainerStateRunning,
    ContainerStateTerminated,
    ContainerStatus,
    ExecAction,
    ObjectMeta,
    Pod,
    PodSpec,
    PodStatus,
    Probe,
)

NOW = 1_700_000_000.0
RUNNING = ContainerRuntimeState.RUNNING
EXITED = ContainerRuntimeState.EXITED
CREATED = ContainerRuntimeState.CREATED
UNKNOWN = ContainerRuntimeState.UNKNOWN
PROBE = Probe(exec=ExecAction(command=("true",)))


def C(name: str, *, sidecar: bool = False, readiness: bool = False, startup: bool = False) -> Container:
    return Container(
        name=name,
        image="busybox:1.36",
        restart_policy="Always" if sidecar else None,
        readiness_probe=PROBE if readiness else None,
        startup_probe=PROBE if startup else None,
    )


def P(
    containers: Sequence[Container] = (),
    inits: Sequence[Container] = (),
    *,
    policy: str | None = None,
    deleted: bool = False,
    deadline: int | None = None,
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
        ),
    )


_n = iter(range(1, 10_000))


def inst(
    name: str,
    state: ContainerRuntimeState,
    *,
    exit: int = 0,
    signal: int = 0,
    reason: str = "",
    message: str = "",
    restart: int = 0,
    age: float = 100.0,
    readiness: ProbeResult | None = None,
    startup: ProbeResult | None = None,
    post_start_done: bool = True,
) -> ContainerInstance:
    created = NOW - age
    return ContainerInstance(
        id=f"{name}{next(_n)}",
        name=name,
        state=state,
        restart_index=restart,
        image="docker.io/library/busybox:1.36",
        image_id="sha256:abc",
        exit_code=exit,
        signal=signal,
        reason=reason,
        message=message,
        created_at=created,
        started_at=created + 1,
        finished_at=created + 2 if state is EXITED else None,
        readiness=readiness,
        startup=startup,
        post_start_done=post_start_done,
    )


def observe(*instances: ContainerInstance, sandbox: bool = True) -> PodObservation:
    sbs = [SandboxObservation(id="sb", ready=True, ips=("10.88.0.7",), created_at=NOW - 500)] if sandbox else []
    return PodObservation.build(sbs, instances)


def one(pod: Pod, observed: PodObservation, name: str = "c1", *, init: bool = False, **kw: object) -> ContainerStatus:
    statuses = compose_container_statuses(pod, observed, init=init, **kw)  # type: ignore[arg-type]
    return next(s for s in statuses if s.name == name)


def state_of(s: ContainerStatus) -> tuple[str, str | None, int | None]:
    st = s.state or ContainerState()
    if st.waiting is not None:
        return ("waiting", st.waiting.reason, None)
    if st.running is not None:
        return ("running", None, None)
    assert st.terminated is not None
    return ("terminated", st.terminated.reason, st.terminated.exit_code)


def last_of(s: ContainerStatus) -> tuple[str, str | None, int | None] | None:
    st = s.last_state
    if st is None or st.terminated is None:
        return None
    return ("terminated", st.terminated.reason, st.terminated.exit_code)


# (id, pod, observed, name, init, kwargs, state, lastState, restartCount, ready, started)
CASES: list[tuple[str, Pod, PodObservation, str, bool, dict[str, object], tuple[str, str | None, int | None], object, int, bool, bool]] = [
    ("s2.1-no-status-container-creating", P(), observe(), "c1", False, {}, ("waiting", "ContainerCreating", None), None, 0, False, False),
    ("s2.1-no-status-pod-initializing-with-inits", P(inits=[C("i1")]), observe(), "c1", False, {}, ("waiting", "PodInitializing", None), None, 0, False, False),
    ("s2.1-later-init-container-pod-initializing", P(inits=[C("i1"), C("i2")]), observe(inst("i1", RUNNING)), "i2", True, {}, ("waiting", "PodInitializing", None), None, 0, False, False),
    ("s2.1-cri-created-waiting-empty-reason", P(), observe(inst("c1", CREATED)), "c1", False, {}, ("waiting", None, None), None, 0, False, False),
    ("s2.4-running-no-probes-ready-and-started", P(), observe(inst("c1", RUNNING)), "c1", False, {}, ("running", None, None), None, 0, True, True),
    ("s2.4-readiness-probe-initially-not-ready", P([C("c1", readiness=True)]), observe(inst("c1", RUNNING)), "c1", False, {}, ("running", None, None), None, 0, False, True),
    ("s2.4-readiness-success-ready", P([C("c1", readiness=True)]), observe(inst("c1", RUNNING, readiness=ProbeResult.SUCCESS)), "c1", False, {}, ("running", None, None), None, 0, True, True),
    ("s2.4-readiness-failure-not-ready", P([C("c1", readiness=True)]), observe(inst("c1", RUNNING, readiness=ProbeResult.FAILURE)), "c1", False, {}, ("running", None, None), None, 0, False, True),
    ("s2.4-startup-unknown-not-started", P([C("c1", startup=True)]), observe(inst("c1", RUNNING)), "c1", False, {}, ("running", None, None), None, 0, False, False),
    ("s2.4-startup-success-started", P([C("c1", startup=True)]), observe(inst("c1", RUNNING, startup=ProbeResult.SUCCESS)), "c1", False, {}, ("running", None, None), None, 0, True, True),
    ("s6.5-poststart-running-not-started", P(), observe(inst("c1", RUNNING, post_start_done=False)), "c1", False, {}, ("running", None, None), None, 0, False, False),
    ("s2.3-exit-0-completed", P(), observe(inst("c1", EXITED)), "c1", False, {}, ("terminated", "Completed", 0), None, 0, False, False),
    ("s2.3-exit-1-error", P(), observe(inst("c1", EXITED, exit=1)), "c1", False, {}, ("terminated", "Error", 1), None, 0, False, False),
    ("s2.3-oomkilled-137", P(), observe(inst("c1", EXITED, exit=137, reason="OOMKilled")), "c1", False, {}, ("terminated", "OOMKilled", 137), None, 0, False, False),
    ("s2.3-start-error-128", P(), observe(inst("c1", EXITED, exit=128, reason="StartError")), "c1", False, {}, ("terminated", "StartError", 128), None, 0, False, False),
    (
        "s2.1-two-newest-instances-only",
        P(),
        observe(inst("c1", RUNNING, restart=2, age=10), inst("c1", EXITED, exit=3, restart=1, age=50), inst("c1", EXITED, exit=4, age=90)),
        "c1", False, {}, ("running", None, None), ("terminated", "Error", 3), 2, True, True,
    ),
    (
        "s2.2-crashloop-from-reason-cache",
        P(),
        observe(inst("c1", EXITED, exit=1, restart=3)),
        "c1", False, {"reason_cache": {"c1": StartFailure(reason="CrashLoopBackOff", message="back-off 40s restarting failed container=c1 pod=p_default(u1)")}},
        ("waiting", "CrashLoopBackOff", None), ("terminated", "Error", 1), 3, False, False,
    ),
    (
        "s2.2-reason-cache-ignored-never-policy",
        P(policy="Never"),
        observe(inst("c1", EXITED, exit=1)),
        "c1", False, {"reason_cache": {"c1": StartFailure(reason="CrashLoopBackOff")}},
        ("terminated", "Error", 1), None, 0, False, False,
    ),
    (
        "s2.2-reason-cache-ignored-onfailure-success",
        P(policy="OnFailure"),
        observe(inst("c1", EXITED)),
        "c1", False, {"reason_cache": {"c1": StartFailure(reason="CrashLoopBackOff")}},
        ("terminated", "Completed", 0), None, 0, False, False,
    ),
    (
        "s2.2-reason-cache-ignored-when-deleting",
        P(deleted=True),
        observe(inst("c1", EXITED, exit=1)),
        "c1", False, {"reason_cache": {"c1": StartFailure(reason="CrashLoopBackOff")}},
        ("terminated", "Error", 1), None, 0, False, False,
    ),
    (
        "s2.2-reason-cache-never-started-image-pull",
        P(),
        observe(),
        "c1", False, {"reason_cache": {"c1": StartFailure(reason="ErrImagePull", message="pull failed")}},
        ("waiting", "ErrImagePull", None), None, 0, False, False,
    ),
    (
        "s5.1-init-crashloop-from-reason-cache",
        P(inits=[C("i1")]),
        observe(inst("i1", EXITED, exit=1, restart=2)),
        "i1", True, {"reason_cache": {"i1": StartFailure(reason="CrashLoopBackOff")}},
        ("waiting", "CrashLoopBackOff", None), ("terminated", "Error", 1), 2, False, False,
    ),
    (
        "s5.1-init-exit-0-ignores-reason-cache-and-is-ready",
        P(inits=[C("i1")]),
        observe(inst("i1", EXITED)),
        "i1", True, {"reason_cache": {"i1": StartFailure(reason="CrashLoopBackOff")}},
        ("terminated", "Completed", 0), None, 0, True, False,
    ),
    ("s2.4-regular-init-running-not-ready", P(inits=[C("i1")]), observe(inst("i1", RUNNING)), "i1", True, {}, ("running", None, None), None, 0, False, True),
    ("s2.4-sidecar-ready-like-regular-container", P(inits=[C("s1", sidecar=True)]), observe(inst("s1", RUNNING)), "s1", True, {}, ("running", None, None), None, 0, True, True),
    ("s2.4-sidecar-readiness-probe-not-ready", P(inits=[C("s1", sidecar=True, readiness=True)]), observe(inst("s1", RUNNING)), "s1", True, {}, ("running", None, None), None, 0, False, True),
    (
        "s2.1-unknown-after-running-is-status-unknown",
        P(),
        observe(inst("c1", UNKNOWN, restart=1)),
        "c1", False,
        {"previous": [ContainerStatus(name="c1", restart_count=4, state=ContainerState(running=ContainerStateRunning()))]},
        ("terminated", "ContainerStatusUnknown", 137), None, 5, False, False,
    ),
    ("s2.1-unknown-never-running-is-waiting", P(), observe(inst("c1", UNKNOWN)), "c1", False, {}, ("waiting", None, None), None, 0, False, False),
    (
        "s2.1-vanished-running-container-last-state-unknown",
        P(),
        observe(),
        "c1", False,
        {"previous": [ContainerStatus(name="c1", restart_count=2, state=ContainerState(running=ContainerStateRunning()))]},
        ("waiting", "ContainerCreating", None), ("terminated", "ContainerStatusUnknown", 137), 3, False, False,
    ),
    (
        "s2.1-vanished-running-container-deleted-no-restart-count",
        P(deleted=True),
        observe(),
        "c1", False,
        {"previous": [ContainerStatus(name="c1", restart_count=2, state=ContainerState(running=ContainerStateRunning()))]},
        ("waiting", "ContainerCreating", None), ("terminated", "ContainerStatusUnknown", 137), 2, False, False,
    ),
    (
        "s2.1-gc-d-terminated-status-kept",
        P(policy="Never"),
        observe(),
        "c1", False,
        {"previous": [ContainerStatus(name="c1", restart_count=1, state=ContainerState(terminated=ContainerStateTerminated(exit_code=2, reason="Error")))]},
        ("terminated", "Error", 2), None, 1, False, False,
    ),
]


@pytest.mark.parametrize(
    "pod,observed,name,init,kwargs,state,last,restarts,ready,started",
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_container_status(
    pod: Pod,
    observed: PodObservation,
    name: str,
    init: bool,
    kwargs: dict[str, object],
    state: tuple[str, str | None, int | None],
    last: object,
    restarts: int,
    ready: bool,
    started: bool,
) -> None:
    s = one(pod, observed, name, init=init, **kwargs)
    assert state_of(s) == state
    assert last_of(s) == last
    assert (s.restart_count, s.ready, s.started) == (restarts, ready, started)


def test_s2_1_status_fields_and_container_id() -> None:
    i1 = inst("c1", EXITED, exit=2, signal=0, message="boom")
    s = one(P(), observe(i1))
    t = s.state.terminated if s.state else None
    assert t is not None
    assert s.container_id == f"podrun://{i1.id}" == t.container_id
    assert (s.image, s.image_id) == ("docker.io/library/busybox:1.36", "sha256:abc")
    assert (t.message, t.signal, t.started_at, t.finished_at) == ("boom", None, rfc3339(NOW - 99), rfc3339(NOW - 98))
    s = one(P(), observe(inst("c1", EXITED, exit=143, signal=15)))
    assert s.state is not None and s.state.terminated is not None and s.state.terminated.signal == 15
    # no instance yet: the spec image
    s = one(P(), observe())
    assert (s.image, s.container_id, s.image_id) == ("busybox:1.36", None, "")


def test_s2_1_ordering_regular_by_name_init_by_spec() -> None:
    pod = P([C("zeta"), C("alpha"), C("mid")], [C("i2"), C("i1")])
    assert [s.name for s in compose_container_statuses(pod, observe(), init=False)] == ["alpha", "mid", "zeta"]
    assert [s.name for s in compose_container_statuses(pod, observe(), init=True)] == ["i2", "i1"]


def test_case_count() -> None:
    assert len(CASES) >= 25


# --- termination messages (§10.5) ---


def TC(policy: str | None = None, path: str | None = "/dev/termination-log") -> Container:
    return Container(name="c1", image="busybox", termination_message_policy=policy, termination_message_path=path)


LOG = [f"line {i}" for i in range(100)]


@pytest.mark.parametrize(
    "container,exit,reason,content,logs,expected",
    [
        (TC(), 0, "Completed", b"DONE", None, "DONE"),
        (TC(), 1, "Error", b"", LOG, ""),
        (TC(), 0, "Completed", b"x" * 5000 + b"END", None, "x" * 4093 + "END"),
        (TC("FallbackToLogsOnError"), 1, "Error", b"", ["a", "b"], "a\nb\n"),
        (TC("FallbackToLogsOnError"), 1, "Error", None, ["a"], "a\n"),
        (TC("FallbackToLogsOnError"), 0, "Completed", b"", ["a"], ""),
        (TC("FallbackToLogsOnError"), 1, "Error", b"OK", ["a"], "OK"),
        (TC("FallbackToLogsOnError"), 128, "ContainerCannotRun", b"", ["a"], ""),
        (TC("FallbackToLogsOnError", path=""), 2, "Error", None, ["tail"], "tail\n"),
        (TC(path=""), 2, "Error", b"ignored", ["tail"], ""),
        (TC("FallbackToLogsOnError"), 1, "Error", b"", LOG, "".join(f"line {i}\n" for i in range(20, 100))),
    ],
    ids=[
        "s10.5-file-message",
        "s10.5-file-policy-no-log-fallback",
        "s10.5-file-capped-at-4096-keeps-tail",
        "s10.5-fallback-empty-file-uses-logs",
        "s10.5-fallback-missing-file-uses-logs",
        "s10.5-fallback-exit-0-empty",
        "s10.5-fallback-file-wins",
        "s10.5-fallback-not-for-container-cannot-run",
        "s10.5-fallback-without-path-uses-logs",
        "s10.5-no-path-no-message",
        "s10.5-fallback-last-80-lines",
    ],
)
def test_termination_message(
    container: Container, exit: int, reason: str, content: bytes | None, logs: list[str] | None, expected: str
) -> None:
    assert termination_message(container, exit_code=exit, reason=reason, file_content=content, log_lines=logs) == expected


def test_s10_5_log_fallback_capped_at_2048_bytes() -> None:
    msg = termination_message_from_logs(["y" * 3000])
    assert len(msg.encode()) == 2048 and msg.endswith("y\n")


def test_s10_5_runtime_message_joined() -> None:
    assert compose_terminated_message("exec failed", "boom") == "exec failed: boom"
    assert compose_terminated_message("", "boom") == "boom"
    assert compose_terminated_message("exec failed", "") == "exec failed"


def test_s10_5_pod_budget_12k_split_over_containers() -> None:
    pod = P([C("c1"), C("c2")], [C("i1")])
    big = ContainerState(terminated=ContainerStateTerminated(exit_code=1, message="m" * 10_000))
    status = PodStatus(
        container_statuses=(ContainerStatus(name="c1", state=big, last_state=big),),
        init_container_statuses=(ContainerStatus(name="i1", state=big),),
    )
    out = truncate_termination_messages(pod, status)
    assert out.container_statuses is not None and out.init_container_statuses is not None
    cs = out.container_statuses[0]
    for state in (cs.state, cs.last_state, out.init_container_statuses[0].state):
        assert state is not None and state.terminated is not None
        assert len(state.terminated.message or "") == 12 * 1024 // 3


# --- the whole PodStatus ---


def conds(st: PodStatus) -> dict[str, tuple[str | None, str | None]]:
    return {c.type or "": (c.status, c.message) for c in st.conditions or ()}


def test_s1_generate_running_pod() -> None:
    st = generate_pod_status(P(), observe(inst("c1", RUNNING)), NOW, host_ips=["192.168.1.2"])
    assert st.phase == "Running"
    assert all(s == "True" for s, _ in conds(st).values())
    assert (st.pod_ip, st.host_ip, st.start_time) == ("10.88.0.7", "192.168.1.2", rfc3339(NOW))
    assert st.pod_ips is not None and st.pod_ips[0].ip == "10.88.0.7"
    assert st.init_container_statuses is None
    assert all(c.last_transition_time == rfc3339(NOW) for c in st.conditions or ())
    # a second sync: times and start time are kept
    st2 = generate_pod_status(P(), observe(inst("c1", RUNNING)), NOW + 60, old_status=st)
    assert st2.start_time == st.start_time
    assert [c.last_transition_time for c in st2.conditions or ()] == [c.last_transition_time for c in st.conditions or ()]


def test_s5_1_e2e_never_init_failure() -> None:
    pod = P([C("run1")], [C("init1"), C("init2")], policy="Never")
    st = generate_pod_status(pod, observe(inst("init1", EXITED), inst("init2", EXITED, exit=1)), NOW)
    assert st.phase == "Failed"
    assert conds(st)["Initialized"] == ("False", "containers with incomplete status: [init2]")
    assert st.container_statuses is not None
    assert state_of(st.container_statuses[0]) == ("waiting", "PodInitializing", None)


def test_s5_1_e2e_always_init_failure() -> None:
    pod = P([C("run1")], [C("init1"), C("init2")])
    cache = {"init1": StartFailure(reason="CrashLoopBackOff", message="back-off 20s ...")}
    st = generate_pod_status(pod, observe(inst("init1", EXITED, exit=1, restart=3)), NOW, reason_cache=cache)
    assert st.phase == "Pending"
    assert conds(st)["Initialized"] == ("False", "containers with incomplete status: [init1 init2]")
    assert st.init_container_statuses is not None
    assert [state_of(s) for s in st.init_container_statuses] == [
        ("waiting", "CrashLoopBackOff", None),
        ("waiting", "PodInitializing", None),
    ]


def test_s1_1_sticky_terminal_and_deadline() -> None:
    done = generate_pod_status(P(policy="Never"), observe(inst("c1", EXITED)), NOW)
    assert done.phase == "Succeeded"
    assert conds(done)["ContainersReady"] == ("False", None)
    again = generate_pod_status(P(policy="Never"), observe(inst("c1", RUNNING)), NOW + 1, old_status=done)
    assert again.phase == "Succeeded"
    late = generate_pod_status(P(deadline=10), observe(inst("c1", RUNNING)), NOW, start_time=NOW - 11)
    assert (late.phase, late.reason, late.message) == (
        "Failed",
        "DeadlineExceeded",
        "Pod was active on the node longer than the specified deadline",
    )
    assert conds(late)["Ready"][0] == "False"


def test_s1_1_deleted_always_pod_terminal_phase() -> None:
    st = generate_pod_status(P(deleted=True), observe(inst("c1", EXITED, exit=143)), NOW, pod_is_terminal=True)
    assert st.phase == "Failed"
    st = generate_pod_status(P(deleted=True), observe(inst("c1", EXITED)), NOW, pod_is_terminal=True)
    assert st.phase == "Succeeded"


def test_s8_sandbox_died_condition() -> None:
    st = generate_pod_status(P(), observe(inst("c1", EXITED, exit=137), sandbox=False), NOW)
    assert conds(st)["PodReadyToStartContainers"] == ("False", None)
    assert st.pod_ip is None


def test_s5_2_lifecycle_walkthrough_plan_status_kubectl() -> None:
    """A Never pod with a sidecar, an init container and an app, sync by sync: what the
    planner does, the phase and what `kubectl get pods` prints (§1.1, §5, §8.2)."""
    from podrun.core.plan import compute_pod_actions
    from podrun.core.status import kubectl_ready, kubectl_status

    pod = P([C("c1")], [C("s1", sidecar=True), C("i1")], policy="Never")

    def step(*instances: ContainerInstance, sandbox: bool = True, attempt: int = 0) -> tuple[list[str], str, str, str]:
        sbs = [SandboxObservation(id="sb", ready=sandbox, attempt=attempt, ips=("10.88.0.7",))] if instances or sandbox else []
        observed = PodObservation.build(sbs, instances)
        a = compute_pod_actions(pod, observed, NOW, in_backoff=lambda *_: 0.0)
        st = generate_pod_status(pod, observed, NOW)
        did = [f"start:{s.name}" for s in a.init_containers_to_start + a.containers_to_start]
        did += ["create-sandbox"] if a.create_sandbox else []
        did += [f"kill-pod:{','.join(a.kill_order)}"] if a.kill_pod and a.kill_order else []
        return did, st.phase or "", kubectl_status(pod, st), kubectl_ready(pod, st)

    s1 = inst("s1", RUNNING, age=50)
    assert step(sandbox=False) == (["start:s1", "create-sandbox"], "Pending", "Init:0/2", "0/2")
    assert step(s1) == (["start:i1"], "Pending", "Init:1/2", "1/2")
    assert step(s1, inst("i1", RUNNING)) == ([], "Pending", "Init:1/2", "1/2")
    i1 = inst("i1", EXITED, age=40)
    assert step(s1, i1) == (["start:c1"], "Pending", "PodInitializing", "1/2")
    assert step(s1, i1, inst("c1", RUNNING, age=30)) == ([], "Running", "Running", "2/2")
    c1 = inst("c1", EXITED, age=30)
    # keepCount == 0: the sidecar is killed with the sandbox; kubectl already says Completed
    assert step(s1, i1, c1) == (["kill-pod:s1"], "Running", "Completed", "1/2")
    # after the kill: no new sandbox for a Never pod; the phase comes from c1 alone
    dead = inst("s1", EXITED, exit=137, age=50)
    assert step(dead, i1, c1, sandbox=False, attempt=0) == ([], "Succeeded", "Completed", "0/2")


_STATES = [None, CREATED, RUNNING, EXITED, UNKNOWN]


@st.composite
def _pod_and_observation(draw: st.DrawFn) -> tuple[Pod, PodObservation, dict[str, StartFailure]]:
    inits = [C(f"i{k}", sidecar=draw(st.booleans())) for k in range(draw(st.integers(0, 2)))]
    apps = [C(f"c{k}") for k in range(draw(st.integers(1, 3)))]
    pod = P(apps, inits, policy=draw(st.sampled_from([None, "OnFailure", "Never"])), deleted=draw(st.booleans()))
    instances = []
    for c in inits + apps:
        for age in (100.0, 50.0)[: draw(st.integers(0, 2))]:
            state = draw(st.sampled_from(_STATES))
            if state is not None:
                instances.append(inst(c.name or "", state, exit=draw(st.sampled_from([0, 1])), age=age))
    cache = {n: StartFailure(reason="CrashLoopBackOff") for n in draw(st.lists(st.sampled_from([c.name or "" for c in inits + apps])))}
    return pod, observe(*instances, sandbox=draw(st.booleans())), cache


@settings(max_examples=200, deadline=None)
@given(_pod_and_observation())
def test_status_invariants(scenario: tuple[Pod, PodObservation, dict[str, StartFailure]]) -> None:
    from podrun.core.status import kubectl_row

    pod, observed, cache = scenario
    st_ = generate_pod_status(pod, observed, NOW, reason_cache=cache, pod_is_terminal=bool(pod.metadata and pod.metadata.deletion_timestamp))
    assert st_.phase in {"Pending", "Running", "Succeeded", "Failed"}
    assert [c.type for c in st_.conditions or ()][-5:] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"
    ]
    for cs in (st_.container_statuses or ()) + (st_.init_container_statuses or ()):
        state = cs.state
        assert state is not None
        assert sum(x is not None for x in (state.waiting, state.running, state.terminated)) == 1
        assert not (cs.ready and state.running is None and state.terminated is None)
    again = generate_pod_status(pod, observed, NOW + 5, old_status=st_, reason_cache=cache)
    if st_.phase in ("Succeeded", "Failed"):
        assert again.phase == st_.phase
    row = kubectl_row(pod, NOW, st_)
    assert row.status and row.ready.count("/") == 1


def test_s10_5_log_fallback_keeps_a_final_line_without_newline() -> None:
    # `echo -n DONE; false` with FallbackToLogsOnError gives "DONE" (runtime.go e2e).
    assert termination_message_from_logs(["DONE"], last_line_partial=True) == "DONE"
    assert termination_message_from_logs(["a", "DONE"], last_line_partial=True) == "a\nDONE"
    assert termination_message_from_logs(["DONE"]) == "DONE\n"


def test_unknown_instance_recomputed_keeps_its_restart_count() -> None:
    """Seed 3528061154 of the chaos test: once the +1 of a container that vanished with its
    pause is written, recomputing the status (next sync, a restarted daemon) before the
    replacement exists must not take it back (the count went 2 -> 1)."""
    i = inst("c1", UNKNOWN, restart=1)
    running = ContainerStatus(name="c1", restart_count=1, container_id=i.container_id,
                              state=ContainerState(running=ContainerStateRunning()))
    first = one(P(), observe(i), previous=[running])
    again = one(P(), observe(i), previous=[first])
    assert (first.restart_count, state_of(first)) == (2, ("terminated", "ContainerStatusUnknown", 137))
    assert (again.restart_count, state_of(again)) == (2, state_of(first))
    # the replacement then shows the same count, the vanished one as its lastState
    new = inst("c1", RUNNING, restart=2, age=1.0)
    after = one(P(), observe(new, i), previous=[again])
    assert after.restart_count == 2 and state_of(after)[0] == "running"
    assert after.last_state is not None and after.last_state.terminated is not None
    assert after.last_state.terminated.reason == "ContainerStatusUnknown"


def test_unknown_instance_in_backoff_keeps_its_restart_count() -> None:
    """The chaos replay of seed 3528061154: a crash, its restart, then the pause killed 1 s
    later. The replacement waits for the crash's backoff, so the status shows
    CrashLoopBackOff with the vanished instance as lastState; the next sync must still
    count that instance's restart (it went 2 -> 1)."""
    crashed = inst("c1", EXITED, exit=1, restart=0, age=3.0)
    gone = inst("c1", UNKNOWN, restart=1, age=2.0)
    running = ContainerStatus(name="c1", restart_count=1, container_id=gone.container_id,
                              state=ContainerState(running=ContainerStateRunning()))
    cache = {"c1": StartFailure(reason="CrashLoopBackOff", message="back-off 10s")}
    first = one(P(), observe(gone, crashed), previous=[running], reason_cache=cache)
    again = one(P(), observe(gone, crashed), previous=[first], reason_cache=cache)
    for s in (first, again):
        assert (s.restart_count, state_of(s)) == (2, ("waiting", "CrashLoopBackOff", None))
        assert s.last_state is not None and s.last_state.terminated is not None
        assert s.last_state.terminated.reason == "ContainerStatusUnknown"
