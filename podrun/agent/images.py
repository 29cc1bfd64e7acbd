"""The kubelet's image manager: the image side of starting a container: imagePullPolicy, pulls with backoff and the
kubelet's reasons and events (BEHAVIOR.md 2.2 and 2.5; pkg/kubelet/images).

    ensure(...) -> ResolvedImage | raises ImagePullFailure(reason, message)
      reason: InvalidImageName, ErrImageNeverPull, ErrImagePull, ImagePullBackOff
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podrun.core.backoff import (
    Backoff,
    BackoffConfig,
    image_backoff_key,
    image_pull_backoff_message,
)
from podrun.errors import PodrunError
from podrun.image import auth
from podrun.image.errors import ImageError, InvalidReference
from podrun.image.progress import pulled_message
from podrun.image.reference import parse_normalized
from podrun.image.registry import RegistryConfig, pull
from podrun.image.store import ImageRecord, ImageStore

EventFn = Callable[[str, str, str], None]  # (type, reason, message)


class ImagePullFailure(PodrunError):
    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class ResolvedImage:
    ref: str  # as the user wrote it (status.image)
    image_id: str  # repo digest or image id (status.imageID)
    id: str  # the image ID (config digest): what the store's in-use check counts
    lowerdirs: tuple[str, ...]  # snapshot dirs, top layer first
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: tuple[str, ...]
    working_dir: str
    user: str
    stop_signal: str


class ImageManager:
    def __init__(self, root: Path, *, registries: Mapping[str, Any] | None = None,
                 store: ImageStore | None = None) -> None:
        # one store per root: the daemon's image API and the engine share it
        self.store = store if store is not None else ImageStore(str(root))
        self.registry_config = RegistryConfig.from_dict(dict(registries or {}))
        self.backoff = Backoff(BackoffConfig.image_pull())
        self._locks: dict[str, asyncio.Lock] = {}

    def find(self, ref: str) -> ImageRecord | None:
        try:
            return self.store.find(ref)
        except ImageError:
            return None

    async def ensure(self, image: str, policy: str, *, pod_uid: str,
                     pull_secrets: Mapping[str, auth.Credentials] | None = None,
                     event: EventFn) -> ResolvedImage:
        """The kubelet's EnsureImageExists for one container."""
        try:
            parse_normalized(image)
        except InvalidReference as e:
            msg = f'Failed to apply default image tag "{image}": {e.reason}'
            event("Warning", "InspectFailed", msg)
            raise ImagePullFailure("InvalidImageName", msg) from None
        rec = await asyncio.to_thread(self.find, image)
        present = rec is not None
        if policy == "Never" or (policy == "IfNotPresent" and present):
            if rec is None:
                msg = (f'Container image "{image}" is not present with pull policy of Never')
                event("Warning", "ErrImageNeverPull", msg)
                raise ImagePullFailure("ErrImageNeverPull", msg)
            event("Normal", "Pulled", f'Container image "{image}" already present on machine')
            return self._resolved(image, rec)
        key = image_backoff_key(pod_uid, image)
        # monotonic, as Go's clock.Now() is in the kubelet: a wall-clock jump must neither
        # end a pull backoff early nor keep an image in ImagePullBackOff for an hour
        now = time.monotonic()
        if self.backoff.in_backoff_since_update(key, now):
            msg = image_pull_backoff_message(image)
            event("Normal", "BackOff", msg)
            raise ImagePullFailure("ImagePullBackOff", msg)
        lock = self._locks.setdefault(image, asyncio.Lock())
        queued = time.monotonic()
        async with lock:
            event("Normal", "Pulling", f'Pulling image "{image}"')
            t0 = time.monotonic()
            try:
                rec = await asyncio.to_thread(self._pull, image, pull_secrets)
            except (ImageError, OSError) as e:
                self.backoff.next(key, now, now)
                msg = f'Failed to pull image "{image}": {e}'
                event("Warning", "Failed", msg)
                event("Warning", "Failed", "Error: ErrImagePull")
                raise ImagePullFailure("ErrImagePull", msg) from None
            took = time.monotonic() - t0
        self.backoff.reset(key)
        event("Normal", "Pulled", pulled_message(image, took, rec.size,
                                                 waited=time.monotonic() - queued))
        return self._resolved(image, rec)

    def _pull(self, image: str, secrets: Mapping[str, auth.Credentials] | None) -> ImageRecord:
        creds = dict(auth.load_config_files())
        creds.update(secrets or {})
        return pull(self.store, image, config=self.registry_config, credentials=creds)

    def _resolved(self, image: str, rec: ImageRecord) -> ResolvedImage:
        lower = []
        for chain in reversed(rec.chain_ids):
            snap = self.store.snapshots.get(chain)
            if snap is None:
                raise ImagePullFailure("ErrImagePull", f"image {rec.name}: layer {chain[:19]} "
                                       "is not unpacked; pull the image again")
            lower.append(snap.path)
        cfg = self.store.config(rec)
        self.store.mark_used(rec.name)
        # status.imageID is the repo digest (containerd's imageRef: repoDigests[0])
        try:
            image_id = f"{rec.reference().name}@{rec.repo_digest}"
        except ImageError:
            image_id = rec.id
        return ResolvedImage(image, image_id, rec.id, tuple(lower), cfg.entrypoint,
                             cfg.cmd, cfg.env, cfg.working_dir, cfg.user, cfg.stop_signal)
