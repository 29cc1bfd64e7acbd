"""podrun.agent.containers / volumes without root: config shape, pod files, atomic writer."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from podrun.agent import volumes as V
from podrun.agent.containers import (
    CreateContainerConfigError,
    CreateContainerError,
    ImageConfig,
    PodContext,
    build_container,
    cleanup_pod,
    prepare_pod,
)
from podrun.spec import load_text
from podrun.spec.types import Pod

BASE = """
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ns1, uid: uid-1, labels: {app: web}}
spec:
"""


def parse(spec: str) -> Pod:
    recs = load_text(BASE + textwrap.indent(textwrap.dedent(spec), "  "))
    assert len(recs) == 1 and recs[0].ok, [list(r.messages()) for r in recs]
    assert isinstance(recs[0].obj, Pod)
    return recs[0].obj


@pytest.fixture
def make_ctx(tmp_path: Path) -> Callable[..., PodContext]:
    (tmp_path / "resolv.conf").write_text("nameserver 192.0.2.53\nsearch example.org\n")

    def make(spec: str, *, configmaps: dict[str, Any] | None = None,
             secrets: dict[str, Any] | None = None, **kw: Any) -> PodContext:
        cms = configmaps or {}
        secs = secrets or {}
        kw.setdefault("pod_ips", ("10.0.0.5",))
        return PodContext(pod=parse(spec), pod_dir=tmp_path / "root" / "pods" / "uid-1",
                          node_name="node1", host_ip="192.0.2.1", shm_path=None,
                          configmaps=lambda ns, n: cms.get(n),
                          secrets=lambda ns, n: secs.get(n),
                          resolv_conf=tmp_path / "resolv.conf",
                          allocatable={"cpu": "2", "memory": "4Gi"}, **kw)

    return make


def container(ctx: PodContext, name: str = "c", image: ImageConfig | None = None) -> Any:
    assert ctx.pod.spec is not None and ctx.pod.spec.containers
    c = next(c for c in ctx.pod.spec.containers if c.name == name)
    return build_container(ctx, c, image or ImageConfig(), restart_count=0, is_init=False)


def mounts(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["destination"]: m for m in config["mounts"]}


SIMPLE = """
containers:
- name: c
  image: busybox
  args: ["$(GREETING) world", "$$(GREETING)"]
  workingDir: /work
  env:
  - {name: GREETING, value: hello}
"""


def test_config_shape(make_ctx: Callable[..., PodContext]) -> None:
    ctx = make_ctx(SIMPLE)
    prepare_pod(ctx)
    launch = container(ctx, image=ImageConfig(entrypoint=("/bin/echo",), cmd=("ignored",),
                                              env=("PATH=/bin", "IMG=1"), user="nginx",
                                              stop_signal="QUIT"))
    proc = launch.config["process"]
    assert proc["args"] == ["/bin/echo", "hello world", "$(GREETING)"]
    assert proc["env"] == ["PATH=/bin", "HOSTNAME=web", "IMG=1", "GREETING=hello"]
    assert proc["cwd"] == "/work"
    assert launch.config["podrun"]["user"] == "nginx"
    assert launch.config["hostname"] == "web"
    assert launch.stop_signal == "SIGQUIT"
    assert {"type": "pid"} in launch.config["linux"]["namespaces"]
    assert "seccomp" not in launch.config["linux"]  # Unconfined: the kubelet's default
    m = mounts(launch.config)
    assert m["/etc/hosts"]["source"] == str(ctx.pod_dir / "etc-hosts")
    assert m["/etc/hostname"]["source"] == str(ctx.pod_dir / "etc-hostname")
    assert m["/etc/resolv.conf"]["source"] == str(ctx.pod_dir / "resolv.conf")
    term = launch.termination_message_path
    assert term is not None and m["/dev/termination-log"]["source"] == str(term)
    assert stat.S_IMODE(term.stat().st_mode) == 0o666 and term.read_text() == ""
    assert launch.cgroup_values["memory.max"] == "max"


def test_each_instance_gets_a_fresh_termination_file(make_ctx: Callable[..., PodContext]) -> None:
    ctx = make_ctx(SIMPLE)
    a = container(ctx).termination_message_path
    b = container(ctx).termination_message_path
    assert a != b and a is not None and b is not None and a.parent == b.parent


def test_pod_files(make_ctx: Callable[..., PodContext]) -> None:
    ctx = make_ctx(SIMPLE + """
hostAliases: [{ip: 123.45.67.89, hostnames: [foo, bar]}]
subdomain: sub
""")
    events = prepare_pod(ctx)
    hosts = (ctx.pod_dir / "etc-hosts").read_text()
    assert "10.0.0.5\tweb.sub.ns1.svc.cluster.local\tweb\n" in hosts
    assert hosts.endswith("\n# Entries added by HostAliases.\n123.45.67.89\tfoo\tbar\n")
    assert (ctx.pod_dir / "etc-hostname").read_text() == "web\n"
    assert (ctx.pod_dir / "resolv.conf").read_text() == \
        "search example.org\nnameserver 192.0.2.53\n"
    assert [e[1] for e in events] == ["MissingClusterDNS"]
    assert prepare_pod(ctx) == []  # reported once, not per sync
    cleanup_pod(ctx)
    assert not ctx.pod_dir.exists()


def test_cluster_dns(make_ctx: Callable[..., PodContext]) -> None:
    ctx = make_ctx(SIMPLE, cluster_dns=("10.96.0.10",))
    assert prepare_pod(ctx) == []
    assert (ctx.pod_dir / "resolv.conf").read_text() == (
        "search ns1.svc.cluster.local svc.cluster.local cluster.local example.org\n"
        "nameserver 10.96.0.10\noptions ndots:5\n")


def test_no_etc_hosts_mount_without_a_pod_ip_or_over_a_user_mount(
        make_ctx: Callable[..., PodContext]) -> None:
    ctx = make_ctx(SIMPLE, pod_ips=())
    prepare_pod(ctx)
    assert "/etc/hosts" not in mounts(container(ctx).config)
    ctx = make_ctx("""
volumes: [{name: v, emptyDir: {}}]
containers:
- name: c
  image: busybox
  volumeMounts: [{name: v, mountPath: /etc/resolv.conf}]
""")
    prepare_pod(ctx)
    m = mounts(container(ctx, image=ImageConfig(cmd=("sh",))).config)
    assert m["/etc/resolv.conf"]["source"].endswith("kubernetes.io~empty-dir/v")


def test_host_network_and_shared_pid(make_ctx: Callable[..., PodContext], tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
    ctx = make_ctx(SIMPLE + "hostNetwork: true\nshareProcessNamespace: true\n",
                   etc_hosts=tmp_path / "hosts")
    prepare_pod(ctx)
    assert (ctx.pod_dir / "etc-hosts").read_text() == \
        "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n"
    cfg = container(ctx, image=ImageConfig(entrypoint=("echo",))).config
    assert "hostname" not in cfg
    assert {"type": "pid"} not in cfg["linux"]["namespaces"]


def test_security_context_in_config(make_ctx: Callable[..., PodContext]) -> None:
    ctx = make_ctx("""
securityContext:
  runAsUser: 1000
  fsGroup: 2000
  supplementalGroups: [3000]
  seccompProfile: {type: RuntimeDefault}
  sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "80"}]
containers:
- name: c
  image: busybox
  command: [sleep, "1"]
  securityContext:
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
""")
    prepare_pod(ctx)
    cfg = container(ctx).config
    assert cfg["podrun"]["user"] == "1000"
    assert cfg["process"]["user"]["additionalGids"] == [2000, 3000]
    assert cfg["process"]["noNewPrivileges"] is True
    assert cfg["root"]["readonly"] is True
    assert cfg["process"]["capabilities"]["bounding"] == ["CAP_NET_BIND_SERVICE"]
    assert "seccomp" in cfg["linux"]
    assert cfg["linux"]["sysctl"] == {"net.ipv4.ip_unprivileged_port_start": "80"}
    assert "ro" in mounts(cfg)["/etc/resolv.conf"]["options"]


def test_localhost_seccomp(make_ctx: Callable[..., PodContext], tmp_path: Path) -> None:
    spec = """
containers:
- name: c
  image: busybox
  command: ["true"]
  securityContext:
    seccompProfile: {type: Localhost, localhostProfile: deny.json}
"""
    ctx = make_ctx(spec, seccomp_root=tmp_path / "seccomp")
    prepare_pod(ctx)
    with pytest.raises(CreateContainerError, match="cannot load seccomp profile"):
        container(ctx)
    (tmp_path / "seccomp").mkdir()
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    (tmp_path / "seccomp" / "deny.json").write_text(json.dumps(profile))
    assert container(ctx).config["linux"]["seccomp"] == profile


@pytest.mark.parametrize(("spec", "message"), [
    ("""
containers:
- name: c
  image: busybox
  command: ["true"]
  securityContext: {runAsNonRoot: true}
""", "container has runAsNonRoot and image will run as root"),
    ("""
containers:
- name: c
  image: busybox
  command: ["true"]
  env: [{name: X, valueFrom: {secretKeyRef: {name: s, key: k}}}]
""", 'secret "s" not found'),
    ("""
volumes: [{name: v, emptyDir: {}}]
containers:
- name: c
  image: busybox
  command: ["true"]
  volumeMounts: [{name: v, mountPath: /x, subPathExpr: "$(NOPE)"}]
""", "missing value for NOPE"),
    ("""
securityContext:
  sysctls: [{name: kernel.sem, value: "1"}]
containers:
- name: c
  image: busybox
  command: ["true"]
""", 'forbidden sysctl: "kernel.sem" not allowlisted'),
])
def test_config_errors(make_ctx: Callable[..., PodContext], spec: str, message: str) -> None:
    ctx = make_ctx(spec)
    prepare_pod(ctx)
    with pytest.raises(CreateContainerConfigError, match=message.replace("(", r"\(")
                       .replace(")", r"\)").replace("$", r"\$")):
        container(ctx)


def test_no_command_at_all(make_ctx: Callable[..., PodContext]) -> None:
    ctx = make_ctx("containers: [{name: c, image: busybox}]")
    with pytest.raises(CreateContainerError, match="no command specified"):
        container(ctx)


def test_env_events_and_lookups(make_ctx: Callable[..., PodContext]) -> None:
    ctx = make_ctx("""
containers:
- name: c
  image: busybox
  command: [env]
  envFrom: [{configMapRef: {name: cfg}}, {secretRef: {name: sec}, prefix: S_}]
  env:
  - name: LIMIT
    valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
""", configmaps={"cfg": {"data": {"A": "1", "bad-key!": "x"}}},
        secrets={"sec": {"data": {"PW": "cHc="}, "stringData": {"EXTRA": "e"}}})
    launch = container(ctx)
    env = launch.config["process"]["env"]
    assert env[-4:] == ["A=1", "S_EXTRA=e", "S_PW=pw", "LIMIT=4096"]
    assert [e[1] for e in launch.events] == ["InvalidEnvironmentVariableNames"]


# ---- volumes ----------------------------------------------------------------------------------


def test_configmap_volume_layout_and_update(make_ctx: Callable[..., PodContext]) -> None:
    cms = {"cfg": {"data": {"a": "1", "b": "2"}, "binaryData": {"bin": "AAE="}}}
    ctx = make_ctx("""
volumes:
- name: v
  configMap: {name: cfg, items: [{key: a, path: dir/a.txt, mode: 0600}, {key: bin, path: bin}]}
- name: all
  configMap: {name: cfg}
containers: [{name: c, image: busybox, command: ["true"]}]
""", configmaps=cms)
    prepare_pod(ctx)
    vol = ctx.pod_dir / "volumes/kubernetes.io~configmap/v"
    entries = sorted(os.listdir(vol))
    assert entries[1:] == ["..data", "bin", "dir"] and entries[0].startswith("..2")
    assert os.readlink(vol / "..data") == entries[0]
    assert os.readlink(vol / "dir") == "..data/dir"
    assert (vol / "dir/a.txt").read_text() == "1"
    assert stat.S_IMODE((vol / "dir/a.txt").stat().st_mode) == 0o600
    assert (vol / "bin").read_bytes() == b"\x00\x01"
    first = os.readlink(vol / "..data")
    prepare_pod(ctx)
    assert os.readlink(vol / "..data") == first  # unchanged content: no swap
    cms["cfg"] = {"data": {"a": "new"}, "binaryData": {"bin": "AAE="}}
    prepare_pod(ctx)
    second = os.readlink(vol / "..data")
    assert second != first and not (vol / first).exists()
    assert (vol / "dir/a.txt").read_text() == "new"
    all_dir = ctx.pod_dir / "volumes/kubernetes.io~configmap/all"
    assert sorted(p for p in os.listdir(all_dir) if not p.startswith("..")) == ["a", "bin"]
    assert stat.S_IMODE((all_dir / "..data/a").stat().st_mode) == 0o644


@pytest.mark.parametrize(("volume", "message"), [
    ("configMap: {name: nope}", 'configmap "nope" not found'),
    ("configMap: {name: cfg, items: [{key: zz, path: z}]}",
     "configmap references non-existent config key: zz"),
    ("hostPath: {path: /nonexistent-podrun-test, type: Directory}",
     "hostPath type check failed: /nonexistent-podrun-test is not a directory"),
    ("hostPath: {path: /etc/passwd, type: Directory}",
     "hostPath type check failed: /etc/passwd is not a directory"),
    ("hostPath: {path: /etc, type: File}", "hostPath type check failed: /etc is not a file"),
    ("hostPath: {path: /etc/passwd, type: Socket}",
     "hostPath type check failed: /etc/passwd is not a socket file"),
    ("hostPath: {path: /etc/passwd, type: CharDevice}",
     "hostPath type check failed: /etc/passwd is not a character device"),
    ("hostPath: {path: /dev/null, type: BlockDevice}",
     "hostPath type check failed: /dev/null is not a block device"),
    ("nfs: {server: s, path: /x}", "nfs volumes are not supported by podrun"),
])
def test_failed_mounts(make_ctx: Callable[..., PodContext], volume: str, message: str) -> None:
    ctx = make_ctx(f"""
volumes:
- name: bad
  {volume}
- name: good
  emptyDir: {{}}
containers: [{{name: c, image: busybox, command: ["true"]}}]
""", configmaps={"cfg": {"data": {"a": "1"}}})
    with pytest.raises(V.VolumeSetupError) as e:
        prepare_pod(ctx)
    assert e.value.failed == ["bad"]
    assert ("Warning", "FailedMount",
            f'MountVolume.SetUp failed for volume "bad" : {message}') in e.value.events
    assert (ctx.pod_dir / "volumes/kubernetes.io~empty-dir/good").is_dir()


def test_optional_configmap_volume_is_empty(make_ctx: Callable[..., PodContext]) -> None:
    ctx = make_ctx("""
volumes: [{name: v, configMap: {name: nope, optional: true}}]
containers: [{name: c, image: busybox, command: ["true"]}]
""")
    prepare_pod(ctx)
    vol = ctx.pod_dir / "volumes/kubernetes.io~configmap/v"
    assert [p for p in os.listdir(vol) if not p.startswith("..")] == []


def test_downward_api_volume_and_label_update(make_ctx: Callable[..., PodContext]) -> None:
    spec = """
volumes:
- name: info
  downwardAPI:
    items:
    - {path: labels, fieldRef: {fieldPath: metadata.labels}}
    - {path: cpu_m, resourceFieldRef: {containerName: c, resource: limits.cpu, divisor: 1m}}
containers: [{name: c, image: busybox, command: ["true"]}]
"""
    ctx = make_ctx(spec)
    prepare_pod(ctx)
    vol = ctx.pod_dir / "volumes/kubernetes.io~downward-api/info"
    assert (vol / "labels").read_text() == 'app="web"'
    assert (vol / "cpu_m").read_text() == "2000"


def test_atomic_writer_rejects_bad_paths(tmp_path: Path) -> None:
    for bad in ("/abs", "../up", "a/../../b", "..hidden"):
        with pytest.raises(V.VolumeError):
            V.atomic_write(tmp_path / "t", {bad: V.FileProjection(b"x", 0o644)})


def test_host_path_or_create(tmp_path: Path) -> None:
    V.check_host_path(str(tmp_path / "a/b"), "DirectoryOrCreate")
    V.check_host_path(str(tmp_path / "c/d"), "FileOrCreate")
    assert (tmp_path / "a/b").is_dir() and (tmp_path / "c/d").is_file()
    V.check_host_path(str(tmp_path / "whatever"), "")
    with pytest.raises(V.VolumeError, match="^Bogus is an invalid volume type$"):
        V.check_host_path(str(tmp_path / "a"), "Bogus")


def test_projected_volume_skips_token_sources(make_ctx: Callable[..., PodContext],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    mounted: list[Path] = []
    monkeypatch.setattr(V, "mount_tmpfs", lambda path, size=None: mounted.append(path))
    ctx = make_ctx("""
volumes:
- name: all
  projected:
    defaultMode: 0440
    sources:
    - configMap: {name: cfg, items: [{key: a, path: cfg/a}]}
    - secret: {name: sec}
    - downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}
    - serviceAccountToken: {path: token}
containers: [{name: c, image: busybox, command: ["true"]}]
""", configmaps={"cfg": {"data": {"a": "1"}}}, secrets={"sec": {"data": {"pw": "cHc="}}})
    events = prepare_pod(ctx)
    vol = ctx.pod_dir / "volumes/kubernetes.io~projected/all"
    assert mounted == [vol]  # projected volumes live on tmpfs, like secrets
    assert (vol / "cfg/a").read_text() == "1" and (vol / "pw").read_text() == "pw"
    assert (vol / "name").read_text() == "web"
    assert stat.S_IMODE((vol / "..data/pw").stat().st_mode) == 0o440
    assert ("Warning", "UnsupportedVolumeSource",
            'volume "all": projected serviceAccountToken sources are not supported by podrun '
            "(no API server); skipped") in events


def test_api_data_volumes_are_always_read_only(make_ctx: Callable[..., PodContext]) -> None:
    ctx = make_ctx("""
volumes: [{name: cfg, configMap: {name: cfg}}, {name: d, emptyDir: {}}]
containers:
- name: c
  image: busybox
  command: ["true"]
  volumeMounts: [{name: cfg, mountPath: /cfg}, {name: d, mountPath: /d}]
""", configmaps={"cfg": {"data": {"a": "1"}}})
    prepare_pod(ctx)
    m = mounts(container(ctx).config)
    assert "ro" in m["/cfg"]["options"] and "rw" in m["/d"]["options"]


def test_persistent_volume_claim_is_a_local_directory(make_ctx: Callable[..., PodContext],
                                                      tmp_path: Path) -> None:
    ctx = make_ctx("""
volumes: [{name: data, persistentVolumeClaim: {claimName: db}}]
containers:
- name: c
  image: busybox
  command: ["true"]
  volumeMounts: [{name: data, mountPath: /data}]
""")
    prepare_pod(ctx)
    claim = tmp_path / "root" / "persistent-volumes" / "ns1" / "db"
    assert claim.is_dir() and stat.S_IMODE(claim.stat().st_mode) == 0o777
    assert mounts(container(ctx).config)["/data"]["source"] == str(claim)
    cleanup_pod(ctx)
    assert claim.is_dir()  # outlives the pod


def test_downward_api_labels_follow_the_pod(make_ctx: Callable[..., PodContext]) -> None:
    from dataclasses import replace

    from podrun.spec.types import FrozenMap

    ctx = make_ctx("""
volumes: [{name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}]
containers: [{name: c, image: busybox, command: ["true"]}]
""")
    prepare_pod(ctx)
    meta = ctx.pod.metadata
    assert meta is not None
    ctx2 = replace(ctx, pod=replace(ctx.pod, metadata=replace(
        meta, labels=FrozenMap({"app": "web", "v": "2"}))))
    prepare_pod(ctx2)
    vol = ctx.pod_dir / "volumes/kubernetes.io~downward-api/info"
    assert (vol / "labels").read_text() == 'app="web"\nv="2"'
