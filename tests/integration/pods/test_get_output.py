"""`podrun get` with kubectl's template outputs and table options against real pods:
-o jsonpath / jsonpath-as-json / custom-columns, --sort-by, --show-labels, -L, --no-headers,
and pflag's `-o=FORMAT`."""

from __future__ import annotations

import json

import pytest

from tests.integration.pods.conftest import IMAGE, PodDaemon

pytestmark = pytest.mark.privileged


def manifest(name: str, labels: str, command: str) -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {labels}\n"
            f"spec:\n  terminationGracePeriodSeconds: 0\n  restartPolicy: Never\n"
            f"  containers:\n  - name: main\n    image: {IMAGE}\n"
            f"    command: [\"sh\", \"-c\", {json.dumps(command)}]\n")


def ok(pods: PodDaemon, *args: str) -> str:
    r = pods.cli(*args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_get_templates_and_table_options(pods: PodDaemon) -> None:
    pods.apply(manifest("zeta", "{app: web, tier: front}", "sleep 600"))
    pods.apply(manifest("alpha", "{app: batch}", "exit 0"))
    pods.wait_phase("zeta", "Running")
    pods.wait_phase("alpha", "Succeeded")
    zeta = pods.pod("zeta")
    assert zeta is not None
    ip = zeta["status"]["podIP"]

    # one object: the value alone, no newline (kubectl prints none)
    assert ok(pods, "get", "pod", "zeta", "-o", "jsonpath={.status.phase}") == "Running"
    assert ok(pods, "get", "pod", "zeta", "-o=jsonpath={.status.podIP}") == ip
    assert ok(pods, "get", "pod", "zeta", "-o",
              'jsonpath={.status.conditions[?(@.type=="Ready")].status}') == "True"
    # a list: the template sees the v1 List
    lines = ok(pods, "get", "pods", "-o", 'jsonpath={range .items[*]}{.metadata.name}'
               '{"\\t"}{.status.phase}{"\\n"}{end}').splitlines()
    assert sorted(lines) == ["alpha\tSucceeded", "zeta\tRunning"]
    names = ok(pods, "get", "pods", "--sort-by=.metadata.name", "-o",
               "jsonpath={.items[*].metadata.name}")
    assert names == "alpha zeta"
    assert ok(pods, "get", "pods", "-o", "jsonpath={.items[0].metadata.labels}",
              "--sort-by", "{.metadata.name}") == '{"app":"batch"}'
    as_json = json.loads(ok(pods, "get", "pods", "--sort-by=.metadata.name", "-o",
                            "jsonpath-as-json={.items[*].metadata.name}"))
    assert as_json == ["alpha", "zeta"]

    table = ok(pods, "get", "pods", "--sort-by=.metadata.name", "-o",
               "custom-columns=NAME:.metadata.name,IP:.status.podIP,"
               "EXIT:.status.containerStatuses[0].state.terminated.exitCode").splitlines()
    alpha_ip = pods.status("alpha").get("podIP", "<none>")
    assert [ln.split() for ln in table] == [["NAME", "IP", "EXIT"], ["alpha", alpha_ip, "0"],
                                            ["zeta", ip, "<none>"]]

    labelled = ok(pods, "get", "pods", "--sort-by=.metadata.name", "--show-labels",
                  "-L", "tier").splitlines()
    assert labelled[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "TIER",
                                   "LABELS"]
    assert labelled[1].split()[0] == "alpha" and labelled[1].split()[-1] == "app=batch"
    assert labelled[2].split()[-2:] == ["front", "app=web,tier=front"]
    assert ok(pods, "get", "pods", "zeta", "--no-headers").split()[:3] == ["zeta", "1/1",
                                                                           "Running"]
    assert ok(pods, "get", "pods", "-l", "app=web", "-o=name") == "pod/zeta\n"

    # errors in kubectl's words, exit 1, nothing on stdout
    bad = pods.cli("get", "pods", "-o", "jsonpath={.items[7]}")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith('error: error executing jsonpath "{.items[7]}": Error '
                                 "executing template: array index out of bounds: index 7, "
                                 "length 2.")
    bad = pods.cli("get", "pods", "-o", "table")
    assert bad.returncode == 1
    assert 'unable to match a printer suitable for the output format "table"' in bad.stderr
