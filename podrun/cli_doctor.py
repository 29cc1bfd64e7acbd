"""`podrun doctor`: audit the host for what podrun leaked, optionally remove it
(podrun/agent/doctor.py has the logic). Works with the daemon stopped or running."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from podrun.defaults import CGROUP_ROOT_FILE, DEFAULTS


@click.command()
@click.option("--fix", is_flag=True, help="Remove what leaked (exit 0 only if all of it went).")
@click.option("--root", default=DEFAULTS["root"], show_default=True, help="State directory.")
@click.option("--run-dir", default=DEFAULTS["runDir"], show_default=True,
              help="Runtime state directory.")
@click.option("--cgroup-root", default=None,
              help="podrun's cgroup v2 subtree (default: the one the daemon chose, recorded in "
                   "<root>/cgroup-root; else podrun/ under the cgroup v2 mount).")
@click.option("--cni-conf-dir", default=DEFAULTS["cniConfDir"], show_default=True,
              help="CNI config directory (podrun's own cni/ when it holds no config).")
@click.option("--cni-bin-dir", default=DEFAULTS["cniBinDir"], show_default=True,
              help="CNI plugin directories (':'-separated), for the DEL of leaked attachments.")
@click.option("--log-dir", default=None,
              help="Also audit this pod log directory (log dirs of pods not in the store).")
@click.option("--api-socket", "api_socket", default=None,
              help="The daemon's API socket (default <run-dir>/podrun.sock).")
@click.option("--min-age", type=float, default=None,
              help="Skip objects younger than this many seconds (default 5 with the daemon "
                   "running, else 0).")
@click.option("-o", "--output", type=click.Choice(["json"]), default=None)
def doctor(fix: bool, root: str, run_dir: str, cgroup_root: str | None, cni_conf_dir: str,
           cni_bin_dir: str, log_dir: str | None, api_socket: str | None,
           min_age: float | None, output: str | None) -> None:
    """Audit the host against podrun's state: processes, mounts, netns, veths, IP leases,
    CNI cache, nftables/iptables elements, cgroups, rootfs dirs, sockets and lock files of
    pods that no longer exist. Exit 0: nothing leaked; 1: leaks found (or not all fixed)."""
    from podrun.agent.doctor import Doctor, DoctorConfig, format_report
    from podrun.network.cni import conf_files, shipped_cni_dir

    if not cgroup_root:  # the subtree the daemon chose (under systemd: the pods unit's)
        with contextlib.suppress(OSError):
            cgroup_root = (Path(root) / CGROUP_ROOT_FILE).read_text().strip() or None
    cg: Path | None = Path(cgroup_root) if cgroup_root else None
    if cg is None:
        from podrun.runtime.cgroups import detect_host
        try:
            cg = detect_host().default_root()
        except OSError:
            cg = None
    conf_dir: Path | None = Path(cni_conf_dir)
    if not conf_files(cni_conf_dir):
        conf_dir = shipped_cni_dir()
    cfg = DoctorConfig(root=Path(root), run_dir=Path(run_dir), cgroup_root=cg,
                       cni_conf_dir=conf_dir,
                       cni_bin_dirs=tuple(p for p in cni_bin_dir.split(":") if p),
                       log_dir=Path(log_dir) if log_dir else None,
                       socket=Path(api_socket) if api_socket else None, min_age=min_age)
    report = Doctor(cfg).run(fix=fix)
    if output == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(format_report(report))
    sys.exit(report.exit_code)
