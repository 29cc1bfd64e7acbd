"""The CLI's own cost: `podrun get pods`, `get pod X -o json`, `apply --wait`, `delete --wait`,
`logs`, `exec` timed end to end against a private daemon. Run by hand as root (not asserted):

    .venv/bin/python bench/cli_bench.py [--reps 30] [--baseline REV] [--only get-pods,apply]

Every CLI given (the installed .venv/bin/podrun, plus with --baseline the podrun package of
an older commit, unpacked with `git archive` and started the way pip's console script starts
it) runs each command in turn, interleaved rep by rep so load drift hits all of them alike;
the table shows median, p10 and p90 in ms, and the median CPU time of the CLI process
(user + sys: less sensitive to other load than wall time). `floor` times the daemon's
share of apply --wait from inside the bench process (POST, watch until Ready), no CLI start.
The daemon is the checkout's, with every path under /var/tmp/podrun-clibench-*, its own
cgroup root and CNI bridge (bench/podrun_vs_podman.py's Podrun), stopped and removed at the
end, also on failure. The environment is passed as is
(PYTHONDONTWRITEBYTECODE included), as users and the tests run podrun.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from podrun_vs_podman import IMAGE, Podrun, pod_yaml  # noqa: E402

VENV_PYTHON = REPO / ".venv/bin/python"
COMMANDS = ("version", "get-pods", "get-json", "apply", "delete", "logs", "exec", "floor")


def baseline_cli(base: Path, rev: str) -> Path:
    """An executable that runs commit REV's CLI as that commit installed it: through its
    podrun/launcher.py's script (venv interpreter with -S, podrun.cli_fast) when it has one,
    else `podrun.cli:main` as pip's console script does (venv interpreter with site, so the
    editable finder is installed too); REV's package comes first on sys.path either way."""
    dest = base / f"baseline-{rev}"
    dest.mkdir()
    tar = subprocess.run(["git", "-C", str(REPO), "archive", rev, "podrun"], check=True,
                         capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.extractall(dest)  # noqa: S202 - our own git archive
    script = dest / "podrun-cli"
    if (dest / "podrun/launcher.py").exists() and (dest / "podrun/cli_fast.py").exists():
        import sysconfig
        site = sysconfig.get_paths(vars={"base": str(REPO / ".venv"),
                                         "platbase": str(REPO / ".venv")})["purelib"]
        script.write_text(
            f"#!{VENV_PYTHON} -S\nimport sys\nsys.prefix = sys.exec_prefix = "
            f"{str(REPO / '.venv')!r}\nif not sys.flags.safe_path:\n    del sys.path[0]\n"
            f"sys.path += [{site!r}]\nsys.path.insert(0, {str(dest)!r})\n"
            "if sys.dont_write_bytecode:\n    sys.dont_write_bytecode = False\n"
            f"    sys.pycache_prefix = {str(dest / 'pycache')!r}\n"
            "from podrun.cli_fast import main\nif __name__ == '__main__':\n"
            "    sys.exit(main())\n")
    else:
        script.write_text(f"#!{VENV_PYTHON}\nimport sys\nsys.path.insert(0, {str(dest)!r})\n"
                          "from podrun.cli import main\nif __name__ == '__main__':\n"
                          "    sys.exit(main())\n")
    script.chmod(0o755)
    return script


CPU: dict[tuple[str, str], list[float]] = {}


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(argv: list[str], env: dict[str, str], key: tuple[str, str]) -> float:
    """Wall time of one run; its CPU time (user + sys, less sensitive to a loaded host)
    goes to CPU[key]."""
    cpu0, t0 = children_cpu(), time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    took = time.perf_counter() - t0
    CPU.setdefault(key, []).append(children_cpu() - cpu0)
    if r.returncode != 0:
        raise RuntimeError(f"{argv} exited {r.returncode}: {r.stderr.strip()}")
    return took


def daemon_floor(sock: str, name: str) -> float:
    """The daemon's share of `apply --wait`: the same POST and watch until Ready from this
    (already started) process, so no CLI start-up at all; the pod is deleted afterwards."""
    import yaml

    from podrun.api.client import Client, pod_path
    from podrun.cli_core import _pod_done, _wait_gone
    c = Client(sock)
    t0 = time.perf_counter()
    c.request("POST", pod_path("default"), body=yaml.safe_load(pod_yaml(name, 1, True)))
    for ev in c.watch(pod_path("default"), {"fieldSelector": f"metadata.name={name}"}):
        if _pod_done(ev["object"]):
            break
    took = time.perf_counter() - t0
    uid = c.get(pod_path("default", name))["metadata"]["uid"]
    c.request("DELETE", pod_path("default", name))
    _wait_gone(c, "pods", "default", name, uid, None)
    return took


def bench(args: argparse.Namespace) -> dict[tuple[str, str], list[float]]:
    tag = uuid.uuid4().hex[:6]
    base = Path(tempfile.mkdtemp(prefix="podrun-clibench-", dir="/var/tmp"))
    daemon = Podrun(base / "podrun", tag)
    # as users run it: the caller's environment (bytecode settings included), minus the socket
    daemon.env = {k: v for k, v in os.environ.items() if k != "PODRUN_SOCKET"}
    times: dict[tuple[str, str], list[float]] = {}
    try:
        from podrun.image.scratch import busybox_rootfs, oci_archive
        archive = oci_archive(busybox_rootfs(base / "rootfs"), base / "busybox.tar", IMAGE)
        daemon.start(archive)
        clis = {"current": REPO / ".venv/bin/podrun"}
        if args.baseline:
            clis = {f"baseline {args.baseline}": baseline_cli(base, args.baseline), **clis}
        sock = ["--socket", str(daemon.socket)]
        daemon.cli("apply", "--wait", "-f", "-", input=pod_yaml("bench-run", 1, True))
        manifest = base / "pod.yaml"
        for rep in range(args.reps):
            if "floor" in args.only:
                times.setdefault(("floor: POST + watch to Ready, in-process", "daemon"),
                                 []).append(daemon_floor(str(daemon.socket), f"f-{rep}"))
            for who, cli in clis.items():
                name = f"b-{rep}-{abs(hash(who)) % 1000}"
                manifest.write_text(pod_yaml(name, 1, True))
                run = {
                    "version": ["version", "--client"],
                    "get-pods": ["get", "pods"],
                    "get-json": ["get", "pod", "bench-run", "-o", "json"],
                    "logs": ["logs", "bench-run"],
                    "exec": ["exec", "bench-run", "--", "true"],
                    "apply": ["apply", "--wait", "-f", str(manifest)],
                    "delete": ["delete", "pod", name, "--wait"],
                }
                for cmd in args.only:
                    if cmd == "floor":
                        continue
                    argv = [str(cli), *([] if cmd == "version" else sock), *run[cmd]]
                    if cmd == "delete" and "apply" not in args.only:
                        daemon.cli("apply", "--wait", "-f", str(manifest))
                    times.setdefault((cmd, who), []).append(timed(argv, daemon.env, (cmd, who)))
                if "apply" in args.only and "delete" not in args.only:
                    daemon.cli("delete", "pod", name, "--wait")
    finally:
        try:
            daemon.stop()
        finally:
            left = daemon.force_cleanup()
            shutil.rmtree(base, ignore_errors=True)
            if left:
                print(f"left behind (removed): {left}", file=sys.stderr)
    return times


def table(times: dict[tuple[str, str], list[float]]) -> str:
    lines = ["| command | cli | median ms | p10 | p90 | CPU ms (median) | n |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for (cmd, who), xs in times.items():
        s = sorted(xs)
        cpu = CPU.get((cmd, who))
        lines.append(f"| {cmd} | {who} | {statistics.median(s) * 1000:.0f} | "
                     f"{s[len(s) // 10] * 1000:.0f} | {s[max(0, (len(s) * 9) // 10 - 1)] * 1000:.0f} | "
                     f"{statistics.median(cpu) * 1000:.0f} | {len(s)} |" if cpu else
                     f"| {cmd} | {who} | {statistics.median(s) * 1000:.0f} | "
                     f"{s[len(s) // 10] * 1000:.0f} | {s[max(0, (len(s) * 9) // 10 - 1)] * 1000:.0f} | - | {len(s)} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--baseline", default=None, help="also time the CLI of this commit")
    p.add_argument("--only", default=",".join(COMMANDS),
                   type=lambda s: [c for c in s.split(",") if c],
                   help=f"comma-separated subset of {','.join(COMMANDS)}")
    args = p.parse_args()
    unknown = set(args.only) - set(COMMANDS)
    if unknown:
        p.error(f"unknown commands: {', '.join(sorted(unknown))}")
    args.only = [c for c in COMMANDS if c in args.only]  # apply before delete
    with contextlib.suppress(KeyboardInterrupt):
        print(table(bench(args)))


if __name__ == "__main__":
    main()
