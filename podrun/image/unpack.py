"""Safe layer extraction: one layer tar (gzip, zstd or plain) into one empty snapshot dir.

Our own extractor on top of `tarfile` reading: every parent directory is resolved inside
the snapshot component by component with O_NOFOLLOW, so nothing is ever written outside it.

Rules (each violation raises UnsafeLayer with the entry's name and the reason):
- absolute names (`/etc/x`) are rejected, as are names with a `..` component; a leading
  `./` is stripped (many tar writers emit it).
- an entry whose parent is a symlink (`a -> /tmp/x`, then `a/file`) is rejected: the walk
  never follows a symlink, not even one pointing inside; real layers never need it.
- hard links must name a regular file extracted earlier from this same layer.
- whiteouts: `.wh.<name>` becomes an overlay whiteout (char device 0:0); `.wh..wh..opq`
  sets `trusted.overlay.opaque=y` on its directory; a whiteout of `.`/`..` is rejected; a
  whited-out name re-created in the same layer becomes an opaque directory.
- devices and fifos are created only when privileged (root), else skipped with a warning
  (or rejected with devices="reject").
- duplicate entries: the later one wins, as with tar (a directory over a directory merges).
- limits: entry count and total file bytes (UnpackOptions), LayerLimitExceeded when passed.
- xattrs from PAX `SCHILY.xattr.*`, except `trusted.overlay.*` which only podrun writes.
The compressed digest (and size) and the uncompressed diffID are verified while streaming.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import shutil
import stat
import tarfile
import zlib
from dataclasses import dataclass, field

from podrun.errors import HostError
from podrun.image.digest import CHUNK, HashingReader, Readable
from podrun.image.errors import ImageError, LayerLimitExceeded, UnsafeLayer

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
USER_OPAQUE_XATTR = "user.overlay.opaque"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class UnpackOptions:
    max_entries: int = 500_000
    max_bytes: int = 64 << 30
    devices: str = "auto"  # auto (create when root, else skip) | create | skip | reject
    chown: bool | None = None  # None: when root
    privileged: bool | None = None  # None: when root; whiteout devices and trusted.* xattrs

    def is_privileged(self) -> bool:
        return os.geteuid() == 0 if self.privileged is None else self.privileged


@dataclass
class UnpackResult:
    digest: str  # of the blob as read (compressed)
    diff_id: str  # of the uncompressed tar
    compressed_size: int
    size: int  # bytes of file data written
    entries: int
    warnings: list[str] = field(default_factory=list)


def detect_compression(head: bytes, media_type: str = "") -> str:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if media_type.endswith("+gzip") or media_type.endswith(".gzip"):
        return "gzip"
    if media_type.endswith("+zstd"):
        return "zstd"
    return "none"


class LayerStream(io.RawIOBase):
    """Decompresses a layer blob and hashes both sides: `compressed` (the blob digest) and
    `diff` (the diffID). Output is bounded per read, so a compression bomb costs no memory."""

    def __init__(self, blob: Readable, media_type: str = "") -> None:
        super().__init__()
        self.compressed = HashingReader(blob)
        self._head = self.compressed.read(4)
        self.compression = detect_compression(self._head, media_type)
        self.diff = HashingReader(self)  # for the digest only; see readinto
        self._out = b""
        self._eof = False
        if self.compression == "gzip":
            self._z: zlib._Decompress | None = zlib.decompressobj(47)
        elif self.compression == "zstd":
            import zstandard  # only needed for zstd layers

            self._zstd = zstandard.ZstdDecompressor().stream_reader(
                _Prefixed(self._head, self.compressed), read_size=CHUNK,  # type: ignore[arg-type]
                read_across_frames=True, closefd=False)
        self.uncompressed_size = 0

    def readable(self) -> bool:
        return True

    def _produce(self, n: int) -> bytes:
        if self.compression == "none":
            if self._head:
                data, self._head = self._head, b""
                return data + self.compressed.read(max(0, n - len(data)))
            return self.compressed.read(n)
        if self.compression == "zstd":
            return self._zstd.read(n)
        assert self._z is not None
        while True:
            if self._z.unconsumed_tail:
                out = self._z.decompress(self._z.unconsumed_tail, n)
                if out:
                    return out
                continue
            if self._z.eof:
                rest = self._z.unused_data.lstrip(b"\0")  # trailing zero padding is harmless
                self._z = zlib.decompressobj(47)  # multi-member gzip
                self._fed = bool(rest)
                if rest:
                    out = self._z.decompress(rest, n)
                    if out:
                        return out
                    continue
            data = self._head or self.compressed.read(CHUNK)
            self._head = b""
            if not data:
                if self._fed and not self._z.eof:
                    raise UnsafeLayer("", "", "truncated gzip stream")
                return b""
            self._fed = True
            out = self._z.decompress(data, n)
            if out:
                return out

    _fed = False

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._eof:
            return 0
        data = self._produce(len(b))
        if not data:
            self._eof = True
            return 0
        self.diff.h.update(data)
        self.diff.count += len(data)
        self.uncompressed_size += len(data)
        b[: len(data)] = data
        return len(data)

    def finish(self) -> None:
        """Read to the end of both streams, so the digests cover everything."""
        buf = bytearray(CHUNK)
        while self.readinto(buf):
            pass
        self.compressed.drain()


class _Prefixed:
    def __init__(self, head: bytes, rest: HashingReader) -> None:
        self.head = head
        self.rest = rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            data, self.head = self.head, b""
            if n < 0:
                return data + self.rest.read()
            return data + self.rest.read(max(0, n - len(data)))
        return self.rest.read(n)


def clean_name(name: str, what: str = "entry") -> list[str]:
    """A tar name as components inside the root, or UnsafeLayer. `./a//b/` -> [a, b]."""
    if name.startswith("/"):
        raise UnsafeLayer("", name, f"{what} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayer("", name, f"{what} path contains '..'")
    return parts


def _is_whiteout_device(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


class Extractor:
    """Writes tar members into `root`, which must exist and should be empty."""

    def __init__(self, root: str, options: UnpackOptions, layer: str = "") -> None:
        self.root = root
        self.opts = options
        self.layer = layer
        self.privileged = options.is_privileged()
        self.chown = self.privileged if options.chown is None else options.chown
        devices = options.devices
        if devices == "auto":
            devices = "create" if self.privileged else "skip"
        self.devices = devices
        self.root_fd = os.open(root, _DIR_FLAGS)
        self.entries = 0
        self.bytes = 0
        self.warnings: list[str] = []
        self.files: set[str] = set()  # regular files of this layer, hard link targets
        self.dirs: dict[str, tarfile.TarInfo | None] = {}  # explicit dirs: metadata last
        self.opaque: set[str] = set()
        self._fd_cache: dict[str, int] = {}

    def close(self) -> None:
        self._drop_cache()
        os.close(self.root_fd)

    def _drop_cache(self) -> None:
        """Only at entry boundaries: callers may hold fds from the cache within an entry."""
        for fd in self._fd_cache.values():
            os.close(fd)
        self._fd_cache.clear()

    def _forget_subtree(self, path: str) -> None:
        """A directory was removed: its fds (and its descendants') go; its parent stays."""
        prefix = path + "/"
        for key in [k for k in self._fd_cache if k == path or k.startswith(prefix)]:
            os.close(self._fd_cache.pop(key))

    def _err(self, entry: str, reason: str) -> UnsafeLayer:
        return UnsafeLayer(self.layer, entry, reason)

    def _warn(self, msg: str) -> None:
        self.warnings.append(msg)
        log.warning("layer %s: %s", self.layer, msg)

    # --- resolution -------------------------------------------------------------------

    def _parent_fd(self, parts: list[str], entry: str) -> int:
        """An O_PATH fd of the directory parts[:-1], created as needed, never via a symlink.
        The fd belongs to the cache; do not close it."""
        key = "/".join(parts[:-1])
        fd = self._fd_cache.get(key)
        if fd is not None:
            return fd
        cur = self.root_fd
        walked: list[str] = []
        for comp in parts[:-1]:
            walked.append(comp)
            sub = "/".join(walked)
            cached = self._fd_cache.get(sub)
            if cached is not None:
                cur = cached
                continue
            try:
                nfd = os.open(comp, _PATH_FLAGS, dir_fd=cur)
            except FileNotFoundError:
                os.mkdir(comp, 0o755, dir_fd=cur)
                nfd = os.open(comp, _PATH_FLAGS, dir_fd=cur)
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                st = os.stat(comp, dir_fd=cur, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    raise self._err(entry, f"path goes through the symlink {sub!r}; "
                                    "refusing to follow it") from None
                if _is_whiteout_device(st):  # .wh.a then a/b: a is new and opaque
                    os.unlink(comp, dir_fd=cur)
                    os.mkdir(comp, 0o755, dir_fd=cur)
                    self._set_opaque(sub, comp, cur)
                    nfd = os.open(comp, _PATH_FLAGS, dir_fd=cur)
                else:
                    raise self._err(entry, f"parent {sub!r} is not a directory") from None
            self._fd_cache[sub] = nfd
            cur = nfd
        return cur

    def _remove_existing(self, pfd: int, base: str, path: str, *, keep_dir: bool) -> bool:
        """Makes room for a new entry; returns True when a whiteout was replaced."""
        try:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return False
            self._forget_subtree(path)
            shutil.rmtree(base, dir_fd=pfd)
            prefix = path + "/"
            self.files = {f for f in self.files if not f.startswith(prefix)}
            self.dirs = {d: v for d, v in self.dirs.items() if d != path and
                         not d.startswith(prefix)}
            return False
        os.unlink(base, dir_fd=pfd)
        self.files.discard(path)
        return _is_whiteout_device(st)

    # --- metadata ---------------------------------------------------------------------

    def _xattrs(self, ti: tarfile.TarInfo) -> list[tuple[str, bytes]]:
        out = []
        for k, v in ti.pax_headers.items():
            if k.startswith("SCHILY.xattr."):
                name = k[len("SCHILY.xattr."):]
                value = v.encode("utf-8", "surrogateescape")
            else:
                continue
            if name.startswith("trusted.overlay."):
                self._warn(f"{ti.name}: ignoring xattr {name} (reserved for overlayfs)")
                continue
            out.append((name, value))
        return out

    def _apply_xattrs(self, target: int | str, ti: tarfile.TarInfo) -> None:
        for name, value in self._xattrs(ti):
            try:
                os.setxattr(target, name, value)
            except OSError as e:
                self._warn(f"{ti.name}: cannot set xattr {name}: {os.strerror(e.errno or 0)}")

    def _set_opaque(self, path: str, base: str, pfd: int) -> None:
        fd = os.open(base, _DIR_FLAGS, dir_fd=pfd) if base else os.dup(pfd)
        try:
            try:
                if not self.privileged:
                    raise PermissionError(errno.EPERM, "not privileged")
                os.setxattr(fd, OPAQUE_XATTR, b"y")
            except OSError:
                os.setxattr(fd, USER_OPAQUE_XATTR, b"y")
                self._warn(f"{path or '/'}: opaque directory marked with {USER_OPAQUE_XATTR} "
                           "(not privileged)")
        finally:
            os.close(fd)
        self.opaque.add(path)

    def _times(self, ti: tarfile.TarInfo) -> tuple[int, int]:
        ns = int(ti.mtime * 1_000_000_000)
        return ns, ns

    # --- entries ----------------------------------------------------------------------

    def add(self, ti: tarfile.TarInfo, tf: tarfile.TarFile) -> None:
        if len(self._fd_cache) > 256:
            self._drop_cache()
        self.entries += 1
        if self.entries > self.opts.max_entries:
            raise LayerLimitExceeded(self.layer, ti.name, "layer has more than "
                                     f"{self.opts.max_entries} entries (limit max_entries)")
        try:
            parts = clean_name(ti.name)
        except UnsafeLayer as e:
            raise self._err(ti.name, e.reason) from None
        if not parts:
            return  # "./": the snapshot root keeps its own attributes
        path = "/".join(parts)
        base = parts[-1]
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(ti, parts, base)
            return
        pfd = self._parent_fd(parts, ti.name)
        if ti.isdir():
            self._dir(ti, pfd, base, path)
        elif ti.isreg():
            self._file(ti, tf, pfd, base, path)
        elif ti.issym():
            self._remove_existing(pfd, base, path, keep_dir=False)
            os.symlink(ti.linkname, base, dir_fd=pfd)
            if self.chown:
                os.chown(base, ti.uid, ti.gid, dir_fd=pfd, follow_symlinks=False)
            os.utime(base, ns=self._times(ti), dir_fd=pfd, follow_symlinks=False)
        elif ti.islnk():
            self._hardlink(ti, pfd, base, path)
        elif ti.ischr() or ti.isblk() or ti.isfifo():
            self._device(ti, pfd, base, path)
        else:
            self._warn(f"{ti.name}: skipping unsupported tar entry type {ti.type!r}")

    def _dir(self, ti: tarfile.TarInfo, pfd: int, base: str, path: str) -> None:
        replaced = self._remove_existing(pfd, base, path, keep_dir=True)
        try:
            os.mkdir(base, 0o700, dir_fd=pfd)
        except FileExistsError:
            pass
        fd = os.open(base, _DIR_FLAGS, dir_fd=pfd)
        try:
            if self.chown:
                os.fchown(fd, ti.uid, ti.gid)
            self._apply_xattrs(fd, ti)
        finally:
            os.close(fd)
        if replaced:
            self._set_opaque(path, base, pfd)
        self.dirs[path] = ti  # mode and mtime at the end, deepest first

    def _file(self, ti: tarfile.TarInfo, tf: tarfile.TarFile, pfd: int, base: str,
              path: str) -> None:
        self.bytes += ti.size
        if self.bytes > self.opts.max_bytes:
            raise LayerLimitExceeded(self.layer, ti.name, "layer holds more than "
                                     f"{self.opts.max_bytes} bytes (limit max_bytes)")
        self._remove_existing(pfd, base, path, keep_dir=False)
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=pfd)
        try:
            src = tf.extractfile(ti)
            if src is not None and ti.size:
                with os.fdopen(os.dup(fd), "wb", buffering=0) as out:
                    shutil.copyfileobj(src, out, CHUNK)
            if self.chown:
                os.fchown(fd, ti.uid, ti.gid)
            os.fchmod(fd, ti.mode & 0o7777)
            self._apply_xattrs(fd, ti)  # after chown and data, which clear capabilities
            os.utime(fd, ns=self._times(ti))
        finally:
            os.close(fd)
        self.files.add(path)

    def _hardlink(self, ti: tarfile.TarInfo, pfd: int, base: str, path: str) -> None:
        try:
            tparts = clean_name(ti.linkname, "hard link target")
        except UnsafeLayer as e:
            raise self._err(ti.name, f"{e.reason} ({ti.linkname!r})") from None
        target = "/".join(tparts)
        if target not in self.files:
            raise self._err(ti.name, f"hard link target {ti.linkname!r} is not a file "
                            "extracted earlier from this layer")
        if target == path:
            return
        tpfd = self._parent_fd(tparts, ti.name)
        st = os.stat(tparts[-1], dir_fd=tpfd, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            raise self._err(ti.name, f"hard link target {ti.linkname!r} is not a regular file")
        self._remove_existing(pfd, base, path, keep_dir=False)
        if target not in self.files:  # it was inside the directory this entry replaced
            raise self._err(ti.name, f"hard link target {ti.linkname!r} was removed by "
                            "this entry")
        tpfd = self._parent_fd(tparts, ti.name)
        os.link(tparts[-1], base, src_dir_fd=tpfd, dst_dir_fd=pfd, follow_symlinks=False)
        self.files.add(path)

    def _device(self, ti: tarfile.TarInfo, pfd: int, base: str, path: str) -> None:
        kind = "fifo" if ti.isfifo() else "device node"
        if self.devices == "reject":
            raise self._err(ti.name, f"{kind} not allowed in this mode")
        if self.devices == "skip":
            self._warn(f"{ti.name}: skipping {kind} (not privileged)")
            return
        self._remove_existing(pfd, base, path, keep_dir=False)
        fmt = stat.S_IFIFO if ti.isfifo() else stat.S_IFCHR if ti.ischr() else stat.S_IFBLK
        os.mknod(base, fmt | (ti.mode & 0o7777), os.makedev(ti.devmajor, ti.devminor),
                 dir_fd=pfd)
        if self.chown:
            os.chown(base, ti.uid, ti.gid, dir_fd=pfd, follow_symlinks=False)
        os.chmod(base, ti.mode & 0o7777, dir_fd=pfd)  # just created, not a symlink; umask
        os.utime(base, ns=self._times(ti), dir_fd=pfd, follow_symlinks=False)

    def _whiteout(self, ti: tarfile.TarInfo, parts: list[str], base: str) -> None:
        parent = "/".join(parts[:-1])
        if base == WHITEOUT_OPAQUE:
            self._parent_fd(parts, ti.name)  # creates it, refuses symlinks
            if len(parts) == 1:
                self._set_opaque("", "", self.root_fd)
            else:  # the parent's own fd is O_PATH, which cannot carry xattrs
                self._set_opaque(parent, parts[-2], self._parent_fd(parts[:-1], ti.name))
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # aufs metadata (.wh..wh.plnk, .wh..wh.aufs): meaningless for overlay
        name = base[len(WHITEOUT_PREFIX):]
        if name in ("", ".", ".."):
            raise self._err(ti.name, f"whiteout of {name!r} is not allowed")
        pfd = self._parent_fd(parts, ti.name)
        path = f"{parent}/{name}" if parent else name
        self._remove_existing(pfd, name, path, keep_dir=False)
        try:
            if not self.privileged:
                raise PermissionError(errno.EPERM, "not privileged")
            os.mknod(name, stat.S_IFCHR, 0, dir_fd=pfd)
        except PermissionError:
            self._warn(f"{ti.name}: cannot create an overlay whiteout (not privileged); "
                       "kept as a .wh. marker file")
            fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=pfd)
            os.close(fd)

    def finish_dirs(self) -> None:
        """Directory modes and mtimes, deepest first, once nothing more is written in them."""
        self._drop_cache()
        for path in sorted(self.dirs, key=lambda p: p.count("/"), reverse=True):
            if len(self._fd_cache) > 256:
                self._drop_cache()
            ti = self.dirs[path]
            if ti is None:
                continue
            parts = path.split("/")
            try:
                pfd = self._parent_fd(parts, ti.name)
                fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=pfd)
            except (OSError, UnsafeLayer):
                continue  # replaced later by a non-directory
            try:
                os.fchmod(fd, ti.mode & 0o7777)
                os.utime(fd, ns=self._times(ti))
            finally:
                os.close(fd)
        self._drop_cache()


def unpack_layer(blob: Readable, dest: str, *, digest: str = "", size: int = -1,
                 diff_id: str = "", media_type: str = "",
                 options: UnpackOptions | None = None) -> UnpackResult:
    """Extracts one layer blob into the existing directory `dest` and verifies digests.

    On any error `dest` may hold a partial tree: callers extract into a temporary directory
    and publish it by rename only after this returns (see snapshots.py)."""
    opts = options or UnpackOptions()
    layer = digest or diff_id
    stream = LayerStream(blob, media_type)
    ex = Extractor(dest, opts, layer[:19])
    try:
        reader = io.BufferedReader(stream, CHUNK)
        try:
            with tarfile.open(fileobj=reader, mode="r|", bufsize=CHUNK) as tf:
                for ti in tf:
                    ex.add(ti, tf)
        except (tarfile.TarError, EOFError, zlib.error) as e:
            raise UnsafeLayer(layer[:19], "", f"malformed layer tar: {e}") from None
        except ImageError:
            raise
        except OSError as e:
            raise HostError(f"unpack layer {layer[:19]}", e.strerror or str(e), err=e.errno or 0,
                            path=e.filename or "") from None
        except Exception as e:
            if type(e).__name__ == "ZstdError":
                raise UnsafeLayer(layer[:19], "", f"malformed zstd stream: {e}") from None
            raise
        ex.finish_dirs()
        try:
            stream.finish()
        except zlib.error as e:
            raise UnsafeLayer(layer[:19], "", f"malformed gzip stream: {e}") from None
        except Exception as e:
            if type(e).__name__ == "ZstdError":
                raise UnsafeLayer(layer[:19], "", f"malformed zstd stream: {e}") from None
            raise
    finally:
        ex.close()
    stream.compressed.verify(f"layer {digest or '(blob)'}", digest, size)
    stream.diff.verify(f"layer {digest or '(blob)'} uncompressed (diffID)", diff_id)
    return UnpackResult(digest=stream.compressed.digest, diff_id=stream.diff.digest,
                        compressed_size=stream.compressed.count, size=ex.bytes,
                        entries=ex.entries, warnings=ex.warnings)
