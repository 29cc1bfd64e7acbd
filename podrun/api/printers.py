"""kubectl's columns for podrun's kinds (server-side printing, as the API server's Table):
NAME READY STATUS RESTARTS AGE for pods through podrun.core.status.kubectl_row, and the
configmap, secret and event columns. The daemon serves them as meta.k8s.io/v1 Tables so
`podrun get` does not import the spec model."""

from __future__ import annotations

import time

TYPE_CHECKING = False  # typing costs the CLI's start-up ~2 ms; only the type checker needs it
if TYPE_CHECKING:
    from typing import Any


def _age(ts: str | None, now: float | None = None) -> str:
    from podrun.api.schema import parse_time
    t = parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration((now or time.time()) - t.timestamp())


def human_duration(seconds: float) -> str:
    try:
        from podrun.core.status import human_duration as hd
        return str(hd(seconds))
    except ImportError:
        s = int(seconds)
        if s < 0:
            return "0s"
        if s < 120:
            return f"{s}s"
        if s < 600:
            return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
        if s < 3 * 3600:
            return f"{s // 60}m"
        return f"{s // 3600}h"


def pod_row(pod: dict[str, Any], now: float | None = None) -> dict[str, str]:
    """kubectl get pods columns for one pod (printPod), through podrun.core.status when
    it is there."""
    now = now or time.time()
    try:
        from podrun.core.status import kubectl_row
        from podrun.spec.decode import decode
        from podrun.spec.types import Pod
        typed = decode(Pod, pod).value
        if typed is not None:
            r = kubectl_row(typed, now)
            return {"NAME": r.name, "READY": r.ready, "STATUS": r.status,
                    "RESTARTS": r.restarts, "AGE": r.age, "IP": r.ip, "NODE": r.node,
                    "NOMINATED NODE": r.nominated_node, "READINESS GATES": r.readiness_gates}
    except ImportError:
        pass
    meta, spec, st = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    cs = st.get("containerStatuses") or []
    status = st.get("reason") or st.get("phase") or "Unknown"
    for c in cs:
        w = (c.get("state") or {}).get("waiting") or {}
        t = (c.get("state") or {}).get("terminated") or {}
        if w.get("reason"):
            status = w["reason"]
        elif t.get("reason"):
            status = t["reason"]
    if meta.get("deletionTimestamp"):
        status = "Terminating"
    ready = sum(1 for c in cs if c.get("ready"))
    return {"NAME": meta["name"], "READY": f"{ready}/{len(spec.get('containers') or [])}",
            "STATUS": status, "RESTARTS": str(sum(int(c.get("restartCount") or 0) for c in cs)),
            "AGE": _age(meta.get("creationTimestamp"), now),
            "IP": st.get("podIP") or "<none>", "NODE": spec.get("nodeName") or "<none>",
            "NOMINATED NODE": st.get("nominatedNodeName") or "<none>",
            "READINESS GATES": "<none>"}


POD_COLUMNS = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
POD_WIDE = POD_COLUMNS + ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]


def _data_count(obj: dict[str, Any]) -> str:
    return str(len(obj.get("data") or {}) + len(obj.get("binaryData") or {}))


def event_object(ev: dict[str, Any]) -> str:
    io = ev.get("involvedObject") or {}
    return f"{(io.get('kind') or '').lower()}/{io.get('name', '')}"


def event_last_seen(ev: dict[str, Any], now: float | None = None) -> str:
    return _age(ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp"), now)


def rows_for(resource: str, objs: list[dict[str, Any]], wide: bool,
             all_ns: bool, now: float | None = None) -> tuple[list[str], list[list[str]]]:
    now = now or time.time()
    if resource == "pods":
        cols = POD_WIDE if wide else POD_COLUMNS
        rows = [[pod_row(p, now)[c] for c in cols] for p in objs]
    elif resource == "configmaps":
        cols = ["NAME", "DATA", "AGE"]
        rows = [[o["metadata"]["name"], _data_count(o), _age(o["metadata"].get("creationTimestamp"), now)]
                for o in objs]
    elif resource == "secrets":
        cols = ["NAME", "TYPE", "DATA", "AGE"]
        rows = [[o["metadata"]["name"], o.get("type") or "Opaque", _data_count(o),
                 _age(o["metadata"].get("creationTimestamp"), now)] for o in objs]
    else:
        cols = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        rows = [[event_last_seen(e, now), e.get("type") or "", e.get("reason") or "",
                 event_object(e), (e.get("message") or "").strip()] for e in objs]
    if all_ns:
        cols = ["NAMESPACE"] + cols
        rows = [[o["metadata"].get("namespace", "")] + r for o, r in zip(objs, rows, strict=True)]
    return cols, rows


# Column name -> (type, priority): priority 1 columns only show with -o wide.
COLUMN_TYPES = {"AGE": "string", "RESTARTS": "string", "DATA": "integer"}
WIDE_ONLY = {"IP", "NODE", "NOMINATED NODE", "READINESS GATES"}


def table(resource: str, objs: list[dict[str, Any]], rv: str,
          now: float | None = None) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of objs (every column; the client drops priority-1 ones
    unless -o wide)."""
    cols, rows = rows_for(resource, objs, True, False, now)
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
        "columnDefinitions": [
            {"name": c.title() if c not in ("IP",) else c, "type": COLUMN_TYPES.get(c, "string"),
             "format": "name" if c == "NAME" else "", "description": "",
             "priority": 1 if c in WIDE_ONLY else 0} for c in cols],
        "rows": [{"cells": r, "object": {"kind": "PartialObjectMetadata",
                                          "apiVersion": "meta.k8s.io/v1",
                                          "metadata": o.get("metadata") or {}}}
                 for o, r in zip(objs, rows, strict=True)],
    }
