"""podrun.core.securitycontext: the kubelet's securityContext rules as a table."""

from __future__ import annotations

import pytest

from podrun.core import securitycontext as SC
from podrun.spec.types import (
    AppArmorProfile,
    Capabilities,
    Container,
    PodSecurityContext,
    PodSpec,
    SeccompProfile,
    SecurityContext,
    SELinuxOptions,
    Sysctl,
)

DISPLAY = "web_default(uid-1)"


def translate(pod_sc: PodSecurityContext | None = None, sc: SecurityContext | None = None,
              image_user: str = "", **opts: object) -> SC.ProcessSecurity:
    spec = PodSpec(security_context=pod_sc)
    c = Container(name="app", security_context=sc)
    return SC.process_security(spec, c, image_user, pod_display=DISPLAY,
                               options=SC.SecurityOptions(**opts))  # type: ignore[arg-type]


@pytest.mark.parametrize(("pod_sc", "sc", "image_user", "user"), [
    (None, None, "", "0"),
    (None, None, "nginx", "nginx"),
    (None, None, "1000:1000", "1000"),             # containerd keeps only the uid
    (None, None, "app:staff", "app"),
    (PodSecurityContext(run_as_user=1000), None, "", "1000"),
    (PodSecurityContext(run_as_user=1000), SecurityContext(run_as_user=2000), "", "2000"),
    (PodSecurityContext(run_as_group=3000), None, "", "0:3000"),
    (None, SecurityContext(run_as_group=3000), "nginx", "nginx:3000"),
    (PodSecurityContext(run_as_user=1, run_as_group=2), SecurityContext(run_as_group=5), "",
     "1:5"),
])
def test_user(pod_sc: PodSecurityContext | None, sc: SecurityContext | None, image_user: str,
              user: str) -> None:
    assert translate(pod_sc, sc, image_user).user == user


@pytest.mark.parametrize(("pod_sc", "sc", "image_user", "message"), [
    (None, SecurityContext(run_as_non_root=True), "",
     'container has runAsNonRoot and image will run as root (pod: "web_default(uid-1)", '
     "container: app)"),
    (None, SecurityContext(run_as_non_root=True), "0",
     'container has runAsNonRoot and image will run as root (pod: "web_default(uid-1)", '
     "container: app)"),
    (PodSecurityContext(run_as_non_root=True), None, "nginx",
     "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify user "
     'is non-root (pod: "web_default(uid-1)", container: app)'),
    (PodSecurityContext(run_as_non_root=True, run_as_user=0), None, "1000",
     'container\'s runAsUser breaks non-root policy (pod: "web_default(uid-1)", '
     "container: app)"),
])
def test_run_as_non_root_refusals(pod_sc: PodSecurityContext | None,
                                  sc: SecurityContext | None, image_user: str,
                                  message: str) -> None:
    with pytest.raises(SC.SecurityContextError) as e:
        translate(pod_sc, sc, image_user)
    assert str(e.value) == message


@pytest.mark.parametrize(("pod_sc", "sc", "image_user"), [
    (None, SecurityContext(run_as_non_root=True), "1000"),
    (PodSecurityContext(run_as_non_root=True), SecurityContext(run_as_user=1000), ""),
    (PodSecurityContext(run_as_non_root=True), SecurityContext(run_as_non_root=False), ""),
    (PodSecurityContext(run_as_non_root=True), None, "nobody:0".replace("nobody", "65534")),
])
def test_run_as_non_root_allowed(pod_sc: PodSecurityContext | None,
                                 sc: SecurityContext | None, image_user: str) -> None:
    translate(pod_sc, sc, image_user)


def test_groups_fs_group_first_then_supplemental() -> None:
    s = translate(PodSecurityContext(fs_group=5000, supplemental_groups=(4000, 4001)))
    assert s.groups == (5000, 4000, 4001)
    assert translate().groups == ()


@pytest.mark.parametrize(("sc", "field", "want"), [
    (None, "no_new_privs", False),
    (SecurityContext(allow_privilege_escalation=True), "no_new_privs", False),
    (SecurityContext(allow_privilege_escalation=False), "no_new_privs", True),
    (None, "readonly_rootfs", False),
    (SecurityContext(read_only_root_filesystem=True), "readonly_rootfs", True),
    (SecurityContext(privileged=True), "privileged", True),
    (SecurityContext(capabilities=Capabilities(add=("NET_ADMIN",), drop=("ALL",))), "cap_add",
     ("NET_ADMIN",)),
    (SecurityContext(capabilities=Capabilities(add=("NET_ADMIN",), drop=("ALL",))), "cap_drop",
     ("ALL",)),
    (None, "masked_paths", None),
    (SecurityContext(proc_mount="Default"), "masked_paths", None),
    (SecurityContext(proc_mount="Unmasked"), "masked_paths", ()),
    (SecurityContext(proc_mount="Unmasked"), "readonly_paths", ()),
])
def test_container_fields(sc: SecurityContext | None, field: str, want: object) -> None:
    assert getattr(translate(None, sc), field) == want


@pytest.mark.parametrize(("pod_prof", "prof", "default", "want"), [
    (None, None, False, SC.Seccomp("Unconfined")),
    (None, None, True, SC.Seccomp("RuntimeDefault")),
    (SeccompProfile(type="RuntimeDefault"), None, False, SC.Seccomp("RuntimeDefault")),
    (SeccompProfile(type="RuntimeDefault"), SeccompProfile(type="Unconfined"), False,
     SC.Seccomp("Unconfined")),
    (None, SeccompProfile(type="Localhost", localhost_profile="profiles/audit.json"), False,
     SC.Seccomp("Localhost", "/var/lib/podrun/seccomp/profiles/audit.json")),
])
def test_seccomp(pod_prof: SeccompProfile | None, prof: SeccompProfile | None, default: bool,
                 want: SC.Seccomp) -> None:
    s = translate(PodSecurityContext(seccomp_profile=pod_prof),
                  SecurityContext(seccomp_profile=prof), seccomp_default=default)
    assert s.seccomp == want


def test_localhost_profile_may_not_leave_the_root() -> None:
    with pytest.raises(SC.SecurityContextError, match="outside the seccomp profile root"):
        translate(None, SecurityContext(seccomp_profile=SeccompProfile(
            type="Localhost", localhost_profile="../../../etc/x.json")))


def test_not_enforced_fields_are_reported() -> None:
    s = translate(PodSecurityContext(se_linux_options=SELinuxOptions(level="s0"),
                                     supplemental_groups_policy="Strict"),
                  SecurityContext(app_armor_profile=AppArmorProfile(type="RuntimeDefault")))
    reasons = [e[2].split(" is ")[0] for e in s.events]
    assert reasons == ["securityContext.supplementalGroupsPolicy Strict",
                       "securityContext.seLinuxOptions", "securityContext.appArmorProfile"]


@pytest.mark.parametrize(("name", "host_net", "host_ipc", "allowed", "err"), [
    ("net.ipv4.ip_local_port_range", False, False, (), None),
    ("net/ipv4/ip_local_port_range", False, False, (), None),
    ("kernel.shm_rmid_forced", False, False, (), None),
    ("net.ipv4.tcp_syncookies", True, False, (),
     '"net.ipv4.tcp_syncookies" not allowed with host net enabled'),
    ("kernel.shm_rmid_forced", False, True, (),
     '"kernel.shm_rmid_forced" not allowed with host ipc enabled'),
    ("net.core.somaxconn", False, False, (), '"net.core.somaxconn" not allowlisted'),
    ("net.core.somaxconn", False, False, ("net.core.*",), None),
    ("kernel.msgmax", False, False, ("kernel.msg*",), None),
    ("kernel.msgmax", False, True, ("kernel.msg*",),
     '"kernel.msgmax" not allowed with host ipc enabled'),
    ("vm.swappiness", False, False, (), '"vm.swappiness" not allowlisted'),
])
def test_sysctls(name: str, host_net: bool, host_ipc: bool, allowed: tuple[str, ...],
                 err: str | None) -> None:
    assert SC.sysctl_error(name, host_network=host_net, host_ipc=host_ipc,
                           allowed_unsafe=allowed) == err


def test_pod_sysctls_and_forbidden_message() -> None:
    spec = PodSpec(security_context=PodSecurityContext(sysctls=(
        Sysctl(name="net/ipv4/tcp_syncookies", value="1"),)))
    assert SC.pod_sysctls(spec) == {"net.ipv4.tcp_syncookies": "1"}
    bad = PodSpec(security_context=PodSecurityContext(sysctls=(Sysctl(name="vm.x", value="1"),)))
    with pytest.raises(SC.SecurityContextError, match='^forbidden sysctl: "vm.x" not allowlisted$'):
        SC.pod_sysctls(bad)


@pytest.mark.parametrize(("mode", "privileged", "want"), [
    (None, False, "rprivate"), ("None", False, "rprivate"),
    ("HostToContainer", False, "rslave"), ("Bidirectional", True, "rshared"),
])
def test_mount_propagation(mode: str | None, privileged: bool, want: str) -> None:
    assert SC.propagation_option(mode, privileged) == want


def test_bidirectional_needs_privileged() -> None:
    with pytest.raises(SC.SecurityContextError, match="only to privileged containers"):
        SC.propagation_option("Bidirectional", False)


@pytest.mark.parametrize(("user", "want"), [
    ("", (0, "")), ("0", (0, "")), ("1000", (1000, "")), ("1000:50", (1000, "")),
    ("nginx", (None, "nginx")), ("nginx:web", (None, "nginx")),
])
def test_image_user(user: str, want: tuple[int | None, str]) -> None:
    assert SC.image_user(user) == want
