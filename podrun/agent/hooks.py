"""postStart and preStop handlers (exec, httpGet, sleep) as the kubelet runs them.

BEHAVIOR.md 6.4-6.5; K8S: pkg/kubelet/lifecycle/handlers.go. The caller decides what a
failure means (postStart: kill with FailedPostStartHook; preStop: a FailedPreStopHook event)
and bounds the run with `timeout` (preStop: the grace period; postStart: none).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal

from podrun.agent.prober import ProbeTarget, endpoint, named_ports, pod_description, static_env
from podrun.agent.probes import http as http_probe
from podrun.agent.probes.netns import NetnsSockets
from podrun.core import probes as core
from podrun.spec.types import Container, LifecycleHandler

ExecSync = Callable[..., Any]
HookKind = Literal["postStart", "preStop"]


@dataclass(frozen=True)
class HookResult:
    """ok, the kubelet's failure message, and events to record as (type, reason, message)."""

    ok: bool
    message: str = ""
    events: tuple[tuple[str, str, str], ...] = ()


def _go_q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _go_list(argv: list[str]) -> str:
    return "[" + " ".join(argv) + "]"


async def run_lifecycle_handler(handler: LifecycleHandler, *, kind: HookKind,
                                target: ProbeTarget, exec_sync: ExecSync | None,
                                timeout: float | None, container: Container | None = None,
                                executor: Executor | None = None,
                                netns: NetnsSockets | None = None) -> HookResult:
    """Run one postStart/preStop handler; never raises for a handler failure.

    `container` supplies named ports (beside target.ports) and the static env for `$(VAR)`.
    A run cut short by `timeout` is a failure.
    """
    pod = pod_description(target)
    cname = target.container_name
    if handler.exec is not None:
        argv = core.expand_static(list(handler.exec.command or ()), static_env(container))
        return await _run_exec(argv, target, exec_sync, timeout, executor, pod)
    if handler.http_get is not None:
        return await _run_http(handler, target, timeout, container, netns, pod)
    if handler.sleep is not None:
        seconds = handler.sleep.seconds or 0
        if seconds <= 0:
            return HookResult(True)
        if timeout is not None and timeout < seconds:
            await asyncio.sleep(max(0.0, timeout))
            return HookResult(False, f"Sleep lifecycle hook ({seconds}) for Container "
                              f"{_go_q(cname)} in Pod {_go_q(pod)} failed - error: container "
                              "terminated before sleep hook finished")
        await asyncio.sleep(seconds)
        return HookResult(True)
    what = "tcpSocket" if handler.tcp_socket is not None else "no action"
    return HookResult(False, f"Cannot run handler: invalid handler: {what} ({kind})")


async def _run_exec(argv: list[str], target: ProbeTarget, exec_sync: ExecSync | None,
                    timeout: float | None, executor: Executor | None, pod: str) -> HookResult:
    cname = target.container_name
    head = f"Exec lifecycle hook ({_go_list(argv)}) for Container {_go_q(cname)} in Pod {_go_q(pod)}"
    if exec_sync is None:
        return HookResult(False, f"{head} failed - error: no exec runtime, message: \"\"")
    loop = asyncio.get_running_loop()
    fut = loop.run_in_executor(executor, exec_sync, target.sandbox_id, target.container_id,
                               list(argv), timeout)
    try:
        # exec_sync enforces the timeout itself; this is a backstop a little later.
        res = await asyncio.wait_for(fut, None if timeout is None else timeout + 2.0)
    except TimeoutError:
        return HookResult(False, f"{head} failed - error: command {_go_q(' '.join(argv))} "
                          "timed out, message: \"\"")
    except Exception as e:  # the runtime could not exec
        return HookResult(False, f"{head} failed - error: {e}, message: \"\"")
    output = core.truncate_output((res.stdout or b"") + (res.stderr or b""))
    if getattr(res, "timed_out", False):
        return HookResult(False, f"{head} failed - error: command {_go_q(' '.join(argv))} "
                          f"timed out, message: {_go_q(output)}")
    if getattr(res, "error", None):
        return HookResult(False, f"{head} failed - error: {res.error}, message: {_go_q(output)}")
    if res.exit_code != 0:
        stderr = core.truncate_output(res.stderr or b"")
        err = f"command '{' '.join(argv)}' exited with {res.exit_code}: {stderr}"
        return HookResult(False, f"{head} failed - error: {err}, message: {_go_q(output)}")
    return HookResult(True, output)


async def _run_http(handler: LifecycleHandler, target: ProbeTarget, timeout: float | None,
                    container: Container | None, netns: NetnsSockets | None,
                    pod: str) -> HookResult:
    h = handler.http_get
    assert h is not None
    head = (f"HTTP lifecycle hook ({h.path or ''}) for Container {_go_q(target.container_name)}"
            f" in Pod {_go_q(pod)}")
    try:
        port = core.resolve_port(h.port, named_ports(target, container))
    except core.PortError as e:
        return HookResult(False, f"{head} failed - error: {e}")
    host, ns = endpoint(h.host, target)
    url = http_probe.probe_url(h.scheme, host, port, h.path)
    headers = http_probe.build_headers(((x.name, x.value) for x in (h.http_headers or ())),
                                       purpose="lifecycle")
    own_netns = netns is None and ns is not None
    if own_netns:
        netns = NetnsSockets()
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    try:
        try:
            await http_probe.get(url, headers, timeout=timeout, netns_path=ns, netns=netns)
            return HookResult(True)
        except http_probe.HTTPError as e:
            if not (e.https_to_http and url.scheme == "https"):
                return HookResult(False, f"{head} failed - error: {e.message}")
            first = e
        # An HTTPS hook answered in plain HTTP: retry once over HTTP (ConsistentHTTPGetHandlers).
        plain = http_probe.URL("http", url.host, url.port, url.path, url.query)
        rest = None if deadline is None else max(0.001, deadline - loop.time())
        try:
            await http_probe.get(plain, [(k, v) for k, v in headers if k != "Authorization"],
                                 timeout=rest, netns_path=ns, netns=netns)
        except http_probe.HTTPError:
            return HookResult(False, f"{head} failed - error: {first.message}")
        return HookResult(True, "", (("Warning", "LifecycleHTTPFallback",
                                      f"request to HTTPS lifecycle hook {url.hostport} got HTTP "
                                      "response, retry with HTTP succeeded"),))
    finally:
        if own_netns and netns is not None:
            netns.close()
