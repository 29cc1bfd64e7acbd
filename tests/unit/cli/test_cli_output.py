"""kubectl get's template outputs and table options (podrun/cli_output.py) and the pflag
shorthand `-o=json` (podrun/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podrun import cli_output as out
from podrun.cli import pflag_shorthand


def pod(name: str, labels: dict[str, str] | None = None, ip: str | None = None,
        restarts: int = 0, containers: tuple[str, ...] = ("c",)) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    status: dict[str, Any] = {"phase": "Running",
                              "containerStatuses": [{"name": c, "restartCount": restarts}
                                                    for c in containers]}
    if ip:
        status["podIP"] = ip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": c} for c in containers]}, "status": status}


PODS = [pod("web", {"app": "web", "tier": "front"}, "10.0.0.2", containers=("a", "b")),
        pod("db", {"app": "db"}, None, restarts=3)]
LIST = {"apiVersion": "v1", "kind": "List", "items": PODS, "metadata": {"resourceVersion": ""}}


def test_custom_columns_table() -> None:
    text = out.render("custom-columns=NAME:.metadata.name,IP:.status.podIP,"
                      "CONTAINERS:.spec.containers[*].name,LABELS:.metadata.labels", LIST)
    assert text.splitlines() == [
        "NAME   IP         CONTAINERS   LABELS",
        "web    10.0.0.2   a,b          map[app:web tier:front]",
        "db     <none>     c            map[app:db]",
    ]
    headless = out.render("custom-columns=N:metadata.name", LIST, header=False)
    assert headless.splitlines() == ["web", "db"]


def test_custom_columns_file(tmp_path: Path) -> None:
    f = tmp_path / "cols"
    f.write_text("NAME          RESTARTS\nmetadata.name status.containerStatuses[0].restartCount\n")
    assert out.render(f"custom-columns-file={f}", LIST).splitlines() == [
        "NAME   RESTARTS", "web    0", "db     3"]


@pytest.mark.parametrize(("output", "message"), [
    ("custom-columns=NAME", "expected <header>:<json-path-expr>"),
    ("custom-columns=:x", "expected <header>:<json-path-expr>"),
    ("jsonpath={.a", "error parsing jsonpath"),
    ("jsonpath-file=/nonexistent/tmpl", "error reading template /nonexistent/tmpl"),
])
def test_bad_templates(output: str, message: str) -> None:
    with pytest.raises(out.OutputError, match=message):
        out.render(output, LIST)


@pytest.mark.parametrize(("output", "ok"), [
    (None, True), ("wide", True), ("json", True), ("yaml", True), ("name", True),
    ("jsonpath={.a}", True), ("jsonpath-as-json={.a}", True), ("custom-columns=A:.a", True),
    ("jsonpath", False), ("jsonpath=", False), ("table", False), ("go-template={{.a}}", False),
])
def test_check_output(output: str | None, ok: bool) -> None:
    if ok:
        out.check_output(output)
    else:
        with pytest.raises(out.OutputError):
            out.check_output(output)


def test_execution_error_names_the_template() -> None:
    with pytest.raises(out.OutputError) as e:
        out.render("jsonpath={.items[9]}", LIST)
    assert str(e.value).startswith('error executing jsonpath "{.items[9]}": Error executing '
                                   "template: array index out of bounds: index 9, length 2.")


def test_sort_by_numbers_and_text_missing_first() -> None:
    objs = [pod("b", restarts=10), pod("a", restarts=9), pod("c", restarts=100)]
    by_restarts = out.sort_objects(objs, ".status.containerStatuses[0].restartCount")
    assert [o["metadata"]["name"] for o in by_restarts] == ["a", "b", "c"]
    by_name = out.sort_objects(objs, "{.metadata.name}")
    assert [o["metadata"]["name"] for o in by_name] == ["a", "b", "c"]
    with_missing = out.sort_objects([pod("x", ip="10.0.0.9"), pod("y")], ".status.podIP")
    assert [o["metadata"]["name"] for o in with_missing] == ["y", "x"]


def test_label_columns_and_show_labels() -> None:
    cols, rows = out.extend_rows(["NAME"], [["web"], ["db"]],
                                 [p["metadata"] for p in PODS],
                                 out.label_keys(("app,example.com/tier",)), True)
    assert cols == ["NAME", "APP", "TIER", "LABELS"]
    assert rows == [["web", "web", "", "app=web,tier=front"], ["db", "db", "", "app=db"]]
    assert out.labels_text({}) == "<none>"


@pytest.mark.parametrize(("argv", "want"), [
    (["get", "pods", "-o=json"], ["get", "pods", "-o", "json"]),
    (["get", "pods", "-o=jsonpath={.a=b}"], ["get", "pods", "-o", "jsonpath={.a=b}"]),
    (["get", "pods", "-n=kube-system"], ["get", "pods", "-n", "kube-system"]),
    (["get", "pods", "--output=json"], ["get", "pods", "--output=json"]),
    (["exec", "p", "--", "ls", "-l=x"], ["exec", "p", "--", "ls", "-l=x"]),
    (["get", "pods", "-o"], ["get", "pods", "-o"]),
])
def test_pflag_shorthand(argv: list[str], want: list[str]) -> None:
    assert pflag_shorthand(argv) == want
