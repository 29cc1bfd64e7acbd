"""podrun's command line: a thin click client of the daemon API (kubectl habits).
docs/cli.md lists every command; exit codes 0 ok, 1 error, 2 usage."""

from __future__ import annotations

import base64
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from podrun import KUBE_VERSION, __version__
from podrun import cli_core as core
from podrun.cli_core import (  # noqa: F401 - the shared parts, re-exported
    DEFAULT_SOCKET,
    KIND_RESOURCE,
    MANIFEST_EXTENSIONS,
    RESOURCE_ALIASES,
    _age,
    _as_list,
    _decode_bytes,
    _json_document,
    _pick_container,
    _pod_done,
    _print_data,
    _raw_objects,
    _recreate_wait,
    _resource,
    _status_text,
    _wait_gone,
    _wait_pod,
    _warn,
    _watch_rows,
    fail,
    format_table,
    objs_are_few,
    parse_duration,
    parse_timeout,
    pod_row,
    read_manifest_sources,
    rows_for,
    run_api,
    table_rows,
)


def _client(ctx: click.Context) -> Any:
    from podrun.api.client import Client
    return Client(ctx.find_root().obj["socket"])


def _socket(ctx: click.Context) -> str:
    return str(ctx.find_root().obj["socket"])


def _usage(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a podrun.cli_core command; its usage errors become click's (usage line, exit 2)."""
    try:
        return fn(*args)
    except core.BadParameter as e:
        raise click.BadParameter(str(e)) from None
    except core.UsageError as e:
        raise click.UsageError(str(e)) from None


def _complete_pods(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from click.shell_completion import CompletionItem

    from podrun.api.client import Client, pod_path
    try:
        root = ctx.find_root()
        sock = (root.params.get("socket") or os.environ.get("PODRUN_SOCKET") or DEFAULT_SOCKET)
        ns = ctx.params.get("namespace") or "default"
        items = Client(sock, timeout=2).get(pod_path(ns))["items"]
    except Exception:
        return []
    return [CompletionItem(p["metadata"]["name"]) for p in items
            if p["metadata"]["name"].startswith(incomplete)]


ns_option = click.option("-n", "--namespace", default=None,
                         help="Namespace (default: default).")
validate_option = click.option(
    "--validate", "mode", default="strict", show_default=True,
    type=click.Choice(["strict", "warn", "ignore", "true", "false"]),
    help="Unknown fields: error (strict), warning (warn) or dropped (ignore).")


class _Commands(click.Group):
    """`podrun daemon` is imported only when it runs: the daemon module (aiohttp, the
    engine's imports) costs every other command ~20 ms of start-up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "daemon"})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "daemon":
            from podrun.agent.daemon import daemon_command
            return daemon_command
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--socket", envvar="PODRUN_SOCKET", default=None, show_envvar=True,
              help=f"The daemon's API socket (default {DEFAULT_SOCKET}).")
@click.pass_context
def cli(ctx: click.Context, socket: str | None) -> None:
    """Run Kubernetes v1 Pod manifests on one Linux host, without a cluster."""
    ctx.obj = {"socket": socket or DEFAULT_SOCKET, "socket_given": socket is not None}




@cli.command()
@click.option("--client", "client_only", is_flag=True, help="Only the client's version.")
@click.option("-o", "--output", type=click.Choice(["json", "yaml"]))
@click.pass_context
def version(ctx: click.Context, client_only: bool, output: str | None) -> None:
    """Print podrun's version (client and daemon) and the Kubernetes API version it follows."""
    from podrun.api.client import ClientError
    server = None
    err = None
    if not client_only:
        try:
            server = _client(ctx).get("/version")
        except ClientError as e:
            err = str(e)
    if output:
        data = {"clientVersion": {"podrunVersion": __version__,
                                  "gitVersion": f"v{KUBE_VERSION}.0-podrun.{__version__}"}}
        if server:
            data["serverVersion"] = server
        _print_data(data, output)
        return
    click.echo(f"podrun {__version__} (Kubernetes v{KUBE_VERSION} Pod API)")
    if server:
        click.echo(f"Server Version: podrun {server.get('podrunVersion', '?')} "
                   f"({server.get('gitVersion', '')}, node {server.get('nodeName', '?')})")
    elif err:
        click.echo(f"Server Version: unavailable ({err})", err=True)


# ---------------------------------------------------------------- manifests

# ---------------------------------------------------------------- validate

def _doc_label(source: str, index: int, count: int) -> str:
    return f"{source}#{index + 1}" if count > 1 else source


@cli.command()
@click.option("-f", "--filename", "filenames", multiple=True, required=True,
              help="Manifest file, directory of manifests, or - for stdin.")
@validate_option
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]),
              help="Print the objects after the API server's defaults.")
def validate(filenames: tuple[str, ...], mode: str, output: str | None) -> None:
    """Check manifests as the API server's create validation does (every error at once)."""
    from podrun.errors import PodrunError
    from podrun.spec.encode import to_dict
    from podrun.spec.parse import load_text

    field_validation = {"strict": "Strict", "true": "Strict", "warn": "Warn",
                        "ignore": "Ignore", "false": "Ignore"}[mode]
    try:
        sources = _usage(read_manifest_sources, filenames)
    except PodrunError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    failed = False
    objects: list[dict[str, Any]] = []
    for source, text in sources:
        loaded = load_text(text, source, field_validation=field_validation)  # type: ignore[arg-type]
        for doc in loaded:
            label = doc.location if len(loaded) > 1 else source
            for w in doc.warnings:
                click.echo(f"Warning: {label}: {w}", err=True)
            for err in doc.errors:
                click.echo(f"{label}: {err}", err=True)
            if doc.errors:
                failed = True
            elif doc.obj is not None:
                objects.append(to_dict(doc.obj))
                if output is None:
                    name = getattr(getattr(doc.obj, "metadata", None), "name", None) or ""
                    click.echo(f"{label}: {doc.kind.lower()}/{name} valid")
    if output == "json":
        out: Any = objects[0] if len(objects) == 1 else {
            "apiVersion": "v1", "kind": "List", "items": objects, "metadata": {}}
        click.echo(json.dumps(out, indent=2, sort_keys=False))
    elif output == "yaml":
        import yaml
        click.echo(yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False), nl=False)
    sys.exit(1 if failed else 0)


# ---------------------------------------------------------------- apply

@cli.command()
@click.option("-f", "--filename", "filenames", multiple=True, required=True,
              help="Manifest file, directory of manifests, or - for stdin.")
@ns_option
@click.option("--wait", is_flag=True, help="Wait until each pod is Ready or terminal.")
@click.option("--timeout", default="60s", show_default=True, help="How long --wait waits.")
@validate_option
@click.pass_context
def apply(ctx: click.Context, filenames: tuple[str, ...], namespace: str | None, wait: bool,
          timeout: str, mode: str) -> None:
    """Create objects from manifests, or replace them when they changed."""
    _usage(core.apply, _socket(ctx), filenames, namespace, wait, timeout, mode)


# ---------------------------------------------------------------- get

@cli.command()
@click.argument("resource")
@click.argument("names", nargs=-1, shell_complete=_complete_pods)
@ns_option
@click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace.")
@click.option("-o", "--output", metavar="FORMAT",
              help="wide, json, yaml, name, jsonpath=TEMPLATE, jsonpath-file=FILE, "
                   "jsonpath-as-json=TEMPLATE, custom-columns=HEADER:PATH,..., "
                   "custom-columns-file=FILE.")
@click.option("-w", "--watch", is_flag=True, help="After listing, watch for changes.")
@click.option("-l", "--selector", default=None, help="Label selector (a=b,c!=d,e in (f)).")
@click.option("--field-selector", default=None, help="Field selector (metadata.name=x).")
@click.option("--sort-by", default=None, metavar="PATH",
              help="Sort by a JSONPath field (e.g. .metadata.creationTimestamp).")
@click.option("--show-labels", is_flag=True, help="Show all labels as the last column.")
@click.option("-L", "--label-columns", multiple=True, metavar="KEY,...",
              help="Show these labels, a column each.")
@click.option("--no-headers", is_flag=True, help="Print tables without the header line.")
@click.pass_context
def get(ctx: click.Context, resource: str, names: tuple[str, ...], namespace: str | None,
        all_namespaces: bool, output: str | None, watch: bool, selector: str | None,
        field_selector: str | None, sort_by: str | None, show_labels: bool,
        label_columns: tuple[str, ...], no_headers: bool) -> None:
    """List pods, configmaps, secrets or events, or get some by name."""
    _usage(core.get, _socket(ctx), resource, names, namespace, all_namespaces, output, watch,
           selector, field_selector, sort_by, show_labels, label_columns, no_headers)


# ---------------------------------------------------------------- describe

def _kv_block(pairs: list[tuple[str, str]], indent: int = 0, width: int | None = None) -> list[str]:
    w = width or (max((len(k) for k, _ in pairs), default=0) + 2)
    pad = " " * indent
    out = []
    for k, v in pairs:
        lines = str(v).split("\n")
        out.append(f"{pad}{(k + ':').ljust(w)}{lines[0]}".rstrip())
        for extra in lines[1:]:
            out.append(f"{pad}{' ' * w}{extra}".rstrip())
    return out


def _map_lines(m: dict[str, str] | None) -> str:
    if not m:
        return "<none>"
    return "\n".join(f"{k}={v}" if "=" not in k else f"{k}: {v}" for k, v in sorted(m.items()))


def _fmt_time(ts: str | None) -> str:
    from podrun.api.schema import parse_time
    t = parse_time(ts)
    return t.strftime("%a, %d %b %Y %H:%M:%S %z") if t else ""


def _state_lines(state: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not state:
        return [("State", "Waiting")]
    if "running" in state:
        return [("State", "Running"), ("  Started", _fmt_time(state["running"].get("startedAt")))]
    if "terminated" in state:
        t = state["terminated"]
        out = [("State", "Terminated"), ("  Reason", t.get("reason", ""))]
        if t.get("message"):
            out.append(("  Message", t["message"]))
        out += [("  Exit Code", str(t.get("exitCode", ""))),
                ("  Started", _fmt_time(t.get("startedAt"))),
                ("  Finished", _fmt_time(t.get("finishedAt")))]
        return out
    w = state.get("waiting") or {}
    out = [("State", "Waiting")]
    if w.get("reason"):
        out.append(("  Reason", w["reason"]))
    if w.get("message"):
        out.append(("  Message", w["message"]))
    return out


def _probe_text(p: dict[str, Any]) -> str:
    if "httpGet" in p:
        h = p["httpGet"]
        what = f"http-get {h.get('scheme', 'HTTP').lower()}://{h.get('host', '')}:{h.get('port')}{h.get('path', '')}"
    elif "tcpSocket" in p:
        what = f"tcp-socket :{p['tcpSocket'].get('port')}"
    elif "exec" in p:
        what = "exec [" + " ".join(p["exec"].get("command") or []) + "]"
    elif "grpc" in p:
        what = f"grpc <pod>:{p['grpc'].get('port')} {p['grpc'].get('service', '')}".rstrip()
    else:
        what = "unknown"
    return (f"{what} delay={p.get('initialDelaySeconds', 0)}s timeout={p.get('timeoutSeconds', 1)}s "
            f"period={p.get('periodSeconds', 10)}s #success={p.get('successThreshold', 1)} "
            f"#failure={p.get('failureThreshold', 3)}")


def _env_text(c: dict[str, Any]) -> str:
    lines = []
    for e in c.get("env") or []:
        if "value" in e or "valueFrom" not in e:
            lines.append(f"{e['name']}:  {e.get('value', '')}")
            continue
        vf = e["valueFrom"]
        if "configMapKeyRef" in vf:
            r = vf["configMapKeyRef"]
            src = f"<set to the key '{r.get('key')}' of config map '{r.get('name')}'>"
        elif "secretKeyRef" in vf:
            r = vf["secretKeyRef"]
            src = f"<set to the key '{r.get('key')}' in secret '{r.get('name')}'>"
        elif "fieldRef" in vf:
            src = f"({vf['fieldRef'].get('apiVersion', 'v1')}:{vf['fieldRef'].get('fieldPath')})"
        elif "resourceFieldRef" in vf:
            src = f"{vf['resourceFieldRef'].get('resource')}"
        else:
            src = "<set from an unsupported source>"
        optional = " Optional: " + str(bool((list(vf.values())[0] or {}).get("optional"))).lower()
        lines.append(f"{e['name']}:  {src}{optional if 'KeyRef' in next(iter(vf)) else ''}")
    for ef in c.get("envFrom") or []:
        if "configMapRef" in ef:
            lines.append(f"{ef['configMapRef'].get('name')}  ConfigMap  Optional: "
                         f"{str(bool(ef['configMapRef'].get('optional'))).lower()}")
        elif "secretRef" in ef:
            lines.append(f"{ef['secretRef'].get('name')}  Secret  Optional: "
                         f"{str(bool(ef['secretRef'].get('optional'))).lower()}")
    return "\n".join(lines) if lines else "<none>"


def _container_block(c: dict[str, Any], cs: dict[str, Any] | None) -> list[str]:
    cs = cs or {}
    pairs: list[tuple[str, str]] = [("Container ID", cs.get("containerID", "")),
                                    ("Image", c.get("image", "")),
                                    ("Image ID", cs.get("imageID", ""))]
    ports = c.get("ports") or []
    if ports:
        pairs.append(("Port", ", ".join(f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}"
                                        for p in ports)))
        pairs.append(("Host Port", ", ".join(f"{p.get('hostPort', 0)}/{p.get('protocol', 'TCP')}"
                                             for p in ports)))
    else:
        pairs += [("Port", "<none>"), ("Host Port", "<none>")]
    if c.get("command"):
        pairs.append(("Command", "\n".join(c["command"])))
    if c.get("args"):
        pairs.append(("Args", "\n".join(c["args"])))
    pairs += _state_lines(cs.get("state"))
    if cs.get("lastState"):
        last = _state_lines(cs.get("lastState"))
        pairs += [("Last State", last[0][1])] + last[1:]
    pairs += [("Ready", str(bool(cs.get("ready"))).capitalize()),
              ("Restart Count", str(cs.get("restartCount", 0)))]
    res = c.get("resources") or {}
    for key, title in (("limits", "Limits"), ("requests", "Requests")):
        if res.get(key):
            pairs.append((title, "\n".join(f"  {k}:  {v}" for k, v in sorted(res[key].items()))))
    for key, title in (("livenessProbe", "Liveness"), ("readinessProbe", "Readiness"),
                       ("startupProbe", "Startup")):
        if c.get(key):
            pairs.append((title, _probe_text(c[key])))
    pairs.append(("Environment", _env_text(c)))
    mounts = c.get("volumeMounts") or []
    pairs.append(("Mounts", "\n".join(
        f"{m.get('mountPath')} from {m.get('name')} ({'ro' if m.get('readOnly') else 'rw'})"
        for m in mounts) if mounts else "<none>"))
    out = [f"  {c.get('name')}:"]
    out += _kv_block(pairs, indent=4, width=max(len(k) for k, _ in pairs) + 3)
    return out


def _volume_lines(v: dict[str, Any]) -> list[str]:
    out = [f"  {v.get('name')}:"]
    if "emptyDir" in v:
        ed = v["emptyDir"] or {}
        out += _kv_block([("Type", "EmptyDir (a temporary directory that shares a pod's lifetime)"),
                          ("Medium", ed.get("medium", "")),
                          ("SizeLimit", ed.get("sizeLimit", "<unset>"))], indent=4, width=14)
    elif "configMap" in v:
        out += _kv_block([("Type", "ConfigMap (a volume populated by a ConfigMap)"),
                          ("Name", v["configMap"].get("name", "")),
                          ("Optional", str(bool(v["configMap"].get("optional"))).lower())],
                         indent=4, width=14)
    elif "secret" in v:
        out += _kv_block([("Type", "Secret (a volume populated by a Secret)"),
                          ("SecretName", v["secret"].get("secretName", "")),
                          ("Optional", str(bool(v["secret"].get("optional"))).lower())],
                         indent=4, width=14)
    elif "hostPath" in v:
        out += _kv_block([("Type", "HostPath (bare host directory volume)"),
                          ("Path", v["hostPath"].get("path", "")),
                          ("HostPathType", v["hostPath"].get("type", ""))], indent=4, width=16)
    else:
        kind = next((k for k in v if k != "name"), "unknown")
        out += _kv_block([("Type", kind)], indent=4, width=14)
    return out


def events_table(events: list[dict[str, Any]], now: float | None = None) -> list[str]:
    if not events:
        return ["Events:  <none>"]
    now = now or time.time()
    rows = []
    for e in sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("firstTimestamp") or ""):
        age = _age(e.get("lastTimestamp") or e.get("firstTimestamp"), now)
        count = int(e.get("count") or 1)
        if count > 1:
            age = f"{age} (x{count} over {_age(e.get('firstTimestamp'), now)})"
        src = e.get("source") or {}
        rows.append([e.get("type", ""), e.get("reason", ""), age,
                     src.get("component") or e.get("reportingComponent", ""),
                     (e.get("message") or "").strip()])
    cols = ["Type", "Reason", "Age", "From", "Message"]
    seps = ["----", "------", "----", "----", "-------"]
    table = format_table(cols, [seps] + rows).splitlines()
    return ["Events:"] + ["  " + ln for ln in table]


def describe_pod(pod: dict[str, Any], events: list[dict[str, Any]],
                 now: float | None = None) -> str:
    meta, spec, st = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    row = pod_row(pod, now)
    node = spec.get("nodeName") or "<none>"
    if st.get("hostIP"):
        node += f"/{st['hostIP']}"
    ips = [i.get("ip") for i in st.get("podIPs") or [] if i.get("ip")]
    top: list[tuple[str, str]] = [
        ("Name", meta["name"]), ("Namespace", meta.get("namespace", "default")),
        ("Priority", str(spec.get("priority", 0))),
        ("Service Account", spec.get("serviceAccountName", "default")),
        ("Node", node), ("Start Time", _fmt_time(st.get("startTime")) or "<unset>"),
        ("Labels", _map_lines(meta.get("labels"))),
        ("Annotations", "\n".join(f"{k}: {v}" for k, v in sorted((meta.get("annotations") or {}).items()))
         or "<none>"),
    ]
    status = row["STATUS"] if meta.get("deletionTimestamp") else st.get("phase", "Unknown")
    top.append(("Status", status))
    if meta.get("deletionTimestamp"):
        top.append(("Termination Grace Period", f"{meta.get('deletionGracePeriodSeconds', 0)}s"))
    if st.get("reason"):
        top.append(("Reason", st["reason"]))
    if st.get("message"):
        top.append(("Message", st["message"]))
    top += [("IP", st.get("podIP", "")), ("IPs", "\n".join(f"IP:  {i}" for i in ips) or "<none>")]
    lines = _kv_block(top, width=18)
    statuses = {c["name"]: c for c in (st.get("containerStatuses") or [])}
    init_statuses = {c["name"]: c for c in (st.get("initContainerStatuses") or [])}
    if spec.get("initContainers"):
        lines.append("Init Containers:")
        for c in spec["initContainers"]:
            lines += _container_block(c, init_statuses.get(c["name"]))
    lines.append("Containers:")
    for c in spec.get("containers") or []:
        lines += _container_block(c, statuses.get(c["name"]))
    conds = st.get("conditions") or []
    if conds:
        lines.append("Conditions:")
        table = format_table(["Type", "Status"],
                             [[c.get("type", ""), c.get("status", "")] for c in conds])
        lines += ["  " + ln for ln in table.splitlines()]
    vols = spec.get("volumes") or []
    if vols:
        lines.append("Volumes:")
        for v in vols:
            lines += _volume_lines(v)
    else:
        lines.append("Volumes:                     <none>")
    tol = spec.get("tolerations") or []
    tol_text = "\n".join(
        f"{t.get('key', '')}{':' + t['effect'] if t.get('effect') else ''} op={t.get('operator', 'Equal')}"
        + (f" for {t['tolerationSeconds']}s" if t.get("tolerationSeconds") is not None else "")
        for t in tol) or "<none>"
    qos = st.get("qosClass")
    if not qos:  # a status from before the daemon set it: the store's rule
        from podrun.agent.store import qos_class
        qos = qos_class(spec)
    lines += _kv_block([("QoS Class", qos),
                        ("Node-Selectors", _map_lines(spec.get("nodeSelector"))),
                        ("Tolerations", tol_text)], width=29)
    lines += events_table(events, now)
    return "\n".join(lines)


@cli.command()
@click.argument("resource")
@click.argument("names", nargs=-1, shell_complete=_complete_pods)
@ns_option
@click.pass_context
def describe(ctx: click.Context, resource: str, names: tuple[str, ...],
             namespace: str | None) -> None:
    """Show a pod in detail: containers, states, conditions, volumes, events."""
    from podrun.api.client import pod_path
    resource, names = core.type_slash_names(resource, names)
    res = _resource(resource)
    ns = namespace or "default"
    client = _client(ctx)
    if not names:
        objs = run_api(lambda: client.get(pod_path(ns, None, res)))["items"]
    else:
        objs = [run_api(functools.partial(client.get, pod_path(ns, n, res))) for n in names]
    out = []
    for o in objs:
        if res == "pods":
            evs = run_api(functools.partial(
                client.get, pod_path(ns, None, "events"),
                fieldSelector=f"involvedObject.uid={o['metadata']['uid']}"))["items"]
            out.append(describe_pod(o, evs))
        else:
            meta = o["metadata"]
            pairs = [("Name", meta["name"]), ("Namespace", meta.get("namespace", "")),
                     ("Labels", _map_lines(meta.get("labels"))),
                     ("Annotations", _map_lines(meta.get("annotations")))]
            text = _kv_block(pairs, width=14)
            if res == "secrets":
                text += ["", f"Type:  {o.get('type', 'Opaque')}", "", "Data", "===="]
                text += [f"{k}:  {len(base64.b64decode(v))} bytes"
                         for k, v in sorted((o.get("data") or {}).items())]
            elif res == "configmaps":
                text += ["", "Data", "===="]
                for k, v in sorted((o.get("data") or {}).items()):
                    text += [f"{k}:", "----", str(v), ""]
            out.append("\n".join(text))
    click.echo("\n\n\n".join(out))


# ---------------------------------------------------------------- logs / exec

@cli.command()
@click.argument("name", shell_complete=_complete_pods)
@ns_option
@click.option("-c", "--container", default=None)
@click.option("-f", "--follow", is_flag=True)
@click.option("-p", "--previous", is_flag=True)
@click.option("--tail", type=int, default=-1, help="Lines from the end (-1: all).")
@click.option("--timestamps", is_flag=True)
@click.option("--since", default=None, help="Only newer logs, e.g. 5s, 2m, 3h.")
@click.option("--all-containers", is_flag=True, help="Every container's logs, init first.")
@click.option("--prefix", is_flag=True, help="Begin each line with [pod/NAME/CONTAINER].")
@click.option("--limit-bytes", type=int, default=None, help="At most this many bytes.")
@click.pass_context
def logs(ctx: click.Context, name: str, namespace: str | None, container: str | None,
         follow: bool, previous: bool, tail: int, timestamps: bool, since: str | None,
         all_containers: bool, prefix: bool, limit_bytes: int | None) -> None:
    """Print a container's logs."""
    _usage(core.logs, _socket(ctx), name, namespace, container, follow, previous, tail,
           timestamps, since, all_containers, prefix, limit_bytes)


@cli.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("name", shell_complete=_complete_pods)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@ns_option
@click.option("-c", "--container", default=None)
@click.option("-i", "--stdin", is_flag=True, help="Pass stdin to the command.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a terminal.")
@click.pass_context
def exec_(ctx: click.Context, name: str, command: tuple[str, ...], namespace: str | None,
          container: str | None, stdin: bool, tty: bool) -> None:
    """Run a command in a container (podrun exec NAME -- CMD ...); exits with its code."""
    _usage(core.exec_, _socket(ctx), name, command, namespace, container, stdin, tty)


# ---------------------------------------------------------------- delete

@cli.command()
@click.argument("args", nargs=-1, shell_complete=_complete_pods)
@ns_option
@click.option("-f", "--filename", "filenames", multiple=True)
@click.option("--grace-period", type=int, default=-1,
              help="Seconds to let the pod stop (-1: the pod's own setting).")
@click.option("--force", is_flag=True, help="Delete at once (grace period 0).")
@click.option("--wait", type=click.BOOL, default=True, is_flag=False, flag_value=True,
              show_default=True, help="Wait until the objects are gone (--wait=false: don't).")
@click.option("--timeout", default="0s", help="How long --wait waits (0: forever).")
@click.option("--all", "all_", is_flag=True, help="Delete every object of the type.")
@click.option("-l", "--selector", default=None, help="Delete the objects with these labels.")
@click.option("--ignore-not-found", is_flag=True, help="A missing object is not an error.")
@click.option("--now", is_flag=True, help="A grace period of 1 second.")
@click.option("-A", "--all-namespaces", is_flag=True, help="With --all or -l: every namespace.")
@click.pass_context
def delete(ctx: click.Context, args: tuple[str, ...], namespace: str | None,
           filenames: tuple[str, ...], grace_period: int, force: bool, wait: bool,
           timeout: str, all_: bool, selector: str | None, ignore_not_found: bool, now: bool,
           all_namespaces: bool) -> None:
    """Delete pods, configmaps or secrets by name (delete pod NAME), by label (-l), all of a
    type (--all) or by manifest (-f)."""
    _usage(core.delete, _socket(ctx), args, namespace, filenames, grace_period, force, wait,
           timeout, all_, selector, ignore_not_found, now, all_namespaces)


# ---------------------------------------------------------------- wait

@cli.command()
@click.argument("args", nargs=-1, shell_complete=_complete_pods)
@ns_option
@click.option("--for", "for_", metavar="CONDITION",
              help="delete, create, condition=NAME[=VALUE] or jsonpath='{PATH}'[=VALUE].")
@click.option("--timeout", default="30s", show_default=True,
              help="How long to wait (0: check once, negative: a week).")
@click.option("-l", "--selector", default=None, help="Wait for the objects with these labels.")
@click.option("--all", "all_", is_flag=True, help="Wait for every object of the type.")
@click.pass_context
def wait(ctx: click.Context, args: tuple[str, ...], namespace: str | None, for_: str | None,
         timeout: str, selector: str | None, all_: bool) -> None:
    """Wait until pods (or ConfigMaps, Secrets) meet a condition, as kubectl wait:
    podrun wait --for=condition=Ready pod/web."""
    from podrun.cli_wait import wait as run_wait
    _usage(run_wait, _socket(ctx), args, namespace, for_, timeout, selector, all_)


# ---------------------------------------------------------------- events

@cli.command()
@ns_option
@click.option("-A", "--all-namespaces", is_flag=True)
@click.option("-w", "--watch", is_flag=True)
@click.option("--for", "for_", default=None, help="Only events about this object (pod/NAME).")
@click.pass_context
def events(ctx: click.Context, namespace: str | None, all_namespaces: bool, watch: bool,
           for_: str | None) -> None:
    """List events (LAST SEEN TYPE REASON OBJECT MESSAGE), oldest first."""
    from podrun.api.client import pod_path
    ns = namespace or "default"
    client = _client(ctx)
    fs = None
    if for_:
        fs = f"involvedObject.name={for_.split('/', 1)[-1]}"
    path = "/api/v1/events" if all_namespaces else pod_path(ns, None, "events")
    lst = run_api(lambda: client.get(path, fieldSelector=fs))
    items = sorted(lst["items"], key=lambda e: e.get("lastTimestamp") or "")
    if items:
        cols, rows = rows_for("events", items, False, all_namespaces)
        click.echo(format_table(cols, rows))
    elif not watch:
        where = "" if all_namespaces else f" in {ns} namespace"
        click.echo(f"No events found{where}.", err=True)
    if watch:
        _watch_rows(client, "events", ns, all_namespaces, None, None, fs,
                    lst["metadata"].get("resourceVersion") or "0", header=not items)


# ---------------------------------------------------------------- create

def _parse_env_file(path: str) -> dict[str, str]:
    out = {}
    try:
        text = Path(path).read_text()
    except OSError as e:
        fail(f"error: cannot read {path}: {e.strerror}")
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            # kubectl: a bare name takes its value from the environment
            if key in os.environ:
                out[key] = os.environ[key]
            continue
        if not key or " " in key:
            fail(f'error: "{key}" is not a valid key name (line {n} of {path})')
        out[key] = value
    return out


def _collect_data(literals: tuple[str, ...], files: tuple[str, ...],
                  env_files: tuple[str, ...]) -> tuple[dict[str, str], dict[str, bytes]]:
    text: dict[str, str] = {}
    binary: dict[str, bytes] = {}

    def put(k: str, v: bytes | str) -> None:
        if k in text or k in binary:
            fail(f'error: cannot add key "{k}", another key by that name already exists')
        if isinstance(v, str):
            text[k] = v
        else:
            try:
                text[k] = v.decode("utf-8")
            except UnicodeDecodeError:
                binary[k] = v

    for lit in literals:
        k, sep, v = lit.partition("=")
        if not sep or not k:
            fail(f"error: invalid literal source {lit}, expected key=value")
        put(k, v)
    for spec in files:
        k, sep, p = spec.partition("=")
        if not sep:
            k, p = "", spec
        path = Path(p)
        if path.is_dir():
            if k:
                fail("error: cannot give a key name for a directory path")
            for f in sorted(path.iterdir()):
                if f.is_file():
                    put(f.name, f.read_bytes())
            continue
        try:
            put(k or path.name, path.read_bytes())
        except OSError as e:
            fail(f"error: cannot read {p}: {e.strerror}")
    for ef in env_files:
        for k, v in _parse_env_file(ef).items():
            put(k, v)
    return text, binary


_from_options = [
    click.option("--from-literal", "literals", multiple=True, help="key=value"),
    click.option("--from-file", "files", multiple=True, help="[key=]path (a file or directory)"),
    click.option("--from-env-file", "env_files", multiple=True, help="KEY=value lines"),
    ns_option,
    click.option("-o", "--output", type=click.Choice(["json", "yaml", "name"])),
    click.option("--dry-run", type=click.Choice(["none", "client"]), default="none"),
]


def _with_from(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(_from_options):
        fn = opt(fn)
    return fn


@cli.group(invoke_without_command=True)
@click.option("-f", "--filename", "filenames", multiple=True,
              help="Create the objects of these manifests (FILE, DIR or -).")
@ns_option
@validate_option
@click.pass_context
def create(ctx: click.Context, filenames: tuple[str, ...], namespace: str | None,
           mode: str) -> None:
    """Create objects from manifests (-f; one that exists is an error, as kubectl create),
    or a ConfigMap or Secret from literals, files or env files."""
    if ctx.invoked_subcommand is not None:
        if filenames:
            raise click.UsageError("-f cannot be combined with a subcommand")
        return
    if not filenames:
        click.echo(ctx.get_help())
        ctx.exit(1)
    from podrun.cli_more import create_from_files
    _usage(create_from_files, _socket(ctx), filenames, namespace, mode)


def _create_obj(ctx: click.Context, obj: dict[str, Any], ns: str, output: str | None,
                dry_run: str) -> None:
    from podrun.api.client import pod_path
    res = KIND_RESOURCE[obj["kind"]]
    if dry_run == "client":
        result = obj
    else:
        client = _client(ctx)
        resp = run_api(lambda: client.request("POST", pod_path(ns, None, res), body=obj))
        _warn(resp.warnings)
        result = resp.json()
    singular = obj["kind"].lower()
    if output in ("json", "yaml"):
        _print_data(result, output)
    elif output == "name":
        click.echo(f"{singular}/{obj['metadata']['name']}")
    else:
        suffix = " (dry run)" if dry_run == "client" else ""
        click.echo(f"{singular}/{obj['metadata']['name']} created{suffix}")


@create.command("configmap")
@click.argument("name")
@_with_from
@click.pass_context
def create_configmap(ctx: click.Context, name: str, literals: tuple[str, ...],
                     files: tuple[str, ...], env_files: tuple[str, ...], namespace: str | None,
                     output: str | None, dry_run: str) -> None:
    """Create a ConfigMap (like kubectl create configmap)."""
    text, binary = _collect_data(literals, files, env_files)
    ns = namespace or "default"
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name, "namespace": ns}}
    if text:
        obj["data"] = text
    if binary:
        obj["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    _create_obj(ctx, obj, ns, output, dry_run)


@create.group("secret")
def create_secret() -> None:
    """Create a Secret."""


@create_secret.command("generic")
@click.argument("name")
@_with_from
@click.option("--type", "type_", default="Opaque", show_default=True)
@click.pass_context
def create_secret_generic(ctx: click.Context, name: str, literals: tuple[str, ...],
                          files: tuple[str, ...], env_files: tuple[str, ...],
                          namespace: str | None, output: str | None, dry_run: str,
                          type_: str) -> None:
    """Create a generic Secret (like kubectl create secret generic)."""
    text, binary = _collect_data(literals, files, env_files)
    data = {k: base64.b64encode(v.encode()).decode() for k, v in text.items()}
    data.update({k: base64.b64encode(v).decode() for k, v in binary.items()})
    ns = namespace or "default"
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "type": type_,
                           "metadata": {"name": name, "namespace": ns}}
    if data:
        obj["data"] = data
    _create_obj(ctx, obj, ns, output, dry_run)


# ---------------------------------------------------------------- images

@cli.command()
@click.option("-o", "--output", type=click.Choice(["json", "yaml"]))
@click.pass_context
def images(ctx: click.Context, output: str | None) -> None:
    """List the images in podrun's store."""
    client = _client(ctx)
    data = run_api(lambda: client.get("/podrun/v1/images"))
    if output:
        _print_data(data, output)
        return
    rows = []
    for i in data.get("items") or []:
        tags = i.get("repoTags") or []
        names = [t.rsplit(":", 1) for t in tags] or [
            [d.split("@", 1)[0], "<none>"] for d in (i.get("repoDigests") or [])[:1]]
        for repo, tag in names:
            rows.append([repo, tag, (i.get("id") or "").removeprefix("sha256:")[:12],
                         _human_size(int(i.get("size") or 0))])
    click.echo(format_table(["IMAGE", "TAG", "IMAGE ID", "SIZE"], rows))


def _human_size(n: int) -> str:
    """crictl's sizes: 4.27MB, 512B (decimal units)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.3g}{unit}"
        size /= 1000
    return f"{size:.3g}TB"


@cli.command()
@click.argument("ref")
@click.pass_context
def pull(ctx: click.Context, ref: str) -> None:
    """Pull an image from its registry."""
    from podrun.api.client import ApiStatusError
    from podrun.image.progress import TextProgress
    client = _client(ctx)
    client.timeout = None  # a pull takes as long as the registry needs
    progress = TextProgress(sys.stdout)

    def work() -> dict[str, Any]:
        # NDJSON: progress lines, then one result or error line (podrun.image.api)
        buf, result = b"", dict[str, Any]()
        for chunk in client.stream("/podrun/v1/images/pull", {"progress": "true"},
                                   method="POST", body={"image": ref}):
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                msg = json.loads(line)
                if msg.get("type") == "progress":
                    progress(str(msg.get("layer")), int(msg.get("done") or 0),
                             int(msg.get("total") or 0))
                elif msg.get("type") == "error":
                    raise ApiStatusError(msg.get("status") or {})
                elif msg.get("type") == "result":
                    result = msg.get("image") or {}
        return result

    data = run_api(work)
    progress.finish()
    click.echo(f"Image is up to date for {data.get('id') or ref}")


@cli.group()
def image() -> None:
    """Image commands (import)."""


@image.command("rm")
@click.argument("refs", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Remove even if a container uses it.")
@click.pass_context
def image_rm(ctx: click.Context, refs: tuple[str, ...], force: bool) -> None:
    """Remove images."""
    from urllib.parse import quote
    client = _client(ctx)
    for ref in refs:
        resp = run_api(functools.partial(
            client.request, "DELETE", "/podrun/v1/images/" + quote(ref, safe=""),
            query={"force": "true" if force else None}))
        data = resp.json()
        for r in data.get("deleted") or [ref]:
            click.echo(f"Deleted: {r}")


@image.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--name", default=None, help="Reference to tag the imported image with.")
@click.pass_context
def image_import(ctx: click.Context, file: str, name: str | None) -> None:
    """Import an oci-archive or docker-archive tarball (FILE, or - for stdin)."""
    import shutil
    import tempfile
    client = _client(ctx)
    client.timeout = None
    f: Any
    if file == "-":  # spooled: the request needs a Content-Length
        f = tempfile.TemporaryFile(dir=os.environ.get("TMPDIR") or "/var/tmp")
        shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
        f.seek(0)
    else:
        f = open(file, "rb")  # noqa: SIM115 - closed by the with below
    with f:
        data = run_api(lambda: client.request(
            "POST", "/podrun/v1/images/import", query={"name": name}, body=f,
            content_type="application/x-tar").json())
    for img in data.get("items") or []:
        for ref in (img.get("repoTags") or img.get("repoDigests") or [img.get("id")]):
            click.echo(f"Loaded image: {ref}")


# ---------------------------------------------------------------- run / label / annotate

@cli.command(context_settings={"ignore_unknown_options": False})
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@ns_option
@click.option("--image", default=None, help="The container's image (required).")
@click.option("--restart", default="Always", show_default=True,
              help="The pod's restartPolicy: Always, OnFailure or Never.")
@click.option("--env", multiple=True, metavar="KEY=VALUE", help="An environment variable.")
@click.option("-l", "--labels", multiple=True, metavar="K=V,...",
              help="Labels (default run=NAME).")
@click.option("--annotations", multiple=True, metavar="K=V", help="An annotation.")
@click.option("--port", type=int, default=None, help="The container port to expose.")
@click.option("--command", is_flag=True,
              help="The words after -- are the command, not the image command's arguments.")
@click.option("--image-pull-policy", default=None,
              type=click.Choice(["Always", "IfNotPresent", "Never"]))
@click.option("--dry-run", default=None, type=click.Choice(["none", "client"]),
              help="client: print the pod instead of creating it (with -o yaml|json).")
@click.option("-o", "--output", default=None, type=click.Choice(["json", "yaml", "name"]))
@click.pass_context
def run(ctx: click.Context, name: str, args: tuple[str, ...], namespace: str | None,
        image: str | None, restart: str, env: tuple[str, ...], labels: tuple[str, ...],
        annotations: tuple[str, ...], port: int | None, command: bool,
        image_pull_policy: str | None, dry_run: str | None, output: str | None) -> None:
    """Create a pod of one container, as kubectl run: podrun run web --image=IMG [-- ARGS]."""
    from podrun.cli_more import run_pod
    _usage(run_pod, _socket(ctx), name, args, namespace, image, restart, env, labels,
           annotations, port, command, image_pull_policy, dry_run, output)


@cli.command()
@click.argument("src")
@click.argument("dest")
@ns_option
@click.option("-c", "--container", default=None)
@click.pass_context
def cp(ctx: click.Context, src: str, dest: str, namespace: str | None,
       container: str | None) -> None:
    """Copy files and directories to and from containers (tar must be in the image), as
    kubectl cp: podrun cp web:/etc/hostname ./hostname, podrun cp ./dir web:/tmp/dir."""
    from podrun.cli_more import copy
    _usage(copy, _socket(ctx), src, dest, namespace, container)


def _metadata_command(field: str, verb: str) -> click.Command:
    @click.argument("resource")
    @click.argument("args", nargs=-1)
    @ns_option
    @click.option("--overwrite", is_flag=True, help="Change a key that has a value.")
    @click.option("--all", "all_", is_flag=True, help="Every object of the type.")
    @click.option("-l", "--selector", default=None, help="The objects with these labels.")
    @click.pass_context
    def command(ctx: click.Context, resource: str, args: tuple[str, ...],
                namespace: str | None, overwrite: bool, all_: bool,
                selector: str | None) -> None:
        from podrun.cli_more import set_metadata
        _usage(set_metadata, _socket(ctx), field, resource, args, namespace, overwrite, all_,
               selector)
    command.__doc__ = (f"Update the {field} of pods, ConfigMaps or Secrets, as kubectl {verb}:"
                       f" podrun {verb} pod web KEY=VALUE [KEY-].")
    return cli.command(name=verb)(command)


_metadata_command("labels", "label")
_metadata_command("annotations", "annotate")


# ---------------------------------------------------------------- completion

@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script (e.g. `source <(podrun completion bash)`)."""
    from click.shell_completion import get_completion_class
    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "podrun", "_PODRUN_COMPLETE").source())


def pflag_shorthand(args: list[str]) -> list[str]:
    """kubectl's flags (pflag) read `-o=json` as `-o json`; click would take "=json" as
    the value. Split such words, up to a `--` (exec's command is left alone)."""
    out: list[str] = []
    for i, a in enumerate(args):
        if a == "--":
            return out + args[i:]
        if len(a) > 3 and a[0] == "-" and a[1].isalpha() and a[2] == "=":
            out += [a[:2], a[3:]]
        else:
            out.append(a)
    return out


def main() -> None:
    try:
        cli(args=pflag_shorthand(sys.argv[1:]), standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)

from podrun.cli_doctor import doctor  # noqa: E402, I001
cli.add_command(doctor)
