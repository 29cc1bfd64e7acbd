"""What the runtime reports about one pod: its sandboxes and every container instance.

The planner, phase, conditions and status composition read only this and the spec; the
worker builds it from pause's records, probe results and its own bookkeeping.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from podrun.spec.types import Container, Pod

RESTART_ALWAYS = "Always"
RESTART_ON_FAILURE = "OnFailure"
RESTART_NEVER = "Never"

CONTAINER_ID_SCHEME = "podrun"

# Annotation the kubelet uses to tell static (file) pods from API pods (kubetypes.IsStaticPod).
CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source"


class ContainerRuntimeState(StrEnum):
    """kubecontainer.State: the CRI container state as the kubelet sees it."""

    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"
    UNKNOWN = "unknown"


class ProbeResult(StrEnum):
    """prober/results: a probe worker's latest result for one container instance."""

    SUCCESS = "Success"
    FAILURE = "Failure"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerInstance:
    """One run of one container (kubecontainer.Status), identified by its runtime id.

    Times are wall seconds since the epoch. `restart_index` is the N of N.log and of the
    instance's restartCount. `spec_hash` is plan.container_hash of the spec it was created
    from ("" = unknown, never counts as changed). `reason`/`message` are the runtime's
    (Completed/Error/OOMKilled/StartError; "" lets status derive Completed/Error); the
    worker folds the termination message into `message` with
    status.compose_terminated_message. Probe results are None while no worker has reported
    (the kubelet's "not found" in a results cache). `post_start_done` is False while the
    postStart hook runs; `post_start_failed` asks the planner to kill the instance (§6.5).
    """

    id: str
    name: str
    state: ContainerRuntimeState
    restart_index: int = 0
    image: str = ""
    image_id: str = ""
    spec_hash: str = ""
    exit_code: int = 0
    signal: int = 0
    reason: str = ""
    message: str = ""
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    liveness: ProbeResult | None = None
    readiness: ProbeResult | None = None
    startup: ProbeResult | None = None
    post_start_done: bool = True
    post_start_failed: bool = False

    @property
    def container_id(self) -> str:
        """The API's containerID: `podrun://<id>`."""
        return f"{CONTAINER_ID_SCHEME}://{self.id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxObservation:
    """One pod sandbox (pause process + namespaces), as CRI PodSandboxStatus."""

    id: str
    ready: bool
    attempt: int = 0
    created_at: float = 0.0
    ips: tuple[str, ...] = ()
    host_network: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StartFailure:
    """A reason-cache entry: why the last start of a container did not happen (§2.1)."""

    reason: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class PodObservation:
    """kubecontainer.PodStatus: sandboxes and container instances, newest first."""

    sandboxes: tuple[SandboxObservation, ...] = ()
    containers: Mapping[str, tuple[ContainerInstance, ...]] = field(default_factory=dict)

    @property
    def sandbox(self) -> SandboxObservation | None:
        """The newest sandbox, or None."""
        return self.sandboxes[0] if self.sandboxes else None

    @property
    def ips(self) -> tuple[str, ...]:
        """Pod IPs: only from the newest sandbox, and only while it is ready (GetPodStatus)."""
        sb = self.sandbox
        return sb.ips if sb is not None and sb.ready else ()

    def instances(self, name: str) -> tuple[ContainerInstance, ...]:
        return self.containers.get(name, ())

    def latest(self, name: str) -> ContainerInstance | None:
        """FindContainerStatusByName: the newest instance of `name`."""
        found = self.containers.get(name, ())
        return found[0] if found else None

    def latest_exited(self, name: str) -> ContainerInstance | None:
        """The newest exited instance (what doBackOff looks at, §3)."""
        for inst in self.containers.get(name, ()):
            if inst.state is ContainerRuntimeState.EXITED:
                return inst
        return None

    def has_any_container(self) -> bool:
        return any(self.containers.values())

    @staticmethod
    def build(
        sandboxes: Sequence[SandboxObservation] = (),
        instances: Sequence[ContainerInstance] = (),
    ) -> PodObservation:
        """Group instances by name, newest (highest created_at, then restart_index) first."""
        grouped: dict[str, list[ContainerInstance]] = {}
        for inst in instances:
            grouped.setdefault(inst.name, []).append(inst)
        ordered = {
            name: tuple(sorted(lst, key=lambda i: (i.created_at, i.restart_index), reverse=True))
            for name, lst in grouped.items()
        }
        sbs = tuple(sorted(sandboxes, key=lambda s: (s.created_at, s.attempt), reverse=True))
        return PodObservation(sandboxes=sbs, containers=ordered)


# --- spec accessors: the model keeps every field optional; these apply the API defaults ---


def pod_restart_policy(pod: Pod) -> str:
    """spec.restartPolicy, defaulted to Always (SetDefaults_PodSpec)."""
    rp = pod.spec.restart_policy if pod.spec is not None else None
    return rp or RESTART_ALWAYS


def spec_containers(pod: Pod) -> tuple[Container, ...]:
    return (pod.spec.containers or ()) if pod.spec is not None else ()


def spec_init_containers(pod: Pod) -> tuple[Container, ...]:
    return (pod.spec.init_containers or ()) if pod.spec is not None else ()


def container_name(c: Container) -> str:
    return c.name or ""


def is_sidecar(c: Container) -> bool:
    """A native sidecar: an init container with restartPolicy Always (§5.2)."""
    return c.restart_policy == RESTART_ALWAYS


def is_terminating(pod: Pod) -> bool:
    """The pod has a deletionTimestamp."""
    return pod.metadata is not None and pod.metadata.deletion_timestamp is not None


def is_static_pod(pod: Pod) -> bool:
    """kubetypes.IsStaticPod: the config source annotation is set and is not "api"."""
    ann = pod.metadata.annotations if pod.metadata is not None else None
    src = ann.get(CONFIG_SOURCE_ANNOTATION) if ann else None
    return bool(src) and src != "api"


def pod_full_name(pod: Pod) -> str:
    """format.Pod: `<name>_<namespace>(<uid>)`, used in backoff messages."""
    md = pod.metadata
    name = (md.name if md else None) or ""
    ns = (md.namespace if md else None) or ""
    uid = (md.uid if md else None) or ""
    return f"{name}_{ns}({uid})"


def sandbox_changed(pod: Pod, observed: PodObservation) -> tuple[bool, int, str]:
    """PodSandboxChanged (§8.1): (changed, next attempt, id of the newest sandbox or "")."""
    if not observed.sandboxes:
        return True, 0, ""
    newest = observed.sandboxes[0]
    ready = sum(1 for s in observed.sandboxes if s.ready)
    if ready > 1:
        return True, newest.attempt + 1, newest.id
    if not newest.ready:
        return True, newest.attempt + 1, newest.id
    host_network = bool(pod.spec.host_network) if pod.spec is not None else False
    if newest.host_network != host_network:
        return True, newest.attempt + 1, newest.id
    if not host_network and not newest.ips:
        return True, newest.attempt + 1, newest.id
    return False, newest.attempt, newest.id


# --- time: metav1.Time is RFC 3339 with second precision, UTC ---


def rfc3339(ts: float) -> str:
    """Wall seconds -> metav1.Time string (truncated to the second, as the API stores it)."""
    t = _dt.datetime.fromtimestamp(int(ts // 1), tz=_dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(s: str) -> float:
    """metav1.Time string -> wall seconds."""
    t = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return t.timestamp()
