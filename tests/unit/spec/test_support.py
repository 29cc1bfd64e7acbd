"""Fields podrun parses but does not act on are reported, never silently dropped."""

import pytest

from podrun.spec.parse import load_text
from podrun.spec.support import unsupported_warnings

BASE = """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox:1.35
"""


def warnings_for(extra_spec: str = "", extra_container: str = "") -> list[str]:
    text = BASE
    if extra_container:
        text += "".join(f"    {line}\n" for line in extra_container.strip().splitlines())
    if extra_spec:
        text += "".join(f"  {line}\n" for line in extra_spec.strip().splitlines())
    [doc] = load_text(text)
    assert not doc.errors, doc.errors
    assert doc.obj is not None
    return [str(w) for w in unsupported_warnings(doc.obj)]


def test_plain_pod_has_no_warnings() -> None:
    # schedulerName is defaulted to default-scheduler: that is not the user's doing.
    assert warnings_for() == []


@pytest.mark.parametrize("spec,path", [
    ("affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
     "{nodeSelectorTerms: [{matchExpressions: [{key: a, operator: Exists}]}]}}}", "spec.affinity"),
    ("tolerations: [{operator: Exists}]", "spec.tolerations"),
    ("schedulerName: my-scheduler", "spec.schedulerName"),
    ("priorityClassName: high", "spec.priorityClassName"),
    ("serviceAccountName: builder", "spec.serviceAccountName"),
    ("runtimeClassName: gvisor", "spec.runtimeClassName"),
    ("readinessGates: [{conditionType: example.com/ready}]", "spec.readinessGates"),
    ("schedulingGates: [{name: example.com/gate}]", "spec.schedulingGates"),
])
def test_pod_fields_without_effect_are_warned(spec: str, path: str) -> None:
    found = warnings_for(extra_spec=spec)
    assert [w for w in found if w.startswith(path + ": ")], found


def test_container_resize_policy_is_warned() -> None:
    found = warnings_for(extra_container="resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]")
    assert found == ["spec.containers[0].resizePolicy: ignored: in-place resize needs the API server"]
