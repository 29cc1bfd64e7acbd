"""The image service as the daemon uses it: one object over the store and the puller, with
CRI-shaped JSON (id, repoTags, repoDigests, size) for the API's /podrun/v1/images routes.

Methods block (disk and network): call them from a thread, not the event loop.
"""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from podrun.image import oci
from podrun.image.auth import Credentials, from_dockerconfigjson, load_config_files
from podrun.image.errors import ImageError
from podrun.image.reference import parse_normalized
from podrun.image.store import ImageRecord, ImageStore, format_table, image_rows

DEFAULT_ROOT = "/var/lib/podrun/images"


def image_json(records: Iterable[ImageRecord]) -> list[dict[str, Any]]:
    """Records grouped by image ID, like CRI's ListImages."""
    by_id: dict[str, dict[str, Any]] = {}
    for r in records:
        img = by_id.setdefault(r.id, {"id": r.id, "repoTags": [], "repoDigests": [],
                                      "size": r.size, "unpackedSize": r.unpacked_size,
                                      "created": r.created, "platform": r.platform,
                                      "lastUsed": r.last_used})
        ref = r.reference()
        if ref.tag:
            img["repoTags"].append(f"{ref.name}:{ref.tag}")
        rd = f"{ref.name}@{r.repo_digest}"
        if rd not in img["repoDigests"]:
            img["repoDigests"].append(rd)
        img["lastUsed"] = max(img["lastUsed"], r.last_used)
    return sorted(by_id.values(), key=lambda i: (i["repoTags"] or i["repoDigests"])[0])


class ImageService:
    def __init__(self, root: str = DEFAULT_ROOT, *, registries: Mapping[str, Any] | None = None,
                 auth_files: Iterable[str] | None = None,
                 in_use: Callable[[], Iterable[str]] | None = None,
                 transport: Any = None) -> None:
        from podrun.image.registry import RegistryConfig

        self.store = ImageStore(root, in_use=in_use)
        self.credentials = load_config_files(auth_files)
        self.registry_config = RegistryConfig.from_dict(registries)
        self.transport = transport

    def list(self) -> list[dict[str, Any]]:
        return image_json(self.store.list())

    def table(self, now: float | None = None) -> str:
        return format_table(image_rows(self.store.list(), now))

    def status(self, ref: str) -> ImageRecord | None:
        """The local image for a Pod's `image:` (normalised), or None: IfNotPresent."""
        return self.store.find(str(parse_normalized(ref)))

    def pull(self, ref: str, *, platform: str = "",
             pull_secrets: Iterable[Mapping[str, Any]] = (),
             auth: Credentials | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
        """Pulls ref; pull_secrets are decoded `.dockerconfigjson` dicts (imagePullSecrets),
        tried before the node's own credentials, as the kubelet does."""
        from podrun.image.registry import Puller

        creds = dict(self.credentials)
        for doc in pull_secrets:
            creds.update(from_dockerconfigjson(doc))
        puller = Puller(self.store, config=self.registry_config, credentials=creds,
                        transport=self.transport)
        start = time.monotonic()
        rec = puller.pull(ref, oci.Platform.parse(platform) if platform else None, auth,
                               progress)
        out = image_json([rec])[0]
        out["pullSeconds"] = round(time.monotonic() - start, 3)
        return out

    def import_(self, src: Any, name: str = "") -> builtins.list[dict[str, Any]]:
        from podrun.image.archive import import_archive

        return image_json(import_archive(self.store, src, name=name))

    def remove(self, ref: str, *, force: bool = False) -> builtins.list[str]:
        return self.store.remove(ref, force=force)

    def gc(self, high: int = 85, low: int = 80, min_age: float = 120.0) -> dict[str, Any]:
        r = self.store.gc(high, low, min_age)
        return {"usagePercent": r.usage_percent, "wanted": r.wanted, "freed": r.freed,
                "removed": r.removed}

    def config(self, ref: str) -> oci.ImageConfig:
        rec = self.status(ref) or self.store.find(ref)
        if rec is None:
            raise ImageError(f"image {ref!r} not found")
        return self.store.config(rec)

    def prepare_rootfs(self, ref: str, container_id: str) -> dict[str, Any]:
        from podrun.image.rootfs import prepare_rootfs

        rec = self.status(ref) or self.store.get(ref)
        return prepare_rootfs(self.store, rec, container_id)

    def remove_rootfs(self, container_id: str) -> None:
        from podrun.image.rootfs import remove_container_rootfs

        remove_container_rootfs(self.store, container_id)

    def disk_usage(self) -> int:
        return self.store.disk_usage()

    @property
    def root(self) -> str:
        return os.path.abspath(self.store.root)
