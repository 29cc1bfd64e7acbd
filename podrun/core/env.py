"""A container's environment and argv as the kubelet and containerd build them.

Pure: the pod's facts and lookups come in, ("K", "V") pairs, argv and errors go out. Sources:
K8S third_party/forked/golang/expansion/expand.go, pkg/kubelet/kubelet_pods.go
(makeEnvironmentVariables, podFieldSelectorRuntimeValue), pkg/api/v1/resource/helpers.go
(ExtractContainerResourceValue), pkg/fieldpath/fieldpath.go, containerd's WithProcessArgs and
replaceOrAppendEnvValues. BEHAVIOR.md 10.4 and 10.6 have the rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from podrun.core.resources import milli_value, value
from podrun.spec.types import Container, EnvVar, ResourceFieldSelector

# containerd's default spec env (oci.populateDefaultUnixSpec) comes first.
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_OPERATOR = "$"
_OPENER = "("
_CLOSER = ")"

# apimachinery validation.IsEnvVarName
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_SUBSCRIPT = re.compile(r"^(metadata\.(?:labels|annotations))\['(.*)'\]$")

Event = tuple[str, str, str]  # (type, reason, message)
Lookup = Callable[[str], Mapping[str, str] | None]  # name -> data (decoded), None = not found


class EnvError(ValueError):
    """The environment cannot be built (the kubelet's CreateContainerConfigError)."""


# ---- expansion (expand.go) ----------------------------------------------------------------


def mapping_func(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """MappingFuncFor: the first context holding the name wins; undefined -> `$(NAME)`."""

    def lookup(name: str) -> str:
        for ctx in contexts:
            if name in ctx:
                return ctx[name]
        return _OPERATOR + _OPENER + name + _CLOSER

    return lookup


def _read_variable_name(text: str) -> tuple[str, bool, int]:
    """tryReadVariableName: (read, is_var, advance) for the text after a `$`."""
    first = text[0]
    if first == _OPERATOR:
        return first, False, 1  # `$$` -> `$`
    if first == _OPENER:
        close = text.find(_CLOSER, 1)
        if close >= 0:
            return text[1:close], True, close + 1
        return _OPERATOR + _OPENER, False, 1  # incomplete: `$(` kept, the rest copied on
    return _OPERATOR + first, False, 1


def expand(text: str, mapping: Callable[[str], str] | Mapping[str, str]) -> str:
    """expansion.Expand: `$(NAME)` -> mapping(NAME), `$$` -> `$`, anything else verbatim.

    Works on characters where Go works on bytes; the two differ only for a non-ASCII
    character right after a `$`, where Go emits a mangled byte and podrun keeps it."""
    fn = mapping_func(mapping) if isinstance(mapping, Mapping) else mapping
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    n = len(text)
    while cursor < n:
        if text[cursor] == _OPERATOR and cursor + 1 < n:
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_variable_name(text[cursor + 1:])
            out.append(fn(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def is_env_var_name(name: str) -> bool:
    return bool(_ENV_NAME.match(name))


# ---- downward API values ------------------------------------------------------------------


@dataclass(frozen=True)
class PodFacts:
    """What the downward API can read about a pod (metadata, spec, status)."""

    name: str = ""
    namespace: str = ""
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    node_name: str = ""
    service_account_name: str = ""
    host_ips: tuple[str, ...] = ()
    pod_ips: tuple[str, ...] = ()


def _go_quote(s: str) -> str:
    """Go's %q for the strings labels and annotations hold."""
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_map(m: Mapping[str, str]) -> str:
    """fieldpath.FormatMap: `k="v"` lines in key order, no trailing newline."""
    return "\n".join(f"{k}={_go_quote(m[k])}" for k in sorted(m))


def field_ref_value(field_path: str, pod: PodFacts, *, allow_maps: bool = False) -> str:
    """podFieldSelectorRuntimeValue / ExtractFieldPathAsString for one fieldPath.

    allow_maps: whole `metadata.labels` / `metadata.annotations` (downwardAPI volumes only)."""
    if field_path == "spec.nodeName":
        return pod.node_name
    if field_path == "spec.serviceAccountName":
        return pod.service_account_name
    if field_path == "status.hostIP":
        return pod.host_ips[0] if pod.host_ips else ""
    if field_path == "status.hostIPs":
        return ",".join(pod.host_ips)
    if field_path == "status.podIP":
        return pod.pod_ips[0] if pod.pod_ips else ""
    if field_path == "status.podIPs":
        return ",".join(pod.pod_ips)
    if field_path == "metadata.name":
        return pod.name
    if field_path == "metadata.namespace":
        return pod.namespace
    if field_path == "metadata.uid":
        return pod.uid
    if allow_maps and field_path == "metadata.labels":
        return format_map(pod.labels)
    if allow_maps and field_path == "metadata.annotations":
        return format_map(pod.annotations)
    m = _SUBSCRIPT.match(field_path)
    if m:
        source = pod.labels if m.group(1) == "metadata.labels" else pod.annotations
        return source.get(m.group(2), "")
    raise EnvError(f"unsupported fieldPath: {field_path}")


@dataclass(frozen=True)
class ContainerResourceView:
    """A container's requests and limits as quantity strings, limits already defaulted to
    node allocatable where unset (defaultPodLimitsForDownwardAPI)."""

    requests: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)


def with_allocatable_limits(requests: Mapping[str, str] | None, limits: Mapping[str, str] | None,
                            allocatable: Mapping[str, str]) -> ContainerResourceView:
    """MergeContainerResourceLimits: cpu/memory/ephemeral-storage limits that are missing
    or zero become the node's allocatable."""
    merged = dict(limits or {})
    for name in ("cpu", "memory", "ephemeral-storage"):
        q = merged.get(name)
        if (q is None or _is_zero(q)) and name in allocatable:
            merged[name] = allocatable[name]
    return ContainerResourceView(dict(requests or {}), merged)


def _is_zero(q: str) -> bool:
    try:
        return milli_value(q) == 0
    except ValueError:
        return False


def resource_field_value(resource: str, divisor: str | None,
                         view: ContainerResourceView) -> str:
    """ExtractContainerResourceValue: ceil(amount / divisor) as an integer string; CPU in
    millis, the rest in whole units (float division, as Go does)."""
    div = divisor if divisor and not _is_zero(divisor) else "1"
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not name:
        raise EnvError(f"unsupported container resource : {resource}")
    if name not in ("cpu", "memory", "ephemeral-storage") and not name.startswith("hugepages-"):
        raise EnvError(f"unsupported container resource : {resource}")
    source = view.limits if kind == "limits" else view.requests
    amount = source.get(name, "0")
    if name == "cpu":
        return str(int(math.ceil(milli_value(amount) / milli_value(div))))
    return str(int(math.ceil(value(amount) / value(div))))


# ---- the environment (makeEnvironmentVariables) -------------------------------------------


@dataclass
class EnvResult:
    """The Kubernetes env in order (no image env, no HOSTNAME), and events to record."""

    env: list[tuple[str, str]]
    events: list[Event] = field(default_factory=list)

    def as_map(self) -> dict[str, str]:
        return dict(self.env)


def _set(env: dict[str, str], name: str, val: str) -> None:
    # The kubelet keeps a map: a redefinition replaces the value (podrun keeps the first
    # position, so the order stays stable between starts).
    env[name] = val


def make_environment(container: Container, pod: PodFacts, *,
                     configmap: Lookup, secret: Lookup,
                     resources_for: Callable[[str], ContainerResourceView]) -> EnvResult:
    """The container's Kubernetes env: envFrom in list order (prefix, invalid keys skipped
    with an event), then env in order with `$(VAR)` expanded against what came before.

    configmap/secret: name -> decoded data, None when the object does not exist (namespace
    is the pod's). resources_for: container name ("" = this one) -> its resource view.
    Raises EnvError with the kubelet's sentence for a missing non-optional object or key.
    No service-link variables: a standalone host has no Services (BEHAVIOR.md 10.4)."""
    env: dict[str, str] = {}
    events: list[Event] = []
    ns = pod.namespace
    cache_cm: dict[str, Mapping[str, str] | None] = {}
    cache_sec: dict[str, Mapping[str, str] | None] = {}

    def get(kind: str, name: str) -> Mapping[str, str] | None:
        cache = cache_cm if kind == "configmap" else cache_sec
        if name not in cache:
            cache[name] = (configmap if kind == "configmap" else secret)(name)
        return cache[name]

    for src in container.env_from or ():
        ref = src.config_map_ref or src.secret_ref
        if ref is None:
            continue
        kind = "configmap" if src.config_map_ref is not None else "secret"
        name = ref.name or ""
        data = get(kind, name)
        if data is None:
            if ref.optional:
                continue
            raise EnvError(f'{kind} "{name}" not found')
        invalid = []
        for key in sorted(data):
            k = (src.prefix or "") + key
            if not is_env_var_name(k):
                invalid.append(k)
                continue
            _set(env, k, data[key])
        if invalid:
            what = "configMap" if kind == "configmap" else "secret"
            events.append(("Warning", "InvalidEnvironmentVariableNames",
                           f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {what} "
                           f"{ns}/{name} were skipped since they are considered invalid "
                           "environment variable names."))

    for var in container.env or ():
        val = _env_value(var, env, pod, get, resources_for)
        if val is not None:
            _set(env, var.name or "", val)
    return EnvResult(list(env.items()), events)


def _env_value(var: EnvVar, env: Mapping[str, str], pod: PodFacts,
               get: Callable[[str, str], Mapping[str, str] | None],
               resources_for: Callable[[str], ContainerResourceView]) -> str | None:
    """One env entry's value; None when an optional source is missing (entry skipped)."""
    if var.value:
        return expand(var.value, mapping_func(env))
    src = var.value_from
    if src is None:
        return ""
    if src.field_ref is not None:
        return field_ref_value(src.field_ref.field_path or "", pod)
    if src.resource_field_ref is not None:
        return _resource_ref(src.resource_field_ref, resources_for)
    key_ref = src.config_map_key_ref or src.secret_key_ref
    if key_ref is not None:
        kind = "configmap" if src.config_map_key_ref is not None else "secret"
        name, key = key_ref.name or "", key_ref.key or ""
        data = get(kind, name)
        if data is None:
            if key_ref.optional:
                return None
            raise EnvError(f'{kind} "{name}" not found')
        if key not in data:
            if key_ref.optional:
                return None
            what = "ConfigMap" if kind == "configmap" else "Secret"
            raise EnvError(f"couldn't find key {key} in {what} {pod.namespace}/{name}")
        return data[key]
    if src.file_key_ref is not None:
        raise EnvError("valueFrom.fileKeyRef is not supported by podrun")
    return ""


def _resource_ref(ref: ResourceFieldSelector,
                  resources_for: Callable[[str], ContainerResourceView]) -> str:
    return resource_field_value(ref.resource or "", ref.divisor,
                                resources_for(ref.container_name or ""))


# ---- final env list and argv (containerd) -------------------------------------------------


def replace_or_append(defaults: Sequence[str], overrides: Sequence[str]) -> list[str]:
    """containerd replaceOrAppendEnvValues: an override replaces a default with the same
    key in place, new keys are appended in order, `KEY` without `=` removes KEY."""
    out = list(defaults)
    index = {e.split("=", 1)[0]: i for i, e in enumerate(out)}
    removed: set[int] = set()
    for e in overrides:
        key, sep, _ = e.partition("=")
        if not sep:
            if key in index:
                removed.add(index[key])
            continue
        if key in index and index[key] not in removed:
            out[index[key]] = e
        else:
            index[key] = len(out)
            out.append(e)
    return [e for i, e in enumerate(out) if i not in removed]


def container_env(hostname: str, image_env: Sequence[str],
                  kube_env: Sequence[tuple[str, str]]) -> list[str]:
    """The process env: containerd's default PATH, HOSTNAME, the image env, then the
    Kubernetes env, each later layer replacing keys in place."""
    env = replace_or_append([DEFAULT_PATH_ENV], [f"HOSTNAME={hostname}"])
    env = replace_or_append(env, list(image_env))
    return replace_or_append(env, [f"{k}={v}" for k, v in kube_env])


def expand_command_and_args(command: Sequence[str] | None, args: Sequence[str] | None,
                            env: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """ExpandContainerCommandAndArgs: both against the final Kubernetes env."""
    fn = mapping_func(env)
    return [expand(c, fn) for c in command or ()], [expand(a, fn) for a in args or ()]


def container_argv(command: Sequence[str] | None, args: Sequence[str] | None,
                   entrypoint: Sequence[str], cmd: Sequence[str]) -> list[str]:
    """containerd WithProcessArgs: command replaces ENTRYPOINT (and drops CMD), args
    replaces CMD; an ENTRYPOINT of [""] counts as none."""
    command_l = list(command or ())
    args_l = list(args or ())
    if not command_l:
        if not args_l:
            args_l = list(cmd)
        if not (len(entrypoint) == 1 and entrypoint[0] == ""):
            command_l = list(entrypoint)
    argv = command_l + args_l
    if not argv:
        raise EnvError("no command specified")
    return argv


def expand_sub_path_expr(expr: str, env: Mapping[str, str]) -> str:
    """ExpandContainerVolumeMounts + makeMounts' checks: $(VAR) against the container env;
    an undefined or empty variable, an absolute result or a `..` component is an error."""
    missing: set[str] = set()

    def lookup(name: str) -> str:
        val = env.get(name, "")
        if not val:
            missing.add(name)
        return val

    result = expand(expr, lookup)
    if missing:
        raise EnvError(f"missing value for {', '.join(sorted(missing))}")
    return check_sub_path(result)


def check_sub_path(sub_path: str) -> str:
    """makeMounts: a subPath must be relative and never step back with `..`."""
    if sub_path.startswith("/"):
        raise EnvError(f"error SubPath `{sub_path}` must not be an absolute path")
    if ".." in sub_path.split("/"):
        raise EnvError(f"unable to provision SubPath `{sub_path}`: must not contain '..'")
    return sub_path
