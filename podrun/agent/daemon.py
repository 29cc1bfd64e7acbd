"""`podrun daemon`: settings (flags over the --config file, KubeletConfiguration key names),
the root lock, the structured log, sd_notify, and the wiring of store, sources, the
PodManager and the API server; SIGTERM leaves pods running for the next daemon."""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import grp
import json
import logging
import os
import re
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

log = logging.getLogger("podrun.daemon")

from podrun.defaults import CGROUP_ROOT_FILE, DEFAULT_CONFIG, DEFAULTS  # noqa: E402 - re-exported

# Flag name -> config key (the kubelet's KubeletConfiguration name where one exists).
FLAG_KEYS = {
    "root": "root", "run_dir": "runDir", "log_dir": "logDir", "manifest_dir": "manifestDir",
    "socket": "socket", "cni_conf_dir": "cniConfDir", "cni_bin_dir": "cniBinDir",
    "cgroup_root": "cgroupRoot", "node_name": "nodeName", "stop_pods_on_exit": "stopPodsOnExit",
}
# Every key the config file may hold. The engine reads the ones it uses from ctx.config.
KNOWN_KEYS = set(DEFAULTS) | {
    "apiVersion", "kind", "nodeName", "stopPodsOnExit", "staticPodPath",
    "fileCheckFrequency", "staticPodInotify", "allowedGroups", "logLevel",
    "containerLogMaxSize", "containerLogMaxFiles", "containerLogMonitorInterval",
    "imageGCHighThresholdPercent", "imageGCLowThresholdPercent", "imageMinimumGCAge",
    "podPidsLimit", "allowedUnsafeSysctls", "clusterDNS", "clusterDomain", "resolvConf",
    "registries", "cni", "cgroupDriver", "maxPods", "serializeImagePulls",
    "registryPullQPS", "registryBurst", "shutdownGracePeriod", "hostnameOverride",
    "podEngine", "crashLoopBackOff", "containerLogMaxWorkers", "imageMaximumGCAge",
    "runtimeRequestTimeout", "imagePullProgressDeadline",
}


class ConfigError(Exception):
    pass


def parse_duration(value: Any, key: str) -> float:
    """A Go duration ("20s", "1m30s", "500ms") or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h)", value.strip())
        if parts and "".join(n + u for n, u in parts) == value.strip():
            mult = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
            return sum(float(n) * mult[u] for n, u in parts)
    raise ConfigError(f'{key}: invalid duration "{value}" (use e.g. "20s", "500ms")')


@dataclass
class Settings:
    root: Path
    run_dir: Path
    log_dir: Path
    manifest_dir: Path
    socket: Path
    cni_conf_dir: Path
    cni_bin_dir: Path
    cgroup_root: str
    node_name: str
    stop_pods_on_exit: bool = False
    file_check_frequency: float = 20.0
    static_pod_inotify: bool = True
    allowed_gids: frozenset[int] = frozenset()
    log_level: str = "info"
    # "auto": the lifecycle engine if this build has one; "none": store pods, run nothing
    # (an API-only daemon, for tests of the API and CLI layers).
    pod_engine: str = "auto"
    config: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def load_config_file(path: str | None) -> tuple[dict[str, Any], str | None]:
    """The config file's mapping; a missing default file is fine, a missing explicit one
    is an error."""
    import yaml
    explicit = path is not None
    p = Path(path or DEFAULT_CONFIG)
    try:
        text = p.read_text()
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config file {p} does not exist") from None
        return {}, None
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {p}: {e}") from None
    if data is None:
        return {}, str(p)
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p}: the top level must be a mapping")
    return data, str(p)


def resolve_settings(flags: dict[str, Any], config_path: str | None,
                     env_socket: str | None = None) -> Settings:
    cfg, _ = load_config_file(config_path)
    warnings = [f'config file: unknown key "{k}" ignored' for k in cfg if k not in KNOWN_KEYS]
    if "staticPodPath" in cfg and "manifestDir" not in cfg:
        cfg["manifestDir"] = cfg["staticPodPath"]
    if "hostnameOverride" in cfg and "nodeName" not in cfg:
        cfg["nodeName"] = cfg["hostnameOverride"]
    merged: dict[str, Any] = dict(DEFAULTS)
    if env_socket:
        merged["socket"] = env_socket
    merged.update({k: v for k, v in cfg.items() if v is not None})
    for flag, key in FLAG_KEYS.items():
        v = flags.get(flag)
        if v is not None and v is not False:
            merged[key] = v
    node = str(merged.get("nodeName") or socket.gethostname()).lower()
    gids = set()
    for g in merged.get("allowedGroups") or []:
        try:
            gids.add(int(g) if isinstance(g, int) or str(g).isdigit() else grp.getgrnam(str(g)).gr_gid)
        except KeyError:
            raise ConfigError(f'allowedGroups: no group named "{g}"') from None
    pod_engine = str(merged.get("podEngine", "auto"))
    if pod_engine not in ("auto", "none"):
        raise ConfigError(f'podEngine: must be "auto" or "none", got "{pod_engine}"')
    inotify = merged.get("staticPodInotify", True)
    if not isinstance(inotify, bool):
        raise ConfigError("staticPodInotify: must be true or false")
    return Settings(
        root=Path(merged["root"]), run_dir=Path(merged["runDir"]),
        log_dir=Path(merged["logDir"]), manifest_dir=Path(merged["manifestDir"]),
        socket=Path(merged["socket"]), cni_conf_dir=Path(merged["cniConfDir"]),
        cni_bin_dir=Path(merged["cniBinDir"]), cgroup_root=str(merged["cgroupRoot"] or ""),
        node_name=node, stop_pods_on_exit=bool(merged.get("stopPodsOnExit", False)),
        file_check_frequency=parse_duration(merged.get("fileCheckFrequency", "20s"),
                                            "fileCheckFrequency"),
        static_pod_inotify=inotify, allowed_gids=frozenset(gids),
        log_level=str(merged.get("logLevel", "info")).lower(), pod_engine=pod_engine,
        config=merged,
        warnings=warnings)


# ---------------------------------------------------------------- logging

class LogfmtFormatter(logging.Formatter):
    """`time=... level=info logger=podrun.x msg="..." key=value` (one line per record);
    extra fields come from `extra={"kv": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        t = _dt.datetime.fromtimestamp(record.created, _dt.UTC)
        parts = [f"time={t.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z",
                 f"level={record.levelname.lower()}", f"logger={record.name}",
                 f"msg={_q(record.getMessage())}"]
        for k, v in (getattr(record, "kv", None) or {}).items():
            parts.append(f"{k}={_q(str(v))}")
        if record.exc_info:
            parts.append(f"exc={_q(self.formatException(record.exc_info))}")
        return " ".join(parts)


def _q(s: str) -> str:
    if s and re.fullmatch(r"[A-Za-z0-9_./:@+-]+", s):
        return s
    return json.dumps(s, ensure_ascii=False)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger("podrun")
    root.handlers[:] = [handler]
    root.setLevel({"debug": logging.DEBUG, "warning": logging.WARNING,
                   "error": logging.ERROR}.get(level, logging.INFO))
    root.propagate = False


# ---------------------------------------------------------------- host bits

def sd_notify(state: str) -> bool:
    """Tell systemd (Type=notify) about READY=1 / STOPPING=1, if NOTIFY_SOCKET is set."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(addr)
        s.sendall(state.encode())
        return True
    return False


class RootLock:
    """An flock on <root>/daemon.lock: two daemons never share a root."""

    def __init__(self, root: Path) -> None:
        self.path = root / "daemon.lock"
        self.fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise ConfigError(
                    f"another podrun daemon{f' (pid {holder})' if holder else ''} is using "
                    f"the root {self.path.parent} (lock {self.path})") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


def socket_in_use(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
            return True
        except OSError:
            return False


# ---------------------------------------------------------------- the daemon

def make_image_service(s: Settings) -> Any:
    """The image service over <root>/images, or None (logged) if it cannot be set up."""
    try:
        from podrun.image.service import ImageService
        return ImageService(str(s.root / "images"), registries=s.config.get("registries"))
    except Exception as e:  # the daemon still serves pods; the image routes answer 503
        log.error("image service unavailable", extra={"kv": {"err": str(e)}})
        return None


class Daemon:
    def __init__(self, settings: Settings) -> None:
        import asyncio  # here, not at the top: `podrun get` should not pay for it

        self.s = settings
        self.lock = RootLock(settings.root)
        self.stopping = asyncio.Event()
        self.runner: Any = None
        self.static: Any = None
        self.config: Any = None
        self.manager: Any = None
        self.store: Any = None
        self.images: Any = None

    def prepare_host(self) -> None:
        s = self.s
        s.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(s.root, 0o700)
        s.run_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
        s.log_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
        self.lock.acquire()
        if socket_in_use(s.socket):
            self.lock.release()
            raise ConfigError(f"the socket {s.socket} is in use by another podrun daemon")

    def cgroup_root(self) -> str:
        """--cgroup-root; else, under the shipped systemd units, the cgroup of the unit that
        holds the pods (podrun-pods.service), so `systemctl restart podrun` never meets them
        (docs/cgroups.md "Under systemd"); else "" (the default below the cgroup v2 mount)."""
        if self.s.cgroup_root:
            root = self.s.cgroup_root
        else:
            from podrun.runtime.cgroups import systemd_pods_root
            found = systemd_pods_root()
            root = str(found) if found is not None else ""
        return root

    def record_cgroup_root(self, root: str) -> None:
        """<root>/cgroup-root: the subtree this daemon's pods live in, which `podrun doctor`
        run from a shell audits (it cannot know the systemd pods unit's subtree itself)."""
        from podrun.agent.store import atomic_write
        atomic_write(self.s.root / CGROUP_ROOT_FILE, (root + "\n").encode(), sync=False,
                     mode=0o644)

    async def start(self) -> None:
        from podrun.agent import DaemonContext, PlaceholderPodManager, create_pod_manager
        from podrun.agent.sources import PodConfig
        from podrun.agent.staticdir import StaticDirSource
        from podrun.agent.store import Store
        from podrun.api.server import create_app, serve_unix

        s = self.s
        # Import the spec model and kubectl's printers now, not on the first request.
        import importlib
        for mod in ("podrun.spec.parse", "podrun.spec.encode", "podrun.core.status"):
            try:
                importlib.import_module(mod)
            except ImportError as e:
                log.warning("cannot import %s: %s", mod, e)
        self.store = Store(s.root)
        self.store.load()
        cgroup_root = self.cgroup_root()
        self.record_cgroup_root(cgroup_root)
        ctx = DaemonContext(store=self.store, node_name=s.node_name, root=s.root,
                            run_dir=s.run_dir, log_dir=s.log_dir, manifest_dir=s.manifest_dir,
                            cni_conf_dir=s.cni_conf_dir, cni_bin_dir=s.cni_bin_dir,
                            cgroup_root=cgroup_root, config=s.config)
        ctx.images = self.images = make_image_service(s)
        self.manager = (PlaceholderPodManager(ctx) if s.pod_engine == "none"
                        else create_pod_manager(ctx))
        if type(self.manager).__name__ == "PlaceholderPodManager":
            log.warning("no pod runtime engine in this build: pods are stored and stay Pending")
        self.config = PodConfig(self.store, self.manager, s.node_name)
        await self.config.start()
        self.static = StaticDirSource(s.manifest_dir, s.node_name, self.config, self.store,
                                      check_frequency=s.file_check_frequency,
                                      use_inotify=s.static_pod_inotify)
        await self.static.start()
        # the store and the static directory have both been read: orphans can be told
        self.manager.sources_ready()
        app = create_app(ctx, self.config, self.manager, allowed_gids=s.allowed_gids,
                         images=self.images)
        group = min(s.allowed_gids) if s.allowed_gids else None
        self.runner = await serve_unix(app, s.socket, mode=0o660 if group is not None else 0o600,
                                       group=group)
        log.info("podrun daemon ready", extra={"kv": {
            "socket": s.socket, "root": s.root, "node": s.node_name,
            "manifestDir": s.manifest_dir, "pods": len(self.store.list("pods"))}})
        sd_notify("READY=1\nSTATUS=serving on " + str(s.socket))

    async def stop(self) -> None:
        sd_notify("STOPPING=1")
        log.info("podrun daemon stopping", extra={"kv": {
            "stopPods": self.s.stop_pods_on_exit}})
        if self.runner is not None:
            await self.runner.cleanup()
        with contextlib.suppress(FileNotFoundError):
            self.s.socket.unlink()
        if self.static is not None:
            await self.static.stop()
        if self.config is not None:
            await self.config.stop()
        if self.manager is not None:
            await self.manager.close(self.s.stop_pods_on_exit)
        self.lock.release()

    async def run(self) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        try:
            await self.start()
            await self.stopping.wait()
        finally:
            await self.stop()


@click.command("daemon")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help=f"YAML settings file (default {DEFAULT_CONFIG} if it exists).")
@click.option("--root", help=f"State directory (default {DEFAULTS['root']}).")
@click.option("--run-dir", help=f"Runtime state directory (default {DEFAULTS['runDir']}).")
@click.option("--log-dir", help=f"Pod log directory (default {DEFAULTS['logDir']}).")
@click.option("--manifest-dir", help=f"Static pod directory (default {DEFAULTS['manifestDir']}).")
@click.option("--socket", "socket_", help=f"API socket (default {DEFAULTS['socket']}).")
@click.option("--cni-conf-dir", help=f"CNI config directory (default {DEFAULTS['cniConfDir']}).")
@click.option("--cni-bin-dir", help=f"CNI plugin directory (default {DEFAULTS['cniBinDir']}).")
@click.option("--cgroup-root", help="cgroup v2 subtree for pods (default: podrun/ under the cgroup v2 mount, "
              "e.g. /sys/fs/cgroup/podrun, or /sys/fs/cgroup/unified/podrun on a hybrid host).")
@click.option("--node-name", help="Node name (default: the host name, lower-cased).")
@click.option("--stop-pods-on-exit", is_flag=True, default=False,
              help="Stop every pod when the daemon exits (default: leave them running).")
@click.pass_context
def daemon_command(ctx: click.Context, config_path: str | None, root: str | None,
                   run_dir: str | None, log_dir: str | None, manifest_dir: str | None,
                   socket_: str | None, cni_conf_dir: str | None, cni_bin_dir: str | None,
                   cgroup_root: str | None, node_name: str | None,
                   stop_pods_on_exit: bool) -> None:
    """Run the podrun daemon in the foreground (the API server, static pods, pod workers)."""
    flags = {"root": root, "run_dir": run_dir, "log_dir": log_dir, "manifest_dir": manifest_dir,
             "socket": socket_, "cni_conf_dir": cni_conf_dir, "cni_bin_dir": cni_bin_dir,
             "cgroup_root": cgroup_root, "node_name": node_name,
             "stop_pods_on_exit": stop_pods_on_exit}
    env_socket = (ctx.obj or {}).get("socket") if isinstance(ctx.obj, dict) else None
    try:
        settings = resolve_settings(flags, config_path, env_socket)
    except ConfigError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    setup_logging(settings.log_level)
    for w in settings.warnings:
        log.warning(w)
    if os.geteuid() != 0:
        log.warning("not running as root: pods cannot be run, the API socket is still "
                    "root-only")
    import asyncio

    d = Daemon(settings)
    try:
        d.prepare_host()
    except (ConfigError, OSError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    try:
        asyncio.run(d.run())
    except KeyboardInterrupt:
        pass
    except Exception as e:
        log.exception("podrun daemon failed: %s", e)
        sys.exit(1)
