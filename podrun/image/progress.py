"""Pull progress: a thread-safe per-layer tally, a text renderer for `podrun pull`, and the
kubelet's pull event messages (Pulling / Pulled / already present). Pure except the renderer,
which writes to the stream it is given."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TextIO


@dataclass
class LayerProgress:
    digest: str
    done: int
    total: int


class PullProgress:
    """Use as the pull's progress callback: progress(digest, done, total)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.layers: dict[str, LayerProgress] = {}

    def __call__(self, digest: str, done: int, total: int) -> None:
        with self._lock:
            self.layers[digest] = LayerProgress(digest, done, total)
        self.changed()

    def changed(self) -> None:
        pass

    def totals(self) -> tuple[int, int]:
        with self._lock:
            return (sum(p.done for p in self.layers.values()),
                    sum(p.total for p in self.layers.values()))


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000
    return f"{n:.1f}GB"


class TextProgress(PullProgress):
    """`podrun pull`'s display: one bar per layer, redrawn in place on a terminal, or one
    line per finished layer otherwise. At most `fps` redraws per second."""

    def __init__(self, out: TextIO, *, tty: bool | None = None, fps: float = 10.0,
                 width: int = 30) -> None:
        super().__init__()
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.interval = 1.0 / fps
        self.width = width
        self._last = 0.0
        self._drawn = 0
        self._reported: set[str] = set()
        self._draw_lock = threading.Lock()

    def _line(self, p: LayerProgress) -> str:
        frac = p.done / p.total if p.total else 1.0
        fill = int(frac * self.width)
        bar = "=" * fill + (">" if fill < self.width else "") + " " * (self.width - fill - 1)
        state = "done" if p.total and p.done >= p.total else "downloading"
        return (f"{p.digest[7:19]}: {state:<11} [{bar[:self.width]}] "
                f"{human_bytes(p.done)}/{human_bytes(p.total)}")

    def changed(self, force: bool = False) -> None:
        with self._draw_lock:
            if not self.tty:
                for p in list(self.layers.values()):
                    if p.total and p.done >= p.total and p.digest not in self._reported:
                        self._reported.add(p.digest)
                        self.out.write(f"{p.digest[7:19]}: done {human_bytes(p.total)}\n")
                self.out.flush()
                return
            now = time.monotonic()
            if not force and now - self._last < self.interval:
                return
            self._last = now
            lines = [self._line(p) for p in list(self.layers.values())]
            if self._drawn:
                self.out.write(f"\x1b[{self._drawn}F")
            for line in lines:
                self.out.write("\x1b[2K" + line + "\n")
            self._drawn = len(lines)
            self.out.flush()

    def finish(self) -> None:
        self.changed(force=True)


# --- kubelet event messages (reason Pulling / Pulled / Failed / BackOff) --------------------


def go_duration(seconds: float) -> str:
    """Go's time.Duration String(): 1.5s, 250ms, 2m3.5s."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    if ns < 1000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:g}µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:g}ms"
    h, rem = divmod(ns, 3600 * 10**9)
    m, rem = divmod(rem, 60 * 10**9)
    s = f"{rem / 1e9:.9f}".rstrip("0").rstrip(".") + "s"
    return (f"{h}h{m}m" if h else f"{m}m" if m else "") + s


def pulling_message(image: str) -> str:
    return f'Pulling image "{image}"'


def pulled_message(image: str, seconds: float, size: int, waited: float | None = None) -> str:
    total = seconds if waited is None else waited
    return (f'Successfully pulled image "{image}" in {go_duration(seconds)} '
            f"({go_duration(total)} including waiting). Image size: {size} bytes.")


def present_message(image: str) -> str:
    return f'Container image "{image}" already present on machine'


def failed_message(image: str, err: str) -> str:
    return f'Failed to pull image "{image}": {err}'


def backoff_message(image: str) -> str:
    return f'Back-off pulling image "{image}"'


def never_pull_message(image: str) -> str:
    return (f'Container image "{image}" is not present with pull policy of Never')
