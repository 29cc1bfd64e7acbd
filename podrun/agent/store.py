"""The daemon's object store: pods, configmaps, secrets and events as v1 JSON objects with
uid, resourceVersion and generation, persisted under <root>/api, with watch fan-out.

Only the event loop's thread calls it. Events are kept in memory only (like the API server's
1 h event TTL, they do not outlive the daemon); the other kinds survive a restart.

What is durable when (the answer to "what does a crash lose"):

- An object a client created, replaced, updated (a deletion mark included) or removed is
  on disk, fsynced (tmp file + fsync + rename + directory fsync), before the API
  acknowledges it: `<root>/api/<resource>/<ns>/<name>.json`. A pod's creation may write
  with durable=False and call `make_durable` from a thread: the engine starts the pod
  while the disk syncs, and the API answers after both (a crash in between loses a pod
  nobody was told about, and, with the machine, the processes it had started).
- A pod's status goes to an append-only journal, `<root>/api/status.journal`, one line per
  change, never fsynced and never renamed (a rename over an existing file makes ext4 flush
  the data, which made status writes as costly as fsynced ones). A daemon SIGKILL loses
  nothing (the lines are in the page cache); a power loss may lose the newest lines, and
  a torn last line is skipped. Either way the engine recomputes status from the runtime
  when it adopts the pod, so a lost status line costs nothing but a re-derivation. The
  journal is folded into the object files (and emptied) at load and when it grows past
  JOURNAL_MAX_BYTES.
- resourceVersions are reserved in blocks of RV_BLOCK: the reserved ceiling is fsynced
  before the first version of a block is handed out, and a restarted store continues above
  it, so no version a client has seen is ever handed out again, without one file write
  per change (events included).
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import copy
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podrun.api import schema
from podrun.errors import AlreadyExists, Conflict, NotFound, PodrunError

log = logging.getLogger("podrun.store")

RESOURCES = ("pods", "configmaps", "secrets", "events")
PERSISTED = ("pods", "configmaps", "secrets")
SOURCE_ANNOTATION = "kubernetes.io/config.source"

# Names reach the file system as path components: only DNS-1123 subdomain characters.
_SAFE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

EVENT_TTL_SECONDS = 3600.0
MAX_EVENTS = 5000
# resourceVersions reserved (persisted) at a time; a restart skips what was left of a block.
RV_BLOCK = 1000
# The status journal is folded into the object files once it is this long.
JOURNAL_MAX_BYTES = 1 << 20


@dataclass
class WatchEntry:
    """One change as every watcher sees it; `line` is encoded once for all of them."""

    rv: int
    resource: str
    type: str  # ADDED | MODIFIED | DELETED
    obj: dict[str, Any]
    old: dict[str, Any] | None = None
    _lines: dict[str, bytes] = field(default_factory=dict)

    def line(self, typ: str | None = None) -> bytes:
        t = typ or self.type
        if t not in self._lines:
            self._lines[t] = (json.dumps({"type": t, "object": self.obj},
                                         separators=(",", ":")) + "\n").encode()
        return self._lines[t]


class Watcher:
    """A bounded queue of watch lines. A watcher that falls `maxsize` events behind (a slow
    client) is closed, as the API server closes slow watchers; the client re-lists."""

    def __init__(self, store: Store, resource: str, namespace: str | None,
                 labels: list[schema.Requirement], fields: list[schema.Requirement],
                 maxsize: int) -> None:
        self.store = store
        self.resource = resource
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=maxsize)
        self.initial: collections.deque[bytes] = collections.deque()
        self.closed = False
        self.overflowed = False

    def _selects(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        if self.namespace and (obj.get("metadata") or {}).get("namespace") != self.namespace:
            return False
        return schema.selects(obj, self.labels, self.fields)

    def offer(self, entry: WatchEntry) -> None:
        if self.closed or entry.resource != self.resource:
            return
        now, before = self._selects(entry.obj), self._selects(entry.old)
        if entry.type == "DELETED":
            typ = "DELETED" if now else None
        elif now and not before and entry.type == "MODIFIED":
            typ = "ADDED"
        elif before and not now:
            typ = "DELETED"
        else:
            typ = entry.type if now else None
        if typ is None:
            return
        try:
            self.queue.put_nowait(entry.line(typ))
        except asyncio.QueueFull:
            self.overflowed = True
            self.close()

    async def next(self) -> bytes | None:
        """The next line, or None once the watch is over."""
        if self.initial:
            return self.initial.popleft()
        if self.closed and self.queue.empty():
            return None
        return await self.queue.get()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.store._watchers.discard(self)
        # Wake a reader blocked in next(); drop one queued line to make room if full.
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Expired(PodrunError):
    """A watch asked to resume from a resourceVersion older than the kept history."""


class Store:
    def __init__(self, root: Path | None, *, history: int = 2000, watch_queue: int = 1024,
                 clock: Callable[[], float] = time.time) -> None:
        self.dir = root / "api" if root is not None else None
        self.rv = 0
        self._rv_reserved = 0  # the highest resourceVersion persisted as reserved
        # (ns, name) of pods whose newest status is only in the journal
        self._journaled: set[tuple[str, str]] = set()
        self._objs: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            r: {} for r in RESOURCES}
        self._history: collections.deque[WatchEntry] = collections.deque(maxlen=history)
        self._history_floor = 0
        self._watchers: set[Watcher] = set()
        self._watch_queue = watch_queue
        self._clock = clock
        self._event_times: dict[tuple[str, str], float] = {}
        self.listeners: list[Callable[[WatchEntry], None]] = []

    # ------------------------------------------------------------ persistence

    def load(self) -> None:
        """Read every persisted object; resourceVersion continues from the highest seen."""
        if self.dir is None:
            return
        for resource in PERSISTED:
            base = self.dir / resource
            if not base.is_dir():
                continue
            for f in sorted(base.glob("*/*.json")):
                try:
                    obj = json.loads(f.read_text())
                    meta = obj["metadata"]
                    self._objs[resource][(meta["namespace"], meta["name"])] = obj
                    self.rv = max(self.rv, int(meta.get("resourceVersion") or 0))
                except (OSError, ValueError, KeyError, TypeError) as e:
                    log.error("skipping unreadable stored object %s: %s", f, e)
        for tmp in self.dir.glob("*/*/.*.tmp"):
            tmp.unlink(missing_ok=True)
        self._replay_journal()
        try:
            self.rv = max(self.rv, int((self.dir / "resourceVersion").read_text()))
        except (OSError, ValueError):
            pass
        self._rv_reserved = self.rv
        self._history_floor = self.rv
        self._compact_journal()

    def _journal_path(self) -> Path | None:
        return self.dir / "status.journal" if self.dir is not None else None

    def _replay_journal(self) -> None:
        """Apply the journal's status lines that are newer than the pod files. A line of a
        pod that is gone (or another pod of the same name: a different uid) is ignored."""
        path = self._journal_path()
        try:
            data = path.read_bytes() if path is not None else b""
        except FileNotFoundError:
            return
        for line in data.splitlines():
            try:
                rec = json.loads(line)
                key, rv = (rec["ns"], rec["name"]), int(rec["rv"])
                status = rec["status"]
            except (ValueError, KeyError, TypeError):
                continue  # the torn last line of a crash
            obj = self._objs["pods"].get(key)
            if obj is None or obj["metadata"].get("uid") != rec.get("uid"):
                continue
            if rv > int(obj["metadata"].get("resourceVersion") or 0):
                obj["status"] = status
                obj["metadata"]["resourceVersion"] = str(rv)
                self._journaled.add(key)
                self.rv = max(self.rv, rv)

    def _journal_status(self, obj: dict[str, Any]) -> None:
        """Append a pod's new status (see the module docstring for why not fsynced)."""
        path = self._journal_path()
        if path is None:
            return
        meta = obj["metadata"]
        self._path("pods", meta["namespace"], meta["name"])  # the name check
        line = json.dumps({"ns": meta["namespace"], "name": meta["name"], "uid": meta["uid"],
                           "rv": meta["resourceVersion"], "status": obj.get("status")},
                          separators=(",", ":")).encode() + b"\n"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        self._journaled.add((meta["namespace"], meta["name"]))
        if size > JOURNAL_MAX_BYTES:
            self._compact_journal()

    def _compact_journal(self) -> None:
        """Write the pods whose newest status is only in the journal to their files
        (fsynced), then empty the journal: a crash in between replays lines that are no
        newer than the files, which the replay skips."""
        path = self._journal_path()
        if path is None or not path.exists():
            return
        for key in sorted(self._journaled):
            obj = self._objs["pods"].get(key)
            if obj is not None:
                self._persist("pods", obj)
        self._journaled.clear()
        atomic_write(path, b"")

    def _path(self, resource: str, ns: str, name: str) -> Path | None:
        if self.dir is None or resource not in PERSISTED:
            return None
        if not (_SAFE_NAME.match(ns) and _SAFE_NAME.match(name)):
            raise PodrunError(f"unsafe object name {ns}/{name}")
        return self.dir / resource / ns / f"{name}.json"

    def _persist(self, resource: str, obj: dict[str, Any], durable: bool = True) -> None:
        meta = obj["metadata"]
        path = self._path(resource, meta["namespace"], meta["name"])
        if path is None:
            return
        atomic_write(path, json.dumps(obj, separators=(",", ":")).encode(), sync=durable)
        if resource == "pods":
            self._journaled.discard((meta["namespace"], meta["name"]))

    def _unpersist(self, resource: str, ns: str, name: str) -> None:
        path = self._path(resource, ns, name)
        if path is None:
            return
        if resource == "pods":
            self._journaled.discard((ns, name))
        try:
            path.unlink()
            fsync_dir(path.parent)
        except FileNotFoundError:
            pass

    # ------------------------------------------------------------ reads

    def get(self, resource: str, ns: str, name: str) -> dict[str, Any] | None:
        obj = self._objs[resource].get((ns, name))
        return copy.deepcopy(obj) if obj is not None else None

    def get_pod_by_uid(self, uid: str) -> dict[str, Any] | None:
        for obj in self._objs["pods"].values():
            if obj["metadata"].get("uid") == uid:
                return copy.deepcopy(obj)
        return None

    def list(self, resource: str, ns: str | None = None,
             labels: list[schema.Requirement] | None = None,
             fields: list[schema.Requirement] | None = None) -> list[dict[str, Any]]:
        if resource == "events":
            self._expire_events()
        out = []
        for (ons, _), obj in sorted(self._objs[resource].items()):
            if ns and ons != ns:
                continue
            if schema.selects(obj, labels or [], fields or []):
                out.append(copy.deepcopy(obj))
        return out

    def list_where(self, resource: str, pred: Callable[[dict[str, Any]], bool]
                   ) -> builtins.list[dict[str, Any]]:
        """Copies of the objects `pred` (which must not modify them) accepts: a periodic
        caller that wants a few objects does not deep-copy all of them."""
        return [copy.deepcopy(o) for o in self._objs[resource].values() if pred(o)]

    def pod_uids(self) -> set[str]:
        return {str(o["metadata"].get("uid") or "") for o in self._objs["pods"].values()}

    def names(self, resource: str) -> Iterable[tuple[str, str]]:
        return list(self._objs[resource].keys())

    # ------------------------------------------------------------ writes

    def _next_rv(self) -> str:
        self.rv += 1
        if self.dir is not None and self.rv > self._rv_reserved:
            # The reserved ceiling outlives deleted objects and events, so a restarted
            # daemon (which continues above it) never hands out a version a client has
            # already seen; one fsynced write per RV_BLOCK versions.
            self._rv_reserved = self.rv + RV_BLOCK - 1
            atomic_write(self.dir / "resourceVersion", str(self._rv_reserved).encode())
        return str(self.rv)

    def _emit(self, resource: str, typ: str, obj: dict[str, Any],
              old: dict[str, Any] | None) -> None:
        entry = WatchEntry(self.rv, resource, typ, obj, old)
        if len(self._history) == self._history.maxlen:
            self._history_floor = self._history[0].rv
        self._history.append(entry)
        for w in list(self._watchers):
            w.offer(entry)
        for fn in self.listeners:
            try:
                fn(entry)
            except Exception:  # a listener never breaks a write
                log.exception("store listener failed")

    def make_durable(self, resource: str, ns: str, name: str) -> None:
        """fsync an object's file and its directory: after create(durable=False). Touches
        only the file system, so it may run in a thread while the loop goes on."""
        path = self._path(resource, ns, name)
        if path is None:
            return
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return  # removed meanwhile (the directory fsync below makes that durable)
        else:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(path.parent)

    def create(self, resource: str, obj: dict[str, Any], *, durable: bool = True
               ) -> dict[str, Any]:
        """Store a new object: uid (kept if the caller set one, as the kubelet sets static
        pods' UIDs), creationTimestamp, resourceVersion, generation. durable=False leaves
        the fsync to a make_durable call (the module docstring)."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        ns, name = meta.get("namespace") or "default", meta["name"]
        meta["namespace"] = ns
        if (ns, name) in self._objs[resource]:
            raise AlreadyExists(schema.already_exists(resource, name)["message"])
        meta["uid"] = meta.get("uid") or str(uuid.uuid4())
        meta["creationTimestamp"] = schema.now_rfc3339()
        meta.pop("deletionTimestamp", None)
        meta.pop("deletionGracePeriodSeconds", None)
        if resource == "pods":
            meta["generation"] = 1
            obj["status"] = initial_pod_status(obj)
        obj["kind"] = schema.KINDS[resource]
        obj["apiVersion"] = "v1"
        meta["resourceVersion"] = self._next_rv()
        self._objs[resource][(ns, name)] = obj
        self._persist(resource, obj, durable)
        self._emit(resource, "ADDED", obj, None)
        return copy.deepcopy(obj)

    def replace(self, resource: str, obj: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """PUT semantics: labels, annotations and spec (data for configmaps/secrets) from
        `obj`; uid, creation time and status kept. Returns (object, changed). A stale
        metadata.resourceVersion in `obj` raises Conflict; none means unconditional."""
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace") or "default", meta["name"]
        cur = self._objs[resource].get((ns, name))
        if cur is None:
            raise NotFound(schema.not_found(resource, name)["message"])
        want_rv = meta.get("resourceVersion")
        if want_rv and want_rv != cur["metadata"]["resourceVersion"]:
            raise Conflict(schema.conflict(resource, name)["message"])
        want_uid = meta.get("uid")
        if want_uid and want_uid != cur["metadata"]["uid"]:
            raise Conflict(f'Precondition failed: UID in precondition: {want_uid}, UID in '
                           f'object meta: {cur["metadata"]["uid"]}')
        new = copy.deepcopy(cur)
        for k in ("labels", "annotations"):
            if meta.get(k):
                new["metadata"][k] = copy.deepcopy(meta[k])
            else:
                new["metadata"].pop(k, None)
        body_keys = ("spec",) if resource == "pods" else (
            "data", "binaryData", "immutable", "type", "stringData")
        for k in body_keys:
            if k in obj:
                new[k] = copy.deepcopy(obj[k])
            else:
                new.pop(k, None)
        if new == cur:
            return copy.deepcopy(cur), False
        old = cur
        if resource == "pods" and new.get("spec") != cur.get("spec"):
            new["metadata"]["generation"] = int(cur["metadata"].get("generation") or 1) + 1
        new["metadata"]["resourceVersion"] = self._next_rv()
        self._objs[resource][(ns, name)] = new
        self._persist(resource, new)
        self._emit(resource, "MODIFIED", new, old)
        return copy.deepcopy(new), True

    def update(self, resource: str, ns: str, name: str,
               mutate: Callable[[dict[str, Any]], None], *,
               status_only: bool = False) -> dict[str, Any]:
        """Apply `mutate` to a copy of the object; store it if anything changed (fsynced).
        status_only: the change is a pod's status, which goes to the journal instead (the
        engine can recompute it from the runtime after a crash)."""
        cur = self._objs[resource].get((ns, name))
        if cur is None:
            raise NotFound(schema.not_found(resource, name)["message"])
        new = copy.deepcopy(cur)
        mutate(new)
        if new == cur:
            return copy.deepcopy(cur)
        new["metadata"]["resourceVersion"] = self._next_rv()
        self._objs[resource][(ns, name)] = new
        if status_only and resource == "pods":
            self._journal_status(new)
        else:
            self._persist(resource, new)
        self._emit(resource, "MODIFIED", new, cur)
        return copy.deepcopy(new)

    def update_status(self, uid: str, status: dict[str, Any]) -> dict[str, Any] | None:
        """The engine's (the status manager's) only way to write a pod's status."""
        for (ns, name), obj in self._objs["pods"].items():
            if obj["metadata"].get("uid") == uid:
                def put(o: dict[str, Any]) -> None:
                    o["status"] = copy.deepcopy(status)
                return self.update("pods", ns, name, put, status_only=True)
        return None

    def remove(self, resource: str, ns: str, name: str,
               uid: str | None = None) -> dict[str, Any] | None:
        """Drop an object for good (a pod: after its termination finished)."""
        cur = self._objs[resource].get((ns, name))
        if cur is None or (uid and cur["metadata"].get("uid") != uid):
            return None
        del self._objs[resource][(ns, name)]
        self._unpersist(resource, ns, name)
        gone = copy.deepcopy(cur)
        gone["metadata"]["resourceVersion"] = self._next_rv()
        self._emit(resource, "DELETED", gone, cur)
        return gone

    # ------------------------------------------------------------ events

    def record_event(self, involved: dict[str, Any], type_: str, reason: str, message: str,
                     *, component: str = "kubelet", host: str = "") -> dict[str, Any]:
        """A core/v1 Event about `involved` (a stored object); repeats are counted on one
        Event as the kubelet's recorder aggregates them."""
        meta = involved.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        now = schema.now_rfc3339()
        for (ens, ename), ev in self._objs["events"].items():
            io = ev["involvedObject"]
            if (ens == ns and io.get("uid") == meta.get("uid") and io.get("name") == meta.get("name")
                    and ev["reason"] == reason and ev["message"] == message
                    and ev["type"] == type_):
                def bump(e: dict[str, Any]) -> None:
                    e["count"] = int(e.get("count") or 1) + 1
                    e["lastTimestamp"] = now
                self._event_times[(ens, ename)] = self._clock()
                return self.update("events", ens, ename, bump)
        self._expire_events()
        name = f"{meta.get('name', 'unknown')}.{uuid.uuid4().hex[:16]}"
        ev = {
            "kind": "Event", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {"kind": involved.get("kind", "Pod"), "namespace": ns,
                               "name": meta.get("name", ""), "uid": meta.get("uid", ""),
                               "apiVersion": "v1",
                               "resourceVersion": meta.get("resourceVersion", "")},
            "reason": reason, "message": message,
            "source": {"component": component, **({"host": host} if host else {})},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": type_,
            "eventTime": None, "reportingComponent": component, "reportingInstance": host,
        }
        out = self.create("events", ev)
        self._event_times[(ns, name)] = self._clock()
        return out

    def _expire_events(self) -> None:
        evs = self._objs["events"]
        limit = self._clock() - EVENT_TTL_SECONDS
        drop = [k for k, t in self._event_times.items() if t < limit]
        if len(evs) - len(drop) >= MAX_EVENTS:
            by_age = sorted(self._event_times.items(), key=lambda kv: kv[1])
            drop += [k for k, _ in by_age[: len(evs) - MAX_EVENTS + 1]]
        for k in set(drop):
            evs.pop(k, None)
            self._event_times.pop(k, None)

    # ------------------------------------------------------------ watch

    def watch(self, resource: str, ns: str | None, since: str | None,
              labels: builtins.list[schema.Requirement] | None = None,
              fields: builtins.list[schema.Requirement] | None = None) -> Watcher:
        """A watcher from `since`: "" or "0" starts with ADDED for every current object
        (the API server's "get state and start at most recent"); N replays what changed
        after N, or raises Expired if that history is gone."""
        w = Watcher(self, resource, ns, labels or [], fields or [], self._watch_queue)
        if not since or since == "0":
            for obj in self.list(resource, ns, labels, fields):
                w.initial.append(WatchEntry(self.rv, resource, "ADDED", obj).line())
        else:
            try:
                start = int(since)
            except ValueError:
                raise PodrunError(f'invalid resource version "{since}"') from None
            if start < self._history_floor:
                raise Expired(f"too old resource version: {start} ({self._history_floor})")
            for entry in self._history:
                if entry.rv > start:
                    w.offer(entry)
            if w.closed:
                raise Expired(f"too old resource version: {start} ({self.rv})")
        self._watchers.add(w)
        return w

    def close_watchers(self) -> None:
        for w in list(self._watchers):
            w.close()


def initial_pod_status(pod: dict[str, Any]) -> dict[str, Any]:
    """What the API server and scheduler give a new pod: Pending, PodScheduled=True, its
    QoS class. The engine's status manager writes everything after this."""
    return {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                        "lastTransitionTime": schema.now_rfc3339()}],
        "qosClass": qos_class(pod.get("spec") or {}),
    }


def qos_class(spec: dict[str, Any]) -> str:
    """core/v1 helper GetPodQOS over containers and init containers (cpu and memory)."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for r in ("cpu", "memory"):
            if r in req or r in lim:
                any_set = True
            if r not in lim or (r in req and str(req[r]) != str(lim[r])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, sync: bool = True, mode: int = 0o600) -> None:
    """tmp file + fsync + rename + directory fsync: after a crash the file is the old or
    the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if sync:
        fsync_dir(path.parent)
