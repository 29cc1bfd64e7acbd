"""The daemon side of podrun: the object store, config sources (API + static directory),
the daemon entry point, and the PodManager interface the pod lifecycle engine implements.

The daemon looks for the engine as ``podrun.agent.engine.create_pod_manager(ctx)``; while
that module does not exist it runs `PlaceholderPodManager`, which runs nothing and says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from podrun.errors import PodrunError

if TYPE_CHECKING:
    from podrun.agent.store import Store


class EngineUnavailable(PodrunError):
    """The operation needs the pod runtime engine (or image service), which is not wired.
    The API answers 503 ServiceUnavailable with this message."""


@dataclass
class DaemonContext:
    """What the daemon hands its components: settings, paths and the shared store."""

    store: Store
    node_name: str
    root: Path
    run_dir: Path
    log_dir: Path
    manifest_dir: Path
    cni_conf_dir: Path | None = None
    cni_bin_dir: Path | None = None
    cgroup_root: str | None = None
    # podrun.image.service.ImageService, or None when it cannot be set up (the image
    # routes then answer 503). Its methods block: call them from a thread.
    images: Any = None
    # Every config-file setting (KubeletConfiguration names) as read, for the engine.
    config: dict[str, Any] = field(default_factory=dict)


class ExecSession(Protocol):
    """A process started by `PodManager.exec`. Output is read as (stream, bytes) chunks,
    stream 1 = stdout, 2 = stderr; None once both are closed."""

    async def write_stdin(self, data: bytes) -> None: ...
    async def close_stdin(self) -> None: ...
    async def read(self) -> tuple[int, bytes] | None: ...
    def resize(self, width: int, height: int) -> None: ...
    async def wait(self) -> int: ...
    async def kill(self) -> None: ...


class PodManager(Protocol):
    """What the lifecycle engine provides to the daemon (the kubelet's pod workers).

    Pods are passed as full v1 Pod dicts as stored (metadata.uid, annotations incl.
    ``kubernetes.io/config.source``, defaulted spec, status); the engine decodes them into
    typed ``podrun.spec.types.Pod`` objects as it needs. The engine writes status only via
    ``ctx.store.update_status(uid, status)`` and events via ``ctx.store.record_event``.
    """

    async def start(self) -> None:
        """Called once before any sync_pod: adopt what survived a daemon restart."""

    def sources_ready(self) -> None:
        """Every pod source has been read once: sandboxes of pods none of them has are
        orphans (the kubelet's sourcesReady)."""

    async def sync_pod(self, pod: dict[str, Any]) -> None:
        """The newest spec of a pod (create or update). Must return promptly: hand it to
        the pod's worker, which keeps only the newest update."""

    async def terminate_pod(self, uid: str, grace_period_seconds: int | None) -> None:
        """Stop a pod (None = the pod's terminationGracePeriodSeconds) and release all it
        holds; return once it is fully terminated. May be called again with a shorter grace
        while a termination is under way (a second delete shortens it), and for a uid the
        engine does not know (return at once)."""

    def status(self, uid: str) -> dict[str, Any] | None:
        """The engine's newest v1 PodStatus for a pod, or None if unknown."""

    def logs(self, uid: str, container: str, *, follow: bool = False,
             previous: bool = False, tail_lines: int | None = None,
             timestamps: bool = False, since_seconds: int | None = None,
             limit_bytes: int | None = None) -> AsyncIterator[bytes]:
        """kubectl logs output for one container (P chunks joined, optional timestamps).
        Raise podrun.errors.PodrunError (400) or NotFound (404) with kubectl's words."""

    async def exec(self, uid: str, container: str, command: list[str], *,
                   stdin: bool, tty: bool) -> ExecSession:
        """Start `command` in a running container."""

    async def close(self, stop_pods: bool) -> None:
        """Daemon shutdown: leave pods running (adopted next start) unless stop_pods."""


NO_ENGINE_MESSAGE = ("the pod runtime engine is not available yet in this podrun build: "
                     "pods are stored and stay Pending")


class PlaceholderPodManager:
    """Stands in for the lifecycle engine: stores what it is told, runs nothing, and says
    so on every pod (status.message and a Warning event) instead of pretending."""

    def __init__(self, ctx: DaemonContext) -> None:
        self.ctx = ctx

    async def start(self) -> None:
        return None

    def sources_ready(self) -> None:
        return None

    async def sync_pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        st = dict(pod.get("status") or {})
        if st.get("reason") != "NoRuntimeEngine":
            st.setdefault("phase", "Pending")
            st["reason"] = "NoRuntimeEngine"
            st["message"] = NO_ENGINE_MESSAGE
            self.ctx.store.update_status(meta["uid"], st)
            self.ctx.store.record_event(pod, "Warning", "NoRuntimeEngine", NO_ENGINE_MESSAGE,
                                        host=self.ctx.node_name)

    async def terminate_pod(self, uid: str, grace_period_seconds: int | None) -> None:
        return None  # nothing runs, so nothing to stop

    def status(self, uid: str) -> dict[str, Any] | None:
        pod = self.ctx.store.get_pod_by_uid(uid)
        return pod.get("status") if pod else None

    def logs(self, uid: str, container: str, **kw: Any) -> AsyncIterator[bytes]:
        raise EngineUnavailable(NO_ENGINE_MESSAGE.split(":")[0] + ": no container logs")

    async def exec(self, uid: str, container: str, command: list[str], *,
                   stdin: bool, tty: bool) -> ExecSession:
        raise EngineUnavailable(NO_ENGINE_MESSAGE.split(":")[0] + ": cannot exec")

    async def close(self, stop_pods: bool) -> None:
        return None


def create_pod_manager(ctx: DaemonContext) -> PodManager:
    """The engine if this build has one (podrun.agent.engine), else the placeholder."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("podrun.agent.engine") is None:
        return PlaceholderPodManager(ctx)
    engine = importlib.import_module("podrun.agent.engine")
    return engine.create_pod_manager(ctx)  # type: ignore[no-any-return]
