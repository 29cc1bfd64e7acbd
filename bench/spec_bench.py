"""Parse + default + validate of a 50-container pod (issue "Foundation": target < 20 ms).

Run:  .venv/bin/python bench/spec_bench.py [--containers 50] [--repeat 200]
Prints the median, p10 and p90 of load_text() on one YAML document and on the same pod as
JSON, next to PyYAML's libyaml load alone (the floor: podrun cannot be faster than reading
the YAML).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import yaml

from podrun.spec.parse import load_text


def make_pod(n: int) -> str:
    containers = []
    for i in range(n):
        containers.append({
            "name": f"c{i}",
            "image": f"registry.local:5000/team/app{i}:1.{i}",
            "command": ["sh", "-c", "exec httpd -f -p 8080"],
            "env": [{"name": f"VAR_{j}", "value": f"value-{j}-$(POD_NAME)"} for j in range(5)]
            + [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "ports": [{"name": f"http{i}"[:15], "containerPort": 8000 + i}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "1", "memory": "128Mi"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8000 + i}},
            "readinessProbe": {"tcpSocket": {"port": 8000 + i}, "periodSeconds": 2},
            "volumeMounts": [{"name": "data", "mountPath": "/data"},
                             {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True}],
            "securityContext": {"runAsUser": 1000, "capabilities": {"drop": ["ALL"]}},
        })
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "big", "labels": {"app": "big", "tier": "bench"}},
        "spec": {"containers": containers,
                 "volumes": [{"name": "data", "emptyDir": {}},
                             {"name": "cfg", "configMap": {"name": "cfg"}}]},
    }
    return yaml.safe_dump(pod, sort_keys=False)


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=10)
    return f"{name:<28} median {statistics.median(ms):7.2f} ms  p10 {q[0]:7.2f}  p90 {q[-1]:7.2f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    text = make_pod(args.containers)
    docs = load_text(text, "bench")
    assert docs and not docs[0].errors, [str(e) for e in docs[0].errors]
    print(f"{args.containers}-container pod, {len(text)} bytes of YAML, {args.repeat} runs")
    as_json = json.dumps(yaml.safe_load(text))
    cload = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    print(summary("floor: libyaml yaml.load", timed(lambda: yaml.load(text, Loader=cload),
                                                     args.repeat)))
    print(summary("load_text, YAML", timed(lambda: load_text(text, "bench"), args.repeat)))
    print(summary("load_text, same pod as JSON", timed(lambda: load_text(as_json, "bench"),
                                                        args.repeat)))


if __name__ == "__main__":
    main()
