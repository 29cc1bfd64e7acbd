"""postStart/preStop handlers: exec through a fake runtime, httpGet against loopback servers,
sleep with and without a cut (BEHAVIOR.md 6.4)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from podrun.agent.hooks import HookResult, run_lifecycle_handler
from podrun.agent.prober import ProbeTarget
from podrun.runtime.execin import ExecResult
from podrun.spec.types import (
    Container,
    EnvVar,
    ExecAction,
    HTTPGetAction,
    HTTPHeader,
    LifecycleHandler,
    SleepAction,
    TCPSocketAction,
)
from tests.integration.probes.server import ProbeTestServer, loopback_socket

TARGET = ProbeTarget(pod_uid="u1", pod_name="web", namespace="default", container_name="app",
                     container_id="c1", started_at=0.0, pod_ip="127.0.0.1", netns_path=None,
                     sandbox_id="sb1", ports={})
POD = "web_default(u1)"


def fake_exec(sandbox_id: str, container_id: str, argv: list[str],
              timeout: float | None) -> ExecResult:
    if argv[0] == "fail":
        return ExecResult(2, b"some output\n", b"bad thing\n")
    if argv[0] == "hang":
        return ExecResult(137, b"", b"", timed_out=True)
    return ExecResult(0, " ".join(argv).encode(), b"")


def hook(handler: LifecycleHandler, *, kind: str = "postStart", timeout: float | None = None,
         target: ProbeTarget = TARGET, container: Container | None = None) -> HookResult:
    return asyncio.run(run_lifecycle_handler(handler, kind=kind, target=target,  # type: ignore[arg-type]
                                             exec_sync=fake_exec, timeout=timeout,
                                             container=container))


def test_exec_ok_and_env_expansion() -> None:
    c = Container(name="app", env=(EnvVar(name="MSG", value="hi"),))
    r = hook(LifecycleHandler(exec=ExecAction(command=("echo", "$(MSG)"))), container=c)
    assert r == HookResult(True, "echo hi")


def test_exec_nonzero_exit_is_a_failure_with_output() -> None:
    r = hook(LifecycleHandler(exec=ExecAction(command=("fail", "now"))))
    assert not r.ok
    assert r.message == (
        f'Exec lifecycle hook ([fail now]) for Container "app" in Pod "{POD}" failed - error: '
        "command 'fail now' exited with 2: bad thing\n, message: "
        '"some output\\nbad thing\\n"')


def test_exec_timeout() -> None:
    r = hook(LifecycleHandler(exec=ExecAction(command=("hang",))), kind="preStop", timeout=1)
    assert not r.ok and 'command "hang" timed out' in r.message


def test_sleep_and_cut_short() -> None:
    t0 = time.monotonic()
    assert hook(LifecycleHandler(sleep=SleepAction(seconds=1))).ok
    assert 0.95 < time.monotonic() - t0 < 1.5
    assert hook(LifecycleHandler(sleep=SleepAction(seconds=0))).ok
    t0 = time.monotonic()
    r = hook(LifecycleHandler(sleep=SleepAction(seconds=30)), kind="preStop", timeout=0.5)
    assert 0.45 < time.monotonic() - t0 < 1.0
    assert r == HookResult(False, f'Sleep lifecycle hook (30) for Container "app" in Pod '
                                  f'"{POD}" failed - error: container terminated before sleep '
                                  "hook finished")


def test_tcp_socket_is_an_invalid_handler() -> None:
    r = hook(LifecycleHandler(tcp_socket=TCPSocketAction(port=80)))
    assert not r.ok and r.message.startswith("Cannot run handler: invalid handler")


def test_http_hook_status_not_checked_and_user_agent() -> None:
    async def body() -> None:
        srv = await ProbeTestServer(loopback_socket()).start()
        c = Container(name="app")
        h = LifecycleHandler(http_get=HTTPGetAction(
            path="/status/500?msg=poststart", port="web",
            http_headers=(HTTPHeader(name="X-Hook", value="1"),)))
        target = ProbeTarget(**{**TARGET.__dict__, "ports": {"web": srv.port}})
        r = await run_lifecycle_handler(h, kind="postStart", target=target, exec_sync=fake_exec,
                                        timeout=None, container=c)
        assert r == HookResult(True)
        seen = srv.seen[0]
        assert seen.request_line == "GET /status/500?msg=poststart HTTP/1.1"
        assert seen.header("User-Agent") == "kube-lifecycle/1.33"
        assert seen.header("X-Hook") == "1"
        # a named port that does not exist, and a refused connection, fail
        bad = LifecycleHandler(http_get=HTTPGetAction(path="/", port="nope"))
        r = await run_lifecycle_handler(bad, kind="preStop", target=target, exec_sync=None,
                                        timeout=1)
        assert r == HookResult(False, f'HTTP lifecycle hook (/) for Container "app" in Pod '
                                      f'"{POD}" failed - error: port "nope" not found')
        port = srv.port
        await srv.stop()
        refused = LifecycleHandler(http_get=HTTPGetAction(path="/x", port=port))
        r = await run_lifecycle_handler(refused, kind="preStop", target=target, exec_sync=None,
                                        timeout=1)
        assert not r.ok and r.message.endswith(
            f'failed - error: Get "http://127.0.0.1:{port}/x": dial tcp 127.0.0.1:{port}: '
            "connect: connection refused")
    asyncio.run(body())


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    d: Path = tmp_path_factory.mktemp("tls")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=podrun-hook-test", "-keyout", str(d / "k.pem"),
                        "-out", str(d / "c.pem")], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"openssl cannot make a test certificate: {e}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "c.pem", d / "k.pem")
    return ctx


def test_https_hook_and_fallback_to_http(tls_context: ssl.SSLContext) -> None:
    async def body() -> None:
        tls = ProbeTestServer(loopback_socket())
        tls.server = await asyncio.start_server(tls._handle, sock=tls.sock, ssl=tls_context)
        plain = await ProbeTestServer(loopback_socket()).start()
        h = LifecycleHandler(http_get=HTTPGetAction(path="/echo?msg=prestop", port=tls.port,
                                                    scheme="HTTPS"))
        r = await run_lifecycle_handler(h, kind="preStop", target=TARGET, exec_sync=None,
                                        timeout=5)
        assert r == HookResult(True) and tls.seen[0].path == "/echo?msg=prestop"
        h = LifecycleHandler(http_get=HTTPGetAction(path="/echo?msg=prestop", port=plain.port,
                                                    scheme="HTTPS"))
        r = await run_lifecycle_handler(h, kind="preStop", target=TARGET, exec_sync=None,
                                        timeout=5)
        assert r.ok
        assert r.events == (("Warning", "LifecycleHTTPFallback",
                             f"request to HTTPS lifecycle hook 127.0.0.1:{plain.port} got HTTP "
                             "response, retry with HTTP succeeded"),)
        assert plain.seen[-1].path == "/echo?msg=prestop"
        await tls.stop()
        await plain.stop()
    asyncio.run(body())
