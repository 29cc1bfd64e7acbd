"""podrun's image service: references, registry pulls, archive import, the blob and snapshot
store, and container root filesystems (overlay). See docs/images.md.

    from podrun.image import ImageStore, Puller, parse_normalized
    store = ImageStore("/var/lib/podrun/images")
    rec = Puller(store).pull("busybox:1.36")
    fs = prepare_rootfs(store, rec, container_id)   # lowerdir/upperdir/workdir
"""

from __future__ import annotations

from typing import Any

from podrun.image.errors import (
    DigestMismatch,
    ImageError,
    ImageInUse,
    ImageNotFound,
    InvalidReference,
    LayerLimitExceeded,
    ManifestUnknown,
    NoMatchingPlatform,
    PullAccessDenied,
    RegistryError,
    UnsafeLayer,
)
from podrun.image.oci import ImageConfig, Platform, host_platform
from podrun.image.reference import Reference, parse_normalized
from podrun.image.store import ImageRecord, ImageStore

__all__ = [
    "DigestMismatch", "ImageConfig", "ImageError", "ImageInUse", "ImageNotFound",
    "ImageRecord", "ImageStore", "InvalidReference", "LayerLimitExceeded", "ManifestUnknown",
    "NoMatchingPlatform", "Platform", "PullAccessDenied", "Puller", "Reference",
    "RegistryConfig", "RegistryError", "UnsafeLayer", "host_platform", "import_file",
    "mount_overlay", "parse_normalized", "prepare_rootfs", "pull",
    "remove_container_rootfs",
]

_LAZY = {  # modules with heavier imports (httpx, ctypes) load on first use
    "Puller": "registry", "RegistryConfig": "registry", "pull": "registry",
    "import_file": "archive", "prepare_rootfs": "rootfs", "mount_overlay": "rootfs",
    "remove_container_rootfs": "rootfs",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"podrun.image.{_LAZY[name]}"), name)
    raise AttributeError(name)
