"""The image store: content-addressed blobs, image records, unpacking, removal and GC.

    <root>/blobs/sha256/<hex>      verified blobs (manifests, configs, layers), written
                                   through <root>/blobs/ingest/ and renamed: atomic
    <root>/blobs/ingest/<hex>.partial  downloads in progress (resumable, see registry.py)
    <root>/images.json             name -> image record (manifest, config, chain IDs, ...)
    <root>/snapshots/              unpacked layers by chain ID (snapshots.py)
    <root>/containers/<id>/        per-container rootfs upper/work dirs (rootfs.py)

An image is "in use" while a container rootfs made from it exists, or while the in_use hook
(the runtime's view of its containers) names its ID; in-use images are never removed.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

from podrun.image import oci
from podrun.image.digest import CHUNK, HashingReader, Readable, chain_ids, hex_of
from podrun.image.errors import DigestMismatch, ImageError, ImageInUse, ImageNotFound
from podrun.image.reference import Reference, parse_normalized
from podrun.image.snapshots import Snapshotter, write_json_atomic
from podrun.image.unpack import UnpackOptions, unpack_layer

PARTIAL_MAX_AGE = 24 * 3600


class BlobStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.join(root, "blobs")
        self.dir = os.path.join(self.root, "sha256")
        self.ingest_dir = os.path.join(self.root, "ingest")
        os.makedirs(self.dir, 0o700, exist_ok=True)
        os.makedirs(self.ingest_dir, 0o700, exist_ok=True)
        self.cleanup()

    def cleanup(self) -> None:
        """Crash safety: temporaries go; partial downloads stay a day for resuming."""
        now = time.time()
        for name in os.listdir(self.ingest_dir):
            p = os.path.join(self.ingest_dir, name)
            try:
                keep = name.endswith((".partial", ".lock"))
                if not keep or now - os.stat(p).st_mtime > PARTIAL_MAX_AGE:
                    os.unlink(p)
            except FileNotFoundError:
                pass

    def path(self, digest: str) -> str:
        return os.path.join(self.dir, hex_of(digest))

    def partial_path(self, digest: str) -> str:
        return os.path.join(self.ingest_dir, hex_of(digest) + ".partial")

    @contextmanager
    def ingesting(self, digest: str) -> Iterator[None]:
        """One writer per blob, across threads and processes: two pulls sharing a layer
        must not write the same .partial file."""
        path = os.path.join(self.ingest_dir, hex_of(digest) + ".lock")
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break  # still the live lock file, not one a previous holder unlinked
            except FileNotFoundError:
                pass
            os.close(fd)
        try:
            yield
        finally:
            os.unlink(path)
            os.close(fd)

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        return os.stat(self.path(digest)).st_size

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise ImageNotFound(f"blob {digest} not found in the image store") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def write(self, data: bytes, digest: str = "") -> str:
        import io

        return self.ingest(io.BytesIO(data), digest, len(data) if digest else -1)

    def ingest(self, src: Readable, digest: str = "", size: int = -1,
               progress: Callable[[int], None] | None = None) -> str:
        """Streams src into the store, verifying digest and size when given; returns the
        digest. The blob appears only complete and verified (rename)."""
        if digest and self.has(digest):
            return digest
        fd, tmp = tempfile.mkstemp(prefix="tmp-", dir=self.ingest_dir)
        try:
            reader = HashingReader(src)
            with os.fdopen(fd, "wb") as out:
                while chunk := reader.read(CHUNK):
                    out.write(chunk)
                    if progress:
                        progress(len(chunk))
                    if size >= 0 and reader.count > size:
                        break
                out.flush()
                os.fsync(out.fileno())
            reader.verify(f"blob {digest}", digest, size)
            actual = reader.digest
            os.replace(tmp, self.path(actual))
            return actual
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def commit_file(self, tmp: str, digest: str, size: int = -1) -> None:
        """Publishes a downloaded file after checking it (used for resumed downloads)."""
        with open(tmp, "rb") as f:
            r = HashingReader(f)
            r.drain()
        try:
            r.verify(f"blob {digest}", digest, size)
        except DigestMismatch:
            os.unlink(tmp)
            raise
        os.replace(tmp, self.path(digest))

    def delete(self, digest: str) -> int:
        try:
            p = self.path(digest)
            n = os.stat(p).st_size
            os.unlink(p)
            return n
        except FileNotFoundError:
            return 0

    def list(self) -> builtins.list[str]:
        return ["sha256:" + h for h in os.listdir(self.dir)]


@dataclass
class ImageRecord:
    name: str  # normalised reference: docker.io/library/busybox:latest, or name@digest
    digest: str  # the platform manifest's digest
    config_digest: str  # the image ID
    media_type: str
    layers: list[dict[str, Any]]  # descriptors (mediaType, digest, size)
    diff_ids: list[str]
    chain_ids: list[str]
    size: int  # bytes in the store: manifest + config + compressed layers
    unpacked_size: int = 0
    created: str = ""  # from the image config (RFC 3339)
    pulled: float = 0.0
    last_used: float = 0.0
    index_digest: str = ""  # the index it was picked from, the "repo digest" if any
    platform: str = ""
    extra_blobs: list[str] = field(default_factory=list)  # e.g. the index

    @property
    def id(self) -> str:
        return self.config_digest

    @property
    def repo_digest(self) -> str:
        return self.index_digest or self.digest

    def reference(self) -> Reference:
        return parse_normalized(self.name, default_tag=False)

    def blobs(self) -> set[str]:
        return {self.digest, self.config_digest, *(d["digest"] for d in self.layers),
                *self.extra_blobs}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ImageRecord:
        return cls(**d)


@dataclass(frozen=True)
class GCResult:
    usage_percent: float
    wanted: int
    freed: int
    removed: list[str]


def _statvfs(path: str) -> tuple[int, int]:
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


class ImageStore:
    def __init__(self, root: str, *, in_use: Callable[[], Iterable[str]] | None = None,
                 unpack_options: UnpackOptions | None = None,
                 fs_stats: Callable[[str], tuple[int, int]] = _statvfs,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = root
        os.makedirs(root, 0o700, exist_ok=True)
        self.blobs = BlobStore(root)
        self.snapshots = Snapshotter(root)
        self.containers_dir = os.path.join(root, "containers")
        os.makedirs(self.containers_dir, 0o700, exist_ok=True)
        self._records_path = os.path.join(root, "images.json")
        self._lock_path = os.path.join(root, ".images.lock")
        self._tlock = threading.RLock()
        self.in_use_hook = in_use
        self.unpack_options = unpack_options or UnpackOptions()
        self.fs_stats = fs_stats
        self.clock = clock
        self._leases: list[set[str]] = []
        for name in os.listdir(root):
            if name.startswith(".tmp-"):
                os.unlink(os.path.join(root, name))

    # --- records ----------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        with self._tlock:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                recs = self._read()
                before = json.dumps(recs, sort_keys=True)
                yield recs
                if json.dumps(recs, sort_keys=True) != before:
                    write_json_atomic(self._records_path, {"images": recs})
            finally:
                os.close(fd)

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self._records_path) as f:
                return dict(json.load(f).get("images", {}))
        except FileNotFoundError:
            return {}

    def list(self) -> list[ImageRecord]:
        with self._tlock:
            recs = self._read()
        return sorted((ImageRecord.from_json(r) for r in recs.values()), key=lambda r: r.name)

    def _find(self, recs: dict[str, dict[str, Any]], ref: str) -> builtins.list[str]:
        """Names of records matching ref: a name, name@digest, an image ID or its prefix."""
        if ref in recs:
            return [ref]
        bare = ref.removeprefix("sha256:")
        if len(bare) >= 4 and all(c in "0123456789abcdef" for c in bare):
            hits = [n for n, r in recs.items() if r["config_digest"][7:].startswith(bare)]
            if hits:
                return hits
        try:
            pr = parse_normalized(ref)
        except ImageError:
            return []
        if str(pr) in recs:
            return [str(pr)]
        if pr.digest:
            return [n for n, r in recs.items()
                    if parse_normalized(r["name"], default_tag=False).name == pr.name
                    and pr.digest in (r["digest"], r.get("index_digest"))]
        return []

    def get(self, ref: str) -> ImageRecord:
        with self._tlock:
            recs = self._read()
            names = self._find(recs, ref)
        if not names:
            raise ImageNotFound(f"image {ref!r} not found")
        return ImageRecord.from_json(recs[names[0]])

    def find(self, ref: str) -> ImageRecord | None:
        try:
            return self.get(ref)
        except ImageNotFound:
            return None

    def put(self, rec: ImageRecord) -> ImageRecord:
        with self._locked() as recs:
            recs[rec.name] = asdict(rec)
        return rec

    def tag(self, ref: str, new_name: str) -> ImageRecord:
        rec = self.get(ref)
        rec.name = str(parse_normalized(new_name))
        return self.put(rec)

    def mark_used(self, ref: str) -> None:
        with self._locked() as recs:
            for n in self._find(recs, ref):
                recs[n]["last_used"] = self.clock()

    def config(self, rec: ImageRecord) -> oci.ImageConfig:
        return oci.ImageConfig.parse(self.blobs.read(rec.config_digest))

    # --- committing an image ----------------------------------------------------------

    def commit(self, name: str, manifest_digest: str, *, index_digest: str = "",
               extra_blobs: Iterable[str] = (), platform: str = "",
               layer_progress: Callable[[int, str], None] | None = None,
               before_layer: Callable[[int], None] | None = None) -> ImageRecord:
        """Unpacks a manifest whose blobs are all in the store and records it under name.
        Layers already unpacked (same chain ID) are not read again. before_layer(i) runs
        before layer i is needed: a pull waits there for its download, so unpacking layer
        i overlaps downloading the ones above it."""
        mbytes = self.blobs.read(manifest_digest)
        mt = oci.media_type_of(mbytes)
        if mt in oci.INDEX_TYPES:
            raise ImageError(f"{manifest_digest} is an index; pick a platform manifest first")
        m = oci.parse_manifest(mbytes)
        cfg = oci.ImageConfig.parse(self.blobs.read(m.config.digest))
        if len(cfg.diff_ids) != len(m.layers):
            raise ImageError(f"image config lists {len(cfg.diff_ids)} diff IDs for "
                             f"{len(m.layers)} layers")
        chains = chain_ids(list(cfg.diff_ids))
        unpacked = 0
        for i, (layer, diff_id, chain) in enumerate(zip(m.layers, cfg.diff_ids, chains,
                                                        strict=True)):
            parent = chains[i - 1] if i else ""

            def unpack(fs: str, layer: oci.Descriptor = layer, diff_id: str = diff_id) -> Any:
                with self.blobs.open(layer.digest) as blob:
                    return unpack_layer(blob, fs, digest=layer.digest, size=layer.size,
                                        diff_id=diff_id, media_type=layer.media_type,
                                        options=self.unpack_options)

            if before_layer is not None:
                before_layer(i)
            snap = self.snapshots.create(chain, parent, unpack)
            unpacked += snap.size
            if layer_progress:
                layer_progress(i, chain)
        size = len(mbytes) + m.config.size + sum(d.size for d in m.layers)
        ref = parse_normalized(name)
        if ref.digest and not ref.tag:
            name = str(ref)
        rec = ImageRecord(
            name=str(ref), digest=manifest_digest, config_digest=m.config.digest,
            media_type=m.media_type, layers=[d.to_json() for d in m.layers],
            diff_ids=list(cfg.diff_ids), chain_ids=chains, size=size, unpacked_size=unpacked,
            created=cfg.created, pulled=self.clock(), last_used=self.clock(),
            index_digest=index_digest,
            platform=platform or "/".join(p for p in (cfg.os, cfg.architecture, cfg.variant)
                                          if p),
            extra_blobs=sorted(set(extra_blobs)))
        return self.put(rec)

    # --- in use, removal, GC ----------------------------------------------------------

    @contextmanager
    def lease(self) -> Iterator[set[str]]:
        """Blobs added to the yielded set are kept by prune() until the block ends: a pull
        or import in progress owns blobs no image record names yet (containerd's leases)."""
        held: set[str] = set()
        with self._tlock:
            self._leases.append(held)
        try:
            yield held
        finally:
            with self._tlock:
                self._leases.remove(held)

    def _leased(self) -> set[str]:
        out: set[str] = set()
        for held in self._leases:
            out |= held
        return out

    def images_in_use(self) -> set[str]:
        """Image IDs (config digests) used by existing container rootfs or the hook."""
        used: set[str] = set()
        for cid in os.listdir(self.containers_dir):
            try:
                with open(os.path.join(self.containers_dir, cid, "image.json")) as f:
                    used.add(json.load(f)["image_id"])
            except (FileNotFoundError, ValueError, KeyError):
                pass
        if self.in_use_hook is not None:
            used.update(self.in_use_hook())
        return used

    def chains_in_use(self) -> set[str]:
        used: set[str] = set()
        for cid in os.listdir(self.containers_dir):
            try:
                with open(os.path.join(self.containers_dir, cid, "image.json")) as f:
                    used.update(json.load(f)["chain_ids"])
            except (FileNotFoundError, ValueError, KeyError):
                pass
        return used

    def remove(self, ref: str, *, force: bool = False) -> builtins.list[str]:
        """rmi: drops the name; blobs and snapshots nobody references any more go too.
        A name that is an image ID removes every name of that image."""
        in_use = self.images_in_use()
        with self._locked() as recs:
            names = self._find(recs, ref)
            if not names:
                raise ImageNotFound(f"image {ref!r} not found")
            for n in names:
                if recs[n]["config_digest"] in in_use and not force:
                    others = [o for o, r in recs.items()
                              if r["config_digest"] == recs[n]["config_digest"] and o != n]
                    if not others:
                        raise ImageInUse(f"image {ref!r} ({recs[n]['config_digest'][7:19]}) "
                                         "is in use by a container")
            for n in names:
                del recs[n]
        self.prune()
        return names

    def prune(self) -> int:
        """Deletes blobs and snapshots that no image record and no container references."""
        with self._tlock:
            recs = [ImageRecord.from_json(r) for r in self._read().values()]
            blobs: set[str] = set()
            chains: set[str] = self.chains_in_use()
            blobs |= self._leased()
            for r in recs:
                blobs |= r.blobs()
                chains |= set(r.chain_ids)
            freed = 0
            for d in self.blobs.list():
                if d not in blobs:
                    freed += self.blobs.delete(d)
            for s in self.snapshots.list():
                if s.chain_id not in chains:
                    self.snapshots.remove(s.chain_id)
                    freed += s.size
            return freed

    def gc(self, high_percent: int = 85, low_percent: int = 80,
           min_age: float = 0.0) -> GCResult:
        """The kubelet's image GC: above high% disk usage, remove least recently used
        images that no container uses until usage would be under low%. Images pulled less
        than min_age seconds ago (imageMinimumGCAge, 2m in the kubelet) are kept."""
        if not 0 <= low_percent <= high_percent <= 100:
            raise ImageError("image GC thresholds: need 0 <= low <= high <= 100")
        capacity, available = self.fs_stats(self.root)
        if capacity <= 0:
            return GCResult(0.0, 0, 0, [])
        usage = (capacity - available) * 100 / capacity
        if usage < high_percent:
            return GCResult(usage, 0, 0, [])
        wanted = capacity * (100 - low_percent) // 100 - available
        in_use = self.images_in_use()
        by_id: dict[str, list[ImageRecord]] = {}
        for r in self.list():
            by_id.setdefault(r.id, []).append(r)
        now = self.clock()
        candidates = sorted((rs for i, rs in by_id.items() if i not in in_use and
                             now - min(r.pulled for r in rs) >= min_age),
                            key=lambda rs: (max(r.last_used for r in rs),
                                            min(r.pulled for r in rs)))
        freed = 0
        removed: builtins.list[str] = []
        for rs in candidates:
            if freed >= wanted:
                break
            with self._locked() as recs:
                for r in rs:
                    recs.pop(r.name, None)
            removed += [r.name for r in rs]
            freed += self.prune()
        if freed < wanted:
            raise ImageGCFailed(wanted, freed, removed)
        return GCResult(usage, wanted, freed, removed)

    def disk_usage(self) -> int:
        return (sum(self.blobs.size(d) for d in self.blobs.list())
                + self.snapshots.disk_usage())


class ImageGCFailed(ImageError):
    def __init__(self, wanted: int, freed: int, removed: list[str]) -> None:
        self.removed = removed
        super().__init__(f"Failed to garbage collect required amount of images. Attempted to "
                         f"free {wanted} bytes, but only found {freed} bytes eligible to free.")


# --- `podrun images` ----------------------------------------------------------------------


def _human_size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.3g}{unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _ago(created: str, now: float) -> str:
    from datetime import datetime

    if not created:
        return "N/A"
    try:
        t = datetime.fromisoformat(created).timestamp()
    except ValueError:
        return "N/A"
    s = max(0, now - t)
    for unit, secs in (("years", 365 * 86400), ("months", 30 * 86400), ("weeks", 7 * 86400),
                       ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if s >= 2 * secs:
            return f"{int(s // secs)} {unit} ago"
    return "About a minute ago" if s >= 60 else "Less than a second ago" if s < 1 else \
        f"{int(s)} seconds ago"


def image_rows(records: Iterable[ImageRecord], now: float | None = None) -> list[list[str]]:
    """REPOSITORY TAG IMAGE ID CREATED SIZE, like `docker images` / `crictl images`."""
    now = time.time() if now is None else now
    rows = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]]
    for r in records:
        ref = r.reference()
        rows.append([ref.familiar_name(), ref.tag or "<none>", r.id[7:19], _ago(r.created, now),
                     _human_size(r.size)])
    return rows


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)

