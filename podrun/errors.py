"""podrun's error hierarchy: every error that crosses a layer is a PodrunError.

    PodrunError
     ├── SpecError          one or more problems in a manifest, each with a field path
     ├── UnsupportedKind    a document whose kind podrun does not run (Deployment, ...)
     ├── HostError          a kernel or host operation failed: step, errno, path
     └── NotFound / AlreadyExists / Conflict   API-level lookups
"""

from __future__ import annotations

import errno as _errno
from dataclasses import dataclass, field


class PodrunError(Exception):
    """Root of podrun's errors."""


@dataclass(frozen=True)
class FieldError:
    """One problem at one field path, worded like the API server's field.Error."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class SpecError(PodrunError):
    """Every problem found in one object; raised only after all were collected."""

    errors: list[FieldError] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        prefix = f"{self.source}: " if self.source else ""
        return "\n".join(prefix + str(e) for e in self.errors)


class UnsupportedKind(PodrunError):
    def __init__(self, kind: str, api_version: str = "") -> None:
        self.kind = kind
        self.api_version = api_version
        super().__init__(
            f'kind "{kind}" is not supported: podrun runs Pods (and reads ConfigMaps '
            f"and Secrets); run the Pod template of a {kind} as a Pod instead"
        )


class HostError(PodrunError):
    """A host operation failed; carries the step, errno and path for the user."""

    def __init__(self, step: str, message: str, *, err: int = 0, path: str = "") -> None:
        self.step = step
        self.errno = err
        self.path = path
        detail = message
        if err:
            detail += f": {_errno.errorcode.get(err, str(err))} ({err})"
        if path:
            detail += f" [{path}]"
        super().__init__(f"{step}: {detail}")


class NotFound(PodrunError):
    pass


class AlreadyExists(PodrunError):
    pass


class Conflict(PodrunError):
    pass
