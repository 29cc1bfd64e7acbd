"""podrun.core.env: expansion.go table, env order, downward API values, argv composition."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import podrun.core
from podrun.core import env as E
from podrun.spec.types import (
    ConfigMapEnvSource,
    ConfigMapKeySelector,
    Container,
    EnvFromSource,
    EnvVar,
    EnvVarSource,
    ObjectFieldSelector,
    ResourceFieldSelector,
    SecretEnvSource,
    SecretKeySelector,
)

MAPPING = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}

# K8S third_party/forked/golang/expansion/expand_test.go, plus the E2E cases (BEHAVIOR.md 9.6).
EXPANSION = [
    ("whole string", "$(VAR_A)", "A"),
    ("repeat", "$(VAR_A)-$(VAR_A)", "A-A"),
    ("beginning", "$(VAR_A)-1", "A-1"),
    ("middle", "___$(VAR_B)___", "___B___"),
    ("end", "___$(VAR_C)", "___C"),
    ("compound", "$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
    ("escape & expand", "$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
    ("compound escape", "$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)"),
    ("mixed in escapes", "f000-$$VAR_A", "f000-$VAR_A"),
    ("backslash escape ignored", "foo\\$(VAR_C)bar", "foo\\Cbar"),
    ("backslash escape ignored 2", "foo\\\\$(VAR_C)bar", "foo\\\\Cbar"),
    ("lots of backslashes", "foo\\\\\\\\$(VAR_A)bar", "foo\\\\\\\\Abar"),
    ("nested var references", "$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"),
    ("nested var references second type", "$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"),
    ("value is a reference", "$(VAR_REF)", "$(VAR_A)"),
    ("value is a reference x 2", "%%$(VAR_REF)--$(VAR_REF)%%", "%%$(VAR_A)--$(VAR_A)%%"),
    ("empty var", "foo$(VAR_EMPTY)bar", "foobar"),
    ("unterminated expression", "foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"),
    ("expression without operator", "f00__(VAR_A)__", "f00__(VAR_A)__"),
    ("shell special vars pass through", "$?_boo_$!", "$?_boo_$!"),
    ("bare operators are ignored", "$VAR_A", "$VAR_A"),
    ("undefined vars are passed through", "$(VAR_DNE)", "$(VAR_DNE)"),
    ("multiple (even) operators, var undefined", "$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
    ("multiple (even) operators, var defined", "$$$$$$(VAR_A)", "$$$(VAR_A)"),
    ("multiple (odd) operators, var undefined", "$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"),
    ("multiple (odd) operators, var defined", "$$$$$$$(VAR_A)", "$$$A"),
    ("missing open expression", "$VAR_A)", "$VAR_A)"),
    ("shell syntax ignored", "${VAR_A}", "${VAR_A}"),
    ("trailing incomplete expression not consumed", "$(VAR_B)_______$(A", "B_______$(A"),
    ("trailing incomplete expression, no content", "$(VAR_C)_______$(", "C_______$("),
    ("operator at end of input string is preserved", "$(VAR_A)foobarzab$", "Afoobarzab$"),
    ("shell escaped incomplete expr", "foo-\\$(VAR_A", "foo-\\$(VAR_A"),
    ("lots of $( in middle", "--$($($($($--", "--$($($($($--"),
    ("lots of $( in beginning", "$($($($($--foo$(", "$($($($($--foo$("),
    ("lots of $( at end", "foo0--$($($($(", "foo0--$($($($("),
    ("escaped operators in variable names are not escaped", "$(foo$$var)", "$(foo$$var)"),
    ("newline not expanded", "\n", "\n"),
    ("empty input", "", ""),
    ("lone operator", "$", "$"),
    ("e2e composing env vars", "$(FOO);;$(BAR)", "foo-value;;bar-value"),
    ("e2e command substitution", "test-cmd $(TEST_VAR)", "test-cmd test-value"),
]


@pytest.mark.parametrize(("name", "text", "want"), EXPANSION, ids=[r[0] for r in EXPANSION])
def test_expand(name: str, text: str, want: str) -> None:
    mapping = {**MAPPING, "FOO": "foo-value", "BAR": "bar-value", "TEST_VAR": "test-value"}
    assert E.expand(text, mapping) == want


def test_mapping_func_first_context_wins() -> None:
    fn = E.mapping_func({"A": "1"}, {"A": "2", "B": "3"})
    assert (fn("A"), fn("B"), fn("C")) == ("1", "3", "$(C)")


@pytest.mark.parametrize(("name", "ok"), [
    ("FOO", True), ("foo.bar-baz", True), ("_x", True), ("-x", True), ("1ABC", False),
    ("A B", False), ("", False), ("a=b", False),
])
def test_env_var_names(name: str, ok: bool) -> None:
    assert E.is_env_var_name(name) is ok


# ---- make_environment ----------------------------------------------------------------------

POD = E.PodFacts(name="web", namespace="ns1", uid="u-1", labels={"app": "web"},
                 annotations={"a/b": "x\"y"}, node_name="node1", service_account_name="sa",
                 host_ips=("192.0.2.1", "2001:db8::1"), pod_ips=("10.0.0.5", "fd00::5"))
CMS = {"cfg": {"K1": "v1", "K2": "v2", "bad key": "x", "1num": "y"}}
SECRETS = {"sec": {"PASS": "s3cret"}}


def env_of(*env: EnvVar, env_from: tuple[EnvFromSource, ...] = (),
           limits: dict[str, str] | None = None) -> E.EnvResult:
    c = Container(name="c", env=env, env_from=env_from)
    view = E.with_allocatable_limits({"cpu": "250m"}, limits or {},
                                     {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"})
    return E.make_environment(c, POD, configmap=CMS.get, secret=SECRETS.get,
                              resources_for=lambda name: view)


def v(name: str, value: str) -> EnvVar:
    return EnvVar(name=name, value=value)


def field(name: str, path: str) -> EnvVar:
    return EnvVar(name=name, value_from=EnvVarSource(field_ref=ObjectFieldSelector(
        field_path=path)))


def res(name: str, resource: str, divisor: str | None = None) -> EnvVar:
    return EnvVar(name=name, value_from=EnvVarSource(resource_field_ref=ResourceFieldSelector(
        resource=resource, divisor=divisor)))


def test_env_in_order_with_expansion_against_earlier_entries() -> None:
    r = env_of(v("FOO", "foo"), v("BAR", "$(FOO)-$(LATER)"), v("LATER", "later"),
               v("ESC", "$$(FOO)"))
    assert r.env == [("FOO", "foo"), ("BAR", "foo-$(LATER)"), ("LATER", "later"),
                     ("ESC", "$(FOO)")]


def test_env_from_in_list_order_with_prefix_and_invalid_keys_reported() -> None:
    r = env_of(v("K1", "mine"), v("X", "$(P_K2)"), env_from=(
        EnvFromSource(config_map_ref=ConfigMapEnvSource(name="cfg")),
        EnvFromSource(config_map_ref=ConfigMapEnvSource(name="cfg"), prefix="P_"),
        EnvFromSource(secret_ref=SecretEnvSource(name="sec"))))
    assert r.env == [("K1", "mine"), ("K2", "v2"), ("P_1num", "y"), ("P_K1", "v1"),
                     ("P_K2", "v2"), ("PASS", "s3cret"), ("X", "v2")]
    assert r.events == [
        ("Warning", "InvalidEnvironmentVariableNames",
         "Keys [1num, bad key] from the EnvFrom configMap ns1/cfg were skipped "
         "since they are considered invalid environment variable names."),
        ("Warning", "InvalidEnvironmentVariableNames",
         "Keys [P_bad key] from the EnvFrom configMap ns1/cfg were skipped "
         "since they are considered invalid environment variable names.")]


def test_env_from_prefix_can_make_a_key_valid() -> None:
    r = env_of(env_from=(EnvFromSource(config_map_ref=ConfigMapEnvSource(name="cfg"),
                                       prefix="X_"),))
    assert ("X_1num", "y") in r.env and r.events[0][2].startswith("Keys [X_bad key]")


@pytest.mark.parametrize(("var", "message"), [
    (EnvVar(name="X", value_from=EnvVarSource(config_map_key_ref=ConfigMapKeySelector(
        name="nope", key="k"))), 'configmap "nope" not found'),
    (EnvVar(name="X", value_from=EnvVarSource(config_map_key_ref=ConfigMapKeySelector(
        name="cfg", key="k"))), "couldn't find key k in ConfigMap ns1/cfg"),
    (EnvVar(name="X", value_from=EnvVarSource(secret_key_ref=SecretKeySelector(
        name="nope", key="k"))), 'secret "nope" not found'),
    (EnvVar(name="X", value_from=EnvVarSource(secret_key_ref=SecretKeySelector(
        name="sec", key="k"))), "couldn't find key k in Secret ns1/sec"),
    (field("X", "spec.restartPolicy"), "unsupported fieldPath: spec.restartPolicy"),
    (res("X", "limits.gpu"), "unsupported container resource : limits.gpu"),
])
def test_missing_sources_are_errors(var: EnvVar, message: str) -> None:
    with pytest.raises(E.EnvError) as e:
        env_of(var)
    assert str(e.value) == message


def test_env_from_missing_non_optional_is_an_error() -> None:
    with pytest.raises(E.EnvError, match='configmap "gone" not found'):
        env_of(env_from=(EnvFromSource(config_map_ref=ConfigMapEnvSource(name="gone")),))


def test_optional_sources_are_skipped() -> None:
    r = env_of(
        EnvVar(name="A", value_from=EnvVarSource(config_map_key_ref=ConfigMapKeySelector(
            name="nope", key="k", optional=True))),
        EnvVar(name="B", value_from=EnvVarSource(secret_key_ref=SecretKeySelector(
            name="sec", key="k", optional=True))),
        EnvVar(name="C", value_from=EnvVarSource(config_map_key_ref=ConfigMapKeySelector(
            name="cfg", key="K1"))),
        env_from=(EnvFromSource(secret_ref=SecretEnvSource(name="gone", optional=True)),))
    assert r.env == [("C", "v1")]


@pytest.mark.parametrize(("path", "want"), [
    ("metadata.name", "web"), ("metadata.namespace", "ns1"), ("metadata.uid", "u-1"),
    ("metadata.labels['app']", "web"), ("metadata.labels['nope']", ""),
    ("metadata.annotations['a/b']", 'x"y'), ("spec.nodeName", "node1"),
    ("spec.serviceAccountName", "sa"), ("status.hostIP", "192.0.2.1"),
    ("status.hostIPs", "192.0.2.1,2001:db8::1"), ("status.podIP", "10.0.0.5"),
    ("status.podIPs", "10.0.0.5,fd00::5"),
])
def test_field_refs(path: str, want: str) -> None:
    assert env_of(field("X", path)).env == [("X", want)]


def test_whole_label_maps_only_for_volumes() -> None:
    assert E.field_ref_value("metadata.annotations", POD, allow_maps=True) == 'a/b="x\\"y"'
    with pytest.raises(E.EnvError):
        E.field_ref_value("metadata.labels", POD)


@pytest.mark.parametrize(("resource", "divisor", "limits", "want"), [
    ("requests.cpu", None, {}, "1"),          # 250m rounds up to 1 CPU
    ("requests.cpu", "1m", {}, "250"),
    ("limits.cpu", None, {}, "4"),            # no limit: node allocatable
    ("limits.cpu", "1m", {"cpu": "500m"}, "500"),
    ("limits.cpu", None, {"cpu": "0"}, "4"),  # a zero limit is no limit
    ("limits.memory", None, {"memory": "64Mi"}, str(64 * 1024 * 1024)),
    ("limits.memory", "1Mi", {"memory": "64Mi"}, "64"),
    ("limits.memory", "1Gi", {}, "8"),
    ("limits.memory", "1M", {"memory": "1Mi"}, "2"),  # ceil(1.048576)
    ("requests.memory", None, {}, "0"),
    ("limits.ephemeral-storage", "1Gi", {}, "100"),
])
def test_resource_field_refs(resource: str, divisor: str | None, limits: dict[str, str],
                             want: str) -> None:
    assert env_of(res("X", resource, divisor), limits=limits).env == [("X", want)]


# ---- process env and argv -----------------------------------------------------------------


def test_container_env_layers_replace_in_place() -> None:
    got = E.container_env("web", ["PATH=/img/bin", "HOSTNAME=img", "LANG=C"],
                          [("LANG", "en"), ("NEW", "1"), ("HOSTNAME", "user")])
    assert got == ["PATH=/img/bin", "HOSTNAME=user", "LANG=en", "NEW=1"]
    assert E.container_env("h", [], [])[:2] == [E.DEFAULT_PATH_ENV, "HOSTNAME=h"]


@pytest.mark.parametrize(("command", "args", "entrypoint", "cmd", "want"), [
    (None, None, ["/ep"], ["c1", "c2"], ["/ep", "c1", "c2"]),
    (["/bin/x"], None, ["/ep"], ["c1"], ["/bin/x"]),          # command drops CMD
    (None, ["a1"], ["/ep"], ["c1"], ["/ep", "a1"]),            # args replace CMD
    (["/bin/x"], ["a1"], ["/ep"], ["c1"], ["/bin/x", "a1"]),
    (None, None, [], ["sh"], ["sh"]),
    (None, None, [""], ["sh"], ["sh"]),                        # ENTRYPOINT [""] is none
    (None, ["a"], [], [], ["a"]),
])
def test_argv(command: list[str] | None, args: list[str] | None, entrypoint: list[str],
              cmd: list[str], want: list[str]) -> None:
    assert E.container_argv(command, args, entrypoint, cmd) == want


def test_argv_without_any_command_is_an_error() -> None:
    with pytest.raises(E.EnvError, match="no command specified"):
        E.container_argv(None, None, [], [])


def test_command_and_args_expand_with_the_final_env_only() -> None:
    cmd, args = E.expand_command_and_args(["sh", "-c", "echo $(A) $(PATH)"], ["$(B)", "$$(A)"],
                                          {"A": "1", "B": "2"})
    assert cmd == ["sh", "-c", "echo 1 $(PATH)"] and args == ["2", "$(A)"]


@pytest.mark.parametrize(("expr", "env", "want"), [
    ("$(POD_NAME)", {"POD_NAME": "web"}, "web"),
    ("logs/$(POD_NAME)/x", {"POD_NAME": "web"}, "logs/web/x"),
    ("$(NOPE)", {}, "missing value for NOPE"),
    ("$(EMPTY)", {"EMPTY": ""}, "missing value for EMPTY"),
    ("$(ABS)", {"ABS": "/etc"}, "error SubPath `/etc` must not be an absolute path"),
    ("$(UP)", {"UP": "..`..`"}, "web"),
    ("$(UP)", {"UP": "a/../b"}, "unable to provision SubPath `a/../b`: must not contain '..'"),
])
def test_sub_path_expr(expr: str, env: dict[str, str], want: str) -> None:
    if want == "web" and "UP" in env:
        assert E.expand_sub_path_expr(expr, env) == "..`..`"  # only `..` components count
        return
    if want.startswith(("missing", "error", "unable")):
        with pytest.raises(E.EnvError) as e:
            E.expand_sub_path_expr(expr, env)
        assert str(e.value) == want
    else:
        assert E.expand_sub_path_expr(expr, env) == want


@pytest.mark.parametrize("module", ["env.py", "securitycontext.py"])
def test_pure(module: str) -> None:
    tree = ast.parse((Path(podrun.core.__file__).parent / module).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"os", "subprocess", "socket", "asyncio", "time", "threading"}
