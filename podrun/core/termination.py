"""The kubelet's grace-period arithmetic for pod deletion and container kills (pure).

Every function names the BEHAVIOR.md rule it implements (section 6: termination, preStop
and sidecar ordering; 4.8: probe-level terminationGracePeriodSeconds). Times are plain
seconds; the caller measures them with a podrun.clock.Clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

# BEHAVIOR.md section 0: PodSpec default terminationGracePeriodSeconds.
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
# BEHAVIOR.md section 0 / 6.2 step 4: minimumGracePeriodInSeconds
# (K8S: pkg/kubelet/kuberuntime/kuberuntime_container.go).
MINIMUM_GRACE_PERIOD_SECONDS = 2
# BEHAVIOR.md 6.1 step 1: calculateEffectiveGracePeriod never hands down less than 1 s.
MINIMUM_EFFECTIVE_GRACE_SECONDS = 1


class KillReason(StrEnum):
    """Why a container is killed (kuberuntime containerKillReason)."""

    UNKNOWN = "Unknown"  # pod termination, spec change, sandbox change
    LIVENESS_PROBE = "LivenessProbe"
    STARTUP_PROBE = "StartupProbe"
    FAILED_POST_START_HOOK = "FailedPostStartHook"


def spec_grace_period(termination_grace_period_seconds: int | None) -> int:
    """The pod's own grace after API defaulting (BEHAVIOR.md 0 and 6.1 step 1).

    Unset -> 30 (SetDefaults_PodSpec); negative -> 1 (E2E node/pods.go "pod with negative
    grace period" expects spec TGPS == 1). 0 stays 0: the pod asks to be killed at once.
    """
    if termination_grace_period_seconds is None:
        return DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    if termination_grace_period_seconds < 0:
        return 1
    return termination_grace_period_seconds


def deletion_grace_period(
    requested: int | None,
    spec_tgps: int | None,
    *,
    force: bool = False,
    pod_terminal: bool = False,
) -> int:
    """The grace a delete request gives the pod (BEHAVIOR.md 6.1 step 1): what kubectl and
    the API server (pod strategy CheckGracefulDelete) turn a DELETE into.

    - a requested grace wins; unset or negative (kubectl's "ignored if negative") means the
      spec's terminationGracePeriodSeconds (default 30);
    - 0 is only honoured with force; otherwise it becomes 1 ("minimum 1 except force");
    - a pod that already finished (Succeeded/Failed) is removed at once (0).
    """
    if pod_terminal:
        return 0
    if requested is None or requested < 0:
        grace = spec_grace_period(spec_tgps)
    else:
        grace = requested
    if grace == 0 and not force:
        return 1
    return grace


@dataclass(frozen=True)
class GraceUpdate:
    """Result of a (re)termination request: the grace in force, and whether it shrank."""

    grace: int
    shortened: bool


def effective_grace_period(
    in_flight: int | None,
    *,
    deletion_grace: int | None,
    spec_tgps: int | None,
    override: int | None = None,
) -> GraceUpdate:
    """calculateEffectiveGracePeriod (K8S pod_workers.go; BEHAVIOR.md 6.1 step 1).

    `in_flight` is the grace of a termination already under way (None or 0: none yet).
    A new deletion grace or kubelet override (eviction) only ever decreases it: a second
    delete with a shorter grace shortens the termination, a longer one is ignored. With
    no request at all the spec TGPS is used. Never less than 1 s.
    """
    grace = in_flight or 0
    overridden = False
    for candidate in (deletion_grace, override):
        if candidate is not None and (grace == 0 or candidate < grace):
            grace = candidate
            overridden = True
    if not overridden and grace == 0 and spec_tgps is not None:
        grace = spec_grace_period(spec_tgps)
    grace = max(grace, MINIMUM_EFFECTIVE_GRACE_SECONDS)
    before = in_flight or 0
    return GraceUpdate(grace=grace, shortened=before != 0 and before != grace)


def container_kill_grace(
    *,
    deletion_grace: int | None,
    spec_tgps: int | None,
    reason: KillReason = KillReason.UNKNOWN,
    probe_grace: int | None = None,
    override: int | None = None,
) -> int:
    """setTerminationGracePeriod plus the override (BEHAVIOR.md 6.2 step 1, 4.8).

    First match wins: the pod's deletion grace; for a liveness/startup kill the probe's
    terminationGracePeriodSeconds (the kubelet only looks at it when the spec TGPS is set,
    which it always is after defaulting); the spec TGPS; else 2 s. An explicit override
    (the pod worker's effective grace, eviction) replaces the result; newest kubelets apply
    it before the preStop accounting and the floor.
    """
    if override is not None:
        return override
    if deletion_grace is not None:
        return deletion_grace
    if spec_tgps is not None:
        if reason in (KillReason.LIVENESS_PROBE, KillReason.STARTUP_PROBE) and probe_grace is not None:
            return probe_grace
        return spec_grace_period(spec_tgps)
    return MINIMUM_GRACE_PERIOD_SECONDS


def runs_prestop(grace: int, has_prestop: bool) -> bool:
    """A preStop hook runs only when there is grace left (BEHAVIOR.md 6.2 step 2)."""
    return has_prestop and grace > 0


def after_prestop(grace: int, prestop_elapsed: float) -> int:
    """Grace left after the preStop hook (BEHAVIOR.md 6.2 step 2): the hook may run at most
    `grace` seconds, and only its whole seconds are subtracted (executePreStopHook returns
    int64 seconds, truncating)."""
    elapsed = min(max(prestop_elapsed, 0.0), float(grace))
    return grace - int(elapsed)


def after_ordering_wait(grace: int, waited: float) -> int:
    """Grace left after waiting for this container's turn (BEHAVIOR.md 6.2 step 3, 6.3):
    the wait is bounded by the remaining grace and truncated downward to whole seconds."""
    if grace <= 0:
        return grace
    return grace - int(min(max(waited, 0.0), float(grace)))


def apply_floor(grace: int) -> int:
    """The 2 s floor, minimumGracePeriodInSeconds (BEHAVIOR.md 6.2 step 4): applied on every
    kill path, so a preStop that ate the whole grace still leaves 2 s before SIGKILL."""
    return max(grace, MINIMUM_GRACE_PERIOD_SECONDS)


def stop_timeout(
    grace: int,
    *,
    prestop_elapsed: float | None = None,
    ordering_wait: float | None = None,
    force: bool = False,
) -> int:
    """The timeout handed to the runtime's StopContainer (BEHAVIOR.md 6.2 steps 2-5).

    `grace` comes from container_kill_grace; `prestop_elapsed` is how long the hook ran
    (None: no hook ran); `ordering_wait` how long the sidecar ordering wait took (None: no
    ordering). `force` is podrun's `delete --force --grace-period 0`: kill at once with no
    floor. (The kubelet still applies its 2 s floor to a force delete; the pod object just
    vanishes from the API at once. podrun has no API object to vanish, so its CLI contract
    in issue "Lifecycle engine" item 7 is an immediate kill.)
    """
    if force and grace <= 0:
        return 0
    if prestop_elapsed is not None and grace > 0:
        grace = after_prestop(grace, prestop_elapsed)
    if ordering_wait is not None and grace > 0:
        grace = after_ordering_wait(grace, ordering_wait)
    return apply_floor(grace)


def time_to_death(
    grace: int,
    *,
    prestop_seconds: float | None = None,
    handles_stop_signal: bool = True,
    exit_delay: float = 0.0,
) -> float:
    """When a container dies after the kill starts, per the timing table of BEHAVIOR.md 6.2
    (for tests and `describe` estimates). prestop_seconds=math.inf: a hook that never ends.

    The hook runs at most `grace` seconds; the stop signal follows; a container that handles
    it exits `exit_delay` later (if that is within the timeout), otherwise SIGKILL comes at
    the timeout.
    """
    signal_at = 0.0
    timeout = apply_floor(grace)
    if prestop_seconds is not None and runs_prestop(grace, True):
        hook = min(prestop_seconds, float(grace))
        signal_at = hook
        timeout = stop_timeout(grace, prestop_elapsed=hook)
    if handles_stop_signal and exit_delay < timeout:
        return signal_at + exit_delay
    return signal_at + timeout


# ---------------------------------------------------------------------------------------
# Sidecar termination ordering (BEHAVIOR.md 5.2 "Termination ordering", 6.3)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerRef:
    """A container as the ordering sees it: its name and whether it is a sidecar."""

    name: str
    sidecar: bool = False


@dataclass(frozen=True)
class TerminationOrdering:
    """newTerminationOrdering as data: who must have exited before a container may get its
    stop signal. Regular containers wait for nobody; sidecar i waits for every running
    regular container and for the next later running sidecar (so, transitively, for all
    later ones). preStop hooks are not ordered, only the stop signal is."""

    prereqs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def waits_for(self, name: str) -> tuple[str, ...]:
        return self.prereqs.get(name, ())

    def may_stop(self, name: str, exited: Iterable[str]) -> bool:
        """True once every prerequisite of `name` has exited."""
        done = set(exited)
        return all(p in done for p in self.waits_for(name))

    def waves(self) -> list[list[str]]:
        """Stop-signal order as waves: all regular containers first, then the sidecars in
        reverse spec order, one per wave."""
        remaining = list(self.prereqs)
        exited: set[str] = set()
        out: list[list[str]] = []
        while remaining:
            wave = [n for n in remaining if self.may_stop(n, exited)]
            if not wave:  # a cycle cannot come from a pod spec; stop rather than loop
                out.append(remaining)
                break
            out.append(wave)
            exited.update(wave)
            remaining = [n for n in remaining if n not in exited]
        return out


def termination_ordering(
    containers: Sequence[ContainerRef | str],
    init_containers: Sequence[ContainerRef],
    running: Iterable[str],
) -> TerminationOrdering | None:
    """Build the ordering for the running containers of a pod, or None when the pod has no
    sidecar (killContainersWithSyncResult only orders pods with restartable init
    containers). Containers that are not running are treated as already exited."""
    if not any(c.sidecar for c in init_containers):
        return None
    running_set = set(running)
    regular = [c if isinstance(c, str) else c.name for c in containers]
    regular_running = tuple(n for n in regular if n in running_set)
    prereqs: dict[str, tuple[str, ...]] = {n: () for n in regular_running}
    later_sidecar: str | None = None
    for ic in reversed(init_containers):
        if not ic.sidecar:
            continue
        waits = regular_running
        # Only the next later sidecar is a prerequisite. If it is not running its channel
        # is pre-closed in the kubelet, so a running sidecar further on is not waited for
        # (a quirk of newTerminationOrdering, kept on purpose).
        if later_sidecar is not None and later_sidecar in running_set:
            waits = (*waits, later_sidecar)
        if ic.name in running_set:
            prereqs[ic.name] = waits
        later_sidecar = ic.name
    return TerminationOrdering(prereqs)


def grace_left(grace: int, elapsed: float) -> int:
    """Whole seconds of `grace` left after `elapsed` seconds (never negative)."""
    return max(0, grace - int(math.floor(max(elapsed, 0.0))))
