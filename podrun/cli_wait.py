"""`podrun wait`: kubectl wait for pods, ConfigMaps and Secrets.

    podrun wait --for=condition=Ready pod/web [--timeout=30s]
    podrun wait --for=condition=Ready=false pods -l app=web
    podrun wait --for=jsonpath='{.status.phase}'=Succeeded pod/job
    podrun wait --for=delete pod/web --timeout=60s
    podrun wait --for=create pod/later

Each object is watched (no polling): the wait ends the moment the daemon publishes the
change. One deadline covers all objects, as kubectl's; the messages and exit codes are
kubectl's (`pod/web condition met`, `error: timed out waiting for the condition on pods/web`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podrun.cli_core import (
    _resource,
    client_for,
    echo,
    fail,
    list_objects,
    parse_duration,
    run_wait,
)

DEFAULT_TIMEOUT = 30.0
A_WEEK = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Condition:
    kind: str  # "condition", "jsonpath", "delete" or "create"
    name: str = ""  # the condition type, or the JSONPath template
    value: str | None = None  # the wanted status / value (None: jsonpath existence)

    def met(self, obj: dict[str, Any]) -> bool:
        if self.kind == "create":
            return True
        if self.kind == "condition":
            return _condition_met(obj, self.name, self.value or "true")
        return _jsonpath_met(obj, self.template, self.value)

    @functools.cached_property
    def template(self) -> Any:
        """The JSONPath, compiled once for every event the wait looks at."""
        from podrun.jsonpath import JSONPathError, compile_template
        try:
            return compile_template(self.name)
        except JSONPathError as e:
            fail(f"error: {e}")


def parse_for(value: str) -> Condition:
    """--for: delete, create, condition=NAME[=VALUE], jsonpath=TEMPLATE[=VALUE]."""
    low = value.lower()
    if low in ("delete", "create"):
        return Condition(low)
    if low.startswith("condition="):
        name, sep, status = value[len("condition="):].partition("=")
        if name:
            return Condition("condition", name, status if sep else "true")
    elif low.startswith("jsonpath="):
        expr = value[len("jsonpath="):]
        want: str | None
        if expr.startswith("{"):
            from podrun.jsonpath import JSONPathError, _action_end
            try:
                end = _action_end(expr, 0)
            except JSONPathError:
                fail(f"unrecognized condition: {value!r}: unclosed JSONPath expression")
            template, rest = expr[:end + 1], expr[end + 1:]
            if rest and not rest.startswith("="):
                fail(f"unrecognized condition: {value!r}")
            want = rest[1:] if rest else None
        else:
            template, sep, after = expr.partition("=")
            want = after if sep else None
        if template.strip("{}. "):
            from podrun.jsonpath import relaxed
            return Condition("jsonpath", relaxed(template), want)
    fail(f'unrecognized condition: "{value}"')


def _condition_met(obj: dict[str, Any], name: str, want: str) -> bool:
    """kubectl's ConditionalWait: the condition of that type (any case) has that status,
    and the status is not older than the object's generation."""
    meta = obj.get("metadata") or {}
    for c in (obj.get("status") or {}).get("conditions") or []:
        if not isinstance(c, dict) or str(c.get("type", "")).lower() != name.lower():
            continue
        if "status" not in c:
            continue
        gen, seen = meta.get("generation"), c.get("observedGeneration")
        if isinstance(gen, int) and isinstance(seen, int) and seen < gen:
            return False
        return str(c["status"]).lower() == want.lower()
    return False


def _jsonpath_met(obj: dict[str, Any], template: Any, want: str | None) -> bool:
    """kubectl wait --for=jsonpath: the path gives one value, printed as -o jsonpath prints
    it, equal to want (None: the path gives anything)."""
    from podrun.jsonpath import JSONPathError, text
    try:
        found = template.values(obj)
    except JSONPathError as e:
        fail(f"error: {e}")
    if want is None:
        return bool(found)
    return len(found) == 1 and text(found[0]) == want


def _targets(args: tuple[str, ...], namespace: str | None, selector: str | None,
             all_: bool, client: Any) -> list[tuple[str, str, str]]:
    """(resource, namespace, name) of each object meant: TYPE/NAME words, or TYPE NAME...,
    or TYPE with -l / --all (the objects that match now)."""
    ns = namespace or "default"
    if not args:
        fail("error: resource(s) were provided, but no name was specified" if selector
             else "error: You must provide one or more resources by argument or filename.")
    if "/" in args[0]:
        out = []
        for a in args:
            r, sep, n = a.partition("/")
            if not sep or not n:
                fail(f"error: there is no need to specify a resource type as a separate "
                     f"argument when passing arguments in resource/name form (e.g. "
                     f"'podrun wait pod/NAME' instead of 'podrun wait pod NAME'): {a}")
            out.append((_resource(r), ns, n))
        return out
    res = _resource(args[0])
    if len(args) > 1:
        return [(res, ns, n) for n in args[1:]]
    if not (selector or all_):
        fail("error: resource(s) were provided, but no name was specified")
    items = list_objects(client, res, ns, selector)
    if not items:
        fail("error: no matching resources found")
    return [(res, ns, o["metadata"]["name"]) for o in items]


def wait(socket: str, args: tuple[str, ...], namespace: str | None, for_: str | None,
         timeout: str, selector: str | None, all_: bool) -> None:
    if not for_:
        fail("error: --for must be set")
    cond = parse_for(for_)
    seconds = parse_duration(timeout if not timeout.lstrip("-").isdigit() else timeout + "s")
    if seconds is None and timeout.startswith("-"):
        seconds = -1.0
    if seconds is None:
        fail(f'error: invalid argument "{timeout}" for "--timeout" flag: time: invalid '
             f"duration {timeout!r}")
    if seconds < 0:
        seconds = A_WEEK
    deadline = time.monotonic() + seconds
    client = client_for(socket)
    targets = _targets(args, namespace, selector, all_, client)
    for res, ns, name in targets:
        run_wait(functools.partial(_wait_one, client, cond, res, ns, name, deadline), res, name)


def _wait_one(client: Any, cond: Condition, res: str, ns: str, name: str,
              deadline: float) -> None:
    if cond.kind == "delete":
        if _until_deleted(client, res, ns, name, deadline):
            echo(f"{res[:-1]}/{name} deleted")
        return
    _until(client, res, ns, name, cond.met, deadline, missing_ok=cond.kind == "create")
    echo(f"{res[:-1]}/{name} condition met")


def _until(client: Any, res: str, ns: str, name: str, met: Callable[[dict[str, Any]], bool],
           deadline: float, *, missing_ok: bool) -> None:
    """Until met(object) holds: the object now, then its changes as the daemon sends them."""
    from podrun.api.client import ApiStatusError, WaitTimeout, pod_path
    path, selector = pod_path(ns, None, res), f"metadata.name={name}"
    while True:
        lst = client.get(path, fieldSelector=selector)
        if lst["items"]:
            if met(lst["items"][0]):
                return
        elif not missing_ok:
            fail(f'Error from server (NotFound): {res} "{name}" not found')
        if time.monotonic() >= deadline:
            raise WaitTimeout("deadline reached")
        rv = lst["metadata"].get("resourceVersion") or ""
        try:
            for ev in client.watch(path, {"fieldSelector": selector, "resourceVersion": rv},
                                   deadline=deadline):
                if ev["type"] == "DELETED":
                    if not missing_ok:
                        fail(f'error: {res} "{name}" was deleted while waiting')
                    continue
                if met(ev["object"]):
                    return
        except ApiStatusError as e:
            if e.code != 410:  # Expired: list again
                raise
        # the stream ended (daemon restart, idle close): list again


def _until_deleted(client: Any, res: str, ns: str, name: str, deadline: float) -> bool:
    """Until the object is gone; False if there was none to begin with."""
    from podrun.api.client import WaitTimeout, pod_path
    from podrun.cli_core import _wait_gone
    lst = client.get(pod_path(ns, None, res), fieldSelector=f"metadata.name={name}")
    if not lst["items"]:
        return False
    if time.monotonic() >= deadline:
        raise WaitTimeout("deadline reached")
    _wait_gone(client, res, ns, name, lst["items"][0]["metadata"].get("uid"), deadline)
    return True
