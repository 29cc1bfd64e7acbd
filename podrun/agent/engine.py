"""The pod lifecycle engine: the kubelet's pod workers on podrun's runtime.

One asyncio task per pod keeps only the newest spec and wakes on spec changes, container
exits (pidfds of the containers' inits and of pause), probe results and timers. Each sync:

    observe (runtime: sandboxes, containers, exit records)   -> PodObservation
    plan    (podrun.core.plan.compute_pod_actions, pure)      -> PodActions
    act     (sandbox, kills, init containers, sidecars, apps, backoff, hooks)
    publish (podrun.core.status.generate_pod_status, pure)    -> store.update_status

Blocking runtime calls run in threads; decisions stay in the pure core.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from podrun.agent import DaemonContext
from podrun.agent.images import ImageManager, ImagePullFailure, ResolvedImage
from podrun.core import plan as planmod
from podrun.core import termination
from podrun.core.backoff import Backoff, BackoffConfig
from podrun.core.observed import (
    ContainerInstance,
    ContainerRuntimeState,
    PodObservation,
    ProbeResult,
    SandboxObservation,
    StartFailure,
    is_sidecar,
    is_static_pod,
)
from podrun.core.plan import ContainerKind, ContainerStart, PodActions
from podrun.core.resources import PodResources, qos_class
from podrun.core.status import (
    compose_terminated_message,
    generate_pod_status,
    termination_message,
)
from podrun.errors import NotFound, PodrunError
from podrun.logs.reader import follow, format_lines
from podrun.logs.rotation import parse_size
from podrun.runtime import execin
from podrun.runtime.cgroups import CgroupManager, Layout, describe_not_enforced, detect_host
from podrun.runtime.runtime import ContainerStartError, Runtime, SandboxOptions
from podrun.runtime.trash import Trash
from podrun.spec.decode import decode
from podrun.spec.encode import to_dict
from podrun.spec.types import Container, Pod, PodStatus

log = logging.getLogger("podrun.engine")
T = TypeVar("T")

ANN = "io.podrun."
# Resync every pod this often even without events: the kubelet's syncFrequency (1 min).
# Everything that needs a pod's attention sooner wakes its worker itself: exits and sandbox
# death (pidfds), probe results, timers the planner asks for (backoff, activeDeadline), spec
# updates, changes of the ConfigMaps and Secrets its volumes show, and the emptyDir
# sizeLimit check (PodWorker._schedule). So this only catches what slipped; at 10 s it
# was most of the daemon's idle CPU (a thread hop and a pause round trip per pod).
RESYNC_SECONDS = 60.0
# A sync that failed is retried after this (backOffOnTransientErrorPeriod .. backOffPeriod).
ERROR_RETRY_SECONDS = (1.0, 10.0)
# A container that could not start (ErrImagePull, ImagePullBackOff, CreateContainerConfigError,
# ...) makes the kubelet's SyncPod fail, and its pod worker requeues a failed sync after
# backOffPeriod (pod_workers.go completeWork), not at the next syncFrequency.
START_FAILURE_RETRY_SECONDS = 10.0


def create_pod_manager(ctx: DaemonContext) -> Engine:
    return Engine(ctx)


# ---- the engine ---------------------------------------------------------------------


class Engine:
    """PodManager (podrun.agent.PodManager) for the daemon."""

    def __init__(self, ctx: DaemonContext) -> None:
        self.ctx = ctx
        self.store = ctx.store
        cgroups = None
        host = detect_host()
        if host.layout is not Layout.NONE and host.mountpoint is not None:
            root = Path(ctx.cgroup_root) if ctx.cgroup_root else None
            cgroups = CgroupManager.for_host(host, root=root)  # refuses a root outside cgroup2
            cgroups.setup()
        self.cgroup_layout = host.layout
        # pod dirs and log dirs go the way of sandbox and container dirs: renamed away on
        # the delete path, deleted in the background (podrun.runtime.trash)
        self.trash = Trash([ctx.run_dir, ctx.root, ctx.log_dir])
        # pause caps each log file at containerLogMaxSize until the rotation reopens it
        # (docs/pause.md, "Logs"): a flood cannot fill the disk between two checks
        self.runtime = Runtime(ctx.run_dir, ctx.root, cgroups=cgroups, trash=self.trash,
                               log_max_bytes=parse_size(ctx.config.get("containerLogMaxSize")))
        shared = getattr(getattr(ctx, "images", None), "store", None)
        self.images = ImageManager(ctx.root / "images", registries=ctx.config.get("registries"),
                                   store=shared)
        # rmi and image GC never remove an image a container (even an exited one) uses
        self.images.store.in_use_hook = self._images_in_use
        max_period = ctx.config.get("crashLoopBackOff", {}).get("maxContainerRestartPeriod")
        self.backoff = Backoff(BackoffConfig.crash_loop(_seconds(max_period)))
        self.network = _network_manager(ctx)
        # pod uid -> its sandbox ids: a worker observes only its own sandboxes (reading
        # every sandbox of every pod on each sync made exits reach the status slowly)
        self.sandboxes_of: dict[str, set[str]] = {}
        for d in sorted((ctx.run_dir / "sandboxes").glob("*/sandbox.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                uid = json.loads(d.read_text())["podUID"]
                self.sandboxes_of.setdefault(uid, set()).add(d.parent.name)
        self.workers: dict[str, PodWorker] = {}
        self.started_at = time.time()
        self.host_ip = _host_ip()
        self._housekeeping: asyncio.Task[None] | None = None
        self._sources_ready = asyncio.Event()
        self._offloaded: set[asyncio.Future[Any]] = set()  # threads close() waits for
        self.prober: Any = None

    # -- PodManager --------------------------------------------------------------------

    async def start(self) -> None:
        self._start_prober()
        self.store.listeners.append(self._object_changed)
        self._housekeeping = asyncio.create_task(self._housekeep(), name="housekeeping")

    async def sync_pod(self, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is None:
            worker = self.workers[uid] = PodWorker(self, pod)
            worker.start()
        else:
            worker.update(pod)

    async def terminate_pod(self, uid: str, grace_period_seconds: int | None) -> None:
        worker = self.workers.get(uid)
        if worker is None:
            pod = self.store.get_pod_by_uid(uid)
            if any(sb.pod_uid == uid for sb in await asyncio.to_thread(self.runtime.list_sandboxes)):
                if pod is None:
                    await asyncio.to_thread(self._remove_pod_leftovers, uid, None)
                    return
                worker = self.workers[uid] = PodWorker(self, pod)
                worker.start()
            else:
                # Nothing runs, but a daemon killed during this pod's deletion may have
                # removed its sandboxes and not yet its pod directory and logs.
                meta = (pod or {}).get("metadata") or {}
                logs = (pod_log_root(self.ctx.log_dir, meta["namespace"], meta["name"], uid)
                        if meta.get("namespace") and meta.get("name") else None)
                await asyncio.to_thread(self._remove_pod_leftovers, uid, logs)
                return
        await worker.terminate(grace_period_seconds)
        self.workers.pop(uid, None)

    def status(self, uid: str) -> dict[str, Any] | None:
        w = self.workers.get(uid)
        return w.status_dict if w else None

    def logs(self, uid: str, container: str, *, follow: bool = False, previous: bool = False,
             tail_lines: int | None = None, timestamps: bool = False,
             since_seconds: int | None = None,
             limit_bytes: int | None = None) -> AsyncIterator[bytes]:
        w = self._worker(uid)
        return w.logs(container, follow_=follow, previous=previous, tail_lines=tail_lines,
                      timestamps=timestamps, since_seconds=since_seconds,
                      limit_bytes=limit_bytes)

    async def exec(self, uid: str, container: str, command: list[str], *, stdin: bool,
                   tty: bool) -> ExecSession:
        return await self._worker(uid).exec(container, command, stdin=stdin, tty=tty)

    async def close(self, stop_pods: bool) -> None:
        if self._housekeeping:
            self._housekeeping.cancel()
        if stop_pods:
            await asyncio.gather(*(w.terminate(None) for w in list(self.workers.values())),
                                 return_exceptions=True)
        for w in list(self.workers.values()):
            await w.stop_task()
        await _settle(self._offloaded)
        # a clean shutdown leaves no half-deleted directory for the next start
        await asyncio.to_thread(self.trash.wait_empty, 10.0)
        if self.prober is not None:
            with contextlib.suppress(Exception):
                await self.prober.close()

    # -- helpers -----------------------------------------------------------------------

    def _worker(self, uid: str) -> PodWorker:
        w = self.workers.get(uid)
        if w is None:
            raise NotFound(f'pod with uid "{uid}" is not running on this node')
        return w

    def _start_prober(self) -> None:
        try:
            from podrun.agent.prober import ProbeManager
        except ImportError:
            return
        from podrun.clock import REAL_CLOCK

        def exec_sync(sandbox_id: str, container_id: str, argv: list[str], timeout: float):
            return self.runtime.exec_sync(sandbox_id, container_id, argv, timeout=timeout)

        def on_change(uid: str, _name: str) -> None:
            w = self.workers.get(uid)
            if w is not None:
                w.wake()

        def record_event(uid: str, type_: str, reason: str, message: str) -> None:
            w = self.workers.get(uid)
            if w is not None:
                w.event(type_, reason, message)

        try:
            self.prober = ProbeManager(exec_sync=exec_sync, clock=REAL_CLOCK,
                                       on_change=on_change, record_event=record_event,
                                       daemon_started_at=self.started_at)
        except TypeError as e:  # an interface mismatch must not take the daemon down
            log.error("prober unavailable: %s", e)

    def _object_changed(self, entry: Any) -> None:
        """A ConfigMap or Secret changed: sync the pods whose volumes show it now, rather
        than at their next periodic resync."""
        if entry.resource not in ("configmaps", "secrets"):
            return
        meta = entry.obj.get("metadata") or {}
        for w in list(self.workers.values()):
            if w.shows(entry.resource, meta.get("namespace") or "default",
                       str(meta.get("name") or "")):
                w.wake()

    def _images_in_use(self) -> set[str]:
        used: set[str] = set()
        for sb in self.runtime.list_sandboxes():
            for cfg in (self.runtime.sandbox_dir(sb.id) / "configs").glob("*.json"):
                with contextlib.suppress(OSError, ValueError):
                    ann = json.loads(cfg.read_text()).get("annotations", {})
                    if ann.get(ANN + "imageConfigID"):
                        used.add(ann[ANN + "imageConfigID"])
        return used

    def _rotate_logs(self) -> None:
        """The kubelet's container log manager: rotate running containers' logs."""
        from podrun.logs.rotation import needs_rotation, parse_size, rotate
        cfg = self.ctx.config
        max_size = parse_size(cfg.get("containerLogMaxSize"))
        max_files = int(cfg.get("containerLogMaxFiles") or 5)
        for w in list(self.workers.values()):
            for cid, (sandbox_id, log_path) in list(w.running_logs.items()):
                if not needs_rotation(log_path, max_size):
                    continue
                try:
                    rotate(log_path, max_files,
                           lambda s=sandbox_id, c=cid: self.runtime.reopen_log(s, c))
                except (PodrunError, OSError) as e:
                    log.warning("rotating %s failed: %s", log_path, e)

    def sources_ready(self) -> None:
        """Every pod source has been read once (the store at load, the static directory
        before the API serves): a sandbox of a pod none of them knows is an orphan from
        now on, removed at once, as the kubelet's HandlePodCleanups does once all its
        sources are ready (a pod force-deleted while the daemon was down, or whose
        deletion a stop cut short)."""
        self._sources_ready.set()

    async def _housekeep(self) -> None:
        """From sources_ready, every 5 s: remove sandboxes of pods nobody knows, DEL
        orphaned CNI attachments, drop expired backoff entries; every 10 s rotate logs;
        every 5 min image GC (the kubelet's ImageGCPeriod)."""
        await self._sources_ready.wait()
        ticks = 0
        cfg = self.ctx.config
        while True:
            try:
                if ticks and ticks % 2 == 0:
                    await asyncio.to_thread(self._rotate_logs)
                if ticks and ticks % 60 == 0:
                    await asyncio.to_thread(
                        self.images.store.gc, int(cfg.get("imageGCHighThresholdPercent", 85)),
                        int(cfg.get("imageGCLowThresholdPercent", 80)), 120.0)
                await self._remove_orphans()
                self.backoff.gc(time.time())
                await asyncio.to_thread(self._gc_network)
            except Exception:  # noqa: BLE001 - housekeeping must keep going
                log.exception("housekeeping failed")
            await asyncio.sleep(5)
            ticks += 1

    async def _remove_orphans(self) -> None:
        # the records alone: a pause round trip per sandbox every 5 s was a good part of
        # the daemon's idle CPU
        sandboxes = await asyncio.to_thread(self.runtime.sandbox_pod_uids)
        stored = self.store.pod_uids()
        # every sandbox is made by a worker, which stays in self.workers until its
        # termination (threads included, PodWorker._settle) removed them all
        orphans = {uid: sid for sid, uid in sandboxes.items()
                   if uid not in self.workers and uid not in stored}
        for uid, sid in orphans.items():
            log.info("removing sandbox %s of unknown pod %s", sid, uid)
            # a daemon stopping meanwhile waits for this (close): no half-removed sandbox
            await _off_thread(self._offloaded, self._remove_pod_leftovers, uid, None)

    def _gc_network(self) -> None:
        """DEL attachments whose sandbox is gone (a daemon that died half-way)."""
        if self.network is None:
            return
        for a in self.network.cached_attachments():
            if not self.runtime.sandbox_dir(a.container_id).exists():
                with contextlib.suppress(PodrunError, OSError):
                    self.network.teardown(a.container_id, attachment=a)

    def teardown_network(self, sandbox_id: str) -> None:
        """CNI DEL (with the cached result when there is one: DEL also runs without, for an
        ADD a daemon crash cut short), then drop the pinned netns. Idempotent."""
        d = self.runtime.sandbox_dir(sandbox_id)
        pinned = d / "netns"
        cached = self.network.cached_attachment(sandbox_id) if self.network else None
        if self.network is not None and (cached is not None or pinned.exists()):
            rec: dict[str, Any] = {}
            with contextlib.suppress(OSError, ValueError):
                rec = json.loads((d / "sandbox.json").read_text())
            self.network.teardown(sandbox_id, str(pinned) if pinned.exists() else None,
                                  pod_ns=str(rec.get("podNamespace", "")),
                                  pod_name=str(rec.get("podName", "")),
                                  pod_uid=str(rec.get("podUID", "")))
        if pinned.exists():
            from podrun.network.cni import unpin_netns
            unpin_netns(pinned)
            pinned.unlink(missing_ok=True)

    def _remove_pod_leftovers(self, uid: str, log_dir: Path | None) -> None:
        """Tear down and remove a pod's sandboxes, pod dir and log dir (None: the one its
        sandbox records name, for an orphan whose pod object is gone)."""
        for sb in self.runtime.list_sandboxes():
            if sb.pod_uid == uid:
                if log_dir is None:
                    with contextlib.suppress(PodrunError, OSError, ValueError):
                        rec = self.runtime.sandbox_record(sb.id)
                        if rec.get("podNamespace") and rec.get("podName"):
                            log_dir = pod_log_root(self.ctx.log_dir, str(rec["podNamespace"]),
                                                   str(rec["podName"]), uid)
                self.teardown_network(sb.id)
                self.runtime.remove_sandbox(sb.id)
        self.sandboxes_of.pop(uid, None)
        pod_dir = self.ctx.root / "pods" / uid
        if pod_dir.exists():
            _cleanup_pod_dir(pod_dir, self.trash)
        if log_dir is not None:
            self.trash.discard(log_dir)


# ---- one pod --------------------------------------------------------------------------


@dataclass
class _Tracked:
    """In-memory facts about a container instance that the runtime does not keep."""

    post_start_done: bool = True
    post_start_failed: bool = False
    message: str | None = None  # the termination message, once read


@dataclass
class PodWorker:
    engine: Engine
    pod_dict: dict[str, Any]
    pod: Pod = field(init=False)
    task: asyncio.Task[None] | None = None
    status_dict: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.uid: str = self.pod_dict["metadata"]["uid"]
        self.pod = _typed(self.pod_dict)
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self.reason_cache: dict[str, StartFailure] = {}
        self._start_failed = False  # a sandbox or container start failed in the last _act
        self._loop: asyncio.AbstractEventLoop | None = None  # the store's thread (event())
        self.tracked: dict[str, _Tracked] = {}
        self.watchers: dict[int, str] = {}  # pidfd -> what it watches
        self.terminating = False
        self.grace: float | None = None
        self.grace_changed = asyncio.Event()
        self.terminated = asyncio.Event()
        self.start_time: float | None = _parse_time(
            (self.pod_dict.get("status") or {}).get("startTime"))
        self.old_status: PodStatus | None = _typed_status(self.pod_dict.get("status"))
        self.pod_ips: dict[str, tuple[str, ...]] = {}
        self.running_logs: dict[str, tuple[str, Path]] = {}  # for log rotation
        self.evicted: Any = None  # an agent.eviction.Eviction once the pod is evicted
        self._eviction_checked = 0.0
        self._annotations: dict[str, dict[str, str]] = {}  # container id -> (immutable)
        self.log_root = pod_log_root(self.engine.ctx.log_dir, self.namespace, self.name,
                                     self.uid)
        self.pod_dir = self.engine.ctx.root / "pods" / self.uid
        self._offloaded: set[asyncio.Future[Any]] = set()  # threads of _off still running

    # -- identity ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.pod_dict["metadata"].get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.pod_dict["metadata"].get("namespace") or "default")

    def event(self, type_: str, reason: str, message: str) -> None:
        """Record an Event about this pod. The store belongs to the event loop's thread:
        from a worker thread (pod files, hooks run via asyncio.to_thread) the event is
        handed to the loop, never recorded concurrently with its other changes."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._record_event, type_, reason, message)
                return
        self._record_event(type_, reason, message)

    def _record_event(self, type_: str, reason: str, message: str) -> None:
        cur = self.engine.store.get_pod_by_uid(self.uid) or self.pod_dict
        try:
            self.engine.store.record_event(cur, type_, reason, message,
                                           host=self.engine.ctx.node_name)
        except Exception:  # noqa: BLE001 - an event must never break a sync
            log.exception("recording event %s failed", reason)

    # -- task control --------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.task = asyncio.create_task(self._run(), name=f"pod {self.namespace}/{self.name}")
        self.wake()

    def update(self, pod: dict[str, Any]) -> None:
        self.pod_dict = pod
        self.pod = _typed(pod)
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def wake_after(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(max(0.0, seconds), self.wake)

    async def stop_task(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self._settle()
        self._close_watchers()

    async def _off(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """asyncio.to_thread for this pod's work. Cancelling the worker's task does not
        stop a thread: _settle() waits for what still runs. A sandbox (or container) a
        thread was still creating when the pod was deleted outlived the deletion's
        teardown, and stayed behind until the orphan scan."""
        return await _off_thread(self._offloaded, fn, *args, **kwargs)

    async def _settle(self) -> None:
        """Wait for the threads of _off calls whose callers were cancelled."""
        await _settle(self._offloaded)

    async def _run(self) -> None:
        failures = 0
        while not self.terminating:
            await self._wake.wait()
            self._wake.clear()
            if self.terminating:
                break
            try:
                await self.sync()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a failed sync is retried, never fatal
                failures += 1
                log.exception("sync of pod %s/%s failed", self.namespace, self.name)
                self.event("Warning", "FailedSync", f"error syncing pod: {e}")
                self.wake_after(min(ERROR_RETRY_SECONDS[1],
                                    ERROR_RETRY_SECONDS[0] * 2 ** (failures - 1)))

    # -- observe -------------------------------------------------------------------------

    def _observe(self) -> tuple[PodObservation, dict[str, tuple[str, Any]]]:
        """The pod's sandboxes and container instances; also {container id: (sandbox id,
        runtime status)} for acting on them."""
        rt = self.engine.runtime
        sandboxes, instances = [], []
        where: dict[str, tuple[str, Any]] = {}
        running_logs: dict[str, tuple[str, Path]] = {}
        mine = self.engine.sandboxes_of.get(self.uid, set())
        for sid in sorted(mine):
            try:
                sb = rt.sandbox_status(sid)
                rec = rt.sandbox_record(sid)
            except (PodrunError, OSError, ValueError):
                if not rt.sandbox_dir(sid).exists():
                    mine.discard(sid)
                continue
            sandboxes.append(SandboxObservation(
                id=sb.id, ready=sb.ready, attempt=int(rec.get("attempt", 0)),
                created_at=sb.created_at / 1e9, ips=self._sandbox_ips(sb.id, rec),
                host_network=bool(rec.get("hostNetwork"))))
            for st in rt.list_containers(sb.id):
                ann = self._annotations.get(st.id)
                if ann is None:
                    try:
                        ann = rt.container_config(sb.id, st.id).get("annotations", {})
                    except (OSError, ValueError):
                        continue
                    self._annotations[st.id] = ann
                where[st.id] = (sb.id, st)
                if st.state == "running" and ann.get(ANN + "logPath"):
                    running_logs[st.id] = (sb.id, Path(ann[ANN + "logPath"]))
                instances.append(self._instance(st, ann))
        self.running_logs = running_logs
        return PodObservation.build(sandboxes, instances), where

    def _sandbox_ips(self, sandbox_id: str, rec: dict[str, Any]) -> tuple[str, ...]:
        if rec.get("hostNetwork"):
            return (self.engine.host_ip,)
        return tuple(rec.get("ips") or ())

    def _instance(self, st: Any, ann: dict[str, str]) -> ContainerInstance:
        state = {"running": ContainerRuntimeState.RUNNING, "exited": ContainerRuntimeState.EXITED,
                 }.get(st.state, ContainerRuntimeState.UNKNOWN)
        tracked = self.tracked.setdefault(st.id, _Tracked())
        message = st.message
        if state is ContainerRuntimeState.EXITED and tracked.message is None:
            tracked.message = self._termination_message(st, ann)
        if tracked.message:
            message = compose_terminated_message(message, tracked.message)
        liveness = readiness = startup = None
        if state is ContainerRuntimeState.RUNNING and self.engine.prober is not None:
            with contextlib.suppress(Exception):
                res = self.engine.prober.results(self.uid, ann.get(ANN + "name", ""), st.id)
                liveness = _probe(getattr(res, "liveness", None))
                readiness = _probe(getattr(res, "readiness", None))
                startup = _probe(getattr(res, "startup", None))
        return ContainerInstance(
            id=st.id, name=ann.get(ANN + "name", st.id), state=state,
            restart_index=int(ann.get(ANN + "restartCount", 0)),
            image=ann.get(ANN + "image", ""), image_id=ann.get(ANN + "imageID", ""),
            spec_hash=ann.get(ANN + "hash", ""), exit_code=st.exit_code or 0,
            signal=st.signal or 0, reason=st.reason, message=message,
            created_at=float(ann.get(ANN + "createdAt", 0)),
            started_at=st.started_at / 1e9 if st.started_at else None,
            finished_at=st.finished_at / 1e9 if st.finished_at else None,
            liveness=liveness, readiness=readiness, startup=startup,
            post_start_done=tracked.post_start_done,
            post_start_failed=tracked.post_start_failed)

    def _termination_message(self, st: Any, ann: dict[str, str]) -> str:
        c = self._container(ann.get(ANN + "name", ""))
        if c is None:
            return ""
        content = b""
        path = ann.get(ANN + "terminationMessageHostPath")
        if path:
            with contextlib.suppress(OSError):
                with open(path, "rb") as f:
                    content = f.read(4096 + 1)
        lines: list[str] = []
        partial = False
        if (c.termination_message_policy == "FallbackToLogsOnError" and not content.strip()
                and (st.exit_code or 0) != 0):
            log_path = ann.get(ANN + "logPath")
            if log_path:
                with contextlib.suppress(OSError):
                    data = Path(log_path).read_bytes()[-64 * 1024:]
                    text = format_lines(data).decode(errors="replace")
                    lines, partial = text.splitlines(), bool(text) and not text.endswith("\n")
        return termination_message(c, exit_code=st.exit_code or 0, reason=st.reason,
                                   file_content=content, log_lines=lines,
                                   last_line_partial=partial)

    def _container(self, name: str) -> Container | None:
        spec = self.pod.spec
        if spec is None:
            return None
        for c in (*(spec.init_containers or ()), *(spec.containers or ())):
            if c.name == name:
                return c
        return None

    # -- sync ----------------------------------------------------------------------------

    async def sync(self) -> None:
        obs, where = await self._off(self._observe)
        now = time.time()
        if self.start_time is None:
            self.start_time = now
        await self._check_eviction(obs, now)
        in_backoff, period = planmod.crash_loop_backoff(self.engine.backoff, self.pod)
        # An evicted pod is killed like a terminating one and never restarted.
        actions = planmod.compute_pod_actions(self.pod, obs, now, in_backoff=in_backoff,
                                              backoff_period=period,
                                              terminating=self.evicted is not None,
                                              start_time=self.start_time)
        if actions.kill_pod:
            # the status says why before the (possibly long) kill: DeadlineExceeded is
            # Failed at once, as the kubelet's status manager has it
            self._publish(obs)
        volumes_ready = False
        sb = obs.sandbox
        if sb is not None and sb.ready and not actions.kill_pod:
            volumes_ready = await self._prepare_volumes(sb.id)
        changed = await self._act(actions, obs, where, volumes_ready)
        if changed:
            obs, where = await self._off(self._observe)
        self._publish(obs)
        self._arm_watchers(obs, where)
        self._schedule(actions)
        if changed and not self._start_failed:
            # what this sync started may already have exited (or be due for the next
            # step, e.g. the next init container): plan again at once. Not after a start
            # that failed (ErrImagePull, CreateContainerConfigError): the kubelet's SyncPod
            # returns that error and its worker retries after backOffPeriod, so the
            # reason is what the status shows until then (_schedule).
            self.wake()

    async def _check_eviction(self, obs: PodObservation, now: float) -> None:
        """The kubelet's eviction manager for disk-backed emptyDir sizeLimit (every 10 s)."""
        from podrun.agent import eviction
        sb = obs.sandbox
        if (self.evicted is not None or sb is None or not sb.ready
                or now - self._eviction_checked < eviction.CHECK_INTERVAL_SECONDS):
            return
        self._eviction_checked = now
        found = await self._off(eviction.check_emptydir_usage, self.pod, self.pod_dir)
        if found:
            self.evicted = found[0]
            self.event(*found[0].event())

    def _schedule(self, actions: PodActions) -> None:
        delays = [RESYNC_SECONDS]
        if self.reason_cache or self._start_failed:  # a start failed (or waits in a backoff)
            delays.append(START_FAILURE_RETRY_SECONDS)
        if self._has_size_limits():
            from podrun.agent import eviction
            delays.append(eviction.CHECK_INTERVAL_SECONDS)  # the kubelet's housekeeping
        if actions.wake_after is not None:
            delays.append(actions.wake_after + 0.01)
        ads = self.pod.spec.active_deadline_seconds if self.pod.spec else None
        if ads is not None and self.start_time is not None:
            delays.append(max(0.0, self.start_time + ads - time.time()) + 0.01)
        self.wake_after(min(delays))

    def _has_size_limits(self) -> bool:
        """An emptyDir with a sizeLimit: the eviction check runs on this pod's syncs."""
        spec = self.pod.spec
        return any(v.empty_dir is not None and v.empty_dir.size_limit is not None
                   for v in (spec.volumes if spec else None) or ())

    def shows(self, resource: str, namespace: str, name: str) -> bool:
        """Whether a configMap/secret/projected volume of this pod shows that object, so
        its change must reach the mounted files (refreshed by a sync)."""
        spec = self.pod.spec
        if namespace != self.namespace or spec is None:
            return False
        want_cm = resource == "configmaps"
        for v in spec.volumes or ():
            if want_cm and v.config_map is not None and v.config_map.name == name:
                return True
            if not want_cm and v.secret is not None and v.secret.secret_name == name:
                return True
            for src in (v.projected.sources or ()) if v.projected is not None else ():
                ref = src.config_map if want_cm else src.secret
                if ref is not None and ref.name == name:
                    return True
        return False

    async def _prepare_volumes(self, sandbox_id: str) -> bool:
        return self._volumes_ready(await self._off(self._prepare_volumes_now, sandbox_id))

    def _volumes_ready(self, ready: bool | None) -> bool:
        """_prepare_volumes_now's answer; a mount that failed is retried in 2 s, as the
        kubelet's sync retries."""
        if ready is False:
            self.wake_after(2.0)
        return bool(ready)

    def _observe_and_prepare(self) -> tuple[tuple[PodObservation, dict[str, tuple[str, Any]]],
                                             bool | None]:
        """_observe, then the new sandbox's pod files, in one trip to a thread (on the way
        from a new sandbox to the first container start)."""
        obs, where = self._observe()
        sb = obs.sandbox
        ready = self._prepare_volumes_now(sb.id) if sb is not None and sb.ready else None
        return (obs, where), ready

    def _prepare_volumes_now(self, sandbox_id: str) -> bool | None:
        """The sandbox's status and the pod files in one trip to a thread (each hop costs
        a few ms on a busy host, on the way to Running); None: the sandbox is not ready."""
        status = self.engine.runtime.sandbox_status(sandbox_id)
        if not status.ready:
            return None
        return self._prepare_pod_files(status)

    async def _act(self, a: PodActions, obs: PodObservation,
                   where: dict[str, tuple[str, Any]], volumes_ready: bool) -> bool:
        self._start_failed = False
        if a.is_noop and not a.backoff and not a.pod_done:
            return False
        changed = False
        if a.kill_pod:
            if a.kill_reason.value == "DeadlineExceeded":
                self.event("Normal", "DeadlineExceeded", a.kill_message)
            from podrun.agent.eviction import GRACE_PERIOD_SECONDS
            await self._kill_containers(
                obs, where, a.kill_order,
                grace=float(GRACE_PERIOD_SECONDS) if self.evicted is not None else None,
                reason_message=a.kill_message)
            if a.create_sandbox and obs.sandboxes:
                self.event("Normal", "SandboxChanged",
                           "Pod sandbox changed, it will be killed and re-created.")
            # StopPodSandbox on every sandbox, dead ones too: a pause that died still
            # leaves its network (pinned netns, veth, lease, hostPort) to release.
            for sb in obs.sandboxes:
                await self._stop_sandbox(sb.id)
            changed = True
        if a.create_sandbox:
            sid = await self._create_sandbox(a.attempt, obs)
            if sid is None:
                # the kubelet's SyncPod fails (CreatePodSandboxError) and its pod worker
                # retries after backOffPeriod: not at once, which made a broken CNI
                # config a busy loop of sandbox creations
                self._start_failed = True
                return True
            changed = True
            (obs, where), ready = await self._off(self._observe_and_prepare)
            volumes_ready = self._volumes_ready(ready)
        sandbox = obs.sandbox
        if sandbox is None or not sandbox.ready:
            return changed
        if not a.create_sandbox and not volumes_ready:
            volumes_ready = await self._prepare_volumes(sandbox.id)
        if not volumes_ready:
            return changed
        for name, kill in a.containers_to_kill.items():
            inst = obs.latest(name)
            if inst is None or inst.state is not ContainerRuntimeState.RUNNING:
                continue
            msg = kill.message or f"Stopping container {name}"
            self.event("Normal", "Killing", msg)
            grace = self._kill_grace(name, kill)
            await self._stop_container(where[inst.id][0], inst.id, grace)
            changed = True
        # A start that failed before creating anything (image pull, config error) left a
        # reason in reason_cache and changed nothing: no immediate re-sync for it, or a
        # pod in ImagePullBackOff / CreateContainerConfigError re-syncs in a hot loop.
        for start in a.init_containers_to_start:
            ok = await self._start_container(start, sandbox.id, obs)
            changed = changed or ok or start.name not in self.reason_cache
            self._start_failed |= not ok and start.name in self.reason_cache
            if not ok and start.kind is not ContainerKind.SIDECAR:
                break
        else:
            for start in a.containers_to_start:
                ok = await self._start_container(start, sandbox.id, obs)
                changed = changed or ok or start.name not in self.reason_cache
                self._start_failed |= not ok and start.name in self.reason_cache
        for w in a.backoff.values():
            self.reason_cache[w.name] = w.start_failure
            self.event("Warning", "BackOff", w.event_message)
        if a.pod_done:
            running = [n for n in a.kill_order]
            if running:
                await self._kill_containers(obs, where, running, grace=None, reason_message="")
            if sandbox.ready:
                await self._stop_sandbox(sandbox.id)
            changed = True
        return changed

    def _kill_grace(self, name: str, kill: Any) -> float:
        c = self._container(name)
        probe_grace = None
        reason = getattr(kill, "reason", None)
        if c is not None and reason is not None:
            probe = (c.liveness_probe if str(reason.value).startswith("Liveness")
                     else c.startup_probe if str(reason.value).startswith("Startup") else None)
            probe_grace = probe.termination_grace_period_seconds if probe else None
        spec_tgps = self.pod.spec.termination_grace_period_seconds if self.pod.spec else None
        return float(termination.container_kill_grace(
            deletion_grace=None, spec_tgps=spec_tgps, reason=reason, probe_grace=probe_grace,
            override=None))

    # -- sandbox -------------------------------------------------------------------------

    async def _create_sandbox(self, attempt: int, obs: PodObservation) -> str | None:
        spec = self.pod.spec
        assert spec is not None
        sid = f"{self.uid[:12]}-{attempt}-{secrets.token_hex(3)}"
        # keep the newest stopped sandbox (restart counts, lastState); drop older ones
        for old in obs.sandboxes[1:]:
            await self._discard_sandbox(old.id)
        from podrun.core.resources import CgroupOptions, PodResources, pod_cgroup_values
        values = pod_cgroup_values(PodResources.from_spec(spec), CgroupOptions(
            pod_pids_limit=int(self.engine.ctx.config.get("podPidsLimit", -1))))
        options = SandboxOptions(
            pod_uid=self.uid, hostname=self._hostname(),
            host_network=bool(spec.host_network), host_ipc=bool(spec.host_ipc),
            host_pid=bool(spec.host_pid),
            share_process_namespace=bool(spec.share_process_namespace), cgroup_values=values,
            record={"attempt": attempt, "podName": self.name, "podNamespace": self.namespace})
        self.engine.sandboxes_of.setdefault(self.uid, set()).add(sid)
        try:
            status = await self._off(self.engine.runtime.create_sandbox, sid, options)
        except (PodrunError, OSError) as e:
            self.event("Warning", "FailedCreatePodSandBox",
                       f"Failed to create pod sandbox: {e}")
            return None
        self._record_sandbox_attempt(sid, attempt)
        for item in describe_not_enforced_from(status.not_enforced):
            self.event("Warning", "LimitsNotEnforced", item)
        if not spec.host_network and status.pid:
            try:
                ips = await self._off(self._setup_network, sid, status.pid)
            except (PodrunError, OSError) as e:
                self.event("Warning", "FailedCreatePodSandBox",
                           f"Failed to create pod sandbox: failed to setup network for "
                           f"sandbox \"{sid}\": {e}")
                await self._discard_sandbox(sid)
                return None
            self.pod_ips[sid] = ips
        return sid

    async def _discard_sandbox(self, sid: str) -> None:
        """Network teardown, then removal (pause, pinned netns, mounts, cgroup, dirs), each
        tried on its own: a teardown that fails (no CNI config, a plugin error) must not
        leave the rest behind, or every retry of a failing sandbox leaks its mounts."""
        with contextlib.suppress(PodrunError, OSError):
            await self._off(self.engine.teardown_network, sid)
        with contextlib.suppress(PodrunError, OSError):
            await self._off(self.engine.runtime.remove_sandbox, sid)

    def _setup_network(self, sid: str, pause_pid: int) -> tuple[str, ...]:
        """CNI ADD on the pod's netns, pinned under the sandbox dir so DEL still finds it
        after pause died; the pod IPs go into the sandbox record."""
        net = self.engine.network
        if net is None:
            _loopback_up(pause_pid)
            return ()
        from podrun.network.cni import (
            bandwidth_from_annotations,
            pin_netns,
            port_mappings_from_containers,
        )
        pinned = pin_netns(pause_pid, self.engine.runtime.sandbox_dir(sid) / "netns")
        spec = self.pod.spec
        assert spec is not None
        result = net.setup(
            self.namespace, self.name, self.uid, sid, pinned,
            port_mappings=port_mappings_from_containers(spec.containers or ()),
            bandwidth=bandwidth_from_annotations(self.pod_dict["metadata"].get("annotations")))
        self.engine.runtime.update_sandbox_record(sid, {"ips": list(result.ips)})
        return tuple(result.ips)

    def _record_sandbox_attempt(self, sid: str, attempt: int) -> None:
        self.engine.runtime.update_sandbox_record(
            sid, {"attempt": attempt, "podName": self.name, "podNamespace": self.namespace})

    def _hostname(self) -> str:
        """The sandbox's kernel hostname (BEHAVIOR.md 10.1)."""
        from podrun.agent import containers as C
        return C.pod_hostname(self._pod_context(None))[2]

    def _prepare_pod_files(self, sandbox: Any) -> bool:
        """Pod files and volumes (hosts, resolv.conf, emptyDir, configMap/secret content:
        refreshed on every sync so updates reach mounted volumes). False while a volume
        cannot be set up: containers then wait, as behind the kubelet's WaitForAttachAndMount."""
        from podrun.agent import containers as C
        from podrun.agent.volumes import VolumeSetupError
        try:
            events = C.prepare_pod(self._pod_context(sandbox))
        except VolumeSetupError as e:
            for type_, reason, message in e.events:
                self.event(type_, reason, message)
            return False
        for type_, reason, message in events or ():
            self.event(type_, reason, message)
        return True

    def _pod_context(self, sandbox: Any) -> Any:
        from podrun.agent import containers as C
        from podrun.core.resources import CgroupOptions
        cfg = self.engine.ctx.config
        ips: tuple[str, ...] = ()
        if sandbox is not None:
            ips = tuple(self.pod_ips.get(sandbox.id, ())) or tuple(
                self.engine.runtime.sandbox_record(sandbox.id).get("ips") or ())
        if self.pod.spec and self.pod.spec.host_network:
            ips = (self.engine.host_ip,)
        return C.PodContext(
            pod=self.pod, pod_dir=self.pod_dir, node_name=self.engine.ctx.node_name,
            host_ip=self.engine.host_ip, pod_ips=ips,
            shm_path=sandbox.shm_path if sandbox is not None else None,
            configmaps=lambda ns, n: self.engine.store.get("configmaps", ns, n),
            secrets=lambda ns, n: self.engine.store.get("secrets", ns, n),
            cluster_dns=tuple(cfg.get("clusterDNS") or ()),
            cluster_domain=str(cfg.get("clusterDomain") or "cluster.local"),
            host_ips=(self.engine.host_ip,),
            seccomp_default=bool(cfg.get("seccompDefault", False)),
            allowed_unsafe_sysctls=tuple(cfg.get("allowedUnsafeSysctls") or ()),
            cgroup_options=CgroupOptions(pod_pids_limit=int(cfg.get("podPidsLimit", -1))))

    async def _stop_sandbox(self, sandbox_id: str) -> None:
        """StopPodSandbox: tear the network down, then stop pause."""
        try:
            await self._off(self.engine.teardown_network, sandbox_id)
        except (PodrunError, OSError) as e:
            self.event("Warning", "FailedKillPod", f"error tearing down the pod network: {e}")
        with contextlib.suppress(PodrunError, OSError):
            await self._off(self.engine.runtime.stop_sandbox, sandbox_id)

    # -- containers ----------------------------------------------------------------------

    def _restart_count_from_logs(self, name: str) -> int:
        """calcRestartCountByLogDir (BEHAVIOR.md 2.4): highest N.log + 1."""
        d = self.log_root / name
        best = -1
        with contextlib.suppress(FileNotFoundError):
            for p in d.iterdir():
                stem = p.name.split(".log", 1)[0]
                if stem.isdigit():
                    best = max(best, int(stem))
        return best + 1

    async def _start_container(self, start: ContainerStart, sandbox_id: str,
                               obs: PodObservation) -> bool:
        c = self._container(start.name)
        if c is None:
            return False
        restart = (start.restart_count if start.restart_count is not None
                   else self._restart_count_from_logs(start.name))
        policy = c.image_pull_policy or "IfNotPresent"
        try:
            image = await self.engine.images.ensure(
                c.image or "", policy, pod_uid=self.uid, pull_secrets=self._pull_secrets(),
                event=lambda t, r, m: self.event(t, r, m))
        except ImagePullFailure as e:
            self.reason_cache[start.name] = StartFailure(reason=e.reason, message=e.message)
            return False
        try:
            from podrun.agent import containers as C
        except ImportError:
            self.reason_cache[start.name] = StartFailure(
                reason="CreateContainerConfigError",
                message="this podrun build cannot build container configs yet")
            return False

        cid = f"{_safe(start.name)}-{restart}-{secrets.token_hex(4)}"
        log_path = self.log_root / start.name / f"{restart}.log"
        post_start = c.lifecycle.post_start if c.lifecycle else None
        self.tracked[cid] = _Tracked(post_start_done=post_start is None)
        loop = asyncio.get_running_loop()

        def build_and_create() -> tuple[Any, Any, Any]:
            """The sandbox's status, the container's config and the container itself in one
            trip to a thread (each hop costs a few ms on a busy host, on the way to
            Running): (sandbox, launch or its PodrunError, the create's result or error)."""
            sandbox = self.engine.runtime.sandbox_status(sandbox_id)
            try:
                launch = C.build_container(
                    self._pod_context(sandbox), c, _image_config(C, image),
                    restart_count=restart, is_init=start.kind is not ContainerKind.REGULAR)
            except PodrunError as e:
                return sandbox, e, None
            for type_, reason, message in launch.events:
                self.event(type_, reason, message)  # handed to the loop, in order
            config = dict(launch.config)
            config["annotations"] = {
                **config.get("annotations", {}),
                ANN + "name": start.name, ANN + "restartCount": str(restart),
                ANN + "image": c.image or "", ANN + "imageID": image.image_id,
                ANN + "imageConfigID": image.id,
                ANN + "hash": planmod.container_hash(c), ANN + "createdAt": repr(time.time()),
                ANN + "logPath": str(log_path), ANN + "stopSignal": launch.stop_signal,
                ANN + "terminationMessageHostPath": str(launch.termination_message_path or ""),
            }
            if start.backoff_since is not None and start.backoff_key:
                # the backoff belongs to the loop's thread: recorded there, before the
                # create's result (call_soon_threadsafe keeps the order)
                loop.call_soon_threadsafe(self.engine.backoff.next, start.backoff_key,
                                          start.backoff_since, time.time())
            try:
                return sandbox, launch, self.engine.runtime.create_container(
                    sandbox_id, cid, config, log_path=log_path,
                    lowerdirs=list(image.lowerdirs), cgroup_values=launch.cgroup_values,
                    stdin=bool(c.stdin))
            except (PodrunError, OSError) as e:
                return sandbox, launch, e
        sandbox, launch, created = await self._off(build_and_create)
        if isinstance(launch, PodrunError):
            self.tracked.pop(cid, None)
            reason = ("CreateContainerConfigError"
                      if type(launch).__name__ == "CreateContainerConfigError"
                      else "CreateContainerError")
            self.reason_cache[start.name] = StartFailure(reason=reason, message=str(launch))
            self.event("Warning", "Failed", f"Error: {launch}")
            return False
        if isinstance(created, ContainerStartError):
            self.reason_cache.pop(start.name, None)
            self.event("Warning", "Failed", f"Error: failed to start container {start.name}: "
                                            f"{created.message}")
            return False
        if isinstance(created, (PodrunError, OSError)):
            self.reason_cache[start.name] = StartFailure(reason="RunContainerError",
                                                         message=str(created))
            self.event("Warning", "Failed", f"Error: {created}")
            return False
        status, not_enforced = created
        self.reason_cache.pop(start.name, None)
        self.event("Normal", "Created", f"Created container {start.name}")
        self.event("Normal", "Started", f"Started container {start.name}")
        for item in describe_not_enforced(not_enforced):
            self.event("Warning", "LimitsNotEnforced", f"container {start.name}: {item}")
        self._add_probes(c, cid, sandbox, status, start.kind is ContainerKind.SIDECAR)
        if post_start is not None:
            await self._run_post_start(c, cid, sandbox_id, sandbox)
        return True

    def _pull_secrets(self) -> dict[str, Any]:
        """Registry credentials from the pod's imagePullSecrets (dockerconfigjson Secrets);
        a missing or malformed Secret is an event, and the pull goes on without it, as the
        kubelet's keyring does."""
        from podrun.image import auth
        creds: dict[str, Any] = {}
        for ref in (self.pod.spec.image_pull_secrets or ()) if self.pod.spec else ():
            secret = self.engine.store.get("secrets", self.namespace, ref.name or "")
            if secret is None:
                self.event("Warning", "FailedToRetrieveImagePullSecret",
                           f'Unable to retrieve some image pull secrets ({ref.name}); '
                           "attempting to pull the image may not succeed.")
                continue
            try:
                creds.update(auth.from_secret_data(secret.get("data") or {}))
            except PodrunError as e:
                self.event("Warning", "FailedToRetrieveImagePullSecret", str(e))
        return creds

    def _probe_target(self, c: Container, cid: str, sandbox: Any, started_at: float) -> Any:
        from podrun.agent.prober import ProbeTarget
        ports = {p.name: p.container_port for p in (c.ports or ()) if p.name and p.container_port}
        ips = self.pod_ips.get(sandbox.id) or ()
        return ProbeTarget(pod_uid=self.uid, pod_name=self.name, namespace=self.namespace,
                           container_name=c.name or "", container_id=cid,
                           started_at=started_at,
                           pod_ip=ips[0] if ips else None, netns_path=sandbox.netns_path,
                           sandbox_id=sandbox.id, ports=ports)

    def _add_probes(self, c: Container, cid: str, sandbox: Any, status: Any,
                    sidecar: bool) -> None:
        if self.engine.prober is None:
            return
        try:  # every started container: a new container id resets the workers
            target = self._probe_target(c, cid, sandbox, (status.started_at or 0) / 1e9)
            self.engine.prober.add_container(target, c, is_sidecar=sidecar)
        except Exception:  # noqa: BLE001
            log.exception("adding probes for %s failed", c.name)

    async def _run_post_start(self, c: Container, cid: str, sandbox_id: str,
                              sandbox: Any) -> None:
        tracked = self.tracked[cid]
        try:
            from podrun.agent.hooks import run_lifecycle_handler
            target = self._probe_target(c, cid, sandbox, time.time())
            result = await run_lifecycle_handler(
                c.lifecycle.post_start, kind="postStart", target=target,  # type: ignore[union-attr]
                exec_sync=lambda s, i, argv, t: self.engine.runtime.exec_sync(s, i, argv,
                                                                              timeout=t),
                timeout=None, container=c)
            ok, message = bool(result.ok), str(result.message)
            for type_, reason, msg in getattr(result, "events", ()) or ():
                self.event(type_, reason, msg)
        except ImportError:
            ok, message = False, "lifecycle hooks are not available in this podrun build"
        if ok:
            tracked.post_start_done = True
            return
        tracked.post_start_failed = True
        self.event("Warning", "FailedPostStartHook", message or "PostStartHook failed")
        self.reason_cache[c.name or ""] = StartFailure(reason="PostStartHookError",
                                                       message=message)
        grace = float(termination.container_kill_grace(
            deletion_grace=None, spec_tgps=self.pod.spec.termination_grace_period_seconds
            if self.pod.spec else None, reason=None, probe_grace=None, override=None))
        self.event("Normal", "Killing", f"FailedPostStartHook: Stopping container {c.name}")
        await self._stop_container(sandbox_id, cid, grace)
        tracked.post_start_done = True

    async def _stop_container(self, sandbox_id: str, cid: str, grace: float) -> None:
        """Stop signal, wait up to `grace` (which a shorter deletion may cut), SIGKILL
        the container's cgroup (BEHAVIOR.md 6.2 step 5)."""
        rt = self.engine.runtime
        try:
            ann = (await self._off(rt.container_config, sandbox_id, cid)).get(
                "annotations", {})
        except (OSError, ValueError):
            ann = {}
        sig = _signal(ann.get(ANN + "stopSignal") or "SIGTERM")
        deadline = time.monotonic() + grace
        with contextlib.suppress(PodrunError, OSError):
            if grace > 0:
                await self._off(rt.signal_container, sandbox_id, cid, sig)
        while time.monotonic() < self._deadline(deadline):
            st = await self._off(rt.container_status, sandbox_id, cid)
            if st.state != "running":
                return
            remaining = self._deadline(deadline) - time.monotonic()
            self.grace_changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._exit_or_grace(st.pid), max(0.0, min(remaining, 1.0)))
        with contextlib.suppress(PodrunError, OSError):
            await self._off(rt.stop_container, sandbox_id, cid, grace_seconds=0)

    def _deadline(self, own: float) -> float:
        """A deletion that shortened the grace while this stop was under way wins."""
        if self.terminating and self._termination_deadline is not None:
            return min(own, self._termination_deadline)
        return own

    _termination_deadline: float | None = None

    async def _exit_or_grace(self, pid: int | None) -> None:
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self.grace_changed.wait())]
        fd = None
        if pid:
            with contextlib.suppress(OSError):
                fd = os.pidfd_open(pid)
        loop = asyncio.get_running_loop()
        if fd is not None:
            fut = loop.create_future()
            loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
            waits.append(fut)
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
            if fd is not None:
                loop.remove_reader(fd)
                os.close(fd)
            # pause reaps and records the exit a moment after the pidfd fires; the caller
            # asks pause again (which also reports an exit it reaped but not yet recorded)
            await asyncio.sleep(0.002)

    async def _kill_containers(self, obs: PodObservation, where: dict[str, tuple[str, Any]],
                               order: Any, *, grace: float | None, reason_message: str) -> None:
        """Kill running containers: regular ones in parallel, sidecars after them in
        reverse spec order (BEHAVIOR.md 6.3)."""
        names = list(order)
        regular = [n for n in names if not self._is_sidecar(n)]
        sidecars = [n for n in names if self._is_sidecar(n)]
        spec_tgps = self.pod.spec.termination_grace_period_seconds if self.pod.spec else None

        async def kill(name: str) -> None:
            inst = obs.latest(name)
            if inst is None or inst.state is not ContainerRuntimeState.RUNNING:
                return
            g = grace if grace is not None else float(termination.container_kill_grace(
                deletion_grace=None, spec_tgps=spec_tgps, reason=None, probe_grace=None,
                override=None))
            self.event("Normal", "Killing", reason_message or f"Stopping container {name}")
            await self._stop_container(where[inst.id][0], inst.id, g)

        await asyncio.gather(*(kill(n) for n in regular))
        for n in sidecars:
            await kill(n)

    def _is_sidecar(self, name: str) -> bool:
        spec = self.pod.spec
        return bool(spec) and any(c.name == name and is_sidecar(c)
                                  for c in (spec.init_containers or ()))  # type: ignore[union-attr]

    # -- status --------------------------------------------------------------------------

    def _publish(self, obs: PodObservation, *, pod_is_terminal: bool = False) -> None:
        spec = self.pod.spec
        host_ips = (self.engine.host_ip,)
        status = generate_pod_status(
            self.pod, obs, time.time(), old_status=self.old_status,
            reason_cache=self.reason_cache, pod_is_terminal=pod_is_terminal,
            start_time=self.start_time, host_ips=host_ips,
            qos_class=str(qos_class(PodResources.from_spec(spec))) if spec else None)
        if self.evicted is not None:
            # phase Failed, reason Evicted (the eviction manager's status, sticky)
            status = dataclasses.replace(status, phase="Failed", reason="Evicted",
                                         message=self.evicted.message)
        self.old_status = status
        new = to_dict(status)
        if new != self.status_dict:
            self.status_dict = new
            self.engine.store.update_status(self.uid, new)

    # -- exit watching -------------------------------------------------------------------

    def _arm_watchers(self, obs: PodObservation, where: dict[str, tuple[str, Any]]) -> None:
        self._close_watchers()
        loop = asyncio.get_running_loop()
        pids: list[tuple[int, str]] = []
        sb = obs.sandbox
        if sb is not None and sb.ready:
            pfd = self.engine.runtime.sandbox_pidfd(sb.id)
            if pfd is not None:
                self.watchers[pfd] = "sandbox"
                loop.add_reader(pfd, self._fired, pfd)
        for cid, (_sbid, st) in where.items():
            if st.state == "running" and st.pid:
                pids.append((st.pid, cid))
        for pid, cid in pids:
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                self.wake()
                continue
            self.watchers[fd] = cid
            loop.add_reader(fd, self._fired, fd)

    def _fired(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(fd)
        self.watchers.pop(fd, None)
        os.close(fd)
        # pause reaps and writes the exit record a moment after the pidfd fires
        loop.call_later(0.02, self.wake)

    def _close_watchers(self) -> None:
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            for fd in list(self.watchers):
                loop.remove_reader(fd)
        for fd in list(self.watchers):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.watchers.clear()

    # -- termination ---------------------------------------------------------------------

    async def terminate(self, grace_period_seconds: int | None) -> None:
        """BEHAVIOR.md 6.1: preStop hooks, stop signals, grace, SIGKILL, sandbox, cleanup.
        A second call can only shorten the grace."""
        spec_tgps = self.pod.spec.termination_grace_period_seconds if self.pod.spec else None
        requested = (grace_period_seconds if grace_period_seconds is not None
                     else (spec_tgps if spec_tgps is not None else 30))
        if self.terminating:
            new_deadline = time.monotonic() + max(0, requested)
            if self._termination_deadline is None or new_deadline < self._termination_deadline:
                self._termination_deadline = new_deadline
                self.grace_changed.set()
            await self.terminated.wait()
            return
        self.terminating = True
        self.grace = float(max(0, requested))
        self._termination_deadline = time.monotonic() + self.grace
        self.wake()
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        # the sync it cancelled may have left a thread creating a sandbox or a container:
        # the teardown below must see what that thread makes
        await self._settle()
        publisher = asyncio.create_task(self._publish_while_terminating())
        try:
            await self._terminate()
        finally:
            publisher.cancel()
            self._close_watchers()
            self.terminated.set()

    async def _publish_while_terminating(self) -> None:
        """Readiness keeps probing during termination (BEHAVIOR.md 4.2): publish what it
        finds, so Ready turns False while the containers shut down."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)
            self._wake.clear()
            try:
                obs, _ = await self._off(self._observe)
                self._publish(obs)
            except (PodrunError, OSError):
                pass

    async def _terminate(self) -> None:
        if self.engine.prober is not None:
            with contextlib.suppress(Exception):
                self.engine.prober.pod_terminating(self.uid)
        obs, where = await self._off(self._observe)
        grace = self.grace or 0.0
        t0 = time.monotonic()
        running = [n for n, insts in obs.containers.items()
                   if insts and insts[0].state is ContainerRuntimeState.RUNNING]
        # preStop hooks all start at once (BEHAVIOR.md 6.3); each container then gets its
        # stop signal, with the whole seconds the hook took subtracted and a 2 s floor.
        async def stop_one(name: str) -> None:
            inst = obs.latest(name)
            assert inst is not None
            c = self._container(name)
            sandbox_id = where[inst.id][0]
            g = grace
            pre_stop = c.lifecycle.pre_stop if c is not None and c.lifecycle else None
            if pre_stop is not None and g > 0:
                started = time.monotonic()
                await self._run_pre_stop(c, inst.id, sandbox_id, pre_stop, g)  # type: ignore[arg-type]
                g = termination.after_prestop(int(g), time.monotonic() - started)
            if self._is_sidecar(name):
                await self._wait_regular_exited(obs, where, name, t0 + grace)
            if grace > 0:
                g = termination.apply_floor(g)
            remaining_deadline = max(0.0, g)
            self.event("Normal", "Killing", f"Stopping container {name}")
            await self._stop_container(sandbox_id, inst.id, remaining_deadline)

        await asyncio.gather(*(stop_one(n) for n in running), return_exceptions=True)
        for sb in obs.sandboxes:
            await self._stop_sandbox(sb.id)
        obs, _ = await self._off(self._observe)
        self._publish(obs, pod_is_terminal=not is_static_pod(self.pod))
        if self.engine.prober is not None:
            with contextlib.suppress(Exception):
                self.engine.prober.remove_pod(self.uid)
        await self._off(self.engine._remove_pod_leftovers, self.uid, self.log_root)

    async def _wait_regular_exited(self, obs: PodObservation, where: dict[str, tuple[str, Any]],
                                   sidecar: str, deadline: float) -> None:
        """A sidecar's stop signal waits for every regular container and every later
        sidecar to exit, at most until the grace runs out (BEHAVIOR.md 6.3)."""
        spec = self.pod.spec
        assert spec is not None
        inits = list(spec.init_containers or ())
        idx = next(i for i, c in enumerate(inits) if c.name == sidecar)
        waits_for = [c.name for c in spec.containers or ()] + [
            c.name for c in inits[idx + 1:] if is_sidecar(c)]
        while time.monotonic() < self._deadline(deadline):
            alive = False
            for name in waits_for:
                inst = obs.latest(name or "")
                if inst is None or inst.state is not ContainerRuntimeState.RUNNING:
                    continue
                st = await self._off(self.engine.runtime.container_status,
                                             where[inst.id][0], inst.id)
                alive = alive or st.state == "running"
            if not alive:
                return
            await asyncio.sleep(0.05)

    async def _run_pre_stop(self, c: Container, cid: str, sandbox_id: str, handler: Any,
                            grace: float) -> None:
        try:
            from podrun.agent.hooks import run_lifecycle_handler
        except ImportError:
            self.event("Warning", "FailedPreStopHook",
                       "lifecycle hooks are not available in this podrun build")
            return
        sandbox = await self._off(self.engine.runtime.sandbox_status, sandbox_id)
        target = self._probe_target(c, cid, sandbox, time.time())
        try:
            result = await asyncio.wait_for(run_lifecycle_handler(
                handler, kind="preStop", target=target,
                exec_sync=lambda s, i, argv, t: self.engine.runtime.exec_sync(s, i, argv,
                                                                              timeout=t),
                timeout=grace, container=c), timeout=grace)
            for type_, reason, msg in getattr(result, "events", ()) or ():
                self.event(type_, reason, msg)
            if not result.ok:
                self.event("Warning", "FailedPreStopHook", str(result.message))
        except TimeoutError:
            self.event("Warning", "FailedPreStopHook",
                       f"PreStopHook for container {c.name} did not finish within {grace:g}s")

    # -- logs and exec -------------------------------------------------------------------

    def _pick_instance(self, obs: PodObservation, container: str,
                       previous: bool) -> ContainerInstance:
        if self._container(container) is None:
            raise PodrunError(f"container {container} is not valid for pod {self.name}")
        insts = obs.instances(container)
        if previous:
            if len(insts) < 2:
                raise PodrunError(f'previous terminated container "{container}" in pod '
                                  f'"{self.name}" not found')
            return insts[1]
        if not insts:
            reason = self.reason_cache.get(container)
            why = reason.reason if reason else (
                "PodInitializing" if self.pod.spec and self.pod.spec.init_containers
                else "ContainerCreating")
            raise PodrunError(f'container "{container}" in pod "{self.name}" is waiting to '
                              f"start: {why}")
        return insts[0]

    async def logs(self, container: str, *, follow_: bool, previous: bool,
                   tail_lines: int | None, timestamps: bool, since_seconds: int | None,
                   limit_bytes: int | None) -> AsyncIterator[bytes]:
        obs, where = await self._off(self._observe)
        inst = self._pick_instance(obs, container, previous)
        path = self.log_root / container / f"{inst.restart_index}.log"
        since_ns = (time.time_ns() - since_seconds * 1_000_000_000
                    if since_seconds is not None else None)
        if not follow_ or inst.state is not ContainerRuntimeState.RUNNING:
            data = await self._off(_read_all, path)
            yield format_lines(data, timestamps=timestamps, tail_lines=tail_lines,
                               since_ns=since_ns, limit_bytes=limit_bytes)
            return
        sandbox_id = where[inst.id][0]
        rt = self.engine.runtime
        state = {"done": False, "checked": 0.0}

        def done() -> bool:
            now = time.monotonic()
            if now - state["checked"] > 0.5:
                state["checked"] = now
                try:
                    state["done"] = rt.container_status(sandbox_id, inst.id).state != "running"
                except PodrunError:
                    state["done"] = True
            return bool(state["done"])

        sent = 0
        async for chunk in follow(path, timestamps=timestamps, tail_lines=tail_lines,
                                  since_ns=since_ns, done=done):
            if limit_bytes is not None:
                chunk = chunk[: max(0, limit_bytes - sent)]
            sent += len(chunk)
            if chunk:
                yield chunk
            if limit_bytes is not None and sent >= limit_bytes:
                return

    async def exec(self, container: str, command: list[str], *, stdin: bool,
                   tty: bool) -> ExecSession:
        obs, where = await self._off(self._observe)
        if self._container(container) is None:
            raise PodrunError(f"container {container} is not valid for pod {self.name}")
        inst = obs.latest(container)
        if inst is None or inst.state is not ContainerRuntimeState.RUNNING:
            raise PodrunError(f"unable to upgrade connection: container not found "
                              f'("{container}")')
        sandbox_id = where[inst.id][0]
        st = where[inst.id][1]
        config = await self._off(self.engine.runtime.container_config, sandbox_id,
                                         inst.id)
        return await ExecSession.start(st.pid, config, command, stdin=stdin, tty=tty)


# ---- exec sessions ----------------------------------------------------------------------


class ExecSession:
    """A command started in a container through the exec helper (execin.py), with its
    stdio on pipes (or a pty with tty)."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int | None) -> None:
        self.proc = proc
        self.master = master
        self._queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._open = 0
        self._readers: list[asyncio.Task[None]] = []

    @classmethod
    async def start(cls, pid: int, config: dict[str, Any], command: list[str], *,
                    stdin: bool, tty: bool) -> ExecSession:
        ours, theirs = socket.socketpair()
        master = slave = None
        if tty:  # from the container's devpts, so `tty` names it there
            master, slave = execin.container_pty(pid)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-S", execin.HELPER, f"--sync-fd={theirs.fileno()}",
                pass_fds=(theirs.fileno(),),
                stdin=slave if tty else (subprocess.PIPE if stdin else subprocess.DEVNULL),
                stdout=slave if tty else subprocess.PIPE,
                stderr=slave if tty else subprocess.PIPE)
        finally:
            theirs.close()
            if slave is not None:
                os.close(slave)
        req = {"pid": pid, "config": config, "args": list(command), "env": [], "cwd": None,
               "tty": tty}
        ours.sendall(json.dumps(req).encode() + b"\n")
        err = await asyncio.to_thread(execin._start_error, ours)
        session = cls(proc, master)
        if err is not None:
            await session._queue.put((2, (err + "\n").encode()))
        session._pump()
        return session

    def _pump(self) -> None:
        if self.master is not None:
            self._open = 1
            self._readers.append(asyncio.create_task(self._read_fd(self.master, 1)))
            return
        for stream, n in ((self.proc.stdout, 1), (self.proc.stderr, 2)):
            if stream is not None:
                self._open += 1
                self._readers.append(asyncio.create_task(self._read_stream(stream, n)))

    async def _read_stream(self, stream: asyncio.StreamReader, n: int) -> None:
        try:
            while chunk := await stream.read(65536):
                await self._queue.put((n, chunk))
        finally:
            await self._closed_one()

    async def _read_fd(self, fd: int, n: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                fut: asyncio.Future[None] = loop.create_future()
                loop.add_reader(fd, _resolve, fut)
                try:
                    await fut
                finally:
                    loop.remove_reader(fd)
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the slave side is closed
                    break
                if not chunk:
                    break
                await self._queue.put((n, chunk))
        finally:
            await self._closed_one()

    async def _closed_one(self) -> None:
        self._open -= 1
        if self._open <= 0:
            await self._queue.put(None)

    async def write_stdin(self, data: bytes) -> None:
        if self.master is not None:
            await asyncio.to_thread(os.write, self.master, data)
        elif self.proc.stdin is not None:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()

    async def close_stdin(self) -> None:
        if self.master is not None:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(os.write, self.master, b"\x04")
        elif self.proc.stdin is not None:
            self.proc.stdin.close()

    async def read(self) -> tuple[int, bytes] | None:
        return await self._queue.get()

    def resize(self, width: int, height: int) -> None:
        if self.master is None:
            return
        import fcntl
        import struct
        import termios
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def wait(self) -> int:
        code = await self.proc.wait()
        for t in self._readers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(t, 2)
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None
        return code if code >= 0 else 128 - code

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()


# ---- helpers --------------------------------------------------------------------------


async def _off_thread(pending: set[asyncio.Future[Any]], fn: Callable[..., T], /,
                      *args: Any, **kwargs: Any) -> T:
    """asyncio.to_thread whose thread outlives a cancelled caller in `pending` until it
    ends, for _settle to wait on."""
    fut = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    pending.add(fut)
    fut.add_done_callback(pending.discard)
    fut.add_done_callback(_retrieved)  # an abandoned one's error is not "never retrieved"
    return await asyncio.shield(fut)


async def _settle(pending: set[asyncio.Future[Any]]) -> None:
    while pending:
        await asyncio.gather(*list(pending), return_exceptions=True)


def _retrieved(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _typed(pod: dict[str, Any]) -> Pod:
    body = {k: v for k, v in pod.items() if k != "status"}
    result = decode(Pod, body)
    if result.value is None:
        raise PodrunError(f"stored pod cannot be decoded: {result.errors[:3]}")
    return result.value


def _typed_status(status: dict[str, Any] | None) -> PodStatus | None:
    if not status:
        return None
    return decode(PodStatus, status).value


def _probe(value: Any) -> ProbeResult | None:
    if value is None:
        return None
    s = str(getattr(value, "value", value))
    return {"Success": ProbeResult.SUCCESS, "Failure": ProbeResult.FAILURE}.get(
        s, ProbeResult.UNKNOWN)


def _image_config(C: Any, image: ResolvedImage) -> Any:
    return C.ImageConfig(entrypoint=tuple(image.entrypoint), cmd=tuple(image.cmd),
                         env=tuple(image.env), working_dir=image.working_dir,
                         user=image.user, stop_signal=image.stop_signal)


def describe_not_enforced_from(items: tuple[str, ...]) -> list[str]:
    return list(items)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)[:60]


def _signal(name: str) -> int:
    name = name.strip().upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    return int(getattr(signal, name, signal.SIGTERM))


def _seconds(value: Any) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    s = str(value).strip()
    for suffix, mult in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if s.endswith(suffix) and s[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(s[: -len(suffix)]) * mult
    return float(s)


def _parse_time(value: Any) -> float | None:
    if not value:
        return None
    from podrun.core.observed import parse_rfc3339
    try:
        return float(parse_rfc3339(str(value)))
    except (ValueError, TypeError):
        return None


def _host_ip() -> str:
    """The node's address for status.hostIP: the first global IPv4 of a non-virtual link."""
    try:
        import psutil
        for name, addrs in sorted(psutil.net_if_addrs().items()):
            if name == "lo" or name.startswith(("veth", "podrun", "cni", "docker", "br-")):
                continue
            for a in addrs:
                if a.family == socket.AF_INET and not a.address.startswith("127."):
                    return str(a.address)
    except Exception:  # noqa: BLE001
        pass
    return "127.0.0.1"


REPO_CNI_DIR = Path(__file__).resolve().parents[2] / "cni"


def _network_manager(ctx: DaemonContext) -> Any:
    """The CNI runtime over --cni-conf-dir (podrun's own cni/ config when none is given)
    and --cni-bin-dir plus the usual plugin dirs; the result cache lives under --root."""
    from podrun.network.cni import NetworkManager, conf_files
    conf_dir = Path(ctx.cni_conf_dir) if ctx.cni_conf_dir else REPO_CNI_DIR
    if not conf_files(conf_dir):
        # a fresh host has no CNI config: podrun's own network (cni/10-podrun.conflist)
        log.info("no CNI config in %s: using podrun's default network from %s", conf_dir,
                 REPO_CNI_DIR)
        conf_dir = REPO_CNI_DIR
    bins = [str(p) for p in str(ctx.cni_bin_dir or "").split(":") if p]
    bins += [str(REPO_CNI_DIR), "/usr/lib/cni", "/opt/cni/bin"]
    timeout = _seconds((ctx.config.get("cni") or {}).get("timeout")) or 30.0
    try:
        net = NetworkManager(conf_dir, bins, ctx.root / "cni", timeout=timeout)
        net.config()
    except (PodrunError, OSError) as e:
        log.warning("no CNI network (%s): pods get only a loopback interface", e)
        return None
    return net


def _loopback_up(pause_pid: int) -> None:
    """Bring `lo` up in the pod's new network namespace (the CNI loopback plugin's job
    when a CNI network is configured)."""
    subprocess.run(["nsenter", f"--net=/proc/{pause_pid}/ns/net", "ip", "link", "set", "lo",
                    "up"], check=False, capture_output=True, timeout=10)


def pod_log_root(log_dir: Path, namespace: str, name: str, uid: str) -> Path:
    """A pod's log directory, as the kubelet names it (<ns>_<name>_<uid>)."""
    return log_dir / f"{namespace}_{name}_{uid}"


def _cleanup_pod_dir(pod_dir: Path, trash: Trash) -> None:
    """volumes.teardown without its rmtree: the shared binds and every mount below the pod
    dir go now (no mount outlives its pod), the files go to the trash."""
    from podrun.agent import volumes as V
    from podrun.runtime import syscalls
    from podrun.runtime.mounts import mounts_under
    V.release_shared_sources(pod_dir)
    V.unmount_all(pod_dir)
    for mnt in mounts_under(pod_dir):
        with contextlib.suppress(OSError):
            syscalls.umount2(mnt, syscalls.MNT_DETACH)
    leftover = mounts_under(pod_dir)
    if leftover:
        raise PodrunError(f"cleanup of {pod_dir}: still mounted: {', '.join(leftover)}")
    trash.discard(pod_dir)


def _read_all(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
