"""The probe manager: one asyncio task per (container, probe type), results in a small cache.

The kubelet's prober_manager/worker/prober split (BEHAVIOR.md 4): the decisions live in
podrun.core.probes; this module schedules workers on the daemon's loop, runs the handlers
(httpGet/tcpSocket/grpc from the host or inside the pod netns, exec in a thread), records
`Unhealthy`/`ProbeWarning` events and wakes the pod worker only when a published value
changes. The pod worker reads `results()` and acts (kill on liveness/startup Failure).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from podrun.agent.probes import exec as exec_probe
from podrun.agent.probes import grpc as grpc_probe
from podrun.agent.probes import http as http_probe
from podrun.agent.probes import tcp as tcp_probe
from podrun.agent.probes.netns import NetnsSockets
from podrun.clock import Clock
from podrun.core import probes as core
from podrun.core.probes import (
    FAILURE,
    SUCCESS,
    Gate,
    Outcome,
    ProbeRun,
    ProbeType,
    Published,
    WorkerState,
)
from podrun.spec.types import Container, Probe

log = logging.getLogger(__name__)

OnChange = Callable[[str, str], None]
RecordEvent = Callable[[str, str, str, str], None]
ExecSync = Callable[[str, str, list[str], float], Any]

# client-go's EventSourceObjectSpamFilter defaults (tools/record/events_cache.go): a token
# bucket per event key, full at 25, refilled one token per 5 minutes; at most 4096 keys.
EVENT_SPAM_BURST = 25
EVENT_SPAM_QPS = 1.0 / 300
EVENT_SPAM_KEYS = 4096


@dataclass(frozen=True)
class ProbeTarget:
    """Where a container's probes go: its ids, start time and how to reach its network."""

    pod_uid: str
    pod_name: str
    namespace: str
    container_name: str
    container_id: str
    started_at: float  # wall seconds when the container started (initialDelaySeconds)
    pod_ip: str | None  # None -> create sockets inside netns_path
    netns_path: str | None  # /proc/<pause pid>/ns/net
    sandbox_id: str
    ports: Mapping[str, int] = field(default_factory=dict)  # named container ports


@dataclass(frozen=True)
class ProbeResults:
    """A container's published probe values and what follows from them (BEHAVIOR.md 2.4)."""

    liveness: Published = None
    readiness: Published = None
    startup: Published = None
    started: bool = True
    ready: bool = True
    liveness_failed: bool = False
    startup_failed: bool = False
    kill_message: str | None = None  # "Container X failed liveness probe, will be restarted"
    kill_grace_seconds: int | None = None  # probe-level terminationGracePeriodSeconds, if set


def pod_description(target: ProbeTarget) -> str:
    """The kubelet's format.Pod: `name_namespace(uid)`."""
    return f"{target.pod_name}_{target.namespace}({target.pod_uid})"


def endpoint(explicit_host: str | None, target: ProbeTarget) -> tuple[str, str | None]:
    """(host to dial, netns to create the socket in) for an httpGet/tcpSocket/grpc action.

    An explicit `host` is dialled from the host, like the kubelet. Otherwise the pod IP; a
    pod without one (no CNI) is reached on 127.0.0.1 from inside its netns.
    """
    if explicit_host:
        return explicit_host, None
    if target.pod_ip:
        return target.pod_ip, None
    if target.netns_path:
        return "127.0.0.1", target.netns_path
    return "127.0.0.1", None


def named_ports(target: ProbeTarget, container: Container | None) -> dict[str, int]:
    ports: dict[str, int] = {}
    for p in (container.ports if container and container.ports else ()):
        if p.name and p.container_port:
            ports.setdefault(p.name, p.container_port)
    ports.update(target.ports)
    return ports


def static_env(container: Container | None) -> dict[str, str]:
    """Env entries with a literal value, for `$(VAR)` in exec commands (BEHAVIOR.md 10.4)."""
    entries = [(e.name, e.value, e.value_from is not None)
               for e in (container.env if container and container.env else ())]
    return core.static_env(entries)


ProbeCall = Callable[[], Awaitable[ProbeRun]]


def prepare_handler(probe: Probe, target: ProbeTarget, container: Container | None, *,
                    exec_sync: ExecSync | None, executor: ThreadPoolExecutor | None,
                    netns: NetnsSockets | None,
                    deadline: http_probe.Deadline | None = None,
                    settle: http_probe.Settle | None = None) -> ProbeCall:
    """Resolve a probe's action once for a container instance: a call that runs it.

    Port names, the URL, headers and the `$(VAR)` expansion are worked out here, so a
    worker pays for them once per container instance instead of once per tick.
    `deadline` makes the httpGet/tcpSocket timeouts (default asyncio.timeout); `settle` is
    what an httpGet awaits before reading its answer (default: until readable).
    """
    t = core.timing(timeout_seconds=probe.timeout_seconds)

    def error(message: str) -> ProbeCall:
        async def fail() -> ProbeRun:
            return ProbeRun(Outcome.UNKNOWN, "", error=message)
        return fail

    try:
        if probe.exec is not None:
            if exec_sync is None:
                return error("no exec runtime")
            run_exec = exec_sync
            argv = core.expand_static(list(probe.exec.command or ()), static_env(container))
            return lambda: exec_probe.probe(run_exec, target.sandbox_id, target.container_id,
                                            argv, timeout=t.timeout, executor=executor)
        if probe.http_get is not None:
            h = probe.http_get
            port = core.resolve_port(h.port, named_ports(target, container))
            host, ns = endpoint(h.host, target)
            url = http_probe.probe_url(h.scheme, host, port, h.path)
            headers = http_probe.build_headers(
                (x.name, x.value) for x in (h.http_headers or ()))
            return lambda: http_probe.probe(url, headers, timeout=t.timeout, netns_path=ns,
                                            netns=netns, deadline=deadline, settle=settle)
        if probe.tcp_socket is not None:
            port = core.resolve_port(probe.tcp_socket.port, named_ports(target, container))
            host, ns = endpoint(probe.tcp_socket.host, target)
            return lambda: tcp_probe.probe(host, port, timeout=t.timeout, netns_path=ns,
                                           netns=netns, deadline=deadline)
        if probe.grpc is not None:
            g = probe.grpc
            port = core.resolve_port(g.port, {})
            host, ns = endpoint(None, target)
            return lambda: grpc_probe.probe(host, port, g.service, timeout=t.timeout,
                                            netns_path=ns, netns=netns, executor=executor)
    except core.PortError as e:
        return error(str(e))
    return error(f"missing probe handler for {pod_description(target)}:{target.container_name}")


async def run_handler(probe: Probe, target: ProbeTarget, container: Container | None, *,
                      exec_sync: ExecSync | None, executor: ThreadPoolExecutor | None,
                      netns: NetnsSockets | None) -> ProbeRun:
    """Run a probe's action once (no retries) and say what came of it."""
    return await prepare_handler(probe, target, container, exec_sync=exec_sync,
                                 executor=executor, netns=netns)()


class _Container:
    """What the manager knows of one container of a pod."""

    def __init__(self, target: ProbeTarget, container: Container, is_sidecar: bool) -> None:
        self.target = target
        self.container = container
        self.is_sidecar = is_sidecar
        self.running = True
        self.workers: dict[ProbeType, _Worker] = {}


class _Worker:
    """One probe of one container: the kubelet's worker goroutine as an asyncio task."""

    def __init__(self, mgr: ProbeManager, entry: _Container, probe_type: ProbeType,
                 probe: Probe) -> None:
        self.mgr = mgr
        self.entry = entry
        self.probe_type = probe_type
        self.probe = probe
        self.state = WorkerState(probe_type, core.timing(
            initial_delay_seconds=probe.initial_delay_seconds,
            period_seconds=probe.period_seconds, timeout_seconds=probe.timeout_seconds,
            success_threshold=probe.success_threshold,
            failure_threshold=probe.failure_threshold,
            termination_grace_period_seconds=probe.termination_grace_period_seconds))
        self.state.observe_container(entry.target.container_id)
        self.triggered = False  # the one-slot manual trigger channel
        self._waiter: asyncio.Future[None] | None = None
        self._call: tuple[ProbeTarget, Container, ProbeCall] | None = None
        self.task: asyncio.Task[None] | None = None
        self.runs = 0  # probe runs started (tests, bench)
        self.run_times: list[float] = []  # loop times the runs started at, when recorded
        self.first_tick: float | None = None  # loop time of the first tick (bench)

    def start(self) -> None:
        name = f"probe {self.entry.target.pod_uid}/{self.entry.target.container_name}/" \
               f"{self.probe_type.value}"
        self.task = asyncio.get_running_loop().create_task(self._run(), name=name)

    def stop(self) -> None:
        self.state.stopped = True
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        period = float(self.state.timing.period)
        jitter = core.start_jitter(period, self.mgr.daemon_age(), random.random())
        first = loop.time()
        if jitter and not self.triggered:
            # A manual trigger (readiness right after startup succeeds) ends the jitter at
            # once; the kubelet holds it until the jitter is over (up to one period).
            first = await self._sleep_until(loop, first + jitter)
        self.triggered = False
        # Ticks are first + k * period, like the kubelet's ticker; a first run on the wake-up
        # grid keeps every later tick on it, so no tick is rounded up to the next grid point.
        first = tick = first if first <= loop.time() else loop.time()
        self.first_tick = first
        while not self.state.stopped:
            try:
                keep = await self._do_probe()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one probe must not end the worker (HandleCrash)
                log.exception("probe worker %s crashed; continuing", self.probe_type.value)
                keep = True
            if not keep or self.state.stopped:
                return
            run_at, tick = core.next_run(first, period, tick, loop.time())
            if run_at > loop.time() and not self.triggered:
                await self._sleep_until(loop, run_at)
            self.triggered = False

    async def _sleep_until(self, loop: asyncio.AbstractEventLoop, when: float) -> float:
        """Sleep until `when` rounded up to the manager's wake-up grid; returns that time.

        A bare future in a shared slot: cheaper than wait_for(Event.wait()) or a timer of
        its own per tick. A trigger wakes it early.
        """
        fut = self._waiter = loop.create_future()
        try:
            at = self.mgr.wake_at(when, fut, loop)
            await fut
            return at
        finally:
            self._waiter = None

    def trigger(self) -> None:
        self.triggered = True
        if self._waiter is not None:
            _wake(self._waiter)

    async def _do_probe(self) -> bool:
        entry, st, mgr = self.entry, self.state, self.mgr
        target = entry.target
        if st.observe_container(target.container_id):
            mgr.changed(target)
        gate = st.gate(running=entry.running, terminating=mgr.is_terminating(target.pod_uid),
                       started=mgr.started_now(entry), now_wall=mgr.clock.wall(),
                       started_at=target.started_at)
        if gate is Gate.STOP_TERMINATING:
            if st.terminate():
                mgr.changed(target)
            return False
        if gate is not Gate.PROBE:
            return True
        self.runs += 1
        if self.mgr.record_run_times:
            self.run_times.append(asyncio.get_running_loop().time())
        run = await self._probe_with_retries()
        # The world may have moved on while the probe ran: a new container, termination.
        if (st.stopped or st.container_id != entry.target.container_id or not entry.running
                or (self.probe_type is not ProbeType.READINESS
                    and mgr.is_terminating(target.pod_uid))):
            return not st.stopped
        event = core.event_for(self.probe_type, run)
        if event is not None:
            mgr.record(target.pod_uid, *event)
        result = core.result_of(run)
        if result is None:
            return True  # an error: thrown away
        if st.record(result):
            mgr.changed(target)
            if self.probe_type is ProbeType.STARTUP and result == SUCCESS:
                mgr.trigger_readiness(target.pod_uid, target.container_name)
        return True

    def _handler(self) -> ProbeCall:
        target, container = self.entry.target, self.entry.container
        if self._call is None or self._call[0] is not target or self._call[1] is not container:
            call = prepare_handler(self.probe, target, container, exec_sync=self.mgr.exec_sync,
                                   executor=self.mgr.executor, netns=self.mgr.netns,
                                   deadline=self.mgr.timeout, settle=self.mgr.settle)
            self._call = (target, container, call)
        return self._call[2]

    async def _probe_with_retries(self) -> ProbeRun:
        run = ProbeRun(Outcome.UNKNOWN, "")
        call = self._handler()
        for _ in range(core.MAX_PROBE_RETRIES):
            run = await call()
            if run.error is None:
                break
        return run


class EventSpamFilter:
    """client-go's spam filter for the events the prober records (the kubelet's recorder
    applies it to every event; the key holds the object, type, reason and message, so
    filtering only the probe events' keys is the same filter for them).

    A token bucket per key: `allow` takes a token if one is there. Keys are kept in LRU
    order, at most EVENT_SPAM_KEYS of them, and a pod's keys go when the pod goes.
    """

    def __init__(self, now: Callable[[], float], *, burst: int = EVENT_SPAM_BURST,
                 qps: float = EVENT_SPAM_QPS, max_keys: int = EVENT_SPAM_KEYS) -> None:
        self.now = now
        self.burst, self.qps, self.max_keys = float(burst), qps, max_keys
        self._buckets: dict[tuple[str, ...], tuple[float, float]] = {}  # key -> tokens, at

    def allow(self, key: tuple[str, ...]) -> bool:
        now = self.now()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.qps)
        ok = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if ok else tokens, now)
        if len(self._buckets) > self.max_keys:
            del self._buckets[next(iter(self._buckets))]
        return ok

    def forget(self, pod_uid: str) -> None:
        for key in [k for k in self._buckets if k[0] == pod_uid]:
            del self._buckets[key]


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _GridTimeout:
    """asyncio.timeout(seconds) for one probe run, expiring on the manager's wake-up grid.

    The same semantics as asyncio.Timeout (the task is cancelled at the deadline and
    TimeoutError comes out of the block, an outer cancellation stays a CancelledError),
    but no timer of its own: it joins the grid slot of its deadline, so the probes started
    in one slot share one loop timer for their timeouts too, and leaving the block early
    costs nothing (no cancelled timer left in the loop's heap). At most one grid step late.
    """

    __slots__ = ("_mgr", "_delay", "_task", "_cancelling", "_active", "_expired")

    def __init__(self, mgr: ProbeManager, delay: float | None) -> None:
        self._mgr = mgr
        self._delay = delay
        self._task: asyncio.Task[Any] | None = None
        self._cancelling = 0
        self._active = False
        self._expired = False

    async def __aenter__(self) -> _GridTimeout:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Timeout should be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._active = True
        if self._delay is not None:
            loop = task.get_loop()
            self._mgr.wake_at(loop.time() + self._delay, self, loop)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: Any) -> None:
        self._active = False
        if self._expired:
            assert self._task is not None
            if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc
        return None

    def expire(self) -> None:
        if self._active and not self._expired:
            self._expired = True
            assert self._task is not None
            self._task.cancel()


class ProbeManager:
    """Starts, feeds and stops probe workers; answers the pod worker's `results()`."""

    def __init__(self, *, exec_sync: ExecSync, clock: Clock, on_change: OnChange,
                 record_event: RecordEvent, daemon_started_at: float,
                 max_exec_threads: int = 32) -> None:
        """`daemon_started_at` is a clock.monotonic() reading (a wall reading also works)."""
        self.exec_sync = exec_sync
        self.clock = clock
        self.on_change = on_change
        self.record_event = record_event
        self.daemon_started_at = daemon_started_at
        self.executor = ThreadPoolExecutor(max_workers=max_exec_threads,
                                           thread_name_prefix="podrun-probe-exec")
        self.netns = NetnsSockets()
        self.record_run_times = False
        self.tick_quantum = 0.01  # seconds; 0 wakes each worker at its exact tick
        self._pods: dict[str, dict[str, _Container]] = {}
        self._terminating: set[str] = set()
        # grid point -> sleepers and probe timeouts due then
        self._slots: dict[float, list[asyncio.Future[None] | _GridTimeout]] = {}
        self.spam = EventSpamFilter(clock.monotonic)

    # -- for the workers

    def wake_at(self, when: float, fut: asyncio.Future[None] | _GridTimeout,
                loop: asyncio.AbstractEventLoop | None = None) -> float:
        """Wake `fut` (or expire a probe timeout) at loop time `when` rounded up to the
        grid: the time it will wake.

        Wake-ups on a 10 ms grid: workers due close together share one timer and one loop
        iteration (and their I/O its epoll calls); at most one grid step late.
        """
        if loop is None:
            loop = asyncio.get_running_loop()
        q = self.tick_quantum
        key = math.ceil(when / q - 1e-6) if q else when
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = []
            loop.call_at(key * q if q else when, self._fire, key)
        slot.append(fut)
        return key * q if q else when

    def _fire(self, key: float) -> None:
        for fut in self._slots.pop(key, ()):
            if type(fut) is _GridTimeout:
                fut.expire()
            else:
                _wake(fut)  # type: ignore[arg-type]

    async def settle(self) -> None:
        """Until the next wake-up on the grid (at least 1 ms): an httpGet sent in one wake-up
        reads its answer in the next, with that wake-up's work. The answers of a local pod
        are in by then, so the daemon wakes once per grid step rather than once per answer
        as well, and the read needs no epoll registration. The request goes out at the same
        time as before; only its result is looked at up to one grid step later."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self.wake_at(loop.time() + 0.001, fut, loop)
        await fut

    def timeout(self, delay: float | None) -> _GridTimeout:
        """asyncio.timeout(delay) for a probe run, on the wake-up grid (_GridTimeout)."""
        return _GridTimeout(self, delay)

    def daemon_age(self) -> float:
        # Real monotonic readings are uptimes; a value this large can only be epoch seconds.
        if self.daemon_started_at > 1e9:
            return self.clock.wall() - self.daemon_started_at
        return self.clock.monotonic() - self.daemon_started_at

    def is_terminating(self, pod_uid: str) -> bool:
        return pod_uid in self._terminating

    def started_now(self, entry: _Container) -> bool:
        w = entry.workers.get(ProbeType.STARTUP)
        return core.container_started(
            running=entry.running, has_startup_probe=w is not None,
            startup=w.state.published if w is not None else None)

    def changed(self, target: ProbeTarget) -> None:
        try:
            self.on_change(target.pod_uid, target.container_name)
        except Exception:
            log.exception("probe on_change callback failed")

    def record(self, pod_uid: str, type_: str, reason: str, message: str) -> None:
        """An event, unless the kubelet's recorder would drop it as spam: a probe failing
        every second records 25 `Unhealthy` events (counted on one Event), then one per 5
        minutes, so a pod that stays unready does not cost a store write per probe."""
        if not self.spam.allow((pod_uid, type_, reason, message)):
            return
        try:
            self.record_event(pod_uid, type_, reason, message)
        except Exception:
            log.exception("probe record_event callback failed")

    # -- the engine's interface

    def add_container(self, target: ProbeTarget, container: Container, *,
                      is_sidecar: bool = False) -> None:
        """Start workers for the container's probes; a new container_id resets their state."""
        pod = self._pods.setdefault(target.pod_uid, {})
        entry = pod.get(target.container_name)
        if entry is not None:
            old = entry.target.netns_path
            if old and old != target.netns_path:  # a new sandbox: spare sockets are stale
                self.netns.forget(old)
            entry.target = target
            entry.container = container
            entry.running = True
            for w in entry.workers.values():
                if w.state.observe_container(target.container_id):
                    self.changed(target)
            return
        entry = _Container(target, container, is_sidecar)
        pod[target.container_name] = entry
        for probe_type, probe in ((ProbeType.LIVENESS, container.liveness_probe),
                                  (ProbeType.READINESS, container.readiness_probe),
                                  (ProbeType.STARTUP, container.startup_probe)):
            if probe is None:
                continue
            w = _Worker(self, entry, probe_type, probe)
            entry.workers[probe_type] = w
            if probe_type is not ProbeType.READINESS and self.is_terminating(target.pod_uid):
                w.state.terminate()
                continue
            w.start()

    def container_exited(self, pod_uid: str, container_name: str) -> None:
        """The container is not running (workers keep their ticks and skip until re-added)."""
        entry = self._pods.get(pod_uid, {}).get(container_name)
        if entry is not None and entry.running:
            entry.running = False
            self.changed(entry.target)

    def remove_container(self, pod_uid: str, container_name: str) -> None:
        """Stop the container's workers and forget its results."""
        entry = self._pods.get(pod_uid, {}).pop(container_name, None)
        if entry is not None:
            for w in entry.workers.values():
                w.stop()

    def remove_pod(self, pod_uid: str) -> None:
        """Stop every worker of the pod and forget it."""
        for entry in self._pods.pop(pod_uid, {}).values():
            for w in entry.workers.values():
                w.stop()
            if entry.target.netns_path:
                self.netns.forget(entry.target.netns_path)
        self._terminating.discard(pod_uid)
        self.spam.forget(pod_uid)

    def pod_terminating(self, pod_uid: str) -> None:
        """Liveness and startup publish Success and stop; readiness keeps running."""
        if pod_uid in self._terminating:
            return
        self._terminating.add(pod_uid)
        for entry in self._pods.get(pod_uid, {}).values():
            for probe_type, w in entry.workers.items():
                if probe_type is ProbeType.READINESS:
                    continue
                changed = w.state.terminate()
                w.stop()
                if changed:
                    self.changed(entry.target)

    def trigger_readiness(self, pod_uid: str, container_name: str) -> None:
        """Run the readiness probe now (the kubelet's manual trigger after startup, 4.2)."""
        entry = self._pods.get(pod_uid, {}).get(container_name)
        w = entry.workers.get(ProbeType.READINESS) if entry else None
        if w is not None:
            w.trigger()

    def results(self, pod_uid: str, container_name: str, container_id: str) -> ProbeResults:
        """The published values for this container instance (assumed running).

        Unknown pod/container: no probes, so started and ready. A container_id the workers
        have not seen yet reads as the initial values.
        """
        entry = self._pods.get(pod_uid, {}).get(container_name)
        if entry is None:
            return ProbeResults()
        values: dict[ProbeType, Published] = {}
        held: dict[ProbeType, bool] = {}
        for probe_type, w in entry.workers.items():
            st = w.state
            if st.container_id == container_id:
                values[probe_type] = st.published
                held[probe_type] = st.on_hold and st.published == FAILURE
            else:
                values[probe_type] = core.initial_result(probe_type)
                held[probe_type] = False
        running = entry.running or entry.target.container_id != container_id
        started = core.container_started(
            running=running, has_startup_probe=ProbeType.STARTUP in entry.workers,
            startup=values.get(ProbeType.STARTUP))
        ready = core.container_ready(
            started=started, has_readiness_probe=ProbeType.READINESS in entry.workers,
            readiness=values.get(ProbeType.READINESS))
        failed = next((t for t in (ProbeType.STARTUP, ProbeType.LIVENESS) if held.get(t)), None)
        grace = None
        if failed is not None:
            grace = entry.workers[failed].state.timing.termination_grace
        return ProbeResults(
            liveness=values.get(ProbeType.LIVENESS), readiness=values.get(ProbeType.READINESS),
            startup=values.get(ProbeType.STARTUP), started=started, ready=ready,
            liveness_failed=held.get(ProbeType.LIVENESS, False),
            startup_failed=held.get(ProbeType.STARTUP, False),
            kill_message=core.kill_message(failed, container_name) if failed else None,
            kill_grace_seconds=grace)

    def workers(self, pod_uid: str, container_name: str) -> Mapping[ProbeType, _Worker]:
        """The running workers of a container (tests, bench)."""
        entry = self._pods.get(pod_uid, {}).get(container_name)
        return dict(entry.workers) if entry else {}

    async def close(self) -> None:
        """Stop every worker and release the threads."""
        tasks = []
        for uid in list(self._pods):
            for entry in self._pods[uid].values():
                tasks += [w.task for w in entry.workers.values() if w.task is not None]
            self.remove_pod(uid)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.netns.close()
