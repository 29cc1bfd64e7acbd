"""What podrun's hot commands do (get, apply, delete and the helpers they share), with no
click import: podrun/cli.py wraps them as click commands, and podrun/cli_fast.py calls them
directly for the command lines it parses itself, so `podrun get pods` or `podrun apply
--wait` do not pay click's import (~15 ms quiet, several times that under load) on every
call. Output and exit codes are the click commands' own: these are the same functions."""

from __future__ import annotations

import functools
import json
import os
import sys
import time

from podrun.api.printers import _age as _age  # re-exported for podrun.cli
from podrun.api.printers import pod_row as pod_row
from podrun.api.printers import rows_for as rows_for

TYPE_CHECKING = False  # typing costs the CLI's start-up ~2 ms; only the type checker needs it
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, NoReturn


class UsageError(Exception):
    """A usage mistake found while running (click.UsageError in podrun/cli.py): exit 2."""


class BadParameter(UsageError):
    """A bad option value found while running (click.BadParameter in podrun/cli.py)."""


_ANSI = "\033"


def echo(message: str = "", err: bool = False, nl: bool = True) -> None:
    """click.echo for text: the line to stdout/stderr, flushed at once (watch and wait
    output reaches a pipe line by line), ANSI escapes removed when the stream is not a
    terminal, as click does."""
    out = sys.stderr if err else sys.stdout
    text = message + "\n" if nl else message
    if _ANSI in text and not out.isatty():
        import re
        text = re.sub(r"\033\[[;?0-9]*[a-zA-Z]", "", text)
    out.write(text)
    out.flush()


def client_for(socket: str) -> Any:
    from podrun.api.client import Client
    return Client(socket)


# kubectl reads these extensions when -f names a directory.
MANIFEST_EXTENSIONS = (".yaml", ".yml", ".json")
DEFAULT_SOCKET = "/run/podrun/podrun.sock"
RESOURCE_ALIASES = {
    "po": "pods", "pod": "pods", "pods": "pods",
    "cm": "configmaps", "configmap": "configmaps", "configmaps": "configmaps",
    "secret": "secrets", "secrets": "secrets",
    "ev": "events", "event": "events", "events": "events",
}
KIND_RESOURCE = {"Pod": "pods", "ConfigMap": "configmaps", "Secret": "secrets"}


# ---------------------------------------------------------------- plumbing

def fail(message: str, code: int = 1) -> NoReturn:
    echo(message if message.startswith(("error:", "Error from server", "The "))
         else f"error: {message}", err=True)
    sys.exit(code)


def run_api(fn: Callable[[], Any]) -> Any:
    """Run a client call; API and connection errors end the command as kubectl's do."""
    from podrun.api.client import ApiStatusError, ClientError
    try:
        return fn()
    except ApiStatusError as e:
        fail(_status_text(e))
    except ClientError as e:
        fail(f"error: {e}")


def _status_text(e: Any) -> str:
    st = e.status
    causes = (st.get("details") or {}).get("causes") or []
    if e.code == 422 and causes:
        kind = (st.get("message") or "").split(" ", 1)[0]
        name = (st.get("details") or {}).get("name", "")
        lines = [f"{c.get('field')}: {c.get('message')}" if c.get("field") else c.get("message", "")
                 for c in causes]
        if len(lines) == 1:
            return f'The {kind} "{name}" is invalid: {lines[0]}'
        return f'The {kind} "{name}" is invalid: \n' + "\n".join(f"* {ln}" for ln in lines)
    return str(e.kubectl_message())


def _warn(warnings: Iterable[str]) -> None:
    for w in warnings:
        echo(f"Warning: {w}", err=True)


def _resource(name: str) -> str:
    r = RESOURCE_ALIASES.get(name.lower())
    if r is None:
        fail(f'error: the server doesn\'t have a resource type "{name}"')
    return r


def no_resources_found(ns: str, all_namespaces: bool = False) -> None:
    where = "" if all_namespaces else f" in {ns} namespace"
    echo(f"No resources found{where}.", err=True)


def list_objects(client: Any, res: str, ns: str, selector: str | None = None,
                 all_namespaces: bool = False) -> list[dict[str, Any]]:
    """The objects of a type in a namespace (or all) that match a label selector now."""
    from podrun.api.client import pod_path
    path = f"/api/v1/{res}" if all_namespaces else pod_path(ns, None, res)
    return list(run_api(lambda: client.get(path, labelSelector=selector))["items"])


def type_slash_names(resource: str, names: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """kubectl's TYPE/NAME arguments (get pod/a pod/b) as TYPE and names; one type only."""
    if "/" not in resource:
        return resource, names
    words = (resource, *names)
    if any("/" not in w or not w.partition("/")[2] for w in words):
        fail("error: there is no need to specify a resource type as a separate argument when "
             "passing arguments in resource/name form (e.g. 'podrun get resource/<resource_name>'"
             " instead of 'podrun get resource resource/<resource_name>'")
    types = {_resource(w.partition("/")[0]) for w in words}
    if len(types) > 1:
        fail("error: arguments in resource/name form must have a single resource type here")
    return resource.partition("/")[0], tuple(w.partition("/")[2] for w in words)



# ---------------------------------------------------------------- manifests

def read_manifest_sources(filenames: tuple[str, ...]) -> list[tuple[str, str]]:
    """(source name, text) for each -f argument: a file, a directory (its .yaml/.yml/.json
    files, sorted, not recursive, dot-files skipped, as kubectl) or "-" for stdin."""
    sources: list[tuple[str, str]] = []
    for name in filenames:
        if name == "-":
            sources.append(("-", _decode_bytes(sys.stdin.buffer.read(), "-")))
            continue
        path = path_name(name)
        if os.path.isdir(path):
            base = path if path.endswith("/") else path + "/"
            files = [path_name(base + n) for n in sorted(os.listdir(path))
                     if not n.startswith(".") and os.path.splitext(n)[1] in MANIFEST_EXTENSIONS
                     and os.path.isfile(base + n)]
            if not files:
                raise UsageError(f'no manifest files (.yaml, .yml, .json) in directory "{name}"')
        elif os.path.exists(path):
            files = [path]
        else:
            raise UsageError(f'the path "{name}" does not exist')
        for f in files:
            try:
                with open(f, "rb") as fh:
                    data = fh.read()
            except OSError as e:
                fail(f"error: cannot read {f}: {e.strerror}")
            sources.append((f, _decode_bytes(data, f)))
    return sources


def path_name(path: str) -> str:
    """str(pathlib.PurePosixPath(path)), the way podrun names a manifest in its messages,
    without pathlib's import: "." parts and repeated or trailing slashes dropped, a root of
    exactly two slashes kept."""
    if not path:
        return "."
    root = "/" if path.startswith("/") else ""
    if path.startswith("//") and not path.startswith("///"):
        root = "//"
    return root + "/".join(p for p in path.split("/") if p and p != ".") or "."


def podrun_error() -> type[Exception]:
    """podrun.errors.PodrunError, imported only once something failed (in an `except`
    clause, which is evaluated only then): podrun.errors imports dataclasses, ~5 ms of a
    command's start-up."""
    from podrun.errors import PodrunError
    return PodrunError


def _decode_bytes(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise podrun_error()(
            f"{source}: not valid UTF-8 (byte {e.start}, line {line})") from None


def _json_document(text: str) -> list[Any] | None:
    """A JSON manifest's document, decoded as JSON (as kubectl does: its YAML decoder hands
    JSON to the JSON decoder) without importing yaml; None for YAML, or for JSON that does
    not parse, so the YAML parser words the error as for any manifest."""
    if not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return [json.loads(text)]
    except ValueError:
        return None


def _yaml_documents(text: str, source: str) -> list[Any]:
    """Every document of a YAML manifest, read by libyaml when PyYAML has it (about ten
    times faster than PyYAML's Python parser, on every apply); a text libyaml refuses is
    read again by the Python parser, whose error message podrun has always printed.
    The common manifest shape is read without importing yaml at all (yaml_subset: the
    same documents, or None for anything else)."""
    from podrun.yaml_subset import load_all
    docs = load_all(text)
    if docs is not None:
        return docs
    import yaml
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return list(yaml.load_all(text, Loader=loader))
        except yaml.YAMLError:
            pass
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        fail(f"error: error parsing {source}: {e}")


FIELD_VALIDATION = {"strict": "Strict", "true": "Strict", "warn": "Warn", "ignore": "Ignore",
                    "false": "Ignore"}  # --validate -> the API's fieldValidation


def manifest_objects(filenames: tuple[str, ...], namespace: str | None
                     ) -> list[tuple[str, dict[str, Any], dict[str, Any], str]]:
    """(source, raw object, its metadata, its namespace) for apply and create -f:
    ConfigMaps and Secrets first, so the pods that use them find them; an object of
    another namespace than -n ends the command, as kubectl's."""
    objects = _raw_objects(filenames)
    objects.sort(key=lambda so: 0 if so[1].get("kind") != "Pod" else 1)
    out = []
    for source, raw in objects:
        meta: dict[str, Any] = raw["metadata"] if isinstance(raw.get("metadata"), dict) else {}
        if namespace and meta.get("namespace") and meta["namespace"] != namespace:
            fail(f"error: the namespace from the provided object \"{meta['namespace']}\" does "
                 f"not match the namespace \"{namespace}\". You must pass '--namespace="
                 f"{meta['namespace']}' to perform this operation.")
        out.append((source, raw, meta, meta.get("namespace") or namespace or "default"))
    return out


def _raw_objects(filenames: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    """(source, raw document) for every object of the -f arguments; List kinds expanded.
    Raw so the daemon applies the unknown-field rules (fieldValidation) itself."""
    try:
        sources = read_manifest_sources(filenames)
    except podrun_error() as e:
        fail(f"error: {e}")
    out: list[tuple[str, dict[str, Any]]] = []
    for source, text in sources:
        docs = _json_document(text)
        if docs is None:
            docs = _yaml_documents(text, source)
        for doc in docs:
            if doc is None:
                continue
            if not isinstance(doc, dict):
                fail(f"error: error parsing {source}: a document is not an object")
            items = doc.get("items") if str(doc.get("kind", "")).endswith("List") else [doc]
            for item in items or []:
                kind = item.get("kind") if isinstance(item, dict) else None
                if kind not in KIND_RESOURCE:
                    if not kind:
                        fail(f"error: error validating {source}: kind not set")
                    from podrun.errors import UnsupportedKind
                    fail(f"error: {source}: {UnsupportedKind(str(kind), str(item.get('apiVersion', '')))}")
                out.append((source, item))
    return out



# ---------------------------------------------------------------- durations

DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_duration(value: str) -> float | None:
    """A Go duration ("20s", "1m30s", "500ms") in seconds, None if it is not one; the
    daemon's config parser (podrun.agent.daemon.parse_duration) reads the same syntax, but
    importing the daemon costs every command its start-up."""
    import re
    text = value.strip()
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * DURATION_UNITS[u] for n, u in parts)


def parse_timeout(value: str) -> float:
    seconds = parse_duration(value if not value.isdigit() else value + "s")
    if seconds is None:
        raise BadParameter(f'invalid duration "{value}" (use e.g. 60s, 2m)')
    return seconds


# ---------------------------------------------------------------- apply

def apply(socket: str, filenames: tuple[str, ...], namespace: str | None, wait: bool,
          timeout: str, mode: str) -> None:
    """Create objects from manifests, or replace them when they changed."""
    from podrun.api.client import ApiStatusError, ClientError, pod_path
    fv = FIELD_VALIDATION[mode]
    limit = parse_timeout(timeout)
    objects = manifest_objects(filenames, namespace)
    client = client_for(socket)
    failed = False
    applied_pods: list[tuple[str, str]] = []
    for source, raw, meta, ns in objects:
        resource = KIND_RESOURCE[raw["kind"]]
        singular = raw["kind"].lower()
        name = meta.get("name") or ""
        action = "creating"
        try:
            # Create first: a new object (the common case, and every `apply --wait` start)
            # costs one request instead of a GET that says 404 and then the POST. One that
            # exists already (409 AlreadyExists) goes the kubectl way: GET, then PUT.
            resp, cur = None, None
            try:
                resp = client.request("POST", pod_path(ns, None, resource), body=raw,
                                      query={"fieldValidation": fv})
            except ApiStatusError as e:
                if not (name and e.code == 409 and e.reason == "AlreadyExists"):
                    raise
                try:
                    cur = client.get(pod_path(ns, name, resource))
                except ApiStatusError as e:
                    if e.code != 404:
                        raise
                    cur = None  # deleted meanwhile: create it after all
            action = "creating" if cur is None else "replacing"
            if resp is not None:
                verb = "created"
            elif cur is None:
                resp = client.request("POST", pod_path(ns, None, resource), body=raw,
                                      query={"fieldValidation": fv})
                verb = "created"
            else:
                try:
                    resp = client.request("PUT", pod_path(ns, name, resource), body=raw,
                                          query={"fieldValidation": fv})
                    new = resp.json()
                    verb = ("unchanged" if new["metadata"].get("resourceVersion")
                            == cur["metadata"].get("resourceVersion") else "configured")
                except ApiStatusError as e:
                    if not (resource == "pods" and e.code == 422
                            and "pod updates may not change fields" in str(e)):
                        raise
                    # A change a pod cannot take in place: replace the pod (delete, wait
                    # until it is gone, create), as the kubelet does for a static pod.
                    action = "replacing"
                    _recreate_wait(client, ns, name, cur)
                    resp = client.request("POST", pod_path(ns, None, resource), body=raw,
                                          query={"fieldValidation": fv})
                    verb = "replaced"
            _warn(resp.warnings)
            obj = resp.json()
            echo(f"{singular}/{obj['metadata']['name']} {verb}")
            if resource == "pods":
                applied_pods.append((ns, obj["metadata"]["name"]))
        except ApiStatusError as e:
            echo(_status_text(e) if e.code == 422 else
                       f"Error from server ({e.reason}): error when {action} "
                       f'"{source}": {e}', err=True)
            failed = True
        except ClientError as e:
            fail(f"error: {e}")
    if failed:
        sys.exit(1)
    if wait and applied_pods:
        deadline = time.monotonic() + limit
        for ns, name in applied_pods:
            _wait_pod(client, ns, name, deadline, timeout)



def _recreate_wait(client: Any, ns: str, name: str, cur: dict[str, Any]) -> None:
    """Delete a pod with its own grace period and wait until it is gone."""
    from podrun.api.client import WaitTimeout, pod_path
    client.request("DELETE", pod_path(ns, name))
    grace = int((cur.get("spec") or {}).get("terminationGracePeriodSeconds") or 30)
    try:
        _wait_gone(client, "pods", ns, name, cur["metadata"].get("uid"),
                   time.monotonic() + grace + 60)
    except WaitTimeout:
        fail(f"error: timed out waiting for pod/{name} to terminate before re-creating it")


def _wait_gone(client: Any, res: str, ns: str, name: str, uid: str | None,
               deadline: float | None) -> None:
    """Until the object with this UID is gone, as kubectl delete --wait: list it for the
    resourceVersion, then watch from there, so the DELETED event ends the wait the moment
    the daemon sends it (no polling). WaitTimeout past the deadline."""
    from podrun.api.client import ApiStatusError, pod_path
    path, selector = pod_path(ns, None, res), f"metadata.name={name}"
    while True:
        lst = client.get(path, fieldSelector=selector)
        if not any(o["metadata"].get("uid") == uid for o in lst["items"]):
            return
        rv = lst["metadata"].get("resourceVersion") or ""
        try:
            for ev in client.watch(path, {"fieldSelector": selector, "resourceVersion": rv},
                                   deadline=deadline):
                if ev["object"]["metadata"].get("uid") != uid:
                    if ev["type"] == "ADDED":
                        return  # a new object of that name: ours is gone
                elif ev["type"] == "DELETED":
                    return
        except ApiStatusError as e:
            if e.code != 410:  # Expired: the history moved on, list again
                raise
        # the stream ended (daemon restart, idle close): list again


def _pod_done(pod: dict[str, Any]) -> str | None:
    st = pod.get("status") or {}
    if st.get("phase") in ("Succeeded", "Failed"):
        return str(st["phase"])
    for c in st.get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True":
            return "Ready"
    return None


def _wait_pod(client: Any, ns: str, name: str, deadline: float, timeout: str) -> None:
    """Until the pod is Ready, Succeeded or Failed (docs/cli.md apply --wait). A watch of
    this one pod: a watch without resourceVersion starts with the pod's current state
    (ADDED), then every change arrives as the daemon makes it, so the wait returns the moment
    the condition holds."""
    from podrun.api.client import WaitTimeout, pod_path
    query = {"fieldSelector": f"metadata.name={name}"}
    try:
        while True:  # a stream that ends (daemon restart) is watched again
            for ev in client.watch(pod_path(ns), query, deadline=deadline):
                if ev["type"] == "DELETED":
                    fail(f"error: pod/{name} was deleted while waiting")
                pod = ev["object"]
                if _pod_done(pod):
                    return
                st = pod.get("status") or {}
                if st.get("reason") == "NoRuntimeEngine":
                    fail(f"error: pod/{name}: {st.get('message')}")
    except WaitTimeout:
        fail(f"error: timed out waiting for the condition on pods/{name} (--timeout {timeout})")
    except Exception as e:  # noqa: BLE001 - worded as before: error: <message>
        fail(f"error: {e}")


# ---------------------------------------------------------------- get

def format_table(cols: list[str], rows: list[list[str]], header: bool = True) -> str:
    """kubectl's tabwriter layout: columns padded to the widest cell plus 3 spaces."""
    all_rows = ([cols] if header else []) + rows
    widths = [max(len(r[i]) for r in ([cols] + rows)) for i in range(len(cols))]
    lines = []
    for r in all_rows:
        cells = [c.ljust(widths[i] + 3) if i < len(cols) - 1 else c for i, c in enumerate(r)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def _print_data(data: Any, output: str) -> None:
    if output == "json":
        echo(json.dumps(data, indent=4))
    else:
        import yaml
        echo(yaml.safe_dump(data, sort_keys=True, default_flow_style=False), nl=False)


def _as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List",
            "metadata": {"resourceVersion": ""}}


def get(socket: str, resource: str, names: tuple[str, ...], namespace: str | None,
        all_namespaces: bool, output: str | None, watch: bool, selector: str | None,
        field_selector: str | None, sort_by: str | None = None, show_labels: bool = False,
        label_columns: tuple[str, ...] = (), no_headers: bool = False) -> None:
    """List pods, configmaps, secrets or events, or get some by name."""
    from podrun.api.client import pod_path
    resource, names = type_slash_names(resource, names)
    if output not in (None, "wide", "json", "yaml", "name") or sort_by or show_labels or \
            label_columns or no_headers:
        from podrun import cli_output as out
        try:
            out.check_output(output)
        except out.OutputError as e:
            fail(str(e))
    else:
        out = None  # type: ignore[assignment]  # the common case imports nothing more
    res = _resource(resource)
    ns = namespace or "default"
    client = client_for(socket)
    label_cols = out.label_keys(label_columns) if out else []
    if output in (None, "wide") and not watch and objs_are_few(names) and not sort_by:
        # Server-side printing: the daemon computes kubectl's columns (no spec import here).
        path = pod_path(ns, names[0], res) if names else (
            f"/api/v1/{res}" if all_namespaces else pod_path(ns, None, res))
        tbl = run_api(functools.partial(client.get_table, path, labelSelector=selector,
                                        fieldSelector=field_selector))
        if tbl.get("kind") == "Table":
            if not tbl["rows"]:
                no_resources_found(ns, all_namespaces)
                return
            cols, rows = table_rows(tbl, output == "wide", all_namespaces)
            if out and (label_cols or show_labels):
                metas = [((r.get("object") or {}).get("metadata") or {}) for r in tbl["rows"]]
                cols, rows = out.extend_rows(cols, rows, metas, label_cols, show_labels)
            echo(format_table(cols, rows, header=not no_headers))
            return
    if names:
        objs = [run_api(functools.partial(client.get, pod_path(ns, n, res))) for n in names]
        list_rv = None
    else:
        path = f"/api/v1/{res}" if all_namespaces else pod_path(ns, None, res)
        lst = run_api(lambda: client.get(path, labelSelector=selector,
                                         fieldSelector=field_selector))
        objs, list_rv = lst["items"], lst["metadata"].get("resourceVersion")
    if out is None:
        _print_objs(objs, res, names, ns, all_namespaces, output, watch)
    else:
        try:
            if sort_by:
                objs = out.sort_objects(objs, sort_by)
            if out.is_template(output):
                assert output is not None
                data = objs[0] if names and len(objs) == 1 else _as_list(objs)
                text = out.render(output, data, header=not no_headers)
                echo(text, nl=output.startswith("custom-columns") and bool(text))
            else:
                _print_objs(objs, res, names, ns, all_namespaces, output, watch,
                            label_cols, show_labels, no_headers)
        except out.OutputError as e:
            fail(str(e))
    if watch:
        _watch_rows(client, res, ns, all_namespaces, output, selector, field_selector,
                    list_rv or "0", header=not objs and not no_headers,
                    label_cols=label_cols, show_labels=show_labels)


def _print_objs(objs: list[dict[str, Any]], res: str, names: tuple[str, ...], ns: str,
                all_namespaces: bool, output: str | None, watch: bool,
                label_cols: list[str] | None = None, show_labels: bool = False,
                no_headers: bool = False) -> None:
    if output in ("json", "yaml"):
        _print_data(objs[0] if names and len(objs) == 1 else _as_list(objs), output)
    elif output == "name":
        for o in objs:
            echo(f"{res[:-1]}/{o['metadata']['name']}")
    elif not objs and not watch:
        no_resources_found(ns, all_namespaces)
    elif objs:
        cols, rows = rows_for(res, objs, output == "wide", all_namespaces)
        if label_cols or show_labels:
            from podrun import cli_output as out
            cols, rows = out.extend_rows(cols, rows, [o.get("metadata") or {} for o in objs],
                                         label_cols or [], show_labels)
        echo(format_table(cols, rows, header=not no_headers))


def objs_are_few(names: tuple[str, ...]) -> bool:
    """One Table request covers a list or a single name."""
    return len(names) <= 1


def table_rows(tbl: dict[str, Any], wide: bool, all_ns: bool) -> tuple[list[str], list[list[str]]]:
    """Columns and cells of a server Table, kubectl-style (upper-case, wide columns only
    with -o wide, NAMESPACE first with -A)."""
    keep = [i for i, c in enumerate(tbl["columnDefinitions"]) if wide or not c.get("priority")]
    cols = [tbl["columnDefinitions"][i]["name"].upper() for i in keep]
    rows = [[str(r["cells"][i]) for i in keep] for r in tbl["rows"]]
    if all_ns:
        cols = ["NAMESPACE"] + cols
        rows = [[((r.get("object") or {}).get("metadata") or {}).get("namespace", "")] + row
                for r, row in zip(tbl["rows"], rows, strict=True)]
    return cols, rows


def _watch_rows(client: Any, res: str, ns: str, all_ns: bool, output: str | None,
                selector: str | None, field_selector: str | None, rv: str,
                header: bool, label_cols: list[str] | None = None,
                show_labels: bool = False) -> None:
    from podrun.api.client import pod_path
    path = f"/api/v1/{res}" if all_ns else pod_path(ns, None, res)
    q = {"labelSelector": selector, "fieldSelector": field_selector, "resourceVersion": rv}
    try:
        for ev in run_api(lambda: client.watch(path, q)):
            obj = ev["object"]
            if output in ("json", "yaml"):
                _print_data(obj, output)
                continue
            if output == "name":
                echo(f"{res[:-1]}/{obj['metadata']['name']}")
                continue
            if output not in (None, "wide"):  # a template (get() checked -o)
                from podrun import cli_output as out
                try:
                    text = out.render(output, obj, header=header)
                except out.OutputError as e:
                    fail(str(e))
                echo(text, nl=output.startswith("custom-columns"))
                header = False
                continue
            cols, rows = rows_for(res, [obj], output == "wide", all_ns)
            if label_cols or show_labels:
                from podrun import cli_output as out
                cols, rows = out.extend_rows(cols, rows, [obj.get("metadata") or {}],
                                             label_cols or [], show_labels)
            table = format_table(cols, rows, header=header).splitlines()
            # kubectl pads watch rows to the header's widths only roughly; one line each.
            echo("\n".join(table))
            header = False
    except KeyboardInterrupt:
        return


# ---------------------------------------------------------------- delete

def delete(socket: str, args: tuple[str, ...], namespace: str | None,
           filenames: tuple[str, ...], grace_period: int, force: bool, wait: bool,
           timeout: str, all_: bool = False, selector: str | None = None,
           ignore_not_found: bool = False, now: bool = False,
           all_namespaces: bool = False) -> None:
    """Delete pods, configmaps or secrets by name (delete pod NAME) or by manifest (-f)."""
    from podrun.api.client import pod_path
    targets: list[tuple[str, str, str]] = []  # (resource, ns, name)
    if filenames:
        if args:
            raise UsageError("there is no need to specify a resource type as a separate "
                                   "argument when passing arguments in resource/name form "
                                   "(e.g. 'podrun delete -f FILE')")
        for _, raw in _raw_objects(filenames):
            meta = raw.get("metadata") or {}
            targets.append((KIND_RESOURCE[raw["kind"]], meta.get("namespace") or namespace
                            or "default", meta.get("name") or ""))
    else:
        if not args:
            raise UsageError("You must provide one or more resources by argument or "
                                   "filename.")
        rest = list(args)
        first = rest.pop(0)
        if "/" in first:
            if all_ or selector:
                fail("error: name cannot be provided when a selector is specified")
            rest.insert(0, first)
            for a in rest:
                r, _, n = a.partition("/")
                targets.append((_resource(r), namespace or "default", n))
        else:
            res = _resource(first)
            if rest and (all_ or selector):
                fail("error: name cannot be provided when a selector is specified")
            if all_ and selector:
                fail("error: cannot set --all and --selector at the same time")
            if all_ or selector:
                # kubectl: --all and -l delete what matches now; none is not an error
                ignore_not_found = True
                targets += [(res, o["metadata"].get("namespace") or "default",
                             o["metadata"]["name"])
                            for o in list_objects(client_for(socket), res,
                                                  namespace or "default", selector,
                                                  all_namespaces)]
                if not targets:
                    no_resources_found(namespace or "default", all_namespaces)
                    return
            elif not rest:
                raise UsageError('resource(s) were provided, but no name was specified')
            else:
                targets += [(res, namespace or "default", n) for n in rest]
    if now:
        grace_period = 1
    if grace_period == 0 and not force:
        grace_period = 1  # kubectl: --grace-period=0 without --force means 1
    if force and grace_period < 0:
        grace_period = 0
    if force:
        echo("Warning: Immediate deletion does not wait for confirmation that the running "
                   "resource has been terminated. The resource may continue to run on the "
                   "cluster indefinitely.", err=True)
    client = client_for(socket)
    failed = False
    waiting: list[tuple[str, str, str, str]] = []
    from podrun.api.client import ApiStatusError, ClientError
    for res, ns, name in targets:
        try:
            resp = client.request("DELETE", pod_path(ns, name, res), query={
                "gracePeriodSeconds": grace_period if grace_period >= 0 else None})
        except ApiStatusError as e:
            if e.code == 404 and ignore_not_found:
                continue
            echo(_status_text(e), err=True)
            failed = True
            continue
        except ClientError as e:
            fail(f"error: {e}")
        _warn(resp.warnings)
        obj = resp.json()
        if resp.warnings and (obj.get("metadata") or {}).get("annotations", {}).get(
                "kubernetes.io/config.source") == "file":
            continue  # a static pod: not deleted, nothing to wait for
        echo(f'{res[:-1]} "{name}" deleted')
        if wait and res == "pods":
            waiting.append((res, ns, name, obj["metadata"].get("uid", "")))
    limit = parse_timeout(timeout)
    deadline = time.monotonic() + limit if limit > 0 else None
    for res, ns, name, uid in waiting:
        run_wait(functools.partial(_wait_gone, client, res, ns, name, uid, deadline), res, name)
    sys.exit(1 if failed else 0)


def run_wait(fn: Callable[[], Any], res: str, name: str) -> Any:
    """A wait on one object: its deadline passing, an API error or a lost daemon end the
    command in kubectl's words."""
    from podrun.api.client import ApiStatusError, ClientError, WaitTimeout
    try:
        return fn()
    except WaitTimeout:
        fail(f"error: timed out waiting for the condition on {res}/{name}")
    except ApiStatusError as e:
        fail(_status_text(e))
    except ClientError as e:
        fail(f"error: {e}")


# ---------------------------------------------------------------- logs / exec

def _pick_container(pod: dict[str, Any], container: str | None) -> str:
    if container:
        return container
    spec = pod.get("spec") or {}
    names = [str(c["name"]) for c in spec.get("containers") or []]
    if len(names) == 1:
        return names[0]
    ann = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    chosen = str(ann) if ann in names else names[0]
    others = names + [f"{c['name']} (init)" for c in spec.get("initContainers") or []]
    echo(f'Defaulted container "{chosen}" out of: {", ".join(others)}', err=True)
    return chosen


def _pod_of(socket: str, name: str, namespace: str | None
            ) -> tuple[str, str, Any, dict[str, Any]]:
    """logs/exec/cp: the pod's namespace and name (a "pod/" prefix dropped), a client and
    the pod."""
    from podrun.api.client import pod_path
    if name.startswith("pod/"):
        name = name[4:]
    ns = namespace or "default"
    client = client_for(socket)
    return ns, name, client, run_api(lambda: client.get(pod_path(ns, name)))


def _container_of(socket: str, name: str, namespace: str | None,
                  container: str | None) -> tuple[str, str, Any, str]:
    """_pod_of, with the container meant (kubectl's default-container rules)."""
    ns, name, client, pod = _pod_of(socket, name, namespace)
    return ns, name, client, _pick_container(pod, container)


def logs(socket: str, name: str, namespace: str | None, container: str | None,
         follow: bool, previous: bool, tail: int, timestamps: bool, since: str | None,
         all_containers: bool = False, prefix: bool = False,
         limit_bytes: int | None = None) -> None:
    """Print a container's logs (--all-containers: every container's, init containers
    first; --prefix: each line after [pod/NAME/CONTAINER])."""
    from podrun.api.client import pod_path
    q: dict[str, Any] = {"follow": "true" if follow else None,
                         "previous": "true" if previous else None,
                         "tailLines": tail if tail >= 0 else None,
                         "timestamps": "true" if timestamps else None,
                         "limitBytes": limit_bytes if limit_bytes and limit_bytes > 0 else None}
    if since:
        q["sinceSeconds"] = max(1, int(parse_timeout(since)))
    if all_containers:
        if container:
            fail("error: --container cannot be specified with --all-containers")
        ns, name, client, pod = _pod_of(socket, name, namespace)
        spec = pod.get("spec") or {}
        names = [str(c["name"]) for key in ("initContainers", "containers")
                 for c in spec.get(key) or []]
    else:
        ns, name, client, c = _container_of(socket, name, namespace, container)
        names = [c]
    out = sys.stdout.buffer

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    def stream(c: str, write: Callable[[bytes], None]) -> None:
        head = f"[pod/{name}/{c}] ".encode() if prefix else b""
        rest = b""
        for chunk in client.stream(pod_path(ns, name) + "/log", {**q, "container": c}):
            if head:
                rest += chunk
                *lines, rest = rest.split(b"\n")
                chunk = b"".join(head + ln + b"\n" for ln in lines)
            write(chunk)
        if head and rest:
            write(head + rest)
    try:
        if follow and len(names) > 1:
            # kubectl follows the containers at once, each line as it comes
            import threading
            lock = threading.Lock()
            errors: list[BaseException] = []

            def locked(data: bytes) -> None:
                with lock:
                    write(data)

            def follow_one(c: str) -> None:
                try:
                    stream(c, locked)
                except BaseException as e:  # noqa: BLE001 - reported after the join
                    errors.append(e)
            threads = [threading.Thread(target=follow_one, args=(c,), daemon=True)
                       for c in names]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                first = errors[0]

                def reraise() -> None:
                    raise first
                run_api(reraise)
        else:
            for c in names:
                run_api(functools.partial(stream, c, write))
    except KeyboardInterrupt:
        pass


def exec_(socket: str, name: str, command: tuple[str, ...], namespace: str | None,
          container: str | None, stdin: bool, tty: bool) -> None:
    """Run a command in a container (podrun exec NAME -- CMD ...); exits with its code."""
    ns, name, client, c = _container_of(socket, name, namespace, container)
    if tty and not stdin:
        echo("Unable to use a TTY - input is not a terminal or the right kind of file",
                   err=True)
        tty = False
    from podrun.api.client import pod_path
    from podrun.api.exec_client import run_exec
    code = run_api(lambda: run_exec(client.socket_path, pod_path(ns, name) + "/exec",
                                    list(command), c, stdin, tty))
    sys.exit(code)
