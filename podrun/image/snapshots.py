"""Layer snapshots keyed by chain ID, as containerd's overlayfs snapshotter lays them out.

    <root>/snapshots/<n>/fs        one unpacked layer (an overlay lowerdir)
    <root>/snapshots/metadata.json chainID -> {id: n, parent, diff_id, size, ...}
    <root>/snapshots/tmp-*         layers being unpacked; renamed to <n> when complete

A layer is unpacked once: a second request for the same chain ID returns the committed
snapshot without reading anything. Temporaries and uncommitted <n> dirs are removed at open.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from podrun.errors import HostError


@dataclass(frozen=True)
class Snapshot:
    chain_id: str
    id: int
    parent: str  # parent chain ID, "" for the bottom layer
    diff_id: str
    size: int  # bytes of file data
    entries: int
    created: float
    path: str  # the fs dir

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        del d["path"], d["chain_id"]
        return d


def write_json_atomic(path: str, data: Any) -> None:
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class Snapshotter:
    def __init__(self, root: str) -> None:
        self.root = os.path.join(root, "snapshots")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self._meta_path = os.path.join(self.root, "metadata.json")
        self._lock_path = os.path.join(self.root, ".lock")
        self._tlock = threading.RLock()
        self.cleanup()

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The metadata, under a process and thread lock; written back on success."""
        with self._tlock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                meta = self._read()
                before = json.dumps(meta, sort_keys=True)
                yield meta
                if json.dumps(meta, sort_keys=True) != before:
                    write_json_atomic(self._meta_path, meta)
            finally:
                os.close(fd)

    def _read(self) -> dict[str, Any]:
        try:
            with open(self._meta_path) as f:
                meta: dict[str, Any] = json.load(f)
        except FileNotFoundError:
            meta = {}
        meta.setdefault("next", 1)
        meta.setdefault("snapshots", {})
        return meta

    def _snap(self, chain_id: str, rec: dict[str, Any]) -> Snapshot:
        return Snapshot(chain_id=chain_id, path=self.fs_path(rec["id"]), **rec)

    def fs_path(self, n: int) -> str:
        return os.path.join(self.root, str(n), "fs")

    def cleanup(self) -> None:
        """Crash safety: drop half-unpacked layers and dirs the metadata does not know."""
        with self._locked() as meta:
            known = {str(r["id"]) for r in meta["snapshots"].values()}
            for name in os.listdir(self.root):
                p = os.path.join(self.root, name)
                if name.startswith("tmp-") or (name.isdigit() and name not in known):
                    shutil.rmtree(p, ignore_errors=True)
                elif name.startswith(".tmp-"):
                    os.unlink(p)

    def get(self, chain_id: str) -> Snapshot | None:
        with self._tlock:
            rec = self._read()["snapshots"].get(chain_id)
        return self._snap(chain_id, rec) if rec else None

    def list(self) -> list[Snapshot]:
        with self._tlock:
            snaps = self._read()["snapshots"]
        return [self._snap(c, r) for c, r in snaps.items()]

    def create(self, chain_id: str, parent: str, unpack: Callable[[str], Any]) -> Snapshot:
        """The committed snapshot for chain_id, unpacking it with unpack(fs_dir) only if new.

        unpack() runs in a fresh temporary dir; its result may carry diff_id/size/entries.
        Nothing becomes visible until unpack() returned and the dir was renamed into place."""
        existing = self.get(chain_id)
        if existing is not None:
            return existing
        tmp = tempfile.mkdtemp(prefix="tmp-", dir=self.root)
        try:
            fs = os.path.join(tmp, "fs")
            os.mkdir(fs, 0o755)
            result = unpack(fs)
            with self._locked() as meta:
                rec = meta["snapshots"].get(chain_id)
                if rec is not None:  # another pull committed it meanwhile
                    return self._snap(chain_id, rec)
                n = meta["next"]
                meta["next"] = n + 1
                os.rename(tmp, os.path.join(self.root, str(n)))
                rec = {"id": n, "parent": parent,
                       "diff_id": getattr(result, "diff_id", ""),
                       "size": getattr(result, "size", 0),
                       "entries": getattr(result, "entries", 0),
                       "created": time.time()}
                meta["snapshots"][chain_id] = rec
                return self._snap(chain_id, rec)
        except OSError as e:
            raise HostError("commit snapshot", e.strerror or str(e), err=e.errno or 0,
                            path=e.filename or tmp) from None
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)

    def remove(self, chain_id: str) -> bool:
        with self._locked() as meta:
            rec = meta["snapshots"].pop(chain_id, None)
        if rec is None:
            return False
        # rename first so a crash mid-delete leaves only a tmp- dir for cleanup()
        src = os.path.join(self.root, str(rec["id"]))
        dst = tempfile.mkdtemp(prefix="tmp-rm-", dir=self.root)
        os.rename(src, os.path.join(dst, "x"))
        shutil.rmtree(dst, ignore_errors=True)
        return True

    def disk_usage(self) -> int:
        return sum(s.size for s in self.list())
