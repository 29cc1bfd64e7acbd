"""Pod start and stop before/after side by side: `podrun apply --wait` / `delete --wait` of
the bench's pods against two private daemons in one run, the checkout's and commit REV's.

    sudo .venv/bin/python bench/start_ab.py --baseline REV [--reps 20] [--pods 1h,3h,1n]

REV's podrun package (git archive) runs with the same venv, pause binary and image, through
the launcher script REV's podrun/launcher.py writes (cli_bench.baseline_cli), for its daemon
and its CLI alike. Each rep alternates which side goes first, so load drift hits both alike.
--pods: containers per pod and h (host network) or n (pod network, CNI). Prints the medians,
p10/p90 and after/before ratios. Every path is under /var/tmp/podrun-bench-*, removed at the
end (also on failure), as bench/podrun_vs_podman.py's Podrun does it.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import podrun_vs_podman as pvp  # noqa: E402
from cli_bench import baseline_cli  # noqa: E402


class Side(pvp.Podrun):
    """A bench daemon whose `podrun` (daemon and CLI) is the given launcher."""

    def __init__(self, base: Path, tag: str, launcher: Path) -> None:
        super().__init__(base, tag)
        self.launcher = launcher
        self.env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")

    def cli(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return pvp.run([str(self.launcher), "--socket", str(self.socket), *args],
                       input=input, check=check, timeout=timeout, env=self.env)

    def start(self, archive: Path) -> None:
        saved, pvp.PODRUN = pvp.PODRUN, self.launcher
        try:
            super().start(archive)
        finally:
            pvp.PODRUN = saved


def q(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=10)[int(p * 10) - 1] if len(xs) > 1 else xs[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="the commit to compare with")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--pods", default="1h", help="e.g. 1h,3h,1n (containers, host/CNI)")
    a = ap.parse_args()
    variants = [(int(v[:-1]), v[-1] == "h") for v in a.pods.split(",")]
    base = Path(tempfile.mkdtemp(prefix="podrun-bench-", dir="/var/tmp"))
    sides: dict[str, Side] = {}
    times: dict[str, dict[str, list[float]]] = {}
    try:
        from podrun.image.scratch import busybox_rootfs, oci_archive
        archive = oci_archive(busybox_rootfs(base / "image-rootfs"), base / "busybox.tar",
                              pvp.IMAGE)
        launchers = {f"before ({a.baseline})": baseline_cli(base, a.baseline),
                     "after (checkout)": REPO / ".venv/bin/podrun"}
        # REV's daemon finds its CNI plugin (cni/podrun-bridge) next to its package
        tar = subprocess.run(["git", "-C", str(REPO), "archive", a.baseline, "cni"],
                             check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            tf.extractall(launchers[f"before ({a.baseline})"].parent)  # noqa: S202 - ours
        for i, (who, launcher) in enumerate(launchers.items()):
            sides[who] = Side(base / f"side{i}", uuid.uuid4().hex[:6], launcher)
            sides[who].start(archive)
        for rep in range(a.reps):
            order = list(sides.items())
            if rep % 2:
                order.reverse()
            for n, hostnet in variants:
                fig = f"{n} container{'s' if n > 1 else ''}, {'host' if hostnet else 'pod'} network"
                for i, (who, side) in enumerate(order):
                    name = f"ab{n}{'h' if hostnet else 'n'}{rep}x{i}"
                    y = pvp.pod_yaml(name, n, hostnet)
                    times.setdefault(f"start {fig}", {}).setdefault(who, []).append(
                        side.apply_wait(y) * 1000)
                    times.setdefault(f"stop {fig}", {}).setdefault(who, []).append(
                        side.delete_wait(name) * 1000)
    finally:
        left: list[Any] = []
        for side in sides.values():
            try:
                side.stop()
            finally:
                left += side.force_cleanup()
        shutil.rmtree(base, ignore_errors=True)
        if left:
            print(f"left behind (removed): {left}", file=sys.stderr)
    who_b, who_a = list(launchers)
    print(f"| figure (ms, {a.reps} reps) | {who_b} median [p10-p90] | {who_a} median [p10-p90] "
          "| after / before |")
    print("| --- | --- | --- | --- |")
    for fig, d in times.items():
        b, af = d[who_b], d[who_a]
        print(f"| {fig} | {statistics.median(b):.1f} [{q(b, .1):.0f}-{q(b, .9):.0f}] | "
              f"{statistics.median(af):.1f} [{q(af, .1):.0f}-{q(af, .9):.0f}] | "
              f"{statistics.median(af) / statistics.median(b):.2f} |")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
