"""Container log rotation, the kubelet's container log manager (BEHAVIOR.md 11.3;
pkg/kubelet/logs/container_log_manager.go): every containerLogMonitorInterval the current
`N.log` of each running container is checked; at containerLogMaxSize it is rotated:

  1. leftover `*.tmp` files and uncompressed copies that already have a `.gz` are removed;
  2. the oldest rotated files are removed until at most containerLogMaxFiles - 2 remain;
  3. every remaining uncompressed rotated file is gzipped (through `<file>.tmp`);
  4. `N.log` is renamed to `N.log.<YYYYMMDD-hhmmss>`;
  5. the runtime reopens the log (pause opens a fresh `N.log`; lines written between the
     rename and the reopen land in the renamed file, none is lost).

At most containerLogMaxFiles files remain: the current log, the newest rotated one
uncompressed, older ones gzipped.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

DEFAULT_MAX_SIZE = 10 * 1024 * 1024  # containerLogMaxSize 10Mi
DEFAULT_MAX_FILES = 5  # containerLogMaxFiles
MONITOR_INTERVAL = 10.0  # containerLogMonitorInterval


def parse_size(value: object, default: int = DEFAULT_MAX_SIZE) -> int:
    """A quantity like 10Mi, 500Ki, 1G or a plain number of bytes."""
    if value in (None, ""):
        return default
    if isinstance(value, int):
        return value
    s = str(value).strip()
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 10**3, "M": 10**6, "G": 10**9}
    for suffix, mult in units.items():
        if s.endswith(suffix):
            return int(float(s[: -len(suffix)]) * mult)
    return int(s)


def rotated_files(log: Path) -> list[Path]:
    """`N.log.<stamp>` and `N.log.<stamp>.gz` of one log, oldest first."""
    prefix = log.name + "."
    out = [p for p in log.parent.glob(prefix + "*")
           if not p.name.endswith(".tmp") and p.name != log.name]
    return sorted(out, key=lambda p: p.name)


def needs_rotation(log: Path, max_size: int) -> bool:
    try:
        return max_size > 0 and log.stat().st_size >= max_size
    except FileNotFoundError:
        return False


def rotate(log: Path, max_files: int, reopen: Callable[[], None],
           now: Callable[[], float] = time.time) -> Path:
    """Rotate one container log (steps 1-5 above); returns the renamed file."""
    max_files = max(2, max_files)
    # 1. leftovers of an interrupted rotation
    for p in log.parent.glob(log.name + ".*.tmp"):
        p.unlink(missing_ok=True)
    for p in rotated_files(log):
        if not p.name.endswith(".gz") and p.with_name(p.name + ".gz").exists():
            p.unlink(missing_ok=True)
    # 2. keep at most max_files - 2 rotated files (the current log and the one rotated
    #    now make up the rest)
    old = rotated_files(log)
    for p in old[: max(0, len(old) - (max_files - 2))]:
        p.unlink(missing_ok=True)
    # 3. compress what is left uncompressed
    for p in rotated_files(log):
        if p.name.endswith(".gz"):
            continue
        tmp = p.with_name(p.name + ".gz.tmp")
        with open(p, "rb") as src, gzip.open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, p.with_name(p.name + ".gz"))
        p.unlink()
    # 4. rename the current log (Go layout 20060102-150405, UTC)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now()))
    target = log.with_name(f"{log.name}.{stamp}")
    n = 0
    while target.exists():  # two rotations in one second
        n += 1
        target = log.with_name(f"{log.name}.{stamp}.{n}")
    os.rename(log, target)
    # 5. the writer opens a fresh N.log
    reopen()
    return target
