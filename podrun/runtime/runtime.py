"""The runtime API the lifecycle engine drives: pod sandboxes (one pause each) and the
containers inside them. Blocking calls; the asyncio daemon runs them in worker threads.

Everything needed to find a pod again after a daemon restart lives on disk:

    <run_dir>/sandboxes/<sandbox>/            pause's run dir: pause.sock, pause.pid,
                                              containers/<cid>/{start,exit} (docs/pause.md)
    <run_dir>/sandboxes/<sandbox>/sandbox.json  our record of the sandbox (options, cgroups)
    <run_dir>/sandboxes/<sandbox>/shm/        the pod's /dev/shm: a 64 MiB tmpfs
    <run_dir>/sandboxes/<sandbox>/configs/<cid>.json   the config a container started with
    <run_dir>/sandboxes/<sandbox>/configs/<cid>.error  its start error, if it had one
    <root_dir>/containers/<cid>/{upper,work,rootfs}    overlay dirs of a container

Container start (the numbered sync points match docs/init-helper.md):
  1. the daemon makes a socketpair, writes the config to its end, and asks pause to clone
     `python -I -S init.py` with the other end as fd 3 (new PID + mount namespaces);
  2. pause answers once the helper is exec'd; the daemon closes its copy of fd 3;
  3. the daemon reads fd 3 until EOF: nothing means the user's command was exec'd, one
     JSON line means a step failed (the helper then exits 128: reason StartError).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podrun.errors import HostError, PodrunError
from podrun.runtime import execin, pause, syscalls
from podrun.runtime.cgroups import CgroupManager, NotEnforced
from podrun.runtime.mounts import mounts_under
from podrun.runtime.stop import CgroupTarget, Pidfd, StopResult, stop_container
from podrun.runtime.trash import Trash

INIT_HELPER = Path(__file__).with_name("init.py")
# The interpreter itself, not a venv's symlink to it: the helper is stdlib-only (-I -S) and
# the venv's start-up (pyvenv.cfg, its prefix) costs it ~1 ms for nothing.
HELPER_PYTHON = os.path.realpath(sys.executable)
SHM_SIZE = "64m"  # containerd's defaultShmSize (BEHAVIOR.md 10.6)
# StartError: the task could not start (BEHAVIOR.md 2.3).
START_ERROR_EXIT_CODE = 128
# ContainerStatusUnknown: the container vanished without an exit record (BEHAVIOR.md 2.1).
UNKNOWN_EXIT_CODE = 137


class ContainerStartError(PodrunError):
    """The init helper failed before the user's command ran (reason StartError)."""

    def __init__(self, container_id: str, step: str, message: str, err: int = 0) -> None:
        self.container_id = container_id
        self.step = step
        self.errno = err
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class SandboxOptions:
    pod_uid: str
    hostname: str | None = None
    host_network: bool = False
    host_ipc: bool = False
    host_pid: bool = False
    share_process_namespace: bool = False
    netns_path: str | None = None  # join this netns instead of making one
    cgroup_values: Mapping[str, str] = field(default_factory=dict)
    # the caller's facts (attempt, pod name), kept in sandbox.json from its first write
    record: Mapping[str, Any] = field(default_factory=dict)

    @property
    def containers_get_pid_ns(self) -> bool:
        # shareProcessNamespace/hostPID: containers live in the pod's (or host's) PID ns.
        return not (self.share_process_namespace or self.host_pid)


@dataclass(frozen=True)
class SandboxStatus:
    id: str
    pod_uid: str
    pid: int | None  # pause, in the daemon's PID namespace; None when it is gone
    ready: bool
    created_at: int  # ns since the epoch
    run_dir: Path
    shm_path: Path | None
    netns_path: str | None  # /proc/<pause>/ns/net, for CNI; None for hostNetwork
    not_enforced: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerStatus:
    id: str
    sandbox_id: str
    state: str  # "running", "exited" or "unknown"
    pid: int | None  # the container's init in the daemon's PID namespace (running only)
    started_at: int | None  # ns since the epoch
    finished_at: int | None = None
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""  # Completed, Error, OOMKilled, StartError, ContainerStatusUnknown
    message: str = ""


class Runtime:
    """Sandboxes and containers on this host. One instance per daemon; stateless in memory:
    every query reads pause and the run dir, so a new instance adopts running pods."""

    def __init__(self, run_dir: Path, root_dir: Path, *, cgroups: CgroupManager | None,
                 pause_binary: Path | None = None, log_max_bytes: int | None = None,
                 trash: Trash | None = None) -> None:
        """log_max_bytes: pause's per-file log budget (containerLogMaxSize), None: none."""
        self.run_dir = Path(run_dir)
        self.root_dir = Path(root_dir)
        self.cgroups = cgroups
        self.pause_binary = pause_binary
        self.log_max_bytes = max(0, log_max_bytes or 0)
        self._cgroup_of: dict[str, str | None] = {}  # container id -> cgroupsPath (immutable)
        (self.run_dir / "sandboxes").mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.root_dir / "containers").mkdir(parents=True, exist_ok=True, mode=0o700)
        # removed directories are renamed away at once and deleted in the background;
        # what a crash left there is deleted now
        self.trash = trash if trash is not None else Trash([self.run_dir, self.root_dir])
        self.trash.empty_later()

    # ---- paths -----------------------------------------------------------------------

    def sandbox_dir(self, sandbox_id: str) -> Path:
        return self.run_dir / "sandboxes" / _check_id("sandbox", sandbox_id)

    def container_dir(self, container_id: str) -> Path:
        return self.root_dir / "containers" / _check_id("container", container_id)

    def _config_path(self, sandbox_id: str, container_id: str) -> Path:
        return self.sandbox_dir(sandbox_id) / "configs" / f"{container_id}.json"

    def _client(self, sandbox_id: str) -> pause.PauseClient:
        return pause.PauseClient(self.sandbox_dir(sandbox_id))

    # ---- sandboxes -------------------------------------------------------------------

    def create_sandbox(self, sandbox_id: str, options: SandboxOptions) -> SandboxStatus:
        """Pod cgroup, /dev/shm and pause. Each acquisition registers its undo first, so a
        failure half-way leaves nothing behind."""
        d = self.sandbox_dir(sandbox_id)
        if d.exists():
            raise HostError("create sandbox", "sandbox already exists", path=str(d))
        undo: list[Any] = []
        try:
            d.mkdir(parents=True, mode=0o700)
            undo.append(lambda: shutil.rmtree(d, ignore_errors=True))
            (d / "configs").mkdir(mode=0o700)
            not_enforced: list[NotEnforced] = []
            cgroup_dir: Path | None = None
            if self.cgroups is not None:
                undo.append(lambda: self._remove_pod_cgroup_if_unused(options.pod_uid, sandbox_id))
                _, not_enforced = self.cgroups.create_pod(options.pod_uid, options.cgroup_values)
                cgroup_dir = self.cgroups.sandbox_path(options.pod_uid)
                if not cgroup_dir.exists():
                    cgroup_dir = self.cgroups.create_sandbox(options.pod_uid)
            shm: Path | None = None
            if not options.host_ipc:
                shm = d / "shm"
                shm.mkdir(mode=0o1777)
                undo.append(lambda: _umount_quiet(shm))
                syscalls.mount("shm", str(shm), "tmpfs", syscalls.MS_NOSUID | syscalls.MS_NODEV
                               | syscalls.MS_NOEXEC, f"mode=1777,size={SHM_SIZE}")
            record = {
                **options.record,
                "id": sandbox_id, "podUID": options.pod_uid, "createdAt": time.time_ns(),
                "hostname": options.hostname, "hostNetwork": options.host_network,
                "hostIPC": options.host_ipc, "hostPID": options.host_pid,
                "shareProcessNamespace": options.share_process_namespace,
                "cgroup": str(cgroup_dir) if cgroup_dir else None,
                "shm": str(shm) if shm else None,
                "notEnforced": [str(n) for n in not_enforced],
            }
            _write_json_atomic(d / "sandbox.json", record)
            handle = pause.launch_pause(
                d, new_net=not options.host_network and options.netns_path is None,
                netns_path=options.netns_path, new_ipc=not options.host_ipc,
                new_uts=not options.host_network,
                hostname=None if options.host_network else options.hostname,
                new_pid=not options.host_pid, cgroup_dir=cgroup_dir,
                pause_binary=self.pause_binary)
            undo.append(lambda: pause.kill_pause(handle))
        except BaseException:
            for fn in reversed(undo):
                try:
                    fn()
                except Exception:  # noqa: BLE001 - best effort; the original error wins
                    pass
            raise
        return self.sandbox_status(sandbox_id)

    def sandbox_record(self, sandbox_id: str) -> dict[str, Any]:
        path = self.sandbox_dir(sandbox_id) / "sandbox.json"
        try:
            return dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise HostError("sandbox", f'sandbox "{sandbox_id}" not found',
                            path=str(path)) from None

    def update_sandbox_record(self, sandbox_id: str, fields: dict[str, Any]) -> None:
        """Add the caller's facts (attempt, pod name, pod IPs) to the sandbox record."""
        rec = self.sandbox_record(sandbox_id)
        rec.update(fields)
        _write_json_atomic(self.sandbox_dir(sandbox_id) / "sandbox.json", rec)

    def sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        rec = self.sandbox_record(sandbox_id)
        d = self.sandbox_dir(sandbox_id)
        pid = pause.read_pause_pid(d)
        netns = None if rec.get("hostNetwork") or pid is None else f"/proc/{pid}/ns/net"
        return SandboxStatus(
            id=sandbox_id, pod_uid=rec["podUID"], pid=pid, ready=pid is not None,
            created_at=int(rec["createdAt"]), run_dir=d,
            shm_path=Path(rec["shm"]) if rec.get("shm") else None, netns_path=netns,
            not_enforced=tuple(rec.get("notEnforced") or ()))

    def list_sandboxes(self) -> list[SandboxStatus]:
        out = []
        for d in sorted((self.run_dir / "sandboxes").iterdir()):
            if (d / "sandbox.json").exists():
                try:
                    out.append(self.sandbox_status(d.name))
                except (HostError, ValueError, KeyError):
                    continue
        return out

    def sandbox_pod_uids(self) -> dict[str, str]:
        """{sandbox id: pod uid} from the records alone: no pause round trip per sandbox,
        for the periodic orphan scan (which needs nothing else)."""
        out = {}
        for d in (self.run_dir / "sandboxes").iterdir():
            try:
                out[d.name] = str(json.loads((d / "sandbox.json").read_bytes())["podUID"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return out

    def sandbox_pidfd(self, sandbox_id: str) -> int | None:
        """A pidfd of pause, readable when the sandbox dies (the caller closes it)."""
        pid = pause.read_pause_pid(self.sandbox_dir(sandbox_id))
        if pid is None:
            return None
        try:
            return os.pidfd_open(pid)
        except ProcessLookupError:
            return None

    def stop_sandbox(self, sandbox_id: str, timeout: float = 10.0) -> None:
        """Tear the pod's processes down: pause SIGKILLs every container, writes their exit
        records and exits. Idempotent."""
        d = self.sandbox_dir(sandbox_id)
        pid = pause.read_pause_pid(d)
        if pid is None:
            return
        try:
            pause.kill_pause(pause.PauseHandle(pid, d), timeout=timeout)
        except HostError:
            if pause.read_pause_pid(d) is not None:
                raise

    def remove_sandbox(self, sandbox_id: str) -> None:
        """Stop the sandbox, then remove its containers, /dev/shm, cgroups and run dir."""
        d = self.sandbox_dir(sandbox_id)
        if not d.exists():
            return
        self.stop_sandbox(sandbox_id)
        rec = self.sandbox_record(sandbox_id)
        for cfg in sorted((d / "configs").glob("*.json")):
            self._remove_container_files(sandbox_id, cfg.stem)
        if rec.get("shm"):
            _umount_quiet(Path(rec["shm"]))
        self._remove_pod_cgroup_if_unused(rec["podUID"], sandbox_id)
        # anything still mounted below (a pinned netns the caller did not release) would
        # outlive the sandbox: detach it; then the directory leaves sandboxes/ in one
        # rename (until then list_sandboxes sees it and a failed removal is retried)
        for mnt in mounts_under(d):
            if mnt != str(d):
                _umount_quiet(Path(mnt))
        self.trash.discard(d)

    def _remove_pod_cgroup_if_unused(self, pod_uid: str, sandbox_id: str) -> None:
        if self.cgroups is None:
            return
        for other in self.list_sandboxes():
            if other.pod_uid == pod_uid and other.id != sandbox_id:
                return  # a newer sandbox of the same pod still uses it
        self.cgroups.remove_pod(pod_uid)

    # ---- containers ------------------------------------------------------------------

    def create_container(self, sandbox_id: str, container_id: str, config: dict[str, Any], *,
                         log_path: Path | None, lowerdirs: Sequence[str] | None = None,
                         cgroup_values: Mapping[str, str] | None = None,
                         stdin: bool = False) -> tuple[ContainerStatus, list[NotEnforced]]:
        """Create and start a container in the sandbox; returns its running status and the
        limits that could not be enforced. Raises ContainerStartError (reason StartError,
        exit code 128) when the init helper fails before the command runs.

        config: the init helper's document (ocispec.build_config). The runtime fills in
        the rootfs (an overlay over `lowerdirs` with a private upper dir, or
        config["root"]["path"] as is), the container cgroup and the pod's /dev/shm.
        """
        rec = self.sandbox_record(sandbox_id)
        config = json.loads(json.dumps(config))  # our own copy
        not_enforced: list[NotEnforced] = []
        cdir = self.container_dir(container_id)
        if lowerdirs is not None:
            for sub in ("upper", "work", "rootfs"):
                (cdir / sub).mkdir(parents=True, exist_ok=True)
            config.setdefault("podrun", {})["overlay"] = {
                "lowerdirs": list(lowerdirs), "upperdir": str(cdir / "upper"),
                "workdir": str(cdir / "work")}
            config.setdefault("root", {})["path"] = str(cdir / "rootfs")
        if self.cgroups is not None:
            cg, not_enforced = self.cgroups.create_container(
                rec["podUID"], container_id, dict(cgroup_values or {}))
            config.setdefault("linux", {})["cgroupsPath"] = str(cg)
        if rec.get("shm"):
            for m in config.get("mounts", []):
                if m.get("destination") == "/dev/shm":
                    m.update({"type": "bind", "source": rec["shm"],
                              "options": ["rbind", "nosuid", "nodev", "noexec"]})
        elif rec.get("hostIPC"):
            for m in config.get("mounts", []):
                if m.get("destination") == "/dev/shm":
                    m.update({"type": "bind", "source": "/dev/shm",
                              "options": ["rbind", "nosuid", "nodev", "noexec"]})
        cfg_path = self._config_path(sandbox_id, container_id)
        _write_json_atomic(cfg_path, config)
        cfg_path.with_suffix(".error").unlink(missing_ok=True)
        if log_path is not None:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)

        # sync 1: the helper reads the config from fd 3; it is sent once pause answered
        # (the helper is still starting its interpreter then), so it can say whether
        # pause cloned the helper straight into the container's cgroup.
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
            try:
                created = self._client(sandbox_id).create(
                    container_id, [HELPER_PYTHON, "-I", "-S", str(INIT_HELPER)], env=env,
                    # no ns=mnt: the helper unshares its own mount namespace first
                    # thing; a second copy of the host's mount table costs ~5 ms
                    new_pid_ns=_wants_pid_ns(config), new_mount_ns=False,
                    log_path=str(log_path) if log_path else None, stdin_pipe=stdin,
                    fds=[child.fileno()], log_max=self.log_max_bytes or None,
                    cgroup_dir=(config.get("linux") or {}).get("cgroupsPath"))
            finally:
                child.close()  # sync 2: only the helper holds fd 3 now
            if created.in_cgroup:
                config.setdefault("podrun", {})["cgroupJoined"] = True
            try:
                parent.sendall(json.dumps(config).encode() + b"\n")
            except OSError:
                pass  # the helper is gone already: what it said (or its silence) follows
            # sync 3: EOF = the command was exec'd; a line = a failed step.
            parent.settimeout(60)
            data = b""
            while chunk := parent.recv(65536):
                data += chunk
        finally:
            parent.close()
        if data.strip():
            try:
                err = json.loads(data.decode(errors="replace").splitlines()[0])
            except ValueError:
                err = {"step": "start", "message": data.decode(errors="replace").strip()}
            _write_json_atomic(cfg_path.with_suffix(".error"), err)
            pause.wait_exit_record(self.sandbox_dir(sandbox_id), container_id, timeout=5.0)
            raise ContainerStartError(container_id, str(err.get("step", "")),
                                      str(err.get("message", "")), int(err.get("errno", 0)))
        return (ContainerStatus(container_id, sandbox_id, "running", created.pid,
                                created.started_at), not_enforced)

    def container_config(self, sandbox_id: str, container_id: str) -> dict[str, Any]:
        return dict(json.loads(self._config_path(sandbox_id, container_id).read_text()))

    def list_containers(self, sandbox_id: str) -> list[ContainerStatus]:
        """Every container podrun created in the sandbox, with state from pause (when it is
        alive) and from the exit records on disk (always)."""
        d = self.sandbox_dir(sandbox_id)
        configs = sorted((d / "configs").glob("*.json"))
        if not configs:
            return []  # a new sandbox (the observe on the way to its first container start)
        infos: dict[str, pause.ContainerInfo] = {}
        if pause.read_pause_pid(d) is not None:
            try:
                infos = {i.id: i for i in self._client(sandbox_id).list()}
            except HostError:
                infos = {}
        return [self._status(sandbox_id, cfg.stem, infos.get(cfg.stem)) for cfg in configs]

    def container_status(self, sandbox_id: str, container_id: str) -> ContainerStatus:
        for st in self.list_containers(sandbox_id):
            if st.id == container_id:
                return st
        raise HostError("container", f'container "{container_id}" not found',
                        path=str(self.sandbox_dir(sandbox_id)))

    def _status(self, sandbox_id: str, cid: str,
                info: pause.ContainerInfo | None) -> ContainerStatus:
        d = self.sandbox_dir(sandbox_id)
        if info is not None and info.running:
            return ContainerStatus(cid, sandbox_id, "running", info.pid, info.started_at)
        err_path = self._config_path(sandbox_id, cid).with_suffix(".error")
        record = pause.read_exit_record(d, cid)
        if err_path.exists():
            err = json.loads(err_path.read_text())
            return ContainerStatus(
                cid, sandbox_id, "exited", None, record.started_at if record else None,
                record.finished_at if record else time.time_ns(), START_ERROR_EXIT_CODE, 0,
                "StartError", str(err.get("message", "")))
        if record is None and info is not None and info.exit_code is not None:
            # pause has reaped it but not yet written the record: its reply has the facts
            record = pause.ExitRecord(cid, info.ns_pid, info.exit_code, info.signal or 0,
                                      bool(info.core_dumped), info.started_at,
                                      info.finished_at or time.time_ns(), info.status or 0)
        if record is None:
            # Created but no exit record: pause died with it (sandbox death).
            return ContainerStatus(cid, sandbox_id, "unknown", None, None, None,
                                   UNKNOWN_EXIT_CODE, 0, "ContainerStatusUnknown",
                                   "The container could not be located when the pod was "
                                   "terminated")
        reason = "Completed" if record.exit_code == 0 else "Error"
        if self._oom_killed(sandbox_id, cid):
            reason = "OOMKilled"
        return ContainerStatus(cid, sandbox_id, "exited", None, record.started_at,
                               record.finished_at, record.exit_code, record.signal, reason)

    def _container_cgroup(self, sandbox_id: str, cid: str) -> str | None:
        if cid not in self._cgroup_of:
            self._cgroup_of[cid] = self.container_config(sandbox_id, cid).get(
                "linux", {}).get("cgroupsPath")
        return self._cgroup_of[cid]

    def _oom_killed(self, sandbox_id: str, cid: str) -> bool:
        if self.cgroups is None:
            return False
        cg = self._container_cgroup(sandbox_id, cid)
        if not cg:
            return False
        try:
            return (self.cgroups.oom_kill_count(Path(cg)) or 0) > 0
        except (HostError, OSError):
            return False

    def signal_container(self, sandbox_id: str, container_id: str, sig: int) -> None:
        self._client(sandbox_id).signal(container_id, sig)

    def stop_container(self, sandbox_id: str, container_id: str, *, grace_seconds: float,
                       stop_signal: int | str = signal.SIGTERM) -> StopResult | None:
        """Stop signal to the container's init, wait the grace, then SIGKILL the whole
        container cgroup (BEHAVIOR.md 6.2 step 5). None when it was not running."""
        st = self.container_status(sandbox_id, container_id)
        if st.state != "running" or st.pid is None:
            return None
        try:
            fd = os.pidfd_open(st.pid)
        except ProcessLookupError:
            return None
        try:
            cg = self.container_config(sandbox_id, container_id).get("linux", {}).get(
                "cgroupsPath")
            target = (CgroupTarget(self.cgroups, Path(cg))
                      if self.cgroups is not None and cg else None)
            result = stop_container(Pidfd(fd), target, stop_signal=stop_signal,
                                    grace_seconds=grace_seconds)
        finally:
            os.close(fd)
        pause.wait_exit_record(self.sandbox_dir(sandbox_id), container_id, timeout=5.0)
        return result

    def remove_container(self, sandbox_id: str, container_id: str) -> None:
        """Forget an exited container: pause's record, its cgroup, overlay dirs, config."""
        st = self.container_status(sandbox_id, container_id)
        if st.state == "running":
            raise HostError("remove container", f'container "{container_id}" is running')
        self._remove_container_files(sandbox_id, container_id)

    def _remove_container_files(self, sandbox_id: str, cid: str) -> None:
        d = self.sandbox_dir(sandbox_id)
        cfg_path = self._config_path(sandbox_id, cid)
        cg = None
        if cfg_path.exists():
            cg = json.loads(cfg_path.read_text()).get("linux", {}).get("cgroupsPath")
        if pause.read_pause_pid(d) is not None:
            try:
                self._client(sandbox_id).remove(cid)
            except HostError as e:
                if e.errno not in (2,):  # ENOENT: pause never heard of it
                    raise
        if self.cgroups is not None and cg and Path(cg).exists():
            self.cgroups.kill(Path(cg))
            self.cgroups.remove(Path(cg))
        cdir = self.container_dir(cid)
        if cdir.exists():
            _umount_quiet(cdir / "rootfs")
            self.trash.discard(cdir)
        self.trash.discard(d / "containers" / cid)
        cfg_path.with_suffix(".error").unlink(missing_ok=True)
        cfg_path.unlink(missing_ok=True)
        self._cgroup_of.pop(cid, None)

    def reopen_log(self, sandbox_id: str, container_id: str, path: Path | None = None) -> None:
        self._client(sandbox_id).reopen_log(container_id, str(path) if path else None)

    # ---- exec ------------------------------------------------------------------------

    def _running_pid(self, sandbox_id: str, container_id: str) -> int:
        st = self.container_status(sandbox_id, container_id)
        if st.state != "running" or st.pid is None:
            raise HostError("exec", f'container "{container_id}" is not running')
        return st.pid

    def exec_sync(self, sandbox_id: str, container_id: str, argv: list[str], *,
                  timeout: float | None = None, stdin: bytes | None = None,
                  env: list[str] | None = None) -> execin.ExecResult:
        """Run argv in the container and capture its output (exec probes and hooks)."""
        pid = self._running_pid(sandbox_id, container_id)
        return execin.exec_capture(pid, self.container_config(sandbox_id, container_id), argv,
                                   env=env, stdin=stdin, timeout=timeout)

    def exec(self, sandbox_id: str, container_id: str, argv: list[str], *, tty: bool = False,
             stdin: Any = None, stdout: Any = None, stderr: Any = None,
             env: list[str] | None = None, timeout: float | None = None) -> int:
        """Run argv in the container with the given stdio; returns its exit code."""
        pid = self._running_pid(sandbox_id, container_id)
        return execin.exec_in_container(pid, self.container_config(sandbox_id, container_id),
                                        argv, env=env, tty=tty, stdin=stdin, stdout=stdout,
                                        stderr=stderr, timeout=timeout)


def _wants_pid_ns(config: Mapping[str, Any]) -> bool:
    return any(ns.get("type") == "pid" and not ns.get("path")
               for ns in config.get("linux", {}).get("namespaces", []))


def _check_id(kind: str, value: str) -> str:
    ok = (0 < len(value) <= 128 and not value.startswith(".")
          and all(c.isalnum() or c in "_.-" for c in value) and value.isascii())
    if not ok:
        raise HostError(f"{kind} id", f"invalid {kind} id {value!r}: 1-128 of [A-Za-z0-9_.-], "
                        "not starting with '.'")
    return value


def _write_json_atomic(path: Path, data: Any) -> None:
    """tmp file + rename: a reader (and a daemon restarted after a SIGKILL) sees the old or
    the new content, never a mix. No fsync: these files describe live processes (pause and
    its containers) and live in the run dir, tmpfs by default; after a power loss there is
    nothing left for them to describe, and a daemon crash does not lose the page cache.
    The fsyncs cost up to tens of ms per pod start on a busy disk."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def _umount_quiet(path: Path) -> None:
    try:
        syscalls.umount2(str(path), syscalls.MNT_DETACH)
    except OSError:
        pass
