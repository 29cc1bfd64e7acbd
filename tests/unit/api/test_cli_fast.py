"""podrun/cli_fast.py: the command lines it takes run the same code as the click commands
and print byte for byte the same (stdout, stderr, exit code), against a real API app on a
Unix socket; every other command line is left to click; the fast path imports neither click
nor yaml (for JSON manifests) nor the daemon."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from podrun import cli_fast
from podrun.cli import cli
from tests.unit.api.test_cli_client import MANIFEST, Server, _seed
from tests.unit.api.test_cli_client import env as env  # the fixture

REPO = Path(__file__).resolve().parents[3]


def via_click(srv: Server, args: list[str], input: str | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, ["--socket", str(srv.sock), *args], input=input)
    return r.exit_code, r.stdout, r.stderr


def via_fast(srv: Server, args: list[str], capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch, input: str | None = None) -> tuple[int, str, str]:
    command = cli_fast.dispatch(["--socket", str(srv.sock), *args])
    assert command is not None, f"{args} left to click"
    if input is not None:
        import io
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(input.encode())))
    capsys.readouterr()
    code = 0
    try:
        cli_fast.run_command(command)
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


# Each step runs through click and through the fast path on fresh state, in this order.
SCENARIO: list[tuple[list[str], str | None]] = [
    (["get", "pods"], None),
    (["apply", "-f", "{d}/pod.yaml"], None),
    (["apply", "-f", "{d}/pod.yaml"], None),
    (["apply", "-f", "{d}/pod2.json", "--validate=warn"], None),
    (["apply", "-f", "-"], MANIFEST.replace("name: web", "name: stdin")),
    (["apply", "-f", "{d}/bad.yaml"], None),
    (["apply", "-f", "{d}/deploy.yaml"], None),
    (["apply", "-f", "{d}/pod.yaml", "-n", "other"], None),
    (["apply", "-f", "{d}/pod.yaml", "--wait", "--timeout", "1s"], None),
    (["get", "pods", "-o", "name"], None),
    (["get", "pods", "-A"], None),
    (["get", "po", "web", "-o", "json"], None),
    (["get", "pod", "web", "--output=yaml"], None),
    (["get", "pods", "-l", "app=web", "-o", "wide"], None),
    (["get", "pods", "--field-selector", "metadata.name=nope"], None),
    (["get", "pod", "nope"], None),
    (["get", "things"], None),
    (["logs", "web"], None),
    (["logs", "pod/web", "-c", "a", "--tail", "1", "--since", "5m", "--timestamps"], None),
    (["logs", "nope"], None),
    (["exec", "web", "--", "sh", "-c", "exit 3"], None),
    (["exec", "-n", "default", "nope", "-c", "a", "-i", "--", "true"], None),
    (["delete", "pod", "web", "--wait=false"], None),
    (["delete", "pod", "web"], None),
    (["delete", "pod", "db", "--force", "--grace-period", "0"], None),
    (["delete", "pod/stdin", "pod/nope"], None),
    (["delete", "-f", "{d}/pod2.json"], None),
]


def _files(d: Path) -> None:
    (d / "pod.yaml").write_text(MANIFEST)
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j", "bogus": 1},
           "spec": {"containers": [{"name": "a", "image": "busybox"}]}}
    (d / "pod2.json").write_text(json.dumps(doc))
    (d / "bad.yaml").write_text(MANIFEST.replace("containerPort: 80", "containerPort: x"))
    (d / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")


def _run_scenario(srv: Server, d: Path, runner: Any) -> list[tuple[int, str, str]]:
    _seed(srv)
    out = []
    for args, stdin in SCENARIO:
        code, o, e = runner([a.replace("{d}", str(d)) for a in args], stdin)
        # ages move on between the two runs
        out.append((code, _no_age(o), _no_age(e)))
    return out


def _no_age(text: str) -> str:
    import re
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "TIME", text)
    text = re.sub(r'"(uid|resourceVersion)": "[^"]*"', r'"\1": "-"', text)
    text = re.sub(r"(uid|resourceVersion): \S+", r"\1: -", text)
    return re.sub(r"\b\d+(s|m|h|d)\b", "AGE", text)


def test_fast_path_prints_what_click_prints(env: tuple[Server, Path],
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    srv, d = env
    _files(d)
    with_click = _run_scenario(srv, d, lambda a, i: via_click(srv, a, i))
    srv.call(lambda: [srv.store.remove(r, o["metadata"]["namespace"], o["metadata"]["name"])
                      for r in ("pods",) for o in srv.store.list(r, None)])
    fast = _run_scenario(srv, d, lambda a, i: via_fast(srv, a, capsys, monkeypatch, i))
    for (args, _), c, f in zip(SCENARIO, with_click, fast, strict=True):
        diff = "\n".join(difflib.unified_diff(c[1].splitlines() + c[2].splitlines(),
                                             f[1].splitlines() + f[2].splitlines(), lineterm=""))
        assert f == c, f"podrun {' '.join(args)}:\n{diff}"
    assert [c[0] for c in fast][:3] == [0, 0, 0]  # the scenario did real work
    assert fast[5][0] == 1 and "is invalid" in fast[5][2]


@pytest.mark.parametrize("argv", [
    ["--help"], ["-h"], ["get", "--help"], ["get", "pods", "-h"], ["get"],
    ["get", "pods", "-o", "bogus"], ["get", "pods", "--bogus"], ["get", "pods", "-Ao", "wide"],
    ["get", "pods", "-n"], ["get", "pods", "-n", "-A"], ["get", "pods", "-n=x"],
    ["apply"], ["apply", "-f", "/nonexistent.yaml"], ["apply", "-f", "x.yaml", "extra"],
    ["apply", "-f", "-", "--timeout", "soon"], ["apply", "-f", "-", "--validate", "maybe"],
    ["apply", "-f", "-", "--wait=yes"],
    ["delete"], ["delete", "pod", "x", "--grace-period", "soon"],
    ["delete", "pod", "x", "--grace-period", "-1"], ["delete", "--wait", "pod", "x"],
    ["delete", "pod", "x", "--wait=maybe"], ["delete", "pod", "x", "--timeout", "1y"],
    ["delete", "pod", "x", "--", "y"], ["exec", "x", "true"], ["exec", "-it", "x", "--", "sh"],
    ["exec", "x", "--"], ["exec", "--", "x", "true"], ["logs"], ["logs", "a", "b"],
    ["logs", "x", "--since", "soon"], ["logs", "x", "--tail", "many"],
    ["describe", "pod", "x"], ["version"], ["--socket"], ["--sock", "s", "get", "pods"],
])
def test_other_command_lines_go_to_click(argv: list[str]) -> None:
    assert cli_fast.dispatch(argv) is None


def test_completion_goes_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_PODRUN_COMPLETE", "bash_complete")
    assert cli_fast.dispatch(["get", "pods"]) is None


def test_exec_streams_and_exits_with_the_commands_code(env: tuple[Server, Path],
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.api.fakes import FakeExec
    srv, _ = env
    _seed(srv)
    srv.manager.engine = True
    srv.manager.exec_result = FakeExec([(1, b"out\n"), (2, b"err\n")], 7)
    code, out, err = via_fast(srv, ["exec", "web", "--", "sh", "-c", "exit 7"], capsys,
                              monkeypatch)
    assert (code, out, err) == (7, "out\n", "err\n")
    assert srv.manager.last_exec[2] == ["sh", "-c", "exit 7"]


def test_socket_from_option_env_or_default(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr("podrun.cli_core.get", lambda sock, *a: seen.append(sock))
    monkeypatch.delenv("PODRUN_SOCKET", raising=False)
    for argv in (["get", "pods"], ["--socket", "/a", "get", "pods"],
                 ["--socket=/b", "get", "pods"]):
        cmd = cli_fast.dispatch(argv)
        assert cmd is not None
        cmd()
    monkeypatch.setenv("PODRUN_SOCKET", "/env")
    cmd = cli_fast.dispatch(["get", "pods"])
    assert cmd is not None
    cmd()
    assert seen == ["/run/podrun/podrun.sock", "/a", "/b", "/env"]


def test_delete_wait_returns_when_the_pod_is_gone(env: tuple[Server, Path],
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """--wait (the default) holds until the termination ends, and returns at the DELETED
    event, not a polling period later."""
    srv, _ = env
    _seed(srv)
    srv.call(srv.manager.release.clear)
    done = threading.Event()
    result: list[tuple[int, str, str]] = []

    def run() -> None:
        result.append(via_fast(srv, ["delete", "pod", "web"], capsys, monkeypatch))
        done.set()
    threading.Thread(target=run, daemon=True).start()
    assert not done.wait(0.5), "delete --wait returned while the pod was terminating"
    released = time.monotonic()
    srv.call(srv.manager.release.set)
    assert done.wait(5)
    took = time.monotonic() - released
    assert result[0][:2] == (0, 'pod "web" deleted\n')
    assert took < 0.5, took


def test_fast_path_imports_no_click_yaml_or_daemon(env: tuple[Server, Path]) -> None:
    """A JSON apply and a get the installed launcher's way (python -S), here even without
    site-packages on the path: the fast path needs no third-party package."""
    srv, d = env
    (d / "pod.json").write_text(json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"},
        "spec": {"containers": [{"name": "a", "image": "busybox"}]}}))
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(REPO)!r}]\n"
        "from podrun import cli_fast\n"
        "for argv in (['apply', '-f', sys.argv[2]], ['get', 'pods']):\n"
        "    cli_fast.run_command(cli_fast.dispatch(['--socket', sys.argv[1], *argv]))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'yaml', 'httpx',"
        " 'aiohttp') or m.startswith('podrun.agent') or m in ('http.client', 'typing',"
        " 'pathlib', 'dataclasses', 'urllib.parse'))\n"
        "print('imported:', bad)\n")
    r = subprocess.run([sys.executable, "-S", "-c", code, str(srv.sock), str(d / "pod.json")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "pod/j created" in r.stdout and "imported: []" in r.stdout, r.stdout


def test_yaml_errors_keep_the_python_parsers_wording(capsys: pytest.CaptureFixture[str]) -> None:
    """libyaml reads the manifests; its error messages differ, so a broken one is worded by
    PyYAML's Python parser as before."""
    import yaml

    from podrun.cli_core import _yaml_documents
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: [x\n"
    with pytest.raises(yaml.YAMLError) as want:
        list(yaml.safe_load_all(text))
    with pytest.raises(SystemExit) as e:
        _yaml_documents(text, "pod.yaml")
    assert e.value.code == 1
    assert capsys.readouterr().err == f"error: error parsing pod.yaml: {want.value}\n"
    two = MANIFEST + "---\n" + MANIFEST.replace("name: web", "name: two")
    assert _yaml_documents(two, "x") == list(yaml.safe_load_all(two))


def test_a_wait_deadline_shorter_than_a_request_is_the_wait_timeout(
        env: tuple[Server, Path], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    srv, d = env
    (d / "pod.yaml").write_text(MANIFEST)
    for timeout in ("1ms", "1ns", "300ms"):
        code, _, err = via_fast(srv, ["apply", "-f", str(d / "pod.yaml"), "--wait",
                                      "--timeout", timeout], capsys, monkeypatch)
        assert (code, err) == (1, "error: timed out waiting for the condition on pods/web "
                                  f"(--timeout {timeout})\n")
