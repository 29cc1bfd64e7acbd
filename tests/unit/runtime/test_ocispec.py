"""build_config: explicit parameters to the helper's config document."""

from __future__ import annotations

import base64
import json

import pytest

from podrun.runtime.ocispec import DEFAULT_PATH, build_config


def test_defaults():
    c = build_config(["sh"], rootfs="/r")
    json.dumps(c)  # JSON-ready
    assert c["process"]["env"] == [f"PATH={DEFAULT_PATH}"]
    assert c["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [0], "umask": 0o022}
    assert c["process"]["noNewPrivileges"] is False
    assert c["root"] == {"path": "/r", "readonly": False}
    assert "/proc/kcore" in c["linux"]["maskedPaths"]
    assert "/proc/sys" in c["linux"]["readonlyPaths"]
    assert c["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert len(base64.b64decode(c["podrun"]["seccompBpf"])) % 8 == 0
    assert {"type": "pid"} in c["linux"]["namespaces"]
    assert [m["destination"] for m in c["mounts"]][0] == "/proc"


def test_privileged_drops_confinement():
    c = build_config(["sh"], rootfs="/r", privileged=True)
    assert "seccomp" not in c["linux"]
    assert c["linux"]["maskedPaths"] == [] and c["linux"]["readonlyPaths"] == []
    assert c["podrun"]["hostDevices"] is True
    assert len(c["process"]["capabilities"]["bounding"]) == 41


def test_parameters_map_through():
    c = build_config(["app", "--x"], rootfs="/r", env={"A": "1", "PATH": "/bin"}, cwd="/w",
                     uid=1000, gid=3000, groups=[2000, 3000], readonly_rootfs=True,
                     seccomp_profile="Unconfined", sysctls={"net.ipv4.ip_forward": "1"},
                     hostname="h", cgroup_path="/sys/fs/cgroup/x", rlimits={"nofile": (1, 2)},
                     overlay={"lowerdirs": ["/l1", "/l2"], "upperdir": "/u", "workdir": "/w"},
                     mounts=[{"destination": "/etc/hosts", "type": "bind", "source": "/h",
                              "options": ["rbind", "ro"]}],
                     pid_namespace=False, user="app")
    p = c["process"]
    assert p["args"] == ["app", "--x"] and p["env"] == ["A=1", "PATH=/bin"]
    assert p["user"]["additionalGids"] == [2000, 3000]  # `user`: the helper adds the gid
    assert p["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 2}]
    assert "seccomp" not in c["linux"] and "seccompBpf" not in c["podrun"]
    assert c["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1"}
    assert c["linux"]["cgroupsPath"] == "/sys/fs/cgroup/x"
    assert c["hostname"] == "h" and c["root"]["readonly"] is True
    assert c["podrun"]["overlay"]["lowerdirs"] == ["/l1", "/l2"]
    assert c["podrun"]["user"] == "app"
    assert c["mounts"][-1]["destination"] == "/etc/hosts"
    assert {"type": "pid"} not in c["linux"]["namespaces"]


def test_primary_gid_in_groups():
    c = build_config(["sh"], rootfs="/r", uid=1000, gid=3000, groups=[4000, 50000])
    assert c["process"]["user"]["additionalGids"] == [3000, 4000, 50000]


@pytest.mark.parametrize("kw", [{"seccomp_profile": "Bogus"}, {"rlimits": {"nope": (1, 1)}},
                                {"cap_add": ["NOPE"]}])
def test_bad_parameters(kw):
    with pytest.raises(ValueError):
        build_config(["sh"], rootfs="/r", **kw)


def test_empty_args():
    with pytest.raises(ValueError):
        build_config([], rootfs="/r")
