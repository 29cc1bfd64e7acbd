"""podrun's VM stage: build (once, cached) a Debian 12 guest image with a pure cgroup v2
hierarchy, boot it with QEMU, run a command in it and report its exit status.

    harness.py build [--force]                   build the image unless cached; print its dir
    harness.py run [opts] -- CMD ...              run CMD (a bash command line) in the guest
    harness.py ci [opts] [-- PYTEST ARGS ...]     build-or-reuse, then `bash tests/run -m cgroupv2`
                                                  in the guest (what tests/vm/run does)
    harness.py host-tools                          install qemu + debootstrap on the host if missing

Stdlib only and started with /usr/bin/python3, so it works before the venv exists.
Contract with the guest: tests/vm/guest/podrun-vm-run. docs/vm.md has the measured times.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parent.parent
CACHE = Path(os.environ.get("PODRUN_VM_CACHE", "/var/tmp/podrun-vm-cache"))
BUILD_SCRIPT = HERE / "build-image.sh"
GUEST_DIR = HERE / "guest"
SUITE = "bookworm"
IMAGE_FILES = ("vmlinuz", "initrd.img", "root.img")
# Host tools: Debian package -> the command that proves it is installed.
HOST_TOOLS = {"qemu-system-x86": "qemu-system-x86_64", "debootstrap": "debootstrap",
              "e2fsprogs": "mkfs.ext4"}
# And for the Vagrant box (harness.py box).
BOX_TOOLS = {"fdisk": "sfdisk", "qemu-utils": "qemu-img"}
# Exit status when the VM gave none (boot failure, timeout, crash), as run-in-vm scripts do.
NO_STATUS = 125
KEEP_IMAGES = 2


def log(msg: str) -> None:
    print(f"[vm] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Host tools
# ---------------------------------------------------------------------------------------


def which(cmd: str) -> str | None:
    """shutil.which, also in the sbin directories (not on every root PATH)."""
    return shutil.which(cmd) or shutil.which(cmd, path="/usr/local/sbin:/usr/sbin:/sbin")


def missing_host_tools(tools: dict[str, str] = HOST_TOOLS) -> list[str]:
    return [pkg for pkg, cmd in tools.items() if which(cmd) is None]


def ensure_host_tools(tools: dict[str, str] = HOST_TOOLS) -> list[str]:
    """apt-get install what is missing; returns what is still missing afterwards."""
    missing = missing_host_tools(tools)
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing host tools: {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL)
    return missing_host_tools(tools)


# ---------------------------------------------------------------------------------------
# The image: built by build-image.sh, cached by a hash of everything that goes into it
# ---------------------------------------------------------------------------------------


def setup_packages(setup_sh: Path = TOP / "tests/setup.sh") -> list[str]:
    """The apt packages podrun's installer checks for (its `pkgs=( ... )` list): the guest
    gets them all, so tests/setup.sh installs nothing there (the guest has no network)."""
    text = setup_sh.read_text()
    m = re.search(r"^pkgs=\((.*?)^\)", text, re.S | re.M)
    if not m:
        raise SystemExit(f"{setup_sh}: no pkgs=( ... ) list found")
    words = [w for line in m.group(1).splitlines() for w in line.split("#", 1)[0].split()]
    return sorted(set(words))


def image_key(packages: list[str]) -> str:
    h = hashlib.sha256()
    h.update(f"suite={SUITE}\npackages={' '.join(packages)}\n".encode())
    for f in [BUILD_SCRIPT, *sorted(GUEST_DIR.iterdir())]:
        h.update(f"{f.name}\n".encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def image_ready(d: Path) -> bool:
    return all((d / f).is_file() for f in IMAGE_FILES) and (d / "ok").is_file()


def build_image(force: bool = False) -> Path:
    """The cached image directory, built first if needed (under a lock: one build at a time)."""
    packages = setup_packages()
    key = image_key(packages)
    d = CACHE / key
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_ready(d) and not force:
            (d / "ok").touch()  # last use, for pruning
            log(f"image {d} (cached)")
            return d
        missing = ensure_host_tools()
        if missing:
            raise SystemExit(f"cannot build the VM image: missing host packages {missing}")
        tmp = CACHE / f".build-{key}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"building image {key} (debootstrap {SUITE}; a few minutes)")
        t0 = time.monotonic()
        env = dict(os.environ, PACKAGES=" ".join(packages), SUITE=SUITE)
        try:
            subprocess.run(["bash", str(BUILD_SCRIPT), str(tmp)], env=env, check=True,
                           stdout=sys.stderr, timeout=1800)
            (tmp / "ok").write_text(json.dumps(
                {"key": key, "built_seconds": round(time.monotonic() - t0, 1),
                 "packages": packages}) + "\n")
            shutil.rmtree(d, ignore_errors=True)
            tmp.rename(d)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log(f"image built in {time.monotonic() - t0:.0f}s: {d}")
        _prune(keep=d)
        return d


def _prune(keep: Path) -> None:
    """Keep the newest KEEP_IMAGES images (by last use); delete older ones and stale builds."""
    images = sorted((p for p in CACHE.iterdir() if re.fullmatch(r"[0-9a-f]{16}", p.name)
                     and p.is_dir() and p != keep), key=lambda p: _mtime(p / "ok"), reverse=True)
    for p in images[KEEP_IMAGES - 1:]:
        log(f"removing old image {p}")
        shutil.rmtree(p, ignore_errors=True)


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


# ---------------------------------------------------------------------------------------
# Booting
# ---------------------------------------------------------------------------------------


def choose_accel(requested: str = "auto") -> str:
    """KVM only when it can work: /dev/kvm usable and not PVM-backed (kvm_pvm needs a
    PVM guest kernel; Debian's hangs at boot). Else TCG (software, multi-threaded)."""
    if requested != "auto":
        return requested
    if Path("/sys/module/kvm_pvm").exists():
        return "tcg"
    if os.access("/dev/kvm", os.R_OK | os.W_OK) and (
            Path("/sys/module/kvm_intel").exists() or Path("/sys/module/kvm_amd").exists()):
        return "kvm"
    return "tcg"


@dataclass
class VMResult:
    rc: int  # the command's exit status; NO_STATUS when the guest reported none
    seconds: float
    accel: str
    init: str
    timed_out: bool = False
    console_tail: str = ""


def _kernel_cmdline(init: str, root: str = "/dev/vda") -> str:
    cmd = (f"console=ttyS0,115200 root={root} rw net.ifnames=0 panic=-1 podrun.vm=1 "
           "systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all quiet")
    if init == "minimal":
        return cmd + " init=/usr/local/sbin/podrun-vm-init"
    # The image serves the Vagrant box too; a test boot has no network and no login.
    return cmd + (" systemd.show_status=0 systemd.mask=serial-getty@ttyS0.service "
                  "systemd.mask=systemd-networkd.service systemd.mask=ssh.service")


def _pdeathsig() -> None:
    # qemu dies with the harness even if the harness is SIGKILLed.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def run_in_vm(command: str, image: Path, *, init: str = "systemd", timeout: float = 900,
              mem_mb: int = 3072, cpus: int | None = None, accel: str = "auto",
              share_src: bool = True, results: Path | None = None,
              env: dict[str, str] | None = None, verbose: bool = False,
              disk: Path | None = None, root: str = "/dev/vda",
              out=None) -> VMResult:  # noqa: ANN001
    """Boot `image`, run `command` (bash) in the guest, stream its output to `out`.

    The checkout is shared read-only at its own path (writes go to a tmpfs overlay in the
    guest); `results` receives what the command wrote to $PODRUN_VM_RESULTS. qemu is
    killed on every way out (timeout, exception, Ctrl-C). `disk` (with `root`, the guest's
    root device): boot that disk and write to it, instead of a snapshot of the image."""
    out = out or sys.stdout
    accel = choose_accel(accel)
    cpus = cpus or min(os.cpu_count() or 1, 4)
    work = Path(tempfile.mkdtemp(prefix="podrun-vm-"))
    ctl = work / "ctl"
    ctl.mkdir()
    (ctl / "cmd.sh").write_text(command + "\n")
    if env:
        (ctl / "env").write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
    if share_src:
        (ctl / "src").write_text(str(TOP) + "\n")
    output, console = work / "output.log", work / "console.log"
    output.touch()
    accel_args = (["-accel", "kvm", "-cpu", "host"] if accel == "kvm"
                  else ["-accel", "tcg,thread=multi", "-cpu", "qemu64"])
    qemu = ["qemu-system-x86_64", "-name", "podrun-vm", "-machine", "pc", *accel_args,
            "-smp", str(cpus), "-m", str(mem_mb), "-nodefaults", "-no-user-config",
            "-display", "none", "-no-reboot",
            "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"),
            "-append", _kernel_cmdline(init, root),
            "-drive", (f"file={disk},format=raw,if=virtio,cache=writeback" if disk else
                       f"file={image / 'root.img'},format=raw,if=virtio,snapshot=on,cache=unsafe"),
            "-chardev", f"file,id=con,path={console}", "-serial", "chardev:con",
            "-chardev", f"file,id=out,path={output}", "-serial", "chardev:out",
            "-virtfs", f"local,path={ctl},mount_tag=podrun_ctl,security_model=none,id=ctl",
            "-device", "virtio-rng-pci"]
    if share_src:
        qemu += ["-virtfs", f"local,path={TOP},mount_tag=podrun_src,security_model=none,"
                 "readonly=on,id=src"]
    t0 = time.monotonic()
    timed_out = False
    pos = cpos = 0
    proc: subprocess.Popen[bytes] | None = None
    # SIGTERM (e.g. from a CI runner) unwinds like Ctrl-C, so the finally below runs.
    old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        proc = subprocess.Popen(qemu, stdin=subprocess.DEVNULL, stdout=open(work / "qemu.log", "wb"),
                                stderr=subprocess.STDOUT, preexec_fn=_pdeathsig,
                                env=dict(os.environ, TMPDIR="/var/tmp"))
        log(f"qemu pid {proc.pid}: accel={accel} init={init} cpus={cpus} mem={mem_mb}M")
        while True:
            pos = _pump(output, pos, out)
            if verbose:
                cpos = _pump(console, cpos, sys.stderr)
            if proc.poll() is not None:
                break
            if time.monotonic() - t0 > timeout:
                timed_out = True
                log(f"timeout after {timeout:.0f}s: killing qemu {proc.pid}")
                break
            time.sleep(0.2)
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        signal.signal(signal.SIGTERM, old_term)
        _pump(output, pos, out)
        seconds = time.monotonic() - t0
        rc_text = (ctl / "rc").read_text().strip() if (ctl / "rc").exists() else ""
        tail = ""
        if not rc_text.isdigit():
            tail = "\n".join(_tail(console, 40) + _tail(work / "qemu.log", 20))
        if results is not None and (ctl / "results").is_dir():
            results.mkdir(parents=True, exist_ok=True)
            shutil.copytree(ctl / "results", results, dirs_exist_ok=True)
        if os.environ.get("PODRUN_VM_KEEP"):
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    rc = int(rc_text) if rc_text.isdigit() else NO_STATUS
    if rc == NO_STATUS and tail:
        log("the VM reported no exit status; last console lines:\n" + tail)
    return VMResult(rc, seconds, accel, init, timed_out, tail)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _pump(path: Path, pos: int, out) -> int:  # noqa: ANN001
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            data = f.read()
    except FileNotFoundError:
        return pos
    if data:
        text = data.decode(errors="replace").replace("\r\n", "\n")
        out.write(text)
        out.flush()
    return pos + len(data)


def _tail(path: Path, n: int) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []


# ---------------------------------------------------------------------------------------
# A Vagrant box (libvirt) from the same image
# ---------------------------------------------------------------------------------------

BOX_NAME = "podrun/bookworm-local"
BOX_VAGRANTFILE = """Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.disk_bus = "virtio"
  end
end
"""


def build_box(image: Path) -> Path:
    """<image>/podrun-vm.box: the image on an MBR disk with GRUB, as a libvirt box."""
    box = image / "podrun-vm.box"
    if box.exists():
        return box
    ensure_host_tools(BOX_TOOLS)
    sfdisk, qemu_img = which("sfdisk"), which("qemu-img")
    if sfdisk is None or qemu_img is None:
        raise SystemExit("building the box needs sfdisk and qemu-img (fdisk, qemu-utils)")
    work = Path(tempfile.mkdtemp(prefix="podrun-box-", dir="/var/tmp"))
    try:
        t0 = time.monotonic()
        disk = work / "disk.raw"
        fs_size = (image / "root.img").stat().st_size
        with open(disk, "wb") as f:
            f.truncate(fs_size + 2**20)
        subprocess.run([sfdisk, "-q", str(disk)], input=b"label: dos\nstart=2048, type=83, bootable\n",
                       check=True)
        subprocess.run(["dd", f"if={image / 'root.img'}", f"of={disk}", "bs=1M", "seek=1",
                        "conv=notrunc,sparse", "status=none"], check=True)
        # GRUB goes into the MBR from inside the VM (grub-install wants the real disk).
        res = run_in_vm("grub-install --target=i386-pc --no-floppy /dev/vda && sync", image,
                        init="minimal", timeout=600, share_src=False, disk=disk,
                        root="/dev/vda1", out=sys.stderr)
        if res.rc != 0:
            raise SystemExit(f"grub-install in the VM failed (exit {res.rc})")
        subprocess.run([qemu_img, "convert", "-O", "qcow2", str(disk), str(work / "box.img")],
                       check=True)
        gib = -(-(fs_size + 2**20) // 2**30)
        (work / "metadata.json").write_text(json.dumps(
            {"provider": "libvirt", "format": "qcow2", "virtual_size": gib}) + "\n")
        (work / "Vagrantfile").write_text(BOX_VAGRANTFILE)
        subprocess.run(["tar", "-C", str(work), "-cf", str(work / "podrun-vm.box"),
                        "metadata.json", "Vagrantfile", "box.img"], check=True)
        (work / "podrun-vm.box").rename(box)
        log(f"box built in {time.monotonic() - t0:.0f}s: {box}")
        return box
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# The CI stage
# ---------------------------------------------------------------------------------------

# What the guest runs: podrun's installer the README's way (tests/setup.sh finds every apt
# package installed and the host's .venv in the shared checkout), then pytest as tests/run
# runs it, on the test files that use the marker: collecting all of tests/ costs minutes
# under TCG, these few files seconds.
GUEST_CI = """\
set -u
echo "guest: up $(cut -d' ' -f1 /proc/uptime)s, kernel $(uname -r), PID 1 $(cat /proc/1/comm), \
$(nproc) cpus, cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
t0=$(date +%s%N)
bash tests/setup.sh || exit
files=$(grep -rlE --include='test_*.py' {marker_word} tests | sort)
echo "guest: setup $(( ($(date +%s%N) - t0) / 1000000 )) ms; test files:" $files
.venv/bin/python -m pytest -p no:cacheprovider -m {marker} --junitxml="$PODRUN_VM_RESULTS/junit.xml" \
    {args} $files
rc=$?
echo "guest: pytest exit $rc, setup + tests $(( ($(date +%s%N) - t0) / 1000000 )) ms"
exit $rc
"""


def junit_summary(path: Path) -> dict[str, int]:
    """Totals from a pytest junit XML: tests, failures, errors, skipped (plus passed)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tot = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    tot["passed"] = tot["tests"] - tot["failures"] - tot["errors"] - tot["skipped"]
    return tot


def ci(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    missing = ensure_host_tools()
    if missing:
        log(f"cannot run the VM stage: host packages missing and not installable: {missing}")
        return 77
    # The guest uses the host's .venv and pause binary from the shared checkout.
    subprocess.run(["bash", str(TOP / "tests/setup.sh")], check=True, stdout=sys.stderr)
    tb = time.monotonic()
    image = build_image(force=args.rebuild)
    build_s = time.monotonic() - tb
    results = Path(args.results) if args.results else Path(tempfile.mkdtemp(prefix="podrun-vm-results-"))
    pytest_args = " ".join(shlex.quote(a) for a in args.pytest_args)
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", args.marker)
    marker_word = "|".join(w for w in words if w not in ("and", "or", "not")) or "cgroupv2"
    res = run_in_vm(GUEST_CI.format(marker=shlex.quote(args.marker), args=pytest_args,
                                    marker_word=shlex.quote(marker_word)), image,
                    init=args.init, timeout=args.timeout, mem_mb=args.mem, accel=args.accel,
                    results=results, verbose=args.verbose)
    summary = {}
    if (results / "junit.xml").exists():
        summary = junit_summary(results / "junit.xml")
    report = {"rc": res.rc, "accel": res.accel, "init": res.init, "timed_out": res.timed_out,
              "image": str(image), "image_seconds": round(build_s, 1),
              "vm_seconds": round(res.seconds, 1), "total_seconds": round(time.monotonic() - t0, 1),
              "pytest": summary}
    (results / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    log(f"guest pytest: {summary or 'no junit.xml'}; exit {res.rc}; image {build_s:.0f}s, "
        f"VM {res.seconds:.0f}s ({res.accel}, init={res.init}); results in {results}")
    if not args.results and res.rc == 0:
        shutil.rmtree(results, ignore_errors=True)
    return res.rc


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="harness.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the guest image unless cached; print its directory")
    b.add_argument("--force", action="store_true")
    sub.add_parser("host-tools", help="install qemu and debootstrap on the host if missing")
    bx = sub.add_parser("box", help="build a libvirt Vagrant box from the image; print its path")
    bx.add_argument("--add", metavar="NAME", nargs="?", const=BOX_NAME,
                    help=f"also `vagrant box add` it (default name {BOX_NAME})")
    for name in ("run", "ci"):
        s = sub.add_parser(name)
        s.add_argument("--init", choices=["systemd", "minimal"], default="systemd",
                       help="guest PID 1: systemd (delegation tests) or a tiny script (faster)")
        s.add_argument("--timeout", type=float, default=900, help="hard limit for the VM (s)")
        s.add_argument("--mem", type=int, default=3072, help="guest memory (MiB)")
        s.add_argument("--accel", choices=["auto", "kvm", "tcg"],
                       default=os.environ.get("PODRUN_VM_ACCEL", "auto"))
        s.add_argument("--results", help="host directory for the guest's $PODRUN_VM_RESULTS")
        s.add_argument("-v", "--verbose", action="store_true", help="stream the boot console too")
    r = sub.choices["run"]
    r.add_argument("--no-src", action="store_true", help="do not share the checkout")
    r.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ... (a bash command line)")
    c = sub.choices["ci"]
    c.add_argument("--marker", default="cgroupv2", help="pytest -m expression (default cgroupv2)")
    c.add_argument("--rebuild", action="store_true", help="rebuild the image even if cached")
    c.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- extra pytest arguments")
    args = p.parse_args(argv)
    if args.cmd in ("run", "ci", "build", "box") and os.geteuid() != 0:
        log("run as root (debootstrap, qemu with the checkout shared)")
        return 1
    if args.cmd == "host-tools":
        missing = ensure_host_tools()
        if missing:
            log(f"missing: {' '.join(missing)}")
        return 1 if missing else 0
    if args.cmd == "build":
        print(build_image(force=args.force))
        return 0
    if args.cmd == "box":
        box = build_box(build_image())
        if args.add:
            subprocess.run(["vagrant", "box", "add", "--force", "--name", args.add, str(box)],
                           check=True, stdout=sys.stderr)
        print(box)
        return 0
    if args.cmd == "ci":
        if args.pytest_args[:1] == ["--"]:
            args.pytest_args = args.pytest_args[1:]
        return ci(args)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        p.error("run: give a command after --")
    image = build_image()
    res = run_in_vm(" ".join(cmd) if len(cmd) > 1 else cmd[0], image, init=args.init,
                    timeout=args.timeout, mem_mb=args.mem, accel=args.accel,
                    share_src=not args.no_src,
                    results=Path(args.results) if args.results else None, verbose=args.verbose)
    log(f"exit {res.rc} after {res.seconds:.1f}s (accel={res.accel}, init={res.init})")
    return res.rc


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
