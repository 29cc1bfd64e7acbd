"""containerd's RuntimeDefault profile as data, and its compilation by libseccomp."""

from __future__ import annotations

import os

import pytest

from podrun.runtime import seccomp
from podrun.runtime.capabilities import container_capabilities


def names(profile, action="SCMP_ACT_ALLOW"):
    return {n for r in profile["syscalls"] if r["action"] == action and not r.get("args")
            for n in r["names"]}


def test_runtime_default_shape():
    p = seccomp.runtime_default(container_capabilities()["bounding"])
    assert p["defaultAction"] == "SCMP_ACT_ERRNO"
    assert p["defaultErrnoRet"] == 1
    allowed = names(p)
    assert {"read", "write", "execve", "clone3"} - allowed == {"clone3"}
    assert "chroot" in allowed  # CAP_SYS_CHROOT is a default capability
    assert not {"mount", "unshare", "setns", "ptrace", "reboot", "bpf"} & allowed
    clone = next(r for r in p["syscalls"] if r["names"] == ["clone"])
    assert clone["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"
    assert clone["args"][0]["value"] == 0x7E020000
    assert names(p, "SCMP_ACT_ERRNO") == {"clone3"}


def test_capabilities_widen_the_profile():
    p = seccomp.runtime_default(["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"])
    allowed = names(p)
    assert {"mount", "unshare", "setns", "clone", "clone3", "ptrace"} <= allowed
    assert not any(r["names"] == ["clone"] and r.get("args") for r in p["syscalls"])


@pytest.mark.skipif(not os.path.exists("/usr/lib/x86_64-linux-gnu/libseccomp.so.2")
                    and not os.path.exists("/lib/x86_64-linux-gnu/libseccomp.so.2"),
                    reason="libseccomp.so.2 not installed")
def test_compile_bpf():
    prog = seccomp.compile_bpf(seccomp.runtime_default(["CAP_CHOWN"]))
    assert len(prog) % 8 == 0 and len(prog) > 8 * 100


def test_bad_action_is_an_error():
    with pytest.raises(seccomp.SeccompError):
        seccomp.compile_bpf({"defaultAction": "SCMP_ACT_NOTIFY"})
