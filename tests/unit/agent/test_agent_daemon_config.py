"""Daemon settings (flags over the config file, kubelet key names), durations, the root
lock, sd_notify and the log format."""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from podrun.agent.daemon import (
    ConfigError,
    LogfmtFormatter,
    RootLock,
    parse_duration,
    resolve_settings,
    sd_notify,
)
from tests.support import TEST_TMP

NO_FLAGS: dict[str, object] = {}


@pytest.fixture
def tmp() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="podrun-cfg-", dir=TEST_TMP))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("text,seconds", [("20s", 20), ("500ms", 0.5), ("1m30s", 90),
                                          ("2h", 7200), (5, 5.0), (0.25, 0.25)])
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text, "k") == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["20", "abc", "5 s", True, None])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ConfigError):
        parse_duration(bad, "fileCheckFrequency")


def test_defaults_without_config_file(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("podrun.agent.daemon.DEFAULT_CONFIG", str(tmp / "absent.yaml"))
    s = resolve_settings(NO_FLAGS, None)
    assert str(s.root) == "/var/lib/podrun" and str(s.run_dir) == "/run/podrun"
    assert str(s.log_dir) == "/var/log/pods" and str(s.manifest_dir) == "/etc/podrun/manifests"
    assert str(s.socket) == "/run/podrun/podrun.sock"
    assert s.node_name == socket.gethostname().lower()
    assert s.file_check_frequency == 20 and s.static_pod_inotify
    assert not s.stop_pods_on_exit


def test_missing_explicit_config_is_an_error(tmp: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_settings(NO_FLAGS, str(tmp / "nope.yaml"))


def test_flags_win_over_the_file_and_kubelet_names_are_read(tmp: Path) -> None:
    cfg = tmp / "c.yaml"
    cfg.write_text("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                   "root: /from/file\nstaticPodPath: /static\nnodeName: FileNode\n"
                   "fileCheckFrequency: 2s\ncontainerLogMaxSize: 5Mi\npodPidsLimit: 100\n"
                   "mystery: 1\nallowedGroups: [0]\n")
    s = resolve_settings({"root": "/from/flag", "node_name": None}, str(cfg))
    assert str(s.root) == "/from/flag"
    assert str(s.manifest_dir) == "/static"
    assert s.node_name == "filenode"
    assert s.file_check_frequency == 2
    assert s.config["containerLogMaxSize"] == "5Mi" and s.config["podPidsLimit"] == 100
    assert s.allowed_gids == frozenset({0})
    assert s.warnings == ['config file: unknown key "mystery" ignored']


def test_env_socket_is_below_file_and_flag(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("podrun.agent.daemon.DEFAULT_CONFIG", str(tmp / "absent.yaml"))
    assert str(resolve_settings(NO_FLAGS, None, "/env.sock").socket) == "/env.sock"
    assert str(resolve_settings({"socket": "/flag.sock"}, None, "/env.sock").socket) == "/flag.sock"


def test_bad_config_values(tmp: Path) -> None:
    cfg = tmp / "c.yaml"
    for text in ("- a list\n", "podEngine: maybe\n", "staticPodInotify: maybe\n",
                 "fileCheckFrequency: soon\n",
                 "allowedGroups: [no-such-group-here]\n", "root: [unclosed\n"):
        cfg.write_text(text)
        with pytest.raises(ConfigError):
            resolve_settings(NO_FLAGS, str(cfg))


def test_root_lock_is_exclusive(tmp: Path) -> None:
    a, b = RootLock(tmp), RootLock(tmp)
    a.acquire()
    try:
        with pytest.raises(ConfigError, match="another podrun daemon"):
            b.acquire()
    finally:
        a.release()
    b.acquire()
    b.release()


def test_sd_notify_sends_to_notify_socket(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sd_notify("READY=1") is False
    path = tmp / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert sd_notify("READY=1")
        assert s.recv(100) == b"READY=1"


def test_logfmt_lines() -> None:
    rec = logging.LogRecord("podrun.x", logging.ERROR, __file__, 1, "Could not process %s",
                            ("manifest file",), None)
    rec.kv = {"path": "/m/a b.yaml", "err": 'bad "x"'}
    line = LogfmtFormatter().format(rec)
    assert line.startswith("time=") and " level=error logger=podrun.x " in line
    assert 'msg="Could not process manifest file"' in line
    assert 'path="/m/a b.yaml"' in line and 'err="bad \\"x\\""' in line
