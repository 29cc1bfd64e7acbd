"""What podrun parses but does not act on: warnings, never silent drops (DESIGN.md §7.5).

One table, keyed by JSON field path pattern, says why a field has no effect on a single
host without a control plane; `unsupported_warnings` turns a Pod into the warnings that
`podrun validate`, `podrun apply` and static pods report.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from podrun.errors import FieldError
from podrun.spec.encode import to_dict
from podrun.spec.types import Pod

_ONE_NODE = "podrun runs pods on one node without a scheduler"
_NO_API = "podrun has no API server objects of this kind"

# Pod-level fields (JSON names under spec) that podrun accepts but does not act on.
POD_FIELDS: dict[str, str] = {
    "affinity": f"ignored: {_ONE_NODE}",
    "tolerations": f"ignored: {_ONE_NODE} and no taints",
    "topologySpreadConstraints": f"ignored: {_ONE_NODE}",
    "schedulerName": f"ignored: {_ONE_NODE}",
    "priorityClassName": "ignored: podrun does no preemption or eviction by priority",
    "priority": "ignored: podrun does no preemption or eviction by priority",
    "preemptionPolicy": "ignored: podrun does no preemption",
    "schedulingGates": f"ignored: {_ONE_NODE}",
    "resourceClaims": "not supported: dynamic resource allocation needs a resource driver",
    "serviceAccountName": f"ignored: {_NO_API} (no service account token is mounted)",
    "serviceAccount": f"ignored: {_NO_API} (no service account token is mounted)",
    "automountServiceAccountToken": f"ignored: {_NO_API}",
    "runtimeClassName": "ignored: podrun has one runtime",
    "overhead": "ignored: podrun has one runtime and no RuntimeClass overhead",
    "readinessGates": f"ignored: {_NO_API} to set custom pod conditions",
    "ephemeralContainers": "ignored at creation: ephemeral containers are added by `kubectl debug`",
    "hostUsers": "not supported yet: user namespaces",
    "resources": "not supported yet: pod-level resources",
}

# Container-level fields (JSON names under a container) that podrun does not act on.
CONTAINER_FIELDS: dict[str, str] = {
    "resizePolicy": "ignored: in-place resize needs the API server",
    "resources.claims": "not supported: dynamic resource allocation needs a resource driver",
}

_DEFAULTED_EMPTY = {"schedulerName": "default-scheduler"}


def unsupported_warnings(pod: Pod) -> list[FieldError]:
    """A warning per field that is set in ``pod`` but has no effect in podrun."""
    spec = to_dict(pod).get("spec") or {}
    return list(_pod_warnings(spec))


def _pod_warnings(spec: dict[str, Any]) -> Iterator[FieldError]:
    for name, why in POD_FIELDS.items():
        value = spec.get(name)
        if value in (None, [], {}) or _DEFAULTED_EMPTY.get(name) == value:
            continue
        yield FieldError(f"spec.{name}", why)
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or []):
            for dotted, why in CONTAINER_FIELDS.items():
                found: Any = container
                for part in dotted.split("."):
                    found = found.get(part) if isinstance(found, dict) else None
                if found not in (None, [], {}):
                    yield FieldError(f"spec.{group}[{i}].{dotted}", why)
