"""The daemon's object store: pods, configmaps, secrets and events as v1 JSON objects with
uid, resourceVersion and generation, persisted atomically under <root>/api, with watch fan-out.

Only the event loop's thread calls it. Events are kept in memory only (like the API server's
1 h event TTL, they do not outlive the daemon); the other kinds survive a restart.
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
        try:
            self.rv = max(self.rv, int((self.dir / "resourceVersion").read_text()))
        except (OSError, ValueError):
            pass
        self._history_floor = self.rv

    def _path(self, resource: str, ns: str, name: str) -> Path | None:
        if self.dir is None or resource not in PERSISTED:
            return None
        if not (_SAFE_NAME.match(ns) and _SAFE_NAME.match(name)):
            raise PodrunError(f"unsafe object name {ns}/{name}")
        return self.dir / resource / ns / f"{name}.json"

    def _persist(self, resource: str, obj: dict[str, Any], sync: bool = True) -> None:
        meta = obj["metadata"]
        path = self._path(resource, meta["namespace"], meta["name"])
        if path is None:
            return
        atomic_write(path, json.dumps(obj, separators=(",", ":")).encode(), sync=sync)

    def _unpersist(self, resource: str, ns: str, name: str) -> None:
        path = self._path(resource, ns, name)
        if path is None:
            return
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

    def names(self, resource: str) -> Iterable[tuple[str, str]]:
        return list(self._objs[resource].keys())

    # ------------------------------------------------------------ writes

    def _next_rv(self) -> str:
        self.rv += 1
        if self.dir is not None:
            # The counter outlives deleted objects and events, so a restarted daemon never
            # hands out a version a client has already seen.
            atomic_write(self.dir / "resourceVersion", str(self.rv).encode(), sync=False)
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

    def create(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object: uid (kept if the caller set one, as the kubelet sets static
        pods' UIDs), creationTimestamp, resourceVersion, generation."""
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
        self._persist(resource, obj)
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
               mutate: Callable[[dict[str, Any]], None], *, sync: bool = True) -> dict[str, Any]:
        """Apply `mutate` to a copy of the object; store it if anything changed. sync=False
        skips the fsyncs (still an atomic rename): for status, which the engine can
        recompute from the runtime after a crash."""
        cur = self._objs[resource].get((ns, name))
        if cur is None:
            raise NotFound(schema.not_found(resource, name)["message"])
        new = copy.deepcopy(cur)
        mutate(new)
        if new == cur:
            return copy.deepcopy(cur)
        new["metadata"]["resourceVersion"] = self._next_rv()
        self._objs[resource][(ns, name)] = new
        self._persist(resource, new, sync=sync)
        self._emit(resource, "MODIFIED", new, cur)
        return copy.deepcopy(new)

    def update_status(self, uid: str, status: dict[str, Any]) -> dict[str, Any] | None:
        """The engine's (the status manager's) only way to write a pod's status."""
        for (ns, name), obj in self._objs["pods"].items():
            if obj["metadata"].get("uid") == uid:
                def put(o: dict[str, Any]) -> None:
                    o["status"] = copy.deepcopy(status)
                return self.update("pods", ns, name, put, sync=False)
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
