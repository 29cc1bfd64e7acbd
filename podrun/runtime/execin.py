"""Exec into a running container (`podrun exec`, exec probes), as nsenter + runc exec do.

The daemon-side API (`exec_in_container`, `exec_capture`) starts this file as a fresh
`sys.executable -I -S execin.py --sync-fd N` helper that enters the container's cgroup and
namespaces, forks (a PID namespace applies to children only), and the child applies the
container's process settings (init.py's exec_steps) and execs. Protocol: docs/init-helper.md.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    _rt = os.path.dirname(os.path.abspath(__file__))
    for _name, _path in (("podrun", os.path.dirname(_rt)), ("podrun.runtime", _rt)):
        if _name not in sys.modules:
            _m = type(sys)(_name)
            _m.__path__ = [_path]
            sys.modules[_name] = _m

HELPER = os.path.abspath(__file__)
EXEC_NOT_FOUND = 127     # command not found (shell/Docker convention)
EXEC_CANNOT_RUN = 126    # any other failure before the command ran

if __name__ == "__main__":
    from podrun.runtime.initsteps import exec_main
    sys.exit(exec_main(sys.argv))


# ---- daemon side ----------------------------------------------------------------------

import json  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import IO, Any  # noqa: E402

from podrun.errors import PodrunError  # noqa: E402


class ExecTimeout(PodrunError):
    """The command ran longer than its timeout and was killed."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    error: str | None = None  # the start error (command not found, ...), if any


_Stdio = int | IO[Any] | None


def _start(pid: int, config: dict[str, Any], argv: list[str],
           env: list[str] | dict[str, str] | None, cwd: str | None, stdin: _Stdio,
           stdout: _Stdio, stderr: _Stdio, tty: bool = False
           ) -> tuple[subprocess.Popen[bytes], socket.socket]:
    if not argv:
        raise ValueError("argv must not be empty")
    if isinstance(env, dict):
        env = [f"{k}={v}" for k, v in env.items()]
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", HELPER, f"--sync-fd={theirs.fileno()}"],
            pass_fds=(theirs.fileno(),), stdin=stdin, stdout=stdout, stderr=stderr,
            close_fds=True)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    req = {"pid": pid, "config": config, "args": list(argv), "env": list(env or ()),
           "cwd": cwd, "tty": tty}
    ours.sendall(json.dumps(req).encode() + b"\n")
    return proc, ours


def _start_error(sock: socket.socket) -> str | None:
    """Blocks until the command started (EOF) or failed (one JSON line)."""
    data = b""
    while True:
        b = sock.recv(65536)
        if not b:
            break
        data += b
    sock.close()
    if not data.strip():
        return None
    try:
        return str(json.loads(data.splitlines()[0])["message"])
    except (ValueError, KeyError):
        return data.decode(errors="replace").strip()


def exec_in_container(pid: int, config: dict[str, Any], argv: list[str], *,
                      env: list[str] | dict[str, str] | None = None, tty: bool = False,
                      stdin: _Stdio = None, stdout: _Stdio = None, stderr: _Stdio = None,
                      timeout: float | None = None, cwd: str | None = None) -> int:
    """Run argv in the container whose init has host pid `pid`; return its exit code.

    config: the container's config document (its process user, capabilities, env, cwd,
    seccomp and cgroup are applied). env: extra "K=V" after the container's. stdio: fds,
    files or None (inherit). tty: stdin is a pty slave (the caller relays its master); it
    becomes the command's controlling terminal in a new session. A start failure prints
    its message to stderr and returns 127 (not found) or 126 (other). On timeout the
    command is killed and ExecTimeout raised.
    """
    if tty:
        fd = stdin if isinstance(stdin, int) else getattr(stdin, "fileno", lambda: -1)()
        if fd < 0 or not os.isatty(fd):
            raise PodrunError("exec with tty=True needs stdin to be a terminal (the pty "
                              "slave whose master the caller relays)")
    proc, sock = _start(pid, config, argv, env, cwd, stdin, stdout, stderr, tty)
    try:
        err = _start_error(sock)
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise ExecTimeout(f"exec {argv[0]!r}: timed out after {timeout}s") from None
    if err is not None:
        msg = (err + "\n").encode()
        if stderr is None:
            sys.stderr.buffer.write(msg)
            sys.stderr.flush()
        elif isinstance(stderr, int) and stderr >= 0:
            os.write(stderr, msg)
        elif hasattr(stderr, "write"):
            stderr.write(msg)
    return code


def exec_capture(pid: int, config: dict[str, Any], argv: list[str], *,
                 env: list[str] | dict[str, str] | None = None, stdin: bytes | None = None,
                 timeout: float | None = None, cwd: str | None = None) -> ExecResult:
    """exec_in_container with stdout/stderr captured (exec probes, postStart/preStop).

    On timeout the command is killed and the result says timed_out (exit code 137).
    """
    proc, sock = _start(pid, config, argv, env, cwd,
                        subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                        subprocess.PIPE, subprocess.PIPE)
    try:
        err = _start_error(sock)
        out, errout = proc.communicate(stdin, timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:  # a background grandchild may hold the pipes open: do not wait for it
            out, errout = proc.communicate(timeout=1)
        except subprocess.TimeoutExpired:
            out, errout = b"", b""
            for f in (proc.stdout, proc.stderr):
                if f:
                    f.close()
            proc.wait()
        return ExecResult(137, out or b"", errout or b"", timed_out=True)
    if err is not None:
        errout = (errout or b"") + (err + "\n").encode()
    return ExecResult(proc.returncode, out or b"", errout or b"", error=err)


DEVPTS_SUPER_MAGIC = 0x1CD1


def container_pty(pid: int) -> tuple[int, int]:
    """A pty pair from the container's own devpts instance (its /dev/pts/ptmx, reached
    through /proc/PID/root), so `tty` inside says /dev/pts/N as with `kubectl exec -t`; a pty
    from the host's devpts has no name in the container ("not a tty"). Falls back to the
    host's pty when the container has no usable devpts. Every path is opened with
    O_NOFOLLOW and checked to be a devpts node, so a container cannot redirect the open."""
    import ctypes
    import pty
    import stat
    import struct

    def devpts(fd: int) -> bool:
        buf = ctypes.create_string_buffer(120)  # struct statfs; f_type is the first field
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.fstatfs(fd, buf) != 0:
            return False
        return bool(struct.unpack_from("l", buf.raw)[0] == DEVPTS_SUPER_MAGIC)

    base = f"/proc/{pid}/root/dev/pts"
    flags = os.O_RDWR | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        master = os.open(f"{base}/ptmx", flags)
    except OSError:
        return pty.openpty()
    try:
        if not (devpts(master) and stat.S_ISCHR(os.fstat(master).st_mode)):
            raise OSError("not a devpts ptmx")
        libc = ctypes.CDLL(None, use_errno=True)
        name = ctypes.create_string_buffer(64)
        if libc.unlockpt(master) != 0 or libc.ptsname_r(master, name, 64) != 0:
            raise OSError(ctypes.get_errno(), "unlockpt/ptsname_r")
        n = os.path.basename(name.value.decode())  # the number in the container's devpts
        if not n.isdigit():
            raise OSError(f"odd pty name {name.value!r}")
        slave = os.open(f"{base}/{n}", flags)
        if not (devpts(slave) and stat.S_ISCHR(os.fstat(slave).st_mode)):
            os.close(slave)
            raise OSError("not a devpts pty")
        return master, slave
    except OSError:
        os.close(master)
        return pty.openpty()
