"""Pod phase: the kubelet's getPhase, the sticky terminal phase and activeDeadlineSeconds.

Source: kubelet_pods.go getPhase / generateAPIPodStatus, active_deadline.go;
BEHAVIOR.md §1.1.
"""

from __future__ import annotations

from collections.abc import Sequence

from podrun.core.observed import (
    RESTART_ALWAYS,
    RESTART_NEVER,
    is_sidecar,
    is_static_pod,
    pod_restart_policy,
    spec_containers,
    spec_init_containers,
)
from podrun.spec.types import ContainerStatus, Pod

PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
UNKNOWN = "Unknown"
TERMINAL_PHASES = frozenset({SUCCEEDED, FAILED})

DEADLINE_EXCEEDED_REASON = "DeadlineExceeded"
DEADLINE_EXCEEDED_MESSAGE = "Pod was active on the node longer than the specified deadline"


def _find(statuses: Sequence[ContainerStatus], name: str) -> ContainerStatus | None:
    for s in statuses:
        if s.name == name:
            return s
    return None


def _has_last_termination(s: ContainerStatus) -> bool:
    return s.last_state is not None and s.last_state.terminated is not None


def _last_exit_code(s: ContainerStatus) -> int:
    if s.last_state is None or s.last_state.terminated is None:
        return 0
    return s.last_state.terminated.exit_code or 0


def has_any_regular_container_started(pod: Pod, statuses: Sequence[ContainerStatus]) -> bool:
    """HasAnyRegularContainerStarted: a regular container is running or has terminated."""
    names = {c.name for c in spec_containers(pod)}
    for s in statuses:
        if s.name in names and s.state is not None:
            if s.state.running is not None or s.state.terminated is not None:
                return True
    return False


def get_phase(
    pod: Pod,
    statuses: Sequence[ContainerStatus],
    *,
    pod_is_terminal: bool = False,
    static: bool | None = None,
) -> str:
    """getPhase (§1.1) over all container and init container statuses.

    `pod_is_terminal` is the kubelet's podIsTerminal (the pod is being torn down for good);
    `static` defaults to the config-source annotation (static pods skip step 5a).
    """
    policy = pod_restart_policy(pod)
    pending_init = 0
    failed_init = 0
    # Step 1a: regular init containers.
    for c in spec_init_containers(pod):
        if is_sidecar(c):
            continue
        s = _find(statuses, c.name or "")
        state = s.state if s is not None else None
        if s is None or state is None:
            pending_init += 1
        elif state.running is not None:
            pending_init += 1
        elif state.terminated is not None:
            if (state.terminated.exit_code or 0) != 0:
                failed_init += 1
        elif state.waiting is not None:
            if _has_last_termination(s):
                if _last_exit_code(s) != 0:
                    failed_init += 1
            else:
                pending_init += 1
        else:
            pending_init += 1

    unknown = running = waiting = stopped = succeeded = 0
    # Step 1b: sidecars.
    for c in spec_init_containers(pod):
        if not is_sidecar(c):
            continue
        s = _find(statuses, c.name or "")
        if s is None:
            unknown += 1
            continue
        state = s.state
        if state is not None and state.running is not None:
            if not s.started:
                pending_init += 1
            running += 1
        elif state is not None and state.terminated is not None:
            pass  # an exited sidecar does not count
        elif state is not None and state.waiting is not None:
            if not _has_last_termination(s):
                pending_init += 1
                waiting += 1
        else:
            pending_init += 1
            unknown += 1

    # Step 2: regular containers.
    for c in spec_containers(pod):
        s = _find(statuses, c.name or "")
        state = s.state if s is not None else None
        if s is None or state is None:
            unknown += 1
        elif state.running is not None:
            running += 1
        elif state.terminated is not None:
            stopped += 1
            if (state.terminated.exit_code or 0) == 0:
                succeeded += 1
        elif state.waiting is not None:
            if _has_last_termination(s):
                # Only stopped, never succeeded, in the code read (v1.30+), although
                # BEHAVIOR.md §1.1 says "succeeded if that last exit was 0". It rarely
                # matters: a terminating pod's containers are not waiting.
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1

    # Step 3.
    if failed_init > 0 and policy == RESTART_NEVER:
        return FAILED
    if pending_init > 0 and not has_any_regular_container_started(pod, statuses):
        return PENDING
    if waiting > 0:
        return PENDING
    if running > 0 and unknown == 0:
        return RUNNING
    if running == 0 and stopped > 0 and unknown == 0:
        if pod_is_terminal and not (is_static_pod(pod) if static is None else static):
            return SUCCEEDED if stopped == succeeded else FAILED
        if policy == RESTART_ALWAYS:
            return RUNNING
        if stopped == succeeded:
            return SUCCEEDED
        if policy == RESTART_NEVER:
            return FAILED
        return RUNNING
    return PENDING


def next_phase(old: str | None, new: str) -> str:
    """The sticky terminal phase: once Succeeded or Failed, a pod never leaves it."""
    if old is not None and old in TERMINAL_PHASES:
        return old
    return new


def active_deadline_exceeded(
    active_deadline_seconds: int | None, start_time: float | None, now: float
) -> bool:
    """pastActiveDeadline: running for at least activeDeadlineSeconds since startTime."""
    if active_deadline_seconds is None or start_time is None:
        return False
    return now - start_time >= active_deadline_seconds
