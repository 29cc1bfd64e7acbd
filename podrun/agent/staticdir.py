"""The static-pod directory source (kubelet config/file.go + file_linux.go): every regular
file not starting with "." in the manifest directory, sorted, no recursion, any extension;
inotify plus a full rescan every fileCheckFrequency; a bad file never disturbs the others.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import os
import stat as _stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podrun.agent.sources import (
    FILE_PATH_ANNOTATION,
    SOURCE_FILE,
    Document,
    PodConfig,
    documents,
)
from podrun.agent.store import SOURCE_ANNOTATION, Store
from podrun.api import schema

log = logging.getLogger("podrun.staticdir")

MAX_FILE_BYTES = 10 * 1024 * 1024
DEFAULT_CHECK_FREQUENCY = 20.0
NOEXECUTE_TOLERATION = {"operator": "Exists", "effect": "NoExecute"}


@dataclass
class Problem:
    """A file (or one document of it) that could not be used; reported, then skipped."""

    path: str
    reason: str  # FailedValidation | UnknownField
    message: str
    involved: dict[str, Any] | None = None
    type: str = "Warning"


@dataclass
class DirScan:
    pods: list[dict[str, Any]] = field(default_factory=list)
    configmaps: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    missing: bool = False


def static_pod_uid(typed: Any, obj: dict[str, Any], node_name: str, path: str) -> str:
    """The kubelet's UID for a static pod: a hash over the defaulted pod, host and path."""
    try:
        from podrun.spec.hashing import static_pod_uid as spec_uid
    except ImportError:
        h = hashlib.md5(usedforsecurity=False)
        h.update(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode())
        h.update(f"host:{node_name}".encode())
        h.update(f"file:{path}".encode())
        return h.hexdigest()
    return str(spec_uid(typed, node_name, path))


def make_static_pod(doc: Document, node_name: str, path: str, seen: str) -> dict[str, Any]:
    """kubelet config/common.go applyDefaults: UID, `<name>-<node>`, namespace default,
    the config annotations, spec.nodeName and the NoExecute toleration."""
    assert doc.obj is not None
    pod = copy.deepcopy(doc.obj)
    meta = pod.setdefault("metadata", {})
    uid = meta.get("uid") or static_pod_uid(doc.typed, doc.obj, node_name, path)
    meta["uid"] = uid
    meta["name"] = f"{meta.get('name', '')}-{node_name.lower()}"
    meta["namespace"] = meta.get("namespace") or "default"
    ann = meta.setdefault("annotations", {})
    ann["kubernetes.io/config.hash"] = uid
    ann["kubernetes.io/config.mirror"] = uid
    ann["kubernetes.io/config.seen"] = seen
    ann[SOURCE_ANNOTATION] = SOURCE_FILE
    ann[FILE_PATH_ANNOTATION] = path
    spec = pod.setdefault("spec", {})
    spec["nodeName"] = node_name.lower()
    tol = spec.setdefault("tolerations", [])
    if NOEXECUTE_TOLERATION not in tol:
        tol.append(dict(NOEXECUTE_TOLERATION))
    return pod


def make_static_object(doc: Document, path: str) -> dict[str, Any]:
    assert doc.obj is not None
    obj = normalize_secret(copy.deepcopy(doc.obj)) if doc.kind == "Secret" else copy.deepcopy(doc.obj)
    meta = obj.setdefault("metadata", {})
    meta["namespace"] = meta.get("namespace") or "default"
    ann = meta.setdefault("annotations", {})
    ann[SOURCE_ANNOTATION] = SOURCE_FILE
    ann[FILE_PATH_ANNOTATION] = path
    return obj


def normalize_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """As the API server does on write: stringData merged into data (base64), type Opaque."""
    import base64
    sd = obj.pop("stringData", None) or {}
    if sd:
        data = obj.setdefault("data", {})
        for k, v in sd.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
    obj.setdefault("type", "Opaque")
    return obj


class StaticDirReader:
    """Lists and decodes the directory; files are re-decoded only when they change."""

    def __init__(self, path: Path, node_name: str) -> None:
        self.path = path
        self.node_name = node_name.lower()
        # path -> (stat key, documents)
        self._cache: dict[str, tuple[tuple[int, int, int, int], list[Document]]] = {}
        # uid -> config.seen, so a rescan does not change an unchanged pod.
        self._seen: dict[str, str] = {}
        self._logged: set[str] = set()

    def entries(self) -> list[Path] | None:
        """The files that count, sorted; None if the directory does not exist."""
        try:
            names = sorted(n for n in os.listdir(self.path) if not n.startswith("."))
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return [self.path]
        out = []
        for n in names:
            p = self.path / n
            try:
                st = p.stat()
            except OSError:
                continue  # vanished between listdir and stat, or a dangling link
            if _stat.S_ISDIR(st.st_mode):
                if str(p) not in self._logged:
                    self._logged.add(str(p))
                    log.info("Provided manifest path is a directory, not recursing into "
                             "manifest path", extra={"kv": {"path": p}})
                continue
            if not _stat.S_ISREG(st.st_mode):
                if str(p) not in self._logged:
                    self._logged.add(str(p))
                    log.info("Manifest path is not a regular file, ignoring",
                             extra={"kv": {"path": p}})
                continue
            out.append(p)
        return out

    def _documents(self, p: Path) -> list[Document] | Problem:
        try:
            st = p.stat()
            key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            hit = self._cache.get(str(p))
            if hit is not None and hit[0] == key:
                return hit[1]
            if st.st_size > MAX_FILE_BYTES:
                return Problem(str(p), "FailedValidation",
                               f"file is larger than {MAX_FILE_BYTES} bytes")
            data = p.read_bytes()
        except OSError as e:
            return Problem(str(p), "FailedValidation", f"cannot read: {e.strerror or e}")
        try:
            from podrun.spec.parse import load_bytes
            docs = documents(load_bytes(data, str(p), field_validation="Warn"))
        except Exception as e:  # any decoding problem stays with this file
            return Problem(str(p), "FailedValidation", str(e))
        self._cache[str(p)] = (key, docs)
        return docs

    def scan(self, now: Callable[[], str] = schema.now_rfc3339_nano) -> DirScan:
        out = DirScan()
        files = self.entries()
        if files is None:
            out.missing = True
            self._cache.clear()
            return out
        live = {str(p) for p in files}
        for k in list(self._cache):
            if k not in live:
                del self._cache[k]
        names: dict[tuple[str, str], str] = {}
        uids: set[str] = set()
        for p in files:
            docs = self._documents(p)
            if isinstance(docs, Problem):
                out.problems.append(docs)
                continue
            for doc in docs:
                label = doc.location
                if doc.errors or doc.obj is None:
                    msg = "; ".join(str(e) for e in doc.errors) or "no object"
                    out.problems.append(Problem(label, "FailedValidation", msg))
                    continue
                if doc.kind in ("ConfigMap", "Secret"):
                    obj = make_static_object(doc, str(p))
                    (out.configmaps if doc.kind == "ConfigMap" else out.secrets).append(obj)
                    continue
                if doc.kind != "Pod":
                    out.problems.append(Problem(label, "FailedValidation",
                                                f'kind "{doc.kind}" is not supported'))
                    continue
                pod = make_static_pod(doc, self.node_name, str(p), now())
                meta = pod["metadata"]
                meta["annotations"]["kubernetes.io/config.seen"] = self._seen.setdefault(
                    meta["uid"], meta["annotations"]["kubernetes.io/config.seen"])
                key = (meta["namespace"], meta["name"])
                if key in names:
                    # config.go filterInvalidPods: the first in sorted order wins.
                    out.problems.append(Problem(
                        label, "FailedValidation",
                        f"Error validating pod {meta['name']}_{meta['namespace']}"
                        f"({meta['uid']}) from file due to duplicate pod name "
                        f'"{meta["name"]}", ignoring', involved=pod))
                    continue
                if meta["uid"] in uids:
                    # Only an explicit metadata.uid can repeat; one uid is one pod.
                    out.problems.append(Problem(
                        label, "FailedValidation",
                        f"Error validating pod {meta['name']}_{meta['namespace']}"
                        f"({meta['uid']}) from file due to duplicate pod UID "
                        f'"{meta["uid"]}", ignoring', involved=pod))
                    continue
                uids.add(meta["uid"])
                names[key] = label
                for w in doc.warnings:
                    out.problems.append(Problem(label, "UnknownField", str(w), involved=pod))
                out.pods.append(pod)
        live_uids = {p["metadata"]["uid"] for p in out.pods}
        for uid in list(self._seen):
            if uid not in live_uids:
                del self._seen[uid]
        return out


class StaticDirSource:
    """Feeds full snapshots of the directory to the PodConfig on inotify events and on a
    periodic rescan; problems become a daemon log line and an Event (once per content)."""

    def __init__(self, path: Path, node_name: str, config: PodConfig, store: Store, *,
                 check_frequency: float = DEFAULT_CHECK_FREQUENCY,
                 use_inotify: bool = True) -> None:
        self.reader = StaticDirReader(path, node_name)
        self.path = path
        self.node_name = node_name.lower()
        self.config = config
        self.store = store
        self.check_frequency = check_frequency
        self.use_inotify = use_inotify
        self._wake = asyncio.Event()
        self._reported: set[tuple[str, str, str]] = set()
        self._task: asyncio.Task[None] | None = None
        self._inotify: Any = None
        self.scans = 0
        self.inotify_active = False
        self._watch_warned = False

    async def start(self) -> None:
        # Watch first, then list: a file written in between is seen by one or the other.
        if self.use_inotify:
            self._open_inotify()
        await self.sync()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="staticdir")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._close_inotify()

    async def sync(self) -> None:
        """One full rescan, handed to the merger."""
        scan = self.reader.scan()
        self.scans += 1
        if scan.missing and self.scans == 1:
            log.warning("static pod path does not exist, ignoring",
                        extra={"kv": {"path": self.path}})
        self._report(scan.problems)
        await self.config.set_file_snapshot(scan.pods, scan.configmaps, scan.secrets)

    def _report(self, problems: list[Problem]) -> None:
        keep = set()
        for pr in problems:
            sig = (pr.path, pr.reason, pr.message)
            keep.add(sig)
            if sig in self._reported:
                continue
            if pr.reason == "UnknownField":
                log.warning("static pod manifest has an unknown field",
                            extra={"kv": {"path": pr.path, "warning": pr.message}})
                msg = f"manifest file {pr.path}: {pr.message}"
            elif pr.involved is not None:
                log.warning(pr.message, extra={"kv": {"path": pr.path}})
                msg = pr.message
            else:
                log.error("Could not process manifest file",
                          extra={"kv": {"path": pr.path, "err": pr.message}})
                msg = f'Could not process manifest file "{pr.path}": {pr.message}'
            involved = pr.involved or {"kind": "Node", "metadata": {
                "name": self.node_name, "namespace": "default", "uid": self.node_name}}
            self.store.record_event(involved, pr.type, pr.reason, msg, host=self.node_name)
        self._reported = keep

    # ------------------------------------------------------------ loop

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        retry = 1.0
        next_watch_try = 0.0
        while True:
            if self.use_inotify and self._inotify is None and loop.time() >= next_watch_try:
                if self._open_inotify():
                    retry = 1.0
                    await self.sync()  # changes between the failure and the new watch
                else:
                    next_watch_try = loop.time() + retry
                    retry = min(retry * 2, 20.0)
            timeout = self.check_frequency
            if self.use_inotify and self._inotify is None:
                timeout = min(timeout, max(0.05, next_watch_try - loop.time()))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
                # Editors write in bursts: let the burst finish, then read once.
                await asyncio.sleep(0.05)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.sync()
            except Exception:
                log.exception("static pod rescan failed", extra={"kv": {"path": self.path}})

    def _open_inotify(self) -> bool:
        try:
            from inotify_simple import INotify  # type: ignore[import-untyped]
            from inotify_simple import flags as F
        except ImportError:
            log.warning("inotify_simple is not installed: static pods are polled only")
            self.use_inotify = False
            return False
        try:
            ino = INotify(nonblocking=True)
        except OSError as e:
            log.warning("cannot create an inotify instance: listing the static pod "
                        "directory every fileCheckFrequency", extra={"kv": {
                            "err": e.strerror, "fileCheckFrequency": f"{self.check_frequency}s"}})
            return False
        mask = (F.CREATE | F.CLOSE_WRITE | F.MODIFY | F.MOVED_TO | F.MOVED_FROM | F.DELETE
                | F.ATTRIB | F.DELETE_SELF | F.MOVE_SELF)
        try:
            ino.add_watch(str(self.path), mask)
        except OSError as e:
            ino.close()
            if not self._watch_warned:
                self._watch_warned = True
                log.warning("cannot watch the static pod directory: retrying, and listing it "
                            "every fileCheckFrequency", extra={"kv": {
                                "path": self.path, "err": e.strerror,
                                "fileCheckFrequency": f"{self.check_frequency}s"}})
            self.inotify_active = False
            return False
        self._inotify = ino
        self.inotify_active = True
        self._watch_warned = False
        asyncio.get_running_loop().add_reader(ino.fileno(), self._on_inotify)
        return True

    def _on_inotify(self) -> None:
        from inotify_simple import flags as F
        try:
            events = self._inotify.read(timeout=0)
        except OSError:
            events = []
        lost = False
        for ev in events:
            if ev.mask & (F.IGNORED | F.DELETE_SELF | F.MOVE_SELF):
                lost = True
            if ev.mask & F.Q_OVERFLOW or not ev.name or not ev.name.startswith("."):
                self._wake.set()
        if lost:
            log.warning("static pod directory watch lost (directory removed or moved)",
                        extra={"kv": {"path": self.path}})
            self._close_inotify()
            self._wake.set()

    def _close_inotify(self) -> None:
        if self._inotify is not None:
            try:
                asyncio.get_running_loop().remove_reader(self._inotify.fileno())
            except RuntimeError:
                pass
            self._inotify.close()
            self._inotify = None
            self.inotify_active = False
