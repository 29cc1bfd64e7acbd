"""kubectl's JSONPath (client-go util/jsonpath) as `get -o jsonpath=` prints it: the examples
of kubectl's JSONPath reference page, then the corners (missing keys, bounds, filters,
escapes, number printing)."""

from __future__ import annotations

from typing import Any

import pytest

from podrun.jsonpath import JSONPathError, _go_float, compile_template, go_value, relaxed

# the input of https://kubernetes.io/docs/reference/kubectl/jsonpath/
DOC: dict[str, Any] = {
    "kind": "List",
    "items": [
        {"kind": "None", "metadata": {"name": "127.0.0.1",
                                      "labels": {"kubernetes.io/hostname": "127.0.0.1"}},
         "status": {"capacity": {"cpu": "4"},
                    "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.1"}]}},
        {"kind": "None", "metadata": {"name": "127.0.0.2"},
         "status": {"capacity": {"cpu": "8"},
                    "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.2"},
                                  {"type": "another", "address": "127.0.0.3"}]}},
    ],
    "users": [{"name": "myself", "user": {}},
              {"name": "e2e", "user": {"username": "admin", "password": "secret"}}],
}

CASES = [
    # the reference page's table (maps print as JSON since kubectl 1.20)
    ("{.kind}", "List"),
    ("{['kind']}", "List"),
    ("{..name}", "127.0.0.1 127.0.0.2 myself e2e"),
    ("{.items[*].metadata.name}", "127.0.0.1 127.0.0.2"),
    ("{.users[0].name}", "myself"),
    ("{.items[*]['metadata.name', 'status.capacity']}",
     '127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}'),
    ('{.users[?(@.name=="e2e")].user.password}', "secret"),
    ("{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}",
     '[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] '),
    ('{range .items[*]}{.metadata.name}{"\\t"}{end}', "127.0.0.1\t127.0.0.2\t"),
    ("{.items[0].metadata.labels.kubernetes\\.io/hostname}", "127.0.0.1"),
    # indexes and slices
    ("{.items[-1].metadata.name}", "127.0.0.2"),
    ("{.items[0:1].metadata.name}", "127.0.0.1"),
    ("{.items[1:].metadata.name}", "127.0.0.2"),
    ("{.items[:1].metadata.name}", "127.0.0.1"),
    ("{.users[0,1].name}", "myself e2e"),
    # text around actions, quoted text, several actions
    ("names: {.users[*].name}.", "names: myself e2e."),
    ('{.kind}{"\\n"}', "List\n"),
    ("{'single'}", "single"),
    ('{"a}b"}', "a}b"),
    # missing keys give nothing (kubectl get allows them)
    ("{.nope}", ""),
    ("{.items[*].nope.deeper}", ""),
    ("x{range .nope[*]}{.a}{end}y", "xy"),
    # filters
    ('{.items[*].status.addresses[?(@.type=="another")].address}', "127.0.0.3"),
    ('{.items[?(@.status.capacity.cpu>"5")].metadata.name}', "127.0.0.2"),
    ('{.items[?(@.status.capacity.cpu!="4")].metadata.name}', "127.0.0.2"),
    ("{.users[?(@.user.password)].name}", "e2e"),
    ('{.items[?(@.metadata.labels.nope=="x")].metadata.name}', ""),
    # the whole object and wildcards
    ("{.users[1].user.*}", "secret admin"),
    ("{$.kind}", "List"),
    ("{@.kind}", "List"),
]


@pytest.mark.parametrize(("template", "want"), CASES)
def test_kubectl_jsonpath(template: str, want: str) -> None:
    assert compile_template(template).render(DOC) == want


@pytest.mark.parametrize(("value", "want"), [
    ({"spec": {"replicas": 3}}, "3"),
    ({"spec": {"ok": True}}, "true"),
    ({"spec": {"ratio": 0.5}}, "0.5"),
    ({"spec": {"big": 1e6}}, "1e+06"),
    ({"spec": {"list": ["a", "b"]}}, '["a","b"]'),
    ({"spec": {"html": {"k": "<&>"}}}, '{"k":"\\u003c\\u0026\\u003e"}'),
])
def test_values_print_as_kubectl_prints_them(value: dict[str, Any], want: str) -> None:
    key = next(iter(value["spec"]))
    assert compile_template("{.spec." + key + "}").render(value) == want


@pytest.mark.parametrize(("f", "want"), [
    (1e6, "1e+06"), (123456.0, "123456"), (1234567.0, "1.234567e+06"), (0.5, "0.5"),
    (1.5e-7, "1.5e-07"), (2.0, "2"), (0.0001, "0.0001"), (0.00001, "1e-05"),
    (-100.25, "-100.25"), (float("inf"), "+Inf"),
])
def test_floats_print_as_go_fmt(f: float, want: str) -> None:
    assert _go_float(f) == want


@pytest.mark.parametrize(("template", "message"), [
    ("{.items[5].metadata.name}", "array index out of bounds: index 5, length 2"),
    ("{.kind[0]}", "is not array or slice"),
    ("{.items[?(@.status.addresses[*].type==\"x\")]}", "one element at a time"),
])
def test_evaluation_errors(template: str, message: str) -> None:
    with pytest.raises(JSONPathError, match=message.replace("[", r"\[").replace("*", r"\*")):
        compile_template(template).render(DOC)


@pytest.mark.parametrize("template", [
    "{.kind", "{range .items[*]}{.a}", "{end}", "{.a[x]}", "{.a[?(@.b==1)}", "{.a ^}",
    "{....a}",
])
def test_parse_errors(template: str) -> None:
    with pytest.raises(JSONPathError):
        compile_template(template)


def test_empty_list_index_errors_but_star_does_not() -> None:
    empty = {"items": []}
    assert compile_template("{.items[*].metadata.name}").render(empty) == ""
    with pytest.raises(JSONPathError, match="index 0, length 0"):
        compile_template("{.items[0].metadata.name}").render(empty)


def test_jsonpath_as_json_is_one_array() -> None:
    out = compile_template("{.users[*].name}").render_json(DOC)
    assert out == '[\n    "myself",\n    "e2e"\n]\n'


@pytest.mark.parametrize(("expr", "want"), [
    (".metadata.name", "{.metadata.name}"), ("metadata.name", "{.metadata.name}"),
    ("{.metadata.name}", "{.metadata.name}"), ("{metadata.name}", "{.metadata.name}"),
    ("$.a", "{$.a}"), ("[0]", "{[0]}"),
])
def test_relaxed_expressions(expr: str, want: str) -> None:
    assert relaxed(expr) == want


def test_go_value_prints_like_fmt_v() -> None:
    assert go_value({"b": 1, "a": ["x", True]}) == "map[a:[x true] b:1]"
    assert go_value(None) == "<nil>"
