"""Launch a pod's pause monitor and talk to it over its control socket (docs/pause.md).

Blocking on purpose: the asyncio daemon calls it in a worker thread. Every failure is a
HostError naming the request, the errno pause reported and the run directory.
"""

from __future__ import annotations

import errno as _errno
import json
import os
import select
import signal as _signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from podrun.errors import HostError

SOCKET_NAME = "pause.sock"
PID_NAME = "pause.pid"
CONTAINERS_DIR = "containers"
REQUEST_MAX = 192 * 1024  # pause's REQ_MAX: one request is one SOCK_SEQPACKET message
REPLY_MAX = 1024 * 1024
MAX_PASSED_FDS = 16
MAX_REPLY_FDS = 253  # SCM_MAX_FD
NS_PID = "pid"
NS_MNT = "mnt"

Value = str | bytes | int


# ---- wire format (pure) ------------------------------------------------------------------


def _bytes(v: Value) -> bytes:
    if isinstance(v, bool):
        return b"1" if v else b"0"
    if isinstance(v, int):
        return str(v).encode()
    if isinstance(v, str):
        return os.fsencode(v)
    return bytes(v)


def encode_request(verb: str, fields: Iterable[tuple[str, Value]] = ()) -> bytes:
    """`verb\\0key=value\\0...`: NUL-terminated fields, repeated keys keep their order."""
    if not verb or "\0" in verb or "=" in verb:
        raise ValueError(f"bad request verb {verb!r}")
    out = [verb.encode(), b"\0"]
    for key, value in fields:
        if not key or "\0" in key or "=" in key:
            raise ValueError(f"bad field name {key!r}")
        data = _bytes(value)
        if b"\0" in data:
            raise ValueError(f"field {key} contains a NUL byte")
        out += [key.encode(), b"=", data, b"\0"]
    msg = b"".join(out)
    if len(msg) > REQUEST_MAX:
        raise ValueError(f"request is {len(msg)} bytes, pause takes at most {REQUEST_MAX}")
    return msg


@dataclass(frozen=True)
class Reply:
    ok: bool
    fields: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.fields:
            if k == key:
                return v
        return default

    def records(self, first_key: str = "id") -> list[dict[str, str]]:
        """Split a list reply into one dict per record; each record starts at first_key."""
        out: list[dict[str, str]] = []
        for k, v in self.fields:
            if k == first_key:
                out.append({})
            if out:
                out[-1][k] = v
        return out


def decode_reply(data: bytes) -> Reply:
    if not data or not data.endswith(b"\0"):
        raise ValueError("reply is empty or not NUL-terminated")
    parts = data[:-1].split(b"\0")
    status = parts[0].decode()
    if status not in ("ok", "error"):
        raise ValueError(f"reply status {status!r} is neither ok nor error")
    fields = []
    for part in parts[1:]:
        key, sep, value = part.partition(b"=")
        if not sep:
            raise ValueError(f"reply field {part[:40]!r} has no '='")
        fields.append((key.decode(), value.decode("utf-8", "surrogateescape")))
    return Reply(status == "ok", tuple(fields))


# ---- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PauseHandle:
    """A running pause: its pid as the daemon sees it, and its run directory."""

    pid: int
    run_dir: Path

    def client(self, timeout: float = 10.0) -> PauseClient:
        return PauseClient(self.run_dir, timeout=timeout)


@dataclass(frozen=True)
class CreatedContainer:
    id: str
    pid: int  # in the daemon's PID namespace: usable for /proc/PID/ns/* and pidfd_open
    ns_pid: int  # in the pod's PID namespace (pause's view)
    started_at: int  # ns since the epoch
    pidfd: int | None = None  # only with keep_pidfd=True; the caller closes it
    in_cgroup: bool = False  # pause cloned it into create(cgroup_dir=...): no migration


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    state: str  # "running" or "exited"
    pid: int | None  # daemon's PID namespace; None once exited
    ns_pid: int
    started_at: int
    finished_at: int | None = None
    exit_code: int | None = None
    signal: int | None = None
    core_dumped: bool | None = None
    status: int | None = None  # raw wait status

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class ExitRecord:
    id: str
    pid: int  # in the pod's PID namespace
    exit_code: int  # 128+signal when killed
    signal: int
    core_dumped: bool
    started_at: int
    finished_at: int
    status: int


def read_exit_record(run_dir: str | os.PathLike[str], container_id: str) -> ExitRecord | None:
    """The exit record pause wrote when the container exited, or None while it runs."""
    path = Path(run_dir) / CONTAINERS_DIR / container_id / "exit"
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise HostError("read exit record", str(e), err=getattr(e, "errno", 0) or 0,
                        path=str(path)) from e
    return ExitRecord(id=doc["id"], pid=doc["pid"], exit_code=doc["exitCode"],
                      signal=doc["signal"], core_dumped=doc["coreDumped"],
                      started_at=doc["startedAt"], finished_at=doc["finishedAt"],
                      status=doc["status"])


def pid_of_pidfd(pidfd: int) -> int | None:
    """The pid behind a pidfd in our PID namespace (the kernel translates it), or None."""
    with open(f"/proc/self/fdinfo/{pidfd}") as f:
        for line in f:
            if line.startswith("Pid:"):
                pid = int(line.split()[1])
                return pid if pid > 0 else None
    return None


def wait_for_exit(pid: int, timeout: float | None = None) -> bool:
    """True once process `pid` is gone, False on timeout. Works for non-children: the
    daemon is not pause's parent. Race-free only if `pid` cannot be reused meanwhile
    (hold a pidfd from launch time via wait_for_pidfd for that)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return wait_for_pidfd(fd, timeout)
    finally:
        os.close(fd)


def wait_for_pidfd(pidfd: int, timeout: float | None = None) -> bool:
    p = select.poll()
    p.register(pidfd, select.POLLIN)
    return bool(p.poll(None if timeout is None else max(0, int(timeout * 1000))))


# ---- launching ----------------------------------------------------------------------------


def find_pause_binary() -> Path:
    """PODRUN_PAUSE, then <sys.prefix>/libexec/podrun/pause, then the source tree's build."""
    env = os.environ.get("PODRUN_PAUSE")
    candidates = [Path(env)] if env else []
    candidates += [Path(sys.prefix) / "libexec/podrun/pause",
                   Path(__file__).resolve().parents[2] / "pause/build/pause"]
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    raise HostError("find pause", "no pause binary (set PODRUN_PAUSE or run tests/setup.sh)",
                    err=_errno.ENOENT, path=str(candidates[0]))


def pause_argv(run_dir: str | os.PathLike[str], *, binary: str | os.PathLike[str],
               new_net: bool = True, new_ipc: bool = True, new_uts: bool = True,
               new_pid: bool = True, hostname: str | None = None,
               cgroup_dir: str | os.PathLike[str] | None = None,
               netns_path: str | os.PathLike[str] | None = None,
               oom_score_adj: int | None = None) -> list[str]:
    argv = [os.fspath(binary), "--monitor", "--run-dir", os.fspath(run_dir)]
    argv += [flag for flag, on in (("--new-net", new_net), ("--new-ipc", new_ipc),
                                   ("--new-uts", new_uts), ("--new-pid", new_pid)) if on]
    if hostname is not None:
        argv += ["--hostname", hostname]
    if cgroup_dir is not None:
        argv += ["--cgroup", os.fspath(cgroup_dir)]
    if netns_path is not None:
        argv += ["--netns-path", os.fspath(netns_path)]
    if oom_score_adj is not None:
        argv += ["--oom-score-adj", str(int(oom_score_adj))]
    return argv


def launch_pause(run_dir: str | os.PathLike[str], *, new_net: bool = True,
                 new_ipc: bool = True, new_uts: bool = True, new_pid: bool = True,
                 hostname: str | None = None,
                 cgroup_dir: str | os.PathLike[str] | None = None,
                 netns_path: str | os.PathLike[str] | None = None,
                 oom_score_adj: int | None = None,
                 pause_binary: str | os.PathLike[str] | None = None,
                 timeout: float = 10.0) -> PauseHandle:
    """Start a pod's pause and return once it serves requests on run_dir/pause.sock.

    The launched process forks the monitor and exits, so pause is nobody's child: a
    daemon restart (or SIGKILL) leaves it and its containers running. oom_score_adj is
    pause's own (the kubelet gives the sandbox -998); containers do not inherit it."""
    binary = Path(pause_binary) if pause_binary else find_pause_binary()
    run = Path(run_dir)
    argv = pause_argv(run, binary=binary, new_net=new_net, new_ipc=new_ipc, new_uts=new_uts,
                      new_pid=new_pid, hostname=hostname, cgroup_dir=cgroup_dir,
                      netns_path=netns_path, oom_score_adj=oom_score_adj)
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              start_new_session=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise HostError("launch pause", f"not ready after {timeout}s",
                        err=_errno.ETIMEDOUT, path=str(run)) from e
    except OSError as e:
        raise HostError("launch pause", str(e), err=e.errno or 0, path=str(binary)) from e
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip() or f"exit status {proc.returncode}"
        raise HostError("launch pause", msg, path=str(run))
    try:
        pid = int((run / PID_NAME).read_text())
    except (OSError, ValueError) as e:
        raise HostError("launch pause", f"no usable {PID_NAME}: {e}", path=str(run)) from e
    return PauseHandle(pid=pid, run_dir=run)


def read_pause_pid(run_dir: str | os.PathLike[str], *, verify: bool = True,
                   timeout: float = 5.0) -> int | None:
    """The pid of the pause serving run_dir, or None when none does.

    With verify, the pid in pause.pid must be the socket peer (SO_PEERCRED, translated to
    our PID namespace by the kernel), so a stale file naming a reused pid is not believed."""
    try:
        pid = int((Path(run_dir) / PID_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not verify:
        return pid
    try:
        peer = PauseClient(run_dir, timeout=timeout).peer_pid()
    except HostError:
        return None
    return pid if peer == pid else None


# ---- the client ---------------------------------------------------------------------------


class PauseClient:
    """One request per connection over run_dir/pause.sock (SOCK_SEQPACKET)."""

    def __init__(self, run_dir: str | os.PathLike[str], *, timeout: float = 10.0) -> None:
        self.run_dir = Path(run_dir)
        self.timeout = timeout

    # The I/O boundary: everything below goes through _connect and _call.
    def _connect(self) -> socket.socket:
        path = os.fspath(self.run_dir / SOCKET_NAME)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        sock.settimeout(self.timeout)
        try:
            if len(os.fsencode(path)) < 108:
                sock.connect(path)
            else:
                # sun_path holds 107 bytes; an O_PATH fd of the socket reaches any path.
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                try:
                    sock.connect(f"/proc/self/fd/{fd}")
                finally:
                    os.close(fd)
        except OSError as e:
            sock.close()
            raise HostError("connect to pause", e.strerror or str(e), err=e.errno or 0,
                            path=path) from e
        return sock

    def _call(self, verb: str, fields: Iterable[tuple[str, Value]] = (),
              fds: Sequence[int] = ()) -> tuple[Reply, list[int]]:
        msg = encode_request(verb, fields)
        if len(fds) > MAX_PASSED_FDS:
            raise HostError(f"pause {verb}", f"at most {MAX_PASSED_FDS} fds can be passed",
                            err=_errno.EINVAL, path=str(self.run_dir))
        sock = self._connect()
        got: list[int] = []
        try:
            try:
                if fds:
                    socket.send_fds(sock, [msg], list(fds))
                else:
                    sock.send(msg)
                data, got, flags, _ = socket.recv_fds(sock, REPLY_MAX, MAX_REPLY_FDS,
                                                      socket.MSG_CMSG_CLOEXEC)
            except TimeoutError as e:
                raise HostError(f"pause {verb}", f"no reply within {self.timeout}s",
                                err=_errno.ETIMEDOUT, path=str(self.run_dir)) from e
            except OSError as e:
                raise HostError(f"pause {verb}", e.strerror or str(e), err=e.errno or 0,
                                path=str(self.run_dir)) from e
        finally:
            sock.close()
        try:
            if not data:
                raise ValueError("pause closed the connection without a reply")
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                raise ValueError("reply truncated")
            reply = decode_reply(data)
        except ValueError as e:
            _close_all(got)
            raise HostError(f"pause {verb}", str(e), err=_errno.EPROTO,
                            path=str(self.run_dir)) from e
        if not reply.ok:
            _close_all(got)
            raise HostError(f"pause {verb}", reply.get("message", "failed") or "failed",
                            err=int(reply.get("errno", "0") or 0), path=str(self.run_dir))
        return reply, got

    def peer_pid(self) -> int:
        """Pause's pid in our PID namespace, from the kernel (SO_PEERCRED), not a file."""
        sock = self._connect()
        try:
            cred = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                   struct.calcsize("3i"))
            return int(struct.unpack("3i", cred)[0])
        finally:
            sock.close()

    def ping(self) -> str:
        """pause's version."""
        reply, _ = self._call("ping")
        return reply.get("version", "") or ""

    def create(self, container_id: str, argv: Sequence[str | bytes], *,
               env: Mapping[str, str] | Sequence[str] = (), cwd: str = "/",
               new_pid_ns: bool = True, new_mount_ns: bool = True,
               log_path: str | os.PathLike[str] | None = None, stdin_pipe: bool = False,
               fds: Sequence[int] = (), keep_pidfd: bool = False,
               oom_score_adj: int | None = None,
               log_max: int | None = None,
               cgroup_dir: str | os.PathLike[str] | None = None) -> CreatedContainer:
        """Spawn argv as a container process; `fds` become its fds 3, 4, ...

        Returns once the child exec'd (an exec failure is a HostError with pause's errno).
        oom_score_adj defaults to the value pause was launched with, not pause's own.
        log_max: once a log file holds that many bytes, pause drops output (one marker
        line) until the next reopen_log, so a flood cannot fill the disk between two
        rotation checks.
        cgroup_dir: a cgroup v2 directory pause clones the process straight into (clone3
        CLONE_INTO_CGROUP), sparing it the slow migration of a cgroup.procs write; the
        result's in_cgroup says whether that worked (an older pause or kernel: False, the
        process then starts in pause's cgroup)."""
        if not argv:
            raise HostError("pause create", "argv is empty", err=_errno.EINVAL)
        envs = [f"{k}={v}" for k, v in env.items()] if isinstance(env, Mapping) else list(env)
        fields: list[tuple[str, Value]] = [("id", container_id)]
        fields += [("arg", a) for a in argv]
        fields += [("env", e) for e in envs]
        fields.append(("cwd", cwd))
        if new_pid_ns:
            fields.append(("ns", NS_PID))
        if new_mount_ns:
            fields.append(("ns", NS_MNT))
        if log_path is not None:
            fields.append(("log", os.fspath(log_path)))
        fields.append(("stdin", "pipe" if stdin_pipe else "null"))
        if oom_score_adj is not None:
            fields.append(("oomScoreAdj", int(oom_score_adj)))
        if log_max is not None:  # 0: no budget
            fields.append(("logMax", int(log_max)))
        if cgroup_dir is not None:
            fields.append(("cgroup", os.fspath(cgroup_dir)))
        reply, got = self._call("create", fields, fds)
        pidfd = got[0] if got else None
        _close_all(got[1:])
        try:
            host_pid = pid_of_pidfd(pidfd) if pidfd is not None else None
        except OSError:
            host_pid = None
        if pidfd is not None and not keep_pidfd:
            os.close(pidfd)
            pidfd = None
        return CreatedContainer(id=container_id, pid=host_pid or 0,
                                ns_pid=int(reply.get("pid", "0") or 0),
                                started_at=int(reply.get("startedAt", "0") or 0), pidfd=pidfd,
                                in_cgroup=reply.get("cgroup") == "joined")

    def signal(self, container_id: str, sig: int) -> None:
        self._call("signal", [("id", container_id), ("signal", int(sig))])

    def list(self) -> list[ContainerInfo]:
        reply, got = self._call("list")
        try:
            out = []
            for r in reply.records("id"):
                host_pid = None
                if "pidfd" in r:
                    idx = int(r["pidfd"])
                    host_pid = pid_of_pidfd(got[idx]) if idx < len(got) else None
                exited = r.get("state") == "exited"
                out.append(ContainerInfo(
                    id=r["id"], state=r.get("state", ""), pid=host_pid,
                    ns_pid=int(r.get("pid", "0")), started_at=int(r.get("startedAt", "0")),
                    finished_at=int(r["finishedAt"]) if exited else None,
                    exit_code=int(r["exitCode"]) if exited else None,
                    signal=int(r["signal"]) if exited else None,
                    core_dumped=r.get("coreDumped") == "1" if exited else None,
                    status=int(r["status"]) if exited else None))
            return out
        finally:
            _close_all(got)

    def reopen_log(self, container_id: str, path: str | os.PathLike[str] | None = None) -> None:
        fields: list[tuple[str, Value]] = [("id", container_id)]
        if path is not None:
            fields.append(("path", os.fspath(path)))
        self._call("reopen-log", fields)

    def stdin(self, container_id: str) -> int:
        """A new write end of the container's kept-open stdin pipe; the caller closes it.
        pause keeps its own end, so the container's stdin stays open across attaches."""
        _, got = self._call("stdin", [("id", container_id)])
        if not got:
            raise HostError("pause stdin", "no fd in reply", err=_errno.EPROTO,
                            path=str(self.run_dir))
        _close_all(got[1:])
        return got[0]

    def close_stdin(self, container_id: str) -> None:
        """Close pause's end of the stdin pipe: the container reads EOF once every
        handed-out write end is closed too (stdinOnce)."""
        self._call("close-stdin", [("id", container_id)])

    def remove(self, container_id: str) -> None:
        """Forget an exited container (its exit record stays on disk)."""
        self._call("remove", [("id", container_id)])

    def shutdown(self) -> None:
        """SIGKILL every container, wait, write their exit records, and exit pause."""
        self._call("shutdown")


def open_pause_pidfd(handle: PauseHandle) -> int | None:
    """A pidfd of the pause serving handle.run_dir, or None once it is gone.

    Holding the pidfd pins the pid; the cmdline check then proves it is still that pause
    and not a process that reused the pid (also while pause tears down, socket gone)."""
    try:
        fd = os.pidfd_open(handle.pid)
    except ProcessLookupError:
        return None
    try:
        with open(f"/proc/{handle.pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        argv = []
    want = os.fsencode(os.path.abspath(handle.run_dir))
    ours = b"--monitor" in argv and any(
        a == b"--run-dir" and os.path.abspath(b) == want for a, b in pairwise(argv))
    if not ours:
        os.close(fd)
        return None
    return fd


def kill_pause(handle: PauseHandle, *, timeout: float = 10.0) -> None:
    """SIGTERM pause (it tears the pod down as for shutdown) and wait until it is gone;
    SIGKILL after timeout (the kernel then kills the pod's PID namespace)."""
    fd = open_pause_pidfd(handle)
    if fd is None:
        return
    try:
        _signal.pidfd_send_signal(fd, _signal.SIGTERM)
        if not wait_for_pidfd(fd, timeout):
            _signal.pidfd_send_signal(fd, _signal.SIGKILL)
            wait_for_pidfd(fd, timeout)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)


def wait_exit_record(run_dir: str | os.PathLike[str], container_id: str, *,
                     timeout: float = 5.0, interval: float = 0.005) -> ExitRecord | None:
    """The exit record, waiting up to timeout for it. A container's pidfd turns readable
    when it exits, a moment before pause has reaped it and written the record."""
    deadline = time.monotonic() + timeout
    while True:
        rec = read_exit_record(run_dir, container_id)
        if rec is not None or time.monotonic() >= deadline:
            return rec
        time.sleep(interval)


def _close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


__all__ = [
    "ContainerInfo", "CreatedContainer", "ExitRecord", "PauseClient", "PauseHandle", "Reply",
    "decode_reply", "encode_request", "find_pause_binary", "kill_pause", "launch_pause",
    "open_pause_pidfd", "pid_of_pidfd", "read_exit_record", "read_pause_pid",
    "wait_exit_record", "wait_for_exit", "wait_for_pidfd",
]
