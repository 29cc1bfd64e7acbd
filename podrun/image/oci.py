"""OCI and Docker image formats: media types, manifests, image config, platforms. Pure."""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass, field
from typing import Any

from podrun.image.errors import ImageError, NoMatchingPlatform
from podrun.image.reference import validate_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
LAYER_TYPES = (OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, DOCKER_LAYER, DOCKER_LAYER_GZIP,
               DOCKER_FOREIGN, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip")
# What podrun asks a registry for, best first.
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
MAX_MANIFEST_SIZE = 4 << 20


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()

    @classmethod
    def parse(cls, d: Any, what: str = "descriptor") -> Descriptor:
        if not isinstance(d, dict):
            raise ImageError(f"invalid {what}: not an object")
        try:
            digest = validate_digest(str(d["digest"]))
            size = int(d["size"])
        except (KeyError, ValueError, TypeError) as e:
            raise ImageError(f"invalid {what}: {e}") from None
        if size < 0:
            raise ImageError(f"invalid {what}: negative size")
        return cls(media_type=str(d.get("mediaType", "")), digest=digest, size=size,
                   platform=d.get("platform"), annotations=dict(d.get("annotations") or {}),
                   urls=tuple(d.get("urls") or ()))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}
        if self.platform:
            out["platform"] = self.platform
        if self.annotations:
            out["annotations"] = self.annotations
        return out


@dataclass(frozen=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict)


def load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageError(f"invalid {what}: {e}") from None
    if not isinstance(doc, dict):
        raise ImageError(f"invalid {what}: not a JSON object")
    return doc


def media_type_of(data: bytes, header: str = "") -> str:
    doc = load_json(data, "manifest")
    mt = str(doc.get("mediaType") or "")
    if not mt:
        if "manifests" in doc:
            mt = OCI_INDEX
        elif "layers" in doc or "config" in doc:
            mt = OCI_MANIFEST
        else:
            mt = header.split(";")[0].strip()
    if doc.get("schemaVersion") == 1 or "signatures" in doc or "fsLayers" in doc:
        raise ImageError("Docker schema 1 manifests are not supported (deprecated by "
                         "distribution); push the image again with a current client")
    return mt


def parse_manifest(data: bytes) -> Manifest:
    doc = load_json(data, "manifest")
    mt = str(doc.get("mediaType") or OCI_MANIFEST)
    if mt not in MANIFEST_TYPES:
        raise ImageError(f"unsupported manifest media type {mt!r}")
    cfg = Descriptor.parse(doc.get("config"), "manifest config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ImageError("invalid manifest: layers is not a list")
    descs = tuple(Descriptor.parse(d, f"manifest layer {i}") for i, d in enumerate(layers))
    for d in descs:
        if d.media_type and d.media_type not in LAYER_TYPES:
            raise ImageError(f"unsupported layer media type {d.media_type!r}")
    return Manifest(mt, cfg, descs, dict(doc.get("annotations") or {}))


def parse_index(data: bytes) -> list[Descriptor]:
    doc = load_json(data, "index")
    m = doc.get("manifests")
    if not isinstance(m, list):
        raise ImageError("invalid index: manifests is not a list")
    return [Descriptor.parse(d, f"index entry {i}") for i, d in enumerate(m)]


# --- platforms --------------------------------------------------------------------------

_ARCH = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", "v8"),
         "arm64": ("arm64", "v8"), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
         "i386": ("386", ""), "i686": ("386", ""), "ppc64le": ("ppc64le", ""),
         "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}


@dataclass(frozen=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @classmethod
    def parse(cls, s: str) -> Platform:
        parts = s.split("/")
        if not 2 <= len(parts) <= 3 or not all(parts):
            raise ImageError(f"invalid platform {s!r}: want os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def host_platform() -> Platform:
    arch, variant = _ARCH.get(_platform.machine().lower(), (_platform.machine().lower(), ""))
    return Platform("linux", arch, variant)


def _matches(want: Platform, p: dict[str, Any]) -> int:
    """0 for no match, else a rank (higher is better), like containerd's platforms.Only."""
    if p.get("os") != want.os or p.get("architecture") != want.architecture:
        return 0
    v = str(p.get("variant") or "")
    if v == want.variant:
        return 3
    if want.architecture == "arm64" and {v, want.variant} <= {"", "v8"}:
        return 2
    if want.architecture == "arm" and v and want.variant and v < want.variant:
        return 1  # v6 runs on v7
    return 0


def select_platform(entries: list[Descriptor], want: Platform) -> Descriptor:
    best: tuple[int, Descriptor] | None = None
    for d in entries:
        if d.annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        if d.media_type and d.media_type not in MANIFEST_TYPES:
            continue
        rank = _matches(want, d.platform or {})
        if rank and (best is None or rank > best[0]):
            best = (rank, d)
    if best is None:
        have = ", ".join(sorted({f"{(d.platform or {}).get('os')}/"
                                 f"{(d.platform or {}).get('architecture')}" for d in entries}))
        raise NoMatchingPlatform(f"no match for platform {want} in manifest list "
                                 f"(available: {have or 'none'})")
    return best[1]


# --- image config -----------------------------------------------------------------------


@dataclass(frozen=True)
class ImageConfig:
    """What the runtime needs from an image config (docker/OCI `config` section)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""
    exposed_ports: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    os: str = ""
    architecture: str = ""
    variant: str = ""
    created: str = ""
    diff_ids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: bytes) -> ImageConfig:
        doc = load_json(data, "image config")
        c = doc.get("config") or {}
        rootfs = doc.get("rootfs") or {}
        if rootfs.get("type", "layers") != "layers":
            raise ImageError(f"invalid image config: rootfs type {rootfs.get('type')!r}")
        return cls(
            entrypoint=tuple(c.get("Entrypoint") or ()),
            cmd=tuple(c.get("Cmd") or ()),
            env=tuple(c.get("Env") or ()),
            working_dir=str(c.get("WorkingDir") or ""),
            user=str(c.get("User") or ""),
            stop_signal=str(c.get("StopSignal") or ""),
            exposed_ports=tuple(sorted(c.get("ExposedPorts") or {})),
            labels=dict(c.get("Labels") or {}),
            os=str(doc.get("os") or ""),
            architecture=str(doc.get("architecture") or ""),
            variant=str(doc.get("variant") or ""),
            created=str(doc.get("created") or ""),
            diff_ids=tuple(validate_digest(d) for d in rootfs.get("diff_ids") or ()),
        )


def container_command(cfg: ImageConfig, command: list[str] | tuple[str, ...] = (),
                      args: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The process a container runs, as Kubernetes defines it from its command/args and
    the image's Entrypoint/Cmd: command replaces Entrypoint and drops Cmd; args replace Cmd."""
    if command:
        return [*command, *args]
    if args:
        return [*cfg.entrypoint, *args]
    return [*cfg.entrypoint, *cfg.cmd]


def merge_env(image_env: tuple[str, ...] | list[str],
              container_env: list[tuple[str, str]]) -> list[str]:
    """Image Env first, then the container's; a container variable replaces the image's."""
    out: dict[str, str] = {}
    for kv in image_env:
        k, _, v = kv.partition("=")
        out[k] = v
    for k, v in container_env:
        out.pop(k, None)
        out[k] = v
    return [f"{k}={v}" for k, v in out.items()]
