"""The init helper's unprivileged parts: JSON, error lines, PATH lookup, user lookup."""

from __future__ import annotations

import json

import pytest

from podrun.runtime import initsteps as I
from tests.support import make_busybox_rootfs


def test_loads_matches_json():
    doc = {"a": [1, 2.5, True, None, "é\n"], "b": {"c": -3}}
    assert I.loads(json.dumps(doc)) == doc
    with pytest.raises(ValueError):
        I.loads('{"a": 1} x')


def test_error_line_is_one_json_line():
    line = I.error_line("exec", 'exec: "nosuch": executable file not found in $PATH', 2)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {"step": "exec", "errno": 2,
                                "message": 'exec: "nosuch": executable file not found in $PATH'}


def test_look_path(tmp_path):
    (tmp_path / "bin").mkdir()
    exe = tmp_path / "bin" / "tool"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    noexec = tmp_path / "bin" / "data"
    noexec.write_text("")
    path = f"{tmp_path}/nope:{tmp_path}/bin"
    assert I.look_path("tool", path) == str(exe)
    with pytest.raises(I.StepError) as e:
        I.look_path("data", path)
    assert e.value.message == 'exec: "data": executable file not found in $PATH'
    with pytest.raises(I.StepError) as e:
        I.look_path(str(tmp_path / "missing"), path)
    assert e.value.message == (f'exec: "{tmp_path}/missing": stat {tmp_path}/missing: '
                               "no such file or directory")
    with pytest.raises(I.StepError) as e:
        I.look_path(str(noexec), path)
    assert e.value.message == f'exec: "{noexec}": permission denied'


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory):
    return make_busybox_rootfs(tmp_path_factory.mktemp("rfs") / "rootfs")


@pytest.mark.parametrize(("spec", "groups", "want"), [
    ("user", [], (1000, 1000, [1000, 100], "/home/user")),
    ("1000", [7], (1000, 1000, [1000, 100, 7], "/home/user")),
    ("4321", [], (4321, 0, [0], "/")),
    ("user:root", [], (1000, 0, [0, 100], "/home/user")),
    ("nobody:77", [], (65534, 77, [77], "/nonexistent")),
])
def test_user_lookup(rootfs, spec, groups, want):
    init = I.Init({"root": {"path": str(rootfs)}, "podrun": {"user": spec},
                   "process": {"user": {"additionalGids": groups}}}, None)
    init.user_lookup()
    assert (init.uid, init.gid, init.groups, init.home) == want


def test_unknown_user_and_group(rootfs):
    for spec in ("ghost", "user:ghosts"):
        init = I.Init({"root": {"path": str(rootfs)}, "podrun": {"user": spec}}, None)
        with pytest.raises(I.StepError) as e:
            init.user_lookup()
        assert "unable to find" in e.value.message


def test_steps_order():
    names = [n for n, _ in I.Init({"process": {"noNewPrivileges": True}}, None).steps()]
    assert names.index("cgroup") < names.index("rootfs") < names.index("mounts") \
        < names.index("pivot-root") < names.index("sysctl") < names.index("readonly-paths") \
        < names.index("bounding-set") < names.index("user") < names.index("capabilities") \
        < names.index("no-new-privileges") < names.index("seccomp") < names.index("exec")
    names = [n for n, _ in I.Init({"process": {}}, None).steps()]
    assert names.index("seccomp") < names.index("bounding-set")  # no NNP: needs SYS_ADMIN
