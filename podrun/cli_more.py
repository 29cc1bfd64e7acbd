"""kubectl verbs beyond apply/get/delete: `create -f`, `run`, `label`, `annotate`.

Each is one or two API requests with kubectl's messages:

    podrun create -f pod.yaml                 pod/web created | AlreadyExists error
    podrun run web --image=IMG [-- ARGS]      pod/web created (labels run=web)
    podrun label pod web tier=front [a-]      pod/web labeled
    podrun annotate pod web note=x            pod/web annotated
"""

from __future__ import annotations

import functools
import re
from typing import Any

from podrun.cli_core import (
    KIND_RESOURCE,
    _print_data,
    _raw_objects,
    _resource,
    _status_text,
    _warn,
    client_for,
    echo,
    fail,
    run_api,
)

# ---------------------------------------------------------------- create -f


def create_from_files(socket: str, filenames: tuple[str, ...], namespace: str | None,
                      mode: str) -> None:
    """kubectl create -f: POST each object; one that exists is an error, not an update."""
    from podrun.api.client import ApiStatusError, ClientError, pod_path
    fv = {"strict": "Strict", "true": "Strict", "warn": "Warn", "ignore": "Ignore",
          "false": "Ignore"}[mode]
    objects = _raw_objects(filenames)
    objects.sort(key=lambda so: 0 if so[1].get("kind") != "Pod" else 1)
    client = client_for(socket)
    failed = False
    for source, raw in objects:
        resource = KIND_RESOURCE[raw["kind"]]
        meta = raw["metadata"] if isinstance(raw.get("metadata"), dict) else {}
        if namespace and meta.get("namespace") and meta["namespace"] != namespace:
            fail(f"error: the namespace from the provided object \"{meta['namespace']}\" does "
                 f"not match the namespace \"{namespace}\". You must pass '--namespace="
                 f"{meta['namespace']}' to perform this operation.")
        ns = meta.get("namespace") or namespace or "default"
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
    words = list(args)
    if "/" in resource:
        words.insert(0, resource)
        resource = resource.partition("/")[0]
        names = [w.partition("/")[2] for w in words if "/" in w and "=" not in w]
        changes = [w for w in words if "=" in w or w.endswith("-")]
    else:
        names = [w for w in words if "=" not in w and not w.endswith("-")]
        changes = [w for w in words if "=" in w or w.endswith("-")]
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
        items = run_api(lambda: client.get(pod_path(ns, None, res), labelSelector=selector))
        names = [o["metadata"]["name"] for o in items["items"]]
        if not names:
            echo(f"No resources found in {ns} namespace.", err=True)
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
