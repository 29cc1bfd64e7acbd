"""Helpers for pause tests: the binary under test, CRI log parsing, process checks."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BUSYBOX = "/bin/busybox"
CRI_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([PF]) (.*)$", re.S)


def pause_binary() -> str:
    """The freshly built binary when there is one, so tests see the sources' behaviour."""
    built = REPO / "pause/build/pause"
    return os.environ.get("PODRUN_PAUSE") or str(built)


def wait_until(pred: Callable[[], object], timeout: float = 5.0, step: float = 0.02) -> object:
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(step)


def read_log(path: Path) -> list[tuple[str, str, str, str]]:
    """Parsed CRI lines (timestamp, stream, tag, content); asserts every line parses."""
    out = []
    for line in path.read_text(errors="surrogateescape").splitlines():
        m = CRI_LINE.match(line)
        assert m, f"not a CRI log line: {line[:120]!r}"
        out.append((m[1], m[2], m[3], m[4]))
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def descendants(pid: int) -> list[int]:
    """pid's descendants as this host sees them (via /proc/PID/task/*/children)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except FileNotFoundError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except FileNotFoundError:
                continue
            out += kids
            todo += kids
    return out
