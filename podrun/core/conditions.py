"""Pod conditions the kubelet owns, with its exact reasons and messages.

Source: status/generate.go, status_manager.go (updateLastTransitionTime),
kubelet_pods.go generateAPIPodStatus; BEHAVIOR.md §1.2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from podrun.core.observed import (
    PodObservation,
    is_sidecar,
    rfc3339,
    sandbox_changed,
    spec_containers,
    spec_init_containers,
)
from podrun.core.phase import FAILED, SUCCEEDED, has_any_regular_container_started
from podrun.spec.types import ContainerStatus, Pod, PodCondition

POD_SCHEDULED = "PodScheduled"
POD_READY_TO_START_CONTAINERS = "PodReadyToStartContainers"
INITIALIZED = "Initialized"
CONTAINERS_READY = "ContainersReady"
READY = "Ready"
DISRUPTION_TARGET = "DisruptionTarget"
KUBELET_CONDITIONS = frozenset(
    {POD_SCHEDULED, POD_READY_TO_START_CONTAINERS, INITIALIZED, CONTAINERS_READY, READY}
)

TRUE = "True"
FALSE = "False"

UNKNOWN_CONTAINER_STATUSES = "UnknownContainerStatuses"
POD_COMPLETED = "PodCompleted"
POD_FAILED = "PodFailed"
CONTAINERS_NOT_READY = "ContainersNotReady"
CONTAINERS_NOT_INITIALIZED = "ContainersNotInitialized"
READINESS_GATES_NOT_READY = "ReadinessGatesNotReady"


def _cond(type_: str, status: str, reason: str = "", message: str = "") -> PodCondition:
    return PodCondition(type=type_, status=status, reason=reason or None, message=message or None)


def _go_list(names: Sequence[str]) -> str:
    """fmt's %s of a []string: `[a b c]`."""
    return "[" + " ".join(names) + "]"


def _find(statuses: Sequence[ContainerStatus], name: str) -> ContainerStatus | None:
    for s in statuses:
        if s.name == name:
            return s
    return None


def containers_ready_condition(
    pod: Pod, statuses: Sequence[ContainerStatus] | None, phase: str
) -> PodCondition:
    """GenerateContainersReadyCondition: every sidecar and regular container is ready."""
    if statuses is None:
        return _cond(CONTAINERS_READY, FALSE, UNKNOWN_CONTAINER_STATUSES)
    unknown: list[str] = []
    unready: list[str] = []
    watched = [c for c in spec_init_containers(pod) if is_sidecar(c)] + list(spec_containers(pod))
    for c in watched:
        name = c.name or ""
        s = _find(statuses, name)
        if s is None:
            unknown.append(name)
        elif not s.ready:
            unready.append(name)
    if phase == SUCCEEDED and not unknown:
        return _cond(CONTAINERS_READY, FALSE, POD_COMPLETED)
    if phase == FAILED:
        return _cond(CONTAINERS_READY, FALSE, POD_FAILED)
    messages: list[str] = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if unready:
        messages.append(f"containers with unready status: {_go_list(unready)}")
    if messages:
        return _cond(CONTAINERS_READY, FALSE, CONTAINERS_NOT_READY, ", ".join(messages))
    return _cond(CONTAINERS_READY, TRUE)


def pod_ready_condition(
    pod: Pod,
    conditions: Sequence[PodCondition],
    statuses: Sequence[ContainerStatus] | None,
    phase: str,
) -> PodCondition:
    """GeneratePodReadyCondition: ContainersReady and every readiness gate True."""
    cr = containers_ready_condition(pod, statuses, phase)
    if cr.status != TRUE:
        return PodCondition(type=READY, status=cr.status, reason=cr.reason, message=cr.message)
    messages: list[str] = []
    gates = (pod.spec.readiness_gates or ()) if pod.spec is not None else ()
    for gate in gates:
        ctype = gate.condition_type or ""
        found = next((c for c in conditions if c.type == ctype), None)
        if found is None:
            messages.append(f'corresponding condition of pod readiness gate "{ctype}" does not exist.')
        elif found.status != TRUE:
            messages.append(
                f'the status of pod readiness gate "{ctype}" is not "True", but {found.status or ""}'
            )
    if messages:
        return _cond(READY, FALSE, READINESS_GATES_NOT_READY, ", ".join(messages))
    return _cond(READY, TRUE)


def _init_container_initialized(sidecar: bool, s: ContainerStatus) -> bool:
    """isInitContainerInitialized: a sidecar is started, a regular one is ready (exited 0)."""
    return bool(s.started) if sidecar else bool(s.ready)


def initialized_condition(
    pod: Pod, statuses: Sequence[ContainerStatus] | None, phase: str
) -> PodCondition:
    """GeneratePodInitializedCondition."""
    inits = spec_init_containers(pod)
    if statuses is None:
        if inits:
            return _cond(INITIALIZED, FALSE, UNKNOWN_CONTAINER_STATUSES)
        statuses = ()
    unknown: list[str] = []
    incomplete: list[str] = []
    for c in inits:
        name = c.name or ""
        s = _find(statuses, name)
        if s is None:
            unknown.append(name)
        elif not _init_container_initialized(is_sidecar(c), s):
            incomplete.append(name)
    if phase == SUCCEEDED and not unknown:
        return _cond(INITIALIZED, TRUE, POD_COMPLETED)
    if has_any_regular_container_started(pod, statuses):
        return _cond(INITIALIZED, TRUE)
    messages: list[str] = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if incomplete:
        messages.append(f"containers with incomplete status: {_go_list(incomplete)}")
    if messages:
        return _cond(INITIALIZED, FALSE, CONTAINERS_NOT_INITIALIZED, ", ".join(messages))
    return _cond(INITIALIZED, TRUE)


def ready_to_start_containers_condition(pod: Pod, observed: PodObservation) -> PodCondition:
    """GeneratePodReadyToStartContainersCondition: True iff no new sandbox is needed (§8.1)."""
    changed, _, _ = sandbox_changed(pod, observed)
    return _cond(POD_READY_TO_START_CONTAINERS, FALSE if changed else TRUE)


def pod_scheduled_condition() -> PodCondition:
    return _cond(POD_SCHEDULED, TRUE)


def generate_conditions(
    pod: Pod,
    statuses: Sequence[ContainerStatus] | None,
    phase: str,
    observed: PodObservation,
    existing: Sequence[PodCondition] = (),
) -> tuple[PodCondition, ...]:
    """The pod's conditions in the kubelet's order: conditions it does not own (from
    `existing`, e.g. readiness gates) first, then PodReadyToStartContainers, Initialized,
    Ready, ContainersReady, PodScheduled. `statuses` holds init and regular statuses.
    No lastTransitionTime yet: see update_conditions."""
    out = [c for c in existing if c.type not in KUBELET_CONDITIONS]
    out.append(ready_to_start_containers_condition(pod, observed))
    out.append(initialized_condition(pod, statuses, phase))
    out.append(pod_ready_condition(pod, out, statuses, phase))
    out.append(containers_ready_condition(pod, statuses, phase))
    out.append(pod_scheduled_condition())
    return tuple(out)


def update_conditions(
    old: Sequence[PodCondition] | None, new: Sequence[PodCondition], now: float
) -> tuple[PodCondition, ...]:
    """updateLastTransitionTime: a kubelet condition keeps its old lastTransitionTime while
    its status is unchanged, else gets `now`. Other conditions pass through."""
    previous = {c.type: c for c in (old or ())}
    stamp = rfc3339(now)
    out: list[PodCondition] = []
    for c in new:
        if c.type not in KUBELET_CONDITIONS:
            out.append(c)
            continue
        before = previous.get(c.type)
        if before is not None and before.status == c.status and before.last_transition_time:
            ltt = before.last_transition_time
        else:
            ltt = stamp
        out.append(dataclasses.replace(c, last_transition_time=ltt))
    return tuple(out)


def condition(conditions: Sequence[PodCondition] | None, type_: str) -> PodCondition | None:
    """The condition of type `type_`, or None."""
    return next((c for c in (conditions or ()) if c.type == type_), None)
