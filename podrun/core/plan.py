"""The pod planner: the kubelet's computePodActions, as data.

Given the spec, what the runtime reports and the time, say what one sync should do:
kill or create the sandbox, which containers to kill (with reason) and which to start, in
order, and which restarts must wait for the CrashLoopBackOff backoff. Sources:
kuberuntime_manager.go (computePodActions, SyncPod, doBackOff) and
kuberuntime_container.go (computeInitContainerActions); BEHAVIOR.md §3, §5, §8.

The worker executes a PodActions in SyncPod's order: kill the pod (or the listed
containers), create the sandbox, start `init_containers_to_start` in order (stop at the
first regular init container that fails to start; a failed sidecar start does not stop
the rest), then start `containers_to_start` in order. For every start it calls the
backoff's Next(key, backoff_since) first, as doBackOff does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from podrun.core.backoff import Backoff, container_backoff_key, go_duration
from podrun.core.backoff import container_hash as _name_image_hash
from podrun.core.observed import (
    RESTART_NEVER,
    RESTART_ON_FAILURE,
    ContainerInstance,
    ContainerRuntimeState,
    PodObservation,
    ProbeResult,
    StartFailure,
    container_name,
    is_sidecar,
    is_terminating,
    pod_full_name,
    pod_restart_policy,
    sandbox_changed,
    spec_containers,
    spec_init_containers,
)
from podrun.core.phase import active_deadline_exceeded
from podrun.core.termination import KillReason
from podrun.spec.types import Container, Pod

_CREATED = ContainerRuntimeState.CREATED
_RUNNING = ContainerRuntimeState.RUNNING
_EXITED = ContainerRuntimeState.EXITED
_UNKNOWN = ContainerRuntimeState.UNKNOWN

# in_backoff(container_name, image, finished_at, now) -> seconds left before a restart may
# happen (0 = may start now). The key is the kubelet's GetStableKey: pod + name + image.
InBackoff = Callable[[str, str, float, float], float]
# backoff_period(container_name, image) -> the current backoff period, for the message.
BackoffPeriod = Callable[[str, str], float]
HashContainer = Callable[[Container], str]

CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
SANDBOX_CHANGED_MESSAGE = "Pod sandbox changed, it will be killed and re-created."


class ContainerKind(StrEnum):
    INIT = "init"
    SIDECAR = "sidecar"
    REGULAR = "regular"


class PodKillReason(StrEnum):
    """Why a PodActions kills the whole pod."""

    NONE = ""
    SANDBOX_CHANGED = "SandboxChanged"
    INIT_CONTAINER_FAILED = "InitContainerFailed"
    COMPLETED = "Completed"
    TERMINATING = "Terminating"
    DEADLINE_EXCEEDED = "DeadlineExceeded"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerKill:
    """containerToKillInfo: one running (or unknown) instance to stop."""

    name: str
    container_id: str
    kind: ContainerKind
    message: str
    # What picks the grace (§6.2): LivenessProbe/StartupProbe use the probe's
    # terminationGracePeriodSeconds; Unknown covers spec changes and unknown states.
    reason: KillReason = KillReason.UNKNOWN


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerStart:
    """One container to create and start.

    `restart_count` is the new instance's restartCount and log file number; None means no
    instance is known, so the worker derives it from the log directory
    (calcRestartCountByLogDir, §2.4). `backoff_since` is the finishedAt of the newest exited
    instance: the worker passes it to the backoff's Next() when it starts the container.
    """

    name: str
    index: int
    kind: ContainerKind
    image: str
    restart_count: int | None
    backoff_since: float | None
    backoff_key: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffWait:
    """A restart that must wait: waiting.reason CrashLoopBackOff with the kubelet's message."""

    name: str
    kind: ContainerKind
    remaining: float
    period: float
    message: str
    event_message: str

    @property
    def start_failure(self) -> StartFailure:
        """The reason-cache entry the worker records for this container."""
        return StartFailure(reason=CRASH_LOOP_BACK_OFF, message=self.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class PodActions:
    """podActions: everything one sync does, in the fields' order of execution."""

    kill_pod: bool = False
    kill_reason: PodKillReason = PodKillReason.NONE
    kill_message: str = ""
    # Running containers in the order their stop signals go out (§6.3): regular
    # containers, then sidecars in reverse spec order. Set whenever kill_pod is.
    kill_order: tuple[str, ...] = ()
    create_sandbox: bool = False
    sandbox_id: str = ""
    attempt: int = 0
    purge_init_containers: bool = False
    containers_to_kill: Mapping[str, ContainerKill] = field(default_factory=dict)
    init_containers_to_start: tuple[ContainerStart, ...] = ()
    containers_to_start: tuple[ContainerStart, ...] = ()
    backoff: Mapping[str, BackoffWait] = field(default_factory=dict)
    # keepCount == 0 and nothing to start: every regular container is done for good.
    pod_done: bool = False
    # The pod failed for good (init container failed under Never).
    pod_failed: bool = False

    @property
    def next_init_container_to_start(self) -> str | None:
        """The first init container this sync starts (the legacy NextInitContainerToStart)."""
        return self.init_containers_to_start[0].name if self.init_containers_to_start else None

    @property
    def wake_after(self) -> float | None:
        """Seconds until the earliest backoff expires: requeue then (PR #133066, §3)."""
        return min((w.remaining for w in self.backoff.values()), default=None)

    @property
    def is_noop(self) -> bool:
        return not (
            self.kill_pod
            or self.create_sandbox
            or self.containers_to_kill
            or self.init_containers_to_start
            or self.containers_to_start
        )


def container_hash(c: Container) -> str:
    """The change-detection hash: only name and image, like the kubelet's (§8.3), and the
    same hash as the backoff key's. The worker stores it on each instance it creates
    (ContainerInstance.spec_hash)."""
    return _name_image_hash(c.name or "", c.image or "")


def crash_loop_backoff(backoff: Backoff, pod: Pod) -> tuple[InBackoff, BackoffPeriod]:
    """Adapt a podrun.core.backoff.Backoff to the planner's two callables, keyed by the
    kubelet's GetStableKey (§3)."""
    md = pod.metadata

    def key(name: str, image: str) -> str:
        return container_backoff_key(
            (md.name if md else None) or "",
            (md.namespace if md else None) or "",
            (md.uid if md else None) or "",
            name,
            image,
        )

    def in_backoff(name: str, image: str, finished_at: float, now: float) -> float:
        return backoff.remaining(key(name, image), finished_at, now)

    def period(name: str, image: str) -> float:
        return backoff.get(key(name, image))

    return in_backoff, period


def backoff_key(pod: Pod, c: Container) -> str:
    """GetStableKey for one container of `pod`."""
    md = pod.metadata
    return container_backoff_key(
        (md.name if md else None) or "",
        (md.namespace if md else None) or "",
        (md.uid if md else None) or "",
        c.name or "",
        c.image or "",
    )


def is_init_container_failed(inst: ContainerInstance) -> bool:
    """isInitContainerFailed (§2.3): non-zero exit, unknown state, or OOMKilled."""
    if inst.state is _UNKNOWN:
        return True
    if inst.state is _EXITED and (inst.exit_code != 0 or inst.reason == "OOMKilled"):
        return True
    return False


def should_container_be_restarted(
    c: Container, inst: ContainerInstance | None, restart_policy: str, *, terminating: bool = False
) -> bool:
    """ShouldContainerBeRestarted (container/helpers.go). Sidecars restart whatever the policy."""
    if terminating:
        return False
    if inst is None:
        return True
    if inst.state is _RUNNING:
        return False
    if inst.state in (_UNKNOWN, _CREATED):
        return True
    policy = "Always" if is_sidecar(c) else restart_policy
    if policy == RESTART_NEVER:
        return False
    if policy == RESTART_ON_FAILURE and inst.exit_code == 0:
        return False
    return True


def compute_pod_actions(
    pod: Pod,
    observed: PodObservation,
    now: float,
    *,
    in_backoff: InBackoff,
    backoff_period: BackoffPeriod | None = None,
    terminating: bool = False,
    start_time: float | None = None,
    hash_container: HashContainer = container_hash,
) -> PodActions:
    """computePodActions plus SyncPod's backoff filter (doBackOff), for one sync at `now`.

    `terminating` (or a deletionTimestamp) kills everything and starts nothing (§6.1);
    `start_time` is status.startTime, for activeDeadlineSeconds (§1.1).
    """
    if terminating or is_terminating(pod):
        return _kill_all(pod, observed, PodKillReason.TERMINATING, "")
    deadline = pod.spec.active_deadline_seconds if pod.spec is not None else None
    if active_deadline_exceeded(deadline, start_time, now):
        return _kill_all(
            pod,
            observed,
            PodKillReason.DEADLINE_EXCEEDED,
            "Pod was active on the node longer than the specified deadline",
        )

    policy = pod_restart_policy(pod)
    containers = spec_containers(pod)
    inits = spec_init_containers(pod)
    create, attempt, sandbox_id = sandbox_changed(pod, observed)

    if create:
        base = PodActions(
            kill_pod=True,
            kill_reason=PodKillReason.SANDBOX_CHANGED if sandbox_id else PodKillReason.NONE,
            kill_message=SANDBOX_CHANGED_MESSAGE if sandbox_id else "",
            kill_order=_kill_order(pod, observed),
            create_sandbox=True,
            sandbox_id=sandbox_id,
            attempt=attempt,
        )
        # §8.2 exception: a Never pod that already ran gets no new sandbox.
        if policy == RESTART_NEVER and attempt != 0 and observed.has_any_container():
            return _replace(base, create_sandbox=False, pod_done=True)
        to_start = [
            i
            for i, c in enumerate(containers)
            if not (policy == RESTART_ON_FAILURE and _succeeded(observed.latest(container_name(c))))
        ]
        # "should not create extra sandbox if all containers are done".
        if not to_start and _any_regular_created(containers, observed):
            return _replace(base, create_sandbox=False, pod_done=True)
        first_init: list[tuple[int, Container, ContainerKind]] = []
        fresh_apps: list[tuple[int, Container, ContainerKind]] = []
        if inits:
            first_init.append((0, inits[0], _kind_of_init(inits[0])))
        else:
            fresh_apps = [(i, containers[i], ContainerKind.REGULAR) for i in to_start]
        return _with_backoff(
            _replace(base, purge_init_containers=True),
            pod,
            observed,
            now,
            first_init,
            fresh_apps,
            in_backoff,
            backoff_period,
        )

    kills: dict[str, ContainerKill] = {}
    init_starts_idx: list[int] = []
    initialized, init_failed = _init_container_actions(
        pod, observed, policy, kills, init_starts_idx, hash_container
    )
    base = PodActions(sandbox_id=sandbox_id, attempt=attempt)
    if init_failed:
        # §5.1: Never + failed init container -> the pod is Failed, nothing more runs.
        return _replace(
            base,
            kill_pod=True,
            kill_reason=PodKillReason.INIT_CONTAINER_FAILED,
            kill_order=_kill_order(pod, observed),
            pod_failed=True,
        )
    init_starts = [(i, inits[i], _kind_of_init(inits[i])) for i in init_starts_idx]
    if not initialized:
        return _with_backoff(
            _replace(base, containers_to_kill=kills),
            pod,
            observed,
            now,
            init_starts,
            [],
            in_backoff,
            backoff_period,
        )

    keep = 0
    app_starts: list[tuple[int, Container, ContainerKind]] = []
    for idx, c in enumerate(containers):
        name = container_name(c)
        inst = observed.latest(name)
        if inst is None or inst.state is not _RUNNING:
            if should_container_be_restarted(c, inst, policy):
                app_starts.append((idx, c, ContainerKind.REGULAR))
                if inst is not None and inst.state is _UNKNOWN:
                    kills[name] = ContainerKill(
                        name=name,
                        container_id=inst.id,
                        kind=ContainerKind.REGULAR,
                        message=f'Container is in "{inst.state.value}" state, try killing it before restart',
                        reason=KillReason.UNKNOWN,
                    )
            continue
        if inst.post_start_failed:
            # §6.5: killed now, restarted per policy once it has exited.
            kills[name] = ContainerKill(
                name=name,
                container_id=inst.id,
                kind=ContainerKind.REGULAR,
                message="FailedPostStartHook",
                reason=KillReason.FAILED_POST_START_HOOK,
            )
            continue
        restart = policy != RESTART_NEVER
        reason = KillReason.UNKNOWN
        if inst.spec_hash and inst.spec_hash != hash_container(c):
            message = f"Container {name} definition changed"
            restart = True  # a changed spec restarts whatever the policy
        elif inst.liveness is ProbeResult.FAILURE:
            message = f"Container {name} failed liveness probe"
            reason = KillReason.LIVENESS_PROBE
        elif inst.startup is ProbeResult.FAILURE:
            message = f"Container {name} failed startup probe"
            reason = KillReason.STARTUP_PROBE
        else:
            keep += 1
            continue
        if restart:
            message += ", will be restarted"
            app_starts.append((idx, c, ContainerKind.REGULAR))
        kills[name] = ContainerKill(
            name=name,
            container_id=inst.id,
            kind=ContainerKind.REGULAR,
            message=message,
            reason=reason,
        )

    if keep == 0 and not app_starts:
        # keepCount == 0: every regular container is done; stop the sandbox and the
        # sidecars, and do not restart sidecars to keep the pod alive (§5.2).
        return _replace(
            base,
            kill_pod=True,
            kill_reason=PodKillReason.COMPLETED,
            kill_order=_kill_order(pod, observed),
            containers_to_kill=kills,
            pod_done=True,
        )
    return _with_backoff(
        _replace(base, containers_to_kill=kills),
        pod,
        observed,
        now,
        init_starts,
        app_starts,
        in_backoff,
        backoff_period,
    )


def _init_container_actions(
    pod: Pod,
    observed: PodObservation,
    policy: str,
    kills: dict[str, ContainerKill],
    to_start: list[int],
    hash_container: HashContainer,
) -> tuple[bool, bool]:
    """computeInitContainerActions: returns (initialized, failed for good).

    Walks the init containers backwards, because completed ones may have been garbage
    collected: the last one with a status tells where initialization is (§5).
    """
    inits = spec_init_containers(pod)
    if not inits:
        return True, False
    last = len(inits) - 1
    # A created or running regular container means initialization happened before
    # (init statuses may be gone); exited ones do not count (node reboot workaround).
    initialized = any(
        (inst := observed.latest(container_name(c))) is not None
        and inst.state in (_CREATED, _RUNNING)
        for c in spec_containers(pod)
    )
    previously_initialized = initialized
    restart_on_failure = policy != RESTART_NEVER

    for i in range(last, -1, -1):
        c = inits[i]
        name = container_name(c)
        sidecar = is_sidecar(c)
        kind = ContainerKind.SIDECAR if sidecar else ContainerKind.INIT
        inst = observed.latest(name)
        if inst is None:
            if previously_initialized and sidecar:
                to_start.append(i)  # its status is gone: start it again
            continue
        if previously_initialized and not sidecar:
            continue  # after initialization only sidecars are kept running

        if inst.state is _CREATED:
            # Created but never started: the start failed; start it again.
            to_start.append(i)
        elif inst.state is _RUNNING:
            if sidecar:
                _running_sidecar(
                    c, inst, i, last, previously_initialized, kills, to_start, hash_container
                )
                if i == last and _sidecar_started(c, inst):
                    initialized = True
            # a running regular init container: wait for it to finish
        elif inst.state is _EXITED:
            if sidecar:
                to_start.append(i)  # sidecars restart whatever the policy (§5.2)
            elif is_init_container_failed(inst):
                if not restart_on_failure:
                    to_start.clear()
                    return False, True
                to_start.append(i)
            elif i == last:
                initialized = True
            else:
                to_start.append(i + 1)
        else:  # unknown
            if not sidecar and not restart_on_failure:
                to_start.clear()
                return False, True
            kills[name] = ContainerKill(
                name=name,
                container_id=inst.id,
                kind=kind,
                message=f'Init container is in "{inst.state.value}" state, try killing it before restart',
                reason=KillReason.UNKNOWN,
            )
            to_start.append(i)
        previously_initialized = True

    if not previously_initialized:
        to_start.append(0)  # nothing has run yet: start the first one
    to_start.reverse()
    return initialized, False


def _sidecar_started(c: Container, inst: ContainerInstance) -> bool:
    """A running sidecar counts as started once its startup probe succeeded (or it has
    none) and its postStart hook returned (§5.2, §6.5)."""
    if not inst.post_start_done:
        return False
    return c.startup_probe is None or inst.startup is ProbeResult.SUCCESS


def _running_sidecar(
    c: Container,
    inst: ContainerInstance,
    i: int,
    last: int,
    previously_initialized: bool,
    kills: dict[str, ContainerKill],
    to_start: list[int],
    hash_container: HashContainer,
) -> None:
    name = container_name(c)
    if inst.post_start_failed:
        # §6.5: killed now; restarted (whatever the policy) once it has exited.
        kills[name] = ContainerKill(
            name=name,
            container_id=inst.id,
            kind=ContainerKind.SIDECAR,
            message="FailedPostStartHook",
            reason=KillReason.FAILED_POST_START_HOOK,
        )
        return
    if not _sidecar_started(c, inst):
        if c.startup_probe is not None and inst.startup is ProbeResult.FAILURE:
            kills[name] = ContainerKill(
                name=name,
                container_id=inst.id,
                kind=ContainerKind.SIDECAR,
                message=f"Init container {name} failed startup probe",
                reason=KillReason.STARTUP_PROBE,
            )
            to_start.append(i)
        return
    if i != last and not previously_initialized:
        to_start.append(i + 1)  # started for the first time: start the next one
    if inst.spec_hash and inst.spec_hash != hash_container(c):
        kills[name] = ContainerKill(
            name=name,
            container_id=inst.id,
            kind=ContainerKind.SIDECAR,
            message=f"Init container {name} definition changed",
        )
        to_start.append(i)
        return
    if c.liveness_probe is not None and inst.liveness is ProbeResult.FAILURE:
        kills[name] = ContainerKill(
            name=name,
            container_id=inst.id,
            kind=ContainerKind.SIDECAR,
            message=f"Init container {name} failed liveness probe",
            reason=KillReason.LIVENESS_PROBE,
        )
        to_start.append(i)


def _with_backoff(
    actions: PodActions,
    pod: Pod,
    observed: PodObservation,
    now: float,
    init_starts: list[tuple[int, Container, ContainerKind]],
    app_starts: list[tuple[int, Container, ContainerKind]],
    in_backoff: InBackoff,
    backoff_period: BackoffPeriod | None,
) -> PodActions:
    """SyncPod steps 6 and 8 with doBackOff: a container whose newest exited instance is
    still in backoff is not started; it shows CrashLoopBackOff (§3). A regular init
    container in backoff stops the rest of the sync; a sidecar does not."""
    waits: dict[str, BackoffWait] = {}
    full = pod_full_name(pod)

    def check(idx: int, c: Container, kind: ContainerKind) -> ContainerStart | None:
        name = container_name(c)
        image = c.image or ""
        latest = observed.latest(name)
        exited = observed.latest_exited(name)
        since = exited.finished_at if exited is not None else None
        if exited is not None:
            finished = since if since is not None else 0.0
            remaining = in_backoff(name, image, finished, now)
            if remaining > 0:
                period = backoff_period(name, image) if backoff_period else float(math.ceil(remaining))
                waits[name] = BackoffWait(
                    name=name,
                    kind=kind,
                    remaining=remaining,
                    period=period,
                    message=f"back-off {go_duration(period)} restarting failed container={name} pod={full}",
                    event_message=f"Back-off restarting failed container {name} in pod {full}",
                )
                return None
        return ContainerStart(
            name=name,
            index=idx,
            kind=kind,
            image=image,
            restart_count=latest.restart_index + 1 if latest is not None else None,
            backoff_since=since,
            backoff_key=backoff_key(pod, c),
        )

    started_inits: list[ContainerStart] = []
    aborted = False
    for idx, c, kind in init_starts:
        s = check(idx, c, kind)
        if s is None:
            if kind is ContainerKind.SIDECAR:
                continue
            aborted = True
            break
        started_inits.append(s)
    started_apps: list[ContainerStart] = []
    if not aborted:
        for idx, c, kind in app_starts:
            s = check(idx, c, kind)
            if s is not None:
                started_apps.append(s)
    return _replace(
        actions,
        init_containers_to_start=tuple(started_inits),
        containers_to_start=tuple(started_apps),
        backoff=waits,
    )


def _kill_all(
    pod: Pod, observed: PodObservation, reason: PodKillReason, message: str
) -> PodActions:
    sb = observed.sandbox
    return PodActions(
        kill_pod=True,
        kill_reason=reason,
        kill_message=message,
        kill_order=_kill_order(pod, observed),
        sandbox_id=sb.id if sb is not None else "",
        attempt=sb.attempt if sb is not None else 0,
        pod_failed=reason is PodKillReason.DEADLINE_EXCEEDED,
    )


def _kill_order(pod: Pod, observed: PodObservation) -> tuple[str, ...]:
    """terminationOrdering (§6.3): everything but sidecars first, then sidecars from the
    last one in spec order to the first. Only running instances are listed."""
    sidecars = [container_name(c) for c in spec_init_containers(pod) if is_sidecar(c)]
    others = [container_name(c) for c in spec_containers(pod)]
    others += [container_name(c) for c in spec_init_containers(pod) if not is_sidecar(c)]
    known = set(sidecars) | set(others)
    others += sorted(n for n in observed.containers if n not in known)

    def running(n: str) -> bool:
        inst = observed.latest(n)
        return inst is not None and inst.state is _RUNNING

    return tuple(n for n in others if running(n)) + tuple(
        n for n in reversed(sidecars) if running(n)
    )


def _succeeded(inst: ContainerInstance | None) -> bool:
    """containerSucceeded: the newest instance exited 0."""
    return inst is not None and inst.state is _EXITED and inst.exit_code == 0


def _any_regular_created(containers: tuple[Container, ...], observed: PodObservation) -> bool:
    """hasAnyRegularContainerCreated."""
    for c in containers:
        inst = observed.latest(container_name(c))
        if inst is not None and inst.state in (_CREATED, _RUNNING, _EXITED):
            return True
    return False


def _kind_of_init(c: Container) -> ContainerKind:
    return ContainerKind.SIDECAR if is_sidecar(c) else ContainerKind.INIT


def _replace(a: PodActions, **changes: Any) -> PodActions:
    return dataclasses.replace(a, **changes)
