"""prepare_pod + build_container through the real runtime: env, /etc/hosts, volumes, users.

Issue "Volumes, environment and security context", acceptance items that one host can show.
"""

from __future__ import annotations

import os
import socket
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from podrun.agent.containers import CreateContainerConfigError, ImageConfig, prepare_pod
from podrun.agent.volumes import VolumeSetupError

from .conftest import POD_IP, PodRun

pytestmark = pytest.mark.privileged

MakePod = Callable[..., PodRun]


def pod(containers: str, volumes: str = "", extra_spec: str = "", name: str = "p") -> str:
    text = f"""
    apiVersion: v1
    kind: Pod
    metadata: {{name: {name}, namespace: default}}
    spec:
      restartPolicy: Never
    """
    text = textwrap.dedent(text)
    if extra_spec:
        text += textwrap.indent(textwrap.dedent(extra_spec), "  ")
    if volumes:
        text += "  volumes:\n" + textwrap.indent(textwrap.dedent(volumes), "  ")
    text += "  containers:\n" + textwrap.indent(textwrap.dedent(containers), "  ")
    return text


def test_env_order_and_expanded_args(make_pod: MakePod) -> None:
    run = make_pod(pod("""
        - name: c
          image: busybox
          command: [sh, -c]
          args: ["echo 'ARGS $(FOO) $$(FOO) $(UNDEFINED)'; env"]
          env:
          - {name: FOO, value: foo-value}
          - {name: BAR, value: bar-value}
          - {name: FOOBAR, value: "$(FOO);;$(BAR)"}
          - name: POD_NAME
            valueFrom: {fieldRef: {fieldPath: metadata.name}}
          - name: POD_IP
            valueFrom: {fieldRef: {fieldPath: status.podIP}}
        """), configmaps={})
    code, out = run.run("c", ImageConfig(env=("PATH=/bin:/usr/bin", "FOO=from-image",
                                              "IMG=1")))
    assert code == 0, out
    assert "ARGS foo-value $(FOO) $(UNDEFINED)\n" in out
    env = [line for line in out.splitlines() if "=" in line and not line.startswith("ARGS")]
    assert "FOOBAR=foo-value;;bar-value" in env
    assert "FOO=foo-value" in env and "IMG=1" in env
    assert "HOSTNAME=p" in env and "POD_NAME=p" in env and f"POD_IP={POD_IP}" in env


def test_etc_hosts_has_host_aliases_and_hostname(make_pod: MakePod) -> None:
    run = make_pod(pod("""
        - name: c
          image: busybox
          command: [sh, -c, "cat /etc/hosts; echo; cat /etc/hostname; hostname"]
        """, extra_spec="""
        hostAliases:
        - {ip: 123.45.67.89, hostnames: [foo, bar]}
        """))
    code, out = run.run("c")
    assert code == 0, out
    assert "123.45.67.89\tfoo\tbar\n" in out
    assert f"{POD_IP}\tp\n" in out
    assert out.rstrip().splitlines()[-2:] == ["p", "p"]


def test_configmap_volume_updates_through_the_data_swap(make_pod: MakePod) -> None:
    cms = {"cfg": {"data": {"greeting": "hello"}}}
    run = make_pod(pod("""
        - name: c
          image: busybox
          command: [sh, -c, "sleep 1000"]
          volumeMounts: [{name: cfg, mountPath: /etc/cfg}]
        """, volumes="""
        - name: cfg
          configMap: {name: cfg}
        """), configmaps=cms)
    run.start("c")
    r = run.exec("c", ["cat", "/etc/cfg/greeting"])
    assert r.stdout == b"hello"
    r = run.exec("c", ["readlink", "/etc/cfg/..data"])
    first = r.stdout.strip()
    assert first.startswith(b"..")
    cms["cfg"] = {"data": {"greeting": "bonjour", "new": "x"}}
    run.events.extend(prepare_pod(run.ctx))
    r = run.exec("c", ["sh", "-c", "cat /etc/cfg/greeting /etc/cfg/new; readlink /etc/cfg/..data"])
    lines = r.stdout.decode()
    assert lines.startswith("bonjourx")
    assert lines.strip().splitlines()[-1].encode() != first


def test_secret_volume_is_on_tmpfs(make_pod: MakePod) -> None:
    secrets = {"s": {"data": {"password": "c2VjcmV0"}}}
    run = make_pod(pod("""
        - name: c
          image: busybox
          command: [sh, -c, "cat /s/password; echo; grep ' /s ' /proc/mounts; stat -c %a /s/..data/password"]
          volumeMounts: [{name: s, mountPath: /s, readOnly: true}]
        """, volumes="""
        - name: s
          secret: {secretName: s, defaultMode: 0400}
        """), secrets=secrets)
    code, out = run.run("c")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "secret"
    assert " tmpfs " in lines[1] and " ro," in lines[1]
    assert lines[2] == "400"


def test_empty_dir_is_shared_between_containers(make_pod: MakePod) -> None:
    run = make_pod(pod("""
        - name: writer
          image: busybox
          command: [sh, -c, "echo shared > /data/f"]
          volumeMounts: [{name: d, mountPath: /data}]
        - name: reader
          image: busybox
          command: [cat, /cache/f]
          volumeMounts: [{name: d, mountPath: /cache}]
        - name: mem
          image: busybox
          command: [sh, -c, "grep ' /m ' /proc/mounts"]
          volumeMounts: [{name: m, mountPath: /m}]
        """, volumes="""
        - name: d
          emptyDir: {}
        - name: m
          emptyDir: {medium: Memory, sizeLimit: 1Mi}
        """))
    assert run.run("writer")[0] == 0
    assert run.run("reader") == (0, "shared\n")
    code, out = run.run("mem")
    assert code == 0 and " tmpfs " in out and "size=1024k" in out, out


@pytest.mark.parametrize(("kind", "make", "message"), [
    ("Directory", None, "is not a directory"),
    ("File", "dir", "is not a file"),
    ("Socket", "file", "is not a socket file"),
    ("CharDevice", "file", "is not a character device"),
    ("BlockDevice", "file", "is not a block device"),
])
def test_host_path_type_errors(make_pod: MakePod, base: Path, kind: str, make: str | None,
                               message: str) -> None:
    target = base / "hp"
    if make == "dir":
        target.mkdir()
    elif make == "file":
        target.write_text("x")
    manifest = pod("""
        - name: c
          image: busybox
          command: ["true"]
        """, volumes=f"""
        - name: hp
          hostPath: {{path: {target}, type: {kind}}}
        """)
    with pytest.raises(VolumeSetupError) as e:
        make_pod(manifest)
    failed = [ev for ev in e.value.events if ev[1] == "FailedMount"]
    assert failed and failed[0][2] == (
        f'MountVolume.SetUp failed for volume "hp" : hostPath type check failed: '
        f"{target} {message}")


def test_host_path_or_create_and_socket(make_pod: MakePod, base: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(base / "sock"))
    try:
        run = make_pod(pod("""
            - name: c
              image: busybox
              command: [sh, -c, "test -d /d && test -f /f && test -S /s && echo ok"]
              volumeMounts:
              - {name: d, mountPath: /d}
              - {name: f, mountPath: /f}
              - {name: s, mountPath: /s}
            """, volumes=f"""
            - name: d
              hostPath: {{path: {base}/new/dir, type: DirectoryOrCreate}}
            - name: f
              hostPath: {{path: {base}/new/file, type: FileOrCreate}}
            - name: s
              hostPath: {{path: {base}/sock, type: Socket}}
            """))
        assert run.run("c") == (0, "ok\n")
        assert (base / "new/dir").is_dir() and (base / "new/file").is_file()
    finally:
        sock.close()


def test_sub_path_and_sub_path_expr(make_pod: MakePod) -> None:
    run = make_pod(pod("""
        - name: prep
          image: busybox
          command: [sh, -c, "mkdir -p /v/a && echo in-a > /v/a/f && echo top > /v/top"]
          volumeMounts: [{name: v, mountPath: /v}]
        - name: c
          image: busybox
          command: [sh, -c, "cat /a/f /top-file; ls /named"]
          env:
          - name: POD_NAME
            valueFrom: {fieldRef: {fieldPath: metadata.name}}
          volumeMounts:
          - {name: v, mountPath: /a, subPath: a}
          - {name: v, mountPath: /top-file, subPath: top}
          - {name: v, mountPath: /named, subPathExpr: "$(POD_NAME)"}
        """, volumes="""
        - name: v
          emptyDir: {}
        """))
    assert run.run("prep")[0] == 0
    code, out = run.run("c")
    assert (code, out) == (0, "in-a\ntop\n"), out
    assert (run.ctx.pod_dir / "volumes/kubernetes.io~empty-dir/v/p").is_dir()


def test_sub_path_symlink_escape_is_refused(make_pod: MakePod, base: Path) -> None:
    secret_dir = base / "host-secret"
    secret_dir.mkdir()
    (secret_dir / "shadow").write_text("host data")
    run = make_pod(pod("""
        - name: attacker
          image: busybox
          command: [sh, -c, "ln -s HOSTDIR /v/escape && ln -s /etc /v/etc"]
          volumeMounts: [{name: v, mountPath: /v}]
        - name: victim
          image: busybox
          command: [cat, /mnt/shadow]
          volumeMounts: [{name: v, mountPath: /mnt, subPath: escape}]
        """.replace("HOSTDIR", str(secret_dir)), volumes="""
        - name: v
          emptyDir: {}
        """))
    assert run.run("attacker")[0] == 0
    with pytest.raises(CreateContainerConfigError) as e:
        run.start("victim")
    assert "not within volume path" in str(e.value)


def test_sub_path_open_refuses_a_symlinked_component(base: Path) -> None:
    from podrun.agent.volumes import VolumeError, _open_beneath

    (base / "vol" / "real").mkdir(parents=True)
    os.symlink("/etc", base / "vol" / "link")
    fd = _open_beneath(str(base / "vol"), "real", create_dirs=False, dir_mode=0o755)
    os.close(fd)
    with pytest.raises(VolumeError, match="is a symlink"):
        _open_beneath(str(base / "vol"), "link", create_dirs=False, dir_mode=0o755)


def test_read_only_mount_refuses_writes(make_pod: MakePod) -> None:
    run = make_pod(pod("""
        - name: c
          image: busybox
          command: [sh, -c, "echo x > /ro/f"]
          volumeMounts: [{name: v, mountPath: /ro, readOnly: true}]
        """, volumes="""
        - name: v
          emptyDir: {}
        """))
    code, out = run.run("c")
    assert code != 0 and "Read-only file system" in out, out


def test_run_as_user_and_termination_log_writable_by_non_root(make_pod: MakePod) -> None:
    run = make_pod(pod("""
        - name: c
          image: busybox
          command: [sh, -c, "id -u; id -g; id -G; echo -n DONE > /dev/termination-custom-log"]
          terminationMessagePath: /dev/termination-custom-log
          securityContext: {runAsUser: 1000, runAsGroup: 3000}
        """, extra_spec="""
        securityContext: {supplementalGroups: [4000], fsGroup: 5000}
        """))
    code, out = run.run("c")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "1000" and lines[1] == "3000"
    assert {"4000", "5000"} <= set(lines[2].split())
    path = run.launches["c"].termination_message_path
    assert path is not None and path.read_text() == "DONE"


def test_run_as_non_root_with_root_image_is_a_config_error(make_pod: MakePod) -> None:
    run = make_pod(pod("""
        - name: c
          image: busybox
          command: ["true"]
          securityContext: {runAsNonRoot: true}
        """))
    with pytest.raises(CreateContainerConfigError, match="image will run as root"):
        run.start("c")


def test_missing_configmap_key_is_a_config_error(make_pod: MakePod) -> None:
    run = make_pod(pod("""
        - name: c
          image: busybox
          command: ["true"]
          env:
          - name: X
            valueFrom: {configMapKeyRef: {name: cfg, key: nope}}
        """), configmaps={"cfg": {"data": {"k": "v"}}})
    with pytest.raises(CreateContainerConfigError,
                       match="couldn't find key nope in ConfigMap default/cfg"):
        run.start("c")


def test_downward_api_volume_files(make_pod: MakePod) -> None:
    run = make_pod(pod("""
        - name: c
          image: busybox
          command: [sh, -c, "cat /info/labels; echo; cat /info/name; echo; cat /info/mem"]
          resources: {limits: {memory: 64Mi}}
          volumeMounts: [{name: info, mountPath: /info}]
        """, volumes="""
        - name: info
          downwardAPI:
            items:
            - path: labels
              fieldRef: {fieldPath: metadata.labels}
            - path: name
              fieldRef: {fieldPath: metadata.name}
            - path: mem
              resourceFieldRef: {containerName: c, resource: limits.memory, divisor: 1Mi}
        """).replace("namespace: default}", "namespace: default, labels: {app: web, tier: x}}"))
    code, out = run.run("c")
    assert code == 0, out
    assert out.splitlines() == ['app="web"', 'tier="x"', "p", "64"]


def test_fs_group_owns_empty_dir_and_configmap_files(make_pod: MakePod) -> None:
    run = make_pod(pod("""
        - name: c
          image: busybox
          command: [sh, -c, "stat -c '%g %A' /data /cfg/..data/k; touch /data/mine && stat -c %g /data/mine"]
          securityContext: {runAsUser: 1000}
          volumeMounts:
          - {name: d, mountPath: /data}
          - {name: cfg, mountPath: /cfg}
        """, volumes="""
        - name: d
          emptyDir: {}
        - name: cfg
          configMap: {name: cfg}
        """, extra_spec="""
        securityContext: {fsGroup: 5000}
        """), configmaps={"cfg": {"data": {"k": "v"}}})
    code, out = run.run("c")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "5000 drwxrwsrwx"
    assert lines[1] == "5000 -rw-r--r--"
    assert lines[2] == "5000"  # setgid directory: new files get the fsGroup


def test_capabilities_seccomp_sysctls_and_read_only_root(make_pod: MakePod) -> None:
    run = make_pod(pod("""
        - name: c
          image: busybox
          command: [/bin/sh, -c, "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/1/status; cat /proc/sys/net/ipv4/ip_unprivileged_port_start; echo test > /file"]
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            seccompProfile: {type: RuntimeDefault}
            capabilities: {drop: [ALL], add: [NET_ADMIN]}
        """, extra_spec="""
        securityContext:
          sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "81"}]
        """))
    code, out = run.run("c")
    assert code != 0
    assert "CapEff:\t0000000000001000\n" in out
    assert "Seccomp:\t2\n" in out and "NoNewPrivs:\t1\n" in out
    assert "81\n" in out
    assert out.endswith("/bin/sh: can't create /file: Read-only file system\n"), out


def test_sub_path_symlink_swap_race_never_escapes(base: Path) -> None:
    """CVE-2017-1002101: the subPath flips between a directory and a symlink to a host
    directory (renameat2 RENAME_EXCHANGE, so it always exists) while podrun prepares the
    bind; whatever it mounts must be inside the volume."""
    import ctypes
    import threading

    from podrun.agent.volumes import VolumeError, is_mounted, prepare_sub_path
    from podrun.runtime import syscalls

    libc = ctypes.CDLL(None, use_errno=True)
    vol, outside = base / "vol", base / "outside"
    (vol / "sub").mkdir(parents=True)
    (vol / "sub" / "ok").write_text("inside")
    outside.mkdir()
    (outside / "ok").write_text("OUTSIDE")
    os.symlink(outside, vol / "alt")
    stop = threading.Event()

    def attacker() -> None:
        a, b = str(vol / "sub").encode(), str(vol / "alt").encode()
        while not stop.is_set():
            libc.renameat2(-100, a, -100, b, 2)  # AT_FDCWD, RENAME_EXCHANGE

    t = threading.Thread(target=attacker, daemon=True)
    t.start()
    mounted = refused = 0
    try:
        for i in range(300):
            dest = base / "binds" / str(i)
            try:
                prepare_sub_path(vol, "sub", dest)
            except (VolumeError, OSError):
                refused += 1
                continue
            try:
                mounted += 1
                assert (dest / "ok").read_text() == "inside"
            finally:
                syscalls.umount2(str(dest), syscalls.MNT_DETACH)
                assert not is_mounted(dest)
    finally:
        stop.set()
        t.join()
    assert mounted > 0 and refused > 0, (mounted, refused)
