"""The pause control protocol's Python side: request encoding, reply decoding, launcher argv."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podrun.errors import HostError
from podrun.runtime import pause
from podrun.runtime.pause import Reply, decode_reply, encode_request, pause_argv


@pytest.mark.parametrize(("verb", "fields", "wire"), [
    ("ping", [], b"ping\0"),
    ("signal", [("id", "app"), ("signal", 15)], b"signal\0id=app\0signal=15\0"),
    ("create", [("id", "c1"), ("arg", "/bin/sh"), ("arg", "-c"), ("arg", "echo a=b"),
                ("env", "A=1"), ("env", "A=2")],
     b"create\0id=c1\0arg=/bin/sh\0arg=-c\0arg=echo a=b\0env=A=1\0env=A=2\0"),
    ("create", [("arg", b"\xff\xfe")], b"create\0arg=\xff\xfe\0"),
    ("create", [("arg", "caf\udce9")], b"create\0arg=caf\xe9\0"),
    ("create", [("arg", "")], b"create\0arg=\0"),
])
def test_encode_request(verb: str, fields: list[tuple[str, object]], wire: bytes) -> None:
    assert encode_request(verb, fields) == wire  # type: ignore[arg-type]


@pytest.mark.parametrize(("verb", "fields", "message"), [
    ("", [], "verb"),
    ("a=b", [], "verb"),
    ("create", [("", "x")], "field name"),
    ("create", [("a=b", "x")], "field name"),
    ("create", [("arg", "a\0b")], "NUL"),
    ("create", [("env", "X=" + "y" * pause.REQUEST_MAX)], "at most"),
])
def test_encode_request_rejects(verb: str, fields: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_request(verb, fields)


def test_decode_ok_reply_and_records() -> None:
    r = decode_reply(b"ok\0id=a\0pid=2\0state=running\0pidfd=0\0"
                     b"id=b\0pid=3\0state=exited\0exitCode=137\0msg=x=y\0")
    assert r.ok and r.get("pid") == "2" and r.get("nosuch") is None
    assert r.records("id") == [
        {"id": "a", "pid": "2", "state": "running", "pidfd": "0"},
        {"id": "b", "pid": "3", "state": "exited", "exitCode": "137", "msg": "x=y"},
    ]
    assert decode_reply(b"ok\0") == Reply(True, ())
    assert decode_reply(b"ok\0").records() == []


def test_decode_error_reply() -> None:
    r = decode_reply(b"error\0errno=2\0message=exec \"x\": No such file or directory\0")
    assert not r.ok
    assert r.get("errno") == "2"
    assert r.get("message") == 'exec "x": No such file or directory'


@pytest.mark.parametrize("data", [b"", b"ok", b"maybe\0", b"ok\0novalue\0"])
def test_decode_rejects(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_reply(data)


def test_pause_argv() -> None:
    assert pause_argv("/run/p", binary="/p") == [
        "/p", "--monitor", "--run-dir", "/run/p", "--new-net", "--new-ipc", "--new-uts",
        "--new-pid"]
    assert pause_argv(Path("/run/p"), binary="/p", new_net=False, new_pid=False,
                      hostname="h", cgroup_dir="/sys/fs/cgroup/pod1",
                      netns_path="/run/netns/x", oom_score_adj=-998) == [
        "/p", "--monitor", "--run-dir", "/run/p", "--new-ipc", "--new-uts", "--hostname", "h",
        "--cgroup", "/sys/fs/cgroup/pod1", "--netns-path", "/run/netns/x",
        "--oom-score-adj", "-998"]


def test_find_pause_binary_prefers_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tmp_path / "pause"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PODRUN_PAUSE", str(exe))
    assert pause.find_pause_binary() == exe


def test_find_pause_binary_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODRUN_PAUSE", str(tmp_path / "nosuch"))
    monkeypatch.setattr(pause.sys, "prefix", str(tmp_path))
    monkeypatch.setattr(pause, "__file__", str(tmp_path / "a/b/pause.py"))
    with pytest.raises(HostError, match="no pause binary"):
        pause.find_pause_binary()


def test_read_exit_record(tmp_path: Path) -> None:
    assert pause.read_exit_record(tmp_path, "c") is None
    d = tmp_path / "containers/c"
    d.mkdir(parents=True)
    (d / "exit").write_text(
        '{"id":"c","pid":1,"exitCode":137,"signal":9,"coreDumped":false,'
        '"startedAt":1,"finishedAt":2,"status":9}\n')
    rec = pause.read_exit_record(tmp_path, "c")
    assert rec == pause.ExitRecord("c", 1, 137, 9, False, 1, 2, 9)
    (d / "exit").write_text("{")
    with pytest.raises(HostError):
        pause.read_exit_record(tmp_path, "c")


def test_client_without_pause_is_a_host_error(tmp_path: Path) -> None:
    with pytest.raises(HostError) as e:
        pause.PauseClient(tmp_path, timeout=1).ping()
    assert e.value.step == "connect to pause"


def test_pid_of_pidfd_is_our_view() -> None:
    fd = os.pidfd_open(os.getpid())
    try:
        assert pause.pid_of_pidfd(fd) == os.getpid()
    finally:
        os.close(fd)
