"""cgroup v2 for pods and containers: find the hierarchy, keep a subtree under one root,
write limits, read stats, kill and remove. The only module that writes under /sys/fs/cgroup.

Layout under the root (DESIGN.md 4):

    <root>/                     created by podrun (or given with --cgroup-root)
      pod<uid>/                 pod-level limits (ResourceConfigForPod); never holds a process
        sandbox/                the pause process (v2: a cgroup with children holds no process)
        <container-id>/         one leaf per container, container-level limits

What the values are comes from podrun.core.resources (pure). Rules kept here:
- podrun never writes to, moves processes out of, or removes a cgroup it did not create.
  Each cgroup it creates gets an xattr marker (trusted.podrun.owner); removal refuses a
  path outside the root or without the marker. Cgroups a container makes inside its own
  cgroup go with it.
- a limit that cannot be written is not an error: it is returned as NotEnforced with the
  reason, and the daemon turns it into a LimitsNotEnforced event. Values that restrict
  nothing ("max", weight 100) are not reported.

The filesystem is behind CgroupFS so FakeCgroupFS (a directory of plain files that acts
like cgroupfs) can test everything here without root.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from podrun.clock import REAL_CLOCK, Clock
from podrun.core.resources import controller_of, is_unrestricted
from podrun.errors import HostError

CGROUP_MOUNT = Path("/sys/fs/cgroup")
HYBRID_MOUNT = CGROUP_MOUNT / "unified"
MARKER_XATTR = "trusted.podrun.owner"
MARKER_VALUE = b"podrun"
# Controllers podrun enables for its subtree (it writes cpu.*, memory.*, pids.*).
WANTED_CONTROLLERS = ("cpu", "memory", "pids")
SANDBOX = "sandbox"
DAEMON_LEAF = "daemon"
DELEGATED_PODS = "pods"
# Under systemd, the shipped podrun.service names (in this variable) the unit whose
# delegated cgroup holds the pods, podrun-pods.service; its one process, a holder that
# keeps the unit active, goes to the HOLDER_LEAF leaf (docs/cgroups.md "Under systemd").
PODS_UNIT_ENV = "PODRUN_PODS_UNIT"
HOLDER_LEAF = "holder"
# Written when possible, never reported: the kubelet itself skips swap settings silently
# when the swap controller is missing (configureContainerSwapResources), and memory.max
# already carries the memory story.
QUIET_FILES = frozenset({"memory.swap.max"})
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,250}$")


class Layout(StrEnum):
    UNIFIED = "unified"  # cgroup2 at /sys/fs/cgroup
    HYBRID = "hybrid"  # v1 controllers, cgroup2 (usually without controllers) at .../unified
    NONE = "none"  # no cgroup2 mounted


# ---------------------------------------------------------------------------------------
# Host detection
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CgroupHost:
    """What this host offers: the v2 mount, our own cgroup in it, systemd delegation."""

    layout: Layout
    mountpoint: Path | None
    own_cgroup: str = "/"
    delegated: bool = False

    @property
    def own_path(self) -> Path | None:
        if self.mountpoint is None:
            return None
        return self.mountpoint / self.own_cgroup.lstrip("/")

    def default_root(self) -> Path | None:
        """Where podrun's subtree goes unless --cgroup-root says otherwise."""
        if self.mountpoint is None:
            return None
        if self.delegated and self.own_path is not None:
            return self.own_path / DELEGATED_PODS
        return self.mountpoint / "podrun"


def cgroup2_mounts(mountinfo: str) -> list[Path]:
    """Mount points of cgroup2 filesystems in a /proc/self/mountinfo text."""
    out: list[Path] = []
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        fstype = right.split()[0] if right.split() else ""
        if fstype == "cgroup2" and len(fields) >= 5:
            out.append(Path(fields[4].replace("\\040", " ")))
    return out


def own_cgroup_path(proc_cgroup: str) -> str | None:
    """Our cgroup v2 path from /proc/self/cgroup (the "0::<path>" line)."""
    for line in proc_cgroup.splitlines():
        if line.startswith("0::"):
            return line[3:].strip() or "/"
    return None


def _is_delegated(own: Path, own_cgroup: str, environ: Mapping[str, str], pid: int,
                  systemd_dir: Path) -> bool:
    """Delegate=yes and we are the unit's main process (only then may we rearrange it)."""
    if not systemd_dir.is_dir():
        return False
    if not (own_cgroup.endswith(".service") or own_cgroup.endswith(".scope")):
        return False
    if environ.get("SYSTEMD_EXEC_PID", "") != str(pid):
        return False
    for name in ("trusted.delegate", "user.delegate"):
        try:
            if os.getxattr(own, name) == b"1":
                return True
        except OSError:
            continue
    return False


def detect_host(
    *,
    mountinfo: Path = Path("/proc/self/mountinfo"),
    proc_cgroup: Path = Path("/proc/self/cgroup"),
    environ: Mapping[str, str] | None = None,
    pid: int | None = None,
    systemd_dir: Path = Path("/run/systemd/system"),
) -> CgroupHost:
    """Unified, hybrid or none; our own cgroup; whether systemd delegated it to us."""
    mounts = cgroup2_mounts(mountinfo.read_text())
    if CGROUP_MOUNT in mounts:
        layout, mountpoint = Layout.UNIFIED, CGROUP_MOUNT
    elif HYBRID_MOUNT in mounts:
        layout, mountpoint = Layout.HYBRID, HYBRID_MOUNT
    elif mounts:
        # cgroup2 mounted somewhere unusual: treat like hybrid (membership, kill, stats).
        layout, mountpoint = Layout.HYBRID, mounts[0]
    else:
        return CgroupHost(Layout.NONE, None)
    own = own_cgroup_path(proc_cgroup.read_text()) or "/"
    delegated = _is_delegated(mountpoint / own.lstrip("/"), own,
                              os.environ if environ is None else environ,
                              os.getpid() if pid is None else pid, systemd_dir)
    return CgroupHost(layout, mountpoint, own, delegated)


# ---------------------------------------------------------------------------------------
# The filesystem seam
# ---------------------------------------------------------------------------------------


class CgroupFS:
    """cgroupfs through plain system calls. Files are never created: a missing interface
    file means the controller is not there (ENOENT), as the kernel says."""

    def read(self, path: Path) -> str:
        with open(path) as f:
            return f.read()

    def write(self, path: Path, data: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)

    def exists(self, path: Path) -> bool:
        return path.exists()

    def is_dir(self, path: Path) -> bool:
        return path.is_dir()

    def mkdir(self, path: Path) -> bool:
        """Create one cgroup; False if it already existed."""
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            return False
        return True

    def rmdir(self, path: Path) -> None:
        os.rmdir(path)

    def subdirs(self, path: Path) -> list[Path]:
        try:
            return sorted(p for p in path.iterdir() if p.is_dir() and not p.is_symlink())
        except FileNotFoundError:
            return []

    def set_marker(self, path: Path) -> bool:
        try:
            os.setxattr(path, MARKER_XATTR, MARKER_VALUE)
        except OSError:
            return False
        return True

    def has_marker(self, path: Path) -> bool | None:
        """True/False, or None when the filesystem cannot say (no xattr support)."""
        try:
            return os.getxattr(path, MARKER_XATTR) == MARKER_VALUE
        except OSError as e:
            if e.errno == errno.ENODATA:
                return False
            return None

    def kill(self, pid: int, sig: int) -> None:
        os.kill(pid, sig)


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotEnforced:
    """A limit podrun could not write, and why (-> a LimitsNotEnforced event)."""

    file: str
    value: str
    cgroup: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.file} not enforced: {self.reason}"


def _host_error(step: str, e: OSError, path: Path) -> HostError:
    return HostError(step, e.strerror or str(e), err=e.errno or 0, path=str(path))


def check_name(kind: str, name: str) -> str:
    """Pod UIDs and container IDs become directory names: no dots (cgroupfs files have
    them), no slashes, no leading dash."""
    if not _NAME_RE.match(name):
        raise HostError("cgroup", f"invalid {kind} {name!r} for a cgroup name "
                        "(letters, digits, '-' and '_' only)")
    return name


# ---------------------------------------------------------------------------------------
# The manager
# ---------------------------------------------------------------------------------------


class CgroupManager:
    """podrun's cgroup subtree under `root` (DESIGN.md 4)."""

    def __init__(
        self,
        root: Path,
        *,
        mountpoint: Path | None = None,
        layout: Layout = Layout.UNIFIED,
        fs: CgroupFS | None = None,
        clock: Clock = REAL_CLOCK,
        use_cgroup_kill: bool = True,
    ) -> None:
        self.root = Path(root)
        self.mountpoint = Path(mountpoint) if mountpoint is not None else self.root.parent
        self.layout = layout
        self.fs = fs or CgroupFS()
        self.clock = clock
        self.use_cgroup_kill = use_cgroup_kill
        self.created_root = False

    @classmethod
    def for_host(cls, host: CgroupHost, root: Path | None = None, **kw: object) -> CgroupManager:
        """The manager for a detected host (root: --cgroup-root, else the default)."""
        if host.layout is Layout.NONE or host.mountpoint is None:
            raise HostError("cgroup", "no cgroup v2 hierarchy is mounted (looked for cgroup2 "
                            f"at {CGROUP_MOUNT} and {HYBRID_MOUNT}); podrun needs one for "
                            "pod membership, kill and stats")
        chosen = root or host.default_root()
        assert chosen is not None
        if chosen.resolve() == host.mountpoint.resolve() or not chosen.resolve().is_relative_to(
                host.mountpoint.resolve()):
            # Anything else is not a cgroup: on a hybrid host /sys/fs/cgroup is a tmpfs and
            # a mkdir there would only litter it.
            raise HostError("cgroup", f"the cgroup root {chosen} is not below the cgroup v2 "
                            f"mount {host.mountpoint}", path=str(chosen))
        return cls(chosen, mountpoint=host.mountpoint, layout=host.layout, **kw)  # type: ignore[arg-type]

    # -- paths ---------------------------------------------------------------------------

    def pod_path(self, pod_uid: str) -> Path:
        return self.root / f"pod{check_name('pod UID', pod_uid)}"

    def sandbox_path(self, pod_uid: str) -> Path:
        return self.pod_path(pod_uid) / SANDBOX

    def container_path(self, pod_uid: str, container_id: str) -> Path:
        check_name("container ID", container_id)
        if container_id == SANDBOX:
            raise HostError("cgroup", f"container ID {container_id!r} is reserved")
        return self.pod_path(pod_uid) / container_id

    def _inside(self, path: Path) -> bool:
        """Strictly below the root, after resolving '..' and symlinks."""
        try:
            rel = Path(os.path.realpath(path)).relative_to(os.path.realpath(self.root))
        except ValueError:
            return False
        return rel != Path(".") and ".." not in rel.parts

    # -- controllers ---------------------------------------------------------------------

    def controllers(self, path: Path) -> set[str]:
        """Controllers usable in `path` (its cgroup.controllers)."""
        try:
            return set(self.fs.read(path / "cgroup.controllers").split())
        except OSError:
            return set()

    def _enable_subtree(self, path: Path) -> set[str]:
        """Enable the wanted controllers `path` has for its children; returns what is on."""
        available = self.controllers(path)
        enabled = set(self._read_words(path / "cgroup.subtree_control"))
        todo = [c for c in WANTED_CONTROLLERS if c in available and c not in enabled]
        if todo:
            try:
                self.fs.write(path / "cgroup.subtree_control", " ".join(f"+{c}" for c in todo))
            except OSError:
                # One at a time, so one refusal (e.g. a threaded child) does not block the rest.
                for c in todo:
                    try:
                        self.fs.write(path / "cgroup.subtree_control", f"+{c}")
                    except OSError:
                        pass
            enabled = set(self._read_words(path / "cgroup.subtree_control"))
        return enabled

    def _read_words(self, path: Path) -> list[str]:
        try:
            return self.fs.read(path).split()
        except OSError:
            return []

    def _reason_missing(self, controller: str, cgroup: Path) -> str:
        top = self.controllers(self.mountpoint)
        if controller not in top:
            where = f"the cgroup v2 hierarchy at {self.mountpoint}"
            host = " (hybrid host)" if self.layout is Layout.HYBRID else ""
            return f"the {controller} controller is not available in {where}{host}"
        if controller not in self.controllers(self.root):
            return (f"the {controller} controller is not enabled for {self.root}: its parent "
                    f"{self.root.parent} does not list it in cgroup.subtree_control, and podrun "
                    "does not change cgroups it did not create")
        return f"the {controller} controller is not enabled for {cgroup}"

    # -- creation ------------------------------------------------------------------------

    def setup(self) -> set[str]:
        """Create the root if needed and enable the wanted controllers below it.

        Returns the controllers enabled for pods; the rest surface as NotEnforced later.
        """
        if not self.fs.is_dir(self.mountpoint):
            raise HostError("cgroup", "the cgroup v2 hierarchy is not mounted",
                            path=str(self.mountpoint))
        try:
            if not self.fs.is_dir(self.root.parent):
                raise HostError("cgroup", "the parent of the cgroup root does not exist",
                                path=str(self.root.parent))
            if self.fs.mkdir(self.root):
                self.created_root = True
                self.fs.set_marker(self.root)
            return self._enable_subtree(self.root)
        except OSError as e:
            raise _host_error("cgroup setup", e, self.root) from e

    def _make(self, path: Path) -> Path:
        if not self._inside(path):
            raise HostError("cgroup", "refusing to create a cgroup outside podrun's root",
                            path=str(path))
        try:
            if self.fs.mkdir(path):
                self.fs.set_marker(path)
        except OSError as e:
            raise _host_error("cgroup create", e, path) from e
        return path

    def create_pod(self, pod_uid: str, values: Mapping[str, str] | None = None,
                   ) -> tuple[Path, list[NotEnforced]]:
        """The pod cgroup with its limits; children get the controllers it has."""
        path = self._make(self.pod_path(pod_uid))
        not_enforced = self.apply(path, values or {})
        try:
            self._enable_subtree(path)
        except OSError as e:
            raise _host_error("cgroup create", e, path) from e
        return path, not_enforced

    def create_sandbox(self, pod_uid: str) -> Path:
        """The leaf that holds the pod's pause process."""
        return self._make(self.sandbox_path(pod_uid))

    def create_container(self, pod_uid: str, container_id: str,
                         values: Mapping[str, str] | None = None,
                         ) -> tuple[Path, list[NotEnforced]]:
        path = self._make(self.container_path(pod_uid, container_id))
        return path, self.apply(path, values or {})

    def apply(self, path: Path, values: Mapping[str, str]) -> list[NotEnforced]:
        """Write each file whose controller is enabled in `path`; report the others."""
        have = self.controllers(path)
        out: list[NotEnforced] = []
        for name, val in values.items():
            controller = controller_of(name)
            if controller not in have:
                if not is_unrestricted(name, val) and name not in QUIET_FILES:
                    out.append(NotEnforced(name, val, path, self._reason_missing(controller, path)))
                continue
            try:
                self.fs.write(path / name, val)
            except OSError as e:
                if is_unrestricted(name, val):
                    continue
                if e.errno == errno.ENOENT:
                    if name in QUIET_FILES:
                        continue
                    reason = f"the kernel does not offer {name} in {path}"
                else:
                    reason = f"writing {val!r} to {path / name} failed: {os.strerror(e.errno or 0)}"
                out.append(NotEnforced(name, val, path, reason))
        return out

    def add_process(self, path: Path, pid: int) -> None:
        """Move `pid` into the cgroup (retrying EINVAL: a task still being forked)."""
        for attempt in range(5):
            try:
                self.fs.write(path / "cgroup.procs", str(pid))
                return
            except OSError as e:
                if e.errno == errno.EINVAL and attempt < 4:
                    self.clock.sleep(0.03)
                    continue
                raise _host_error("cgroup join", e, path) from e

    # -- reading -------------------------------------------------------------------------

    def procs(self, path: Path, *, recursive: bool = False) -> list[int]:
        """PIDs in the cgroup (and its descendants when recursive)."""
        out: list[int] = []
        paths = [path]
        while paths:
            p = paths.pop()
            try:
                out.extend(int(x) for x in self.fs.read(p / "cgroup.procs").split())
            except FileNotFoundError:
                continue
            except OSError as e:
                raise _host_error("cgroup procs", e, p) from e
            if recursive:
                paths.extend(self.fs.subdirs(p))
        return out

    def _keyed(self, path: Path) -> dict[str, int]:
        out: dict[str, int] = {}
        try:
            text = self.fs.read(path)
        except OSError:
            return out
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                out[parts[0]] = int(parts[1])
        return out

    def events(self, path: Path) -> dict[str, int]:
        """cgroup.events: populated, frozen."""
        return self._keyed(path / "cgroup.events")

    def populated(self, path: Path) -> bool:
        ev = self.events(path)
        if "populated" in ev:
            return ev["populated"] == 1
        return bool(self.procs(path, recursive=True))

    def memory_events(self, path: Path) -> dict[str, int]:
        """memory.events (low, high, max, oom, oom_kill, ...); empty without the controller."""
        return self._keyed(path / "memory.events")

    def oom_kill_count(self, path: Path) -> int | None:
        """memory.events oom_kill (-> reason OOMKilled); None when it cannot be known."""
        return self.memory_events(path).get("oom_kill")

    def cpu_stat(self, path: Path) -> dict[str, int]:
        """cpu.stat (usage_usec, user_usec, system_usec, ...); present on every v2 cgroup."""
        return self._keyed(path / "cpu.stat")

    # -- freeze, kill, remove ------------------------------------------------------------

    def freeze(self, path: Path, frozen: bool = True, timeout: float = 1.0) -> bool:
        """Write cgroup.freeze and wait for cgroup.events to agree; False if unsupported."""
        try:
            self.fs.write(path / "cgroup.freeze", "1" if frozen else "0")
        except OSError:
            return False
        deadline = self.clock.monotonic() + timeout
        want = 1 if frozen else 0
        while self.events(path).get("frozen", want) != want:
            if self.clock.monotonic() >= deadline:
                return False
            self.clock.sleep(0.005)
        return True

    def kill(self, path: Path, timeout: float = 5.0) -> None:
        """SIGKILL every process in the cgroup and its descendants, and wait until empty.

        cgroup.kill (Linux >= 5.14) kills atomically, forks included. Without it: freeze,
        SIGKILL every pid in cgroup.procs, thaw, again until nothing is left (a frozen
        cgroup cannot fork new tasks between the read and the kill).
        """
        if not self.fs.is_dir(path):
            return
        if self.use_cgroup_kill and self.fs.exists(path / "cgroup.kill"):
            try:
                self.fs.write(path / "cgroup.kill", "1")
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise _host_error("cgroup kill", e, path) from e
            if self._wait_empty(path, timeout):
                return
        deadline = self.clock.monotonic() + timeout
        while True:
            frozen = self.freeze(path, True, timeout=0.2)
            for pid in self.procs(path, recursive=True):
                try:
                    self.fs.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                except OSError as e:
                    raise _host_error("cgroup kill", e, path) from e
            if frozen:
                self.freeze(path, False, timeout=0.2)
            if self._wait_empty(path, 0.05):
                return
            if self.clock.monotonic() >= deadline:
                left = self.procs(path, recursive=True)
                raise HostError("cgroup kill", f"processes {left} survived SIGKILL for "
                                f"{timeout:g}s", path=str(path))

    def _wait_empty(self, path: Path, timeout: float) -> bool:
        deadline = self.clock.monotonic() + timeout
        while self.procs(path, recursive=True):
            if self.clock.monotonic() >= deadline:
                return False
            self.clock.sleep(0.005)
        return True

    def remove(self, path: Path, timeout: float = 2.0) -> None:
        """rmdir the cgroup, leaves first, retrying while the kernel still calls it busy.

        Only podrun's own cgroups: strictly inside the root and carrying the marker (when
        the filesystem supports xattrs). Processes still inside make this fail; kill first.
        A cgroup that is already gone is fine.
        """
        if not self.fs.is_dir(path):
            return
        if not self._inside(path):
            raise HostError("cgroup remove", "refusing to remove a cgroup outside podrun's root",
                            path=str(path))
        if self.fs.has_marker(path) is False:
            raise HostError("cgroup remove", "refusing to remove a cgroup podrun did not create "
                            f"(no {MARKER_XATTR} marker)", path=str(path))
        self._rmtree(path, timeout)

    def _rmtree(self, path: Path, timeout: float) -> None:
        for child in self.fs.subdirs(path):
            self._rmtree(child, timeout)
        deadline = self.clock.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                self.fs.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError as e:
                if e.errno != errno.EBUSY or self.clock.monotonic() >= deadline:
                    raise _host_error("cgroup remove", e, path) from e
            self.clock.sleep(delay)
            delay = min(delay * 2, 0.1)

    def remove_pod(self, pod_uid: str, timeout: float = 5.0) -> None:
        """Kill everything in the pod cgroup and remove it with its children."""
        path = self.pod_path(pod_uid)
        self.kill(path, timeout)
        self.remove(path, timeout)

    def remove_root(self) -> None:
        """Remove the root if podrun created it and it is empty of pods."""
        if not self.fs.is_dir(self.root) or self.fs.has_marker(self.root) is False:
            return
        try:
            self.fs.rmdir(self.root)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.EBUSY, errno.ENOTEMPTY):
                raise _host_error("cgroup remove", e, self.root) from e

    def list_pods(self) -> list[str]:
        """UIDs of the pod cgroups podrun left under the root (recovery, GC)."""
        out: list[str] = []
        for p in self.fs.subdirs(self.root):
            if p.name.startswith("pod") and self.fs.has_marker(p) is not False:
                out.append(p.name[3:])
        return out


# ---------------------------------------------------------------------------------------
# systemd delegation
# ---------------------------------------------------------------------------------------


def _vacate(fs: CgroupFS, cg: Path, leaf_name: str) -> None:
    """Move every process of `cg` into the leaf `cg/leaf_name`, then enable the wanted
    controllers in `cg`: cgroup v2 allows controllers in subtree_control only for a cgroup
    without processes of its own ("no internal processes")."""
    leaf = cg / leaf_name
    if fs.mkdir(leaf):
        fs.set_marker(leaf)
    for pid in fs.read(cg / "cgroup.procs").split():
        try:
            fs.write(leaf / "cgroup.procs", pid)
        except ProcessLookupError:
            pass
    available = set(fs.read(cg / "cgroup.controllers").split())
    todo = [c for c in WANTED_CONTROLLERS if c in available]
    if todo:
        fs.write(cg / "cgroup.subtree_control", " ".join(f"+{c}" for c in todo))


def enter_delegated_subtree(host: CgroupHost, fs: CgroupFS | None = None) -> Path:
    """Under systemd with Delegate=yes: move the daemon's processes into <own>/daemon and
    enable controllers in <own> for the pod root <own>/pods, which is returned.

    Only for the delegated unit's main process (host.delegated checks that). The shipped
    units do not use this: on systemd < 254 a restart of such a unit fails (see
    enter_pods_unit).
    """
    fs = fs or CgroupFS()
    own = host.own_path
    if not host.delegated or own is None:
        raise HostError("cgroup", "not running in a delegated systemd unit (Delegate=yes)")
    try:
        _vacate(fs, own, DAEMON_LEAF)
    except OSError as e:
        raise _host_error("cgroup delegate", e, own) from e
    return own / DELEGATED_PODS


@dataclass(frozen=True)
class UnitCgroup:
    """What systemd says about a unit's cgroup (systemctl show)."""

    unit: str
    control_group: str  # relative to the cgroup v2 mount; "" when the unit is not running
    delegate: bool
    active_state: str


def show_unit(unit: str) -> UnitCgroup:
    """ControlGroup, Delegate and ActiveState of `unit`, from systemctl."""
    try:
        r = subprocess.run(["systemctl", "show", "--property=ControlGroup,Delegate,ActiveState",
                            "--", unit], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise HostError("cgroup", f"cannot ask systemd about {unit}: {e}") from e
    if r.returncode != 0:
        raise HostError("cgroup", f"cannot ask systemd about {unit}: {r.stderr.strip()}")
    props = dict(line.partition("=")[::2] for line in r.stdout.splitlines())
    return UnitCgroup(unit, props.get("ControlGroup", ""), props.get("Delegate") == "yes",
                      props.get("ActiveState", ""))


def enter_pods_unit(host: CgroupHost, unit: str, *, fs: CgroupFS | None = None,
                    show: Callable[[str], UnitCgroup] = show_unit) -> Path:
    """The pod root <unit cgroup>/pods inside `unit` (podrun-pods.service), a running
    service with Delegate=yes that is not the daemon's own unit; its processes (the
    holder) move to <unit cgroup>/holder and its cgroup gets the controllers for pods.

    Why a second unit: systemd < 254 starts a restarted service's main process in the
    unit's own cgroup. If that cgroup passed controllers down to pods, cgroup v2 refuses
    the process and `systemctl restart podrun` fails with 219/CGROUP. podrun.service itself
    thus holds no pods, and restarting it never touches this unit, so the pods keep their
    cgroups and the next daemon adopts them.
    """
    fs = fs or CgroupFS()
    if host.mountpoint is None:
        raise HostError("cgroup", "no cgroup v2 hierarchy is mounted")
    info = show(unit)
    if info.active_state != "active" or not info.control_group:
        raise HostError("cgroup", f"the unit {unit} that holds the pods is not running "
                        f"(ActiveState={info.active_state or 'unknown'}): start it, or list "
                        "it in Requires= and After= of the daemon's unit")
    if not info.delegate:
        raise HostError("cgroup", f"the unit {unit} that holds the pods needs Delegate=yes")
    cg = host.mountpoint / info.control_group.lstrip("/")
    if cg == host.own_path or (host.own_path is not None and cg in host.own_path.parents):
        raise HostError("cgroup", f"the unit {unit} that holds the pods must not contain the "
                        "daemon (a restart of the daemon's unit would then meet the pods)")
    try:
        _vacate(fs, cg, HOLDER_LEAF)
    except OSError as e:
        raise _host_error("cgroup delegate", e, cg) from e
    return cg / DELEGATED_PODS


def systemd_pods_root(environ: Mapping[str, str] | None = None) -> Path | None:
    """The pod root inside the unit named by $PODRUN_PODS_UNIT (set by the shipped
    podrun.service), or None when it is not set (podrun run by hand or in the background)."""
    unit = (os.environ if environ is None else environ).get(PODS_UNIT_ENV, "")
    return enter_pods_unit(detect_host(), unit) if unit else None


# ---------------------------------------------------------------------------------------
# A fake cgroupfs for tests
# ---------------------------------------------------------------------------------------

_CONTROLLER_FILES: dict[str, dict[str, str]] = {
    "cpu": {"cpu.weight": "100\n", "cpu.max": "max 100000\n"},
    "memory": {"memory.max": "max\n", "memory.swap.max": "max\n", "memory.current": "0\n",
               "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"},
    "pids": {"pids.max": "max\n", "pids.current": "0\n"},
}
_CORE_FILES = {
    "cgroup.subtree_control": "", "cgroup.procs": "", "cgroup.freeze": "0\n",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
}


class FakeCgroupFS(CgroupFS):
    """cgroupfs semantics over a plain directory, for tests without root.

    mkdir fills in the interface files; cgroup.controllers follows the parent's
    subtree_control; writing subtree_control checks availability and the
    no-internal-processes rule; cgroup.procs and cgroup.kill act on a process table the
    test controls (`alive`); rmdir refuses a populated cgroup or one with children.
    """

    def __init__(self, mount: Path, controllers: Iterable[str] = WANTED_CONTROLLERS, *,
                 kill_file: bool = True, freeze_file: bool = True,
                 subtree_control: Iterable[str] = ()) -> None:
        self.mount = Path(mount)
        self.kill_file = kill_file
        self.freeze_file = freeze_file
        self.alive: set[int] = set()
        self.signals: list[tuple[int, int]] = []
        self.writes: list[tuple[Path, str]] = []
        self.immortal: set[int] = set()
        self.mount.mkdir(parents=True, exist_ok=True)
        self._populate(self.mount, " ".join(controllers))
        self._put(self.mount / "cgroup.subtree_control", " ".join(subtree_control))

    # plain-file helpers
    def _put(self, path: Path, text: str) -> None:
        path.write_text(text)

    def _populate(self, path: Path, controllers: str) -> None:
        files = dict(_CORE_FILES)
        if self.kill_file:
            files["cgroup.kill"] = ""
        if not self.freeze_file:
            files.pop("cgroup.freeze")
        files["cgroup.controllers"] = controllers
        for c in controllers.split():
            files.update(_CONTROLLER_FILES.get(c, {}))
        for name, text in files.items():
            if not (path / name).exists():
                self._put(path / name, text)

    # CgroupFS
    def write(self, path: Path, data: str) -> None:
        if not path.is_file():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        self.writes.append((path, data))
        cg = path.parent
        name = path.name
        if name == "cgroup.subtree_control":
            self._subtree_control(cg, data)
        elif name == "cgroup.procs":
            self._attach(cg, int(data.strip()))
        elif name == "cgroup.kill":
            for pid in self._procs_tree(cg):
                self._signal(pid, signal.SIGKILL)
        elif name == "cgroup.freeze":
            frozen = data.strip() == "1"
            self._put(path, "1\n" if frozen else "0\n")
            self._set_event(cg, "frozen", 1 if frozen else 0)
        elif name.startswith("cgroup."):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        else:
            self._put(path, data if data.endswith("\n") else data + "\n")

    def _subtree_control(self, cg: Path, data: str) -> None:
        available = set((cg / "cgroup.controllers").read_text().split())
        enabled = (cg / "cgroup.subtree_control").read_text().split()
        if cg != self.mount and (cg / "cgroup.procs").read_text().split():
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(cg))
        for word in data.split():
            op, c = word[0], word[1:]
            if op not in "+-" or c not in available:
                raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), str(cg))
            if op == "+" and c not in enabled:
                enabled.append(c)
            elif op == "-" and c in enabled:
                enabled.remove(c)
        self._put(cg / "cgroup.subtree_control", " ".join(enabled))
        for child in self.subdirs(cg):
            self._put(child / "cgroup.controllers", " ".join(enabled))
            self._populate(child, " ".join(enabled))

    def _attach(self, cg: Path, pid: int) -> None:
        if (cg / "cgroup.subtree_control").read_text().split() and cg != self.mount:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(cg))
        for other in self._all():
            pids = (other / "cgroup.procs").read_text().split()
            if str(pid) in pids:
                pids.remove(str(pid))
                self._put(other / "cgroup.procs", "\n".join(pids))
        pids = (cg / "cgroup.procs").read_text().split() + [str(pid)]
        self._put(cg / "cgroup.procs", "\n".join(pids))
        self.alive.add(pid)
        self._refresh_populated()

    def _all(self) -> list[Path]:
        return [self.mount, *sorted(p for p in self.mount.rglob("*") if p.is_dir())]

    def _procs_tree(self, cg: Path) -> list[int]:
        out: list[int] = []
        for p in [cg, *sorted(x for x in cg.rglob("*") if x.is_dir())]:
            out.extend(int(x) for x in (p / "cgroup.procs").read_text().split())
        return out

    def _set_event(self, cg: Path, key: str, val: int) -> None:
        ev = dict(line.split() for line in (cg / "cgroup.events").read_text().splitlines()
                  if line.strip())
        ev[key] = str(val)
        self._put(cg / "cgroup.events", "".join(f"{k} {v}\n" for k, v in ev.items()))

    def _refresh_populated(self) -> None:
        for cg in self._all():
            self._set_event(cg, "populated", 1 if self._procs_tree(cg) else 0)

    def _signal(self, pid: int, sig: int) -> None:
        self.signals.append((pid, sig))
        if sig == signal.SIGKILL and pid not in self.immortal:
            self.exit(pid)

    def exit(self, pid: int) -> None:
        """A process of the fake table exits: it leaves its cgroup."""
        self.alive.discard(pid)
        for cg in self._all():
            pids = (cg / "cgroup.procs").read_text().split()
            if str(pid) in pids:
                pids.remove(str(pid))
                self._put(cg / "cgroup.procs", "\n".join(pids))
        self._refresh_populated()

    def mkdir(self, path: Path) -> bool:
        if path.exists():
            return False
        if not (path.parent / "cgroup.procs").exists():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        path.mkdir()
        enabled = (path.parent / "cgroup.subtree_control").read_text()
        self._populate(path, enabled)
        return True

    def rmdir(self, path: Path) -> None:
        if not path.is_dir():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        if self.subdirs(path) or (path / "cgroup.procs").read_text().split():
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(path))
        for f in path.iterdir():
            f.unlink()
        path.rmdir()

    def subdirs(self, path: Path) -> list[Path]:
        try:
            return sorted(p for p in path.iterdir() if p.is_dir())
        except FileNotFoundError:
            return []

    def set_marker(self, path: Path) -> bool:
        self._put(path / ".podrun-owner", "podrun")
        return True

    def has_marker(self, path: Path) -> bool | None:
        return (path / ".podrun-owner").exists()

    def kill(self, pid: int, sig: int) -> None:
        if pid not in self.alive:
            raise ProcessLookupError(errno.ESRCH, os.strerror(errno.ESRCH))
        self._signal(pid, sig)

    # helpers for tests
    def set_memory_event(self, cg: Path, key: str, val: int) -> None:
        text = (cg / "memory.events").read_text()
        ev = dict(line.split() for line in text.splitlines() if line.strip())
        ev[key] = str(val)
        self._put(cg / "memory.events", "".join(f"{k} {v}\n" for k, v in ev.items()))


def describe_not_enforced(items: Sequence[NotEnforced]) -> list[str]:
    """One line per limit, deduplicated, for events and `podrun describe`."""
    seen: list[str] = []
    for item in items:
        line = f"{item.file}={item.value} not enforced: {item.reason}"
        if line not in seen:
            seen.append(line)
    return seen
