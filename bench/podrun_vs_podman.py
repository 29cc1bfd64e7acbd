"""podrun against `podman kube play` (and crun, raw syscalls), side by side in one run.

Run as root from the repository root (bench/run installs podman & co. first):

    bench/run                 # full run (about 8-12 minutes)
    bench/run --quick         # 1 repetition, few pods, no probe/image benches (the smoke test)
    .venv/bin/python bench/podrun_vs_podman.py --reps 10 --pods 1,10,50 --density 100

Writes bench/results/results.md (the table), results.json and results.png (matplotlib, if
installed). Every podrun/podman pair is interleaved (podrun, podman, podrun, ...) to cancel
drift. Everything is private and removed at the end, also on failure:

podrun: a `podrun daemon` with every path under /var/tmp/podrun-bench-*/podrun, its own cgroup
  root /sys/fs/cgroup/unified/podrun-bench-<rand>, and a private CNI conflist (podrun-bridge on
  bridge prb-<rand>, a /24 in 10.251/16, nft table prb_<rand>). Stopped by its pid.
podman: Debian's podman 4.3 with --root/--runroot/--tmpdir/--network-config-dir under
  /var/tmp/podrun-bench-*/podman, CONTAINERS_CONF pointing to a private containers.conf, run
  inside one private mount namespace (held by a `sleep` we start, entered with nsenter) where
  the host's cgroup2 hierarchy is mounted at /sys/fs/cgroup, so podman sees a pure cgroup v2
  host (crun refuses the hybrid layout). crun is called through a wrapper that adds
  `--cgroup-manager=disabled`: crun's cgroup work (cgroup creation, the devices eBPF program,
  which this sandbox cannot load) is skipped, which flatters podman. podman itself still creates
  its pod and conmon cgroups under <cgroup2>/libpod_parent (removed at the end).
  containers.conf sets default_ulimits to the hard limits this host allows (no
  CAP_SYS_RESOURCE here: podman's default nofile/nproc of 1048576 cannot be set).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PODRUN = REPO / ".venv/bin/podrun"
IMAGE = "localhost/busybox:bench"
RESULTS = REPO / "bench/results"


# ---------------------------------------------------------------- helpers

def now() -> float:
    return time.perf_counter()


def run(argv: list[str], check: bool = True, timeout: float = 120, **kw: Any
        ) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])}... exited {r.returncode}: {r.stderr[-2000:]}")
    return r


def timed(argv: list[str], **kw: Any) -> float:
    t0 = now()
    run(argv, **kw)
    return now() - t0


def pct(xs: list[float], p: float) -> float:
    if len(xs) == 1:
        return xs[0]
    s = sorted(xs)
    k = (len(s) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {}
    med = statistics.median(xs)
    return {"n": len(xs), "median": med, "p10": pct(xs, 0.1), "p90": pct(xs, 0.9),
            "spread": (pct(xs, 0.9) - pct(xs, 0.1)) / med if med else 0.0}


def smaps(pid: int) -> tuple[float, float]:
    """(PSS, RSS) in MiB from /proc/PID/smaps_rollup."""
    pss = rss = 0.0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
            elif line.startswith("Rss:"):
                rss = int(line.split()[1]) / 1024
    return pss, rss


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def wait_for(pred: Callable[..., Any], timeout: float, interval: float = 0.02,
             args: tuple[Any, ...] = ()) -> Any:
    deadline = now() + timeout
    while now() < deadline:
        v = pred(*args)
        if v:
            return v
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s")


def pod_yaml(name: str, containers: int, host_network: bool, trap: bool = False,
             ns: str | None = None) -> str:
    # Every container traps TERM and exits at once (`wait` is interrupted by the signal), so
    # stop times measure the runtimes, not a grace period: a plain `sleep` as PID 1 ignores
    # TERM and would wait the whole terminationGracePeriodSeconds on both sides.
    del trap
    cmd = '["sh", "-c", "trap \'exit 0\' TERM; sleep 3600 & wait"]'
    out = ["apiVersion: v1", "kind: Pod", "metadata:", f"  name: {name}"]
    if ns:
        out.append(f"  namespace: {ns}")
    out += ["spec:", "  terminationGracePeriodSeconds: 10"]
    if host_network:
        out.append("  hostNetwork: true")
    out.append("  containers:")
    for i in range(containers):
        out += [f"  - name: c{i}", f"    image: {IMAGE}", "    imagePullPolicy: Never",
                f"    command: {cmd}"]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- podrun side

class Podrun:
    def __init__(self, base: Path, tag: str) -> None:
        from podrun.runtime.cgroups import detect_host
        host = detect_host()
        if host.mountpoint is None:
            raise RuntimeError("no cgroup v2 hierarchy mounted")
        self.base = base
        self.cg_root = host.mountpoint / f"podrun-bench-{tag}"
        octet = int(tag[:2], 16)
        self.bridge, self.table = f"prb-{tag}", f"prb_{tag}"
        self.conf_dir = base / "cni-conf"
        self.conf_dir.mkdir(parents=True)
        (self.conf_dir / "10-bench.conflist").write_text(json.dumps({
            "cniVersion": "1.1.0", "name": f"prb-{tag}",
            "plugins": [{
                "type": "podrun-bridge", "bridge": self.bridge, "isGateway": True,
                "ipMasq": True, "hairpinMode": True, "nftTable": self.table,
                "ipam": {"subnet": f"10.251.{octet}.0/24", "gateway": f"10.251.{octet}.1",
                         "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(base / "ipam")},
                "capabilities": {"portMappings": True},
            }]}))
        self.manifest_dir = base / "manifests"
        self.socket = base / "run/podrun.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        # An installed podrun has its bytecode compiled (pip does it); these machines set
        # PYTHONDONTWRITEBYTECODE=1, so podrun would be compiled from source on every call.
        # The bench keeps bytecode in its own temp dir instead (not in the checkout); the
        # floor table shows both (the difference measured small: 276 vs 282 ms).
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PODRUN_SOCKET", "PYTHONDONTWRITEBYTECODE")}
        self.env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")

    def start(self, archive: Path) -> None:
        from podrun.image.archive import import_file
        from podrun.image.store import ImageStore
        self.manifest_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.base / "config.yaml"
        cfg.write_text("fileCheckFrequency: 20s\n")
        import_file(ImageStore(str(self.base / "root/images")), str(archive))
        argv = [str(PODRUN), "daemon", "--config", str(cfg), "--root", str(self.base / "root"),
                "--run-dir", str(self.base / "run"), "--log-dir", str(self.base / "log"),
                "--manifest-dir", str(self.manifest_dir), "--socket", str(self.socket),
                "--cgroup-root", str(self.cg_root), "--cni-conf-dir", str(self.conf_dir),
                "--node-name", "bench"]
        env = self.env
        with open(self.base / "daemon.log", "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, env=env,
                                         stdin=subprocess.DEVNULL)
        wait_for(lambda: self.socket.exists() and self.cli("get", "pods", "-A",
                                                           check=False).returncode == 0, 30, 0.05)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cli(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run([str(PODRUN), "--socket", str(self.socket), *args], input=input,
                   check=check, timeout=timeout, env=self.env)

    def apply_wait(self, manifest: str) -> float:
        t0 = now()
        self.cli("apply", "--wait", "--timeout", "120s", "-f", "-", input=manifest)
        return now() - t0

    def delete_wait(self, name: str) -> float:
        t0 = now()
        self.cli("delete", "pod", name, "--wait")
        return now() - t0

    def pods(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(
            self.cli("get", "pods", "-A", "-o", "json").stdout).get("items", [])
        return items

    def phase(self, name: str) -> str:
        r = self.cli("get", "pod", name, "-o", "json", check=False)
        return json.loads(r.stdout).get("status", {}).get("phase", "") if r.returncode == 0 else ""

    def has_phase(self, name: str, phase: str) -> bool:
        return self.phase(name) == phase

    def pause_pids(self) -> list[int]:
        out = []
        for f in (self.base / "run/sandboxes").glob("*/pause.pid"):
            with contextlib.suppress(ValueError, OSError):
                out.append(int(f.read_text()))
        return out

    def delete_all(self) -> None:
        for f in self.manifest_dir.glob("*"):
            f.unlink()
        for pod in self.pods():
            md = pod["metadata"]
            if md.get("annotations", {}).get("kubernetes.io/config.source") == "file":
                continue
            self.cli("delete", "pod", md["name"], "-n", md.get("namespace", "default"),
                     "--grace-period", "0", "--force", "--wait", check=False)
        wait_for(lambda: not self.pods(), 60, 0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.delete_all()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def force_cleanup(self) -> list[str]:
        """What the daemon left (should be nothing), then removed by force."""
        left: list[str] = []
        for pid in self.pause_pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                left.append(f"pause {pid}")
        for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
            mnt = line.split()[4]
            if mnt.startswith(str(self.base)):
                left.append(f"mount {mnt}")
                run(["umount", "-l", mnt], check=False)
        if self.cg_root.exists():
            dirs = sorted((p for p in self.cg_root.rglob("*") if p.is_dir()),
                          key=lambda p: -len(p.parts))
            left += [str(p) for p in dirs]
            for p in [*dirs, self.cg_root]:
                with contextlib.suppress(OSError):
                    (p / "cgroup.kill").write_text("1")
            for p in [*dirs, self.cg_root]:
                for _ in range(100):
                    try:
                        p.rmdir()
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.05)
        run(["ip", "link", "del", self.bridge], check=False)
        for family in ("inet", "ip", "ip6"):
            run(["nft", "delete", "table", family, self.table], check=False)
        return left


# ---------------------------------------------------------------- podman side

CONTAINERS_CONF = """\
# podrun bench: private podman settings (see bench/README.md)
[containers]
default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]
[engine]
infra_image = "{infra}"
cgroup_manager = "cgroupfs"
events_logger = "none"
runtime = "{runtime}"
[network]
network_backend = "cni"
cni_plugin_dirs = ["/usr/lib/cni"]
network_config_dir = "{netdir}"
"""


PODMAN_PAUSE = "localhost/podrun-bench-podman-pause:1"


def podman_pause_archive(base: Path) -> Path:
    """podman's own pause image (catatonit -P), built the way podman builds it, as an
    oci-archive: podman 4.3 cannot build it itself inside the private mount namespace
    (buildah's COPY fails with `getwd: no such file or directory` there)."""
    from podrun.image.scratch import oci_archive
    root = base / "pause-rootfs"
    root.mkdir(parents=True)
    shutil.copy2("/usr/libexec/podman/catatonit", root / "catatonit")
    return oci_archive(root, base / "podman-pause.tar", PODMAN_PAUSE,
                       entrypoint=["/catatonit", "-P"], cmd=())


class Podman:
    """podman kube play with private state inside a private mount namespace (see docstring)."""

    def __init__(self, base: Path, tag: str) -> None:
        import resource
        self.base = base
        base.mkdir(parents=True)
        self.netdir = base / "cni"
        self.netdir.mkdir()
        self.net = f"pbn-{tag}"
        self.bridge = f"pbb-{tag}"
        octet = int(tag[2:4], 16)
        (self.netdir / f"{self.net}.conflist").write_text(json.dumps({
            "cniVersion": "0.4.0", "name": self.net,
            "plugins": [
                {"type": "bridge", "bridge": self.bridge, "isGateway": True, "ipMasq": True,
                 "hairpinMode": True,
                 "ipam": {"type": "host-local", "routes": [{"dst": "0.0.0.0/0"}],
                          "ranges": [[{"subnet": f"10.252.{octet}.0/24",
                                       "gateway": f"10.252.{octet}.1"}]],
                          "dataDir": str(base / "ipam")}},
                {"type": "tuning"},
            ]}))
        wrapper = base / "crun-nocgroup"
        wrapper.write_text('#!/bin/sh\nexec /usr/bin/crun --cgroup-manager=disabled "$@"\n')
        wrapper.chmod(0o755)
        # podman itself lowers RLIMIT_NPROC to 32768 before starting conmon.
        nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        self.conf = base / "containers.conf"
        self.conf.write_text(CONTAINERS_CONF.format(nofile=nofile, nproc=nproc,
                                                    runtime=wrapper, netdir=self.netdir,
                                                    infra=PODMAN_PAUSE))
        self.env = {**os.environ, "CONTAINERS_CONF": str(self.conf)}
        self.ns_holder: subprocess.Popen[bytes] | None = None
        self.libpod_parent_existed = False
        self.cg2: Path | None = None

    def start(self, archive: Path) -> None:
        from podrun.runtime.cgroups import detect_host
        self.cg2 = detect_host().mountpoint
        self.libpod_parent_existed = bool(self.cg2 and (self.cg2 / "libpod_parent").exists())
        script = ("set -e; umount -l /sys/fs/cgroup; mount -t cgroup2 none /sys/fs/cgroup; "
                  "echo ready; exec sleep 100000")
        self.ns_holder = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert self.ns_holder.stdout is not None
        if self.ns_holder.stdout.readline().strip() != b"ready":
            raise RuntimeError("could not set up podman's mount namespace")
        self.podman("load", "-i", str(archive))
        self.podman("load", "-i", str(podman_pause_archive(self.base)))

    def argv(self, *args: str) -> list[str]:
        assert self.ns_holder is not None
        return ["nsenter", "-t", str(self.ns_holder.pid), "-m",
                "podman", "--root", str(self.base / "root"), "--runroot", str(self.base / "run"),
                "--tmpdir", str(self.base / "tmp"), "--network-config-dir", str(self.netdir),
                *args]

    def podman(self, *args: str, check: bool = True, timeout: float = 180
               ) -> subprocess.CompletedProcess[str]:
        return run(self.argv(*args), check=check, timeout=timeout, env=self.env)

    def play_wait(self, path: Path, network: bool, names: list[str]) -> float:
        net = ["--network", self.net] if network else ["--network", "host"]
        t0 = now()
        self.podman("kube", "play", *net, str(path))
        # kube play returns once the containers are started; check it as `podrun apply --wait`
        # checks the pod: one status query.
        wait_for(lambda: all(s == "Running" for s in self.pod_states(names)), 60, 0.01)
        return now() - t0

    def pod_states(self, names: list[str]) -> list[str]:
        out = self.podman("pod", "inspect", "--format", "{{.State}}", *names).stdout.split()
        return out

    def running(self, name: str) -> bool:
        return self.pod_states([name]) == ["Running"]

    def down(self, path: Path) -> float:
        return timed(self.argv("kube", "down", str(path)), env=self.env)

    def monitor_pids(self) -> list[int]:
        """conmon processes of this podman (and, via children(), catatonit/infra)."""
        out = []
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmd = (p / "cmdline").read_bytes().split(b"\0")
                if cmd[0].endswith(b"conmon") and str(self.base).encode() in b" ".join(cmd):
                    out.append(int(p.name))
        return out

    def overhead_pids(self) -> list[int]:
        """conmon of every container + the infra container's catatonit (not user processes)."""
        pids = self.monitor_pids()
        for c in list(pids):
            for k in children(c):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{k}/exe").endswith("catatonit"):
                        pids.append(k)
        return pids

    def rm_all(self) -> None:
        self.podman("pod", "rm", "-a", "-f", "-t", "0", check=False)
        self.podman("rm", "-a", "-f", "-t", "0", check=False)

    def cleanup(self) -> list[str]:
        left: list[str] = []
        if self.ns_holder is not None:
            with contextlib.suppress(Exception):
                self.rm_all()
            with contextlib.suppress(Exception):
                self.podman("rmi", "-a", "-f", check=False)
            for pid in self.monitor_pids():
                left.append(f"conmon {pid}")
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            self.ns_holder.kill()
            self.ns_holder.wait()
            self.ns_holder = None
        run(["ip", "link", "del", self.bridge], check=False)
        if self.cg2 is not None:
            parent = self.cg2 / "libpod_parent"
            if parent.exists():
                dirs = sorted((p for p in parent.rglob("*") if p.is_dir()),
                              key=lambda p: -len(p.parts))
                if not self.libpod_parent_existed:
                    dirs.append(parent)
                for p in dirs:
                    # only podman's pod cgroups of this run: the pod IDs are in our root
                    for _ in range(50):
                        try:
                            p.rmdir()
                            break
                        except FileNotFoundError:
                            break
                        except OSError:
                            time.sleep(0.05)
        # podman's overlay mounts lived in the namespace we just ended; a stale netns file?
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            if str(self.base) in line.split()[4]:
                left.append(f"mount {line.split()[4]}")
                run(["umount", "-l", line.split()[4]], check=False)
        return left


# ---------------------------------------------------------------- the floors

def floors(base: Path, reps: int, crun_ok: bool, ns_pid: int | None
           ) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"fork+exec /bin/true": [], "unshare all namespaces": [],
                                   "netns + veth by hand": []}
    rootfs = base / "floor-bundle/rootfs"
    if crun_ok:
        out["crun run (no cgroups)"] = []
        from podrun.image.scratch import busybox_rootfs
        busybox_rootfs(rootfs)
        run(["crun", "spec"], cwd=rootfs.parent)
        cfg = json.loads((rootfs.parent / "config.json").read_text())
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = ["true"]
        cfg["process"].pop("rlimits", None)
        cfg["linux"].pop("resources", None)
        (rootfs.parent / "config.json").write_text(json.dumps(cfg))
    tag = uuid.uuid4().hex[:6]
    for i in range(reps):
        out["fork+exec /bin/true"].append(timed(["/bin/true"]))
        out["unshare all namespaces"].append(
            timed(["unshare", "-m", "-u", "-i", "-n", "-p", "-f", "-C", "/bin/true"]))
        ns, h, c = f"prbf-{tag}", f"prbh{tag}{i % 10}", f"prbc{tag}{i % 10}"
        t0 = now()
        try:
            run(["ip", "netns", "add", ns])
            run(["ip", "link", "add", h, "type", "veth", "peer", "name", c])
            run(["ip", "link", "set", c, "netns", ns])
            run(["ip", "-n", ns, "addr", "add", "198.18.1.2/30", "dev", c])
            run(["ip", "-n", ns, "link", "set", c, "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "link", "set", h, "up"])
            run(["ip", "link", "del", h])
            run(["ip", "netns", "del", ns])
            out["netns + veth by hand"].append(now() - t0)
        finally:
            run(["ip", "link", "del", h], check=False)
            run(["ip", "netns", "del", ns], check=False)
    if crun_ok:
        # crun refuses the hybrid layout: time it inside podman's mount namespace (cgroup2 at
        # /sys/fs/cgroup), the clock running in there so nsenter's own cost is not counted.
        code = (f"import json,subprocess,sys,time\nout=[]\nfor i in range({reps}):\n"
                f" t=time.perf_counter()\n subprocess.run(['crun','--cgroup-manager=disabled',"
                f"'run','prb-floor-{tag}'],cwd={str(rootfs.parent)!r},check=True,"
                f"capture_output=True)\n out.append(time.perf_counter()-t)\n"
                f"print(json.dumps(out))\n")
        enter = ["nsenter", "-t", str(ns_pid), "-m"] if ns_pid else []
        r = run([*enter, sys.executable, "-c", code], check=False)
        if r.returncode == 0:
            out["crun run (no cgroups)"] = json.loads(r.stdout)
        else:
            out.pop("crun run (no cgroups)")
            print(f"crun floor failed: {r.stderr[-500:]}", file=sys.stderr)
    return out


def crun_works(base: Path) -> str:
    if not shutil.which("crun"):
        return "crun not installed"
    return ""


# ---------------------------------------------------------------- the benchmark

class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.a = args
        self.tag = uuid.uuid4().hex[:6]
        self.base = Path(tempfile.mkdtemp(prefix="podrun-bench-", dir="/var/tmp"))
        self.times: dict[str, dict[str, list[float]]] = {}
        self.values: dict[str, dict[str, float]] = {}
        self.notes: list[str] = []
        self.podrun = Podrun(self.base / "podrun", self.tag)
        self.podman: Podman | None = None
        self.skip_podman = ""
        if args.no_podman:
            self.skip_podman = "--no-podman given"
        elif not shutil.which("podman") or not shutil.which("crun"):
            self.skip_podman = "podman/crun not installed (bench/run installs them)"
        elif not shutil.which("nsenter") or not shutil.which("unshare"):
            self.skip_podman = "util-linux nsenter/unshare missing"

    def add(self, figure: str, who: str, secs: float) -> None:
        self.times.setdefault(figure, {}).setdefault(who, []).append(secs)

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def run(self) -> None:
        from podrun.image.scratch import busybox_rootfs, oci_archive
        archive = oci_archive(busybox_rootfs(self.base / "image-rootfs"),
                              self.base / "busybox.tar", IMAGE)
        t0 = now()
        self.podrun.start(archive)
        self.log(f"podrun daemon up (pid {self.podrun.pid}) in {now() - t0:.2f}s")
        if not self.skip_podman:
            try:
                self.podman = Podman(self.base / "podman", self.tag)
                self.podman.start(archive)
                self.log("podman ready (private root, private mount namespace)")
            except Exception as e:  # noqa: BLE001 - reported, podrun parts still run
                self.skip_podman = f"podman setup failed: {e}"
                if self.podman is not None:
                    self.podman.cleanup()
                self.podman = None
        if self.skip_podman:
            self.notes.append(f"podman parts skipped: {self.skip_podman}")
            self.log(self.notes[-1])
        self.bench_start_stop()
        self.bench_static()
        self.bench_memory_density()
        self.bench_floors()
        if not self.a.quick:
            self.bench_external()

    # -- start / stop
    def bench_start_stop(self) -> None:
        variants = [(1, True), (3, True), (1, False), (3, False)]
        if self.a.quick:
            variants = [(1, True), (1, False)]
        d = self.base / "manifests"
        d.mkdir()
        for rep in range(self.a.reps):
            for n, hostnet in variants:
                net = "host network" if hostnet else "pod network (CNI)"
                fig = f"start {n} container{'s' if n > 1 else ''}, {net}"
                name = f"s{n}{'h' if hostnet else 'n'}{rep}"
                y = pod_yaml(name, n, hostnet)
                self.add(fig, "podrun", self.podrun.apply_wait(y))
                self.podrun.delete_wait(name)
                if self.podman:
                    f = d / f"{name}.yaml"
                    f.write_text(y)
                    self.add(fig, "podman", self.podman.play_wait(f, not hostnet, [name]))
                    self.podman.down(f)
            # graceful stop of a TERM-trapping container, host network
            name = f"stop{rep}"
            y = pod_yaml(name, 1, True, trap=True)
            self.podrun.apply_wait(y)
            time.sleep(0.3)  # the shell has set its trap
            self.add("stop 1 TERM-trapping container", "podrun", self.podrun.delete_wait(name))
            if self.podman:
                f = d / f"{name}.yaml"
                f.write_text(y)
                self.podman.play_wait(f, False, [name])
                time.sleep(0.3)
                self.add("stop 1 TERM-trapping container", "podman", self.podman.down(f))
            self.log(f"start/stop rep {rep + 1}/{self.a.reps}")

    # -- static pods
    def bench_static(self) -> None:
        for rep in range(self.a.reps):
            name = f"static{rep}"
            f = self.podrun.manifest_dir / f"{name}.yaml"
            tmp = self.podrun.manifest_dir / f".{name}.tmp"
            tmp.write_text(pod_yaml(name, 1, True))
            t0 = now()
            tmp.rename(f)
            wait_for(self.podrun.has_phase, 60, 0.01, (f"{name}-bench", "Running"))
            self.add("static manifest written -> Running (1 container)", "podrun", now() - t0)
            f.unlink()
            wait_for(self.podrun.has_phase, 60, 0.05, (f"{name}-bench", ""))
        self.log("static pods done")

    # -- memory and density
    def podrun_pss(self) -> tuple[float, float, int]:
        pids = self.podrun.pause_pids()
        pss = sum(smaps(p)[0] for p in pids)
        rss = sum(smaps(p)[1] for p in pids)
        return pss, rss, len(pids)

    def podman_pss(self) -> tuple[float, float, int]:
        assert self.podman is not None
        pids = self.podman.overhead_pids()
        return sum(smaps(p)[0] for p in pids), sum(smaps(p)[1] for p in pids), len(pids)

    def bench_memory_density(self) -> None:
        counts = sorted(set(self.a.pods + [self.a.density]))
        d = self.base / "manifests"
        self.values["daemon"] = {}
        pss0, rss0 = smaps(self.podrun.pid)
        self.values["daemon"]["podrun daemon RSS, 0 pods (MiB)"] = rss0
        self.values["daemon"]["podrun daemon PSS, 0 pods (MiB)"] = pss0
        for count in counts:
            names = [f"m{count}-{i}" for i in range(count)]
            y = "---\n".join(pod_yaml(n, 1, True) for n in names)
            f = d / f"density{count}.yaml"
            f.write_text(y)
            t0 = now()
            self.podrun.cli("apply", "--wait", "--timeout", "600s", "-f", str(f), timeout=900)
            t_podrun = now() - t0
            time.sleep(1)
            pss, rss, nproc = self.podrun_pss()
            fig = f"per-pod overhead at {count} pods"
            self.values.setdefault(fig, {})["podrun PSS (MiB)"] = pss / count
            self.values[fig]["podrun RSS (MiB)"] = rss / count
            self.values[fig]["podrun processes per pod"] = nproc / count
            if count == self.a.density:
                self.add(f"start {count} pods (1 container each)", "podrun", t_podrun)
                self.values["daemon"][f"podrun daemon RSS, {count} pods (MiB)"] = \
                    smaps(self.podrun.pid)[1]
                self.values["daemon"][f"podrun daemon PSS, {count} pods (MiB)"] = \
                    smaps(self.podrun.pid)[0]
                c0, w0 = cpu_seconds(self.podrun.pid), now()
                time.sleep(self.a.idle)
                cpu = (cpu_seconds(self.podrun.pid) - c0) / (now() - w0)
                self.values["daemon"][f"podrun daemon CPU, {count} pods idle (% of a core)"] = \
                    cpu * 100
            t0 = now()
            self.podrun.delete_all()
            self.values.setdefault("teardown", {})[f"podrun delete {count} pods (s)"] = now() - t0
            if self.podman:
                t0 = now()
                self.podman.podman("kube", "play", "--network", "host", str(f), timeout=900)
                wait_for(self.podman.running, 120, 0.05, (names[-1],))
                t_podman = now() - t0
                time.sleep(1)
                pss, rss, nproc = self.podman_pss()
                self.values[fig]["podman PSS (MiB)"] = pss / count
                self.values[fig]["podman RSS (MiB)"] = rss / count
                self.values[fig]["podman processes per pod"] = nproc / count
                if count == self.a.density:
                    self.add(f"start {count} pods (1 container each)", "podman", t_podman)
                t0 = now()
                self.podman.podman("kube", "down", str(f), timeout=900)
                self.values["teardown"][f"podman kube down {count} pods (s)"] = now() - t0
            self.log(f"memory/density at {count} pods done")

    def bench_floors(self) -> None:
        fl = self.times.setdefault("floor", {})
        py = str(REPO / ".venv/bin/python")
        for _ in range(1 if self.a.quick else max(self.a.reps, 5)):
            fl.setdefault("python -c pass (venv interpreter start)", []).append(
                timed([py, "-c", "pass"], env=self.podrun.env))
            fl.setdefault("python -I -S -c pass (bare interpreter)", []).append(
                timed([py, "-I", "-S", "-c", "pass"]))
            t0 = now()
            self.podrun.cli("get", "pods")
            fl.setdefault("podrun get pods (CLI start + 1 API call)", []).append(now() - t0)
            t0 = now()
            run([str(PODRUN), "--socket", str(self.podrun.socket), "get", "pods"],
                env={k: v for k, v in self.podrun.env.items() if k != "PYTHONPYCACHEPREFIX"}
                | {"PYTHONDONTWRITEBYTECODE": "1"})
            fl.setdefault("podrun get pods, no bytecode cache (PYTHONDONTWRITEBYTECODE=1)",
                          []).append(now() - t0)
        crun_ok = bool(shutil.which("crun"))
        crun_ok = crun_ok and self.podman is not None and self.podman.ns_holder is not None
        ns_pid = self.podman.ns_holder.pid if crun_ok and self.podman and self.podman.ns_holder \
            else None
        for k, v in floors(self.base / "floors", 1 if self.a.quick else max(self.a.reps, 5), crun_ok,
                           ns_pid).items():
            fl[k] = v
        if not crun_ok:
            self.notes.append("crun floor skipped: needs crun and podman's mount namespace")
        self.log("floors done")

    def bench_external(self) -> None:
        """The existing one-part benches, short runs, their output kept verbatim."""
        py = str(REPO / ".venv/bin/python")
        self.external: dict[str, str] = {}
        for name, argv in [
            ("probe_bench.py (200 pods x 2 HTTP probes at 1 s, 30 s)",
             [py, "bench/probe_bench.py"]),
            ("image_bench.py (50 MiB, 4 layers)",
             [py, "bench/image_bench.py", "--size-mib", "50"]),
            ("network_bench.py (CNI ADD+DEL, podrun-bridge vs reference plugins, N=20)",
             [py, "bench/network_bench.py", "-n", "20"]),
        ]:
            t0 = now()
            r = run(argv, check=False, timeout=300, cwd=REPO)
            self.external[name] = (r.stdout + (r.stderr[-1500:] if r.returncode else "")).strip()
            self.log(f"{name}: {now() - t0:.0f}s, exit {r.returncode}")

    def cleanup(self) -> list[str]:
        left: list[str] = []
        if self.podman is not None:
            left += self.podman.cleanup()
        self.podrun.stop()
        left += self.podrun.force_cleanup()
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            if str(self.base) in line.split()[4]:
                left.append(line.split()[4])
        shutil.rmtree(self.base, ignore_errors=True)
        return left


# ---------------------------------------------------------------- report

TARGETS = {"start": 1 / 3, "stop": 1 / 2, "per-pod": 1 / 2}


def target_for(fig: str) -> float | None:
    for k, v in TARGETS.items():
        if fig.startswith(k):
            return v
    return None


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    ver = run(["podman", "--version"], check=False).stdout.strip() if shutil.which("podman") \
        else "podman not installed"
    crun = (run(["crun", "--version"], check=False).stdout.splitlines() or ["?"])[0] \
        if shutil.which("crun") else "crun not installed"
    return (f"{platform.node()}: {os.cpu_count()} CPU ({cpu}), {mem:.1f} GiB RAM, Linux "
            f"{platform.release()}, Python {platform.python_version()}, {ver}, {crun}")


def fmt_ms(x: float) -> str:
    return f"{x * 1000:.0f}" if x >= 0.1 else f"{x * 1000:.1f}"


def report(b: Bench, elapsed: float) -> str:
    a = b.a
    lines = [f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {a.reps} repetitions"
             f"{' (--quick)' if a.quick else ''}, {elapsed:.0f} s in all.", "",
             f"Machine: {machine()}", ""]
    lines += ["### Times (ms): median [p10-p90], spread = (p90-p10)/median", "",
              "| figure | podrun | podman | podrun / podman | target |",
              "|---|---|---|---|---|"]
    for fig, who in b.times.items():
        if fig == "floor":
            continue
        pr, pm = summary(who.get("podrun", [])), summary(who.get("podman", []))

        def cell(s: dict[str, float]) -> str:
            if not s:
                return "-"
            return (f"{fmt_ms(s['median'])} [{fmt_ms(s['p10'])}-{fmt_ms(s['p90'])}] "
                    f"±{s['spread'] * 100:.0f}%")
        ratio = pr["median"] / pm["median"] if pr and pm else None
        t = target_for(fig)
        tcell = "-"
        if fig.startswith("static"):
            tcell = f"<= 1000 ms: {'met' if pr and pr['median'] <= 1 else 'MISSED'}"
        elif t is not None and ratio is not None:
            tcell = f"<= {t:.2f}: {'met' if ratio <= t else 'MISSED'}"
        elif t is not None:
            tcell = f"<= {t:.2f}"
        lines.append(f"| {fig} | {cell(pr)} | {cell(pm)} | "
                     f"{f'{ratio:.2f}' if ratio is not None else '-'} | {tcell} |")
    lines += ["", "### The floor (ms): what the same work costs done by hand", "",
              "| operation | median [p10-p90] | next to |", "|---|---|---|"]
    nextto = {"fork+exec /bin/true": "each CLI call, each process podrun starts",
              "unshare all namespaces": "pause's clone of a pod's namespaces",
              "netns + veth by hand": "CNI ADD+DEL of the pod-network rows",
              "crun run (no cgroups)": "one container start+exit, podman's runtime alone",
              "python -c pass (venv interpreter start)": "the start of every podrun CLI call",
              "python -I -S -c pass (bare interpreter)": "the init helper's and CNI plugin's "
              "interpreter start",
              "podrun get pods (CLI start + 1 API call)": "the fixed cost inside every podrun "
              "row (apply, delete, get)",
              "podrun get pods, no bytecode cache (PYTHONDONTWRITEBYTECODE=1)":
              "the same with this machine's default environment"}
    for k, v in b.times.get("floor", {}).items():
        s = summary(v)
        if s:
            lines.append(f"| {k} | {fmt_ms(s['median'])} [{fmt_ms(s['p10'])}-"
                         f"{fmt_ms(s['p90'])}] | {nextto.get(k, '')} |")
    lines += ["", "### Memory (MiB per pod; podrun: pause; podman: conmon per container + "
              "the infra container's catatonit)", "",
              "| pods | podrun PSS | podman PSS | podrun / podman | target | podrun RSS | "
              "podman RSS | processes per pod (podrun / podman) |", "|---|---|---|---|---|---|---|---|"]
    def f3(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"
    for fig, mv in b.values.items():
        if not fig.startswith("per-pod"):
            continue
        mpr, mpm = mv.get("podrun PSS (MiB)"), mv.get("podman PSS (MiB)")
        mratio = mpr / mpm if mpr and mpm else None
        mcell = f"<= 0.50: {'met' if mratio <= 0.5 else 'MISSED'}" if mratio else "<= 0.50"
        lines.append(
            f"| {fig.rsplit(' ', 2)[-2]} | {f3(mpr)} | {f3(mpm)} | "
            f"{f'{mratio:.2f}' if mratio else '-'} | {mcell} | "
            f"{f3(mv.get('podrun RSS (MiB)'))} | "
            f"{f3(mv.get('podman RSS (MiB)'))} | {mv.get('podrun processes per pod', 0):.0f} / "
            f"{mv.get('podman processes per pod', 0):.0f} |")
    lines += ["", "### Daemon and teardown", "", "| figure | value | target |", "|---|---|---|"]
    for k, dv in {**b.values.get("daemon", {}), **b.values.get("teardown", {})}.items():
        dt = "-"
        if "CPU" in k:
            dt = f"<= 2%: {'met' if dv <= 2 else 'MISSED'}"
        lines.append(f"| {k} | {dv:.2f} | {dt} |")
    if b.notes:
        lines += ["", "Notes:", *[f"- {n}" for n in b.notes]]
    ext = getattr(b, "external", {})
    for name, out in ext.items():
        lines += ["", f"### {name}", "", "```", out, "```"]
    return "\n".join(lines) + "\n"


def plot(b: Bench, out: Path) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no PNG (bench/run installs it into .venv)"
    figs = [f for f in b.times if f != "floor"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(15, 0.55 * len(figs) + 2.5),
                                  gridspec_kw={"width_ratios": [3, 1.3]})
    y = list(range(len(figs)))
    for off, who, color in [(-0.2, "podrun", "tab:blue"), (0.2, "podman", "tab:orange")]:
        med, lo, hi, ys = [], [], [], []
        for i, f in enumerate(figs):
            s = summary(b.times[f].get(who, []))
            if s:
                ys.append(i + off)
                med.append(s["median"] * 1000)
                lo.append((s["median"] - s["p10"]) * 1000)
                hi.append((s["p90"] - s["median"]) * 1000)
        if med:
            ax.barh(ys, med, height=0.38, xerr=[lo, hi], color=color, label=who, capsize=2)
    ax.set_yticks(y, figs, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("ms (median, p10-p90 whiskers; log scale)")
    ax.legend()
    ax.set_title("podrun vs podman kube play")
    mem = [(f.rsplit(" ", 2)[-2], v) for f, v in b.values.items() if f.startswith("per-pod")]
    xs = list(range(len(mem)))
    ax2.bar([x - 0.2 for x in xs], [v.get("podrun PSS (MiB)", 0) for _, v in mem], 0.4,
            label="podrun (pause)", color="tab:blue")
    ax2.bar([x + 0.2 for x in xs], [v.get("podman PSS (MiB)", 0) for _, v in mem], 0.4,
            label="podman (conmon+catatonit)", color="tab:orange")
    ax2.set_xticks(xs, [f"{n} pods" for n, _ in mem])
    ax2.set_ylabel("PSS per pod (MiB)")
    ax2.set_title("per-pod overhead")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="1 repetition, 1/3 pods, 2 s idle, no probe/image/network benches")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--pods", default="1,10,50", help="pod counts for the memory figures")
    ap.add_argument("--density", type=int, default=100)
    ap.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measurement")
    ap.add_argument("--no-podman", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    a.pods = [int(x) for x in str(a.pods).split(",") if x]
    if a.quick:
        a.reps, a.pods, a.density, a.idle = 1, [1], 3, 2.0
    if os.geteuid() != 0:
        print("bench: run as root (podrun and podman manage namespaces, cgroups, mounts)",
              file=sys.stderr)
        return 2
    b = Bench(a)
    t0 = now()
    left: list[str] = []
    try:
        b.run()
    finally:
        left = b.cleanup()
        if left:
            print(f"bench: had to remove by force: {left}", file=sys.stderr)
    b.log(f"done in {now() - t0:.0f}s")
    a.out.mkdir(parents=True, exist_ok=True)
    text = report(b, now() - t0)
    (a.out / "results.md").write_text(text)
    (a.out / "results.json").write_text(json.dumps(
        {"times": b.times, "values": b.values, "notes": b.notes}, indent=1))
    msg = plot(b, a.out / "results.png")
    print(text)
    if msg:
        print(msg)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
