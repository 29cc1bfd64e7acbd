"""A real `podrun daemon` with every path under a fresh /var/tmp/podrun-e2e-* directory,
driven through the installed CLI; stopped by its pid at the end."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import TEST_TMP

REPO = Path(__file__).resolve().parents[3]
PODRUN = REPO / ".venv/bin/podrun"


@dataclass
class Daemon:
    base: Path
    proc: subprocess.Popen[bytes] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def run_dir(self) -> Path:
        return self.base / "run"

    @property
    def log_dir(self) -> Path:
        return self.base / "log"

    @property
    def manifest_dir(self) -> Path:
        return self.base / "manifests"

    @property
    def socket(self) -> Path:
        return self.run_dir / "podrun.sock"

    @property
    def daemon_log(self) -> Path:
        return self.base / "daemon.log"

    def argv(self) -> list[str]:
        args = [str(PODRUN), "daemon", "--root", str(self.root), "--run-dir", str(self.run_dir),
                "--log-dir", str(self.log_dir), "--manifest-dir", str(self.manifest_dir),
                "--socket", str(self.socket), "--node-name", "testnode"]
        if self.config:
            import yaml
            cfg = self.base / "config.yaml"
            cfg.write_text(yaml.safe_dump(self.config))
            args += ["--config", str(cfg)]
        return args

    def start(self, wait: bool = True) -> Daemon:
        env = {**os.environ, **self.env}
        env.pop("PODRUN_SOCKET", None)
        log = open(self.daemon_log, "ab")  # noqa: SIM115 - the child keeps it
        try:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=log, env=env,
                                         stdin=subprocess.DEVNULL)
        finally:
            log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log_text()}")
            # `version` exits 0 without a server; a list needs the daemon to answer.
            if self.socket.exists() and self.cli("get", "pods", "-A").returncode == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"daemon not ready in {timeout}s:\n{self.log_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        code = self.proc.returncode
        self.proc = None
        return code

    def log_text(self) -> str:
        try:
            return self.daemon_log.read_text()
        except OSError:
            return ""

    def cli(self, *args: str, input: str | None = None, timeout: float = 30,
            **kw: Any) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "PODRUN_SOCKET"}
        return subprocess.run([str(PODRUN), "--socket", str(self.socket), *args],
                              input=input, capture_output=True, text=True, timeout=timeout,
                              env=env, **kw)

    def wait_for(self, predicate: Any, timeout: float = 10.0, interval: float = 0.1) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met in {timeout}s\n{self.log_text()}")
            time.sleep(interval)


@pytest.fixture
def e2e_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="podrun-e2e-", dir=TEST_TMP))
    (base / "manifests").mkdir()
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def daemon_factory(e2e_dir: Path) -> Iterator[Any]:
    started: list[Daemon] = []

    def make(config: dict[str, Any] | None = None, start: bool = True,
             env: dict[str, str] | None = None) -> Daemon:
        # These tests are about the API, CLI and sources: no pod engine runs anything.
        cfg = {"podEngine": "none", **(config or {})}
        d = Daemon(e2e_dir, config=cfg, env=dict(env or {}))
        started.append(d)
        return d.start() if start else d

    try:
        yield make
    finally:
        for d in started:
            d.stop()


@pytest.fixture
def daemon(daemon_factory: Any) -> Daemon:
    """A running daemon (rescan every 1 s so poll-only tests stay short)."""
    d: Daemon = daemon_factory({"fileCheckFrequency": "1s", "podEngine": "none"})
    return d
