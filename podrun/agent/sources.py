"""Config sources merged into pod updates (the kubelet's PodConfig): the API source and the
static file source. A pod name belongs to one source; the merger diffs each file snapshot
against the store and tells the PodManager what to run and what to terminate.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from podrun.agent import PodManager
from podrun.agent.store import SOURCE_ANNOTATION, Store
from podrun.api import schema
from podrun.errors import FieldError

log = logging.getLogger("podrun.sources")

SOURCE_API = "api"
SOURCE_FILE = "file"
FILE_PATH_ANNOTATION = "podrun.io/config.file"
DEFAULT_GRACE = 30


@dataclass
class Document:
    """One decoded manifest document (or List item) as the sources use it."""

    location: str  # FILE[#doc] or FILE[#doc.item], as spec.parse names it
    kind: str
    obj: dict[str, Any] | None
    typed: Any
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)


def documents(loaded: list[Any]) -> list[Document]:
    """spec.parse Loaded records with each good object also as its v1 dict."""
    from podrun.spec.encode import to_dict

    out = []
    for d in loaded:
        obj = None
        if d.obj is not None and not d.errors:
            obj = to_dict(d.obj)
            obj["apiVersion"] = d.api_version or "v1"
            obj["kind"] = d.kind
        out.append(Document(d.location, d.kind or "", obj, d.obj, list(d.errors),
                            list(d.warnings)))
    return out


def decode_documents(text: str, source: str, field_validation: str = "Strict") -> list[Document]:
    from podrun.spec.parse import load_text

    return documents(load_text(text, source, field_validation=field_validation))  # type: ignore[arg-type]


POD_UPDATE_FORBIDDEN = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
    "set to 1 if it was previously negative)")


def pod_update_errors(old: dict[str, Any], new: dict[str, Any]) -> list[FieldError]:
    """The API server's ValidatePodUpdate for spec: only images (and with them their
    defaulted imagePullPolicy), activeDeadlineSeconds, added tolerations (and a negative
    grace period to 1) may change in place; anything else needs a new pod. The engine
    relies on it, as the kubelet does."""
    def masked(spec: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(json.dumps(spec))
        for key in ("containers", "initContainers"):
            for c in out.get(key) or []:
                # imagePullPolicy follows the image: its default depends on the tag, and a
                # replace (PUT of a whole manifest) re-defaults it.
                c["image"] = c["imagePullPolicy"] = ""
        out.pop("activeDeadlineSeconds", None)
        tol_old = other.get("tolerations") or []
        tol = out.get("tolerations") or []
        # Additions only: keep the tolerations the other spec has, in order.
        out["tolerations"] = [t for t in tol if t in tol_old]
        tg, otg = out.get("terminationGracePeriodSeconds"), other.get(
            "terminationGracePeriodSeconds")
        if tg == 1 and otg is not None and otg < 0:
            out["terminationGracePeriodSeconds"] = otg
        return out

    o, n = old.get("spec") or {}, new.get("spec") or {}
    tol_old = o.get("tolerations") or []
    if any(t not in (n.get("tolerations") or []) for t in tol_old):
        return [FieldError("spec.tolerations", "Forbidden: existing toleration can not be "
                           "modified except its tolerationSeconds")]
    if masked(n, o) != masked(o, o):
        return [FieldError("spec", POD_UPDATE_FORBIDDEN)]
    return []


def source_of(obj: dict[str, Any]) -> str:
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    return str(ann.get(SOURCE_ANNOTATION, SOURCE_API))


def grace_of(pod: dict[str, Any]) -> int:
    g = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return DEFAULT_GRACE if g is None else int(g)


class PodConfig:
    """Merges the sources into the store and drives the PodManager (one writer of pods)."""

    def __init__(self, store: Store, manager: PodManager, node_name: str) -> None:
        self.store = store
        self.manager = manager
        self.node_name = node_name
        # uid -> task terminating that pod, then removing it from the store.
        self._terminating: dict[str, asyncio.Task[None]] = {}
        # (ns, name) -> static pod waiting for the old pod of that name to finish.
        self._pending_static: dict[tuple[str, str], dict[str, Any]] = {}
        self._rejected: set[tuple[str, str, str]] = set()

    # ------------------------------------------------------------ start / stop

    async def start(self) -> None:
        """Hand every stored pod to the engine (adoption after a restart) and resume the
        terminations that were under way."""
        await self.manager.start()
        for pod in self.store.list("pods"):
            meta = pod["metadata"]
            if meta.get("deletionTimestamp"):
                self._begin_termination(pod, meta.get("deletionGracePeriodSeconds"))
            else:
                await self.manager.sync_pod(pod)

    async def stop(self) -> None:
        for t in list(self._terminating.values()):
            t.cancel()
        await asyncio.gather(*self._terminating.values(), return_exceptions=True)
        self._terminating.clear()

    async def wait_terminations(self) -> None:
        """For tests: wait until no termination is under way."""
        while self._terminating:
            await asyncio.gather(*list(self._terminating.values()), return_exceptions=True)

    # ------------------------------------------------------------ API source

    async def api_create_pod(self, pod: dict[str, Any]) -> dict[str, Any]:
        pod = copy.deepcopy(pod)
        ann = pod["metadata"].setdefault("annotations", {})
        ann.pop(SOURCE_ANNOTATION, None)
        ann.pop(FILE_PATH_ANNOTATION, None)
        if not ann:
            pod["metadata"].pop("annotations")
        pod["metadata"].pop("uid", None)
        pod.setdefault("spec", {}).setdefault("nodeName", self.node_name)
        # The pod starts while its file is synced to disk; the API answers after both.
        created = self.store.create("pods", pod, durable=False)
        await self.manager.sync_pod(created)
        meta = created["metadata"]
        await asyncio.to_thread(self.store.make_durable, "pods", meta["namespace"], meta["name"])
        return created

    async def api_replace_pod(self, pod: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        pod = copy.deepcopy(pod)
        spec = pod.setdefault("spec", {})
        spec.setdefault("nodeName", self.node_name)
        new, changed = self.store.replace("pods", pod)
        if changed and not new["metadata"].get("deletionTimestamp"):
            await self.manager.sync_pod(new)
        return new, changed

    def api_delete_pod(self, pod: dict[str, Any], grace: int | None) -> dict[str, Any]:
        """Mark the pod deleting (deletionTimestamp, deletionGracePeriodSeconds) and start
        its termination; a second delete may only shorten the grace period."""
        meta = pod["metadata"]
        want = grace_of(pod) if grace is None else max(0, grace)
        cur = meta.get("deletionGracePeriodSeconds")
        if meta.get("deletionTimestamp") and cur is not None and want >= int(cur):
            return pod
        return self._begin_termination(pod, want)

    # ------------------------------------------------------------ termination

    def _begin_termination(self, pod: dict[str, Any], grace: int | None) -> dict[str, Any]:
        meta = pod["metadata"]
        g = grace_of(pod) if grace is None else int(grace)
        if not meta.get("deletionTimestamp") or meta.get("deletionGracePeriodSeconds") != g:
            import datetime as _dt
            ts = (_dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=g)).strftime(
                "%Y-%m-%dT%H:%M:%SZ")

            def mark(o: dict[str, Any]) -> None:
                o["metadata"].setdefault("deletionTimestamp", ts)
                if o["metadata"].get("deletionGracePeriodSeconds") is None or \
                        g < int(o["metadata"]["deletionGracePeriodSeconds"]):
                    o["metadata"]["deletionTimestamp"] = ts
                    o["metadata"]["deletionGracePeriodSeconds"] = g
            pod = self.store.update("pods", meta["namespace"], meta["name"], mark)
        uid = pod["metadata"]["uid"]
        old = self._terminating.get(uid)
        self._terminating[uid] = asyncio.get_running_loop().create_task(
            self._terminate(pod, g, old), name=f"terminate {meta['namespace']}/{meta['name']}")
        return pod

    async def _terminate(self, pod: dict[str, Any], grace: int,
                         previous: asyncio.Task[None] | None) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        delay = 1.0
        try:
            while True:
                try:
                    # A shorter second delete calls the engine again; the first call returns.
                    await self.manager.terminate_pod(uid, grace)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    # Never forget a pod that failed to stop: report, then retry with backoff.
                    log.exception("terminating pod failed, retrying", extra={"kv": {
                        "pod": f"{meta['namespace']}/{meta['name']}", "uid": uid,
                        "retryIn": f"{delay:g}s", "err": str(e)}})
                    self.store.record_event(pod, "Warning", "FailedKillPod",
                                            f"error killing pod: {e}", host=self.node_name)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
            if previous is not None and not previous.done():
                previous.cancel()
            self.store.remove("pods", meta["namespace"], meta["name"], uid)
        finally:
            if self._terminating.get(uid) is asyncio.current_task():
                del self._terminating[uid]
        key = (meta["namespace"], meta["name"])
        waiting = self._pending_static.pop(key, None)
        if waiting is not None:
            await self._add_static(waiting)

    # ------------------------------------------------------------ file source

    async def set_file_snapshot(self, pods: list[dict[str, Any]],
                                configmaps: list[dict[str, Any]],
                                secrets: list[dict[str, Any]]) -> None:
        """A full SET from the static directory: add, replace (new uid: the old pod is
        terminated first) and remove, as the kubelet's merger does."""
        for resource, objs in (("configmaps", configmaps), ("secrets", secrets)):
            self._merge_file_objects(resource, objs)
        desired = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in pods}
        current = {(o["metadata"]["namespace"], o["metadata"]["name"]): o
                   for o in self.store.list_where("pods", lambda o: source_of(o) == SOURCE_FILE)}
        for key in list(self._pending_static):
            if key not in desired:
                del self._pending_static[key]
        for key, cur in current.items():
            want = desired.get(key)
            if want is not None and want["metadata"]["uid"] == cur["metadata"]["uid"]:
                continue
            if want is None:
                log.info("static pod removed: %s/%s (uid %s)", key[0], key[1],
                         cur["metadata"]["uid"])
            else:
                log.info("static pod changed: %s/%s uid %s -> %s", key[0], key[1],
                         cur["metadata"]["uid"], want["metadata"]["uid"])
                self._pending_static[key] = want
            if not cur["metadata"].get("deletionTimestamp"):
                self._begin_termination(cur, None)
        for key, want in desired.items():
            if key in current:
                continue
            holder = self.store.get("pods", *key)
            if holder is not None:
                if source_of(holder) == SOURCE_FILE:  # its old uid is still terminating
                    self._pending_static[key] = want
                    continue
                self._reject_name(want, holder)
                continue
            await self._add_static(want)

    def _reject_name(self, want: dict[str, Any], holder: dict[str, Any]) -> None:
        meta = want["metadata"]
        path = (meta.get("annotations") or {}).get(FILE_PATH_ANNOTATION, "")
        sig = (meta["namespace"], meta["name"], meta["uid"])
        if sig in self._rejected:
            return
        self._rejected.add(sig)
        msg = (f'static pod from file {path} not added: pod name "{meta["name"]}" in '
               f'namespace "{meta["namespace"]}" belongs to source '
               f'"{source_of(holder)}"; a pod name belongs to one source')
        log.warning("%s", msg)
        self.store.record_event(holder, "Warning", "FailedValidation", msg,
                                host=self.node_name)

    async def _add_static(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        if self.store.get("pods", meta["namespace"], meta["name"]) is not None:
            self._pending_static[(meta["namespace"], meta["name"])] = pod
            return
        created = self.store.create("pods", pod)
        log.info("static pod added: %s/%s (uid %s) from %s", meta["namespace"], meta["name"],
                 meta["uid"], (meta.get("annotations") or {}).get(FILE_PATH_ANNOTATION))
        await self.manager.sync_pod(created)

    def _merge_file_objects(self, resource: str, objs: list[dict[str, Any]]) -> None:
        desired = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs}
        for ns, name in self.store.names(resource):
            cur = self.store.get(resource, ns, name)
            if cur is not None and source_of(cur) == SOURCE_FILE and (ns, name) not in desired:
                self.store.remove(resource, ns, name)
        for key, want in desired.items():
            cur = self.store.get(resource, *key)
            if cur is None:
                self.store.create(resource, want)
            elif source_of(cur) == SOURCE_FILE:
                self.store.replace(resource, want)
            else:
                path = (want["metadata"].get("annotations") or {}).get(FILE_PATH_ANNOTATION)
                log.warning('%s "%s" from file %s not added: the name belongs to source "%s"',
                            schema.SINGULAR[resource], key[1], path, source_of(cur))
