"""kubectl verbs beyond apply/get/delete: `create -f`, `run`, `label`, `annotate`.

Each is one or two API requests with kubectl's messages:

    podrun create -f pod.yaml                 pod/web created | AlreadyExists error
    podrun run web --image=IMG [-- ARGS]      pod/web created (labels run=web)
    podrun label pod web tier=front [a-]      pod/web labeled
    podrun annotate pod web note=x            pod/web annotated
    podrun cp web:/etc/hostname ./h           through tar in the container, as kubectl cp
"""

from __future__ import annotations

import functools
import re
from typing import Any

from podrun.cli_core import (
    FIELD_VALIDATION,
    KIND_RESOURCE,
    _print_data,
    _resource,
    _status_text,
    _warn,
    client_for,
    echo,
    fail,
    list_objects,
    manifest_objects,
    no_resources_found,
    run_api,
    type_slash_names,
)

# ---------------------------------------------------------------- create -f


def create_from_files(socket: str, filenames: tuple[str, ...], namespace: str | None,
                      mode: str) -> None:
    """kubectl create -f: POST each object; one that exists is an error, not an update."""
    from podrun.api.client import ApiStatusError, ClientError, pod_path
    fv = FIELD_VALIDATION[mode]
    objects = manifest_objects(filenames, namespace)
    client = client_for(socket)
    failed = False
    for source, raw, _, ns in objects:
        resource = KIND_RESOURCE[raw["kind"]]
        try:
            resp = client.request("POST", pod_path(ns, None, resource), body=raw,
                                  query={"fieldValidation": fv})
        except ApiStatusError as e:
            echo(_status_text(e) if e.code == 422 else
                 f'Error from server ({e.reason}): error when creating "{source}": {e}',
                 err=True)
            failed = True
            continue
        except ClientError as e:
            fail(f"error: {e}")
        _warn(resp.warnings)
        echo(f"{raw['kind'].lower()}/{resp.json()['metadata']['name']} created")
    if failed:
        raise SystemExit(1)


# ---------------------------------------------------------------- run

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        for part in v.split(",") if what == "labels" else [v]:
            k, sep, val = part.partition("=")
            if not sep or not k:
                fail(f"error: invalid {what[:-1]} {part!r}: expected KEY=VALUE")
            out[k] = val
    return out


def run_pod(socket: str, name: str, args: tuple[str, ...], namespace: str | None,
            image: str | None, restart: str, env: tuple[str, ...], labels: tuple[str, ...],
            annotations: tuple[str, ...], port: int | None, command: bool,
            image_pull_policy: str | None, dry_run: str | None, output: str | None) -> None:
    """kubectl run: one container named like the pod, labels run=NAME unless --labels."""
    if not image:
        fail("error: required flag(s) \"image\" not set")
    if not _NAME.match(name) or len(name) > 63:
        fail(f'error: invalid pod name "{name}": a lowercase RFC 1123 label must consist of '
             "lower case alphanumeric characters or '-', and must start and end with an "
             "alphanumeric character")
    policies = {"always": "Always", "onfailure": "OnFailure", "never": "Never"}
    if restart.lower() not in policies:
        fail(f"error: invalid restart policy: {restart}")
    container: dict[str, Any] = {"name": name, "image": image}
    if args:
        container["command" if command else "args"] = list(args)
    elif command:
        fail("error: --command requires a command after --")
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in _pairs(env, "envs").items()]
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    if image_pull_policy:
        container["imagePullPolicy"] = image_pull_policy
    container["resources"] = {}
    meta: dict[str, Any] = {"name": name, "labels": _pairs(labels, "labels") or {"run": name}}
    if namespace:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = _pairs(annotations, "annotations")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
           "spec": {"containers": [container], "restartPolicy": policies[restart.lower()],
                    "dnsPolicy": "ClusterFirst"},
           "status": {}}
    if dry_run == "client":
        if output in ("json", "yaml"):
            _print_data(pod, output)
        else:
            echo(f"pod/{name} created (dry run)")
        return
    from podrun.api.client import ApiStatusError, pod_path
    client = client_for(socket)
    ns = namespace or "default"
    try:
        resp = client.request("POST", pod_path(ns, None, "pods"), body=pod)
    except ApiStatusError as e:
        fail(_status_text(e))
    _warn(resp.warnings)
    obj = resp.json()
    if output in ("json", "yaml"):
        _print_data(obj, output)
    elif output == "name":
        echo(f"pod/{name}")
    else:
        echo(f"pod/{name} created")


# ---------------------------------------------------------------- label / annotate

def set_metadata(socket: str, field: str, resource: str, args: tuple[str, ...],
                 namespace: str | None, overwrite: bool, all_: bool,
                 selector: str | None) -> None:
    """kubectl label / annotate: KEY=VALUE sets, KEY- removes; an existing key changes only
    with --overwrite. field: "labels" or "annotations"."""
    from podrun.api.client import ApiStatusError, pod_path
    changes = [w for w in args if "=" in w or w.endswith("-")]
    resource, targets = type_slash_names(resource, tuple(w for w in args if w not in changes))
    names = list(targets)
    res = _resource(resource)
    if not changes:
        fail(f"error: at least one {field[:-1]} update is required")
    sets: dict[str, str] = {}
    removes: list[str] = []
    for c in changes:
        if c.endswith("-") and "=" not in c:
            removes.append(c[:-1])
        else:
            k, _, v = c.partition("=")
            sets[k] = v
    ns = namespace or "default"
    client = client_for(socket)
    if all_ or selector:
        if names:
            fail("error: name cannot be provided when a selector is specified")
        names = [o["metadata"]["name"] for o in list_objects(client, res, ns, selector)]
        if not names:
            no_resources_found(ns)
            return
    if not names:
        fail("error: one or more resources must be specified as <resource> <name> or "
             "<resource>/<name>")
    verb = "labeled" if field == "labels" else "annotated"
    for name in names:
        obj = run_api(functools.partial(client.get, pod_path(ns, name, res)))
        meta = obj.setdefault("metadata", {})
        current = dict(meta.get(field) or {})
        for k, v in sets.items():
            if k in current and current[k] != v and not overwrite:
                fail(f"error: '{k}' already has a value ({current[k]}), and --overwrite is false")
        new = {k: v for k, v in current.items() if k not in removes}
        new.update(sets)
        if new == current:
            echo(f"{res[:-1]}/{name} not {verb}")
            continue
        meta[field] = new
        try:
            resp = client.request("PUT", pod_path(ns, name, res), body=obj)
        except ApiStatusError as e:
            fail(_status_text(e))
        _warn(resp.warnings)
        echo(f"{res[:-1]}/{name} {verb}")


# ---------------------------------------------------------------- cp

def _remote(spec: str) -> tuple[str | None, str | None, str]:
    """kubectl cp's file spec: [NAMESPACE/]POD:PATH (remote) or a local path."""
    head, sep, path = spec.partition(":")
    if not sep or not head or head.startswith((".", "/")) or not path:
        return None, None, spec
    ns, _, pod = head.rpartition("/")
    return (ns or None), pod, path


def copy(socket: str, src: str, dest: str, namespace: str | None,
         container: str | None) -> None:
    """kubectl cp through tar in the container: POD:PATH -> local, or local -> POD:PATH."""
    s_ns, s_pod, s_path = _remote(src)
    d_ns, d_pod, d_path = _remote(dest)
    if s_pod and d_pod:
        fail("error: one of src or dest must be a local file specification")
    if not s_pod and not d_pod:
        fail("error: one of src or dest must be a remote file specification")
    from podrun.cli_core import _container_of
    if s_pod:
        ns, name, client, c = _container_of(socket, s_pod, s_ns or namespace, container)
        _copy_from_pod(client, ns, name, c, s_path, d_path)
    else:
        assert d_pod is not None
        ns, name, client, c = _container_of(socket, d_pod, d_ns or namespace, container)
        _copy_to_pod(client, ns, name, c, s_path, d_path)


def _exec(client: Any, ns: str, name: str, c: str, command: list[str], *,
          stdin_fd: int | None = None, out: Any = None) -> tuple[int, bytes]:
    """Run command in the container: (exit code, stderr)."""
    import io

    from podrun.api.client import pod_path
    from podrun.api.exec_client import run_exec
    err = io.BytesIO()
    code = run_api(lambda: run_exec(client.socket_path, pod_path(ns, name) + "/exec", command,
                                    c, stdin_fd is not None, False, stdin_fd=stdin_fd,
                                    out=out if out is not None else io.BytesIO(), err=err))
    return int(code), err.getvalue()


def _copy_from_pod(client: Any, ns: str, name: str, c: str, src: str, dest: str) -> None:
    import os
    import posixpath
    import tarfile
    import threading
    src = posixpath.normpath(src)
    parent, base = posixpath.split(src)
    if not base or base in (".", ".."):
        parent, base = src, "."
    r, w = os.pipe()
    result: dict[str, Any] = {}

    def produce() -> None:
        with os.fdopen(w, "wb") as pipe:
            try:
                result["code"], result["err"] = _exec(
                    client, ns, name, c, ["tar", "cf", "-", "-C", parent or "/", base], out=pipe)
            except SystemExit as e:  # run_api's fail(): reported below
                result["code"], result["err"] = e.code, b""
    t = threading.Thread(target=produce, daemon=True)
    t.start()
    count = 0
    with os.fdopen(r, "rb") as pipe:
        try:
            with tarfile.open(fileobj=pipe, mode="r|") as tar:
                for member in tar:
                    count += _extract(tar, member, base, dest)
        except tarfile.ReadError:
            pass  # nothing came: tar failed, its message follows
        pipe.read()  # let the producer finish
    t.join()
    if result.get("code"):
        text = (result.get("err") or b"").decode(errors="replace").strip()
        fail(f"error: {text or 'tar exited with code ' + str(result.get('code'))}")
    if not count:
        fail(f"error: {src} not found in the container")


def _extract(tar: Any, member: Any, base: str, dest: str) -> int:
    """One member of the container's tar, renamed from BASE[/rest] to DEST[/rest]; names
    that would leave DEST, and links and devices, are skipped (kubectl cp does the same
    since its path-traversal fixes)."""
    import os
    import posixpath
    import shutil
    name = posixpath.normpath(member.name)
    if base == ".":
        rel = "" if name == "." else name
    elif name == base:
        rel = ""
    elif name.startswith(base + "/"):
        rel = name[len(base) + 1:]
    else:
        return 0
    if rel.startswith(("/", "../")) or rel == ".." or "/../" in f"/{rel}/":
        echo(f"warning: skipping {member.name!r}: it would leave {dest}", err=True)
        return 0
    target = os.path.join(dest, rel) if rel else dest
    if member.isdir():
        os.makedirs(target, exist_ok=True)
        os.chmod(target, member.mode & 0o7777)
    elif member.isfile():
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        src = tar.extractfile(member)
        assert src is not None
        with open(target, "wb") as f:
            shutil.copyfileobj(src, f)
        os.chmod(target, member.mode & 0o7777)
        os.utime(target, (member.mtime, member.mtime))
    else:
        echo(f"warning: skipping {member.name!r}: not a regular file or directory", err=True)
        return 0
    return 1


def _copy_to_pod(client: Any, ns: str, name: str, c: str, src: str, dest: str) -> None:
    import os
    import posixpath
    import tarfile
    import threading
    if not os.path.exists(src):
        fail(f"error: {src} doesn't exist in local filesystem")
    dest = posixpath.normpath(dest) if dest not in ("/", "") else "/"
    code, _ = _exec(client, ns, name, c, ["test", "-d", dest])
    if code == 0:  # an existing directory: the copy goes inside it, as kubectl's
        dest = posixpath.join(dest, os.path.basename(os.path.normpath(src)))
    parent, base = posixpath.split(dest)
    r, w = os.pipe()

    def produce() -> None:
        with os.fdopen(w, "wb") as pipe, tarfile.open(fileobj=pipe, mode="w|") as tar:
            tar.add(src, arcname=base)
    t = threading.Thread(target=produce, daemon=True)
    t.start()
    with os.fdopen(r, "rb", buffering=0) as pipe:
        code, err = _exec(client, ns, name, c, ["tar", "-xmf", "-", "-C", parent or "/"],
                          stdin_fd=pipe.fileno())
    t.join()
    if code:
        fail(f"error: {err.decode(errors='replace').strip() or f'tar exited with code {code}'}")
