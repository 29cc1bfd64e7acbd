"""Hashes: stable under layout changes, different under semantic changes."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from podrun.spec.hashing import container_hash, spec_hash, static_pod_uid
from podrun.spec.parse import load_text
from podrun.spec.types import Pod

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web, tier: fe}
spec:
  containers:
  - name: web
    image: nginx:1.25
    ports:
    - containerPort: 80
"""

# Same object: different key order, flow style, comments, quoting, explicit defaults.
POD_REWRITTEN = """\
# a comment
kind: Pod
apiVersion: "v1"
spec:
  restartPolicy: Always       # the default, spelled out
  containers:
    - image: 'nginx:1.25'
      ports: [{containerPort: 80, protocol: TCP}]
      name: web
metadata:
  labels:
    tier: fe
    app: web
  name: web
"""


def pod(text: str) -> Pod:
    [rec] = load_text(text)
    assert rec.ok and isinstance(rec.obj, Pod), rec.errors
    return rec.obj


def test_static_uid_shape() -> None:
    uid = static_pod_uid(pod(POD), "node1", "/etc/podrun/manifests/web.yaml")
    assert re.fullmatch(r"[0-9a-f]{32}", uid)


def test_layout_does_not_change_hashes() -> None:
    a, b = pod(POD), pod(POD_REWRITTEN)
    assert static_pod_uid(a, "n", "/m/web.yaml") == static_pod_uid(b, "n", "/m/web.yaml")
    assert spec_hash(a) == spec_hash(b)
    assert a.spec is not None and b.spec is not None
    assert a.spec.containers is not None and b.spec.containers is not None
    assert container_hash(a.spec.containers[0]) == container_hash(b.spec.containers[0])


def test_json_and_yaml_give_the_same_uid() -> None:
    [rec] = load_text(POD)
    as_json = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}})  # fmt: skip
    assert static_pod_uid(pod(as_json), "n", "p") == static_pod_uid(pod(POD), "n", "p")


def test_semantic_changes_change_hashes() -> None:
    base = pod(POD)
    changed = pod(POD.replace("nginx:1.25", "nginx:1.26"))
    label = pod(POD.replace("tier: fe", "tier: be"))
    assert static_pod_uid(base, "n", "p") != static_pod_uid(changed, "n", "p")
    assert static_pod_uid(base, "n", "p") != static_pod_uid(label, "n", "p")
    assert spec_hash(base) != spec_hash(changed)
    assert spec_hash(base) == spec_hash(label)  # metadata is not spec
    assert base.spec and changed.spec and base.spec.containers and changed.spec.containers
    assert container_hash(base.spec.containers[0]) != container_hash(changed.spec.containers[0])


def test_node_and_path_are_part_of_the_uid() -> None:
    p = pod(POD)
    uids = {static_pod_uid(p, "n1", "/a"), static_pod_uid(p, "n2", "/a"), static_pod_uid(p, "n1", "/b")}
    assert len(uids) == 3


def test_uid_is_deterministic_across_calls() -> None:
    assert static_pod_uid(pod(POD), "n", "p") == static_pod_uid(pod(POD), "n", "p")
    assert spec_hash(pod(POD)) == spec_hash(pod(POD))


def test_spec_hash_defaults_first() -> None:
    p = pod(POD)
    assert p.spec is not None
    bare = replace(p, spec=replace(p.spec, restart_policy=None, dns_policy=None))
    assert spec_hash(bare) == spec_hash(p)


def test_container_hash_sees_every_field() -> None:
    p = pod(POD)
    assert p.spec and p.spec.containers
    c = p.spec.containers[0]
    assert container_hash(c) != container_hash(replace(c, command=("sleep", "1")))
    assert len(container_hash(c)) == 16
