"""Stands in for pause in tests: new PID (+net, ipc, uts) namespaces, then fork + exec argv.

    python harness.py [--host-net] [--mount-ns] -- CMD ...

Like `unshare --fork --pid --net --ipc --uts --kill-child`: the child is PID 1 of the new
PID namespace; the harness exits with the child's status (128+signal when killed) and
kills the child if the harness itself gets SIGTERM/SIGINT.
"""

from __future__ import annotations

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))

from podrun.runtime import syscalls as S  # noqa: E402


def main(argv: list[str]) -> int:
    flags = S.CLONE_NEWPID | S.CLONE_NEWIPC | S.CLONE_NEWUTS | S.CLONE_NEWNET
    i = argv.index("--")
    if "--host-net" in argv[:i]:
        flags &= ~S.CLONE_NEWNET
    if "--mount-ns" in argv[:i]:  # exactly like pause: CLONE_NEWPID|CLONE_NEWNS
        flags |= S.CLONE_NEWNS
    cmd = argv[i + 1:]
    S.unshare(flags)
    pid = os.fork()
    if pid == 0:
        os.execv(cmd[0], cmd)
    # Like pause: keep no copy of the child's fds (the sync socket must reach EOF when the
    # container's command is exec'd).
    os.closerange(3, 65536)
    # The whole PID namespace dies with its PID 1: killing the child cleans up everything.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: os.kill(pid, signal.SIGKILL))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
