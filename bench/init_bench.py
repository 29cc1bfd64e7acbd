"""Container start time of podrun's init helper on a prepared rootfs (helper start -> exec).

    sudo /work/main/.venv/bin/python bench/init_bench.py [--runs 30] [--no-seccomp]

Each run: a forked intermediary unshares a PID namespace (standing in for pause's
clone(CLONE_NEWPID)), starts `python -I -S podrun/runtime/init.py --sync-fd N` as PID 1,
sends the config over the socket and stops the clock at EOF on the sync socket, which is
the moment the helper's execve of the command succeeded. The rootfs is an overlay over a
busybox rootfs (mounted by the helper, like an image snapshot), with the full default
config: RuntimeDefault seccomp, masked/readonly paths, /etc/hosts bind. Prints median,
p90, min and the bare interpreter start (`python -I -S -c pass`) for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from podrun.runtime import syscalls as S  # noqa: E402
from podrun.runtime.mounts import bind_mount  # noqa: E402
from podrun.runtime.ocispec import build_config  # noqa: E402
from tests.support import make_busybox_rootfs  # noqa: E402

INIT = TOP / "podrun/runtime/init.py"


def one_start(config: bytes) -> float:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            S.unshare(S.CLONE_NEWPID | S.CLONE_NEWIPC | S.CLONE_NEWUTS | S.CLONE_NEWNET)
            ours, theirs = socket.socketpair()
            t0 = time.perf_counter()
            p = subprocess.Popen([sys.executable, "-I", "-S", str(INIT),
                                  f"--sync-fd={theirs.fileno()}"], pass_fds=(theirs.fileno(),))
            theirs.close()
            ours.sendall(config)
            data = ours.recv(65536)
            dt = time.perf_counter() - t0
            p.wait()
            os.write(w, json.dumps({"dt": dt, "err": data.decode(), "rc": p.returncode})
                     .encode())
        finally:
            os._exit(0)
    os.close(w)
    out = b""
    while b := os.read(r, 65536):
        out += b
    os.close(r)
    os.waitpid(pid, 0)
    res = json.loads(out)
    if res["err"] or res["rc"] != 0:
        raise SystemExit(f"start failed: {res}")
    return res["dt"] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--no-seccomp", action="store_true")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="podrun-bench-", dir="/var/tmp"))
    try:
        lower = make_busybox_rootfs(tmp / "lower")
        hosts = tmp / "hosts"
        hosts.write_text("127.0.0.1 localhost\n")
        times = []
        for i in range(a.runs):
            d = tmp / f"c{i}"
            for sub in ("upper", "work", "merged"):
                (d / sub).mkdir(parents=True)
            cfg = build_config(
                ["/bin/true"], rootfs=str(d / "merged"),
                overlay={"lowerdirs": [str(lower)], "upperdir": str(d / "upper"),
                         "workdir": str(d / "work")},
                mounts=[bind_mount(str(hosts), "/etc/hosts")],
                seccomp_profile="Unconfined" if a.no_seccomp else "RuntimeDefault")
            times.append(one_start(json.dumps(cfg).encode() + b"\n"))
        base = []
        for _ in range(10):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
            base.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(f"init helper start->exec over {a.runs} runs: median {statistics.median(times):.1f} ms, "
              f"p90 {times[int(len(times) * 0.9) - 1]:.1f} ms, min {times[0]:.1f} ms "
              f"(seccomp {'off' if a.no_seccomp else 'RuntimeDefault'})")
        print(f"bare `python -I -S -c pass`: median {statistics.median(base):.1f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
