"""The container init helper's work: turn a fresh process into the container, then exec.

init.py is the tiny launcher (`sys.executable -I -S init.py ...`): a script is compiled on
every run (~10 ms for this file) while a module comes from its cached .pyc. The steps in
`Init.steps` run top to bottom; docs/init-helper.md has the config schema and the sync-fd
protocol. Stdlib-only.
"""

from __future__ import annotations

import os
import stat

from podrun.runtime import mounts as M
from podrun.runtime import syscalls as S
from podrun.runtime.capabilities import to_mask

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the helper's start time
    from typing import Any

EXIT_START_ERROR = 128  # containerd's exit code for StartError (BEHAVIOR.md 2.3)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_CONFIG = 16 << 20


class StepError(Exception):
    def __init__(self, step: str, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.step = step
        self.message = message
        self.errno = errno


try:
    from _json import encode_basestring_ascii as _quote
except ImportError:  # pragma: no cover
    from json import dumps as _quote

# ---- tiny JSON (the json package imports re: ~10 ms of a 30 ms budget) ----------------

def loads(text: str) -> object:
    try:
        import _json

        class _Ctx:
            strict = True
            object_hook = None
            object_pairs_hook = None
            parse_float = float
            parse_int = int
            parse_constant = None
            memo: dict[str, Any] = {}

        obj, end = _json.make_scanner(_Ctx())(text, 0)  # type: ignore[arg-type]
        if text[end:].strip():
            raise ValueError("extra data after the JSON document")
        return obj
    except ImportError:  # pragma: no cover - CPython always has _json
        import json
        return json.loads(text)


def error_line(step: str, message: str, errno: int) -> bytes:
    q = _quote
    return (f'{{"step": {q(step)}, "message": {q(message)}, "errno": {int(errno)}}}\n'
            .encode())


def _strerror(e: OSError) -> str:
    s = e.strerror or os.strerror(e.errno or 0)
    return s[:1].lower() + s[1:]


# ---- the container setup ----------------------------------------------------------------

def preload(config: dict[str, Any]) -> None:
    """Import now what later steps need: after pivot_root/chroot this package, the stdlib
    and libseccomp are out of reach (imports are cached in sys.modules)."""
    if (config.get("process") or {}).get("rlimits"):
        import resource  # noqa: F401
    if (config.get("linux") or {}).get("seccomp") and not (
            config.get("podrun") or {}).get("seccompBpf"):
        from podrun.runtime import seccomp
        seccomp._lib()


class Init:
    def __init__(self, config: dict[str, Any], sync_fd: int | None) -> None:
        self.config = config
        self.sync_fd = sync_fd
        self.process = config.get("process") or {}
        self.linux = config.get("linux") or {}
        self.ext = config.get("podrun") or {}
        self.root = os.path.abspath((config.get("root") or {}).get("path") or "")
        user = self.process.get("user") or {}
        self.uid = int(user.get("uid", 0))
        self.gid = int(user.get("gid", 0))
        self.groups = [int(g) for g in user.get("additionalGids") or ()]
        self.home: str | None = None
        self.namespaces = {n["type"]: n.get("path") for n in self.linux.get("namespaces") or ()}
        caps = self.process.get("capabilities")
        self.privileged_caps = caps is None
        self.seccomp = self.linux.get("seccomp")
        self.nnp = bool(self.process.get("noNewPrivileges"))
        # linux.rootfsPropagation (checked in check-config); runc re-applies an explicit one
        # to the new root after pivot_root.
        self.root_propagation_set = bool(self.linux.get("rootfsPropagation"))
        self.root_flags = S.MS_REC | S.MS_PRIVATE
        self.exe = ""
        self.env: dict[str, str] = {}
        self.seccomp_filter: Any = None
        preload(config)

    # Order matters; each entry is (step name, method). Why-comments are on the methods.
    def steps(self) -> list[tuple[str, object]]:
        late_seccomp = self.nnp
        return [
            ("close-fds", self.close_fds),
            ("check-config", self.check_config),
            ("join-namespaces", self.join_namespaces),
            ("mount-namespace", self.mount_namespace),
            ("pid-namespace", self.check_pid_namespace),
            ("root-propagation", self.root_propagation),
            ("cgroup", self.join_cgroup),
            ("cgroup-namespace", self.cgroup_namespace),
            ("seccomp-prepare", self.prepare_seccomp),
            ("rootfs", self.mount_rootfs),
            ("user-lookup", self.user_lookup),
            ("mounts", self.mount_all),
            ("devices", self.create_devices),
            ("cwd-create", self.create_cwd),
            ("pivot-root", self.pivot_root),
            ("sysctl", self.sysctls),
            ("masked-paths", self.masked_paths),
            ("readonly-paths", self.readonly_paths),
            ("readonly-rootfs", self.readonly_rootfs),
            ("hostname", self.hostname),
            ("rlimits", self.rlimits),
            *([] if late_seccomp else [("seccomp", self.load_seccomp)]),
            ("bounding-set", self.bounding_set),
            ("user", self.switch_user),
            ("capabilities", self.capabilities),
            ("no-new-privileges", self.no_new_privs),
            *([("seccomp", self.load_seccomp)] if late_seccomp else []),
            ("umask", self.umask),
            ("cwd", self.chdir),
            ("environment", self.environment),
            ("exec", self.exec),
        ]

    def exec_steps(self) -> list[tuple[str, object]]:
        """What `podrun exec` repeats inside a running container (see execin.py): the
        process-level steps only; namespaces, cgroup and root are entered, not built."""
        late_seccomp = self.nnp
        return [
            ("seccomp-prepare", self.prepare_seccomp),
            ("user-lookup", self.user_lookup),
            ("rlimits", self.rlimits),
            *([] if late_seccomp else [("seccomp", self.load_seccomp)]),
            ("bounding-set", self.bounding_set),
            ("user", self.switch_user),
            ("capabilities", self.capabilities),
            ("no-new-privileges", self.no_new_privs),
            *([("seccomp", self.load_seccomp)] if late_seccomp else []),
            ("umask", self.umask),
            ("cwd", self.chdir),
            ("environment", self.environment),
            ("exec", self.exec),
        ]

    def run(self, steps: list[tuple[str, object]] | None = None) -> None:
        for name, fn in steps if steps is not None else self.steps():
            try:
                fn()  # type: ignore[operator]
            except StepError:
                raise
            except OSError as e:
                msg = e.strerror or str(e)
                if e.filename is not None and str(e.filename) not in msg:
                    msg += f": {e.filename}"
                raise StepError(name, f"{name}: {msg}", e.errno or 0) from e
            except Exception as e:  # noqa: BLE001 - every failure goes to the sync fd
                raise StepError(name, f"{name}: {type(e).__name__}: {e}", 0) from e

    def close_fds(self) -> None:
        # Nothing the daemon or pause leaked may reach the container. CLOEXEC rather than
        # close: the sync fd must stay usable until exec, and then close (EOF = started).
        # Python opens its own files O_CLOEXEC already.
        os.umask(0)  # device nodes and mount targets get exact modes; process umask later
        S.close_range_cloexec(3)

    def check_config(self) -> None:
        # Nothing is silently ignored (DESIGN.md 7.5): refuse what this helper cannot do.
        if self.process.get("terminal"):
            raise StepError("check-config", "check-config: process.terminal is not "
                            "supported (pause owns the container's stdio)", 95)
        for typ, path in self.namespaces.items():
            if typ not in S.NAMESPACE_FLAGS:
                raise StepError("check-config", f"check-config: unknown namespace {typ}", 22)
            if path and typ in ("mount", "pid", "user"):
                raise StepError("check-config", f"check-config: joining an existing {typ} "
                                "namespace is not supported", 95)
        if self.namespaces.get("user", 1) is None or "time" in self.namespaces:
            raise StepError("check-config", "check-config: user and time namespaces are "
                            "not supported", 95)
        try:
            self.root_flags = M.rootfs_propagation_flags(self.linux.get("rootfsPropagation"))
        except ValueError as e:
            raise StepError("check-config", f"check-config: {e}", 22) from None

    def join_namespaces(self) -> None:
        # Namespaces given by path (when the parent did not already put us there, e.g.
        # a test harness): before the mount namespace, while the paths are the host's.
        for typ, path in self.namespaces.items():
            if path:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    S.setns(fd, S.NAMESPACE_FLAGS[typ])
                finally:
                    os.close(fd)

    def mount_namespace(self) -> None:
        # Always a fresh mount namespace of our own: pause may already have given one
        # (CLONE_NEWNS), a test harness may not; one more level costs ~0.1 ms.
        S.unshare(S.CLONE_NEWNS)

    def check_pid_namespace(self) -> None:
        # The PID namespace comes from our parent (pause clones with CLONE_NEWPID): the
        # command must become PID 1, or SIGTERM/zombie semantics differ (BEHAVIOR.md 6.6).
        if "pid" in self.namespaces and not self.namespaces["pid"] and os.getpid() != 1:
            raise StepError("pid-namespace", "pid-namespace: a new PID namespace was "
                            f"requested but the helper runs as pid {os.getpid()}, not 1")

    def root_propagation(self) -> None:
        # Before any mount, on our copy of the host's tree: linux.rootfsPropagation, always
        # recursive (default rprivate: nothing propagates either way). rslave lets host
        # mounts reach HostToContainer volumes (a bind of a slave is a slave of the same
        # master); rshared also lets Bidirectional volumes send theirs back. Our own setup
        # mounts never reach the host: a slave sends nothing, and with rshared mount_rootfs
        # makes the rootfs's parent mount private first (as runc).
        try:
            S.mount(None, "/", None, self.root_flags)
        except OSError as e:
            if e.errno != 22:  # EINVAL
                raise
            # "/" is not a mount point: podrun runs inside a plain chroot. Without a private
            # root, container mounts could propagate to the host: refuse, and say why.
            raise StepError("root-propagation", "cannot change the mount propagation of /: "
                            "it is not a mount point (is podrun running in a chroot? "
                            "bind-mount the chroot's root onto itself first)", 22) from None

    def join_cgroup(self) -> None:
        # Early, so everything the setup allocates is charged to the container, and before
        # the cgroup namespace so its root is the container's cgroup. "0" means "me" (our
        # pid is not meaningful in the cgroupfs's pid namespace).
        # cgroupJoined: pause cloned us into it already (the daemon learnt so from pause's
        # reply); writing cgroup.procs anyway would cost a migration's RCU wait.
        path = self.linux.get("cgroupsPath")
        if path and not self.ext.get("cgroupJoined"):
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write("0")

    def cgroup_namespace(self) -> None:
        if "cgroup" in self.namespaces and not self.namespaces["cgroup"]:
            S.unshare(S.CLONE_NEWCGROUP)

    def mount_rootfs(self) -> None:
        # pivot_root needs the new root to be a mount point: bind it onto itself, or mount
        # the image's overlay there. Read-only comes last (mount targets are created first).
        if not self.root or not os.path.isdir(self.root):
            raise StepError("rootfs", f"rootfs: {self.root or '(none)'}: not a directory", 2)
        if self.root_flags & S.MS_SHARED:
            self._rootfs_parent_private()
        ov = self.ext.get("overlay")
        if ov:
            data = "lowerdir=" + ":".join(ov["lowerdirs"])
            if ov.get("upperdir"):
                data += f",upperdir={ov['upperdir']},workdir={ov['workdir']}"
            S.mount("overlay", self.root, "overlay", 0, data)
        else:
            S.mount(self.root, self.root, None, S.MS_BIND | S.MS_REC)

    def _rootfs_parent_private(self) -> None:
        # runc's rootfsParentMountPrivate: under a shared parent the rootfs mount and all
        # below it would propagate to the host, and pivot_root refuses a shared parent.
        # Only that one mount: the volumes' own shared mounts keep their peers.
        with open("/proc/self/mountinfo") as f:
            infos = M.parse_mountinfo(f.read())
        parent = M.mount_containing(os.path.realpath(self.root), infos)
        if parent is not None and parent.shared:
            S.mount(None, parent.mount_point, None, S.MS_PRIVATE)

    def user_lookup(self) -> None:
        # Names come from the image's /etc/passwd and /etc/group, read before pivot_root
        # through secure_join so a symlinked /etc cannot point at the host's files.
        spec = self.ext.get("user")
        if spec is None:
            if not any(e.startswith("HOME=") for e in self.process.get("env") or ()):
                entry = self._passwd_entry(str(self.uid), must_exist=False)
                self.home = entry[5] if entry else "/"
            return
        name, _, group = str(spec).partition(":")
        entry = self._passwd_entry(name, must_exist=not name.isdigit())
        if entry:
            self.uid, self.gid, self.home = int(entry[2]), int(entry[3]), entry[5]
        else:
            self.uid, self.gid, self.home = int(name), 0, "/"
        if group:
            if group.isdigit():
                self.gid = int(group)
            else:
                g = next((g for g in self._group_entries() if g[0] == group), None)
                if g is None:
                    raise StepError("user-lookup", f"unable to find group {group}: "
                                    "no matching entries in group file", 2)
                self.gid = int(g[2])
        # containerd: the primary gid, the groups the user is a member of, then the
        # configured ones (supplementalGroups).
        groups = [self.gid]
        if entry:
            groups += [int(g[2]) for g in self._group_entries()
                       if entry[0] in g[3].split(",")]
        self.groups = list(dict.fromkeys(groups + self.groups))

    def _read_etc(self, name: str) -> list[list[str]]:
        try:
            with open(M.secure_join(self.root, "/etc/" + name)) as f:
                return [line.rstrip("\n").split(":") for line in f
                        if line.strip() and not line.startswith("#")]
        except FileNotFoundError:
            return []

    def _passwd_entry(self, user: str, must_exist: bool) -> list[str] | None:
        for e in self._read_etc("passwd"):
            if len(e) >= 7 and (e[0] == user or (user.isdigit() and e[2] == user)):
                return e
        if must_exist:
            raise StepError("user-lookup", f"unable to find user {user}: no matching "
                            "entries in passwd file", 2)
        return None

    def _group_entries(self) -> list[list[str]]:
        return [e for e in self._read_etc("group") if len(e) >= 4]

    # -- mounts --

    def mount_all(self) -> None:
        # In config order (OCI): later mounts may land inside earlier ones (/dev/pts in /dev).
        for m in self.config.get("mounts") or ():
            self.mount_one(m)

    def mount_one(self, m: dict[str, Any]) -> None:
        dest = m["destination"]
        typ = m.get("type") or ""
        opts = M.parse_options(m.get("options") or [], typ)
        if opts.unsupported:
            raise StepError("mounts", f"mounts: {dest}: unsupported options "
                            f"{','.join(opts.unsupported)}", 22)
        if not dest.startswith("/"):
            raise StepError("mounts", f"mounts: {dest}: destination must be absolute", 22)
        target = M.secure_join(self.root, dest)
        if typ in ("cgroup", "cgroup2") and not os.path.exists(
                "/sys/fs/cgroup/cgroup.controllers"):
            return  # hybrid or v1 host: no unified hierarchy at /sys/fs/cgroup to show
        src = m.get("source") or typ
        try:
            if opts.is_bind:
                self._make_target(target, os.path.isdir(src))
                S.mount(src, target, None, S.MS_BIND | (opts.flags & S.MS_REC))
                rest = opts.flags & ~(S.MS_BIND | S.MS_REC)
                if rest:  # bind ignores other flags: they need a remount of the new mount
                    S.mount(None, target, None, S.MS_BIND | S.MS_REMOUNT | rest)
            else:
                self._make_target(target, True)
                data = opts.data or None
                S.mount(src, target, typ, opts.flags, data)
        except PermissionError:
            if typ != "sysfs":
                raise
            # sysfs of a network namespace we do not own: show the host's, read-only.
            S.mount("/sys", target, None, S.MS_BIND | S.MS_REC)
            S.mount(None, target, None, S.MS_BIND | S.MS_REMOUNT | S.MS_RDONLY | S.MS_NOSUID
                    | S.MS_NODEV | S.MS_NOEXEC)
        for p in opts.propagation:
            S.mount(None, target, None, p)
        if dest == "/dev" and typ == "tmpfs":
            self._populate_dev(target)

    def _make_target(self, target: str, is_dir: bool) -> None:
        if os.path.lexists(target):
            return
        os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
        if is_dir:
            os.mkdir(target, 0o755)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                             0o644))

    def _populate_dev(self, dev: str) -> None:
        # The OCI default nodes, and the usual symlinks (/dev/ptmx -> the pts instance).
        for name, _typ, major, minor in M.DEFAULT_DEVICES:
            self._device(dev + "/" + name, "c", major, minor, 0o666, 0, 0)
        for target, name in M.DEFAULT_DEV_SYMLINKS:
            os.symlink(target, dev + "/" + name)

    def _device(self, path: str, typ: str, major: int, minor: int, mode: int, uid: int,
                gid: int) -> None:
        fmt = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK,
               "p": stat.S_IFIFO}[typ]
        if os.path.lexists(path):
            return
        os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
        try:
            os.mknod(path, fmt | (mode & 0o7777), os.makedev(major, minor))
        except PermissionError:  # no CAP_MKNOD (e.g. in a user namespace): bind the host's
            host = "/dev/" + os.path.relpath(path, self.root + "/dev")
            self._make_target(path, False)
            S.mount(host, path, None, S.MS_BIND)
            return
        if uid or gid:
            os.chown(path, uid, gid)

    def create_devices(self) -> None:
        dev = M.secure_join(self.root, "/dev")
        for d in self.linux.get("devices") or ():
            p = M.secure_join(self.root, d["path"])
            self._device(p, d.get("type", "c"), int(d.get("major", 0)),
                         int(d.get("minor", 0)), int(d.get("fileMode", 0o666)),
                         int(d.get("uid", 0)), int(d.get("gid", 0)))
        if self.ext.get("hostDevices"):
            # Privileged: every host device node, as containerd's WithHostDevices.
            skip = {"pts", "shm", "mqueue", "fd", "hugepages", "console"}
            for top, dirs, files in os.walk("/dev"):
                rel = os.path.relpath(top, "/dev")
                dirs[:] = [x for x in dirs if not (rel == "." and x in skip)]
                for f in files:
                    hp = os.path.join(top, f)
                    try:
                        st = os.lstat(hp)
                    except OSError:
                        continue
                    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
                        continue
                    if rel == "." and f in skip:
                        continue
                    self._device(os.path.normpath(os.path.join(dev, rel, f)),
                                 "b" if stat.S_ISBLK(st.st_mode) else "c",
                                 os.major(st.st_rdev), os.minor(st.st_rdev),
                                 stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)

    def create_cwd(self) -> None:
        # runc creates a missing working directory (owned by root) before pivoting.
        cwd = self.process.get("cwd") or "/"
        p = M.secure_join(self.root, cwd)
        if not os.path.isdir(p):
            os.makedirs(p, 0o755, exist_ok=True)

    def pivot_root(self) -> None:
        # pivot_root(".", ".") stacks the old root on top of the new one; detaching it
        # leaves no path to the host's filesystem (unlike chroot). No put_old directory.
        old = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.chdir(self.root)
            S.pivot_root(".", ".")
            # As runc: "." may still name the new root's mount; the rslave must reach the
            # old root only (the new root's volume mounts keep their propagation).
            os.fchdir(old)
        finally:
            os.close(old)
        S.mount(None, ".", None, S.MS_REC | S.MS_SLAVE)  # never propagate the unmount
        S.umount2(".", S.MNT_DETACH)
        os.chdir("/")
        if self.root_propagation_set:
            # runc applies an explicit rootfsPropagation to the new root as well, so the
            # container's own mounts below / follow it (nested runtimes).
            S.mount(None, "/", None, self.root_flags)

    def sysctls(self) -> None:
        # Before readonly-paths: /proc/sys becomes read-only there.
        for key, value in (self.linux.get("sysctl") or {}).items():
            with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                f.write(str(value))

    def masked_paths(self) -> None:
        for p in self.linux.get("maskedPaths") or ():
            try:
                if os.path.isdir(p):
                    S.mount("tmpfs", p, "tmpfs", S.MS_RDONLY)
                else:
                    S.mount("/dev/null", p, None, S.MS_BIND)
            except FileNotFoundError:
                continue

    def readonly_paths(self) -> None:
        for p in self.linux.get("readonlyPaths") or ():
            try:
                S.mount(p, p, None, S.MS_BIND | S.MS_REC)
            except FileNotFoundError:
                continue
            self._remount_ro(p)

    def _remount_ro(self, path: str) -> None:
        # A bind remount sets exactly the per-mount flags given: keep nosuid/nodev/noexec.
        flags = M.statvfs_to_mount_flags(os.statvfs(path).f_flag)
        S.mount(None, path, None, S.MS_BIND | S.MS_REMOUNT | S.MS_RDONLY | flags)

    def readonly_rootfs(self) -> None:
        # Last of the filesystem steps: earlier steps create mount targets in the rootfs.
        if (self.config.get("root") or {}).get("readonly"):
            self._remount_ro("/")

    def hostname(self) -> None:
        # The daemon sends a hostname only when the UTS namespace is the pod's own.
        name = self.config.get("hostname")
        if name:
            S.sethostname(name)

    def rlimits(self) -> None:
        limits = self.process.get("rlimits")
        if limits:
            import resource  # preloaded
            for r in limits:
                resource.setrlimit(getattr(resource, r["type"]), (r["soft"], r["hard"]))

    def prepare_seccomp(self) -> None:
        # Compile the filter while libseccomp is still reachable (before pivot_root).
        if self.ext.get("seccompBpf"):
            # Precompiled by the daemon: no libseccomp work at container start.
            import binascii
            self.seccomp_filter = _PrecompiledFilter(
                binascii.a2b_base64(self.ext["seccompBpf"]))
        elif self.seccomp:
            from podrun.runtime import seccomp
            self.seccomp_filter = seccomp.Filter(self.seccomp)

    def load_seccomp(self) -> None:
        # With no_new_privs the filter goes last so it never filters our own setup; without
        # it loading needs CAP_SYS_ADMIN, so it goes before capabilities are dropped (runc
        # does the same) and the remaining setup syscalls must be allowed by the profile.
        if self.seccomp_filter is not None:
            self.seccomp_filter.load()

    def bounding_set(self) -> None:
        # Before the user switch: PR_CAPBSET_DROP needs CAP_SETPCAP in the effective set.
        if self.privileged_caps:
            return
        self.last_cap = S.cap_last_cap()
        keep = to_mask(self.process["capabilities"].get("bounding") or (), self.last_cap)
        for cap in range(self.last_cap + 1):
            if not keep >> cap & 1 and S.prctl(S.PR_CAPBSET_READ, cap) == 1:
                S.prctl(S.PR_CAPBSET_DROP, cap)

    def switch_user(self) -> None:
        # KEEPCAPS keeps the permitted set across setuid to non-root; capset() then picks
        # exactly the configured sets. Groups first: setgroups needs CAP_SETGID.
        S.prctl(S.PR_SET_KEEPCAPS, 1)
        os.setgroups(self.groups)
        os.setresgid(self.gid, self.gid, self.gid)
        os.setresuid(self.uid, self.uid, self.uid)
        S.prctl(S.PR_SET_KEEPCAPS, 0)

    def capabilities(self) -> None:
        if self.privileged_caps:
            return
        c = self.process["capabilities"]
        last = self.last_cap
        # A capability the host itself lacks cannot be granted (privileged in a
        # restricted host): keep what we have, as containerd's "all current caps".
        _, permitted, _ = S.capget()
        eff = to_mask(c.get("effective") or (), last) & permitted
        prm = to_mask(c.get("permitted") or (), last) & permitted
        inh = to_mask(c.get("inheritable") or (), last)
        S.capset(eff, prm, inh & prm)
        S.prctl(S.PR_CAP_AMBIENT, S.PR_CAP_AMBIENT_CLEAR_ALL)
        amb = to_mask(c.get("ambient") or (), last)
        for cap in range(last + 1):
            if amb >> cap & 1:
                S.prctl(S.PR_CAP_AMBIENT, S.PR_CAP_AMBIENT_RAISE, cap)

    def no_new_privs(self) -> None:
        if self.nnp:
            S.prctl(S.PR_SET_NO_NEW_PRIVS, 1)

    def umask(self) -> None:
        os.umask(int((self.process.get("user") or {}).get("umask", 0o022)))

    def chdir(self) -> None:
        # As the container user, after the user switch (a 0700 cwd must be refused).
        os.chdir(self.process.get("cwd") or "/")

    def environment(self) -> None:
        env: dict[str, str] = {}
        for kv in self.process.get("env") or ():
            k, _, v = kv.partition("=")
            env[k] = v
        if "HOME" not in env:
            env["HOME"] = self.home or "/"
        self.env = env

    def exec(self) -> None:
        args = self.process.get("args") or []
        if not args:
            raise StepError("exec", "exec: no command given (process.args is empty)", 22)
        exe = look_path(args[0], self.env.get("PATH", DEFAULT_PATH))
        try:
            os.execve(exe, args, self.env)
        except OSError as e:
            raise StepError("exec", f"exec {exe}: {_strerror(e)}", e.errno or 0) from e


class _PrecompiledFilter:
    def __init__(self, program: bytes) -> None:
        self.program = program

    def load(self) -> None:
        S.seccomp_load_bpf(self.program)


def look_path(file: str, path: str) -> str:
    """Go's exec.LookPath (what runc uses), with its exact error sentences."""
    if "/" in file:
        err = _find_executable(file)
        if err is None:
            return file
        raise StepError("exec", f'exec: "{file}": {err[0]}', err[1])
    for d in path.split(":"):
        candidate = (d or ".") + "/" + file
        if _find_executable(candidate) is None:
            return candidate
    raise StepError("exec", f'exec: "{file}": executable file not found in $PATH', 2)


def _find_executable(p: str) -> tuple[str, int] | None:
    try:
        st = os.stat(p)
    except OSError as e:
        return f"stat {p}: {_strerror(e)}", e.errno or 0
    if not stat.S_ISDIR(st.st_mode) and os.access(p, os.X_OK):
        return None
    return "permission denied", 13


# ---- entry point --------------------------------------------------------------------------

def _read_config(sync_fd: int | None, path: str | None) -> dict[str, Any]:
    if path:
        with open(path, "rb") as f:
            data = f.read()
    else:
        if sync_fd is None:
            raise StepError("config", "config: no config path and no sync fd", 9)
        chunks = []
        size = 0
        while True:
            b = os.read(sync_fd, 65536)
            if not b:
                break
            chunks.append(b)
            size += len(b)
            if b.endswith(b"\n") or size > MAX_CONFIG:
                break
        data = b"".join(chunks)
    try:
        config = loads(data.decode())
    except (ValueError, UnicodeDecodeError) as e:
        raise StepError("config", f"config: invalid JSON: {e}", 22) from e
    if not isinstance(config, dict):
        raise StepError("config", "config: not a JSON object", 22)
    return config


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def main(argv: list[str]) -> int:
    sync_fd: int | None = 3
    path = None
    args = list(argv[1:])
    while args:
        a = args.pop(0)
        if a.startswith("--sync-fd="):
            sync_fd = int(a.split("=", 1)[1])
        elif a == "--sync-fd":
            sync_fd = int(args.pop(0))
        else:
            path = a
    if sync_fd is not None and (sync_fd < 0 or not _fd_open(sync_fd)):
        sync_fd = None
    try:
        Init(_read_config(sync_fd, path), sync_fd).run()
        raise StepError("exec", "exec returned", 0)  # pragma: no cover
    except StepError as e:
        line = error_line(e.step, e.message, e.errno)
        if sync_fd is not None:
            try:
                os.write(sync_fd, line)
            except OSError:
                os.write(2, line)
        else:
            os.write(2, line)
        return EXIT_START_ERROR


# ---- exec into a running container (execin.py's helper side) ------------------------------

EXEC_NOT_FOUND = 127     # command not found (shell/Docker convention)
EXEC_CANNOT_RUN = 126    # any other failure before the command ran

# setns order as nsenter(1): cgroup, ipc, uts, net, pid, mnt (mnt last: after it the
# /proc paths of the host are gone).
_NAMESPACES = (("cgroup", 0x02000000), ("ipc", 0x08000000), ("uts", 0x04000000),
               ("net", 0x40000000), ("pid", 0x20000000), ("mnt", 0x00020000))


def exec_main(argv: list[str]) -> int:
    """The exec helper (execin.py run as a script): enter container PID, fork, exec."""
    import signal  # now: after chroot the stdlib is out of reach
    sync_fd = 3
    for a in argv[1:]:
        if a.startswith("--sync-fd="):
            sync_fd = int(a.split("=", 1)[1])

    def report(step: str, message: str, errno: int, code: int) -> int:
        try:
            os.write(sync_fd, error_line(step, message, errno))
        except OSError:
            os.write(2, (message + "\n").encode())
        return code

    try:
        req = _read_config(sync_fd, None)
        pid = int(req["pid"])
        config = req["config"]
        preload(config)
        S.close_range_cloexec(3)
        step = "namespaces"
        fds = []
        for name, flag in _NAMESPACES:
            p = f"/proc/{pid}/ns/{name}"
            # Joining our own namespace is harmless, but skip it: setns(mnt) of the same
            # namespace would still reset root and cwd.
            if os.stat(p).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
                continue
            fds.append((os.open(p, os.O_RDONLY | os.O_CLOEXEC), flag, name))
        root_fd = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        step = "cgroup"
        cg = (config.get("linux") or {}).get("cgroupsPath")
        if cg:  # host path: before setns(mnt)
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write("0")
        step = "namespaces"
        for fd, flag, _name in fds:
            S.setns(fd, flag)
            os.close(fd)
        step = "root"
        # The container's root is its mount namespace's root after pivot_root; chroot to
        # /proc/PID/root as well so a container that chrooted further is followed.
        os.fchdir(root_fd)
        os.chroot(".")
        os.close(root_fd)
    except StepError as e:
        return report(e.step, e.message, e.errno, EXEC_CANNOT_RUN)
    except (OSError, KeyError, ValueError, TypeError) as e:
        return report(step if "step" in locals() else "request", f"exec: {e}",
                      getattr(e, "errno", 0) or 0, EXEC_CANNOT_RUN)

    alive_r, alive_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(alive_w)
        process = dict(config.get("process") or {})
        env = list(process.get("env") or ()) + list(req.get("env") or ())
        process.update(args=list(req["args"]), env=env,
                       cwd=req.get("cwd") or process.get("cwd") or "/")
        cfg = dict(config, process=process, root={"path": "/"})
        init = Init(cfg, sync_fd)
        steps = init.exec_steps()

        def parent_death_signal() -> None:
            # After the user switch (a credential change clears it). If the helper was
            # killed (probe timeout), the command dies with it.
            S.prctl(S.PR_SET_PDEATHSIG, 9)
            os.set_blocking(alive_r, False)
            try:
                if os.read(alive_r, 1) == b"":
                    os._exit(EXEC_CANNOT_RUN)
            except BlockingIOError:
                pass

        steps.insert([n for n, _ in steps].index("capabilities") + 1,
                     ("parent-death-signal", parent_death_signal))

        def controlling_terminal() -> None:
            # `exec -t`: stdin is the pty the caller relays; make it our controlling
            # terminal in a new session (job control, ^C, window size).
            os.setsid()
            S.ioctl_int(0, S.TIOCSCTTY, 0)

        if req.get("tty"):
            steps.insert(0, ("controlling-terminal", controlling_terminal))
        try:
            init.run(steps)
        except StepError as e:
            code = EXEC_NOT_FOUND if e.errno == 2 and e.step == "exec" else EXEC_CANNOT_RUN
            os._exit(report(e.step, e.message, e.errno, code))
        os._exit(EXEC_CANNOT_RUN)  # pragma: no cover

    os.close(alive_r)
    os.close(sync_fd)  # the child holds it until its exec (EOF = started)

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(child, sig)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, forward)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            return EXEC_CANNOT_RUN
        except InterruptedError:
            continue
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else \
        128 + os.WTERMSIG(status)


