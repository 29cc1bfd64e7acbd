"""Deferred directory removal: a directory leaves its place at once (one rename into the
`.trash` dir of its base directory) and is deleted by a background thread.

Why: removing a pod's directories (container upper dirs, the sandbox run dir, the pod dir
with its volumes, the log dir) cost ~20 ms of rmtree per pod on the delete path, before
the pod could be reported gone. The rename is what makes the removal visible (nothing
lists or adopts a directory under `.trash`); the deletion itself no longer delays DELETED.
A crash before the deletion finished leaves the directory in `.trash`, which the next
daemon empties when it starts. Callers unmount everything below a directory first: a
mount must not outlive its pod, and rmtree must not cross into a mount.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("podrun.trash")

TRASH_DIR = ".trash"


class Trash:
    """The `.trash` dirs of a few base directories (each on its own file system, or not)
    and the thread that empties them."""

    def __init__(self, bases: Iterable[Path]) -> None:
        self.bases = [Path(b) for b in bases]
        self._wake = threading.Condition()
        self._pending = 0  # discards the thread has not finished yet
        self._thread: threading.Thread | None = None

    def discard(self, path: Path) -> None:
        """Make `path` disappear now and delete it soon. A path outside every base, or
        one that cannot be renamed (another file system), is removed here and now."""
        path = Path(path)
        base = next((b for b in self.bases if b in path.parents), None)
        if base is None:
            shutil.rmtree(path, ignore_errors=True)
            return
        trash = base / TRASH_DIR
        try:
            trash.mkdir(mode=0o700, exist_ok=True)
            os.rename(path, trash / f"{path.name}.{secrets.token_hex(4)}")
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EBUSY, errno.EACCES, errno.EPERM):
                raise
            shutil.rmtree(path, ignore_errors=True)
            return
        self._kick()

    def empty_later(self) -> None:
        """Delete whatever an earlier daemon left in the trash (its crash mid-removal)."""
        if any(_entries(b / TRASH_DIR) for b in self.bases):
            self._kick()

    def empty(self) -> None:
        """Delete everything in the trash now (the thread's job; also for tests)."""
        for base in self.bases:
            for entry in _entries(base / TRASH_DIR):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        entry.unlink()

    def wait_empty(self, timeout: float = 10.0) -> bool:
        """For tests and shutdown: wait until the thread has nothing left to do."""
        with self._wake:
            return self._wake.wait_for(lambda: self._pending == 0, timeout)

    def _kick(self) -> None:
        with self._wake:
            self._pending += 1
            self._wake.notify_all()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="trash", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending > 0)
                taken = self._pending
            try:
                self.empty()
            except Exception:  # noqa: BLE001 - the next discard or start retries
                log.exception("emptying the trash failed")
            with self._wake:
                self._pending -= taken
                self._wake.notify_all()


def _entries(d: Path) -> list[Path]:
    try:
        return list(d.iterdir())
    except OSError:
        return []
