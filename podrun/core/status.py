"""Compose the v1 PodStatus from observations, and print it the way kubectl does.

Sources: kubelet_pods.go (convertToAPIContainerStatuses, generateAPIPodStatus),
prober/prober_manager.go (UpdatePodStatus: ready/started), kuberuntime_container.go
(termination messages), status_manager.go (normalizeStatus), and kubectl's printPod
(pkg/printers/internalversion/printers.go) with apimachinery's duration.HumanDuration.
BEHAVIOR.md §1, §2, §10.5.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from podrun.core.conditions import (
    INITIALIZED,
    POD_SCHEDULED,
    READY,
    TRUE,
    generate_conditions,
    update_conditions,
)
from podrun.core.observed import (
    ContainerInstance,
    ContainerRuntimeState,
    PodObservation,
    ProbeResult,
    StartFailure,
    container_name,
    is_sidecar,
    is_terminating,
    parse_rfc3339,
    pod_restart_policy,
    rfc3339,
    spec_containers,
    spec_init_containers,
)
from podrun.core.phase import (
    DEADLINE_EXCEEDED_MESSAGE,
    DEADLINE_EXCEEDED_REASON,
    FAILED,
    TERMINAL_PHASES,
    active_deadline_exceeded,
    get_phase,
    next_phase,
)
from podrun.core.plan import should_container_be_restarted
from podrun.spec.types import (
    Container,
    ContainerState,
    ContainerStateRunning,
    ContainerStateTerminated,
    ContainerStateWaiting,
    ContainerStatus,
    HostIP,
    Pod,
    PodIP,
    PodStatus,
)

CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
CONTAINER_STATUS_UNKNOWN = "ContainerStatusUnknown"
UNKNOWN_TERMINATED_MESSAGE = "The container could not be located when the pod was terminated"
UNKNOWN_DELETED_MESSAGE = (
    "The container could not be located when the pod was deleted.  The container used to be Running"
)

# K8S: pkg/kubelet/container/runtime.go
MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH = 1024 * 12
MAX_CONTAINER_TERMINATION_MESSAGE_LENGTH = 1024 * 4
MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LENGTH = 1024 * 2
MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LINES = 80
FALLBACK_TO_LOGS_ON_ERROR = "FallbackToLogsOnError"

_RUNNING = ContainerRuntimeState.RUNNING
_EXITED = ContainerRuntimeState.EXITED
_CREATED = ContainerRuntimeState.CREATED
_UNKNOWN = ContainerRuntimeState.UNKNOWN


# --- container statuses (§2) ---


def _waiting(reason: str = "", message: str = "") -> ContainerState:
    return ContainerState(
        waiting=ContainerStateWaiting(reason=reason or None, message=message or None)
    )


def _terminated_reason(inst: ContainerInstance) -> str:
    """The runtime's reason; containerd's defaults when the runtime gave none (§2.3)."""
    if inst.reason:
        return inst.reason
    return "Completed" if inst.exit_code == 0 else "Error"


def _gone_before(old: ContainerStatus | None, cid: str | None) -> ContainerState | None:
    """The terminated ContainerStatusUnknown state the last status written gave instance
    `cid` (as its state, or as lastState under a CrashLoopBackOff waiting), or None.

    The +1 of an unknown instance hangs on the previous status being "running"; once the
    terminated status is written (and persisted with the pod), a recomputation before the
    replacement container exists (the next sync while the restart backs off, a restarted
    daemon) would see no running state and fall back to the instance's own restartCount:
    the count would go down (chaos seed 3528061154: 2 -> 1, 5 -> 4)."""
    if old is None or not cid or old.container_id != cid or old.state is None:
        return None
    shown = old.state if old.state.waiting is None else old.last_state
    term = shown.terminated if shown is not None else None
    if term is None or term.reason != CONTAINER_STATUS_UNKNOWN:
        return None
    return ContainerState(terminated=term)


def _convert(inst: ContainerInstance, spec_image: str, old: ContainerStatus | None) -> ContainerStatus:
    """convertContainerStatus: one runtime instance as an API status."""
    cid = inst.container_id
    restart_count = inst.restart_index
    if inst.state is _RUNNING:
        state = ContainerState(
            running=ContainerStateRunning(
                started_at=rfc3339(inst.started_at) if inst.started_at is not None else None
            )
        )
    elif inst.state is _CREATED:
        state = _waiting()
    elif inst.state is _EXITED:
        state = ContainerState(
            terminated=ContainerStateTerminated(
                exit_code=inst.exit_code,
                signal=inst.signal or None,
                reason=_terminated_reason(inst),
                message=inst.message or None,
                started_at=rfc3339(inst.started_at) if inst.started_at is not None else None,
                finished_at=rfc3339(inst.finished_at) if inst.finished_at is not None else None,
                container_id=cid,
            )
        )
    elif old is not None and (gone := _gone_before(old, cid)) is not None:
        # this very instance was already reported gone: the same status again, so that
        # recomputing it (next sync, daemon restart) never takes the restart back
        state, restart_count = gone, old.restart_count or 0
    elif (
        old is not None and old.state is not None and old.state.running is not None
    ):  # unknown, and it was running before: it ran and is gone
        state = ContainerState(
            terminated=ContainerStateTerminated(
                exit_code=137,
                reason=CONTAINER_STATUS_UNKNOWN,
                message=UNKNOWN_TERMINATED_MESSAGE,
            )
        )
        restart_count = (old.restart_count or 0) + 1
    else:
        state = _waiting()
    return ContainerStatus(
        name=inst.name,
        state=state,
        last_state=ContainerState(),
        ready=False,
        restart_count=restart_count,
        image=inst.image or spec_image,
        image_id=inst.image_id,
        container_id=cid,
    )


def _probe_flags(
    c: Container, s: ContainerStatus, inst: ContainerInstance | None, *, regular_init: bool
) -> tuple[bool, bool]:
    """prober_manager.UpdatePodStatus: (started, ready) for one status (§2.4)."""
    running = s.state is not None and s.state.running is not None and inst is not None
    started = False
    if running and inst is not None:
        if c.startup_probe is not None:
            started = inst.startup is ProbeResult.SUCCESS
        else:
            started = True
        started = started and inst.post_start_done
    if regular_init:
        t = s.state.terminated if s.state is not None else None
        return started, t is not None and (t.exit_code or 0) == 0
    ready = False
    if started and inst is not None:
        ready = c.readiness_probe is None or inst.readiness is ProbeResult.SUCCESS
    return started, ready


def compose_container_statuses(
    pod: Pod,
    observed: PodObservation,
    *,
    init: bool,
    previous: Sequence[ContainerStatus] | None = None,
    reason_cache: Mapping[str, StartFailure] | None = None,
    terminating: bool | None = None,
) -> tuple[ContainerStatus, ...]:
    """convertToAPIContainerStatuses for the init containers (`init=True`) or the regular
    ones, plus ready/started. Regular statuses are sorted by name, init ones follow the
    spec. `previous` is the last status written (for vanished containers), `reason_cache`
    the last start failure per container name (CrashLoopBackOff, RunContainerError...)."""
    inits = spec_init_containers(pod)
    containers = inits if init else spec_containers(pod)
    default = _waiting(POD_INITIALIZING if inits else CONTAINER_CREATING)
    old = {s.name: s for s in (previous or ())}
    cache = reason_cache or {}
    deleting = is_terminating(pod) if terminating is None else terminating
    policy = pod_restart_policy(pod)

    statuses: dict[str, ContainerStatus] = {}
    for c in containers:
        name = container_name(c)
        st = ContainerStatus(
            name=name,
            image=c.image,
            image_id="",
            state=default,
            last_state=ContainerState(),
            ready=False,
            restart_count=0,
        )
        o = old.get(name)
        if o is not None:
            if o.state is not None and o.state.terminated is not None:
                st = o
            else:
                st = dataclasses.replace(
                    st, restart_count=o.restart_count or 0, last_state=o.last_state or ContainerState()
                )
        statuses[name] = st

    # A container that was running and whose instances are all gone: show it as stopped
    # (lastState ContainerStatusUnknown), not as waiting, so the pod does not go Pending.
    for c in containers:
        name = container_name(c)
        if observed.instances(name):
            continue
        o = old.get(name)
        if o is None or o.state is None or o.state.terminated is not None or o.state.running is None:
            continue
        st = statuses[name]
        if st.state != default:
            continue
        if st.last_state is not None and st.last_state.terminated is not None:
            continue
        st = dataclasses.replace(
            st,
            last_state=ContainerState(
                terminated=ContainerStateTerminated(
                    exit_code=137, reason=CONTAINER_STATUS_UNKNOWN, message=UNKNOWN_DELETED_MESSAGE
                )
            ),
            restart_count=(st.restart_count or 0) + (0 if deleting else 1),
        )
        statuses[name] = st

    # The two newest instances: state and lastState.
    for c in containers:
        name = container_name(c)
        found = observed.instances(name)[:2]
        if not found:
            continue
        st = _convert(found[0], c.image or "", old.get(name))
        if len(found) > 1:
            prev = _convert(found[1], c.image or "", old.get(name))
            st = dataclasses.replace(st, last_state=prev.state)
        statuses[name] = st

    # Containers the next sync will (re)start show the reason of their last failed start.
    for c in containers:
        name = container_name(c)
        latest = observed.latest(name)
        if init and latest is not None and latest.state is _EXITED and latest.exit_code == 0:
            continue
        if not should_container_be_restarted(c, latest, policy, terminating=deleting):
            continue
        failure = cache.get(name)
        if failure is None:
            continue
        st = statuses[name]
        last = st.state if st.state is not None and st.state.terminated is not None else st.last_state
        statuses[name] = dataclasses.replace(
            st, last_state=last, state=_waiting(failure.reason, failure.message)
        )

    out: list[ContainerStatus] = []
    for c in containers:
        name = container_name(c)
        st = statuses[name]
        started, ready = _probe_flags(
            c, st, observed.latest(name), regular_init=init and not is_sidecar(c)
        )
        out.append(dataclasses.replace(st, started=started, ready=ready))
    if not init:
        out.sort(key=lambda s: s.name or "")
    return tuple(out)


# --- termination messages (§10.5) ---


def _tail_bytes(data: bytes, limit: int) -> bytes:
    return data[-limit:] if len(data) > limit else data


def termination_message_from_file(content: bytes) -> str:
    """tail.ReadAtMost(path, 4096): the last 4096 bytes of the file."""
    return _tail_bytes(content, MAX_CONTAINER_TERMINATION_MESSAGE_LENGTH).decode(
        "utf-8", errors="replace"
    )


def termination_message_from_logs(lines: Sequence[str], *, last_line_partial: bool = False) -> str:
    """readLastStringFromContainerLogs: the last 80 log lines, then the last 2048 bytes.

    `last_line_partial`: the container's last output had no final newline (a P entry at
    EOF); the kubelet's log reader returns it without one (`echo -n DONE` gives "DONE").
    """
    tail = lines[-MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LINES:] if lines else []
    text = "".join(line if line.endswith("\n") else line + "\n" for line in tail)
    if last_line_partial and text.endswith("\n"):
        text = text[:-1]
    return _tail_bytes(text.encode(), MAX_CONTAINER_TERMINATION_MESSAGE_LOG_LENGTH).decode(
        "utf-8", errors="replace"
    )


def termination_message(
    c: Container,
    *,
    exit_code: int,
    reason: str,
    file_content: bytes | None,
    log_lines: Sequence[str] | None = None,
    last_line_partial: bool = False,
) -> str:
    """getTerminationMessage plus the FallbackToLogsOnError rule.

    `file_content` is the termination-message file (None: the file does not exist);
    `log_lines` the container's log lines (message text), read only when needed.
    """
    fallback = (
        c.termination_message_policy == FALLBACK_TO_LOGS_ON_ERROR
        and exit_code != 0
        and reason != "ContainerCannotRun"
    )
    message = ""
    check_logs = fallback
    if c.termination_message_path and file_content is not None:
        message = termination_message_from_file(file_content)
        check_logs = fallback and len(file_content) == 0
    if check_logs:
        message = termination_message_from_logs(log_lines or (),
                                                last_line_partial=last_line_partial)
    return message


def compose_terminated_message(runtime_message: str, termination: str) -> str:
    """state.terminated.message: the runtime's message, ": ", then the termination message."""
    if not termination:
        return runtime_message
    return f"{runtime_message}: {termination}" if runtime_message else termination


def truncate_termination_messages(pod: Pod, status: PodStatus) -> PodStatus:
    """normalizeStatus: every terminated message is cut to 12 KiB / number of containers."""
    n = len(spec_containers(pod)) + len(spec_init_containers(pod))
    budget = MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH // n if n else MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH

    def cut_state(s: ContainerState | None) -> ContainerState | None:
        if s is None or s.terminated is None or not s.terminated.message:
            return s
        raw = s.terminated.message.encode()
        if len(raw) <= budget:
            return s
        msg = raw[:budget].decode("utf-8", errors="replace")
        return dataclasses.replace(s, terminated=dataclasses.replace(s.terminated, message=msg))

    def cut(statuses: tuple[ContainerStatus, ...] | None) -> tuple[ContainerStatus, ...] | None:
        if statuses is None:
            return None
        return tuple(
            dataclasses.replace(x, state=cut_state(x.state), last_state=cut_state(x.last_state))
            for x in statuses
        )

    return dataclasses.replace(
        status,
        container_statuses=cut(status.container_statuses),
        init_container_statuses=cut(status.init_container_statuses),
        ephemeral_container_statuses=cut(status.ephemeral_container_statuses),
    )


# --- the whole PodStatus (item 9, pure part) ---


def generate_pod_status(
    pod: Pod,
    observed: PodObservation,
    now: float,
    *,
    old_status: PodStatus | None = None,
    reason_cache: Mapping[str, StartFailure] | None = None,
    pod_is_terminal: bool = False,
    start_time: float | None = None,
    host_ips: Sequence[str] = (),
    qos_class: str | None = None,
) -> PodStatus:
    """generateAPIPodStatus: statuses, phase (sticky), reason, conditions with their
    lastTransitionTime, IPs, startTime. `start_time` defaults to the old one, else `now`."""
    old = old_status or PodStatus()
    init_statuses = compose_container_statuses(
        pod, observed, init=True, previous=old.init_container_statuses, reason_cache=reason_cache
    )
    statuses = compose_container_statuses(
        pod, observed, init=False, previous=old.container_statuses, reason_cache=reason_cache
    )
    phase = get_phase(pod, statuses + init_statuses, pod_is_terminal=pod_is_terminal)
    api_phase = pod.status.phase if pod.status is not None else None
    # Sticky terminal phase: neither the last written status nor the stored pod may
    # leave Succeeded/Failed.
    phase = next_phase(api_phase, next_phase(old.phase, phase))
    reason = message = None
    if phase == old.phase:
        reason, message = old.reason, old.message
    if start_time is None:
        start_time = parse_rfc3339(old.start_time) if old.start_time else now
    deadline = pod.spec.active_deadline_seconds if pod.spec is not None else None
    if active_deadline_exceeded(deadline, start_time, now) and phase not in TERMINAL_PHASES:
        phase, reason, message = FAILED, DEADLINE_EXCEEDED_REASON, DEADLINE_EXCEEDED_MESSAGE
    existing = old.conditions or (pod.status.conditions if pod.status is not None else None) or ()
    conditions = generate_conditions(pod, init_statuses + statuses, phase, observed, existing)
    conditions = update_conditions(old.conditions, conditions, now)
    ips = observed.ips
    status = PodStatus(
        phase=phase,
        reason=reason,
        message=message,
        conditions=conditions,
        init_container_statuses=init_statuses if spec_init_containers(pod) else None,
        container_statuses=statuses,
        pod_ip=ips[0] if ips else None,
        pod_ips=tuple(PodIP(ip=ip) for ip in ips) if ips else None,
        host_ip=host_ips[0] if host_ips else None,
        host_ips=tuple(HostIP(ip=ip) for ip in host_ips) if host_ips else None,
        start_time=rfc3339(start_time),
        qos_class=qos_class,
    )
    return truncate_termination_messages(pod, status)


# --- kubectl get pods (printPod) ---


def human_duration(seconds: float) -> str:
    """apimachinery duration.HumanDuration: 45s, 2m5s, 15m, 3h10m, 2d4h, 400d, 3y10d."""
    s = int(seconds)  # Go's int(d.Seconds()) truncates toward zero
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def translate_timestamp_since(ts: str | None, now: float) -> str:
    """translateTimestampSince: `<unknown>` for a missing time, else the age."""
    if not ts:
        return "<unknown>"
    return human_duration(now - parse_rfc3339(ts))


@dataclass(frozen=True, slots=True)
class KubectlRow:
    """One `kubectl get pods` row; ip/node/nominated_node/readiness_gates are -o wide."""

    name: str
    ready: str
    status: str
    restarts: str
    age: str
    ip: str
    node: str
    nominated_node: str
    readiness_gates: str


def _has_condition_true(status: PodStatus, type_: str) -> bool:
    return any(c.type == type_ and c.status == TRUE for c in (status.conditions or ()))


def _finished_at(s: ContainerStatus) -> float | None:
    t = s.last_state.terminated if s.last_state is not None else None
    if t is None or not t.finished_at:
        return None
    return parse_rfc3339(t.finished_at)


def kubectl_row(pod: Pod, now: float, status: PodStatus | None = None) -> KubectlRow:
    """printPod: NAME READY STATUS RESTARTS AGE (and the -o wide columns)."""
    st = status if status is not None else (pod.status or PodStatus())
    md = pod.metadata
    spec_inits = {c.name: c for c in spec_init_containers(pod)}
    restarts = 0
    sidecar_restarts = 0
    total = len(spec_containers(pod)) + sum(1 for c in spec_inits.values() if is_sidecar(c))
    ready = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None

    reason = st.phase or ""
    if st.reason:
        reason = st.reason
    for cond in st.conditions or ():
        if cond.type == POD_SCHEDULED and cond.reason == "SchedulingGated":
            reason = "SchedulingGated"

    initializing = False
    n_inits = len(spec_init_containers(pod))
    for i, cs in enumerate(st.init_container_statuses or ()):
        restarts += cs.restart_count or 0
        fin = _finished_at(cs)
        if fin is not None and (last_restart is None or fin > last_restart):
            last_restart = fin
        spec = spec_inits.get(cs.name)
        sidecar = spec is not None and is_sidecar(spec)
        if sidecar:
            sidecar_restarts += cs.restart_count or 0
            if fin is not None and (last_sidecar_restart is None or fin > last_sidecar_restart):
                last_sidecar_restart = fin
        state = cs.state or ContainerState()
        term = state.terminated
        wait = state.waiting
        if term is not None and (term.exit_code or 0) == 0:
            continue
        if sidecar and cs.started:
            if cs.ready:
                ready += 1
            continue
        if term is not None:
            if not term.reason:
                if term.signal:
                    reason = f"Init:Signal:{term.signal}"
                else:
                    reason = f"Init:ExitCode:{term.exit_code or 0}"
            else:
                reason = "Init:" + term.reason
        elif wait is not None and wait.reason and wait.reason != POD_INITIALIZING:
            reason = "Init:" + wait.reason
        else:
            reason = f"Init:{i}/{n_inits}"
        initializing = True
        break

    if not initializing or _has_condition_true(st, INITIALIZED):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        for cs in reversed(st.container_statuses or ()):
            restarts += cs.restart_count or 0
            fin = _finished_at(cs)
            if fin is not None and (last_restart is None or fin > last_restart):
                last_restart = fin
            state = cs.state or ContainerState()
            if state.waiting is not None and state.waiting.reason:
                reason = state.waiting.reason
            elif state.terminated is not None and state.terminated.reason:
                reason = state.terminated.reason
            elif state.terminated is not None:
                if state.terminated.signal:
                    reason = f"Signal:{state.terminated.signal}"
                else:
                    reason = f"ExitCode:{state.terminated.exit_code or 0}"
            elif cs.ready and state.running is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition_true(st, READY) else "NotReady"

    deleting = md is not None and md.deletion_timestamp is not None
    if deleting and st.reason == "NodeLost":
        reason = "Unknown"
    elif deleting and st.phase not in TERMINAL_PHASES:
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"

    ip = st.pod_ips[0].ip if st.pod_ips else None
    node = pod.spec.node_name if pod.spec is not None else None
    gates = (pod.spec.readiness_gates or ()) if pod.spec is not None else ()
    gates_text = "<none>"
    if gates:
        true_count = 0
        for g in gates:
            for cond in st.conditions or ():
                if cond.type == g.condition_type:
                    if cond.status == TRUE:
                        true_count += 1
                    break
        gates_text = f"{true_count}/{len(gates)}"
    return KubectlRow(
        name=(md.name if md else None) or "",
        ready=f"{ready}/{total}",
        status=reason,
        restarts=restarts_text,
        age=translate_timestamp_since(md.creation_timestamp if md else None, now),
        ip=ip or "<none>",
        node=node or "<none>",
        nominated_node=st.nominated_node_name or "<none>",
        readiness_gates=gates_text,
    )


def kubectl_status(pod: Pod, status: PodStatus | None = None) -> str:
    """The STATUS column of `kubectl get pods` (printPod's reason)."""
    return kubectl_row(pod, 0.0, status).status


def kubectl_ready(pod: Pod, status: PodStatus | None = None) -> str:
    """The READY column: ready containers / containers, sidecars counted (kubectl ≥ 1.29)."""
    return kubectl_row(pod, 0.0, status).ready


def kubectl_restarts(pod: Pod, now: float, status: PodStatus | None = None) -> str:
    """The RESTARTS column: `5 (2m ago)`, the age of the newest lastState finishedAt."""
    return kubectl_row(pod, now, status).restarts
