"""The image service's errors, all PodrunErrors, each worded for the user.

    PodrunError
     └── ImageError
          ├── InvalidReference       "invalid reference format: ..." (kubelet: InvalidImageName)
          ├── UnsafeLayer            a layer tries to write outside its snapshot, or is malformed
          │    └── LayerLimitExceeded  size or file-count limit reached
          ├── DigestMismatch         content does not match its digest or size
          ├── RegistryError          the registry said no or could not be reached
          │    ├── PullAccessDenied    "pull access denied ... unauthorized"
          │    └── ManifestUnknown     "manifest unknown"
          ├── NoMatchingPlatform     no manifest in an index for this host's platform
          ├── ImageNotFound          (also a podrun NotFound)
          └── ImageInUse             (also a podrun Conflict)
"""

from __future__ import annotations

from podrun.errors import Conflict, NotFound, PodrunError


class ImageError(PodrunError):
    """Root of the image service's errors."""


class InvalidReference(ImageError):
    def __init__(self, ref: str, reason: str) -> None:
        self.ref = ref
        self.reason = reason
        super().__init__(f"invalid reference format: {reason}" if reason else
                         "invalid reference format")


class UnsafeLayer(ImageError):
    def __init__(self, layer: str, entry: str, reason: str) -> None:
        self.layer = layer
        self.entry = entry
        self.reason = reason
        where = f"layer {layer}: " if layer else ""
        what = f"{entry!r}: " if entry else ""
        super().__init__(f"{where}{what}{reason}")


class LayerLimitExceeded(UnsafeLayer):
    pass


class DigestMismatch(ImageError):
    def __init__(self, what: str, expected: str, actual: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"{what}: digest mismatch: expected {expected}, got {actual}")


class RegistryError(ImageError):
    def __init__(self, message: str, status: int = 0) -> None:
        self.status = status
        super().__init__(message)


class PullAccessDenied(RegistryError):
    pass


class ManifestUnknown(RegistryError):
    pass


class NoMatchingPlatform(ImageError):
    pass


class ImageNotFound(ImageError, NotFound):
    pass


class ImageInUse(ImageError, Conflict):
    pass
